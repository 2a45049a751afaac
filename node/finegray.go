package node

import (
	"fmt"
	"slices"

	"github.com/oncofed/oncofed/analysis"
	"github.com/oncofed/oncofed/protocol"
)

// fineGray answers one round of a pooled Fine–Gray fit of one cause's subdistribution hazard
// (docs/competing-risks.md) through the pooled Cox form's release path: the same opt-in
// (allow_pooled_cox), β cap, design-column rule (counting the modelled cause's events),
// weight-spread rule, min_cohort and events per column, prepared design (coxPrepare) and audit
// digest of the weights. Its released times are the pooled form's strict rows with one rule
// more: each holds zero or min_cell events of the cause, zero or min_cell competing events and
// zero or min_cell censorings, so no sum a round returns, at any weights, is over fewer than
// min_cell patients of one kind. Forms:
//
//   - pooled_sums: per released time N, D, NC, R0, R1, C0, C1 (analysis.FineGraySite.TimeSums)
//     and Σx over the cause's events;
//   - pooled_hessian, addressed to this site: its p×p Σ w x x' [A + c B] under the weights sent;
//   - meat, addressed to this site at β̂: its part of the sandwich's middle under the variance
//     weights sent (analysis.FineGraySite.WeightedMeat).
//
// Everything a refusal depends on before the rows are read is public: the endpoint's declared
// causes and entry column, the policy, the request.
func (e *Engine) fineGray(c *cohort, q *protocol.Query, reply *protocol.Reply) (answer, error) {
	req := q.Cox
	ep := c.study.eps[q.Endpoint]
	if c.group != nil {
		return answer{}, errorf(protocol.CodeInvalid, "finegray queries take no group_by")
	}
	if ep.Causes == nil {
		return answer{}, errorf(protocol.CodeInvalid, "endpoint %q declares no competing causes: a Fine–Gray model needs them (fit a Cox model instead)", q.Endpoint)
	}
	if !slices.Contains(ep.Causes, req.Cause) {
		return answer{}, errorf(protocol.CodeNotFound, "endpoint %q has no cause %q (its causes: %q)", q.Endpoint, clip(req.Cause), ep.Causes)
	}
	if ep.Entry != nil {
		return answer{}, errorf(protocol.CodeInvalid, "endpoint %q records delayed entry at this site: the Fine–Gray model (as cmprsk::crr) takes no entry times", q.Endpoint)
	}
	if req.Form != protocol.CoxPooledSums && req.Site != e.site {
		return answer{}, errorf(protocol.CodeInvalid, "a %s request addressed to site %q reached site %q", req.Form, clip(req.Site), e.site)
	}
	if !e.policy.AllowPooledCox {
		return answer{}, errorf(protocol.CodeRefusedByPolicy, "this site's policy does not allow pooled models (allow_pooled_cox is false: a Fine–Gray round's sums per time, like the pooled Cox form's, disclose single patients' covariate values)")
	}
	limits, err := e.coxBetaLimits(c.study, req)
	if e.withoutModelRules {
		limits, err = nil, nil
	}
	if err != nil {
		return answer{}, err
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
	if len(beta) != p || (limits != nil && len(limits) != p) {
		return answer{}, errorf(protocol.CodeInvalid, "cox.beta has %d coefficients for %d design columns %q", len(beta), p, prep.names)
	}
	if limits != nil && !e.withoutModelRules && !e.withoutWeightSpread {
		if err := checkWeightSpread(prep.strata, beta, e.policy.MinCell); err != nil {
			return answer{}, err
		}
	}
	reply.Policy.MergedRows = prep.merged
	reply.Policy.TruncatedAfter = prep.truncated
	cr := &protocol.CoxReply{Columns: prep.names, N: prep.n, Events: prep.events, BetaLimit: limits}
	excluded, suppressed := releaseCount(prep.excluded, e.policy.MinCell)
	cr.Excluded, cr.ExcludedSuppressed = excluded.N, excluded.Suppressed
	reply.Policy.SuppressedCells += suppressed
	fg := prep.fg
	switch req.Form {
	case protocol.CoxPooledSums:
		rows, err := fg.TimeSums(beta)
		if err != nil {
			return answer{}, errorf(protocol.CodeInvalid, "finegray: %s", trimPrefix(err.Error()))
		}
		cr.EventXSum = make([]float64, p)
		for _, r := range rows {
			row := protocol.FineGrayRow{Time: r.Time, N: r.N, D: r.D, NC: r.NC, R0: r.R0, R1: r.R1}
			if r.N-r.D-r.NC > 0 {
				row.C0, row.C1 = r.C0, r.C1
			}
			cr.FineGrayRows = append(cr.FineGrayRows, row)
			for j, v := range r.EX {
				cr.EventXSum[j] += v
			}
		}
	case protocol.CoxPooledHessian:
		w := req.Weights
		if m, err := fg.WeightedSecondMoment(beta, w.A, w.B); err != nil {
			return answer{}, errorf(protocol.CodeInvalid, "finegray weights: %s (this site's pooled_sums reply at this cohort gives the lengths)", trimPrefix(err.Error()))
		} else {
			cr.SecondMoment = m
		}
	case protocol.CoxMeat:
		w := req.Weights
		m, err := fg.WeightedMeat(beta, analysis.FineGrayMeatWeights{A: w.A, B: w.B, A1: w.A1, B1: w.B1, XBar: w.XBar, Psi: w.Psi, QPi: w.QPi})
		if err != nil {
			return answer{}, errorf(protocol.CodeInvalid, "finegray weights: %s (this site's pooled_sums reply at this cohort gives the lengths)", trimPrefix(err.Error()))
		}
		cr.Meat = m
	}
	if !coxFinite(cr) || !allFinite(cr.Meat) || !fineGrayRowsFinite(cr.FineGrayRows) {
		return answer{}, errorf(protocol.CodeInvalid, "finegray: the contribution at this beta overflows (beta too large)")
	}
	reply.Cox = cr
	released := fmt.Sprintf("finegray %s cause=%s p=%d n=%d events=%d", req.Form, req.Cause, p, prep.n, prep.events)
	if req.Weights != nil {
		released += " weights_sha256=" + weightsDigest(req.Weights)
	}
	ans := answer{released: released}
	ans.addComplete(prep.complete, q.Cohort, coxModelVars(req))
	return ans, nil
}

func allFinite(xs []float64) bool {
	for _, v := range xs {
		if v-v != 0 {
			return false
		}
	}
	return true
}

func fineGrayRowsFinite(rows []protocol.FineGrayRow) bool {
	for _, r := range rows {
		if !allFinite([]float64{r.R0, r.C0}) || !allFinite(r.R1) || !allFinite(r.C1) {
			return false
		}
	}
	return true
}
