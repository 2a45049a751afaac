package app

import (
	"context"
	"math"
	"slices"
	"strings"

	"github.com/oncofed/oncofed/analysis"
	"github.com/oncofed/oncofed/protocol"
)

// LOSOSite is one site's leave-one-site-out validation: the model fitted on every other site
// and the figures the site released about it (protocol.CoxValidation), or why it sat out.
type LOSOSite struct {
	Site                                 string
	Coef                                 []float64 // the model fitted without this site
	N, Events                            int
	HarrellC, HarrellSE, UnoC, UnoSE     float64
	CalibrationSlope, CalibrationSlopeSE float64 // NaN when the site could not fit it
	// SatOut says why the site has no figures (its refusal, or the fit without it failed);
	// empty when it answered.
	SatOut string
}

// LOSOResult is the internal–external validation of a Cox model (docs/validation.md): per
// site, the model fitted on the others evaluated on it, and the random-effects pooling of the
// sites' C (logit scale) and calibration slopes with 95% prediction intervals.
type LOSOResult struct {
	Terms       []string
	Sites       []LOSOSite // sorted by site
	PooledC     *analysis.PooledConcordance
	PooledSlope *analysis.RandomEffects
}

// ValidateLOSO runs leave-one-site-out validation of the Cox model of req (site-stratified:
// req.Cox.Form stratified without within-site strata). The sites answering a first round at
// β = 0 are the model's sites; for each, the model is fitted on all the others (one query to
// each of them per Newton–Raphson round, Network.QueryEach), then the held-out site alone is
// asked to evaluate it (cox.form validate) and returns aggregates only. A site that refuses,
// or whose complement's fit fails, sits out, named with the reason; so does a site that refuses
// the first round (it takes no part in any fit). The cost is, per site,
// the rounds of one fit on the others plus one query to it.
func (s *Service) ValidateLOSO(ctx context.Context, req Request) (*LOSOResult, error) {
	if req.Cox == nil || req.Cox.Form != protocol.CoxStratified || req.Cox.Strata != "" {
		return nil, Errorf(EInvalid, "leave-one-site-out validation fits the site-stratified model for now (--strata site); the pooled form needs the baseline hazard's release (issue 20)")
	}
	ties, err := coxTies(req.Cox.Ties)
	if err != nil {
		return nil, err
	}
	p, err := s.coxColumns(ctx, req)
	if err != nil {
		return nil, err
	}
	base := s.baseQuery(req)
	coxQuery := func(form protocol.CoxForm, beta []float64) protocol.Query {
		q := base
		q.ID = s.newID()
		q.Cox = &protocol.CoxRequest{Form: form, Ties: ties.String(), Covariates: req.Cox.Covariates,
			Levels: req.Cox.Levels, Beta: slices.Clone(beta), Indicators: req.Cox.Indicators, Interactions: req.Cox.Interactions}
		return q
	}
	g, err := s.query(ctx, coxQuery(protocol.CoxStratified, make([]float64, p)))
	if err != nil {
		return nil, err
	}
	if err := noAnswer(g); err != nil {
		return nil, err
	}
	replies := sortReplies(g.Replies)
	if len(replies) < 2 {
		return nil, Errorf(ERefusedByPolicy, "leave-one-site-out validation needs two sites or more; %d answered", len(replies))
	}
	out := &LOSOResult{Terms: coxTerms(replies, p)}
	for _, held := range replies {
		others := map[string]bool{}
		for _, r := range replies {
			if r.Site != held.Site {
				others[r.Site] = true
			}
		}
		out.Sites = append(out.Sites, s.validateHeldOut(ctx, held.Site, others, p, ties, out.Terms, coxQuery))
	}
	for _, pr := range append(slices.Clone(g.Refused), g.Invalid...) {
		out.Sites = append(out.Sites, LOSOSite{Site: pr.Site, SatOut: pr.Message,
			CalibrationSlope: math.NaN(), CalibrationSlopeSE: math.NaN()})
	}
	for _, site := range g.Missing {
		out.Sites = append(out.Sites, LOSOSite{Site: site, SatOut: "did not answer",
			CalibrationSlope: math.NaN(), CalibrationSlopeSE: math.NaN()})
	}
	slices.SortFunc(out.Sites, func(a, b LOSOSite) int { return strings.Compare(a.Site, b.Site) })
	out.pool()
	return out, nil
}

// validateHeldOut fits the model on the sites in others and asks site held to evaluate it.
func (s *Service) validateHeldOut(ctx context.Context, held string, others map[string]bool, p int, ties analysis.Ties, terms []string, coxQuery func(protocol.CoxForm, []float64) protocol.Query) LOSOSite {
	site := LOSOSite{Site: held, CalibrationSlope: math.NaN(), CalibrationSlopeSE: math.NaN()}
	round := 0
	eval := func(beta []float64) (analysis.CoxContribution, error) {
		round++
		qs := map[string]protocol.Query{}
		for o := range others {
			qs[o] = coxQuery(protocol.CoxStratified, beta)
		}
		g, err := s.queryEach(ctx, qs)
		if err != nil {
			return analysis.CoxContribution{}, err
		}
		replies, err := coxMembersAnswered(g, others, round)
		if err != nil {
			return analysis.CoxContribution{}, err
		}
		c, _, _, err := coxRoundStep(replies, protocol.CoxStratified, ties, beta)
		return c, err
	}
	fit, err := analysis.FitCox(eval, p, analysis.CoxOptions{Terms: terms})
	if err != nil || fit == nil || len(fit.NotEstimable) > 0 {
		site.SatOut = "the model could not be fitted without this site"
		if err != nil {
			site.SatOut += ": " + err.Error()
		}
		return site
	}
	site.Coef = fit.Coef
	g, err := s.queryEach(ctx, map[string]protocol.Query{held: coxQuery(protocol.CoxValidate, fit.Coef)})
	if err != nil {
		site.SatOut = err.Error()
		return site
	}
	for _, r := range g.Replies {
		if r.Site != held || r.Cox == nil || r.Cox.Validation == nil {
			continue
		}
		v := r.Cox.Validation
		site.N, site.Events = r.Cox.N, r.Cox.Events
		site.HarrellC, site.HarrellSE, site.UnoC, site.UnoSE = v.HarrellC, v.HarrellSE, v.UnoC, v.UnoSE
		if v.CalibrationSlope != nil && v.CalibrationSlopeSE != nil {
			site.CalibrationSlope, site.CalibrationSlopeSE = *v.CalibrationSlope, *v.CalibrationSlopeSE
		}
		return site
	}
	site.SatOut = "did not answer"
	for _, pr := range append(slices.Clone(g.Refused), g.Invalid...) {
		if pr.Site == held {
			site.SatOut = pr.Message
		}
	}
	return site
}

// pool fills the random-effects pooled C and calibration slope over the sites that answered.
func (r *LOSOResult) pool() {
	var cs, slopes []analysis.SiteEstimate
	for _, s := range r.Sites {
		if s.SatOut != "" {
			continue
		}
		cs = append(cs, analysis.SiteEstimate{Site: s.Site, Estimate: s.HarrellC, SE: s.HarrellSE})
		slopes = append(slopes, analysis.SiteEstimate{Site: s.Site, Estimate: s.CalibrationSlope, SE: s.CalibrationSlopeSE})
	}
	if pc, err := analysis.PoolConcordance(cs, 0.95); err == nil {
		r.PooledC = &pc
	}
	if ps, err := analysis.MetaAnalyzeREML(slopes, 0.95); err == nil {
		r.PooledSlope = &ps
	}
}
