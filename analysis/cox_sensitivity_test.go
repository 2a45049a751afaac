package analysis

import (
	"math"
	"math/rand/v2"
	"testing"
)

// coxGradientBound and coxHessianBound are the add/remove-one-patient sensitivities of one
// stratum's Breslow gradient (L2) and Hessian (Frobenius) at β, derived in docs/dp-cox.md:
// with covariates in a box of diameter D, Λ = Σ_j |β_j|·width_j and d events,
//
//	S = Σ_{k=1}^{d} 1 / (1 + k·e^{−Λ}),   ‖ΔU‖ ≤ D·(1 + S),   ‖ΔH‖_F ≤ D²·(1/2 + (√5/2)·S).
//
// They are why the DP Cox release is not a noisy gradient per round: S grows like
// e^Λ·ln(1 + d·e^{−Λ}), with the number of events (private) and exponentially with β.
func coxGradientBound(diam, lambda float64, events int) (grad, hess float64) {
	s := 0.0
	for k := 1; k <= events; k++ {
		s += 1 / (1 + float64(k)*math.Exp(-lambda))
	}
	return diam * (1 + s), diam * diam * (0.5 + math.Sqrt(5)/2*s)
}

// TestCoxSensitivityBound adds one patient to random strata (covariates in the unit box,
// heavy ties, random β) and checks that the change of the Breslow gradient and Hessian never
// exceeds the stated bound — and that the bound is not vacuous (the worst case comes within
// a factor of it).
func TestCoxSensitivityBound(t *testing.T) {
	rng := rand.New(rand.NewPCG(13, 1))
	worstG, worstH := 0.0, 0.0
	for trial := range 2000 {
		p := 1 + rng.IntN(3)
		n := 2 + rng.IntN(40)
		times := make([]float64, n+1)
		events := make([]bool, n+1)
		x := make([]float64, (n+1)*p)
		for i := range n + 1 {
			times[i] = float64(1 + rng.IntN(8)) // few distinct times: ties
			events[i] = rng.Float64() < 0.7
			for j := range p {
				if trial%2 == 0 {
					x[i*p+j] = float64(rng.IntN(2)) // indicators
				} else {
					x[i*p+j] = rng.Float64()
				}
			}
		}
		// An adversarial added patient half of the time: the last time, a corner, an event.
		if trial%4 < 2 {
			times[n] = 9
			events[n] = trial%4 == 0
			for j := range p {
				x[n*p+j] = 1
			}
		}
		beta := make([]float64, p)
		lambda := 0.0
		for j := range beta {
			beta[j] = (rng.Float64()*2 - 1) * 2
			lambda += math.Abs(beta[j])
		}
		with, err := CoxStratumContribution(times, events, x, p, beta, Breslow)
		if err != nil {
			t.Fatal(err)
		}
		without, err := CoxStratumContribution(times[:n], events[:n], x[:n*p], p, beta, Breslow)
		if err != nil {
			t.Fatal(err)
		}
		d := 0
		for _, e := range events {
			if e {
				d++
			}
		}
		gb, hb := coxGradientBound(math.Sqrt(float64(p)), lambda, d)
		dg, dh := 0.0, 0.0
		for j := range p {
			dg += math.Pow(with.Gradient[j]-without.Gradient[j], 2)
		}
		for k := range p * p {
			dh += math.Pow(with.Hessian[k]-without.Hessian[k], 2)
		}
		dg, dh = math.Sqrt(dg), math.Sqrt(dh)
		if dg > gb*(1+1e-9) || dh > hb*(1+1e-9) {
			t.Fatalf("trial %d (n %d, p %d, Λ %.2f, d %d): ‖ΔU‖ %.4g > %.4g or ‖ΔH‖ %.4g > %.4g", trial, n, p, lambda, d, dg, gb, dh, hb)
		}
		worstG, worstH = max(worstG, dg/gb), max(worstH, dh/hb)
	}
	t.Logf("largest change / bound: gradient %.3f, Hessian %.3f", worstG, worstH)
	if worstG < 0.2 || worstH < 0.05 {
		t.Errorf("the bound is far from every change seen (%.3f, %.3f): the test exercises nothing near it", worstG, worstH)
	}
}
