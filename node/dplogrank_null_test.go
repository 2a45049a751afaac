package node

import (
	"fmt"
	"math"
	"math/big"
	"math/rand/v2"
	"testing"

	"github.com/oncofed/oncofed/analysis"
	"github.com/oncofed/oncofed/app"
	"github.com/oncofed/oncofed/dp"
)

// The log-rank test on a dp analyst's Kaplan–Meier release, under the null: two groups of equal survival, each
// site releasing each group's table on monthly bins at the default dp_rho_survival with the
// node's mechanism (dp.SimulateSurvival, the mechanism's σ² and post-processing), and the test
// computed from the noisy tables as if they were exact — pooled over the sites and stratified
// by site — and app.DPLogRank's test with the noise in its variance. README's "What a dp
// analyst gets for tests" has the table.

// logRankNullRates is how often, over trials releases of two equal groups of n patients in all
// split evenly over sites, the log-rank test on the exact binned tables and on the dp releases
// rejects at 5%: pooled, dp pooled, stratified by site, dp stratified by site, and the dp
// tests with the noise in their variance (app.DPLogRank), pooled and by site.
func logRankNullRates(t *testing.T, rng *rand.Rand, n, sites, trials int) (rates [6]float64) {
	const w = 30.0
	bins := int(math.Ceil(DefaultDP.DPHorizonDays / w))
	rho := new(big.Rat).SetFloat64(DefaultDP.DPRhoSurvival)
	var rej [6]int
	for trial := range trials {
		exact := make([][]analysis.SurvivalTable, sites) // [site][group]
		noisy := make([][]analysis.SurvivalTable, sites)
		var tables [2][2][]analysis.SurvivalTable // [exact, dp][group]: the sites' tables
		for s := range sites {
			for g := range 2 {
				tab := nullTable(rng, n/2/sites, bins, w)
				nt, err := dp.SimulateSurvival(rng, tab, rho, dp.SurvivalSqrt)
				if err != nil {
					t.Fatal(err)
				}
				exact[s] = append(exact[s], survivalAnalysisTable(tab, w))
				noisy[s] = append(noisy[s], survivalAnalysisTable(nt, w))
				tables[0][g] = append(tables[0][g], exact[s][g])
				tables[1][g] = append(tables[1][g], noisy[s][g])
			}
		}
		for k, strata := range [][][]analysis.SurvivalTable{exact, noisy} {
			if r, err := analysis.LogRank([]analysis.SurvivalTable{analysis.MergeTables(tables[k][0]...), analysis.MergeTables(tables[k][1]...)}); err == nil && r.P < 0.05 {
				rej[k]++
			}
			if r, err := analysis.StratifiedLogRank(strata); err == nil && r.P < 0.05 {
				rej[2+k]++
			}
		}
		grids := make([]app.DPSiteGrid, sites)
		for s := range grids {
			grids[s] = app.DPSiteGrid{Rho: rho, W: w, Bins: bins}
		}
		var seed [32]byte
		seed[0], seed[1], seed[2] = byte(trial), byte(trial>>8), byte(n>>4)
		pooled, bySite, _, _ := app.DPLogRank(noisy, grids, seed)
		if pooled != nil && pooled.P < 0.05 {
			rej[4]++
		}
		if bySite != nil && bySite.P < 0.05 {
			rej[5]++
		}
	}
	for i, r := range rej {
		rates[i] = float64(r) / float64(trials)
	}
	return rates
}

// nullTable is the table of n patients of median survival 12 months, accrued over 12–48 months
// of follow-up, on bins of w days.
func nullTable(rng *rand.Rand, n, bins int, w float64) dp.SurvivalTable {
	tab := dp.SurvivalTable{Events: make([]int64, bins), Censored: make([]int64, bins)}
	for range n {
		te, tc := rng.ExpFloat64()*12*30.44/math.Ln2, (12+36*rng.Float64())*30.44
		b := min(max(int(math.Ceil(min(te, tc)/w)), 1), bins) - 1
		if te <= tc {
			tab.Events[b]++
		} else {
			tab.Censored[b]++
		}
	}
	return tab
}

// survivalAnalysisTable is a dp survival table on bins of w days as the client reads it.
func survivalAnalysisTable(st dp.SurvivalTable, w float64) analysis.SurvivalTable {
	return analysisTable(dp.CompetingTable{Events: [][]int64{st.Events}, Censored: st.Censored}, w)
}

// TestDPLogRankNullSmoke: 60 releases of 500 patients over two sites are enough to see that the
// test on dp tables taken as exact is far off its level (the measurement gives 42–44% over four sites), while the
// same test on the exact tables, and the dp test with the noise in its variance, are not.
func TestDPLogRankNullSmoke(t *testing.T) {
	r := logRankNullRates(t, rand.New(rand.NewPCG(3, 5)), 500, 2, 60)
	if r[0] > 0.1 || r[2] > 0.1 {
		t.Errorf("exact tables: rejected %.1f%% (pooled), %.1f%% (by site) at 5%%", 100*r[0], 100*r[2])
	}
	if r[1] < 0.15 {
		t.Errorf("dp tables as if exact: rejected %.1f%% at 5%%, the measurement said about 45%%: has the mechanism changed? Then measure again (-dputility)", 100*r[1])
	}
	for i, name := range map[int]string{4: "pooled", 5: "by site"} {
		if r[i] > 0.1 {
			t.Errorf("dp tables, the noise in the variance (%s): rejected %.1f%% at 5%%", name, 100*r[i])
		}
	}
	t.Logf("rejected at 5%%: exact %.1f%% / %.1f%%, dp as if exact %.1f%% / %.1f%%, dp with the noise %.1f%% / %.1f%%", 100*r[0], 100*r[2], 100*r[1], 100*r[3], 100*r[4], 100*r[5])
}

// TestDPLogRankNull prints the log-rank rows of README's table (500 releases per row):
//
//	go test ./node -run 'TestDPLogRankNull$' -dputility -v
func TestDPLogRankNull(t *testing.T) {
	if !*dpUtilityFlag {
		t.Skip("the measurement runs with -dputility")
	}
	const trials = 500
	rng := rand.New(rand.NewPCG(7, 13))
	fmt.Printf("\n| n | sites | exact: pooled / by site | dp as if exact: pooled / by site | dp, noise in the variance: pooled / by site |\n|---|---|---|---|---|\n")
	for _, n := range []int{500, 2000} {
		for _, sites := range []int{1, 4} {
			r := logRankNullRates(t, rng, n, sites, trials)
			fmt.Printf("| %d | %d | %.1f%% / %.1f%% | %.1f%% / %.1f%% | %.1f%% / %.1f%% |\n", n, sites, 100*r[0], 100*r[2], 100*r[1], 100*r[3], 100*r[4], 100*r[5])
		}
	}
}
