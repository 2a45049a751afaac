package analysis

import (
	"errors"
	"fmt"
	"math"

	"gonum.org/v1/gonum/stat/distuv"
)

// SiteEstimate is one site's estimate of an effect on an additive scale (for a hazard ratio,
// the log HR of a stratum-specific Cox fit) with its standard error.
type SiteEstimate struct {
	Site     string
	Estimate float64
	SE       float64
}

// ExcludedSite is a site left out of a meta-analysis, with the reason.
type ExcludedSite struct {
	Site   string
	Reason string
}

// PooledEstimate is a pooled effect with its Wald confidence interval and two-sided p-value:
//
//	z = θ̂ / SE,  p = 2·(1 − Φ(|z|)),  CI = θ̂ ± z_{1−α/2}·SE.
//
// For a log HR, exp(Estimate), exp(Lower) and exp(Upper) give the HR and its interval.
type PooledEstimate struct {
	Estimate float64
	SE       float64
	Z        float64
	P        float64
	Lower    float64
	Upper    float64
}

// Heterogeneity is the result of MetaAnalyze: fixed-effect and DerSimonian–Laird pooled
// estimates and the heterogeneity statistics across the sites used.
type Heterogeneity struct {
	Sites    []string       // sites used, in input order
	Excluded []ExcludedSite // sites left out (non-finite estimate, non-finite or non-positive SE)
	Level    float64        // confidence level of the intervals, e.g. 0.95

	Fixed  PooledEstimate // inverse-variance fixed (common) effect
	Random PooledEstimate // DerSimonian–Laird random effects

	Tau2 float64 // DerSimonian–Laird between-site variance τ², truncated at 0
	Q    float64 // Cochran's Q
	DF   int     // k − 1
	QP   float64 // P(χ²_DF ≥ Q); 1 when DF = 0 (χ²_0 is a point mass at 0; as metafor)
	I2   float64 // Higgins–Thompson I², in percent
	H2   float64 // max(1, Q/DF); 1 when DF = 0 (as metafor reports for DL)

	WeightsFixed  []float64 // percent weight of each used site in the fixed-effect estimate
	WeightsRandom []float64 // percent weight of each used site in the random-effects estimate
}

// ErrNoUsableSite is returned by MetaAnalyze when no site has a finite estimate and a finite,
// positive standard error.
var ErrNoUsableSite = errors.New("analysis: meta-analysis: no site with a finite estimate and standard error")

// MetaAnalyze pools per-site estimates θ_i with standard errors s_i (v_i = s_i²) of k sites.
//
// Fixed (common) effect, inverse-variance weights w_i = 1/v_i:
//
//	θ̂_F = Σ w_i θ_i / Σ w_i,  SE(θ̂_F) = 1/√(Σ w_i).
//
// Cochran's Q (Cochran 1954) with k − 1 degrees of freedom, p = P(χ²_{k−1} ≥ Q):
//
//	Q = Σ w_i (θ_i − θ̂_F)².
//
// DerSimonian–Laird (DerSimonian & Laird 1986) method-of-moments between-site variance,
// truncated at zero, and the random-effects estimate with weights w*_i = 1/(v_i + τ̂²):
//
//	τ̂² = max(0, (Q − (k − 1)) / (Σ w_i − Σ w_i² / Σ w_i)),
//	θ̂_R = Σ w*_i θ_i / Σ w*_i,  SE(θ̂_R) = 1/√(Σ w*_i).
//
// Higgins & Thompson (2002): H² = max(1, Q/(k − 1)) (H below 1 is truncated, as they advise and
// as metafor reports (τ̂² + s̃²)/s̃²) and I² = 100% · max(0, (Q − (k − 1))/Q), which for
// the DL estimator equals 100% · τ̂²/(τ̂² + s̃²) with the "typical" within-site variance
// s̃² = (k − 1) Σ w_i / ((Σ w_i)² − Σ w_i²), as metafor::rma reports it.
// Intervals and p-values are Wald (normal) ones at the given level (metafor's default test = "z").
//
// Sites whose estimate is not finite or whose SE is not finite and positive (a stratum whose
// Cox fit did not converge, or with no events in one arm) are left out and listed in Excluded.
// With a single usable site, Q = 0, DF = 0, QP = 1, τ̂² = 0, I² = 0, H² = 1 and both pooled
// estimates equal that site's. The results agree with metafor::rma(method = "FE"/"DL") to
// machine precision (analysis/testdata/meta_goldens.R).
//
// MetaAnalyze panics if level is not in (0, 1).
func MetaAnalyze(sites []SiteEstimate, level float64) (Heterogeneity, error) {
	if !(level > 0 && level < 1) {
		panic(fmt.Sprintf("analysis: MetaAnalyze: confidence level %v not in (0, 1)", level))
	}
	h := Heterogeneity{Level: level}
	var est, v []float64
	for _, s := range sites {
		switch {
		case math.IsNaN(s.Estimate) || math.IsInf(s.Estimate, 0):
			h.Excluded = append(h.Excluded, ExcludedSite{s.Site, fmt.Sprintf("estimate %v is not finite", s.Estimate)})
		case math.IsNaN(s.SE) || math.IsInf(s.SE, 0) || s.SE <= 0:
			h.Excluded = append(h.Excluded, ExcludedSite{s.Site, fmt.Sprintf("standard error %v is not finite and positive", s.SE)})
		default:
			h.Sites = append(h.Sites, s.Site)
			est = append(est, s.Estimate)
			v = append(v, s.SE*s.SE)
		}
	}
	k := len(est)
	if k == 0 {
		return h, ErrNoUsableSite
	}
	z := distuv.UnitNormal.Quantile(1 - (1-level)/2)

	w := make([]float64, k)
	var sw, sw2 float64
	for i := range v {
		w[i] = 1 / v[i]
		sw += w[i]
		sw2 += w[i] * w[i]
	}
	h.Fixed = metaPool(est, w, z)
	for i := range est {
		d := est[i] - h.Fixed.Estimate
		h.Q += w[i] * d * d
	}
	h.DF = k - 1
	h.QP, h.I2, h.H2 = 1, 0, 1
	if h.DF > 0 {
		h.QP = distuv.ChiSquared{K: float64(h.DF)}.Survival(h.Q)
		h.Tau2 = math.Max(0, (h.Q-float64(h.DF))/(sw-sw2/sw))
		h.H2 = math.Max(1, h.Q/float64(h.DF))
		if h.Q > 0 {
			h.I2 = 100 * math.Max(0, (h.Q-float64(h.DF))/h.Q)
		}
	}
	ws := make([]float64, k)
	for i := range v {
		ws[i] = 1 / (v[i] + h.Tau2)
	}
	h.Random = metaPool(est, ws, z)
	h.WeightsFixed = metaPercent(w)
	h.WeightsRandom = metaPercent(ws)
	return h, nil
}

// metaPool is the weighted mean Σ w θ / Σ w with SE 1/√Σw and its Wald interval and p.
func metaPool(est, w []float64, z float64) PooledEstimate {
	var sw, swx float64
	for i := range est {
		sw += w[i]
		swx += w[i] * est[i]
	}
	p := PooledEstimate{Estimate: swx / sw, SE: 1 / math.Sqrt(sw)}
	p.Z = p.Estimate / p.SE
	// Φ(−|z|) through erfc keeps tiny p-values (1e-26 for BCG) that 1 − Φ(|z|) rounds to 0.
	p.P = 2 * distuv.UnitNormal.CDF(-math.Abs(p.Z))
	p.Lower = p.Estimate - z*p.SE
	p.Upper = p.Estimate + z*p.SE
	return p
}

func metaPercent(w []float64) []float64 {
	var s float64
	for _, x := range w {
		s += x
	}
	out := make([]float64, len(w))
	for i, x := range w {
		out[i] = 100 * x / s
	}
	return out
}
