package analysis

import (
	"fmt"
	"math"
)

// RMST is a restricted mean survival time: the area under the Kaplan–Meier curve up to Tau.
type RMST struct {
	Tau  float64
	Mean float64
	SE   float64
}

// RMST returns the restricted mean survival time up to tau and its standard error, as R's
// summary(fit, rmean = tau)$table[c("rmean", "se(rmean)")] and print(fit, rmean = tau)
// (survival 3.5 survmean; Klein & Moeschberger 2003, §4.5):
//
//	μ(τ) = ∫_0^τ Ŝ(t) dt = Σ_k (t_k − t_{k−1}) Ŝ(t_{k−1}),   t_0 = 0, last t = τ
//	Var μ(τ) = Σ_{t_j ≤ τ} A_j² d_j / (n_j (n_j − d_j)),      A_j = ∫_{t_j}^τ Ŝ(t) dt
//
// where a term with n_j = d_j counts 0, as in R. A tau beyond the last time extends the last
// value of Ŝ to tau. A tau before the first time of the curve is an error, as in R.
func (e *KMEstimate) RMST(tau float64) (RMST, error) {
	if math.IsNaN(tau) || math.IsInf(tau, 0) {
		return RMST{}, fmt.Errorf("analysis: RMST horizon %v is not finite", tau)
	}
	if len(e.Time) == 0 || tau < e.Time[0] {
		return RMST{}, fmt.Errorf("analysis: RMST horizon %v is before the first time of the curve", tau)
	}
	// Rectangles under the step curve between consecutive kept times, then the last one up to
	// tau; hazard terms h_j = d_j/(n_j(n_j−d_j)) at the kept times.
	var rect, h []float64
	prevT, prevS := 0.0, 1.0
	for k, t := range e.Time {
		if t > tau {
			break
		}
		rect = append(rect, (t-prevT)*prevS)
		n, d := float64(e.NRisk[k]), float64(e.NEvent[k])
		if n-d == 0 {
			h = append(h, 0)
		} else {
			h = append(h, d/(n*(n-d)))
		}
		prevT, prevS = t, e.Surv[k]
	}
	rect = append(rect, (tau-prevT)*prevS)
	mean := 0.0
	for _, r := range rect {
		mean += r
	}
	// A_j is the area from t_j to tau: the sum of the rectangles after the j-th kept time.
	variance, area := 0.0, 0.0
	for j := len(h) - 1; j >= 0; j-- {
		area += rect[j+1]
		variance += area * area * h[j]
	}
	return RMST{Tau: tau, Mean: mean, SE: math.Sqrt(variance)}, nil
}
