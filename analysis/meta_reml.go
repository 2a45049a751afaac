package analysis

import (
	"errors"
	"fmt"
	"math"
	"slices"

	"gonum.org/v1/gonum/stat/distuv"
)

// RandomEffects is a random-effects meta-analysis with the restricted maximum likelihood
// (REML) between-site variance and the prediction interval of a new site's true effect.
type RandomEffects struct {
	Sites    []string
	Excluded []ExcludedSite
	Level    float64

	Estimate, SE, Lower, Upper float64 // μ̂, its SE and Wald interval
	// PredictionLower and PredictionUpper bound the effect expected at a new site:
	// μ̂ ± z_{1−α/2} √(τ̂² + SE(μ̂)²) (metafor's predict() with its default test = "z").
	PredictionLower, PredictionUpper float64
	Tau2, Q, I2                      float64
	Iterations                       int
}

// ErrREMLNotConverged is returned when the REML iterations do not settle.
var ErrREMLNotConverged = errors.New("analysis: meta-analysis: REML did not converge")

// MetaAnalyzeREML pools per-site estimates θ_i with standard errors s_i (v_i = s_i²) under the
// random-effects model θ_i ~ N(μ, v_i + τ²), τ² by restricted maximum likelihood (Viechtbauer
// 2005, J Educ Behav Stat 30:261), as metafor::rma(yi, sei = sei, method = "REML") and
// predict() compute it. With w_i = 1/(v_i + τ²), P = W − W11'W/Σw, Fisher scoring
//
//	τ² ← max(0, τ² + (y'PPy − tr P) / tr(PP)),
//
// from the DerSimonian–Laird value, until the step is below 1e-12 (metafor's default
// threshold is 1e-5; its golden here uses 1e-12, the optimum itself). Then
// μ̂ = Σ w_i θ_i / Σ w_i, SE = 1/√Σw_i, and the 95% prediction interval
// μ̂ ± z √(τ̂² + SE²). I² = τ̂²/(τ̂² + s̃²), s̃² = (k − 1) Σ(1/v_i) / ((Σ1/v_i)² − Σ1/v_i²).
//
// The literature on internal–external validation pools the C statistic on the logit scale
// and prefers REML (Debray et al. 2017, BMJ 356:i6460; Riley et al. 2011, BMJ 342:d549);
// PoolConcordance does the transform. Riley et al. suggest a t distribution with k − 2
// degrees of freedom for the prediction interval; this follows metafor's default (normal),
// which is narrower with few sites. Sites with a non-finite estimate or SE are excluded
// as in MetaAnalyze.
func MetaAnalyzeREML(sites []SiteEstimate, level float64) (RandomEffects, error) {
	h, err := MetaAnalyze(sites, level) // exclusions, Q and the DL start
	re := RandomEffects{Sites: h.Sites, Excluded: h.Excluded, Level: level, Q: h.Q}
	if err != nil {
		return re, err
	}
	var y, v []float64
	for _, s := range sites {
		if slices.Contains(h.Sites, s.Site) {
			y = append(y, s.Estimate)
			v = append(v, s.SE*s.SE)
		}
	}
	k := len(y)
	tau2 := h.Tau2
	if k > 1 {
		converged := false
		for re.Iterations = 1; re.Iterations <= 1000; re.Iterations++ {
			step := remlStep(y, v, tau2)
			next := math.Max(0, tau2+step)
			if math.Abs(next-tau2) < 1e-12 {
				tau2 = next
				converged = true
				break
			}
			tau2 = next
		}
		if !converged {
			return re, ErrREMLNotConverged
		}
	}
	re.Tau2 = tau2
	var sw, swy, sw0, sw02 float64
	for i := range y {
		w := 1 / (v[i] + tau2)
		sw += w
		swy += w * y[i]
		sw0 += 1 / v[i]
		sw02 += 1 / (v[i] * v[i])
	}
	re.Estimate, re.SE = swy/sw, 1/math.Sqrt(sw)
	z := distuv.UnitNormal.Quantile(1 - (1-level)/2)
	re.Lower, re.Upper = re.Estimate-z*re.SE, re.Estimate+z*re.SE
	half := z * math.Sqrt(tau2+re.SE*re.SE)
	re.PredictionLower, re.PredictionUpper = re.Estimate-half, re.Estimate+half
	if k > 1 {
		typical := float64(k-1) * sw0 / (sw0*sw0 - sw02)
		re.I2 = 100 * tau2 / (tau2 + typical)
	}
	return re, nil
}

// remlStep is one Fisher-scoring step of the REML estimate of τ².
func remlStep(y, v []float64, tau2 float64) float64 {
	var sw, sw2, sw3, swy float64
	w := make([]float64, len(y))
	for i := range y {
		w[i] = 1 / (v[i] + tau2)
		sw += w[i]
		sw2 += w[i] * w[i]
		sw3 += w[i] * w[i] * w[i]
		swy += w[i] * y[i]
	}
	mu := swy / sw
	var yPPy float64
	for i := range y {
		r := w[i] * (y[i] - mu) // (Py)_i
		yPPy += r * r
	}
	trP := sw - sw2/sw
	trPP := sw2 - 2*sw3/sw + sw2*sw2/(sw*sw)
	return (yPPy - trP) / trPP
}

// PooledConcordance is the random-effects pooled C (on the logit scale, back-transformed).
type PooledConcordance struct {
	C, Lower, Upper                  float64
	PredictionLower, PredictionUpper float64
	Logit                            RandomEffects // on the logit scale
}

// PoolConcordance pools per-site concordance indices c_i with standard errors s_i on the
// logit scale, logit(c_i) with SE s_i / (c_i (1 − c_i)) (the delta method), by
// MetaAnalyzeREML, and back-transforms the estimate and both intervals with the logistic
// function (metafor's predict(..., transf = plogis)). Debray et al. 2017 (BMJ 356:i6460)
// recommend the logit scale because C lies in (0, 1) and its sampling distribution is skewed
// near the bounds. A site with C of 0 or 1 has no logit and is excluded.
func PoolConcordance(sites []SiteEstimate, level float64) (PooledConcordance, error) {
	logit := make([]SiteEstimate, len(sites))
	for i, s := range sites {
		c := s.Estimate
		logit[i] = SiteEstimate{Site: s.Site, Estimate: math.Log(c / (1 - c)), SE: s.SE / (c * (1 - c))}
		if !(c > 0 && c < 1) {
			logit[i].Estimate = math.NaN()
		}
	}
	re, err := MetaAnalyzeREML(logit, level)
	if err != nil {
		return PooledConcordance{Logit: re}, fmt.Errorf("analysis: pooling C: %w", err)
	}
	expit := func(x float64) float64 { return 1 / (1 + math.Exp(-x)) }
	return PooledConcordance{
		C: expit(re.Estimate), Lower: expit(re.Lower), Upper: expit(re.Upper),
		PredictionLower: expit(re.PredictionLower), PredictionUpper: expit(re.PredictionUpper),
		Logit: re,
	}, nil
}
