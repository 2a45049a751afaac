package app

import (
	"context"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"

	"github.com/oncofed/oncofed/analysis"
	"github.com/oncofed/oncofed/protocol"
)

// Prediction for one patient (docs/prediction.md). The pooled Cox model's baseline comes from
// the phase-1 sums the fit already received at β̂ (no query of its own); the profile is
// turned into a design row and the curve computed here, on the analyst's machine: no query
// carries it. Only the cohort's linear-predictor histogram is asked of the sites, with β̂.

// DefaultLPBinWidth is the grid width of the linear-predictor histogram: a tenth of a log
// hazard ratio (about 10% in hazard between neighbouring cells).
const DefaultLPBinWidth = 0.1

// Prediction is a pooled Cox model's predicted survival for one profile.
type Prediction struct {
	Profile map[string]string
	// X is the profile's design row, in the order of Terms (the model's columns).
	X     []float64
	Terms []string
	Curve *analysis.PredictedSurvival
	// At is the curve read at the requested times (landmarks).
	At []analysis.SurvivalPoint
}

// errNoBaseline says why a model cannot predict: only the pooled form has a baseline hazard.
func errNoBaseline(r *Result) error {
	if r.Request.Cox != nil && coxForm(r.Request.Cox.Form) == protocol.CoxDPTables && !r.Request.Cox.DPPooled {
		return Errorf(EInvalid, "the model stratified by site has no shared baseline hazard (each site keeps its own), so it cannot predict a patient's survival; "+
			"fit the pooled model (--strata none): for an analyst of role dp it is fitted on the same differentially private tables, with no further query or ρ")
	}
	if r.Cox == nil || r.Request.Cox == nil {
		return Errorf(EInvalid, "only a Cox model predicts survival for a patient")
	}
	if f := coxForm(r.Request.Cox.Form); f != protocol.CoxPooled && f != protocol.CoxDPTables {
		return Errorf(EInvalid, "the model stratified by site has no shared baseline hazard (each site keeps its own), so it cannot predict a patient's survival; "+
			"fit the pooled model (--strata none), which sites answer only when their policy allows it (allow_pooled_cox)")
	}
	if r.Cox.FitError != "" {
		return Errorf(EInvalid, "the model did not converge (%s): it does not predict", r.Cox.FitError)
	}
	return Errorf(EInvalid, "this result keeps no baseline hazard (%s); fit the model again", firstNonEmpty(r.Cox.NoBaseline, "it was stored before prediction existed"))
}

func firstNonEmpty(ss ...string) string {
	for _, s := range ss {
		if s != "" {
			return s
		}
	}
	return ""
}

// Predict computes the survival curve of profile (covariate → value, as typed) under the
// pooled Cox model of r, with its pointwise 95% interval, and reads it at times. It runs on
// the analyst's machine alone: it sends nothing.
func Predict(r *Result, profile map[string]string, times []float64) (*Prediction, error) {
	if r.Cox == nil || r.Cox.Baseline == nil || r.Cox.Fit == nil {
		return nil, errNoBaseline(r)
	}
	fit := r.Cox.Fit
	x, err := ProfileDesign(r.Request.Cox, profile)
	if err != nil {
		return nil, err
	}
	if len(x) != len(fit.Terms) {
		return nil, Errorf(EInternal, "the profile has %d design columns, the model %d", len(x), len(fit.Terms))
	}
	for k, t := range times {
		if math.IsNaN(t) || t < 0 || (k > 0 && t <= times[k-1]) {
			return nil, Errorf(EInvalid, "times: %v is not a non-negative time after %v", t, times[max(k-1, 0)])
		}
	}
	curve, err := r.Cox.Baseline.Predict(x, fit.Coef, fit.Vcov, 0.95)
	if err != nil {
		return nil, WrapError(EInvalid, err, "the profile cannot be predicted")
	}
	return &Prediction{Profile: profile, X: x, Terms: slices.Clone(fit.Terms), Curve: curve, At: curve.At(times)}, nil
}

// ParseProfile reads a profile typed as "var=value,var=value" (the CLI's --predict). Each
// variable once; values are kept as typed and checked against the model by ProfileDesign.
func ParseProfile(s string) (map[string]string, error) {
	out := map[string]string{}
	for i, kv := range strings.Split(s, ",") {
		kv = strings.TrimSpace(kv)
		if kv == "" {
			continue
		}
		k, v, ok := strings.Cut(kv, "=")
		k, v = strings.TrimSpace(k), strings.TrimSpace(v)
		if !ok || k == "" || v == "" {
			return nil, Errorf(EInvalid, "profile item %d (%q) is not var=value", i+1, kv)
		}
		if _, dup := out[k]; dup {
			return nil, Errorf(EInvalid, "profile item %d: %s given twice", i+1, k)
		}
		out[k] = v
	}
	if len(out) == 0 {
		return nil, Errorf(EInvalid, "the profile is empty: give var=value for every covariate of the model")
	}
	return out, nil
}

// ProfileDesign turns a profile into the model's design row, with the design the sites build
// (analysis.BuildDesignInteractions: treatment contrasts in the model's level order, an
// indicator covariate as [not level, level], interactions after the main effects). Every
// covariate needs a value; a name outside the model, a level outside the covariate's, or a
// numeric value that does not parse is an error naming it.
func ProfileDesign(spec *CoxSpec, profile map[string]string) ([]float64, error) {
	if spec == nil {
		return nil, Errorf(EInvalid, "no model")
	}
	levels := map[string][]string{}
	for name, lv := range spec.Levels {
		levels[name] = lv
	}
	for name, l := range spec.Indicators {
		levels[name] = []string{"not " + l, l}
	}
	in := map[string]bool{}
	cols := make([]analysis.CovariateColumn, 0, len(spec.Covariates))
	for _, name := range spec.Covariates {
		in[name] = true
		v, ok := profile[name]
		if !ok {
			return nil, Errorf(EInvalid, "the profile gives no value for %s (the model's covariates: %s)", name, strings.Join(spec.Covariates, ", "))
		}
		lv, categorical := levels[name]
		if !categorical {
			f, err := strconv.ParseFloat(v, 64)
			if err != nil || math.IsNaN(f) || math.IsInf(f, 0) {
				return nil, Errorf(EInvalid, "profile: %s=%q is not a number", name, v)
			}
			cols = append(cols, analysis.CovariateColumn{Name: name, Numeric: []float64{f}})
			continue
		}
		if l, ok := spec.Indicators[name]; ok && v != l {
			v = "not " + l // any other arm
		}
		if !slices.Contains(lv, v) {
			return nil, Errorf(EInvalid, "profile: %s=%q is not a level of %s (%s)", name, v, name, strings.Join(lv, ", "))
		}
		cols = append(cols, analysis.CovariateColumn{Name: name, Categorical: []string{v}})
	}
	for name := range profile {
		if !in[name] {
			return nil, Errorf(EInvalid, "profile: %s is not a covariate of the model (%s)", name, strings.Join(spec.Covariates, ", "))
		}
	}
	inter := make([]analysis.Interaction, len(spec.Interactions))
	for i, it := range spec.Interactions {
		inter[i] = analysis.Interaction{A: it.A, B: it.B}
	}
	x, _, _, _, err := analysis.BuildDesignInteractions(cols, levels, inter)
	if err != nil {
		return nil, WrapError(EInvalid, err, "the profile does not fit the model's design")
	}
	return x, nil
}

// coxBaseline builds a pooled model's baseline from the fit's rounds, while they still hold
// the sites' replies: the phase-1 round at β̂ (the fit evaluated ℓ there; non-estimable terms
// are 0 on the wire).
func coxBaseline(rounds []Round, fit *analysis.CoxFit, ties analysis.Ties) (*analysis.CoxBaseline, error) {
	p := len(fit.Coef)
	beta := make([]float64, p)
	for j, b := range fit.Coef {
		if !math.IsNaN(b) {
			beta[j] = b
		}
	}
	best, bestGap := -1, math.Inf(1)
	for i, rd := range rounds {
		q := rd.Query.Cox
		if q == nil || q.Form != protocol.CoxPooledSums || len(q.Beta) != p {
			continue
		}
		gap := 0.0
		for j, b := range q.Beta {
			gap = math.Max(gap, math.Abs(b-beta[j])/(1+math.Abs(beta[j])))
		}
		if gap <= bestGap {
			best, bestGap = i, gap
		}
	}
	if best < 0 || bestGap > 1e-12 {
		return nil, fmt.Errorf("no round of the fit at its coefficients")
	}
	var rows [][]analysis.RiskSetRow
	for _, rep := range rounds[best].Replies {
		if rep.Cox == nil {
			return nil, fmt.Errorf("site %s: no sums in the round at the coefficients", rep.Site)
		}
		rows = append(rows, riskSetRows(rep.Cox.Rows))
	}
	b, err := analysis.PooledCoxBaseline(rows, p, ties)
	if err != nil {
		return nil, err
	}
	// The sites centred numeric covariates on the fit's origin (docs/cox-protocol.md,
	// "Centring"): the baseline is at x = origin.
	if o := rounds[best].Query.Cox.Origin; len(o) > 0 {
		b.Origin = make([]float64, p)
		for j, term := range fit.Terms {
			b.Origin[j] = o[term]
		}
	}
	return b, nil
}

// riskSetRows converts a reply's risk-set rows for analysis.
func riskSetRows(rs protocol.CoxRows) []analysis.RiskSetRow {
	out := make([]analysis.RiskSetRow, len(rs))
	for k, r := range rs {
		out[k] = analysis.RiskSetRow{Time: r.Time, D: r.D, R0: r.R0, R1: r.R1, R2: r.R2, E0: r.E0, E1: r.E1, E2: r.E2}
	}
	return out
}

// LPHistogramResult is the cohort's distribution of the model's linear predictor as the sites
// released it: each site's histogram (its bins merged to its min_cell), their sum on the
// boundaries every site released (Pooled, coarse when sites are small), and the bounds of the
// distribution function at every boundary any site released.
type LPHistogramResult struct {
	PerSite []analysis.LPHistogram // in the order of Sites
	Pooled  analysis.LPHistogram
	CDF     []analysis.LPCDFPoint
	Sites   []string      // the sites that released theirs
	Refused []SiteProblem // model sites that refused (named, with their reason)
	Missing []string      // model sites that did not answer
}

// LPHistogram asks the model's sites for the distribution of x'β̂ over their complete cases
// (cox form lp_histogram; β̂ only — never a profile) and pools it. width is the grid width
// (DefaultLPBinWidth when 0).
func (s *Service) LPHistogram(ctx context.Context, r *Result, width float64) (*LPHistogramResult, error) {
	if r.Cox == nil || r.Cox.Baseline == nil || r.Cox.Fit == nil {
		return nil, errNoBaseline(r)
	}
	if width == 0 {
		width = DefaultLPBinWidth
	}
	if replies := dpTablesOf(r); len(replies) > 0 {
		return dpLPHistogram(r, replies, width)
	}
	req := r.Request
	ties, err := coxTies(req.Cox.Ties)
	if err != nil {
		return nil, err
	}
	beta := make([]float64, len(r.Cox.Fit.Coef))
	for j, b := range r.Cox.Fit.Coef {
		if !math.IsNaN(b) {
			beta[j] = b
		}
	}
	q := s.baseQuery(req)
	q.ID = s.newID()
	q.Cox = &protocol.CoxRequest{Form: protocol.CoxLPHistogram, Ties: ties.String(), Covariates: req.Cox.Covariates,
		Levels: req.Cox.Levels, Beta: beta, Indicators: req.Cox.Indicators, Interactions: req.Cox.Interactions, LPBinWidth: width}
	g, err := s.query(ctx, q)
	if err != nil {
		return nil, err
	}
	model := map[string]bool{}
	for _, site := range r.Provenance.Answered {
		model[site] = true
	}
	out := &LPHistogramResult{}
	var hs []analysis.LPHistogram
	got := map[string]bool{}
	for _, rep := range sortReplies(g.Replies) {
		if !model[rep.Site] || rep.Cox == nil || rep.Cox.LPHistogram == nil {
			continue
		}
		got[rep.Site] = true
		out.Sites = append(out.Sites, rep.Site)
		hs = append(hs, analysis.LPHistogram{Width: width, Cuts: rep.Cox.LPHistogram.Cuts, Counts: rep.Cox.LPHistogram.Counts})
	}
	for _, p := range g.Refused {
		if model[p.Site] {
			out.Refused = append(out.Refused, p)
			got[p.Site] = true
		}
	}
	for _, site := range r.Provenance.Answered {
		if !got[site] {
			out.Missing = append(out.Missing, site)
		}
	}
	if len(hs) == 0 {
		e := Errorf(ERefusedByPolicy, "no site of the model released the linear-predictor histogram")
		e.Refused = out.Refused
		return nil, e
	}
	if out.Pooled, err = analysis.PoolLPHistograms(hs); err != nil {
		return nil, WrapError(EInvalid, err, "the sites' histograms do not combine")
	}
	out.PerSite, out.CDF = hs, analysis.LPCDFBounds(hs)
	return out, nil
}

// Locate places a linear predictor among the cohort's: patients certainly below it, in a
// released bin that holds it, and certainly above (analysis.LocateAmong).
func (h *LPHistogramResult) Locate(lp float64) (below, in, above int) {
	return analysis.LocateAmong(h.PerSite, lp)
}
