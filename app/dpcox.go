package app

import (
	"context"
	"math"
	"slices"

	"github.com/oncofed/oncofed/analysis"
	"github.com/oncofed/oncofed/protocol"
)

// Differentially private Cox models (docs/dp-cox.md): an analyst of role dp gets a Cox model
// as one release per site of noisy survival tables by covariate pattern (form dp_tables); the
// client fits the model stratified by site on them, locally, with the same FitCox (every
// Newton round is post-processing: nothing more is asked or spent). The fit's evaluations are
// recorded as the result's trace like any Cox fit's, so reopening it replays them.

// dpRole reports whether the cached catalog says the analyst has the dp role at a site holding
// study: its Cox models are then asked as dp_tables.
func (s *Service) dpRole(ctx context.Context, study string) (bool, error) {
	cat, err := s.cache.Catalog(ctx, s.network.ID)
	if ErrorCode(err) == ENotFound {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	for _, sc := range cat.Sites {
		if sc.You != nil && sc.You.Role == "dp" && slices.ContainsFunc(sc.Studies, func(st protocol.StudyCatalog) bool { return st.Name == study }) {
			return true, nil
		}
	}
	return false, nil
}

// fitDPCoxModel fits the prepared dp_tables request req, stratified by site or (req.Cox.DPPooled)
// pooled: one scatter-gather (askDPTables), then a local fit.
func (s *Service) fitDPCoxModel(ctx context.Context, req Request) (*CoxModel, error) {
	round, g, err := s.askDPTables(ctx, req)
	if err != nil {
		return nil, err
	}
	return dpModel(req, round, g)
}

// askDPTables sends req's model as one dp_tables release (one dp_rho_cox at each site) and
// returns its round, replies in site order: the one query every model a dp analyst fits
// (stratified or pooled, validated, predicted) is computed from.
func (s *Service) askDPTables(ctx context.Context, req Request) (Round, *Gathered, error) {
	ties, err := coxTies(req.Cox.Ties)
	if err != nil {
		return Round{}, nil, err
	}
	if req.Cox.Strata != "" || len(req.Cox.Interactions) > 0 {
		return Round{}, nil, Errorf(EInvalid, "a differentially private Cox model takes no within-site strata and no interactions")
	}
	p, err := s.coxColumns(ctx, req)
	if err != nil {
		return Round{}, nil, err
	}
	q := s.baseQuery(req)
	q.ID = s.newID()
	q.Cox = &protocol.CoxRequest{Form: protocol.CoxDPTables, Ties: ties.String(), Covariates: req.Cox.Covariates,
		Levels: req.Cox.Levels, Beta: make([]float64, p), Indicators: req.Cox.Indicators}
	g, err := s.query(ctx, q)
	if err != nil {
		return Round{}, nil, err
	}
	if err := noAnswer(g); err != nil {
		return Round{}, nil, err
	}
	return newRound(q, sortReplies(g.Replies), g), g, nil
}

// dpCoxEvaluator is the fit's evaluator on the sites' dp_tables replies: the sum of each
// site's stratum contribution at β (the model stratified by site), within the smallest of the
// sites' β limits.
func dpCoxEvaluator(replies []protocol.Reply, p int, ties analysis.Ties) (analysis.CoxStepEvaluator, error) {
	var strata []*analysis.CoxStratum
	var bound []float64
	var columns []string
	for i, rep := range replies {
		c := rep.Cox
		if c == nil {
			return nil, Errorf(EInternal, "site %s: cox reply without tables", rep.Site)
		}
		if i == 0 {
			columns = c.Columns
		} else if !equalStrings(columns, c.Columns) {
			return nil, Errorf(EInvalid, "site %s built design columns %v, other sites %v", rep.Site, c.Columns, columns)
		}
		if len(c.Columns) != p {
			return nil, Errorf(EInvalid, "site %s returned %d design columns for %d coefficients", rep.Site, len(c.Columns), p)
		}
		if c.BetaLimit != nil {
			bound = analysis.MinBound(bound, c.BetaLimit)
		}
		tables := make([]analysis.CoxPatternTable, len(c.Patterns))
		for k, pt := range c.Patterns {
			tables[k] = analysis.CoxPatternTable{X: pt.X, Time: pt.Time, Events: pt.Events, Censor: pt.Censor}
		}
		st, err := analysis.NewCoxStratumPatterns(tables, p)
		if err != nil {
			return nil, WrapError(EInvalid, err, "site %s sent tables that cannot be fitted", rep.Site)
		}
		if st.Len() > 0 {
			strata = append(strata, st)
		}
	}
	return func(beta []float64) (analysis.CoxContribution, func() (analysis.CoxContribution, error), error) {
		var sum analysis.CoxContribution
		for _, st := range strata {
			c, err := st.Contribution(beta, ties)
			if err != nil {
				return sum, nil, WrapError(EInvalid, err, "the Cox model could not be evaluated on the released tables")
			}
			sum.Add(c)
		}
		if sum.Gradient == nil {
			sum.Gradient, sum.Hessian = make([]float64, p), make([]float64, p*p)
		}
		sum.CoefBound = slices.Clone(bound)
		return sum, func() (analysis.CoxContribution, error) { return sum, nil }, nil
	}, nil
}

// DPCoxNoiseReleases is the number of simulated releases behind DPCoxNoiseSD.
const DPCoxNoiseReleases = 50

// DPCoxNoiseSD estimates, per coefficient, the standard deviation the release's noise adds to
// the fit (a parametric bootstrap: the noise's distribution is public): every site's released
// tables are noised again with the site's mechanism and ρ (dp.ReleaseSurvival, each copy fed by
// a fixed seed of its own so that the estimate is the same at every fit of the same replies, on
// any number of cores), the model refitted,
// and the spread of the refits taken. It is post-processing of the release, needs no query and
// spends nothing. Approximations, said where it is shown: the tables noised again are the
// released ones (not the true ones); patterns a site released as empty are noised again like
// the others (app/dprenoise.go). Nil when a site's reply lacks what is needed (its ρ, its grid)
// or too few refits converge.
func DPCoxNoiseSD(replies []protocol.Reply, p int, ties analysis.Ties) []float64 {
	sd, _ := dpCoxNoise(replies, p, ties)
	return sd
}

// DPCoxNoiseCov is DPCoxNoiseSD's whole covariance (p×p, row-major) over the given number of
// simulated releases: what the release's noise adds to the covariance of the estimate, for a
// joint Wald test of several terms (the differentially private screen, app/screendp.go). Nil
// when DPCoxNoiseSD would be.
//
// Its simulated releases draw their noise with dp.SimulateSurvival (a rounded continuous
// Gaussian of the release's σ², fed by fixed seeds), not the exact sampler: the estimate is
// post-processing and needs no secure noise, and a screen asks hundreds of refits per marker.
func DPCoxNoiseCov(replies []protocol.Reply, p int, ties analysis.Ties, releases int) []float64 {
	coefs := dpCoxNoiseRefits(replies, p, ties, releases, true)
	if coefs == nil {
		return nil
	}
	return sampleCov(coefs, p)
}

// sampleCov is the sample covariance (p×p, row-major) of rows, each of p values: what the noise
// adds, over noisy copies, to the p figures computed from each.
func sampleCov(rows [][]float64, p int) []float64 {
	mean := make([]float64, p)
	for _, c := range rows {
		for j := range p {
			mean[j] += c[j] / float64(len(rows))
		}
	}
	cov := make([]float64, p*p)
	for _, c := range rows {
		for i := range p {
			for j := range p {
				cov[i*p+j] += (c[i] - mean[i]) * (c[j] - mean[j]) / float64(len(rows)-1)
			}
		}
	}
	return cov
}

// convergedCoef is the coefficients of a refit that converged with every term estimable, nil
// for any other.
func convergedCoef(fit *analysis.CoxFit, err error) []float64 {
	if err != nil || fit == nil || !fit.Converged || len(fit.NotEstimable) > 0 {
		return nil
	}
	return fit.Coef
}

// dpCoxNoiseRefits are the coefficients of the refits on releases simulated re-noisings of the
// replies' tables (DPCoxNoiseSD), nil when fewer than half converge or a reply lacks what is
// needed; fast draws the noise with dp.SimulateSurvival instead of the exact sampler.
func dpCoxNoiseRefits(replies []protocol.Reply, p int, ties analysis.Ties, releases int, fast bool) [][]float64 {
	rn, err := newDPRenoiser(replies, p)
	if err != nil {
		return nil
	}
	base, draws := [32]byte{'d', 'p', 'c', 'o', 'x'}, exactDraws
	if fast {
		base, draws = [32]byte{'d', 'p', 's', 'c', 'r', 'e', 'e', 'n'}, simulatedDraws
	}
	coefs, err := rn.refitCopies(base, draws, releases, func(tables [][]analysis.CoxPatternTable) []float64 {
		return convergedCoef(analysis.FitCoxPatterns(tables, p, ties, rn.bound, analysis.CoxOptions{}))
	})
	if err != nil || len(coefs) < releases/2 || len(coefs) < 2 {
		return nil
	}
	return coefs
}

// ErrCoxTestsNoisy is why a model fitted on differentially private tables shows no likelihood
// ratio and no score test: both are computed from the noisy tables' likelihood as if it were
// exact, and no simulated release gives them the noise's share (docs/dp-cox.md).
const ErrCoxTestsNoisy = "the likelihood ratio and score tests are not computed from differentially private tables: they would treat the noisy tables as exact, and under the null they reject in 8–36% of releases at the 5% level (docs/dp-cox.md); the Wald test and the terms' p-values include the noise"

// errCoxWaldNoNoise is why such a model shows no Wald test either: its noise could not be
// estimated (too few simulated releases converged, or a result stored without the noise's
// covariance).
const errCoxWaldNoNoise = "; the Wald test is withheld too: the noise's covariance could not be estimated (fit the model again)"

// setDPNoise gives out, a model fitted on differentially private tables, the noise's SD per
// coefficient and covariance (p×p; nil when not estimated), and folds them into its tests: each
// term's z, p-value and 95% interval use √(SE² + noise SD²) (SE itself stays the fit's), the
// global Wald test V + V_noise, and the likelihood ratio and score tests are withheld
// (TestsWithheld says why). The one place a dp Cox result gets its tests, live or replayed.
func (out *CoxResult) setDPNoise(sd, cov []float64) {
	out.NoiseSD, out.NoiseCov, out.TestsWithheld = sd, cov, ErrCoxTestsNoisy
	f := out.Fit
	if f == nil {
		return
	}
	nan := analysis.Test{Stat: math.NaN(), P: math.NaN()}
	f.LRT, f.Score = nan, nan
	p := len(f.Coef)
	if len(sd) != p {
		f.Wald = nan
		out.TestsWithheld += errCoxWaldNoNoise
		return
	}
	if len(cov) != p*p { // a result stored with the SDs alone
		cov = make([]float64, p*p)
		for j, s := range sd {
			cov[j*p+j] = s * s
		}
		f.Wald = nan
		out.TestsWithheld += errCoxWaldNoNoise
	}
	g := withDPNoise(f, cov)
	f.Lower, f.Upper, f.Z, f.P = g.Lower, g.Upper, g.Z, g.P
	out.WithNoise = true
	if len(cov) != len(out.NoiseCov) {
		return
	}
	var terms []int
	for j, b := range f.Coef {
		if !math.IsNaN(b) {
			terms = append(terms, j)
		}
	}
	f.Wald = nan
	if len(terms) > 0 {
		if w, err := analysis.JointWald(g, terms); err == nil {
			f.Wald = w
		}
	}
}

// dpCoxNoise is DPCoxNoiseSD with the noise's whole covariance, from the same refits.
func dpCoxNoise(replies []protocol.Reply, p int, ties analysis.Ties) (sd, cov []float64) {
	return noiseOfRefits(dpCoxNoiseRefits(replies, p, ties, DPCoxNoiseReleases, false), p)
}

// noiseOfRefits is the SD per coefficient and the covariance of the refits' coefficients
// (DPCoxNoiseReleases copies asked), nil when too few converged.
func noiseOfRefits(coefs [][]float64, p int) (sd, cov []float64) {
	if coefs == nil {
		return nil, nil
	}
	if sd = columnNoiseSDs(coefs, p, DPCoxNoiseReleases); sd == nil {
		return nil, nil
	}
	return sd, sampleCov(coefs, p)
}
