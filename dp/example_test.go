package dp_test

import (
	"fmt"
	"math/rand/v2"

	"github.com/oncofed/oncofed/dp"
)

// A node releases a count of patients per stage (disjoint groups) for
// ρ = 0.005: σ² = 1/(2ρ) = 100 per group, whatever the number of groups.
// Production code passes nil (crypto/rand); the seeded reader here only
// makes the example's output reproducible.
func ExampleReleaseCounts() {
	s := dp.NewSampler(rand.NewChaCha8([32]byte{1}))
	_, noise, err := dp.ReleaseCounts(s, []int64{40, 112, 75, 230}, dp.Rho("0.005"))
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(noise.Mechanism, "σ² =", noise.Sigma2.RatString(), "ρ =", noise.Rho.RatString())
	// Output: discrete-gaussian σ² = 100 ρ = 1/200
}

// A survival table released with the default mechanism is consistent, so
// the Kaplan–Meier curve and the numbers at risk follow from it directly.
func ExampleReleaseSurvival() {
	table := dp.SurvivalTable{
		Events:   []int64{30, 25, 18, 12, 9, 6},
		Censored: []int64{2, 3, 4, 5, 6, 80},
	}
	s := dp.NewSampler(rand.NewChaCha8([32]byte{2}))
	released, noise, err := dp.ReleaseSurvival(s, table, dp.Rho("0.015"), dp.SurvivalSqrt)
	if err != nil {
		fmt.Println(err)
		return
	}
	n := released.AtRisk()
	ok := true
	for i, d := range released.Events {
		ok = ok && d >= 0 && released.Censored[i] >= 0 && d <= n[i] && (i == 0 || n[i] <= n[i-1])
	}
	fmt.Println(noise.Mechanism, "ρ ≤ 0.015:", noise.Rho.Cmp(dp.Rho("0.015")) <= 0, "consistent:", ok)
	// Output: survival-sqrt ρ ≤ 0.015: true consistent: true
}
