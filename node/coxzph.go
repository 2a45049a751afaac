package node

import (
	"math"
	"sort"

	"github.com/oncofed/oncofed/analysis"
	"github.com/oncofed/oncofed/protocol"
)

// The zph form (docs/cox-zph.md): R's cox.zph for a model stratified by site. At the fitted β̂
// the site returns its part of the score test, summed over its own event times
// (analysis.ZPHSums), never a per-time or per-patient residual. What it may take as the
// transform h of time is the privacy question, because Σ_t h_t r_t for an h the analyst
// chooses freely is any linear combination of the per-time residual sums r_t — a step of h at
// one event time, differenced with a step at the next, is the residual x_i − x̄(t_i) of the
// patient who died there:
//
//   - identity (h = t) the site computes from its own released times: a fixed functional of the
//     same kind as the stratified form's gradient and Hessian; always answered.
//   - km and rank need the pooled data's Kaplan–Meier estimate or ranks, which the site cannot
//     check, so the values arrive from the client. They are answered only where the policy
//     allows the pooled Cox form, and then on the pooled form's strict released times (each
//     holding 0 or min_cell events and 0 or min_cell censorings): whatever h, the reply is a
//     linear combination of the per-time sums that the pooled_sums and pooled_hessian forms
//     release at the same β on the same times, so it adds nothing to them. Elsewhere they are
//     refused, from the policy alone.
//
// A dp analyst gets no zph release (dpCox): the sums at β̂ have no differentially private form.

// zphSupplied reports whether a zph request carries the client's transform values.
func zphSupplied(req *protocol.CoxRequest) bool {
	return req.Form == protocol.CoxZPH && req.ZPH != nil && len(req.ZPH.Values) > 0
}

// zphStrict reports whether a zph request is answered on the pooled form's strict released
// times (a transform from the client).
func (e *Engine) zphStrict(req *protocol.CoxRequest) bool {
	return zphSupplied(req) && !e.withoutModelRules
}

// checkZPH refuses, before any row is read, what the zph form never answers here: a transform
// from the client where the pooled form is not allowed, delayed entry.
func (e *Engine) checkZPH(c *cohort, q *protocol.Query) error {
	req := q.Cox
	if c.study.eps[q.Endpoint].Entry != nil {
		return errorf(protocol.CodeInvalid, "endpoint %q records delayed entry at this site: the proportional-hazards test does not take entry times", q.Endpoint)
	}
	if zphSupplied(req) && !e.policy.AllowPooledCox && !e.withoutModelRules {
		return errorf(protocol.CodeRefusedByPolicy, "this site's policy does not allow the pooled Cox form (allow_pooled_cox is false), so it does not take a transform of time from the client (%s): a chosen transform would single out patients' residuals. Ask the identity transform, which the site computes itself", req.ZPH.Transform)
	}
	return nil
}

// coxZPH returns the site's part of the test at beta, summed over its strata.
func (e *Engine) coxZPH(prep *coxPrepared, beta []float64, ties analysis.Ties, req *protocol.CoxRequest) (*protocol.CoxZPHReply, error) {
	z := req.ZPH
	sum := analysis.NewZPHSums(prep.p)
	for _, st := range prep.strata {
		times := st.EventTimes()
		h := times // identity: the released times themselves
		if zphSupplied(req) {
			h = make([]float64, len(times))
			for k, t := range times {
				i := sort.SearchFloat64s(z.Times, t)
				if i == len(z.Times) || z.Times[i] != t {
					return nil, errorf(protocol.CodeInvalid, "cox.zph: the transform has no value at one of this site's released event times (send h at every pooled event time of the model's released times)")
				}
				h[k] = z.Values[i]
			}
		}
		part, err := st.ZPHSums(beta, ties, h)
		if err != nil {
			return nil, errorf(protocol.CodeInvalid, "cox zph: %s", trimPrefix(err.Error()))
		}
		sum.Add(part)
	}
	out := &protocol.CoxZPHReply{Events: sum.Events, HSum: sum.HSum, U: sum.U, UH: sum.UH, I: sum.I, IH: sum.IH, IHH: sum.IHH}
	for _, v := range [][]float64{out.U, out.UH, out.I, out.IH, out.IHH, {out.HSum}} {
		for _, x := range v {
			if math.IsNaN(x) || math.IsInf(x, 0) {
				return nil, errorf(protocol.CodeInvalid, "cox zph: the sums at this beta overflow (beta too large)")
			}
		}
	}
	return out, nil
}

// zphDigest is the SHA-256 of a zph request's transform values, as the audit log records it
// (the digest of the phase-2 weights, over the times and the values).
func zphDigest(z *protocol.CoxZPHRequest) string {
	return weightsDigest(&protocol.CoxWeights{A: z.Times, B: z.Values})
}
