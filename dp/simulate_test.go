package dp

import (
	"math"
	"math/rand/v2"
	"testing"
)

// SimulateSurvival's released size has the spread of ReleaseSurvival's (SurvivalSizeSD, the
// exact mechanism's), and its tables are consistent: the simulation stands for the release in
// the noise estimates built on it.
func TestSimulateSurvivalMatchesRelease(t *testing.T) {
	tab := SurvivalTable{Events: make([]int64, 60), Censored: make([]int64, 60)}
	for b := range tab.Events {
		tab.Events[b], tab.Censored[b] = int64(3+b%4), int64(b%3)
	}
	n := tab.AtRisk()[0]
	rho := Rho("0.01")
	rng := rand.New(rand.NewChaCha8([32]byte{1}))
	const draws = 2000
	var sum, sumSq float64
	for range draws {
		r, err := SimulateSurvival(rng, tab, rho, SurvivalSqrt)
		if err != nil {
			t.Fatal(err)
		}
		if err := r.check(); err != nil {
			t.Fatalf("inconsistent simulated table: %v", err)
		}
		x := float64(r.AtRisk()[0] - n)
		sum += x
		sumSq += x * x
	}
	mean := sum / draws
	sd := math.Sqrt(sumSq/draws - mean*mean)
	want := SurvivalSizeSD(tab.Len(), rho, SurvivalSqrt)
	t.Logf("size: mean shift %.2f, sd %.2f; the release's sd %.2f", mean, sd, want)
	if math.Abs(sd/want-1) > 0.1 || math.Abs(mean) > 4*want/math.Sqrt(draws) {
		t.Errorf("simulated size: mean shift %.2f, sd %.2f; the release's sd %.2f", mean, sd, want)
	}
}
