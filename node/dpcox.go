package node

import (
	"fmt"
	"math"
	"math/big"
	"slices"

	"github.com/oncofed/oncofed/dp"
	"github.com/oncofed/oncofed/protocol"
)

// Differentially private Cox models for analysts of role dp (docs/dp-cox.md).
//
// One query, one release: the site puts every complete case of the cohort in the cell of its
// covariate pattern — a categorical covariate's level, an integer-coded numeric covariate's
// value (its declared range holds at most dpCoxIntegerValues integers), any other numeric
// covariate's one of dpCoxNumericBins equal-width bins of its declared range (clipped to it,
// coded by the bin's midpoint) — and releases one survival table per pattern on the public DP
// grid (dpGrid) through dp.ReleaseSurvival, the mechanism of the DP Kaplan–Meier. The patterns
// partition the complete cases, and the patients lacking a covariate are one more disjoint
// cell (released as a noisy count), so adding or removing one patient changes one cell of one
// table by one: the whole reply costs one dp_rho_cox (parallel composition). The client fits
// the model on the released tables (post-processing: any number of Newton rounds, no further
// query, nothing more spent).
//
// Why this form and not noisy gradients and Hessians per Newton round: a round's gradient at β
// has sensitivity that grows with the log of the number of events and with e^{Σ|β_j|w_j}
// (docs/dp-cox.md states and tests the bound), every round costs ρ again, and the noise of the
// last round lands in the estimate whole. The tables cost ρ once, are consistent (no negative
// risk set, so the likelihood is always defined), and the fit on them is the exact Cox fit of
// the released data — R's coxph on the pseudo-patients gives the same numbers.
//
// What it costs in accuracy: numeric covariates are coarsened to their bins' midpoints and
// times to the DP grid; README's DP utility table gives the shift of the log HR against the
// exact fit.
//
// The rules of the rules mode stay on top, decided on the noisy tables (post-processing, and
// charged like every DP refusal decided on noise): min_cohort on the noisy cohort,
// events_per_cox_covariate on the noisy events, and the design-column rule on each level's
// (each value's off the most common one's) noisy patients and events. The β cap of the rules
// mode is published (BetaLimit) for the client's fit; the weight-spread rule reads the private
// covariates to refuse, which would break the guarantee, and is not applied: the noise
// bounds what any one patient changes whatever the β.

// dpCoxNumericBins is the number of equal-width bins of a numeric covariate's declared range.
const dpCoxNumericBins = 4

// dpCoxIntegerValues is the largest number of integers in a declared range coded by value.
const dpCoxIntegerValues = 6

// maxDPCoxPatterns bounds the covariate patterns of a DP Cox query (each is a table).
const maxDPCoxPatterns = 64

// dpCoxCovariate is how one covariate's values become cells and design values: cells[k] is
// the design row block of cell k.
type dpCoxCovariate struct {
	name    string
	levels  []string // a categorical covariate's levels, in cell order
	cells   [][]float64
	numeric bool
	cell    func(i int) int // the row's cell, -1 when missing
}

// dpCoxDesign returns the covariates of req as cells, from the study's dictionary alone.
func dpCoxDesign(c *cohort, req *protocol.CoxRequest) ([]dpCoxCovariate, error) {
	ls := c.study
	levels := coxLevels(ls, req)
	var out []dpCoxCovariate
	for _, name := range req.Covariates {
		v := ls.vars[name]
		if v.Type == protocol.Categorical {
			lv := levels[name]
			idx := make([]int, len(v.Categories)) // dictionary code → level position
			for k, cat := range v.Categories {
				idx[k] = slices.Index(lv, cat)
				if l, ok := req.Indicators[name]; ok {
					idx[k] = 0
					if cat == l {
						idx[k] = 1
					}
				}
			}
			cv := dpCoxCovariate{name: name, levels: lv, cells: indicatorRows(len(lv))}
			cv.cell = func(i int) int {
				if code := v.Codes[i]; code >= 0 {
					return idx[code]
				}
				return -1
			}
			out = append(out, cv)
			continue
		}
		if v.Min == nil || v.Max == nil || !(*v.Max > *v.Min) || math.IsInf(*v.Max-*v.Min, 0) {
			return nil, errorf(protocol.CodeRefusedByPolicy, "covariate %s is numeric without a finite declared range: a differentially private Cox model clips every numeric covariate to its declared range (min and max in the study's dictionary); declare one", name)
		}
		lo, hi := *v.Min, *v.Max
		cv := dpCoxCovariate{name: name, numeric: true}
		if ilo, ihi := math.Ceil(lo), math.Floor(hi); ilo == lo && ihi == hi && hi-lo < dpCoxIntegerValues {
			for x := lo; x <= hi; x++ {
				cv.cells = append(cv.cells, []float64{x})
			}
			cv.cell = func(i int) int {
				x := v.Numeric[i]
				if x != x {
					return -1
				}
				return int(math.Round(min(max(x, lo), hi) - lo))
			}
		} else {
			w := (hi - lo) / dpCoxNumericBins
			for k := range dpCoxNumericBins {
				cv.cells = append(cv.cells, []float64{lo + (float64(k)+0.5)*w})
			}
			cv.cell = func(i int) int {
				x := v.Numeric[i]
				if x != x {
					return -1
				}
				return min(int((min(max(x, lo), hi)-lo)/w), dpCoxNumericBins-1)
			}
		}
		out = append(out, cv)
	}
	return out, nil
}

// indicatorRows are the design blocks of a categorical covariate with k levels: the reference
// (first) all zeros, level j the j-th unit vector.
func indicatorRows(k int) [][]float64 {
	rows := make([][]float64, k)
	for j := range rows {
		rows[j] = make([]float64, k-1)
		if j > 0 {
			rows[j][j-1] = 1
		}
	}
	return rows
}

// dpCox answers a Cox query of a dp analyst (form dp_tables) with one noisy survival table
// per covariate pattern, at the policy's dp_rho_cox.
func (e *Engine) dpCox(c *cohort, q *protocol.Query, reply *protocol.Reply) (answer, error) {
	if err := e.dpCoxRefusal(c, q); err != nil {
		return answer{}, err
	}
	return e.dpCoxAt(c, q, reply, ratOf(e.policy.DPRhoCox))
}

// dpCoxRefusal refuses, from the query and the dictionary alone, a dp_tables request the
// release cannot serve.
func (e *Engine) dpCoxRefusal(c *cohort, q *protocol.Query) error {
	req := q.Cox
	ep := c.study.eps[q.Endpoint]
	switch {
	case req.Form != protocol.CoxDPTables:
		return errorf(protocol.CodeRefusedByPolicy, "analysts of role dp get Cox models as differentially private tables (cox.form dp_tables, one release the client fits on), not form %s", req.Form)
	case c.group != nil:
		return errorf(protocol.CodeInvalid, "cox queries take no group_by (use covariates)")
	case ep.Entry != nil:
		return errorf(protocol.CodeRefusedByPolicy, "endpoint %q records delayed entry at this site, and its entry times have no differentially private release yet: ask as a trusted analyst", ep.Name)
	}
	return nil
}

// dpCoxAt releases the tables of the dp_tables request q (checked by dpCoxRefusal) at ρ = rho:
// the whole release costs rho (parallel composition over the patterns and the missing count).
func (e *Engine) dpCoxAt(c *cohort, q *protocol.Query, reply *protocol.Reply, rho *big.Rat) (answer, error) {
	req := q.Cox
	ep := c.study.eps[q.Endpoint]
	covs, err := dpCoxDesign(c, req)
	if err != nil {
		return answer{}, err
	}
	limits, err := e.coxBetaLimits(c.study, req)
	if err != nil {
		return answer{}, err
	}
	patterns := 1
	for _, cv := range covs {
		if patterns *= len(cv.cells); patterns > maxDPCoxPatterns {
			return answer{}, errorf(protocol.CodeRefusedByPolicy, "the covariates' levels and bins make more than %d covariate patterns, each a noisy table: merge levels or drop a covariate", maxDPCoxPatterns)
		}
	}
	if ep.Causes != nil {
		note(&reply.Policy, "endpoint %q: differentially private Cox model of all causes together", ep.Name)
	}
	w, horizon := e.dpGrid(ep)
	bins := int(math.Ceil(horizon / w))
	tables, missing := dpCoxTables(c.rows, covs, ep, patterns, w, bins)
	released := make([]dp.SurvivalTable, patterns)
	var noise dp.Noise
	for g := range tables {
		if released[g], noise, err = dp.ReleaseSurvival(e.sampler, tables[g], rho, dp.SurvivalSqrt); err != nil {
			return answer{}, errorf(protocol.CodeInternal, "noise source unavailable")
		}
	}
	m, mn, err := dp.ReleaseCount(e.sampler, int64(missing), rho)
	if err != nil {
		return answer{}, errorf(protocol.CodeInternal, "noise source unavailable")
	}
	ans := answer{dp: dpEffects(noise)}
	sd := dp.SurvivalSizeSD(bins, rho, dp.SurvivalSqrt)
	ans.dp.SizeSD = math.Sqrt(float64(patterns)*sd*sd + floatOf(mn.Sigma2))
	n, events := int64(0), int64(0)
	for _, t := range released {
		n += t.AtRisk()[0]
		for _, d := range t.Events {
			events += d
		}
	}
	if n+max(m, 0) < int64(e.policy.MinCohort) {
		return ans, errSmallCohort(e.policy.MinCohort)
	}
	names := coxDesignNames(c.study, req)
	pairs, _ := interactionPairs(c.study, req, coxLevels(c.study, req))
	p := len(names)
	if k := e.policy.EventsPerCoxCovariate; k > 0 && events < int64(k*p) {
		return ans, errorf(protocol.CodeRefusedByPolicy, "%d design columns need at least %d events (events_per_cox_covariate=%d); the cohort's noisy count of events is fewer", p, k*p, k)
	}
	if !IsExact(e.policy) {
		if err := dpCoxColumnRule(covs, released, e.policy.MinCell); err != nil {
			return ans, err
		}
		if err := dpCoxInteractionRule(covs, pairs, names, released, e.policy.MinCell); err != nil {
			return ans, err
		}
	}
	cr := &protocol.CoxReply{Columns: names, N: int(n), Events: int(events), BetaLimit: limits}
	ex := e.dpCell(m, reply)
	cr.Excluded, cr.ExcludedSuppressed = ex.N, ex.Suppressed
	cr.Patterns = patternReplies(covs, pairs, released, w)
	reply.Policy.BinDays = w
	reply.Policy.TruncatedAfter = &horizon
	reply.Cox = cr
	ans.released = fmt.Sprintf("dp cox %s p=%d n=%d patterns=%d bins=%d", ep.Name, p, c.n, patterns, bins)
	return ans, nil
}

// dpCoxTables counts the patients of rows into one survival table per covariate pattern on
// bins of w days (past the last bin censored there) and counts those lacking a covariate:
// each patient adds 1 to exactly one cell of one table, or to missing — the sensitivity of
// the release (TestDPCoxTablesSensitivity).
func dpCoxTables(rows bitset, covs []dpCoxCovariate, ep *EndpointData, patterns int, w float64, bins int) (tables []dp.SurvivalTable, missing int) {
	tables = make([]dp.SurvivalTable, patterns)
	for g := range tables {
		tables[g] = dp.SurvivalTable{Events: make([]int64, bins), Censored: make([]int64, bins)}
	}
	rows.forEach(func(i int) {
		g := 0
		for _, cv := range covs {
			k := cv.cell(i)
			if k < 0 {
				g = -1
				break
			}
			g = g*len(cv.cells) + k
		}
		if g < 0 {
			missing++
			return
		}
		b := int(math.Ceil(ep.Time[i] / w))
		event := ep.Event[i]
		switch {
		case b < 1:
			b = 1
		case b > bins:
			b, event = bins, false
		}
		if event {
			tables[g].Events[b-1]++
		} else {
			tables[g].Censored[b-1]++
		}
	})
	return tables, missing
}

// patternReplies are the released tables as the reply lists them: each non-empty pattern's
// design row and its rows with events or censorings, at the bins' ends (w days wide).
func patternReplies(covs []dpCoxCovariate, pairs [][2]int, released []dp.SurvivalTable, w float64) []protocol.CoxPattern {
	var out []protocol.CoxPattern
	for g, t := range released {
		if t.AtRisk()[0] == 0 {
			continue
		}
		pt := protocol.CoxPattern{X: patternRow(covs, pairs, g)}
		for b := range t.Events {
			if d, ce := t.Events[b], t.Censored[b]; d+ce > 0 {
				pt.Time = append(pt.Time, float64(b+1)*w)
				pt.Events = append(pt.Events, int(d))
				pt.Censor = append(pt.Censor, int(ce))
			}
		}
		out = append(out, pt)
	}
	return out
}

// patternRow is the design row of pattern g (mixed radix over the covariates' cells, the
// first covariate most significant): the covariates' blocks, then each interaction column,
// the product of its two columns (pairs, interactionPairs' order) — a pattern is a joint cell
// of every covariate, so its interaction values are fixed by it and cost no release.
func patternRow(covs []dpCoxCovariate, pairs [][2]int, g int) []float64 {
	ks := make([]int, len(covs))
	for j := len(covs) - 1; j >= 0; j-- {
		ks[j] = g % len(covs[j].cells)
		g /= len(covs[j].cells)
	}
	var row []float64
	for j, cv := range covs {
		row = append(row, cv.cells[ks[j]]...)
	}
	for _, pr := range pairs {
		row = append(row, row[pr[0]]*row[pr[1]])
	}
	return row
}

// dpCoxColumnRule is the design-column rule on the released tables: for a categorical
// covariate every level (the reference too) holds at least minCell noisy patients and noisy
// events; for a numeric one the patients off its most common released value do.
func dpCoxColumnRule(covs []dpCoxCovariate, released []dp.SurvivalTable, minCell int) error {
	if minCell <= 0 {
		return nil
	}
	stride := len(released)
	for _, cv := range covs {
		stride /= len(cv.cells)
		k := len(cv.cells)
		pat, ev := make([]int64, k), make([]int64, k)
		for g, t := range released {
			cell := (g / stride) % k
			pat[cell] += t.AtRisk()[0]
			for _, d := range t.Events {
				ev[cell] += d
			}
		}
		refuse := func(what string) error {
			return errorf(protocol.CodeRefusedByPolicy, "design column %s holds too few patients in this cohort (decided on the noisy tables): every column of a model needs at least min_cell=%d patients and events; merge levels or widen the cohort", what, minCell)
		}
		if !cv.numeric {
			for j := range k {
				if pat[j] < int64(minCell) || ev[j] < int64(minCell) {
					return refuse(fmt.Sprintf("%s (level %s)", cv.name, cv.levels[j]))
				}
			}
			continue
		}
		mode := 0
		var totP, totE int64
		for j := range k {
			if pat[j] > pat[mode] {
				mode = j
			}
			totP += pat[j]
			totE += ev[j]
		}
		if totP-pat[mode] < int64(minCell) || totE-ev[mode] < int64(minCell) {
			return refuse(cv.name + " (the patients off its most common value)")
		}
	}
	return nil
}

// dpCoxInteractionRule is the design-column rule for the interaction columns on the released
// tables: the patients off each interaction column's most common released value (for a
// treatment × level product, the treated patients of the level) hold at least minCell noisy
// patients and noisy events — issue 15's "treated marker-positive patients".
func dpCoxInteractionRule(covs []dpCoxCovariate, pairs [][2]int, names []string, released []dp.SurvivalTable, minCell int) error {
	if minCell <= 0 || len(pairs) == 0 {
		return nil
	}
	main := len(names) - len(pairs)
	for k := range pairs {
		pat, ev := map[float64]int64{}, map[float64]int64{}
		var totP, totE int64
		for g, t := range released {
			x := patternRow(covs, pairs, g)[main+k]
			n := t.AtRisk()[0]
			var d int64
			for _, e := range t.Events {
				d += e
			}
			pat[x] += n
			ev[x] += d
			totP += n
			totE += d
		}
		var mode float64
		first := true
		for x, n := range pat {
			if first || n > pat[mode] || (n == pat[mode] && x < mode) {
				mode, first = x, false
			}
		}
		if totP-pat[mode] < int64(minCell) || totE-ev[mode] < int64(minCell) {
			return errorf(protocol.CodeRefusedByPolicy, "design column %s holds too few patients in this cohort (decided on the noisy tables): every column of a model needs at least min_cell=%d patients and events off its most common value; merge levels or widen the cohort", names[main+k], minCell)
		}
	}
	return nil
}
