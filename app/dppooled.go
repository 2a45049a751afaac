package app

import (
	"context"
	"math"
	"slices"

	"github.com/oncofed/oncofed/analysis"
	"github.com/oncofed/oncofed/protocol"
)

// The dp analyst's models beyond the site-stratified fit (docs/dp-validation.md): the pooled
// model with its baseline hazard (so that it predicts for a patient) and the leave-one-site-out
// validation, both computed from one dp_tables release — the one just asked, or the one kept
// with an earlier result of the same tables, in which case nothing is sent at all.

// fitDPModel fits the prepared dp_tables request req: the site-stratified model as
// fitDPCoxModel does, or (req.Cox.DPPooled) the pooled one, on the tables of one release.
// When req asks more than the plain stratified fit (the pooled model, a validation) and an
// earlier result of the same tables is in the library, its tables are reused: no query.
func (s *Service) fitDPModel(ctx context.Context, req Request) (*CoxModel, error) {
	if !req.Cox.DPPooled && req.Cox.Validate == "" {
		return s.fitDPCoxModel(ctx, req)
	}
	if m, err := s.dpModelFromLibrary(ctx, req); err != nil || m != nil {
		return m, err
	}
	return s.fitDPCoxModel(ctx, req) // stratified or pooled, as req says
}

// dpModel fits the model of req on the tables of round (one dp_tables release): no query.
func dpModel(req Request, round Round, g *Gathered) (*CoxModel, error) {
	replies := round.Replies
	p := len(round.Query.Cox.Beta)
	ties, err := coxTies(req.Cox.Ties)
	if err != nil {
		return nil, err
	}
	var out *CoxResult
	var steps []CoxStep
	if req.Cox.DPPooled {
		out, steps, err = dpPooledCox(replies, p, ties, req)
	} else {
		out, steps, err = dpStratifiedCox(replies, p, ties, req)
	}
	if err != nil {
		return nil, err
	}
	return &CoxModel{Request: req, Cox: out, Rounds: []Round{round}, First: g, Steps: steps}, nil
}

// dpStratifiedCox is the model stratified by site fitted on replies' tables.
func dpStratifiedCox(replies []protocol.Reply, p int, ties analysis.Ties, req Request) (*CoxResult, []CoxStep, error) {
	eval, err := dpCoxEvaluator(replies, p, ties)
	if err != nil {
		return nil, nil, err
	}
	rec := &coxRecorder{}
	out, err := fitCox(rec.wrap(eval), p, req, protocol.CoxDPTables, coxTerms(replies, p))
	if err != nil {
		return nil, nil, err
	}
	out.addSites(coxSiteSummaries(replies))
	var sd, cov []float64
	if out.Fit != nil {
		sd, cov = dpCoxNoise(replies, p, ties)
	}
	out.setDPNoise(sd, cov)
	return out, rec.steps, nil
}

// dpPooledEvaluator is the pooled model's evaluator on the sites' tables: one stratum of every
// site's subjects (one baseline hazard), within the smallest of the sites' β limits.
func dpPooledEvaluator(replies []protocol.Reply, p int, ties analysis.Ties) (analysis.CoxStepEvaluator, []analysis.CoxPatternTable, error) {
	sites, bound, err := dpSites(replies, p, ties)
	if err != nil {
		return nil, nil, err
	}
	var all []analysis.CoxPatternTable
	for _, s := range sites {
		all = append(all, s.tables...)
	}
	st, err := analysis.NewCoxStratumPatterns(all, p)
	if err != nil {
		return nil, nil, WrapError(EInvalid, err, "the sites' tables cannot be fitted")
	}
	return func(beta []float64) (analysis.CoxContribution, func() (analysis.CoxContribution, error), error) {
		c, err := st.Contribution(beta, ties)
		if err != nil {
			return c, nil, WrapError(EInvalid, err, "the Cox model could not be evaluated on the released tables")
		}
		c.CoefBound = slices.Clone(bound)
		return c, func() (analysis.CoxContribution, error) { return c, nil }, nil
	}, all, nil
}

// dpPooledCox fits the pooled model on the sites' tables, with its baseline hazard (R's
// coxph and survfit on the subjects the tables describe) and the noise's SD per coefficient.
func dpPooledCox(replies []protocol.Reply, p int, ties analysis.Ties, req Request) (*CoxResult, []CoxStep, error) {
	eval, all, err := dpPooledEvaluator(replies, p, ties)
	if err != nil {
		return nil, nil, err
	}
	rec := &coxRecorder{}
	out, err := fitCox(rec.wrap(eval), p, req, protocol.CoxDPTables, coxTerms(replies, p))
	if err != nil {
		return nil, nil, err
	}
	out.addSites(coxSiteSummaries(replies))
	var sd, cov []float64
	switch {
	case out.Fit == nil || out.FitError != "":
		out.NoBaseline = "the model did not converge"
	case len(out.Fit.NotEstimable) > 0:
		out.NoBaseline = "a term cannot be estimated on the released tables"
	default:
		if out.Baseline, err = dpPooledBaseline(all, p, ties, out.Fit.Coef); err != nil {
			out.NoBaseline = err.Error()
		}
		sd, cov = dpPooledNoise(replies, p, ties)
	}
	out.setDPNoise(sd, cov)
	return out, rec.steps, nil
}

// dpPooledNoise is dpCoxNoise for the pooled model: the spread of its coefficients over
// DPCoxNoiseReleases copies of the tables noised again (a fixed seed per copy). Nil when the replies lack
// what is needed or fewer than half the refits converge.
func dpPooledNoise(replies []protocol.Reply, p int, ties analysis.Ties) (sd, cov []float64) {
	rn, err := newDPRenoiser(sortReplies(replies), p)
	if err != nil {
		return nil, nil
	}
	coefs, err := rn.refitCopies([32]byte{'d', 'p', 'p', 'o', 'o', 'l'}, exactDraws, DPCoxNoiseReleases, func(tables [][]analysis.CoxPatternTable) []float64 {
		return convergedCoef(analysis.FitCoxPatterns([][]analysis.CoxPatternTable{slices.Concat(tables...)}, p, ties, rn.bound, analysis.CoxOptions{}))
	})
	if err != nil {
		return nil, nil
	}
	return noiseOfRefits(coefs, p)
}

// dpModelFromLibrary returns the model of req fitted on the tables of the newest result in the
// library released for the same model (the same study, cohort, endpoint, covariates, levels and
// ties; whether it was fitted pooled, validated or checked does not change the tables) on the
// data cut every site still publishes, nil when there is none. Nothing is sent.
func (s *Service) dpModelFromLibrary(ctx context.Context, req Request) (*CoxModel, error) {
	for _, pooled := range []bool{false, true} {
		for _, validate := range []string{"", ValidateLOSO} {
			for _, marks := range [][]float64{nil, req.Landmarks} {
				alt := req
				spec := *req.Cox
				spec.DPPooled, spec.Validate, spec.ZPH = pooled, validate, ""
				alt.Cox, alt.Landmarks = &spec, marks
				r, err := s.cache.LatestResult(ctx, s.network.ID, alt.Key())
				if ErrorCode(err) == ENotFound {
					continue
				}
				if err != nil {
					return nil, err
				}
				replies := dpTablesOf(r)
				if len(replies) == 0 || !s.sameDataCuts(ctx, r) {
					continue
				}
				round := Round{Query: r.Rounds[0].Query, Replies: replies}
				g := &Gathered{Query: round.Query, Replies: replies, Expected: r.Provenance.Expected, Missing: r.Provenance.Missing,
					Refused: r.Provenance.Refused, Invalid: r.Provenance.Invalid}
				m, err := dpModel(req, round, g)
				if m != nil {
					m.Cox.DPTablesFrom = r.ID
				}
				return m, err
			}
		}
	}
	return nil, nil
}

// sameDataCuts reports whether every site of r still publishes the data cut r was computed
// on: kept tables of an older cut are not reused (the sites' data changed since).
func (s *Service) sameDataCuts(ctx context.Context, r *Result) bool {
	cat, err := s.cache.Catalog(ctx, s.network.ID)
	if err != nil {
		return false
	}
	st := cat.Study(r.Request.Study)
	if st == nil {
		return false
	}
	for _, sp := range r.Provenance.Sites {
		if sp.DataCut != st.DataCut[sp.Site] {
			return false
		}
	}
	return len(r.Provenance.Sites) > 0
}

// dpTablesOf returns the dp_tables replies a result was fitted on: its first round's, or its
// trace's once stored; nil when it has none.
func dpTablesOf(r *Result) []protocol.Reply {
	if r == nil || r.Request.Cox == nil || coxForm(r.Request.Cox.Form) != protocol.CoxDPTables || len(r.Rounds) == 0 || r.Rounds[0].Query.Cox == nil {
		return nil
	}
	if len(r.Rounds[0].Replies) > 0 {
		return r.Rounds[0].Replies
	}
	if r.Trace != nil {
		return r.Trace.DPReplies
	}
	return nil
}

// ValidateDP is the leave-one-site-out validation of r, a model fitted on differentially
// private tables, computed from its tables alone (docs/dp-validation.md): it sends no query
// and spends no ρ. landmarks are the calibration landmarks of a pooled model (r's request's
// when nil). The sites that did not release tables sit out, named.
func (s *Service) ValidateDP(ctx context.Context, r *Result, landmarks []float64) (*LOSOResult, error) {
	replies := dpTablesOf(r)
	if len(replies) == 0 {
		return nil, Errorf(EInvalid, "this result holds no differentially private tables (a dp model stored before they were kept, or not a dp model): fit it again")
	}
	if landmarks == nil {
		landmarks = r.Request.Landmarks
	}
	return validateDPTables(replies, dpSatOut(&r.Provenance), r.Request.Cox, landmarks)
}

// dpSatOut are the sites of a provenance that released no tables, with the reason.
func dpSatOut(p *Provenance) []SiteProblem {
	out := append(slices.Clone(p.Refused), p.Invalid...)
	for _, site := range p.Missing {
		out = append(out, SiteProblem{Site: site, Message: "did not answer"})
	}
	return out
}

// DPPooledModel is the pooled model (with its baseline hazard, so that it predicts) fitted on
// the tables of r, a model fitted on differentially private tables, stratified by site or
// pooled: post-processing of r's release, no query. The result is r's with the pooled fit.
func DPPooledModel(r *Result) (*Result, error) {
	replies := dpTablesOf(r)
	if len(replies) == 0 {
		return nil, Errorf(EInvalid, "this result holds no differentially private tables: fit the model again")
	}
	if r.Request.Cox.DPPooled && r.Cox != nil && r.Cox.Baseline != nil {
		return r, nil
	}
	req := r.Request
	spec := *req.Cox
	spec.DPPooled, spec.Validate, spec.ZPH = true, "", ""
	req.Cox = &spec
	ties, err := coxTies(spec.Ties)
	if err != nil {
		return nil, err
	}
	out, _, err := dpPooledCox(replies, len(r.Rounds[0].Query.Cox.Beta), ties, req)
	if err != nil {
		return nil, err
	}
	out.DPTablesFrom = r.ID
	pooled := *r
	pooled.Request, pooled.Cox = req, out
	return &pooled, nil
}

// dpLPHistogram is LPHistogram for a model fitted on differentially private tables: the
// distribution of x'β̂ over each site's released subjects, from the tables alone (no query).
// Every non-empty cell is its own bin: the counts are the release's noisy ones already.
func dpLPHistogram(r *Result, replies []protocol.Reply, width float64) (*LPHistogramResult, error) {
	p := len(r.Cox.Fit.Coef)
	ties, err := coxTies(r.Request.Cox.Ties)
	if err != nil {
		return nil, err
	}
	sites, _, err := dpSites(replies, p, ties)
	if err != nil {
		return nil, err
	}
	beta := make([]float64, p)
	for j, b := range r.Cox.Fit.Coef {
		if !math.IsNaN(b) {
			beta[j] = b
		}
	}
	out := &LPHistogramResult{}
	for _, s := range sites {
		if s.st.Len() == 0 {
			continue
		}
		lp, err := s.st.LinearPredictors(beta)
		if err != nil {
			return nil, err
		}
		h, err := analysis.BinLinearPredictors(lp, width, 1)
		if err != nil {
			return nil, WrapError(EInvalid, err, "site %s", s.site)
		}
		out.Sites, out.PerSite = append(out.Sites, s.site), append(out.PerSite, h)
	}
	if len(out.PerSite) == 0 {
		return nil, Errorf(EInvalid, "the released tables hold no subject")
	}
	if out.Pooled, err = analysis.PoolLPHistograms(out.PerSite); err != nil {
		return nil, WrapError(EInvalid, err, "the sites' histograms do not combine")
	}
	out.CDF = analysis.LPCDFBounds(out.PerSite)
	return out, nil
}

// DPRole reports whether the catalog gives the analyst the dp role at a site holding study:
// its Cox models, stratified or pooled, are then fitted on differentially private tables.
func (c *Catalog) DPRole(study string) bool {
	if c == nil {
		return false
	}
	for _, sc := range c.Sites {
		if sc.You != nil && sc.You.Role == "dp" && slices.ContainsFunc(sc.Studies, func(st protocol.StudyCatalog) bool { return st.Name == study }) {
			return true
		}
	}
	return false
}
