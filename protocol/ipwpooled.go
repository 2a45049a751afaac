package protocol

// The covariate-adjusted pooled weighted Cox model of a treatment comparison (docs/ipw.md, "The
// adjusted pooled model"): the outcome model is treatment + Adjust (a subset of the
// confounders), one baseline hazard over every site, weighted by each site's own IPW weights.
// Its rounds are those of the pooled Cox form with case weights:
//
//   - IPWPooledSums, to every site at CoxBeta: per distinct released time of the site its
//     weighted sums (IPWReply.Rows) and Σ_events w x (IPWReply.EventXSum): O(T p);
//   - IPWPooledHessian, to one site (Site) with its weights A and B (CoxWeights): its p×p
//     weighted second moment (IPWReply.SecondMoment);
//   - IPWPooledMeat, to one site with the pooled per-time numbers of its score residuals
//     (H, AH, HD, AD, XBarD): its p×p part of the robust meat Σ (w r)(w r)' and of the weighted
//     score Σ w r (IPWReply.Meat, Score).
const (
	IPWPooledSums    IPWStage = "pooled_sums"
	IPWPooledHessian IPWStage = "pooled_hessian"
	IPWPooledMeat    IPWStage = "pooled_meat"
)

// IPWCoxWeights are the pooled numbers sent to one site (row-major, rows × p where a vector):
// for pooled_hessian, A at each of the site's distinct released times (the rows of its
// pooled_sums reply) and B at each of those with events, as protocol.CoxWeights; for
// pooled_meat, the cumulative hazard H and Σ x̄ dΛ (AH) up to each of its times, and at each of
// its event times HD, AD (a dying patient's share) and the mean XBarD
// (analysis.PooledMeatWeights).
type IPWCoxWeights struct {
	A     Float64s `json:"a,omitempty"`
	B     Float64s `json:"b,omitempty"`
	H     Float64s `json:"h,omitempty"`
	AH    Float64s `json:"ah,omitempty"`
	HD    Float64s `json:"hd,omitempty"`
	AD    Float64s `json:"ad,omitempty"`
	XBarD Float64s `json:"xbar_d,omitempty"`
}

// IPWCoxRow is one distinct released time of a site in a pooled_sums reply: its number of
// events D and their summed weight DW, R0 = Σ w e^{x'β} and R1 = Σ w e^{x'β} x over the
// patients with that time, and E0, E1 the same over its events (E1 empty without events).
type IPWCoxRow struct {
	Time float64   `json:"t"`
	D    int       `json:"d"`
	DW   float64   `json:"dw,omitempty"`
	R0   float64   `json:"r0"`
	R1   []float64 `json:"r1"`
	E0   float64   `json:"e0,omitempty"`
	E1   []float64 `json:"e1,omitempty"`
}

// isPooledIPW reports whether the stage belongs to the adjusted pooled model.
func isPooledIPW(s IPWStage) bool {
	return s == IPWPooledSums || s == IPWPooledHessian || s == IPWPooledMeat
}

// validatePooledIPW checks the parts of a request that belong to the adjusted pooled model.
func validatePooledIPW(r *IPWRequest) error {
	if !isPooledIPW(r.Stage) {
		if r.Site != "" || r.CoxWeights != nil || len(r.Origin) > 0 || (len(r.Adjust) > 0 && r.Stage != IPWCox) {
			return queryErrorf(CodeInvalid, "ipw.site, ipw.cox_weights and ipw.origin belong to the pooled stages, and ipw.adjust to those and the cox stage, not %s", r.Stage)
		}
		return checkIPWAdjust(r)
	}
	if len(r.Adjust) == 0 {
		return queryErrorf(CodeInvalid, "ipw %s: the adjusted pooled model needs covariates (ipw.adjust); the treatment-only pooled model is computed from the outcome stage", r.Stage)
	}
	if err := checkIPWAdjust(r); err != nil {
		return err
	}
	seen := map[string]bool{}
	for _, v := range r.Adjust {
		seen[v] = true
	}
	for v, o := range r.Origin {
		if !seen[v] || o-o != 0 {
			return queryErrorf(CodeInvalid, "ipw.origin[%q]: an origin is for a covariate of ipw.adjust, and finite", clipName(v))
		}
	}
	if r.Ties != "efron" && r.Ties != "breslow" {
		return queryErrorf(CodeInvalid, "ipw.ties %q: want efron or breslow", clipName(r.Ties))
	}
	if len(r.CoxBeta) < 2 || len(r.CoxBeta) > MaxDesignCols {
		return queryErrorf(CodeInvalid, "ipw.cox_beta: the treatment and the covariates' columns (2 to %d coefficients), got %d", MaxDesignCols, len(r.CoxBeta))
	}
	addressed := r.Stage != IPWPooledSums
	if addressed != (r.Site != "") || len(r.Site) > MaxNameLen {
		return queryErrorf(CodeInvalid, "ipw %s: ipw.site names the one site a pooled_hessian or pooled_meat request is for, and only those", r.Stage)
	}
	w := r.CoxWeights
	switch {
	case !addressed && w != nil:
		return queryErrorf(CodeInvalid, "ipw pooled_sums carries no weights")
	case addressed && w == nil:
		return queryErrorf(CodeInvalid, "ipw %s carries the site's weights (ipw.cox_weights)", r.Stage)
	case r.Stage == IPWPooledHessian && (w.H != nil || w.AH != nil || w.HD != nil || w.AD != nil || w.XBarD != nil):
		return queryErrorf(CodeInvalid, "ipw pooled_hessian takes the weights a and b only")
	case r.Stage == IPWPooledMeat && (w.A != nil || w.B != nil):
		return queryErrorf(CodeInvalid, "ipw pooled_meat takes the weights h, ah, hd, ad and xbar_d only")
	}
	if w != nil {
		for _, xs := range [][]float64{w.A, w.B, w.H, w.AH, w.HD, w.AD, w.XBarD} {
			for _, x := range xs {
				if x-x != 0 {
					return queryErrorf(CodeInvalid, "ipw.cox_weights: a weight is not finite")
				}
			}
		}
	}
	return nil
}

// checkIPWAdjust checks the outcome model's covariates (the cox and pooled stages): each a
// confounder, named once.
func checkIPWAdjust(r *IPWRequest) error {
	conf := map[string]bool{}
	for _, c := range r.Confounders {
		conf[c] = true
	}
	seen := map[string]bool{}
	for i, v := range r.Adjust {
		if !conf[v] || seen[v] {
			return queryErrorf(CodeInvalid, "ipw.adjust[%d] %q: each covariate of the outcome model must be a confounder, named once", i, clipName(v))
		}
		seen[v] = true
	}
	return nil
}

// pooledIPW checks the shape of a site's answer to a pooled stage.
func (v *validator) pooledIPW(q Query, r *IPWReply) {
	p := len(q.IPW.CoxBeta)
	v.length("ipw.cox_columns", len(r.CoxColumns), p)
	if r.BetaLimit != nil {
		v.length("ipw.beta_limit", len(r.BetaLimit), p)
		v.finites("ipw.beta_limit", r.BetaLimit)
	}
	switch q.IPW.Stage {
	case IPWPooledSums:
		v.length("ipw.event_x_sum", len(r.EventXSum), p)
		v.finites("ipw.event_x_sum", r.EventXSum)
		for k, row := range r.Rows {
			v.length("ipw.rows.r1", len(row.R1), p)
			v.finites("ipw.rows", append([]float64{row.Time, row.R0, row.E0, row.DW}, append(row.R1, row.E1...)...))
			if row.D < 0 || (row.D > 0) != (len(row.E1) == p) || (k > 0 && row.Time <= r.Rows[k-1].Time) {
				v.failf("ipw.rows", "row %d: %d events with %d event sums, or times not increasing", k, row.D, len(row.E1))
			}
		}
	case IPWPooledHessian:
		v.symmetricPSD("ipw.second_moment", r.SecondMoment, p)
	case IPWPooledMeat:
		v.symmetricPSD("ipw.meat", r.Meat, p)
		v.length("ipw.score", len(r.Score), p)
		v.finites("ipw.score", r.Score)
	}
}
