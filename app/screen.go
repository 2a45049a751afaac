package app

import (
	"context"
	"errors"
	"fmt"
	"math"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/oncofed/oncofed/analysis"
	"github.com/oncofed/oncofed/protocol"
)

// Screen modes.
const (
	ScreenPrognostic = "prognostic" // Cox(endpoint ~ marker + adjusters)
	ScreenPredictive = "predictive" // Cox(endpoint ~ treatment × marker + adjusters)
)

// ScreenRequest is a biomarker screen: one Cox model per candidate marker on one cohort.
type ScreenRequest struct {
	Study      string
	CohortName string
	Cohort     *protocol.Filter
	Endpoint   string
	Markers    []string // the candidate markers; empty: every variable not otherwise used
	Adjust     []string // adjusters, in every marker's model
	// Treatment and Treated select predictive mode: the marker's terms are then its
	// interaction with the indicator treatment == Treated.
	Treatment, Treated string
	Form               protocol.CoxForm // stratified by site (default) or pooled
	Ties               string           // efron (default) or breslow
	// Levels fixes a categorical variable's levels (the first is the reference), as a Cox
	// request's Levels; variables not named use the catalog's order.
	Levels map[string][]string
	// Rho is, for an analyst of role dp (a differentially private screen, screendp.go), the
	// total ρ to spend at each site, split over the markers; 0 spends the site's dp_rho_screen.
	Rho float64
}

// Mode returns ScreenPredictive when a treatment is given, else ScreenPrognostic.
func (r ScreenRequest) Mode() string {
	if r.Treatment != "" {
		return ScreenPredictive
	}
	return ScreenPrognostic
}

// ScreenResult is the outcome of a screen, markers in request order.
type ScreenResult struct {
	Request ScreenRequest
	Mode    string
	Form    protocol.CoxForm
	Ties    string
	// Sites are the sites that took part in at least one marker's model, sorted.
	Sites   []string
	Markers []MarkerResult
	// Tests is the number of markers that are a test (estimable): the m of the BH q-values.
	Tests int
	// ResultID is the screen's result in the library (0 when it was not stored); Cached says it
	// was served from there because the network could not be reached.
	ResultID int64
	Cached   bool
	ranAt    time.Time
	// Queries is the number of scatter-gathers the screen sent: one screen query per Newton
	// round carrying every marker still fitting (more when a pooled round is split in chunks,
	// and one more per chunk for a pooled round's phase 2).
	Queries int
	// DPSpent is, for a differentially private screen (screendp.go), the ρ each site charged.
	DPSpent map[string]float64
	// Release is the kind of release its models are made of, as the sites' policy effects on
	// the screen's first round say (ReleaseSummary.Kind, from the stored provenance): "exact",
	// "coarsened" or ReleaseDP; "" when no marker's model reached a site. It is the one record
	// of whether the screen is differentially private (DP).
	Release string
}

// DP says the screen is differentially private (screendp.go): fitted on the sites' noisy
// tables, its standard errors and p-values including the noise. It is read from Release.
func (r *ScreenResult) DP() bool { return r.Release == ReleaseDP }

// ScreenTerm is one design column of a marker's terms, R's model-matrix name in Column.
type ScreenTerm struct {
	Column                        string
	Coef, SE, HR, Lower, Upper, P float64
	// NoiseSD is, in a differentially private screen, the part of SE the release's noise makes
	// (SE² is the fit's variance plus NoiseSD²); 0 otherwise.
	NoiseSD float64
}

// SiteOut is a site that sat a marker out, and why (its refusal, or that it did not answer).
type SiteOut struct {
	Site   string
	Reason string
}

// MarkerResult is one marker's model in a screen.
type MarkerResult struct {
	Marker string
	// Estimable is false when the marker is not a test: no site could fit it, a term could not
	// be estimated (a level no patient holds, no treated patient in a level), or its
	// coefficient may be infinite. Reason then says why; Chisq, P and Q are NaN.
	Estimable bool
	Reason    string
	Terms     []ScreenTerm // the marker's terms (interaction terms in predictive mode)
	Chisq     float64      // joint Wald χ² over Terms
	DF        int
	P, Q      float64
	N, Events int
	// I2 (percent) and Tau2 are the heterogeneity of the marker's effect across the sites
	// (analysis.HeterogeneityOf over one Newton step of each site's likelihood from the pooled
	// estimate); NaN when fewer than two sites have MinSiteEvents events and an invertible
	// information, in the pooled form (no per-site information is released), and Tau2 NaN for
	// a marker of several terms. HetSites are the sites used.
	I2, Tau2 float64
	HetQP    float64
	HetSites []string
	// SiteTerms holds those sites' own estimates of Terms, for a forest plot.
	SiteTerms []analysis.SiteTerms
	SitesUsed []string
	SitesOut  []SiteOut
	// Rounds is the number of Newton rounds (scatter-gathers) the marker's fit took.
	Rounds int
}

// ScreenProgress reports a screen's progress: done of total markers, the one just finished.
type ScreenProgress func(done, total int, marker string)

// CoxFitter fits one Cox model over the network: Service.FitCoxModel, or one marker's fit
// through a screen's batch (screenBatch.fitter), the screen's one entry point to the protocol
// (so a faster Cox protocol speeds every screen up).
type CoxFitter func(ctx context.Context, req Request) (*CoxModel, error)

// Screen runs a biomarker screen over the network: per marker, Cox(endpoint ~ marker +
// adjusters), or in predictive mode Cox(endpoint ~ treatment × marker + adjusters). Every
// marker's model is fitted as FitCoxModel fits one, but the markers' rounds travel together:
// one screen query per Newton round carries every marker still fitting (screenBatch), and each
// site passes each model through its release rules as it would the model alone (a site whose
// design column rule refuses a marker sits that marker out and is named; each model costs its
// budget). Markers that are no test get no p and do not count in the BH q-values. progress
// (may be nil) is told as each marker's fit ends; cancelling ctx stops the screen with ctx's
// error.
func (s *Service) Screen(ctx context.Context, req ScreenRequest, progress ScreenProgress) (*ScreenResult, error) {
	if err := validateScreen(req); err != nil {
		return nil, err
	}
	if dp, err := s.dpRole(ctx, req.Study); err != nil {
		return nil, err
	} else if dp {
		return s.screenDP(ctx, req, progress)
	}
	start := s.now()
	b := newScreenBatch(s, len(req.Markers), screenChunk(req.Form))
	out, tr, err := runScreen(ctx, b.fitter, b.skip, req, progress)
	if ErrorCode(err) == EUnavailable && s.Offline() && ctx.Err() == nil {
		return s.cachedScreen(ctx, req, err)
	}
	if err != nil {
		return nil, err
	}
	out.Queries, out.ranAt = b.sent(), start
	if err := s.storeScreen(ctx, req, out, tr, b); err != nil {
		return nil, err
	}
	return out, nil
}

// cachedScreen serves the newest stored screen of req after the network failed with cause.
func (s *Service) cachedScreen(ctx context.Context, req ScreenRequest, cause error) (*ScreenResult, error) {
	r, err := s.latest(ctx, screenRequestOf(req))
	if ErrorCode(err) == ENotFound {
		return nil, WrapError(EUnavailable, cause, "offline, and this screen was never run before: there is no cached screen to show")
	}
	if err != nil {
		return nil, err
	}
	r.Screen.Cached = true
	return r.Screen, nil
}

func validateScreen(req ScreenRequest) error {
	switch {
	case req.Study == "":
		return Errorf(EInvalid, "choose a study")
	case req.Endpoint == "":
		return Errorf(EInvalid, "choose an endpoint")
	case len(req.Markers) == 0:
		return Errorf(EInvalid, "choose at least one marker to screen")
	case (req.Treatment == "") != (req.Treated == ""):
		return Errorf(EInvalid, "predictive mode needs both the treatment variable and its treated level")
	case req.Rho < 0 || math.IsNaN(req.Rho) || math.IsInf(req.Rho, 0):
		return Errorf(EInvalid, "the screen's ρ must be positive and finite (or 0: the sites' dp_rho_screen)")
	}
	seen := map[string]bool{}
	for _, m := range req.Markers {
		if seen[m] {
			return Errorf(EInvalid, "marker %s is listed twice", m)
		}
		seen[m] = true
		if slices.Contains(req.Adjust, m) || m == req.Treatment {
			return Errorf(EInvalid, "%s is both a marker and an adjuster or the treatment", m)
		}
	}
	if _, err := coxTies(req.Ties); err != nil {
		return err
	}
	switch req.Form {
	case "", protocol.CoxStratified, protocol.CoxPooled:
	default:
		return Errorf(EInvalid, "unknown Cox form %q (stratified or pooled)", req.Form)
	}
	return nil
}

// runScreen fits every marker's model with fitOf(i) (each called once), or calls skip for a
// marker it will not fit because the screen stopped, and renders the records (renderScreen).
func runScreen(ctx context.Context, fitOf func(i int) CoxFitter, skip func(), req ScreenRequest, progress ScreenProgress) (*ScreenResult, *ScreenTrace, error) {
	if err := validateScreen(req); err != nil {
		return nil, nil, err
	}
	recs, err := screenMarkers(ctx, fitOf, skip, req, progress)
	if err != nil {
		return nil, nil, err
	}
	tr := &ScreenTrace{Markers: recs}
	out, err := renderScreen(req, tr)
	if err != nil {
		return nil, nil, err
	}
	return out, tr, nil
}

// renderScreen renders a screen from its markers' records, as it ran and as it reopens: each
// marker's result (markerResult), the BH q-values over the markers that are a test, the sites.
func renderScreen(req ScreenRequest, tr *ScreenTrace) (*ScreenResult, error) {
	if len(tr.Markers) != len(req.Markers) {
		return nil, Errorf(EInternal, "the screen holds %d markers' records for %d markers", len(tr.Markers), len(req.Markers))
	}
	out := &ScreenResult{Request: req, Mode: req.Mode(), Form: coxForm(req.Form), Ties: req.Ties, DPSpent: tr.DPSpent}
	if tr.DPSpent != nil { // the models were fitted on the sites' dp tables (screendp.go)
		out.Form = protocol.CoxDPTables
	}
	if out.Ties == "" {
		out.Ties = analysis.Efron.String()
	}
	sites := map[string]bool{}
	for i, rec := range tr.Markers {
		if rec.Marker != req.Markers[i] {
			return nil, Errorf(EInternal, "the screen's record %d is of marker %s, not %s", i, rec.Marker, req.Markers[i])
		}
		mr, err := markerResult(req, rec)
		if err != nil {
			return nil, err
		}
		for _, s := range mr.SitesUsed {
			sites[s] = true
		}
		out.Queries += mr.Rounds
		out.Markers = append(out.Markers, *mr)
	}
	ps := make([]float64, len(out.Markers))
	for i, m := range out.Markers {
		ps[i] = m.P
		if m.Estimable {
			out.Tests++
		}
	}
	for i, q := range analysis.BenjaminiHochberg(ps) {
		out.Markers[i].Q = q
	}
	out.Sites = sortedKeys(sites)
	return out, nil
}

// screenMarkers fits every marker's model at once (their rounds meet in the batch) and returns
// their records in request order; the first error that stops the screen cancels the rest.
// progress is told as each marker finishes (done counts up).
func screenMarkers(ctx context.Context, fitOf func(i int) CoxFitter, skip func(), req ScreenRequest, progress ScreenProgress) ([]ScreenMarkerRecord, error) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	results := make([]ScreenMarkerRecord, len(req.Markers))
	var (
		mu    sync.Mutex
		done  int
		first error
		wg    sync.WaitGroup
	)
	for i, marker := range req.Markers {
		if ctx.Err() != nil {
			skip()
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			rec, err := screenMarker(ctx, fitOf(i), req, marker)
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				if first == nil {
					first = err
					cancel()
				}
				return
			}
			results[i] = *rec
			done++
			if progress != nil {
				progress(done, len(req.Markers), marker)
			}
		}()
	}
	wg.Wait()
	if first != nil {
		return nil, first
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	return results, nil
}

// markerRequest is the Cox request of one marker.
func markerRequest(req ScreenRequest, marker string) Request {
	cov := append([]string{marker}, req.Adjust...)
	var cox CoxSpec
	if req.Mode() == ScreenPredictive {
		// Cox(endpoint ~ treatment * marker + adjusters), treatment the indicator of the
		// treated level: R's coxph(Surv ~ trt * marker + ...), with trt = factor(treatment ==
		// treated).
		cov = append([]string{req.Treatment}, cov...)
		cox.Indicators = map[string]string{req.Treatment: req.Treated}
		cox.Interactions = []protocol.CoxInteraction{{A: req.Treatment, B: marker}}
	}
	levels := map[string][]string{}
	for _, v := range cov {
		if lv, ok := req.Levels[v]; ok {
			levels[v] = slices.Clone(lv)
		}
	}
	delete(levels, req.Treatment)
	if len(levels) == 0 {
		levels = nil
	}
	cox.Covariates, cox.Ties, cox.Form, cox.Levels = cov, req.Ties, req.Form, levels
	return Request{Kind: protocol.KindCox, Study: req.Study, CohortName: req.CohortName, Cohort: req.Cohort,
		Endpoint: req.Endpoint, Cox: &cox}
}

// screenMarker fits one marker's model and returns its record (what a stored screen keeps of
// it). Errors that say the marker is no test (refusals, a fit that fails on the data) make a
// record without a fit; errors that stop the screen (the network is lost, the request is
// invalid, the context ends) are returned.
func screenMarker(ctx context.Context, fit CoxFitter, req ScreenRequest, marker string) (*ScreenMarkerRecord, error) {
	rec := &ScreenMarkerRecord{Marker: marker}
	m, err := fit(ctx, markerRequest(req, marker))
	if err != nil {
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		var ae *Error
		switch {
		case errors.As(err, &ae) && ae.Code == ERefusedByPolicy:
			rec.Reason = "every site refused it"
			for _, p := range ae.Refused {
				rec.SitesOut = append(rec.SitesOut, SiteOut{p.Site, p.Message})
			}
		case ErrorCode(err) == EInvalid && ae != nil && len(ae.Refused) > 0:
			rec.Reason = "no site could build its model"
			for _, p := range ae.Refused {
				rec.SitesOut = append(rec.SitesOut, SiteOut{p.Site, p.Message})
			}
		case ErrorCode(err) == EUnavailable && strings.Contains(ErrorMessage(err), "round"):
			// A site stopped answering (or refused) in a later round: this marker's fit is lost.
			rec.Reason = ErrorMessage(err)
		default:
			return nil, err
		}
		return rec, nil
	}
	rec.Rounds = len(m.Rounds)
	for _, r := range m.Rounds[0].Replies {
		if r.Cox != nil && r.Cox.N == 0 {
			// An exact site answers for no complete case (the marker is not on its panel):
			// it took no part.
			rec.SitesOut = append(rec.SitesOut, SiteOut{r.Site, "no patient of the cohort has a result for this marker"})
			continue
		}
		rec.SitesUsed = append(rec.SitesUsed, r.Site)
	}
	for _, p := range append(slices.Clone(m.First.Refused), m.First.Invalid...) {
		rec.SitesOut = append(rec.SitesOut, SiteOut{p.Site, p.Message})
	}
	for _, site := range m.First.Missing {
		rec.SitesOut = append(rec.SitesOut, SiteOut{site, "did not answer in time"})
	}
	sort.Slice(rec.SitesOut, func(i, j int) bool { return rec.SitesOut[i].Site < rec.SitesOut[j].Site })
	rec.Model = m.Request.Cox
	if rec.Trace, err = buildTrace(m.Request, m.Rounds, m.Steps); err != nil {
		return nil, err
	}
	return rec, nil
}

// markerResult renders one marker of a screen from its record, live or reopened alike: the
// fit is replayed from its trace (renderCoxTrace), then the marker's terms, their joint Wald
// test and the per-site heterogeneity are computed from it.
func markerResult(req ScreenRequest, rec ScreenMarkerRecord) (*MarkerResult, error) {
	mr := &MarkerResult{Marker: rec.Marker, Chisq: math.NaN(), P: math.NaN(), Q: math.NaN(), I2: math.NaN(), Tau2: math.NaN(), HetQP: math.NaN(),
		Reason: rec.Reason, SitesUsed: rec.SitesUsed, SitesOut: rec.SitesOut, Rounds: rec.Rounds}
	if rec.Trace == nil {
		return mr, nil
	}
	coxReq := Request{Kind: protocol.KindCox, Study: req.Study, CohortName: req.CohortName, Cohort: req.Cohort, Endpoint: req.Endpoint, Cox: rec.Model}
	cox, err := renderCoxTrace(coxReq, rec.Trace)
	if err != nil {
		return nil, err
	}
	f := cox.Fit
	dp := len(rec.Trace.DPReplies) > 0
	if dp && len(rec.NoiseCov) > 0 {
		f = withDPNoise(f, rec.NoiseCov) // the Wald tests below then account for the noise
	}
	mr.N, mr.Events = f.N, f.Events
	idx := markerTerms(f.Terms, coxReq, rec.Marker, req)
	for _, k := range idx {
		mr.Terms = append(mr.Terms, ScreenTerm{Column: f.Terms[k], Coef: f.Coef[k], SE: f.SE[k], HR: f.HR[k], Lower: f.Lower[k], Upper: f.Upper[k], P: f.P[k]})
		if p := len(f.Coef); dp && len(rec.NoiseCov) == p*p {
			mr.Terms[len(mr.Terms)-1].NoiseSD = math.Sqrt(rec.NoiseCov[k*p+k])
		}
	}
	switch {
	case len(idx) == 0:
		mr.Reason = "the marker has no design column"
		return mr, nil
	case len(f.Infinite) > 0:
		mr.Reason = fmt.Sprintf("coefficient may be infinite (%s): a level without events or without censoring", strings.Join(f.Infinite, ", "))
		return mr, nil
	case cox.FitError != "":
		mr.Reason = "the fit did not converge: " + cox.FitError
		return mr, nil
	case dp && len(rec.NoiseCov) == 0:
		mr.Reason = "the release's noise could not be estimated (the fit diverges on most simulated noisy copies of the tables): its estimate cannot be told from the noise"
		return mr, nil
	}
	w, err := analysis.JointWald(f, idx)
	if err != nil {
		var ne []string
		for _, k := range idx {
			if slices.Contains(f.NotEstimable, f.Terms[k]) {
				ne = append(ne, f.Terms[k])
			}
		}
		mr.Reason = "not estimable"
		if len(ne) > 0 {
			mr.Reason += ": " + strings.Join(ne, ", ") + " constant or collinear with other terms (a level no patient holds, or in predictive mode a level without treated or untreated patients)"
		}
		return mr, nil
	}
	mr.Estimable = true
	mr.Chisq, mr.DF, mr.P = w.Stat, w.DF, w.P
	screenHeterogeneity(mr, coxReq, f, rec.Trace, idx)
	return mr, nil
}

// markerTerms returns the indexes of the marker's terms among a fit's terms: the columns the
// marker's own block produces (BuildDesign's names: the marker, or marker+level), or in
// predictive mode their interactions with the treated indicator (treatmentL:tp53mut).
func markerTerms(terms []string, req Request, marker string, sr ScreenRequest) []int {
	var names []string
	if lv, ok := req.Cox.Levels[marker]; ok {
		for _, l := range lv[1:] {
			names = append(names, marker+l)
		}
	} else {
		names = []string{marker}
	}
	if sr.Mode() == ScreenPredictive {
		for i, n := range names {
			names[i] = sr.Treatment + sr.Treated + ":" + n
		}
	}
	var idx []int
	for k, t := range terms {
		if slices.Contains(names, t) {
			idx = append(idx, k)
		}
	}
	return idx
}

// screenHeterogeneity fills the marker's per-site estimates and heterogeneity from the step of
// the fit evaluated at the final estimate (every fit ends with one), whose per-site
// contributions the trace keeps: each gives that site's one-step estimate, no further query. A
// site with fewer than MinSiteEvents events, or whose information is singular, is left out, as
// R's reference does.
//
// The pooled form has none: its two-phase protocol releases each site's risk-set sums without
// its own information matrix (only its share of the pooled one), so a site's own Newton step
// cannot be taken; I² and τ² stay NaN there (use the stratified form).
func screenHeterogeneity(mr *MarkerResult, req Request, f *analysis.CoxFit, tr *CoxTrace, idx []int) {
	if coxForm(req.Cox.Form) != protocol.CoxStratified {
		return
	}
	var last *CoxStep
	best := math.Inf(1)
	for i := range tr.Steps {
		st := &tr.Steps[i]
		if len(st.Sites) == 0 || len(st.Beta) != len(f.Coef) {
			continue
		}
		d := 0.0
		for k, b := range st.Beta {
			d = math.Max(d, math.Abs(b-f.Coef[k]))
		}
		if d < best {
			best, last = d, st
		}
	}
	if last == nil || best > 1e-6 {
		return
	}
	replies, err := last.siteReplies(tr.Columns)
	if err != nil {
		return
	}
	ties, _ := coxTies(req.Cox.Ties)
	var st []analysis.SiteTerms
	for _, rep := range replies {
		if rep.Cox == nil || rep.Cox.Events < MinSiteEvents {
			continue
		}
		c, _, err := coxRound([]protocol.Reply{rep}, protocol.CoxStratified, ties, last.Beta)
		if err != nil {
			continue
		}
		est, cov, err := analysis.OneStep(last.Beta, c, idx)
		if err != nil {
			continue
		}
		st = append(st, analysis.SiteTerms{Site: rep.Site, Est: est, Cov: cov})
	}
	mr.SiteTerms = st
	h, err := analysis.HeterogeneityOf(st)
	if err != nil {
		return
	}
	mr.I2, mr.Tau2, mr.HetQP, mr.HetSites = h.I2, h.Tau2, h.QP, h.Sites
}
