package node

import (
	"fmt"
	"slices"

	"github.com/oncofed/oncofed/analysis"
	"github.com/oncofed/oncofed/protocol"
)

// ipwPooledGate refuses a pooled stage from the request and the policy alone, before any row
// is read: the adjusted pooled model is the pooled Cox form's release (per-time sums that carry
// covariate values), answered only under allow_pooled_cox, and its addressed stages only by
// the site they name.
func (e *Engine) ipwPooledGate(req *protocol.IPWRequest) error {
	if req.Stage != protocol.IPWPooledSums && req.Site != e.site {
		return errorf(protocol.CodeInvalid, "an ipw %s request addressed to site %q reached site %q", req.Stage, clip(req.Site), e.site)
	}
	if !e.policy.AllowPooledCox {
		return errorf(protocol.CodeRefusedByPolicy, "this site's policy does not allow pooled models (allow_pooled_cox is false: the adjusted pooled weighted Cox model's sums per time, like the pooled Cox form's, disclose single patients' covariate values)")
	}
	return nil
}

// ipwReleased returns the kept patients of both arms (control first) with their released
// times and events: each arm's times as its weighted survival table releases them
// (cellPolicyTimes), so that the Cox models and the weighted Kaplan–Meier curves describe the
// same data. strict (the adjusted pooled model's stages) merges each arm's rows further, as
// the pooled Cox form's (policyTimes strict): each row's events, and its censorings, are none
// or at least min_cell patients of the arm — phase 1's per-time sums over a row's events
// would otherwise carry one dying patient's covariates (E1/E0), and varying the treatment's β
// separates the arms' parts of every sum.
func (e *Engine) ipwReleased(prep *ipwPrepared, wt *ipwWeighted, strict bool) (idx []int, time []float64, event []bool, err error) {
	for a := 0; a < 2; a++ {
		var ia []int
		var ta []float64
		var ea []bool
		var ca []int32
		for i := 0; i < prep.n; i++ {
			if wt.kept[i] && armOf(prep.treated[i]) == a {
				ia = append(ia, i)
				ta = append(ta, prep.time[i])
				ea = append(ea, prep.event[i])
				ca = append(ca, prep.cell[i])
			}
		}
		if e.withoutWeightSpread {
			ca = nil // tests of the attacks switch the ipw rules off
		}
		if ta, ea, _, _, err = cellPolicyTimes(ta, ea, ca, false, e.policy.BinDays, e.policy.MinCell); err == errRareClass {
			return nil, nil, nil, classRefusal(prep, wt, a, e.policy.MinCell)
		} else if err != nil {
			return nil, nil, nil, err
		}
		if strict && !e.withoutWeightSpread {
			ta, ea, _, _ = policyTimes(ta, ea, nil, 0, e.policy.MinCell, true) // already coarsened
		}
		idx, time, event = append(idx, ia...), append(time, ta...), append(event, ea...)
	}
	return idx, time, event, nil
}

// ipwPooled answers a stage of the adjusted pooled weighted Cox model (protocol ipwpooled.go,
// docs/ipw.md) on the outcome design of ipwAdjustedDesign. Weights never leave the site: phase
// 1 returns per-time sums of min_cell-patient rows, phases 2 and 3 p×p sums over all its
// patients.
func (e *Engine) ipwPooled(c *cohort, req *protocol.IPWRequest, prep *ipwPrepared, out *protocol.IPWReply) (string, error) {
	ls := c.study
	d, err := e.ipwAdjustedDesign(ls, req, prep, true, out)
	if err != nil {
		return "", err
	}
	x, q, st := d.x, d.q, d.st
	time, event, w := d.time, d.event, d.w
	for v := range req.Origin {
		if ls.vars[v].Type != protocol.Numeric {
			return "", errorf(protocol.CodeInvalid, "ipw.origin: %q is categorical; only numeric covariates are centred", v)
		}
	}
	centreColumns(x, q, out.CoxColumns, req.Origin) // after the rules, decided on the values
	ws, err := analysis.NewWeightedCoxStratum(time, event, x, q, w)
	if err != nil {
		return "", errorf(protocol.CodeInvalid, "ipw: %s", trimPrefix(err.Error()))
	}
	beta := req.CoxBeta
	released := fmt.Sprintf("ipw %s %s %s adjust=%v p=%d n=%d events=%d", req.Stage, req.Estimand, req.Ties, req.Adjust, q, out.N, out.Events)
	switch req.Stage {
	case protocol.IPWPooledSums:
		rows, dw, ex, err := ws.TimeSums(beta)
		if err != nil {
			return "", errorf(protocol.CodeInvalid, "ipw: %s", trimPrefix(err.Error()))
		}
		out.EventXSum = ex
		for k, r := range rows {
			out.Rows = append(out.Rows, protocol.IPWCoxRow{Time: r.Time, D: r.D, DW: dw[k], R0: r.R0, R1: r.R1, E0: r.E0, E1: r.E1})
		}
	case protocol.IPWPooledHessian:
		cw := req.CoxWeights
		ties, _ := analysis.ParseTies(req.Ties)
		if err := checkCoxWeights(st, &protocol.CoxWeights{A: cw.A, B: cw.B}, ties); err != nil {
			return "", err
		}
		if err := nonDecreasing("ipw.cox_weights.a", cw.A); err != nil {
			return "", err
		}
		if out.SecondMoment, err = ws.WeightedSecondMoment(beta, cw.A, cw.B); err != nil {
			return "", errorf(protocol.CodeInvalid, "ipw: %s", trimPrefix(err.Error()))
		}
		released += " weights_sha256=" + ipwWeightsDigest(cw)
	case protocol.IPWPooledMeat:
		cw := req.CoxWeights
		mw := analysis.PooledMeatWeights{H: cw.H, A: cw.AH, HD: cw.HD, AD: cw.AD, XBarD: cw.XBarD}
		if out.Meat, out.Score, err = ws.PooledScoreMeat(beta, mw); err != nil {
			return "", errorf(protocol.CodeInvalid, "ipw meat weights: %s (this site's pooled_sums reply at this cohort gives the lengths)", trimPrefix(err.Error()))
		}
		released += " weights_sha256=" + ipwWeightsDigest(cw)
	}
	if !allFinite(out.EventXSum) || !allFinite(out.SecondMoment) || !allFinite(out.Meat) || !allFinite(out.Score) || !ipwRowsFinite(out.Rows) {
		return "", errorf(protocol.CodeInvalid, "ipw: the pooled contribution at this beta overflows (beta too large)")
	}
	return released, nil
}

// ipwLevels are the categorical confounders' levels in design order: the request's, else the
// declared ones (as ipwPrepare builds the design).
func ipwLevels(ls *loadedStudy, req *protocol.IPWRequest) map[string][]string {
	levels := map[string][]string{}
	for name, lv := range req.Levels {
		levels[name] = lv
	}
	for _, name := range req.Confounders {
		if v := ls.vars[name]; v.Type == protocol.Categorical && levels[name] == nil {
			levels[name] = v.Categories
		}
	}
	return levels
}

// ipwTreatmentTerm names the treatment's coefficient as the client does (app.ipwTerm).
func ipwTreatmentTerm(req *protocol.IPWRequest) string {
	if req.TreatedSite != "" {
		return "site" + req.TreatedSite
	}
	return req.Treatment + req.Treated
}

func dropFirstColumn(x []float64, q int) []float64 {
	out := make([]float64, 0, len(x)/q*(q-1))
	for i := 0; i+q <= len(x); i += q {
		out = append(out, x[i+1:i+q]...)
	}
	return out
}

func nonDecreasing(path string, xs []float64) error {
	for k, v := range xs {
		if v < 0 || (k > 0 && v < xs[k-1]) {
			return errorf(protocol.CodeInvalid, "%s[%d] = %g: the weights must be non-negative and non-decreasing", path, k, v)
		}
	}
	return nil
}

func ipwRowsFinite(rows []protocol.IPWCoxRow) bool {
	for _, r := range rows {
		if !allFinite([]float64{r.R0, r.E0, r.DW}) || !allFinite(r.R1) || !allFinite(r.E1) {
			return false
		}
	}
	return true
}

// ipwWeightsDigest is the SHA-256 of a pooled request's weights, which the audit log records
// instead of the weights themselves: weightsDigest's over the same vectors (a pooled_hessian
// request's A and B hash as the Cox form's).
func ipwWeightsDigest(w *protocol.IPWCoxWeights) string {
	return weightsDigest(&protocol.CoxWeights{A: w.A, B: w.B, A1: w.AH, B1: w.AD, XBar: w.XBarD, Psi: w.H, QPi: w.HD})
}

// ipwDesign is the adjusted weighted Cox model's data at this site: the kept patients of both
// arms on released times, their outcome design (the treatment, then the design columns of
// req.Adjust; n×q row-major) and IPW weights, and the unweighted stratum the rules read.
type ipwDesign struct {
	q          int
	x, w, time []float64
	event      []bool
	st         *analysis.CoxStratum
}

// ipwAdjustedDesign builds the outcome design of an adjusted weighted Cox stage — the cox
// stage (stratified by site) or a pooled one (strict: the pooled rows' strict release) — and
// applies its rules on top of the propensity model's (spread, cap, arms, columns): the
// treatment's and each adjusting column's β within max_cox_log_hr per declared range, the
// design-column rule with events for the treatment (both arms) and every adjusting column, and
// the weight-spread rule at the outcome β. The design takes the propensity design's columns
// (the same levels); each patient is weighted by the site's own IPW weight from the broadcast
// propensity model (capped, trimmed, on released times as the outcome stage). It fills the
// reply's CoxColumns, BetaLimit, N and Events.
func (e *Engine) ipwAdjustedDesign(ls *loadedStudy, req *protocol.IPWRequest, prep *ipwPrepared, strict bool, out *protocol.IPWReply) (*ipwDesign, error) {
	p := len(prep.names)
	if len(req.Beta) != p {
		return nil, errorf(protocol.CodeInvalid, "ipw.beta has %d coefficients for %d design columns %q", len(req.Beta), p, prep.names)
	}
	levels := ipwLevels(ls, req)
	names := designNames(ls, req.Adjust, levels)
	cols := make([]int, len(names))
	for k, name := range names {
		if cols[k] = slices.Index(prep.names, name); cols[k] < 0 {
			return nil, errorf(protocol.CodeInvalid, "ipw.adjust: design column %q is not among the propensity model's %q", name, prep.names)
		}
	}
	q := 1 + len(names)
	if len(req.CoxBeta) != q {
		return nil, errorf(protocol.CodeInvalid, "ipw.cox_beta has %d coefficients for the treatment and %d adjusting columns %q", len(req.CoxBeta), len(names), names)
	}
	out.CoxColumns = append([]string{ipwTreatmentTerm(req)}, names...)
	rules := !IsExact(e.policy) && !e.withoutModelRules
	if rules {
		limits, err := e.modelBetaLimits(ls, req.Adjust, levels)
		if err != nil {
			return nil, err
		}
		out.BetaLimit = append([]float64{e.policy.MaxCoxLogHR}, limits...)
		if err := checkBeta(req.CoxBeta, out.BetaLimit, out.CoxColumns, e.policy.MaxCoxLogHR); err != nil {
			return nil, err
		}
	}
	wt, err := e.ipwWeights(prep, req)
	if err != nil {
		return nil, err
	}
	idx, time, event, err := e.ipwReleased(prep, wt, strict)
	if err != nil {
		return nil, err
	}
	d := &ipwDesign{q: q, x: make([]float64, 0, len(idx)*q), w: make([]float64, len(idx)), time: time, event: event}
	for r, i := range idx {
		d.x = append(d.x, float64(armOf(prep.treated[i])))
		for _, j := range cols {
			d.x = append(d.x, prep.x[i*p+j])
		}
		d.w[r] = wt.w[i]
		if event[r] {
			out.Events++
		}
	}
	out.N, out.Treated = len(idx), 0 // the kept patients (after trimming)
	for _, i := range idx {
		out.Treated += armOf(prep.treated[i])
	}
	if d.st, err = analysis.NewCoxStratum(time, event, d.x, q); err != nil {
		return nil, errorf(protocol.CodeInvalid, "ipw: %s", trimPrefix(err.Error()))
	}
	if !rules {
		return d, nil
	}
	blocks := designBlocks(ls, req.Adjust, levels)
	xs, bq, bnames := d.x, q, out.CoxColumns
	if req.TreatedSite == "" {
		// The treatment column: each arm needs min_cell patients, min_cell events and a patient
		// without one, as any model's column (with a treated site the site's arm is known to the
		// analyst, and the other arm is at other sites).
		blocks = append([]designBlock{{Covariate: "the treatment", Reference: "control", Columns: 1}}, blocks...)
	} else {
		xs, bq, bnames = dropFirstColumn(d.x, q), q-1, out.CoxColumns[1:]
	}
	if err := checkDesignColumns(xs, bq, bnames, blocks, event, e.policy.MinCell, " (the outcome model)"); err != nil {
		return nil, err
	}
	if !e.withoutWeightSpread {
		if err := checkWeightSpread([]*analysis.CoxStratum{d.st}, req.CoxBeta, e.policy.MinCell); err != nil {
			return nil, err
		}
	}
	return d, nil
}
