package app

import (
	"context"
	"math"
	"slices"
	"strings"

	"github.com/oncofed/oncofed/analysis"
	"github.com/oncofed/oncofed/protocol"
)

// ValidateLOSO is CoxSpec.Validate's leave-one-site-out validation.
const ValidateLOSO = "loso"

// LOSOSite is one site's leave-one-site-out validation: the model fitted on every other site
// and the figures the site released about it (protocol.CoxValidation), or why it sat out.
type LOSOSite struct {
	Site                                 string
	Coef                                 []float64 // the model fitted without this site
	N, Events                            int
	HarrellC, HarrellSE, UnoC, UnoSE     float64
	CalibrationSlope, CalibrationSlopeSE float64 // NaN when the site could not fit it
	// Calibration is calibration in the large and the Brier score at the request's landmarks
	// (pooled form only: it needs the baseline hazard of the model fitted on the others);
	// Brier is NaN from a site that does not release it.
	Calibration []analysis.CalibrationPoint
	// SatOut says why the site has no figures (its refusal, or the fit without it failed);
	// empty when it answered.
	SatOut string
	// Noise is, for a validation computed from differentially private tables (losodp.go),
	// the spread the release's noise gives the site's figures; nil otherwise.
	Noise *LOSONoise
}

// LOSOResult is the internal–external validation of a Cox model (docs/validation.md): per
// site, the model fitted on the others evaluated on it, and the random-effects pooling of the
// sites' C (logit scale) and calibration slopes with 95% prediction intervals.
type LOSOResult struct {
	Terms       []string
	Sites       []LOSOSite // sorted by site
	PooledC     *analysis.PooledConcordance
	PooledSlope *analysis.RandomEffects
	// DP, when set, says the validation was computed from the differentially private tables
	// the model was fitted on (validateDPTables): no query, no ρ of its own.
	DP *LOSODP
}

// ValidateLOSO runs leave-one-site-out validation of the Cox model of req: site-stratified
// (req.Cox.Form stratified without within-site strata) or pooled. The sites answering a first
// round at β = 0 are the model's sites; for each, the model is fitted on all the others (one
// query to each of them per Newton–Raphson round, Network.QueryEach; the pooled form's two
// phases), then the held-out site alone is asked to evaluate it (cox.form validate) and returns
// aggregates only. For the pooled form, whose fit on the others has a baseline hazard (built
// from the phase-1 sums at β̂, as for prediction), the held-out site also gets Λ₀ at
// req.Landmarks and releases calibration in the large and the Brier score there. A site that
// refuses, or whose complement's fit fails, sits out, named with the reason; so does a site
// that refuses the first round (it takes no part in any fit). The cost is, per site, the rounds
// of one fit on the others plus one query to it.
func (s *Service) ValidateLOSO(ctx context.Context, req Request) (*LOSOResult, error) {
	pl, err := s.losoPlan(ctx, req, "leave-one-site-out validation")
	if err != nil {
		return nil, err
	}
	out := &LOSOResult{Terms: pl.terms}
	for _, held := range pl.sites {
		others := pl.others(held)
		opts := analysis.CoxOptions{Terms: pl.terms}
		if pen := req.Cox.Penalty; pen != nil {
			if opts.Ridge, err = pen.complementRidge(pen.Theta, others); err != nil {
				out.Sites = append(out.Sites, LOSOSite{Site: held, SatOut: err.Error(), CalibrationSlope: math.NaN(), CalibrationSlopeSE: math.NaN()})
				continue
			}
		}
		out.Sites = append(out.Sites, s.validateHeldOut(ctx, held, others, pl.p, pl.ties, opts, req.Landmarks, pl.coxQuery, pl.fit))
	}
	for _, pr := range pl.satOut {
		out.Sites = append(out.Sites, LOSOSite{Site: pr.Site, SatOut: pr.Message,
			CalibrationSlope: math.NaN(), CalibrationSlopeSE: math.NaN()})
	}
	slices.SortFunc(out.Sites, func(a, b LOSOSite) int { return strings.Compare(a.Site, b.Site) })
	out.pool()
	return out, nil
}

// losoRun is what every leave-one-site-out loop shares (validation, the choice of a ridge
// penalty): the model's sites, those that sat out its first round, and how to fit on the
// complement of a site.
type losoRun struct {
	p        int
	ties     analysis.Ties
	terms    []string
	sites    []string      // the sites that answered the first round, sorted
	satOut   []SiteProblem // the sites that refused it or did not answer, with the reason
	coxQuery func(protocol.CoxForm, []float64) protocol.Query
	fit      complementFit
}

// others returns the model's sites but held.
func (pl *losoRun) others(held string) map[string]bool {
	m := map[string]bool{}
	for _, site := range pl.sites {
		if site != held {
			m[site] = true
		}
	}
	return m
}

// losoPlan asks the first round at β = 0 of the Cox model of req (stratified by site or
// pooled, no strata within sites): the sites answering it are the model's sites, and at least
// two must. A pooled model's rounds carry the fit's origin (cox.origin, as the fit on all
// sites does). what names the loop in errors.
func (s *Service) losoPlan(ctx context.Context, req Request, what string) (*losoRun, error) {
	if req.Cox == nil || req.Cox.Strata != "" {
		return nil, Errorf(EInvalid, "%s fits the model stratified by site or the pooled one, without strata within sites", what)
	}
	form := coxForm(req.Cox.Form)
	if form != protocol.CoxStratified && form != protocol.CoxPooled {
		return nil, Errorf(EInvalid, "%s: unknown Cox form %q", what, form)
	}
	ties, err := coxTies(req.Cox.Ties)
	if err != nil {
		return nil, err
	}
	p, err := s.coxColumns(ctx, req)
	if err != nil {
		return nil, err
	}
	var origin map[string]float64
	if form == protocol.CoxPooled {
		origin = s.coxOrigin(ctx, req)
	}
	base := s.baseQuery(req)
	pl := &losoRun{p: p, ties: ties, fit: s.stratifiedOn}
	if form == protocol.CoxPooled {
		pl.fit = s.pooledOn
	}
	pl.coxQuery = func(f protocol.CoxForm, beta []float64) protocol.Query {
		q := base
		q.ID = s.newID()
		q.Cox = &protocol.CoxRequest{Form: f, Ties: ties.String(), Covariates: req.Cox.Covariates,
			Levels: req.Cox.Levels, Beta: slices.Clone(beta), Indicators: req.Cox.Indicators, Interactions: req.Cox.Interactions}
		if f == protocol.CoxPooledSums {
			q.Cox.Origin = origin
		}
		return q
	}
	g, err := s.query(ctx, pl.coxQuery(coxWireForm(form), make([]float64, p)))
	if err != nil {
		return nil, err
	}
	if err := noAnswer(g); err != nil {
		return nil, err
	}
	replies := sortReplies(g.Replies)
	if len(replies) < 2 {
		return nil, Errorf(ERefusedByPolicy, "%s needs two sites or more; %d answered", what, len(replies))
	}
	pl.terms = coxTerms(replies, p)
	for _, r := range replies {
		pl.sites = append(pl.sites, r.Site)
	}
	pl.satOut = append(slices.Clone(g.Refused), g.Invalid...)
	for _, site := range g.Missing {
		pl.satOut = append(pl.satOut, SiteProblem{Site: site, Message: "did not answer"})
	}
	return pl, nil
}

// complementFit fits the model on the sites of others (one query to each per round): the fit
// and, for the pooled form, its baseline hazard.
type complementFit func(ctx context.Context, others map[string]bool, p int, ties analysis.Ties, opts analysis.CoxOptions,
	coxQuery func(protocol.CoxForm, []float64) protocol.Query) (*analysis.CoxFit, *analysis.CoxBaseline, error)

// stratifiedOn fits the site-stratified model on others: each site its own stratum.
func (s *Service) stratifiedOn(ctx context.Context, others map[string]bool, p int, ties analysis.Ties, opts analysis.CoxOptions,
	coxQuery func(protocol.CoxForm, []float64) protocol.Query) (*analysis.CoxFit, *analysis.CoxBaseline, error) {
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
	fit, err := analysis.FitCox(eval, p, opts)
	return fit, nil, err
}

// pooledOn fits the pooled model on others with the two-phase round (docs/cox-protocol.md),
// and builds its baseline hazard from the phase-1 sums at β̂.
func (s *Service) pooledOn(ctx context.Context, others map[string]bool, p int, ties analysis.Ties, opts analysis.CoxOptions,
	coxQuery func(protocol.CoxForm, []float64) protocol.Query) (*analysis.CoxFit, *analysis.CoxBaseline, error) {
	var rounds []Round
	eval := func(beta []float64) (analysis.CoxContribution, func() (analysis.CoxContribution, error), error) {
		q := coxQuery(protocol.CoxPooledSums, beta)
		qs := map[string]protocol.Query{}
		for o := range others {
			qs[o] = q
		}
		g, err := s.queryEach(ctx, qs)
		if err != nil {
			return analysis.CoxContribution{}, nil, err
		}
		replies, err := coxMembersAnswered(g, others, len(rounds)+1)
		if err != nil {
			return analysis.CoxContribution{}, nil, err
		}
		rounds = append(rounds, Round{Query: q, Replies: replies})
		c, _, step, err := coxRoundStep(replies, protocol.CoxPooledSums, ties, beta)
		if err != nil {
			return c, nil, err
		}
		return c, func() (analysis.CoxContribution, error) {
			_, qs := coxHessianQueries(q, replies, step, s.newID)
			g2, err := s.queryEach(ctx, qs)
			if err != nil {
				return c, err
			}
			second, err := coxMembersAnswered(g2, others, len(rounds))
			if err != nil {
				return c, err
			}
			return coxHessianRound(step, c, replies, second)
		}, nil
	}
	fit, err := analysis.FitCoxSteps(eval, p, opts)
	if err != nil || fit == nil {
		return fit, nil, err
	}
	base, err := coxBaseline(rounds, fit, ties)
	return fit, base, err
}

// validateHeldOut fits the model on the sites in others and asks site held to evaluate it (at
// the landmarks up to the complement's last released time, when the fit has a baseline).
func (s *Service) validateHeldOut(ctx context.Context, held string, others map[string]bool, p int, ties analysis.Ties, opts analysis.CoxOptions,
	landmarks []float64, coxQuery func(protocol.CoxForm, []float64) protocol.Query, fitOn complementFit) LOSOSite {
	site := LOSOSite{Site: held, CalibrationSlope: math.NaN(), CalibrationSlopeSE: math.NaN()}
	fit, base, err := fitOn(ctx, others, p, ties, opts, coxQuery)
	if err != nil || fit == nil || len(fit.NotEstimable) > 0 {
		site.SatOut = "the model could not be fitted without this site"
		if err != nil {
			site.SatOut += ": " + err.Error()
		}
		return site
	}
	site.Coef = fit.Coef
	vq := coxQuery(protocol.CoxValidate, fit.Coef)
	if base != nil {
		var marks []float64
		for _, t := range landmarks {
			if t > 0 && t <= base.LastTime {
				marks = append(marks, t)
			}
		}
		if len(marks) > protocol.MaxLandmarks {
			marks = marks[:protocol.MaxLandmarks]
		}
		if h, err := base.CumHazAt(marks); err == nil && len(marks) > 0 {
			vq.Cox.Landmarks, vq.Cox.BaselineCumHaz = marks, uncentredCumHaz(h, base.Origin, fit.Coef)
		}
	}
	g, err := s.queryEach(ctx, map[string]protocol.Query{held: vq})
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
		for _, c := range v.Calibration {
			pt := analysis.CalibrationPoint{Time: c.Time, Observed: c.Observed, Predicted: c.Predicted, Brier: math.NaN()}
			if c.Brier != nil {
				pt.Brier = *c.Brier
			}
			site.Calibration = append(site.Calibration, pt)
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

// uncentredCumHaz moves a baseline cumulative hazard from x = origin (the fit's cox.origin:
// the sites centred its rounds' sums there) to x = 0, where the held-out site's validate form
// evaluates x'β uncentred: Λ₀(t | x = 0) = Λ₀(t | x = origin) · exp(−origin'β).
func uncentredCumHaz(h, origin, beta []float64) []float64 {
	if origin == nil {
		return h
	}
	lp := 0.0
	for j, o := range origin {
		lp += o * beta[j]
	}
	out := make([]float64, len(h))
	for i, v := range h {
		out[i] = v * math.Exp(-lp)
	}
	return out
}

// pool fills the random-effects pooled C and calibration slope over the sites that answered.
// A figure computed from differentially private tables enters with the noise's spread added
// to its standard error in quadrature (√(SE² + noise SD²), as the per-site view of a dp model
// does), so that the noise is not read as heterogeneity.
func (r *LOSOResult) pool() {
	var cs, slopes []analysis.SiteEstimate
	for _, s := range r.Sites {
		if s.SatOut != "" {
			continue
		}
		cse, sse := s.PoolingSEs()
		cs = append(cs, analysis.SiteEstimate{Site: s.Site, Estimate: s.HarrellC, SE: cse})
		slopes = append(slopes, analysis.SiteEstimate{Site: s.Site, Estimate: s.CalibrationSlope, SE: sse})
	}
	if pc, err := analysis.PoolConcordance(cs, 0.95); err == nil {
		r.PooledC = &pc
	}
	if ps, err := analysis.MetaAnalyzeREML(slopes, 0.95); err == nil {
		r.PooledSlope = &ps
	}
}

// PoolingSEs are the standard errors of the site's C and calibration slope as the pooling and
// the forest plots take them: the sampling SE, with the release's noise added in quadrature
// for a validation on differentially private tables.
func (s LOSOSite) PoolingSEs() (c, slope float64) {
	c, slope = s.HarrellSE, s.CalibrationSlopeSE
	if n := s.Noise; n != nil {
		c, slope = withNoise(c, n.HarrellC), withNoise(slope, n.Slope)
	}
	return c, slope
}

// withNoise is se with the noise's spread sd added in quadrature; se when sd is unknown.
func withNoise(se, sd float64) float64 {
	if math.IsNaN(sd) {
		return se
	}
	return math.Hypot(se, sd)
}

// LOSORecord is a validation as stored in a Cox result's trace: each site's released figures,
// numbers kept exactly (NaN included: a slope a site could not fit).
type LOSORecord struct {
	Sites []LOSOSiteRecord `json:"sites"`
	// DP is ρ, queries, simulated releases, the pooled C's noise SD and the result the tables
	// were reused from, of a validation on differentially private tables (LOSODP); nil otherwise.
	DP protocol.Float64s `json:"dp,omitempty"`
}

// LOSOSiteRecord is one site of a LOSORecord. Figures are Harrell's C and SE, Uno's C and SE,
// the calibration slope and its SE; Calibration is time, observed, predicted and Brier per
// landmark.
type LOSOSiteRecord struct {
	Site        string            `json:"site"`
	SatOut      string            `json:"sat_out,omitempty"`
	N           int               `json:"n,omitempty"`
	Events      int               `json:"events,omitempty"`
	Coef        protocol.Float64s `json:"coef,omitempty"`
	Figures     protocol.Float64s `json:"figures"`
	Calibration protocol.Float64s `json:"calibration,omitempty"`
	// NoiseSD is LOSONoise (Harrell's C, Uno's C, the slope), when computed from DP tables.
	NoiseSD protocol.Float64s `json:"noise_sd,omitempty"`
}

func losoRecord(l *LOSOResult) *LOSORecord {
	if l == nil {
		return nil
	}
	out := &LOSORecord{Sites: make([]LOSOSiteRecord, len(l.Sites))}
	for i, s := range l.Sites {
		rec := LOSOSiteRecord{Site: s.Site, SatOut: s.SatOut, N: s.N, Events: s.Events, Coef: s.Coef,
			Figures: []float64{s.HarrellC, s.HarrellSE, s.UnoC, s.UnoSE, s.CalibrationSlope, s.CalibrationSlopeSE}}
		for _, c := range s.Calibration {
			rec.Calibration = append(rec.Calibration, c.Time, c.Observed, c.Predicted, c.Brier)
		}
		if n := s.Noise; n != nil {
			rec.NoiseSD = protocol.Float64s{n.HarrellC, n.UnoC, n.Slope}
		}
		out.Sites[i] = rec
	}
	if d := l.DP; d != nil {
		out.DP = protocol.Float64s{d.Rho, float64(d.Queries), float64(d.Releases), d.PooledCNoiseSD, float64(d.TablesFrom)}
	}
	return out
}

// result rebuilds the validation, pooling included, from its record.
func (r *LOSORecord) result(terms []string) (*LOSOResult, error) {
	out := &LOSOResult{Terms: slices.Clone(terms)}
	for _, rec := range r.Sites {
		if len(rec.Figures) != 6 || len(rec.Calibration)%4 != 0 {
			return nil, Errorf(EInternal, "the stored validation of site %s is incomplete", rec.Site)
		}
		f := rec.Figures
		s := LOSOSite{Site: rec.Site, SatOut: rec.SatOut, N: rec.N, Events: rec.Events, Coef: slices.Clone(rec.Coef),
			HarrellC: f[0], HarrellSE: f[1], UnoC: f[2], UnoSE: f[3], CalibrationSlope: f[4], CalibrationSlopeSE: f[5]}
		for k := 0; k < len(rec.Calibration); k += 4 {
			c := rec.Calibration[k : k+4]
			s.Calibration = append(s.Calibration, analysis.CalibrationPoint{Time: c[0], Observed: c[1], Predicted: c[2], Brier: c[3]})
		}
		switch len(rec.NoiseSD) {
		case 0:
		case 3:
			s.Noise = &LOSONoise{HarrellC: rec.NoiseSD[0], UnoC: rec.NoiseSD[1], Slope: rec.NoiseSD[2]}
		default:
			return nil, Errorf(EInternal, "the stored validation of site %s has an incomplete noise record", rec.Site)
		}
		out.Sites = append(out.Sites, s)
	}
	switch d := r.DP; len(d) {
	case 0:
	case 5:
		out.DP = &LOSODP{Rho: d[0], Queries: int(d[1]), Releases: int(d[2]), PooledCNoiseSD: d[3], TablesFrom: int64(d[4])}
	default:
		return nil, Errorf(EInternal, "the stored validation's differential-privacy record is incomplete")
	}
	out.pool()
	return out, nil
}
