package analysis

import (
	"fmt"
	"math"
	"slices"

	"gonum.org/v1/gonum/stat/distuv"
)

// CoxBaseline is the baseline of a pooled (unstratified) Cox model at its β̂, built from the
// sites' phase-1 sums (TimeSums) at β̂: what R's survfit.coxph computes from the patients
// (survival's agsurv) to predict a curve for new covariates. Everything is uncentred (lp = x'β),
// so a predicted curve is invariant to R's centring at fit$means.
//
// At each pooled distinct event time t_k with d_k events, risk-set sum S0 = Σ_{T ≥ t} w,
// S1 = Σ_{T ≥ t} w x and, over the events at t, E0 and E1 (w = exp(x'β̂)), with
// den_l = S0 − (l/d) E0 under Efron (R's ctype 2) and den_l = S0 under Breslow (ctype 1):
//
//	hazard   dΛ_k = Σ_l 1/den_l                      (Breslow: d/S0)
//	varhaz   dV_k = Σ_l 1/den_l²                     (Breslow: d/S0²)
//	xbar     dX_k = Σ_l (S1 − (l/d) E1)/den_l²       (Breslow: d S1/S0²)
//
// and CumHaz, VarHaz, XBar are their running sums.
type CoxBaseline struct {
	Ties   Ties
	P      int
	Time   []float64 // pooled distinct event times, increasing
	Events []int     // d_k
	CumHaz []float64 // Λ₀(t_k) at lp = 0 (R: basehaz(fit, centered = FALSE))
	VarHaz []float64 // Σ_{j ≤ k} dV_j
	XBar   []float64 // Σ_{j ≤ k} dX_j, len(Time)×P row-major
	// LastTime is the largest pooled released time (event or censoring): a prediction is
	// defined up to it, as R's summary(survfit(...), times) drops later times.
	LastTime float64
	// Origin is what the sites subtracted from each design column before forming the sums
	// the baseline comes from (a pooled fit's cox.origin; nil: nothing): "lp = 0" above is at
	// x = Origin, and Predict shifts a profile by it.
	Origin []float64 `json:",omitempty"`
}

// PooledCoxBaseline pools the sites' phase-1 rows at β̂ (the rows of the fit's last
// evaluation at its coefficients) into the model's baseline. Rows with equal Time across sites
// are one distinct time. Malformed rows return an error naming the site and row. O(R (K + p)).
func PooledCoxBaseline(sites [][]RiskSetRow, p int, ties Ties) (*CoxBaseline, error) {
	for s, rows := range sites {
		if err := checkTimeSums(s, rows, p); err != nil {
			return nil, err
		}
	}
	type timeSums struct {
		t      float64
		d      int
		s0, e0 float64
		s1, e1 []float64
	}
	var rev []timeSums // pooled event times, latest first, with running S0, S1
	last := math.Inf(-1)
	for _, rows := range sites {
		if len(rows) > 0 {
			last = math.Max(last, rows[len(rows)-1].Time)
		}
	}
	_ = walkPooledBackward(sites, p, func(at *pooledAtTime) error {
		if at.D > 0 {
			rev = append(rev, timeSums{t: at.T, d: at.D, s0: at.S0, e0: at.E0, s1: slices.Clone(at.S1), e1: slices.Clone(at.E1)})
		}
		return nil
	})
	if len(rev) == 0 {
		return nil, ErrNoEvents
	}
	b := &CoxBaseline{Ties: ties, P: p, LastTime: last}
	var cum, cumVar float64
	cumX := make([]float64, p)
	for k := len(rev) - 1; k >= 0; k-- {
		ts := rev[k]
		haz, varh, dx := baselineStep(ts.s0, ts.e0, ts.s1, ts.e1, ts.d, ties)
		cum += haz
		cumVar += varh
		for j := range cumX {
			cumX[j] += dx[j]
		}
		b.Time = append(b.Time, ts.t)
		b.Events = append(b.Events, ts.d)
		b.CumHaz = append(b.CumHaz, cum)
		b.VarHaz = append(b.VarHaz, cumVar)
		b.XBar = append(b.XBar, cumX...)
	}
	return b, nil
}

// baselineStep is one event time's increments of the hazard, its variance and xbar (survival's
// agsurv and its C helper agsurv5).
func baselineStep(s0, e0 float64, s1, e1 []float64, d int, ties Ties) (haz, varh float64, dx []float64) {
	dx = make([]float64, len(s1))
	fd := float64(d)
	if ties == Breslow || d == 1 {
		for j, v := range s1 {
			dx[j] = fd * v / (s0 * s0)
		}
		return fd / s0, fd / (s0 * s0), dx
	}
	for l := 0; l < d; l++ {
		f := float64(l) / fd
		inv := 1 / (s0 - f*e0)
		haz += inv
		varh += inv * inv
		for j := range dx {
			dx[j] += (s1[j] - f*e1[j]) * inv * inv
		}
	}
	return haz, varh, dx
}

// PredictedSurvival is a Cox model's survival curve for one covariate profile, with its
// pointwise confidence interval: R's survfit(fit, newdata = profile) (stype 2, conf.type
// "log").
type PredictedSurvival struct {
	LP   float64   // the profile's linear predictor x'β̂ (uncentred)
	Time []float64 // the model's event times
	// Surv = exp(−Λ₀(t) e^{lp}); StdErr is the standard error of the cumulative hazard
	// Λ(t | x) (R's std.err); Lower, Upper = Surv·exp(∓z StdErr), Upper capped at 1.
	Surv, StdErr, Lower, Upper []float64
	Level                      float64
	LastTime                   float64 // see CoxBaseline.LastTime
}

// Predict returns the survival curve of profile x (one value per design column) under the
// model with coefficients beta and variance vcov (p×p row-major, CoxFit.Vcov), with pointwise
// intervals at level (0.95 when 0). The variance of the cumulative hazard is R's
// (Therneau & Grambsch 2000, §10.2; survival's coxsurv.fit):
//
//	Var Λ(t | x) = e^{2 lp} [ V(t) + q(t)' Vcov q(t) ],   q(t) = Λ₀(t) x − X̄(t).
//
// Non-estimable terms (NaN coefficient) count as 0 and leave the quadratic form. A profile or
// vcov of the wrong length panics; a non-finite profile value is an error.
func (b *CoxBaseline) Predict(x, beta, vcov []float64, level float64) (*PredictedSurvival, error) {
	p := b.P
	if len(x) != p || len(beta) != p || len(vcov) != p*p {
		panic(fmt.Sprintf("analysis: CoxBaseline.Predict: %d profile values, %d coefficients and %d variances for p = %d", len(x), len(beta), len(vcov), p))
	}
	if level == 0 {
		level = 0.95
	}
	if !(level > 0 && level < 1) {
		return nil, fmt.Errorf("analysis: predict: confidence level %v is not in (0, 1)", level)
	}
	if !allFiniteValues(x) {
		return nil, fmt.Errorf("analysis: predict: a profile value is not finite")
	}
	kept := make([]bool, p)
	lp := 0.0 // x'β, reported
	for j, v := range beta {
		if kept[j] = !math.IsNaN(v); kept[j] {
			lp += v * x[j]
		}
	}
	risk := math.Exp(lp)
	if b.Origin != nil {
		// The baseline is at x = Origin: the curve is that of x − Origin.
		x = slices.Clone(x)
		lpc := 0.0
		for j, o := range b.Origin {
			x[j] -= o
			if kept[j] {
				lpc += beta[j] * x[j]
			}
		}
		risk = math.Exp(lpc)
	}
	z := distuv.UnitNormal.Quantile(1 - (1-level)/2)
	n := len(b.Time)
	out := &PredictedSurvival{LP: lp, Time: slices.Clone(b.Time), Level: level, LastTime: b.LastTime,
		Surv: make([]float64, n), StdErr: make([]float64, n), Lower: make([]float64, n), Upper: make([]float64, n)}
	q := make([]float64, p)
	for k := range b.Time {
		h := b.CumHaz[k]
		for j := range q {
			q[j] = h*x[j] - b.XBar[k*p+j]
		}
		quad := 0.0
		for i := 0; i < p; i++ {
			if !kept[i] {
				continue
			}
			for j := 0; j < p; j++ {
				if kept[j] {
					quad += q[i] * vcov[i*p+j] * q[j]
				}
			}
		}
		se := risk * math.Sqrt(b.VarHaz[k]+quad)
		s := math.Exp(-h * risk)
		out.Surv[k], out.StdErr[k] = s, se
		out.Lower[k] = math.Exp(math.Log(s) - z*se)
		out.Upper[k] = math.Min(1, math.Exp(math.Log(s)+z*se))
	}
	return out, nil
}

// SurvivalPoint is a predicted curve read at one time.
type SurvivalPoint struct {
	Time                       float64
	Surv, StdErr, Lower, Upper float64
	// Beyond is true past the model's last released time, where the curve is not defined (R's
	// summary(..., times) drops such times); the figures are then NaN.
	Beyond bool
}

// At reads the curve at the given times as a step function (R's summary(survfit(...),
// times = t)): before the first event time survival is 1 with a zero standard error.
func (ps *PredictedSurvival) At(times []float64) []SurvivalPoint {
	out := make([]SurvivalPoint, len(times))
	for i, t := range times {
		if t > ps.LastTime || math.IsNaN(t) {
			nan := math.NaN()
			out[i] = SurvivalPoint{Time: t, Surv: nan, StdErr: nan, Lower: nan, Upper: nan, Beyond: true}
			continue
		}
		k, found := slices.BinarySearch(ps.Time, t)
		if !found {
			k--
		}
		if k < 0 {
			out[i] = SurvivalPoint{Time: t, Surv: 1, Lower: 1, Upper: 1}
			continue
		}
		out[i] = SurvivalPoint{Time: t, Surv: ps.Surv[k], StdErr: ps.StdErr[k], Lower: ps.Lower[k], Upper: ps.Upper[k]}
	}
	return out
}

// CumHazAt returns Λ₀ at each landmark (0 before the first event time), as the validate
// form's cox.baseline_cumhaz takes it. Landmarks past LastTime return an error.
func (b *CoxBaseline) CumHazAt(landmarks []float64) ([]float64, error) {
	out := make([]float64, len(landmarks))
	for i, t := range landmarks {
		if t > b.LastTime || math.IsNaN(t) {
			return nil, fmt.Errorf("analysis: baseline hazard: landmark %v is past the last released time %v", t, b.LastTime)
		}
		k, found := slices.BinarySearch(b.Time, t)
		if !found {
			k--
		}
		if k >= 0 {
			out[i] = b.CumHaz[k]
		}
	}
	return out, nil
}
