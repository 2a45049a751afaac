package analysis

import (
	"math/rand/v2"
	"testing"
)

// BenchmarkValidateAtSite1M times what a held-out site of a million patients computes for one
// validate query: Harrell's and Uno's C with their SEs (O(n log n)), the calibration slope
// (a one-covariate Cox fit) and calibration in the large at two landmarks.
func BenchmarkValidateAtSite1M(b *testing.B) {
	const n = 1_000_000
	rng := rand.New(rand.NewPCG(1, 2))
	time := make([]float64, n)
	event := make([]bool, n)
	lp := make([]float64, n)
	for i := range n {
		lp[i] = float64(rng.IntN(2000)) / 1000 // ties in lp, as a model with categorical terms gives
		time[i] = float64(1 + rng.IntN(3650))
		event[i] = rng.Float64() < 0.7
	}
	b.ResetTimer()
	for range b.N {
		if _, err := ValidateAtSite(time, event, lp, Efron, []float64{365, 730}, []float64{0.1, 0.2}); err != nil {
			b.Fatal(err)
		}
	}
}
