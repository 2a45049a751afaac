package app

import (
	"context"
	"math"
	"runtime"
	"slices"
	"sort"
	"sync"

	"github.com/oncofed/oncofed/analysis"
	"github.com/oncofed/oncofed/protocol"
	"gonum.org/v1/gonum/stat/distuv"
)

// The differentially private biomarker screen (docs/dp-cox.md, "The differentially private
// screen"): an analyst of role dp screens its markers in one screen query of dp_tables models —
// one scatter-gather, each site releasing every marker model's noisy tables at ρ_total/K — and
// the client fits every marker's model on them locally (post-processing: no further query,
// nothing more spent). Predictive mode's treatment × marker terms are columns of the tables'
// design rows (the node multiplies them out per pattern).
//
// The p-values account for the noise: the Wald test of a marker's terms uses the fit's
// covariance plus the noise's (DPCoxNoiseCov: the released tables noised again with each site's
// mechanism and ρ, refitted, and the covariance of the refits taken), so that the noise is not
// read as information. A marker whose noise cannot be estimated (its fit diverges on most
// noisy copies) has no p and is no test.

// DPScreenNoiseReleases is the number of simulated releases behind a screen marker's noise
// covariance: twice DPCoxNoiseReleases, as the joint Wald test leans on the whole matrix.
const DPScreenNoiseReleases = 2 * DPCoxNoiseReleases

// screenDP runs req as a differentially private screen.
func (s *Service) screenDP(ctx context.Context, req ScreenRequest, progress ScreenProgress) (*ScreenResult, error) {
	if coxForm(req.Form) == protocol.CoxPooled {
		return nil, Errorf(EInvalid, "a differentially private screen is stratified by site (every site's noisy tables); the pooled form is released to trusted analysts only")
	}
	if len(req.Markers) > protocol.MaxScreenModels {
		return nil, Errorf(EInvalid, "a differentially private screen takes at most %d markers (one release splits its ρ over them); split the screen", protocol.MaxScreenModels)
	}
	start := s.now()
	models := make([]Request, len(req.Markers))
	ps := make([]int, len(req.Markers))
	q := protocol.Query{}
	for i, m := range req.Markers {
		r := markerRequest(req, m)
		r.Cox.Form = protocol.CoxDPTables
		if err := s.prepare(ctx, &r); err != nil {
			return nil, err
		}
		p, err := s.coxColumns(ctx, r)
		if err != nil {
			return nil, err
		}
		ties, err := coxTies(r.Cox.Ties)
		if err != nil {
			return nil, err
		}
		if i == 0 {
			q = s.baseQuery(r)
			q.ID, q.Kind = s.newID(), protocol.KindScreen
			q.Screen = &protocol.ScreenRequest{Rho: req.Rho}
		}
		q.Screen.Models = append(q.Screen.Models, protocol.CoxRequest{Form: protocol.CoxDPTables, Ties: ties.String(), Covariates: r.Cox.Covariates,
			Levels: r.Cox.Levels, Beta: make([]float64, p), Indicators: r.Cox.Indicators, Interactions: r.Cox.Interactions})
		models[i], ps[i] = r, p
	}
	b := newScreenBatch(s, 0, protocol.MaxScreenModels)
	b.count()
	g, err := s.query(ctx, q)
	if ErrorCode(err) == EUnavailable && s.Offline() && ctx.Err() == nil {
		return s.cachedScreen(ctx, req, err)
	}
	if err != nil {
		return nil, err
	}
	b.record(q, g)
	recs := make([]ScreenMarkerRecord, len(req.Markers))
	errs := make([]error, len(req.Markers))
	var mu sync.Mutex
	done := 0
	next := make(chan int)
	var wg sync.WaitGroup
	for range min(runtime.GOMAXPROCS(0), len(recs)) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				if ctx.Err() != nil {
					errs[i] = ctx.Err()
					continue
				}
				mq := q.ModelQuery(i)
				recs[i], errs[i] = dpMarkerRecord(modelGathered(g, i, mq), models[i], ps[i], req.Markers[i])
				mu.Lock()
				done++
				if progress != nil {
					progress(done, len(recs), req.Markers[i])
				}
				mu.Unlock()
			}
		}()
	}
	for i := range recs {
		next <- i
	}
	close(next)
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			return nil, err
		}
	}
	tr := &ScreenTrace{Markers: recs, DPSpent: dpSpent(g)}
	out, err := renderScreen(req, tr)
	if err != nil {
		return nil, err
	}
	out.Queries, out.ranAt = 1, start
	if err := s.storeScreen(ctx, req, out, tr, b); err != nil {
		return nil, err
	}
	return out, nil
}

// dpSpent is the ρ each site charged for the screen (its reply's own label); a site that
// refused the whole screen charged nothing.
func dpSpent(g *Gathered) map[string]float64 {
	out := map[string]float64{}
	for _, r := range g.Replies {
		if d := r.Policy.DP; d != nil {
			out[r.Site] = d.Rho
		} else {
			out[r.Site] = 0
		}
	}
	return out
}

// dpMarkerRecord fits one marker's model on the tables its sites released (mg, the model's
// share of the screen's scatter-gather) and returns its record, with the noise's covariance.
func dpMarkerRecord(mg *Gathered, r Request, p int, marker string) (ScreenMarkerRecord, error) {
	rec := ScreenMarkerRecord{Marker: marker, Model: r.Cox, Rounds: 1}
	for _, ref := range append(slices.Clone(mg.Refused), mg.Invalid...) {
		rec.SitesOut = append(rec.SitesOut, SiteOut{ref.Site, ref.Message})
	}
	for _, site := range mg.Missing {
		rec.SitesOut = append(rec.SitesOut, SiteOut{site, "did not answer in time"})
	}
	var replies []protocol.Reply
	for _, rep := range sortReplies(mg.Replies) {
		if rep.Cox != nil && rep.Cox.N == 0 {
			rec.SitesOut = append(rec.SitesOut, SiteOut{rep.Site, "no patient of the cohort has a result for this marker (a noisy count)"})
			continue
		}
		replies = append(replies, rep)
		rec.SitesUsed = append(rec.SitesUsed, rep.Site)
	}
	sort.Slice(rec.SitesOut, func(i, j int) bool { return rec.SitesOut[i].Site < rec.SitesOut[j].Site })
	if len(replies) == 0 {
		rec.Reason, rec.Rounds = "every site refused it", 0
		return rec, nil
	}
	ties, err := coxTies(r.Cox.Ties)
	if err != nil {
		return rec, err
	}
	eval, err := dpCoxEvaluator(replies, p, ties)
	if err != nil {
		rec.Reason = ErrorMessage(err)
		return rec, nil
	}
	recorder := &coxRecorder{}
	if _, err := fitCox(recorder.wrap(eval), p, r, protocol.CoxDPTables, coxTerms(replies, p)); err != nil {
		rec.Reason = "the fit on the released tables failed: " + ErrorMessage(err)
		return rec, nil
	}
	if rec.Trace, err = buildTrace(r, []Round{newRound(mg.Query, replies, mg)}, recorder.steps); err != nil {
		return rec, err
	}
	if cov := DPCoxNoiseCov(replies, p, ties, DPScreenNoiseReleases); cov != nil {
		rec.NoiseCov = cov
		rec.Trace.NoiseSD = make(protocol.Float64s, p)
		for j := range p {
			rec.Trace.NoiseSD[j] = math.Sqrt(cov[j*p+j])
		}
	}
	return rec, nil
}

// withDPNoise returns f with the noise's covariance cov (p×p) added to its own: the standard
// errors, intervals and Wald p-values of the terms then account for the release's noise.
func withDPNoise(f *analysis.CoxFit, cov []float64) *analysis.CoxFit {
	p := len(f.Coef)
	if len(cov) != p*p {
		return f
	}
	g := *f
	g.Vcov = slices.Clone(f.Vcov)
	for i := range g.Vcov {
		g.Vcov[i] += cov[i]
	}
	g.SE, g.Lower, g.Upper, g.Z, g.P = make([]float64, p), make([]float64, p), make([]float64, p), make([]float64, p), make([]float64, p)
	z := distuv.UnitNormal.Quantile(0.975)
	for j := range p {
		se := math.Sqrt(g.Vcov[j*p+j])
		g.SE[j] = se
		g.Lower[j], g.Upper[j] = math.Exp(g.Coef[j]-z*se), math.Exp(g.Coef[j]+z*se)
		g.Z[j] = g.Coef[j] / se
		g.P[j] = 2 * distuv.UnitNormal.Survival(math.Abs(g.Z[j]))
	}
	return &g
}
