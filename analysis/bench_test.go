package analysis

import (
	"math"
	"math/rand/v2"
	"testing"
)

// benchSiteTable tabulates n synthetic patients of one site: exponential survival (median
// about 2 years) with uniform administrative censoring over 5 years, times in whole days when
// days is true (about 1,800 distinct times per site) or continuous (every time distinct, the
// worst case for merging).
func benchSiteTable(tb testing.TB, rng *rand.Rand, n int, hazardRatio float64, days bool) SurvivalTable {
	tb.Helper()
	time := make([]float64, n)
	event := make([]bool, n)
	rate := math.Ln2 / 730 * hazardRatio
	for i := range time {
		death := rng.ExpFloat64() / rate
		censor := rng.Float64() * 1826
		time[i], event[i] = math.Min(death, censor), death <= censor
		if days {
			time[i] = math.Ceil(time[i])
		}
	}
	t, err := NewSurvivalTable(time, event)
	if err != nil {
		tb.Fatal(err)
	}
	return t
}

// BenchmarkMergeTables100Sites merges the tables of 100 sites of 1,000 patients each.
func BenchmarkMergeTables100Sites(b *testing.B) {
	for _, days := range []bool{true, false} {
		name := map[bool]string{true: "days", false: "distinct"}[days]
		b.Run(name, func(b *testing.B) {
			rng := rand.New(rand.NewPCG(3, 4))
			sites := make([]SurvivalTable, 100)
			for i := range sites {
				sites[i] = benchSiteTable(b, rng, 1000, 1, days)
			}
			for b.Loop() {
				m := MergeTables(sites...)
				if m.Total() != 100000 {
					b.Fatal("lost patients")
				}
			}
		})
	}
}

// BenchmarkKMLogRank1M is the client's work for a two-arm study of 1,000,000 patients at 10
// sites (50,000 per arm and site): merge each arm's 10 site tables, Kaplan–Meier of both arms,
// the log-rank test and the site-stratified log-rank test.
func BenchmarkKMLogRank1M(b *testing.B) {
	for _, days := range []bool{true, false} {
		name := map[bool]string{true: "days", false: "distinct"}[days]
		b.Run(name, func(b *testing.B) {
			rng := rand.New(rand.NewPCG(5, 6))
			const sites, perArm = 10, 50000
			strata := make([][]SurvivalTable, sites)
			for s := range strata {
				strata[s] = []SurvivalTable{
					benchSiteTable(b, rng, perArm, 1, days),
					benchSiteTable(b, rng, perArm, 0.8, days),
				}
			}
			for b.Loop() {
				arms := make([]SurvivalTable, 2)
				for g := range arms {
					perSite := make([]SurvivalTable, sites)
					for s := range strata {
						perSite[s] = strata[s][g]
					}
					arms[g] = MergeTables(perSite...)
					if _, err := KaplanMeier(arms[g], KMOptions{}); err != nil {
						b.Fatal(err)
					}
				}
				if arms[0].Total()+arms[1].Total() != sites*2*perArm {
					b.Fatal("lost patients")
				}
				if _, err := LogRank(arms); err != nil {
					b.Fatal(err)
				}
				if _, err := StratifiedLogRank(strata); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
