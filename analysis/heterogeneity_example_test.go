package analysis_test

import (
	"fmt"
	"math"

	"github.com/oncofed/oncofed/analysis"
)

// Pooling per-site log hazard ratios (each from a Cox fit on one site's patients). Site D's
// fit did not converge (infinite SE), so it is left out and reported.
func ExampleMetaAnalyze() {
	sites := []analysis.SiteEstimate{
		{Site: "A", Estimate: math.Log(0.62), SE: 0.21},
		{Site: "B", Estimate: math.Log(0.95), SE: 0.18},
		{Site: "C", Estimate: math.Log(0.48), SE: 0.30},
		{Site: "D", Estimate: math.Log(0.70), SE: math.Inf(1)},
	}
	h, err := analysis.MetaAnalyze(sites, 0.95)
	if err != nil {
		fmt.Println(err)
		return
	}
	hr := func(p analysis.PooledEstimate) string {
		return fmt.Sprintf("HR %.2f (95%% CI %.2f–%.2f), p = %.3f", math.Exp(p.Estimate), math.Exp(p.Lower), math.Exp(p.Upper), p.P)
	}
	fmt.Println("fixed: ", hr(h.Fixed))
	fmt.Println("random:", hr(h.Random))
	fmt.Printf("Q = %.2f on %d df (p = %.3f), I² = %.1f%%, τ² = %.4f\n", h.Q, h.DF, h.QP, h.I2, h.Tau2)
	for _, e := range h.Excluded {
		fmt.Printf("excluded %s: %s\n", e.Site, e.Reason)
	}
	// Output:
	// fixed:  HR 0.73 (95% CI 0.57–0.93), p = 0.010
	// random: HR 0.69 (95% CI 0.47–1.02), p = 0.060
	// Q = 4.70 on 2 df (p = 0.095), I² = 57.4%, τ² = 0.0674
	// excluded D: standard error +Inf is not finite and positive
}
