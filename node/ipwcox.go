package node

import (
	"github.com/oncofed/oncofed/analysis"
	"github.com/oncofed/oncofed/protocol"
)

// ipwCoxAdjusted fills the cox stage's reply when the weighted Cox model, stratified by site,
// is adjusted for covariates (req.Adjust): R's coxph(Surv ~ trt + Adjust + strata(site),
// weights = w, robust = TRUE). The site is its own stratum, so its part of the model needs no
// number from any other site: the weighted log partial likelihood, gradient and Hessian at
// CoxBeta over its own risk sets, and the robust meat Σ (w r)(w r)' with each patient's score
// residual r from its own risk sets (each patient her own cluster, as R's dfbeta residuals
// summed per patient). The design and its rules are the pooled stages' (ipwAdjustedDesign) on
// the times the outcome stage releases; no per-time sum leaves the site, so no allow_pooled_cox.
func (e *Engine) ipwCoxAdjusted(ls *loadedStudy, prep *ipwPrepared, req *protocol.IPWRequest, out *protocol.IPWReply) error {
	d, err := e.ipwAdjustedDesign(ls, req, prep, false, out)
	if err != nil {
		return err
	}
	ws, err := analysis.NewWeightedCoxStratum(d.time, d.event, d.x, d.q, d.w)
	if err != nil {
		return errorf(protocol.CodeInvalid, "ipw: %s", trimPrefix(err.Error()))
	}
	ties, _ := analysis.ParseTies(req.Ties)
	c, err := ws.Contribution(req.CoxBeta, ties)
	if err != nil {
		return errorf(protocol.CodeInvalid, "ipw: %s", trimPrefix(err.Error()))
	}
	meat, score, err := ws.ScoreMeat(req.CoxBeta, ties)
	if err != nil {
		return errorf(protocol.CodeInvalid, "ipw: %s", trimPrefix(err.Error()))
	}
	if !allFinite(c.Gradient) || !allFinite(c.Hessian) || !allFinite([]float64{c.LogLik}) || !allFinite(meat) || !allFinite(score) {
		return errorf(protocol.CodeInvalid, "ipw: the Cox contribution at this beta overflows (beta too large)")
	}
	out.LogLik, out.Gradient, out.Hessian, out.Meat, out.Score = c.LogLik, c.Gradient, c.Hessian, meat, score
	return nil
}
