package dp

import (
	"errors"
	"math"
	"strings"
	"testing"
)

func expectPanic(t *testing.T, name string, f func()) {
	t.Helper()
	defer func() {
		r := recover()
		if msg, ok := r.(string); !ok || !strings.HasPrefix(msg, "dp: ") {
			t.Errorf("%s: recovered %v, want a \"dp: \" panic", name, r)
		}
	}()
	f()
}

// TestReleaseCounts: ρ = 0.1 on disjoint groups gives σ² = 5 per group
// (Δ² = 1 however many groups); over 4000 releases each group's noise has
// mean within 4.5 SE of 0 (unbiased: no clamping) and variance within 10%
// of 5 (the SE of a sample variance of 4000 near-Gaussian draws is
// 5·√(2/4000) = 2.2%, so 10% is 4.5 SE).
func TestReleaseCounts(t *testing.T) {
	s := seeded(40)
	counts := []int64{0, 3, 120}
	const reps = 4000
	sum, sumSq := make([]float64, 3), make([]float64, 3)
	for range reps {
		v, noise, err := ReleaseCounts(s, counts, Rho("0.1"))
		if err != nil {
			t.Fatal(err)
		}
		if noise.Sigma2.Cmp(Rho("5")) != 0 || noise.Rho.Cmp(Rho("0.1")) != 0 {
			t.Fatalf("noise %+v", noise)
		}
		for i := range v {
			z := float64(v[i] - counts[i])
			sum[i] += z
			sumSq[i] += z * z
		}
	}
	for i := range counts {
		mean := sum[i] / reps
		variance := sumSq[i]/reps - mean*mean
		if math.Abs(mean) > 4.5*math.Sqrt(5.0/reps) || math.Abs(variance-5) > 0.5 {
			t.Errorf("group %d: noise mean %.3f, variance %.3f; want 0, 5", i, mean, variance)
		}
	}
}

func TestReleaseCountErrors(t *testing.T) {
	s := seeded(41)
	if _, _, err := ReleaseCount(s, -1, Rho("0.1")); !errors.Is(err, ErrNegativeCount) {
		t.Errorf("negative count: %v", err)
	}
	expectPanic(t, "nil sampler", func() { _, _, _ = ReleaseCount(nil, 1, Rho("0.1")) })
	expectPanic(t, "ρ=0", func() { _, _, _ = ReleaseCount(s, 1, Rho("0")) })
	expectPanic(t, "empty vector", func() { _, _, _ = ReleaseCounts(s, nil, Rho("0.1")) })
}
