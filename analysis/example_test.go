package analysis_test

import (
	"fmt"

	"github.com/oncofed/oncofed/analysis"
)

// Two hospitals tabulate their patients (months, death or censoring); the client merges the
// tables and estimates the pooled survival curve, its median and 12-month survival.
func ExampleKaplanMeier() {
	siteA, _ := analysis.NewSurvivalTable(
		[]float64{3, 8, 8, 12, 15, 20},
		[]bool{true, true, false, true, false, true})
	siteB, _ := analysis.NewSurvivalTable(
		[]float64{5, 8, 14, 24},
		[]bool{true, true, false, false})
	pooled := analysis.MergeTables(siteA, siteB)

	km, err := analysis.KaplanMeier(pooled, analysis.KMOptions{}) // R's defaults: log CI, 95%
	if err != nil {
		panic(err)
	}
	for k, t := range km.Time {
		fmt.Printf("t=%2.0f n.risk=%2d n.event=%d surv=%.4f 95%% CI [%.4f, %.4f]\n",
			t, km.NRisk[k], km.NEvent[k], km.Surv[k], km.Lower[k], km.Upper[k])
	}
	m := km.Median()
	fmt.Printf("median %.1f (95%% CI %.1f to %v)\n", m.Time, m.Lower, m.Upper)
	at, _ := km.At([]float64{12})
	fmt.Printf("S(12) = %.4f [%.4f, %.4f]\n", at[0].Surv, at[0].Lower, at[0].Upper)
	// The numbers are R's (survival 3.5-3): summary(survfit(Surv(time, status) ~ 1),
	// censored = TRUE), quantile(fit, 0.5) and summary(fit, times = 12) on the ten records.

	// Output:
	// t= 3 n.risk=10 n.event=1 surv=0.9000 95% CI [0.7320, 1.0000]
	// t= 5 n.risk= 9 n.event=1 surv=0.8000 95% CI [0.5868, 1.0000]
	// t= 8 n.risk= 8 n.event=2 surv=0.6000 95% CI [0.3617, 0.9952]
	// t=12 n.risk= 5 n.event=1 surv=0.4800 95% CI [0.2458, 0.9375]
	// t=14 n.risk= 4 n.event=0 surv=0.4800 95% CI [0.2458, 0.9375]
	// t=15 n.risk= 3 n.event=0 surv=0.4800 95% CI [0.2458, 0.9375]
	// t=20 n.risk= 2 n.event=1 surv=0.2400 95% CI [0.0515, 1.0000]
	// t=24 n.risk= 1 n.event=0 surv=0.2400 95% CI [0.0515, 1.0000]
	// median 12.0 (95% CI 8.0 to NaN)
	// S(12) = 0.4800 [0.2458, 0.9375]
}

// A log-rank test of two arms stratified by site: each site sends one table per arm.
func ExampleStratifiedLogRank() {
	table := func(time []float64, event []bool) analysis.SurvivalTable {
		t, err := analysis.NewSurvivalTable(time, event)
		if err != nil {
			panic(err)
		}
		return t
	}
	strata := [][]analysis.SurvivalTable{
		{ // site A: control, treatment
			table([]float64{2, 4, 6, 9}, []bool{true, true, true, false}),
			table([]float64{5, 10, 12}, []bool{true, false, true}),
		},
		{ // site B
			table([]float64{1, 3, 7}, []bool{true, true, true}),
			table([]float64{6, 8, 11, 15}, []bool{false, true, false, false}),
		},
	}
	r, err := analysis.StratifiedLogRank(strata)
	if err != nil {
		panic(err)
	}
	fmt.Printf("observed %v, expected [%.3f %.3f]\n", r.Observed, r.Expected[0], r.Expected[1])
	fmt.Printf("chisq %.4f on %d df, p = %.4f\n", r.ChiSq, r.DF, r.P)
	// R (survival 3.5-3), survdiff(Surv(t, e) ~ arm + strata(site)): chisq 5.550580718, p 0.01847455658.

	// Output:
	// observed [6 3], expected [2.983 6.017]
	// chisq 5.5506 on 1 df, p = 0.0185
}
