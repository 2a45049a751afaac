package app

import (
	"context"
	"fmt"
	"math"
	"slices"
	"strings"

	"github.com/oncofed/oncofed/analysis"
	"github.com/oncofed/oncofed/protocol"
)

// ChooseLOSO is RidgeSpec.Choose's leave-one-site-out choice of θ.
const ChooseLOSO = "loso"

// DefaultRidgeGrid is the θ grid of a leave-one-site-out choice when the request gives none:
// 0 (no penalty) and half-decades from 0.1 to 100.
var DefaultRidgeGrid = []float64{0, 0.1, 0.3, 1, 3, 10, 30, 100}

// maxRidgeGrid bounds the grid: each θ costs one fit per site.
const maxRidgeGrid = 16

// RidgeSpec is a Cox model's ridge (L2) penalty (docs/prediction.md, "Ridge penalty"): R's
// coxph(Surv ~ ridge(x1, …, theta = θ, scale = FALSE)) on the model's design columns, the
// penalty θ/2 Σ β_j² subtracted from the log partial likelihood. The client applies it to the
// released ℓ, U and H of every round (post-processing): sites answer exactly as for the
// unpenalized model.
type RidgeSpec struct {
	Theta float64 `json:"theta"`
	// Choose "loso" picks θ from Grid (DefaultRidgeGrid when empty) before the fit: the θ whose
	// fits on all sites but one give the largest summed partial log-likelihood of the held-out
	// sites (ChooseRidgeTheta). The request is stored as asked: the chosen θ is the result's
	// (CoxResult.RidgeChoice).
	Choose string    `json:"choose,omitempty"`
	Grid   []float64 `json:"grid,omitempty"`
	// Scale is R's scale = TRUE: each column's penalty weighed by its variance over the
	// cohort, from the sites' cohort summary (ridgescale.go).
	Scale bool `json:"scale,omitempty"`

	// The fitting copy's column variances over all the model's sites and each site's moments
	// behind them (a complement's variances); set by preparePenalty, never stored in the
	// request (the trace keeps the weights).
	weights []float64
	moments map[string]columnMoments
}

// ridge is the penalty of the fit; nil for no spec.
func (r *RidgeSpec) ridge() *analysis.Ridge {
	if r == nil {
		return nil
	}
	return &analysis.Ridge{Theta: r.Theta, Scale: r.weights}
}

// complementRidge is the penalty of a fit on the sites of others with θ: with Scale, weighed by
// the columns' variances over those sites, as R's ridge() computes them on the data it is
// given.
func (r *RidgeSpec) complementRidge(theta float64, others map[string]bool) (*analysis.Ridge, error) {
	if r == nil {
		return nil, nil
	}
	out := &analysis.Ridge{Theta: theta}
	if r.Scale {
		w, err := ridgeWeights(r.moments, others)
		if err != nil {
			return nil, err
		}
		out.Scale = w
	}
	return out, nil
}

// grid is the θ grid of the choice.
func (r *RidgeSpec) grid() []float64 {
	if len(r.Grid) > 0 {
		return r.Grid
	}
	return DefaultRidgeGrid
}

// String describes the penalty for titles and text output: "ridge θ = 3 (chosen leave one
// site out)".
func (r *RidgeSpec) String() string {
	if r == nil {
		return ""
	}
	s := "ridge θ = " + trimFloat(r.Theta)
	if r.Scale {
		s += ", scaled by the columns' variances"
	}
	if r.Choose == ChooseLOSO {
		s += " (chosen leave one site out)"
	}
	return s
}

func trimFloat(v float64) string { return strings.TrimSuffix(fmt.Sprintf("%.6g", v), ".") }

// validateRidge checks a request's penalty: θ finite and non-negative, a known choice with a
// usable grid, and a form the penalty applies to.
func validateRidge(spec *CoxSpec) error {
	r := spec.Penalty
	if r == nil {
		return nil
	}
	if coxForm(spec.Form) == protocol.CoxDPTables {
		return Errorf(EInvalid, "the ridge penalty is not offered for the differentially private Cox form")
	}
	if !(r.Theta >= 0) || math.IsInf(r.Theta, 0) {
		return Errorf(EInvalid, "ridge penalty: θ = %v is not a finite number ≥ 0", r.Theta)
	}
	switch r.Choose {
	case "":
	case ChooseLOSO:
		if spec.Strata != "" {
			return Errorf(EInvalid, "the leave-one-site-out choice of θ fits the model stratified by site or the pooled one, without strata within sites")
		}
		if len(r.Grid) > maxRidgeGrid {
			return Errorf(EInvalid, "ridge penalty: %d values of θ to try; at most %d (each costs one fit per site)", len(r.Grid), maxRidgeGrid)
		}
		for _, t := range r.Grid {
			if !(t >= 0) || math.IsInf(t, 0) {
				return Errorf(EInvalid, "ridge penalty: θ = %v in the grid is not a finite number ≥ 0", t)
			}
		}
	default:
		return Errorf(EInvalid, "ridge penalty: unknown choice of θ %q (loso)", r.Choose)
	}
	return nil
}

// RidgeChoice is the leave-one-site-out choice of a ridge penalty's θ: the curve (per θ, each
// site's held-out partial log-likelihood and their sum), the chosen point, and the sites left
// out of every point of the curve with the reason (a site must count at every θ for the sums
// to compare).
type RidgeChoice struct {
	Points []analysis.RidgeCVPoint
	Best   int
	SatOut []SiteProblem
}

// Theta is the chosen θ.
func (c *RidgeChoice) Theta() float64 { return c.Points[c.Best].Theta }

// ChooseRidgeTheta chooses the ridge penalty of the Cox model of req (stratified by site or
// pooled) leave one site out: for each θ of the grid and each site s, the penalized model is
// fitted on all other sites (the rounds of one fit, as ValidateLOSO does), then site s alone
// is asked the ordinary stratified Cox round at that β̂ and its partial log-likelihood ℓ_s(β̂)
// is read from the reply: the same release, under the same rules, as a round of a fit
// stratified by site, so no new kind of figure leaves a site. The chosen θ maximizes
// Σ_s ℓ_s(β̂₋ₛ(θ)) (analysis.BestRidgeTheta). A site that refuses, or whose complement cannot
// be fitted at some θ, is left out of every θ and named.
func (s *Service) ChooseRidgeTheta(ctx context.Context, req Request) (*RidgeChoice, error) {
	if req.Cox == nil || req.Cox.Penalty == nil {
		return nil, Errorf(EInvalid, "no ridge penalty to choose")
	}
	pl, err := s.losoPlan(ctx, req, "the leave-one-site-out choice of θ")
	if err != nil {
		return nil, err
	}
	grid := req.Cox.Penalty.grid()
	heldOut := make([]map[string]float64, len(grid))
	failed := map[string]string{}
	for k, theta := range grid {
		heldOut[k] = map[string]float64{}
		for _, held := range pl.sites {
			if _, bad := failed[held]; bad {
				continue
			}
			ridge, err := req.Cox.Penalty.complementRidge(theta, pl.others(held))
			if err != nil {
				failed[held] = err.Error()
				continue
			}
			ll, why := s.heldOutLogLik(ctx, pl, held, analysis.CoxOptions{Terms: pl.terms, Ridge: ridge})
			if why != "" {
				failed[held] = fmt.Sprintf("θ = %s: %s", trimFloat(theta), why)
				continue
			}
			heldOut[k][held] = ll
		}
	}
	out := &RidgeChoice{SatOut: slices.Clone(pl.satOut)}
	for _, site := range sortedKeys(failed) {
		out.SatOut = append(out.SatOut, SiteProblem{Site: site, Message: failed[site]})
	}
	for k, theta := range grid {
		pt := analysis.RidgeCVPoint{Theta: theta}
		for _, site := range pl.sites {
			if _, bad := failed[site]; bad {
				continue
			}
			pt.Sites = append(pt.Sites, site)
			pt.HeldOut = append(pt.HeldOut, heldOut[k][site])
			pt.Total += heldOut[k][site]
		}
		out.Points = append(out.Points, pt)
	}
	if len(out.Points[0].Sites) == 0 {
		return nil, Errorf(ERefusedByPolicy, "no site could be held out at every θ, so θ cannot be chosen leave one site out")
	}
	if out.Best = analysis.BestRidgeTheta(out.Points); out.Best < 0 {
		return nil, Errorf(EInternal, "the held-out log-likelihoods are not finite")
	}
	return out, nil
}

// heldOutLogLik fits the model of opts on every site of pl but held and returns held's
// partial log-likelihood at that β̂, or why it has none.
func (s *Service) heldOutLogLik(ctx context.Context, pl *losoRun, held string, opts analysis.CoxOptions) (float64, string) {
	fit, _, err := pl.fit(ctx, pl.others(held), pl.p, pl.ties, opts, pl.coxQuery)
	if err != nil || fit == nil || len(fit.NotEstimable) > 0 {
		why := "the model could not be fitted without this site"
		if err != nil {
			why += ": " + err.Error()
		}
		return 0, why
	}
	g, err := s.queryEach(ctx, map[string]protocol.Query{held: pl.coxQuery(protocol.CoxStratified, fit.Coef)})
	if err != nil {
		return 0, err.Error()
	}
	for _, r := range g.Replies {
		if r.Site == held && r.Cox != nil {
			return r.Cox.LogLik, ""
		}
	}
	for _, pr := range append(slices.Clone(g.Refused), g.Invalid...) {
		if pr.Site == held {
			return 0, pr.Message
		}
	}
	return 0, "did not answer"
}

// preparePenalty returns the request to fit (its own copy of the model spec): with scale =
// TRUE, the columns' variances from the cohort summary; with θ chosen leave one site out, the
// chosen θ, and the choice. A request without a penalty is returned as is.
func (s *Service) preparePenalty(ctx context.Context, req Request) (Request, *RidgeChoice, error) {
	if req.Cox == nil || req.Cox.Penalty == nil {
		return req, nil, nil
	}
	fit := withPenalty(req, *req.Cox.Penalty)
	pen := fit.Cox.Penalty
	if pen.Scale {
		var err error
		if pen.moments, err = s.ridgeMoments(ctx, req); err != nil {
			return req, nil, err
		}
		if pen.weights, err = ridgeWeights(pen.moments, nil); err != nil {
			return req, nil, err
		}
	}
	if pen.Choose != ChooseLOSO {
		return fit, nil, nil
	}
	choice, err := s.ChooseRidgeTheta(ctx, fit)
	if err != nil {
		return req, nil, err
	}
	pen.Theta = choice.Theta()
	return fit, choice, nil
}

// withPenalty returns req with its own copy of the model spec, whose penalty is pen.
func withPenalty(req Request, pen RidgeSpec) Request {
	spec := *req.Cox
	spec.Penalty = &pen
	req.Cox = &spec
	return req
}

// fittedRequest is the stored request as its model was fitted: the θ of the stored choice and
// the stored column variances (nil: none) on its own copy of the penalty.
func fittedRequest(req Request, choice *RidgeChoice, weights []float64) Request {
	if req.Cox == nil || req.Cox.Penalty == nil {
		return req
	}
	pen := *req.Cox.Penalty
	if choice != nil {
		pen.Theta = choice.Theta()
	}
	if pen.Scale {
		pen.weights = weights
	}
	return withPenalty(req, pen)
}

// RidgeChoiceRecord is a RidgeChoice as stored in a Cox result's trace, numbers kept exactly.
type RidgeChoiceRecord struct {
	Theta   protocol.Float64s `json:"theta"`
	Sites   []string          `json:"sites"`
	HeldOut protocol.Float64s `json:"held_out"` // per θ, per site, row-major
	SatOut  []SiteProblem     `json:"sat_out,omitempty"`
}

func ridgeChoiceRecord(c *RidgeChoice) *RidgeChoiceRecord {
	if c == nil {
		return nil
	}
	rec := &RidgeChoiceRecord{Sites: slices.Clone(c.Points[0].Sites), SatOut: slices.Clone(c.SatOut)}
	for _, pt := range c.Points {
		rec.Theta = append(rec.Theta, pt.Theta)
		rec.HeldOut = append(rec.HeldOut, pt.HeldOut...)
	}
	return rec
}

// result rebuilds the choice (sums and best θ recomputed) from its record.
func (r *RidgeChoiceRecord) result() (*RidgeChoice, error) {
	n := len(r.Sites)
	if len(r.Theta) == 0 || len(r.HeldOut) != n*len(r.Theta) {
		return nil, Errorf(EInternal, "the stored choice of θ is incomplete")
	}
	out := &RidgeChoice{SatOut: slices.Clone(r.SatOut)}
	for k, theta := range r.Theta {
		pt := analysis.RidgeCVPoint{Theta: theta, Sites: slices.Clone(r.Sites), HeldOut: slices.Clone(r.HeldOut[k*n : (k+1)*n])}
		for _, v := range pt.HeldOut {
			pt.Total += v
		}
		out.Points = append(out.Points, pt)
	}
	out.Best = analysis.BestRidgeTheta(out.Points)
	if out.Best < 0 {
		return nil, Errorf(EInternal, "the stored choice of θ has no finite point")
	}
	return out, nil
}

// FittedPenalty is the ridge penalty r's model was fitted with: the request's, with the θ
// chosen leave one site out when it was; nil for a model without a penalty.
func FittedPenalty(r *Result) *RidgeSpec {
	if r == nil || r.Request.Cox == nil || r.Request.Cox.Penalty == nil {
		return nil
	}
	if r.Cox != nil {
		return fittedRequest(r.Request, r.Cox.RidgeChoice, r.Cox.RidgeScale).Cox.Penalty
	}
	return r.Request.Cox.Penalty
}
