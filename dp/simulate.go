package dp

import (
	"math"
	"math/big"
	"math/rand/v2"
)

// SimulateSurvival draws what ReleaseSurvival would release of t at ρ = rho under mechanism m,
// with the noise from rng as a rounded continuous Gaussian of the same σ² (the discrete
// Gaussian's variance to within 1/12 for the σ of any release: σ² ≥ Δ²/(2ρ) ≫ 1) and the same
// post-processing. It is NOT a release — its noise is neither exact nor secure — but a fast
// simulation of one, for estimating what the noise does to a statistic computed from a
// release (app.DPCoxNoiseCov: the noise's covariance of a Cox fit on released tables, a
// parametric bootstrap over hundreds of simulated releases; the exact sampler's rational
// arithmetic made it several times slower). Only the factored mechanisms are simulated.
func SimulateSurvival(rng *rand.Rand, t SurvivalTable, rho *big.Rat, m SurvivalMechanism) (SurvivalTable, error) {
	if rho == nil || rho.Sign() <= 0 {
		panic("dp: SimulateSurvival needs ρ > 0")
	}
	if err := t.check(); err != nil {
		return SurvivalTable{}, err
	}
	switch m {
	case SurvivalSqrt, SurvivalTree:
	default:
		panic("dp: SimulateSurvival of a mechanism without a factorisation")
	}
	st := factoredStrategy(t.Len(), m)
	sigma2, _ := SigmaSquared(big.NewRat(st.sens2(), 1), rho)
	s2, _ := sigma2.Float64()
	sigma := math.Sqrt(s2)
	cols, _ := factoredColumns([][]int64{t.Events, t.Censored}, st, func() (int64, error) {
		return int64(math.Round(rng.NormFloat64() * sigma)), nil
	})
	return SurvivalTable{Events: cols[0], Censored: cols[1]}, nil
}
