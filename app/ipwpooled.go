package app

import (
	"context"
	"slices"

	"github.com/oncofed/oncofed/analysis"
	"github.com/oncofed/oncofed/protocol"
)

// The covariate-adjusted pooled weighted Cox model of a treatment comparison (docs/ipw.md, "The
// adjusted pooled model"): coxph(Surv ~ trt + Adjust, weights = w, robust = TRUE) over every
// site's patients, in the rounds of the two-phase pooled Cox fit with each site's own IPW
// weights, and a third phase for the robust meat. Rounds: per β the fit evaluates, pooled_sums
// to every site; where the fit uses the Hessian, pooled_hessian to each site alone with its
// weights; after the fit, pooled_sums at β̂ and pooled_meat to each site alone at β̂ and at 0
// (the robust score test). A stored addressed round keeps the query without its site and
// weights; reopening replays the fit from the replies (renderIPWPooled).

// ipwAdjustColumns names the outcome model's design columns of the adjusting covariates, as
// the sites name them (the confounders' levels filled from the catalog).
func ipwAdjustColumns(s *IPWSpec) []string { return ipwDesignColumns(s.Adjust, s.Levels) }

// ipwPooledRequest is the request of a pooled stage at beta.
func ipwPooledRequest(s *IPWSpec, stage protocol.IPWStage, fit []float64, share float64, origin map[string]float64, beta []float64) *protocol.IPWRequest {
	r := ipwRequest(s, stage, fit)
	r.TreatedShare = share
	r.Origin = origin
	r.Adjust = slices.Clone(s.Adjust)
	r.CoxBeta = slices.Clone(beta)
	return r
}

// ipwPooledStep pools a pooled_sums round at beta into ℓ, U and every site's phase-2 weights.
func ipwPooledStep(replies []protocol.Reply, beta []float64, ties analysis.Ties) (*analysis.PooledCoxStep, analysis.CoxContribution, error) {
	rows, dw, ex, err := ipwPooledRows(replies, len(beta))
	if err != nil {
		return nil, analysis.CoxContribution{}, err
	}
	step, err := analysis.WeightedPooledCoxSums(rows, dw, ex, len(beta), beta, ties)
	if err != nil {
		return nil, analysis.CoxContribution{}, WrapError(EInvalid, err, "the sites' weighted time sums do not combine")
	}
	c := step.Contribution()
	for _, r := range replies {
		c.N += r.IPW.N
		if r.IPW.BetaLimit != nil {
			if len(r.IPW.BetaLimit) != len(beta) {
				return nil, c, Errorf(EInvalid, "site %s returned %d β limits for %d coefficients", r.Site, len(r.IPW.BetaLimit), len(beta))
			}
			c.CoefBound = analysis.MinBound(c.CoefBound, r.IPW.BetaLimit) // the fit stays within every site's cap
		}
	}
	return step, c, nil
}

// ipwPooledRows converts the replies' rows (in the replies' order), checking that every site
// built the same outcome design.
func ipwPooledRows(replies []protocol.Reply, q int) (rows [][]analysis.RiskSetRow, dw, ex [][]float64, err error) {
	for _, rep := range replies {
		r := rep.IPW
		if r == nil || len(r.CoxColumns) != q || len(r.EventXSum) != q {
			return nil, nil, nil, Errorf(EInvalid, "site %s: a pooled reply without its sums for %d columns", rep.Site, q)
		}
		if !equalStrings(r.CoxColumns, replies[0].IPW.CoxColumns) {
			return nil, nil, nil, Errorf(EInvalid, "site %s built outcome columns %v, site %s %v", rep.Site, r.CoxColumns, replies[0].Site, replies[0].IPW.CoxColumns)
		}
		var rs []analysis.RiskSetRow
		var ws []float64
		for _, row := range r.Rows {
			rs = append(rs, analysis.RiskSetRow{Time: row.Time, D: row.D, R0: row.R0, R1: row.R1, E0: row.E0, E1: row.E1})
			ws = append(ws, row.DW)
		}
		rows, dw, ex = append(rows, rs), append(dw, ws), append(ex, r.EventXSum)
	}
	return rows, dw, ex, nil
}

// ipwPooledComplete completes c (from step and the pooled_sums replies first) with the sites'
// pooled_hessian replies second.
func ipwPooledComplete(step *analysis.PooledCoxStep, c analysis.CoxContribution, first, second []protocol.Reply) (analysis.CoxContribution, error) {
	bySite := map[string]*protocol.IPWReply{}
	for _, rep := range second {
		bySite[rep.Site] = rep.IPW
	}
	moments := make([][]float64, len(first))
	for k, rep := range first {
		r := bySite[rep.Site]
		if r == nil {
			return c, Errorf(EInternal, "site %s: no second moment in the pooled round", rep.Site)
		}
		moments[k] = r.SecondMoment
	}
	full, err := step.Complete(moments)
	if err != nil {
		return full, WrapError(EInvalid, err, "the sites' second moments do not combine")
	}
	full.N, full.Events, full.CoefBound = c.N, c.Events, c.CoefBound
	return full, nil
}

// ipwPooledFit fits the model, asking sums(beta) for each evaluation and hessian(beta) for each
// Hessian the fit uses (a network round, or a stored one on reopening).
func ipwPooledFit(s *IPWSpec, ties analysis.Ties, sums func(beta []float64) ([]protocol.Reply, error),
	hessian func(beta []float64, step *analysis.PooledCoxStep, first []protocol.Reply) ([]protocol.Reply, error)) (*analysis.CoxFit, error) {
	terms := ipwCoxTerms(s)
	fit, err := analysis.FitCoxSteps(func(beta []float64) (analysis.CoxContribution, func() (analysis.CoxContribution, error), error) {
		first, err := sums(beta)
		if err != nil {
			return analysis.CoxContribution{}, nil, err
		}
		step, c, err := ipwPooledStep(first, beta, ties)
		if err != nil {
			return c, nil, err
		}
		b := slices.Clone(beta)
		return c, func() (analysis.CoxContribution, error) {
			second, err := hessian(b, step, first)
			if err != nil {
				return c, err
			}
			return ipwPooledComplete(step, c, first, second)
		}, nil
	}, len(terms), analysis.CoxOptions{Terms: terms})
	if err != nil {
		var ae *Error
		if asError(err, &ae) {
			return nil, ae // a site's refusal or a lost network, said as such
		}
		return nil, WrapError(EInvalid, err, "the adjusted pooled weighted Cox model could not be fitted")
	}
	return fit, nil
}

// ipwMeatSum adds the sites' meats and weighted scores of a pooled_meat round.
func ipwMeatSum(replies []protocol.Reply, q int) (meat, score []float64, err error) {
	meat, score = make([]float64, q*q), make([]float64, q)
	for _, rep := range replies {
		r := rep.IPW
		if r == nil || len(r.Meat) != q*q || len(r.Score) != q {
			return nil, nil, Errorf(EInvalid, "site %s: a meat reply without its %d×%d meat", rep.Site, q, q)
		}
		for k, v := range r.Meat {
			meat[k] += v
		}
		for k, v := range r.Score {
			score[k] += v
		}
	}
	return meat, score, nil
}

// runIPWPooledCox runs the rounds of the adjusted pooled model: the fit, then phase 1 at β̂ and
// the meat rounds at β̂ and at 0. Every round carries origin, the numeric covariates' public
// centring constants (Service.numericOrigin). ask broadcasts a stage; askEach sends each member site its own
// request (built by the function from the site's index among the replies of a pooled_sums round).
func runIPWPooledCox(req Request, coef []float64, share float64, origin map[string]float64, ask func(*protocol.IPWRequest) ([]protocol.Reply, error),
	askEach func(template *protocol.IPWRequest, first []protocol.Reply, weights func(k int) *protocol.IPWCoxWeights) ([]protocol.Reply, error)) error {
	spec := req.IPW
	ties, err := coxTies(spec.Ties)
	if err != nil {
		return err
	}
	var zero []protocol.Reply // the sums at β = 0 (the fit's first round)
	sums := func(beta []float64) ([]protocol.Reply, error) {
		replies, err := ask(ipwPooledRequest(spec, protocol.IPWPooledSums, coef, share, origin, beta))
		if err == nil && zero == nil && !slices.ContainsFunc(beta, func(b float64) bool { return b != 0 }) {
			zero = replies
		}
		return replies, err
	}
	fit, err := ipwPooledFit(spec, ties, sums, func(beta []float64, step *analysis.PooledCoxStep, first []protocol.Reply) ([]protocol.Reply, error) {
		return askEach(ipwPooledRequest(spec, protocol.IPWPooledHessian, coef, share, origin, beta), first, func(k int) *protocol.IPWCoxWeights {
			a, b := step.Weights(k)
			return &protocol.IPWCoxWeights{A: a, B: b}
		})
	})
	if err != nil {
		return err
	}
	q := len(fit.Coef)
	if zero == nil {
		if zero, err = sums(make([]float64, q)); err != nil {
			return err
		}
	}
	final, err := sums(fit.Coef)
	if err != nil {
		return err
	}
	for _, at := range []struct {
		beta    []float64
		replies []protocol.Reply
	}{{fit.Coef, final}, {make([]float64, q), zero}} {
		rows, dw, _, err := ipwPooledRows(at.replies, q)
		if err != nil {
			return err
		}
		ws, err := analysis.WeightedPooledMeatWeights(rows, dw, q, at.beta, ties)
		if err != nil {
			return WrapError(EInvalid, err, "the sites' weighted time sums give no meat weights")
		}
		if _, err := askEach(ipwPooledRequest(spec, protocol.IPWPooledMeat, coef, share, origin, at.beta), at.replies, func(k int) *protocol.IPWCoxWeights {
			w := ws[k]
			return &protocol.IPWCoxWeights{H: w.H, AH: w.A, HD: w.HD, AD: w.AD, XBarD: w.XBarD}
		}); err != nil {
			return err
		}
	}
	return nil
}

// renderIPWPooled replays the adjusted pooled model from its stored rounds (in the order they
// were asked): the fit from the pooled_sums and pooled_hessian rounds, the sandwich from the two
// pooled_meat rounds (at β̂, then at 0).
func renderIPWPooled(spec *IPWSpec, sums, hess, meats []Round) (*analysis.CoxFit, *analysis.RobustCox, error) {
	ties, err := coxTies(spec.Ties)
	if err != nil {
		return nil, nil, err
	}
	k, h := 0, 0
	fit, err := ipwPooledFit(spec, ties, func(beta []float64) ([]protocol.Reply, error) {
		if k >= len(sums) || !analysis.EqualBits(sums[k].Query.IPW.CoxBeta, beta) {
			return nil, Errorf(EInternal, "the pooled Cox refit diverges from the stored rounds at round %d", k)
		}
		k++
		return sums[k-1].Replies, nil
	}, func(beta []float64, _ *analysis.PooledCoxStep, _ []protocol.Reply) ([]protocol.Reply, error) {
		if h >= len(hess) || !analysis.EqualBits(hess[h].Query.IPW.CoxBeta, beta) {
			return nil, Errorf(EInternal, "the pooled Cox refit diverges from the stored Hessian rounds at round %d", h)
		}
		h++
		return hess[h-1].Replies, nil
	})
	if err != nil {
		return nil, nil, err
	}
	q := len(fit.Coef)
	if len(meats) != 2 || !analysis.EqualBits(meats[0].Query.IPW.CoxBeta, fit.Coef) || !analysis.EqualBits(meats[1].Query.IPW.CoxBeta, make([]float64, q)) {
		return nil, nil, Errorf(EInternal, "the stored meat rounds of the pooled Cox model are not at β̂ and 0")
	}
	meat, _, err := ipwMeatSum(meats[0].Replies, q)
	if err != nil {
		return nil, nil, err
	}
	meat0, score0, err := ipwMeatSum(meats[1].Replies, q)
	if err != nil {
		return nil, nil, err
	}
	rob, err := analysis.Sandwich(fit, meat, meat0, score0)
	if err != nil {
		return nil, nil, WrapError(EInvalid, err, "the robust variance could not be computed")
	}
	return fit, rob, nil
}

// askEachIPW sends each member site of first its own request of a pooled stage, on its own
// subject, and stores the round as the template without site and weights.
func (s *Service) askEachIPW(ctx context.Context, base protocol.Query, template *protocol.IPWRequest, first []protocol.Reply,
	weights func(k int) *protocol.IPWCoxWeights, members map[string]bool, rounds *[]Round) ([]protocol.Reply, error) {
	qs := make(map[string]protocol.Query, len(first))
	for k, rep := range first {
		q := base
		q.ID = s.newID()
		r := *template
		r.Site, r.CoxWeights = rep.Site, weights(k)
		q.IPW = &r
		qs[rep.Site] = q
	}
	g, err := s.queryEach(ctx, qs)
	if err != nil {
		return nil, WrapError(EUnavailable, err, "the network was lost in round %d of the weighted comparison; it was aborted", len(*rounds)+1)
	}
	replies, err := coxMembersAnswered(g, members, len(*rounds)+1)
	if err != nil {
		return nil, err
	}
	stored := base
	stored.IPW = template
	*rounds = append(*rounds, newRound(stored, replies, g))
	return replies, nil
}

// pooledRefusedByCatalog names, from the cached catalog (public information), the sites of the
// study whose published policy does not allow pooled models: one of them would refuse the
// adjusted model's first round and abort it after the propensity and outcome rounds were
// spent. nil when every site allows them or no catalog is cached (the sites then decide).
func (s *Service) pooledRefusedByCatalog(ctx context.Context, study string) []string {
	cat, err := s.cache.Catalog(ctx, s.network.ID)
	if err != nil || cat == nil {
		return nil
	}
	st := cat.Study(study)
	if st == nil {
		return nil
	}
	allowed := map[string]bool{}
	for _, sc := range cat.Sites {
		allowed[sc.Site] = sc.Policy.AllowPooledCox
	}
	var refuse []string
	for _, site := range st.Sites {
		if !allowed[site] {
			refuse = append(refuse, site)
		}
	}
	return refuse
}
