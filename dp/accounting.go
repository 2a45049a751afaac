package dp

import (
	"math"
	"math/big"
)

// Rho parses a decimal or fraction ("0.1", "1/20") into an exact ρ. It
// panics on a malformed or negative literal, which is a programmer error in a
// constant; parse configuration with big.Rat.SetString and check yourself.
func Rho(s string) *big.Rat {
	r, ok := new(big.Rat).SetString(s)
	if !ok || r.Sign() < 0 {
		panic("dp: bad ρ literal " + s)
	}
	return r
}

// GaussianRho is the zCDP cost of adding discrete Gaussian noise of
// parameter σ² to every coordinate of an integer query whose L2 sensitivity
// squared is sens2 (= Δ²):
//
//	ρ = Δ² / (2σ²)
//
// (Canonne, Kamath & Steinke 2020, Theorems 4 and 15; the same as for the
// continuous Gaussian, Bun & Steinke 2016, Proposition 1.6).
func GaussianRho(sens2, sigma2 *big.Rat) *big.Rat {
	if sens2 == nil || sens2.Sign() < 0 || sigma2 == nil || sigma2.Sign() <= 0 {
		panic("dp: GaussianRho needs Δ² ≥ 0 and σ² > 0")
	}
	r := new(big.Rat).Quo(sens2, sigma2)
	return r.Quo(r, big.NewRat(2, 1))
}

// sigma2Grain is the grid σ² is rounded up to: a short denominator keeps the
// sampler's integers small, and rounding up only lowers the ρ spent.
const sigma2Grain = 1000

// SigmaSquared returns the discrete Gaussian parameter σ² for a query with
// squared L2 sensitivity sens2 and target cost rho, and the ρ actually spent.
// σ² = Δ²/(2ρ) is rounded up to a multiple of 1/1000, so actual ≤ rho always
// (and equal when Δ²/(2ρ) is on that grid, as it is for ρ = 0.1 and Δ² = 1).
func SigmaSquared(sens2, rho *big.Rat) (sigma2, actual *big.Rat) {
	if sens2 == nil || sens2.Sign() <= 0 || rho == nil || rho.Sign() <= 0 {
		panic("dp: SigmaSquared needs Δ² > 0 and ρ > 0")
	}
	exact := new(big.Rat).Quo(sens2, new(big.Rat).Mul(rho, big.NewRat(2, 1)))
	scaled := new(big.Rat).Mul(exact, big.NewRat(sigma2Grain, 1))
	n := new(big.Int).Quo(scaled.Num(), scaled.Denom()) // floor
	if new(big.Rat).SetInt(n).Cmp(scaled) < 0 {
		n.Add(n, bigOne)
	}
	sigma2 = new(big.Rat).SetFrac(n, big.NewInt(sigma2Grain))
	return sigma2, GaussianRho(sens2, sigma2)
}

// Compose is the zCDP cost of running all the given releases on the same
// patients: ρ = Σ ρ_i (Bun & Steinke 2016, Lemma 2.3), exactly.
func Compose(rhos ...*big.Rat) *big.Rat {
	sum := new(big.Rat)
	for _, r := range rhos {
		if r == nil || r.Sign() < 0 {
			panic("dp: Compose needs ρ ≥ 0")
		}
		sum.Add(sum, r)
	}
	return sum
}

// EpsilonBunSteinke converts ρ-zCDP to (ε, δ)-DP with the classic bound
//
//	ε = ρ + 2·√(ρ·ln(1/δ))
//
// (Bun & Steinke 2016, Proposition 1.3). It is simple but loose; see
// EpsilonCKS for the tighter one.
func EpsilonBunSteinke(rho, delta float64) float64 {
	checkRhoDelta(rho, delta)
	return rho + 2*math.Sqrt(rho*math.Log(1/delta))
}

func checkRhoDelta(rho, delta float64) {
	if !(rho >= 0) || !(delta > 0 && delta < 1) {
		panic("dp: need ρ ≥ 0 and 0 < δ < 1")
	}
}

// DeltaCKS is the δ for which ρ-zCDP implies (ε, δ)-DP by Canonne, Kamath &
// Steinke (2020), Corollary 13:
//
//	δ = inf_{α>1} exp((α−1)(αρ−ε)) / (α−1) · (1 − 1/α)^α.
//
// Any α > 1 gives a valid δ, so the search for the infimum (bisection on the
// derivative of the log, which is increasing in α) may be approximate; the
// returned value is the bound at the α found, evaluated in float64 and
// widened by a relative 1e-9 so rounding cannot make it optimistic.
func DeltaCKS(rho, eps float64) float64 {
	if !(rho >= 0) || !(eps >= 0) {
		panic("dp: DeltaCKS needs ρ ≥ 0 and ε ≥ 0")
	}
	if rho == 0 {
		return 0
	}
	lo, hi := 1.0+1e-9, (eps+1)/(2*rho)+2
	for range 200 {
		a := (lo + hi) / 2
		// d/dα of the log of the bound.
		if (2*a-1)*rho-eps+math.Log1p(-1/a) < 0 {
			lo = a
		} else {
			hi = a
		}
	}
	a := hi
	logd := (a-1)*(a*rho-eps) + a*math.Log1p(-1/a) - math.Log(a-1)
	return math.Min(1, math.Exp(logd)*(1+1e-9))
}

// EpsilonCKS is the smallest ε (to a relative 1e-12, rounded up) with
// DeltaCKS(ρ, ε) ≤ δ: the tight conversion of Canonne, Kamath & Steinke
// (2020), Corollary 13. It is never larger than EpsilonBunSteinke.
func EpsilonCKS(rho, delta float64) float64 {
	checkRhoDelta(rho, delta)
	lo, hi := 0.0, EpsilonBunSteinke(rho, delta)
	for hi-lo > 1e-12*hi {
		m := (lo + hi) / 2
		if DeltaCKS(rho, m) <= delta {
			hi = m
		} else {
			lo = m
		}
	}
	return hi
}
