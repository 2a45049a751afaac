package node

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"math"
	"slices"
	"sort"

	"github.com/oncofed/oncofed/analysis"
	"github.com/oncofed/oncofed/protocol"
)

// cox answers one Newton–Raphson round of a federated Cox fit: the site's contribution at the
// requested β over the complete cases of the cohort, in the stratified form (log-likelihood,
// gradient, Hessian; within-site strata add up) or a phase of the two-phase pooled round
// (docs/cox-protocol.md): pooled_sums, per distinct time D, R0, R1, E0, E1; pooled_hessian, the
// site's p×p second moment under the weights the client sends it. Times go through the same policy as survival tables (coarsened to
// bin_days, merged forward until each time holds min_cell subjects, tail truncated), so a
// pooled fit equals R's fit on the released times.
//
// The rounds of one fit ask the same question at different β, so the design and the
// time-sorted strata are prepared once and kept (coxCache); each round then costs O(n p²).
func (e *Engine) cox(c *cohort, q *protocol.Query, reply *protocol.Reply) (answer, error) {
	req := q.Cox
	if c.group != nil {
		return answer{}, errorf(protocol.CodeInvalid, "cox queries take no group_by (use covariates or cox.strata)")
	}
	pooled := isPooledForm(req.Form)
	if pooled && req.Strata != "" {
		return answer{}, errorf(protocol.CodeInvalid, "the pooled form is unstratified: cox.strata needs the stratified form")
	}
	if pooled && c.study.eps[q.Endpoint].Entry != nil {
		// From the declaration (the catalog's delayed_entry), not the rows.
		return answer{}, errorf(protocol.CodeInvalid, "endpoint %q records delayed entry at this site: the pooled Cox form's risk-set sums do not take entry times; fit the model stratified by site", q.Endpoint)
	}
	if req.Form == protocol.CoxValidate && c.study.eps[q.Endpoint].Entry != nil {
		return answer{}, errorf(protocol.CodeInvalid, "endpoint %q records delayed entry at this site: the validate form's concordance and calibration do not take entry times", q.Endpoint)
	}
	if req.Form == protocol.CoxValidate && req.Strata != "" {
		return answer{}, errorf(protocol.CodeInvalid, "the validate form evaluates a model over the site's patients: it takes no cox.strata")
	}
	if req.Form == protocol.CoxLPHistogram && req.Strata != "" {
		return answer{}, errorf(protocol.CodeInvalid, "the lp_histogram form bins a model's linear predictor over the site's patients: it takes no cox.strata")
	}
	if req.Form == protocol.CoxLPHistogram && !e.policy.AllowPooledCox {
		return answer{}, errorf(protocol.CodeRefusedByPolicy, "this site's policy does not allow prediction from the pooled model (allow_pooled_cox is false), so it releases no linear-predictor histogram; fit the model stratified by site instead")
	}
	if req.Form == protocol.CoxZPH {
		if err := e.checkZPH(c, q); err != nil {
			return answer{}, err
		}
	}
	if req.Form == protocol.CoxPooledHessian && req.Site != e.site {
		return answer{}, errorf(protocol.CodeInvalid, "a pooled_hessian request addressed to site %q reached site %q", clip(req.Site), e.site)
	}
	if pooled && !e.policy.AllowPooledCox {
		return answer{}, errorf(protocol.CodeRefusedByPolicy, "this site's policy does not allow the pooled Cox form (allow_pooled_cox is false: its risk-set sums per time disclose single patients' covariate values); fit the model stratified by site instead")
	}
	// The β cap is decided from public information before any row is read.
	limits, err := e.coxBetaLimits(c.study, req)
	if err != nil && !e.withoutModelRules {
		return answer{}, err
	}
	if e.withoutModelRules {
		limits = nil
	}
	if len(limits) > 0 && len(req.Beta) == len(limits) {
		if err := checkBeta(req.Beta, limits, coxDesignNames(c.study, req), e.policy.MaxCoxLogHR); err != nil {
			return answer{}, err
		}
	}
	prep, err := e.coxPrepare(c, q)
	if err != nil {
		return answer{}, err
	}
	p := prep.p
	beta := req.Beta
	if len(beta) == 0 {
		beta = make([]float64, p)
	}
	if len(beta) != p {
		return answer{}, errorf(protocol.CodeInvalid, "cox.beta has %d coefficients for %d design columns %q", len(beta), p, prep.names)
	}
	if limits != nil && len(limits) != p {
		return answer{}, errorf(protocol.CodeInvalid, "cox: %d design columns %q for %d declared columns", p, prep.names, len(limits))
	}
	if limits != nil && !e.withoutModelRules && !e.withoutWeightSpread {
		if err := checkWeightSpread(prep.strata, beta, e.policy.MinCell); err != nil {
			return answer{}, err
		}
	}
	reply.Policy.MergedRows = prep.merged
	reply.Policy.TruncatedAfter = prep.truncated
	ties, _ := analysis.ParseTies(req.Ties)
	cr := &protocol.CoxReply{Columns: prep.names, N: prep.n, Events: prep.events, BetaLimit: limits}
	// "1 patient lacks wt.loss" is a small cell like any other. (N is exact, so N plus a count
	// of the cohort would give it back; the overlap guard refuses that pair, as the complete
	// cases and the cohort differ by 1..min_cell-1 patients.)
	excluded, suppressed := releaseCount(prep.excluded, e.policy.MinCell)
	cr.Excluded, cr.ExcludedSuppressed = excluded.N, excluded.Suppressed
	reply.Policy.SuppressedCells += suppressed
	switch req.Form {
	case protocol.CoxStratified:
		var sum analysis.CoxContribution
		for _, st := range prep.strata {
			ct, err := st.Contribution(beta, ties)
			if err != nil {
				return answer{}, errorf(protocol.CodeInvalid, "cox: %s", trimPrefix(err.Error()))
			}
			sum.Add(ct)
		}
		cr.LogLik, cr.Gradient, cr.Hessian = sum.LogLik, sum.Gradient, sum.Hessian
		if cr.Gradient == nil {
			cr.Gradient, cr.Hessian = make([]float64, p), make([]float64, p*p)
		}
	case protocol.CoxPooledSums:
		rs, exs, err := prep.strata[0].TimeSums(beta)
		if err != nil {
			return answer{}, errorf(protocol.CodeInvalid, "cox: %s", trimPrefix(err.Error()))
		}
		cr.EventXSum = exs
		cr.Rows = make([]protocol.CoxRiskSetRow, len(rs))
		for k, r := range rs {
			cr.Rows[k] = protocol.CoxRiskSetRow{Time: r.Time, D: r.D, R0: r.R0, R1: r.R1, E0: r.E0, E1: r.E1}
		}
	case protocol.CoxPooledHessian:
		st := prep.strata[0]
		if err := checkCoxWeights(st, req.Weights, ties); err != nil {
			return answer{}, err
		}
		m, err := st.WeightedSecondMoment(beta, req.Weights.A, req.Weights.B)
		if err != nil {
			return answer{}, errorf(protocol.CodeInvalid, "cox: %s", trimPrefix(err.Error()))
		}
		cr.SecondMoment = m
	case protocol.CoxValidate:
		val, err := e.validateModel(prep, beta, ties, req)
		if err != nil {
			return answer{}, err
		}
		cr.Validation = val
	case protocol.CoxLPHistogram:
		h, err := e.lpHistogram(prep, beta, req.LPBinWidth)
		if err != nil {
			return answer{}, err
		}
		cr.LPHistogram = h
	case protocol.CoxZPH:
		if cr.ZPH, err = e.coxZPH(prep, beta, ties, req); err != nil {
			return answer{}, err
		}
	}
	if !coxFinite(cr) {
		return answer{}, errorf(protocol.CodeInvalid, "cox: the contribution at this beta overflows (beta too large)")
	}
	reply.Cox = cr
	released := fmt.Sprintf("cox %s %s p=%d n=%d events=%d", req.Form, req.Ties, p, prep.n, prep.events)
	if req.Form == protocol.CoxPooledHessian {
		released += " weights_sha256=" + weightsDigest(req.Weights)
	}
	if req.Form == protocol.CoxZPH {
		released += " transform=" + req.ZPH.Transform + " transform_sha256=" + zphDigest(req.ZPH)
	}
	ans := answer{released: released}
	ans.addComplete(prep.complete, q.Cohort, coxModelVars(req))
	return ans, nil
}

// coxModelVars are the variables a Cox or Fine–Gray query's complete cases must have: its
// covariates and its within-site stratum.
func coxModelVars(req *protocol.CoxRequest) []string {
	vars := slices.Clone(req.Covariates)
	if req.Strata != "" {
		vars = append(vars, req.Strata)
	}
	return vars
}

// isPooledForm reports whether form is a phase of the two-phase pooled round.
func isPooledForm(form protocol.CoxForm) bool {
	return form == protocol.CoxPooledSums || form == protocol.CoxPooledHessian
}

// coxWeightsTolerance is the relative slack of the check B_k ≤ A_k − A_{k−1}: the client forms
// A as a running sum, so the increase it shows at a time can fall short of that time's su by
// a few roundings.
const coxWeightsTolerance = 1e-9

// checkCoxWeights refuses phase-2 weights that no honest client sends at any β, decided from
// the request and the site's own released times only (the lengths are those of its phase-1
// reply): one A per released time and one B per released time with events, A non-decreasing
// and ≥ 0 (protocol.ValidateQuery), B ≥ 0, B = 0 under Breslow, and at each event time B at
// most the increase of A there (Efron's sv_t ≤ su_t). Whatever weights pass, the reply is a
// linear combination of the per-time sums R2 and E2 of the site's released rows (each time
// holding min_cell subjects under a protective policy), at a β that passed the same checks as
// phase 1: docs/cox-protocol.md, "What an analyst can learn".
func checkCoxWeights(st *analysis.CoxStratum, w *protocol.CoxWeights, ties analysis.Ties) error {
	times, eventTimes := st.DistinctTimes()
	if len(w.A) != times || len(w.B) != eventTimes {
		return errorf(protocol.CodeInvalid, "cox.weights: %d A and %d B weights, but this site released %d times, %d of them with events (its pooled_sums reply at this cohort)", len(w.A), len(w.B), times, eventTimes)
	}
	prev := 0.0
	k := 0
	for g := 0; g < times; g++ {
		a := w.A[g]
		if st.HasEvent(g) {
			b := w.B[k]
			if ties == analysis.Breslow && b != 0 {
				return errorf(protocol.CodeInvalid, "cox.weights.b[%d] is %g: Breslow's weights B are 0", k, b)
			}
			if b > (a-prev)+coxWeightsTolerance*a {
				return errorf(protocol.CodeInvalid, "cox.weights.b[%d] = %g exceeds the increase of A at that time (%g): not the weights of any β", k, b, a-prev)
			}
			k++
		}
		prev = a
	}
	return nil
}

// weightsDigest is the SHA-256 of the phase-2 weights as the audit log records them instead
// of the weights themselves (a site's T numbers a round).
func weightsDigest(w *protocol.CoxWeights) string {
	h := sha256.New()
	var buf [8]byte
	vecs := [][]float64{w.A, w.B}
	if w.A1 != nil || w.B1 != nil || w.XBar != nil || w.Psi != nil || w.QPi != nil {
		vecs = append(vecs, w.A1, w.B1, w.XBar, w.Psi, w.QPi) // a Fine–Gray meat request
	}
	for _, v := range vecs {
		binary.LittleEndian.PutUint64(buf[:], uint64(len(v)))
		h.Write(buf[:])
		for _, x := range v {
			binary.LittleEndian.PutUint64(buf[:], math.Float64bits(x))
			h.Write(buf[:])
		}
	}
	return hex.EncodeToString(h.Sum(nil))
}

// coxPrepared is the part of a Cox query that does not depend on β.
type coxPrepared struct {
	names               []string
	p                   int
	n, events, excluded int
	complete            bitset
	strata              []*analysis.CoxStratum // one for the pooled form or an unstratified site
	// fg is the site's Fine–Gray data on the released times (a finegray query; strata[0] then
	// holds the modelled cause's events, for the weight-spread rule).
	fg        *analysis.FineGraySite
	merged    int
	truncated *float64
	keyed     bool // the strata hold one design row per key, not n×p (coxkeyed.go)
}

// coxCacheSize prepared Cox designs are always kept (each holds n×p floats); beyond it, up to
// coxCacheBytes of them: a biomarker screen asks every marker's model again each round (a
// screen query, screen.go), each with its own design, and rebuilding them all every round
// would cost more than the round.
const (
	coxCacheSize  = 8
	coxCacheBytes = 1 << 30
)

// bytes estimates the memory of a prepared design: its strata's covariates, times, event flags
// and order, per complete case (a keyed design: a row number instead of the covariates).
func (p *coxPrepared) bytes() int {
	if p.keyed {
		return p.n * 4 * 8
	}
	return p.n * (p.p + 3) * 8
}

// coxPrepare builds (or finds) the design, released times and sorted strata of a Cox query.
func (e *Engine) coxPrepare(c *cohort, q *protocol.Query) (*coxPrepared, error) {
	req := q.Cox
	ls := c.study
	keyJSON, _ := json.Marshal(struct {
		Kind     protocol.Kind
		Cause    string
		Version  int64
		Endpoint string
		Cohort   *protocol.Filter
		Form     protocol.CoxForm
		Cov      []string
		Levels   map[string][]string
		Strata   string
		Ind      map[string]string
		Inter    []protocol.CoxInteraction
		Origin   map[string]float64
	}{q.Kind, req.Cause, ls.info.Version, q.Endpoint, q.Cohort, e.prepFormOf(req), req.Covariates, req.Levels, req.Strata, req.Indicators, req.Interactions, req.Origin})
	key := ls.data.Name + "\x00" + string(keyJSON)
	e.coxMu.Lock()
	for _, ent := range e.coxCache {
		if ent.key == key {
			e.coxMu.Unlock()
			return ent.prep, nil
		}
	}
	e.coxMu.Unlock()

	ep := ls.eps[q.Endpoint]
	byTime := ls.byTime(ep)
	frame := ls.frame(c, byTime) // shared by the models of a screen (cohortframe.go)
	rows := frame.rows           // the complete cases come out sorted by time

	var strata *VariableData
	if req.Strata != "" {
		strata = ls.vars[req.Strata]
	}
	cols := frame.designColumns(ls, byTime, req)
	if strata != nil {
		// A patient without a stratum cannot be placed: treat like a missing covariate.
		col := analysis.CovariateColumn{Name: "\x00strata", Numeric: make([]float64, len(rows))}
		for r, i := range rows {
			if strata.Codes[i] < 0 {
				col.Numeric[r] = math.NaN()
			}
		}
		cols = append(cols, col)
	}
	// Without levels from the client each site would pick its own reference category among
	// the values it happens to hold; use the site's full dictionary instead.
	levels := coxLevels(ls, req)
	inter := make([]analysis.Interaction, len(req.Interactions))
	for k, in := range req.Interactions {
		inter[k] = analysis.Interaction{A: in.A, B: in.B}
	}
	// A design of few keys is built once per key where nothing reads it per patient
	// (coxkeyed.go); else per patient.
	rules := !IsExact(e.policy) && !e.withoutModelRules
	var kd *keyedDesign
	var x []float64
	var p int
	var names []string
	var keep []bool
	if strata == nil && q.Kind != protocol.KindFineGray && !e.perPatientDesigns {
		kd, p, names, keep, _ = frame.keyedDesignFor(ls, byTime, cols, levels, inter)
	}
	if kd == nil {
		var err error
		if x, p, names, keep, err = analysis.BuildDesignInteractions(cols, levels, inter); err != nil {
			return nil, errorf(protocol.CodeInvalid, "cox design: %s", trimPrefix(err.Error()))
		}
	}
	if strata != nil {
		// Drop the stratum marker column (all zeros; after the covariates' columns, before
		// any interaction's) from the design.
		j := slices.Index(names, "\x00strata")
		x = dropColumn(x, p, j)
		names = slices.Delete(names, j, j+1)
		p--
	}
	prep := &coxPrepared{names: names, p: p, complete: newBitset(ls.data.Len())}
	for r, i := range rows {
		if keep[r] {
			prep.complete.set(i)
			prep.n++
		}
	}
	prep.excluded = len(rows) - prep.n
	if prep.n < e.policy.MinCohort {
		return nil, refusef(protocol.ReasonSmallCohort, float64(e.policy.MinCohort), "fewer than min_cohort=%d complete cases", e.policy.MinCohort)
	}
	var times []float64
	var events []bool
	var entries []float64 // delayed entries, coarsened down to the bins (competing.go)
	var stratum []int32
	var split []int8 // a Fine–Gray round: 0 for the modelled cause, 1 for a competing one
	fgCause := int32(-1)
	if q.Kind == protocol.KindFineGray {
		fgCause = int32(slices.Index(ep.Causes, req.Cause)) // resolved by fineGray
	}
	// Every row of the cohort kept, and no Fine–Gray split: the released times are the
	// frame's, shared by the models of a screen; else those of the rows kept. Without merging
	// (min_cell ≤ 1) a row's released time is its own coarsened time: the rows kept take theirs
	// from the frame's.
	strict := isPooledForm(req.Form) || fgCause >= 0 || e.zphStrict(req)
	shared := prep.n == len(rows) && fgCause < 0
	perRow := !shared && fgCause < 0 && e.policy.MinCell <= 1
	srcTime, srcEvent := frame.time, frame.event
	var rs releasedSet
	if shared || perRow {
		rs = frame.releasedTimes(releasedKey{e.policy.BinDays, e.policy.MinCell, strict})
		srcTime, srcEvent = rs.time, rs.event
	}
	if !shared {
		times, events = make([]float64, 0, prep.n), make([]bool, 0, prep.n)
	}
	for r, i := range rows {
		if keep[r] && (!shared || ep.Entry != nil || strata != nil) {
			if !shared {
				times = append(times, srcTime[r])
				events = append(events, srcEvent[r])
			}
			if fgCause >= 0 {
				split = append(split, int8(min(1, abs32(ep.Cause[i]-fgCause))))
			}
			if ep.Entry != nil {
				entries = append(entries, coarsenEntry(ep.Entry[i], e.policy.BinDays))
			}
			if strata != nil {
				stratum = append(stratum, strata.Codes[i])
			}
		}
	}
	switch {
	case shared:
		times, events, prep.merged, prep.truncated, prep.events = rs.time, rs.event, rs.merged, rs.truncated, rs.events
	case perRow: // policyTimes's answer: nothing merged or truncated
		for _, ev := range events {
			if ev {
				prep.events++
			}
		}
	default:
		times, events, prep.merged, prep.truncated = policyTimes(times, events, split, e.policy.BinDays, e.policy.MinCell, strict)
		for _, ev := range events {
			if ev {
				prep.events++
			}
		}
	}
	var codes []int // Fine–Gray: 1 the modelled cause, 2 a competing one, 0 censored
	if split != nil {
		codes = make([]int, len(events))
		for i, ev := range events {
			if ev {
				codes[i] = 1 + int(split[i])
				events[i] = split[i] == 0 // the model's events: the rules below count these
			}
		}
		prep.events = 0
		for _, ev := range events {
			if ev {
				prep.events++
			}
		}
	}
	if k := e.policy.EventsPerCoxCovariate; k > 0 && prep.events < k*p {
		return nil, errorf(protocol.CodeRefusedByPolicy, "%d design columns need at least %d events (events_per_cox_covariate=%d); the cohort has fewer", p, k*p, k)
	}
	// The design-column rule, on the released event flags (a late event censored by the tail
	// truncation counts as no event, as the reply treats it).
	if rules && kd != nil {
		if err := checkKeyedDesignColumns(kd, p, names, coxDesignBlocks(ls, req, levels), events, e.policy.MinCell, ""); err != nil {
			return nil, err
		}
	} else if rules {
		if err := checkDesignColumns(x, p, names, coxDesignBlocks(ls, req, levels), events, e.policy.MinCell, ""); err != nil {
			return nil, err
		}
	}
	if kd != nil {
		prep.keyed = true
		if isPooledForm(req.Form) {
			centreColumns(kd.rows, p, names, req.Origin)
		}
		st, err := analysis.NewCoxStratumRows(entries, times, events, kd.rowOf, kd.rows, p)
		if err != nil {
			return nil, errorf(protocol.CodeInvalid, "cox: %s", trimPrefix(err.Error()))
		}
		prep.strata = []*analysis.CoxStratum{st}
		return e.cachePrepared(key, prep), nil
	}
	if isPooledForm(req.Form) {
		centreColumns(x, p, names, req.Origin)
	}
	// The design's rows numbered from the covariates' codes: the strata group their subjects
	// by them without numbering every design column (cohortframe.go).
	keys, nkeys := frame.designKeys(ls, byTime, cols[:len(req.Covariates)], keep, prep.n)
	if strata == nil {
		st, err := analysis.NewCoxStratumSorted(entries, times, events, x, p) // in time order: kept, not copied
		if err != nil {
			return nil, errorf(protocol.CodeInvalid, "cox: %s", trimPrefix(err.Error()))
		}
		if keys != nil {
			st.SetRowKeys(keys, nkeys)
		}
		prep.strata = []*analysis.CoxStratum{st}
		if codes != nil {
			if prep.fg, err = analysis.NewFineGraySite(times, codes, x, p, 1); err != nil {
				return nil, errorf(protocol.CodeInvalid, "finegray: %s", trimPrefix(err.Error()))
			}
		}
	} else {
		for s := int32(0); s < int32(len(strata.Categories)); s++ {
			var t, ent []float64
			var ev []bool
			var xs []float64
			var ks []int32
			for i, g := range stratum {
				if g == s {
					if keys != nil {
						ks = append(ks, keys[i])
					}
					t = append(t, times[i])
					ev = append(ev, events[i])
					xs = append(xs, x[i*p:(i+1)*p]...)
					if entries != nil {
						ent = append(ent, entries[i])
					}
				}
			}
			if len(t) == 0 {
				continue
			}
			// A within-site stratum is a cohort of its own: its risk sets never meet the
			// others', so the design-column rule holds in each.
			if rules {
				if err := checkDesignColumns(xs, p, names, coxDesignBlocks(ls, req, levels), ev, e.policy.MinCell, fmt.Sprintf(" in stratum %s of %s", strata.Categories[s], req.Strata)); err != nil {
					return nil, err
				}
			}
			st, err := analysis.NewCoxStratumSorted(ent, t, ev, xs, p)
			if err != nil {
				return nil, errorf(protocol.CodeInvalid, "cox: %s", trimPrefix(err.Error()))
			}
			if ks != nil {
				st.SetRowKeys(ks, nkeys)
			}
			prep.strata = append(prep.strata, st)
		}
	}
	return e.cachePrepared(key, prep), nil
}

// cachePrepared keeps prep in the engine's cache of prepared designs under key and returns it.
func (e *Engine) cachePrepared(key string, prep *coxPrepared) *coxPrepared {
	e.coxMu.Lock()
	defer e.coxMu.Unlock()
	e.coxCache = append(e.coxCache, coxCacheEntry{key, prep})
	e.coxCacheUsed += prep.bytes()
	for len(e.coxCache) > coxCacheSize && e.coxCacheUsed > coxCacheBytes {
		e.coxCacheUsed -= e.coxCache[0].prep.bytes()
		e.coxCache = e.coxCache[1:]
	}
	return prep
}

// centreColumns subtracts origin[v] from the design column of each numeric covariate v it
// names (its main effect; the request's checks made v a numeric covariate), in the n×p
// row-major x. Shifting a column by a constant changes none of β, ℓ, U or H — the baseline
// hazard absorbs it — but keeps the pooled sums of a column such as a year near 2020 from
// losing digits (docs/cox-protocol.md, "Centring"). The design-column rule is decided before,
// on the values themselves.
func centreColumns(x []float64, p int, names []string, origin map[string]float64) {
	for v, o := range origin {
		j := slices.Index(names, v)
		if j < 0 || o == 0 {
			continue
		}
		for i := j; i < len(x); i += p {
			x[i] -= o
		}
	}
}

// prepFormOf is prepForm, except that a zph request answered on the strict times is kept apart
// from the stratified design it otherwise shares.
func (e *Engine) prepFormOf(req *protocol.CoxRequest) protocol.CoxForm {
	if e.zphStrict(req) {
		return protocol.CoxZPH
	}
	return prepForm(req.Form)
}

// prepForm is the form under which a prepared design is kept: both phases of a pooled round
// share one.
func prepForm(f protocol.CoxForm) protocol.CoxForm {
	if f == protocol.CoxValidate || f == protocol.CoxLPHistogram || f == protocol.CoxZPH {
		return protocol.CoxStratified // the same design and released times
	}
	if isPooledForm(f) || f == protocol.CoxMeat {
		return protocol.CoxPooled
	}
	return f
}

type coxCacheEntry struct {
	key  string
	prep *coxPrepared
}

// policyTimes applies the survival-table policy to patient times: coarsening to binDays, then
// the same forward merging and tail truncation as releaseBlocks (strict for the pooled form; a
// subject past the truncation time is censored at it). It returns new slices.
//
// split, when not nil, assigns each event to one of two causes (0, 1: a Fine–Gray round's
// cause and the competing ones); strict rows then hold zero or min_cell events of each.
func policyTimes(time []float64, event []bool, split []int8, binDays float64, minCell int, strict bool) ([]float64, []bool, int, *float64) {
	t2 := make([]float64, len(time))
	e2 := append([]bool(nil), event...)
	for i, t := range time {
		t2[i] = analysis.CoarsenTime(t, binDays)
	}
	if minCell <= 1 || len(t2) == 0 {
		return t2, e2, 0, nil
	}
	tab, err := analysis.NewSurvivalTable(t2, e2)
	if err != nil {
		panic("node: policyTimes: " + err.Error()) // times were validated at import
	}
	if split != nil {
		tab.Causes = [][]int{make([]int, len(tab.Time)), make([]int, len(tab.Time))}
		for i, t := range t2 {
			if e2[i] {
				tab.Causes[split[i]][sort.SearchFloat64s(tab.Time, t)]++
			}
		}
	}
	released, _, truncated := releaseBlocks(tab, minCell, strict)
	merged := len(tab.Time) - len(released.Time)
	// Each table time maps to the first released time at or after it; past the truncation
	// time subjects become censorings at it. Times in order (a Cox design's) are mapped in one
	// walk, others by bisection.
	sorted := slices.IsSorted(t2)
	lo := 0
	for i, t := range t2 {
		if truncated != nil && t > *truncated {
			t2[i], e2[i] = *truncated, false
			continue
		}
		if sorted {
			for released.Time[lo] < t {
				lo++
			}
			t2[i] = released.Time[lo]
			continue
		}
		lo, hi := 0, len(released.Time)
		for lo < hi {
			m := (lo + hi) / 2
			if released.Time[m] < t {
				lo = m + 1
			} else {
				hi = m
			}
		}
		t2[i] = released.Time[lo]
	}
	return t2, e2, merged, truncated
}

func abs32(v int32) int32 {
	if v < 0 {
		return -v
	}
	return v
}

// dropColumn returns the row-major n×p matrix x without its column j.
func dropColumn(x []float64, p, j int) []float64 {
	n := len(x) / p
	out := make([]float64, 0, n*(p-1))
	for i := 0; i < n; i++ {
		out = append(out, x[i*p:i*p+j]...)
		out = append(out, x[i*p+j+1:(i+1)*p]...)
	}
	return out
}

func coxFinite(cr *protocol.CoxReply) bool {
	ok := func(xs ...float64) bool {
		for _, v := range xs {
			if math.IsNaN(v) || math.IsInf(v, 0) {
				return false
			}
		}
		return true
	}
	if !ok(cr.LogLik) || !ok(cr.Gradient...) || !ok(cr.Hessian...) || !ok(cr.EventXSum...) || !ok(cr.SecondMoment...) {
		return false
	}
	for _, r := range cr.Rows {
		if !ok(r.R0, r.E0) || !ok(r.R1...) || !ok(r.R2...) || !ok(r.E1...) || !ok(r.E2...) {
			return false
		}
	}
	return true
}

// trimPrefix drops the "analysis: " package prefix from messages relayed to the client.
func trimPrefix(s string) string {
	const pre = "analysis: "
	if len(s) > len(pre) && s[:len(pre)] == pre {
		return s[len(pre):]
	}
	return s
}

// auditQueryText is what the audit log records of a query: the query as received, except that
// a pooled_hessian request's weights (T numbers a round, ~50 KB at 1M patients) are replaced by
// their digest, with the digest of the whole message so that an auditor can still match the
// signed query an analyst presents.
func auditQueryText(q protocol.Query, raw string) string {
	if (q.Kind != protocol.KindCox && q.Kind != protocol.KindFineGray) || q.Cox == nil || q.Cox.Weights == nil {
		return raw
	}
	stripped := q
	cox := *q.Cox
	cox.Weights = nil
	stripped.Cox = &cox
	b, err := json.Marshal(struct {
		Query         protocol.Query `json:"query"`
		WeightsSHA256 string         `json:"weights_sha256"`
		QuerySHA256   string         `json:"query_sha256"`
		Weights       [2]int         `json:"weights"`
	}{stripped, weightsDigest(q.Cox.Weights), HashQuery(raw), [2]int{len(q.Cox.Weights.A), len(q.Cox.Weights.B)}})
	if err != nil {
		return raw
	}
	return string(b)
}
