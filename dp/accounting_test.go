package dp

import (
	"math"
	"math/big"
	"testing"

	"gonum.org/v1/gonum/floats/scalar"
	"gonum.org/v1/gonum/stat/distuv"
)

func TestGaussianRhoAndSigmaSquared(t *testing.T) {
	for _, tc := range []struct {
		sens2, rho     string
		sigma2, actual string // exact, by hand: σ² = ⌈1000·Δ²/(2ρ)⌉/1000, ρ' = Δ²/(2σ²)
	}{
		{"1", "0.1", "5", "1/10"},
		{"2", "0.1", "10", "1/10"},             // baseline survival table + N: σ² = 1/ρ
		{"1", "1/3", "3/2", "1/3"},             // on the grid, exact
		{"1", "0.07", "7143/1000", "500/7143"}, // 7.142857… rounded up
		{"7", "0.01", "350", "1/100"},
	} {
		s2, actual := SigmaSquared(Rho(tc.sens2), Rho(tc.rho))
		if s2.Cmp(Rho(tc.sigma2)) != 0 || actual.Cmp(Rho(tc.actual)) != 0 {
			t.Errorf("SigmaSquared(%s, %s) = %v, %v; want %s, %s", tc.sens2, tc.rho, s2, actual, tc.sigma2, tc.actual)
		}
		if actual.Cmp(Rho(tc.rho)) > 0 {
			t.Errorf("SigmaSquared(%s, %s) spends %v > target", tc.sens2, tc.rho, actual)
		}
		if got := GaussianRho(Rho(tc.sens2), s2); got.Cmp(actual) != 0 {
			t.Errorf("GaussianRho(%s, %v) = %v", tc.sens2, s2, got)
		}
	}
}

// TestCompose: exact, unlike float64 where 0.1 + 0.2 ≠ 0.3 — a ledger of
// many small charges must not drift past a budget.
func TestCompose(t *testing.T) {
	if got := Compose(Rho("0.1"), Rho("0.2")); got.Cmp(Rho("0.3")) != 0 {
		t.Errorf("Compose(0.1, 0.2) = %v", got)
	}
	var rs []*big.Rat
	for range 1000 {
		rs = append(rs, Rho("0.001"))
	}
	if got := Compose(rs...); got.Cmp(Rho("1")) != 0 {
		t.Errorf("1000 × 0.001 = %v", got)
	}
	if Compose().Sign() != 0 {
		t.Error("empty composition is not 0")
	}
}

// gaussDelta is the exact privacy profile of the continuous Gaussian
// mechanism with Δ/σ = μ = √(2ρ) (Balle & Wang 2018, Theorem 8):
// δ(ε) = Φ(μ/2 − ε/μ) − e^ε Φ(−μ/2 − ε/μ). It is ρ-zCDP, so any valid zCDP
// conversion must give a δ at least this large.
func gaussDelta(rho, eps float64) float64 {
	mu := math.Sqrt(2 * rho)
	phi := distuv.UnitNormal.CDF
	return phi(mu/2-eps/mu) - math.Exp(eps)*phi(-mu/2-eps/mu)
}

func TestEpsilonConversions(t *testing.T) {
	for _, tc := range []struct {
		rho, delta float64
		bs, cks    float64
	}{
		// bs: ρ + 2√(ρ ln 1/δ) by hand; cks: the reference Python
		// (IBM/discrete-gaussian-differential-privacy cdp2adp.py, cdp_eps)
		// run on the same inputs.
		{0.1, 1e-6, 2.4507880004767997, 2.141938928385474},
		{1, 1e-5, 7.786140424415112, 7.0771966958063395},
		{0.25, 1e-6, 3.9669221888498383, 3.542291300477016},
		{0.02, 1e-6, 1.0713043539513865, 0.8999352676606419},
	} {
		bs := EpsilonBunSteinke(tc.rho, tc.delta)
		if !scalar.EqualWithinAbsOrRel(bs, tc.bs, 1e-12, 1e-12) {
			t.Errorf("EpsilonBunSteinke(%g, %g) = %v, want %v", tc.rho, tc.delta, bs, tc.bs)
		}
		cks := EpsilonCKS(tc.rho, tc.delta)
		// 1e-8: the reference bisects α to ~1e-16 and we to 200 halvings; both
		// then bisect ε, to different tolerances.
		if !scalar.EqualWithinAbsOrRel(cks, tc.cks, 1e-8, 1e-8) {
			t.Errorf("EpsilonCKS(%g, %g) = %v, want %v", tc.rho, tc.delta, cks, tc.cks)
		}
		if cks > bs {
			t.Errorf("CKS ε %v looser than Bun–Steinke %v", cks, bs)
		}
		if d := DeltaCKS(tc.rho, cks); d > tc.delta {
			t.Errorf("DeltaCKS(%g, EpsilonCKS) = %v > δ = %v", tc.rho, d, tc.delta)
		}
		// Valid: never below the exact Gaussian profile at the same ε.
		if g := gaussDelta(tc.rho, cks); g > tc.delta {
			t.Errorf("ρ=%g: Gaussian needs δ=%v at ε=%v, conversion claims %v", tc.rho, g, cks, tc.delta)
		}
	}
}

func TestAccountingMisusePanics(t *testing.T) {
	expectPanic(t, "Rho(-1)", func() { Rho("-1") })
	expectPanic(t, "SigmaSquared ρ=0", func() { SigmaSquared(Rho("1"), Rho("0")) })
	expectPanic(t, "GaussianRho σ²=0", func() { GaussianRho(Rho("1"), Rho("0")) })
	expectPanic(t, "Compose nil", func() { Compose(nil) })
	expectPanic(t, "δ=0", func() { EpsilonCKS(0.1, 0) })
}

// TestCKSCoversDiscreteGaussian: the zCDP → (ε, δ) conversion must hold for
// the mechanism we actually run. The exact δ(ε) of N_ℤ(0, σ²) on a
// sensitivity-1 count is P[X ≥ a] − e^ε·P[X ≥ b], a = ⌊εσ² − 1/2⌋ + 1,
// b = ⌊εσ² + 1/2⌋ + 1 (Canonne, Kamath & Steinke 2020, Theorem 7; as in the
// reference cdp2adp.py dg_delta); it must not exceed DeltaCKS at ρ = 1/(2σ²).
func TestCKSCoversDiscreteGaussian(t *testing.T) {
	for _, s2 := range []float64{0.5, 5, 50, 500} {
		pmf, w := gaussPMF(s2)
		upper := func(x int64) float64 { // P[X ≥ x]
			p := 0.0
			for y := max(x, -w); y <= w; y++ {
				p += pmf(y)
			}
			return p
		}
		rho := 1 / (2 * s2)
		for _, eps := range []float64{0.1, 0.5, 1, 2} {
			a := int64(math.Floor(eps*s2-0.5)) + 1
			b := int64(math.Floor(eps*s2+0.5)) + 1
			exact := upper(a) - math.Exp(eps)*upper(b)
			if bound := DeltaCKS(rho, eps); exact > bound*(1+1e-9)+1e-15 {
				t.Errorf("σ²=%g ε=%g: discrete Gaussian δ %.3g above the zCDP bound %.3g", s2, eps, exact, bound)
			}
		}
	}
}
