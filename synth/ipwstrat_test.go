package synth

import (
	"os"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/oncofed/oncofed/analysis"
)

// The stratified adjusted model (ipw --adjust, the cox stage with ipw.adjust) on
// ConfoundedCohort: stratified by site and adjusted for the confounders, the weighted model
// recovers the conditional log hazard ratios the data were simulated with (treatment 0.70,
// 0.03 a year of age, 0.6 an ECOG point) within their robust intervals.
func TestConfoundedCohortAdjustedStratified(t *testing.T) {
	fit, rob, err := analysis.FitWeightedStratifiedCox(adjustedStrata(t, ConfoundedCohort(4000, 5, 1), 5), analysis.Efron,
		analysis.CoxOptions{Terms: []string{"trt", "age", "ecog"}})
	if err != nil {
		t.Fatal(err)
	}
	for j, b := range []float64{ConfoundedLogHR, 0.03, 0.6} {
		lo, hi := fit.Coef[j]-1.96*rob.SE[j], fit.Coef[j]+1.96*rob.SE[j]
		t.Logf("%s: %.4f (robust SE %.4f, naive %.4f), simulated %.3f", fit.Terms[j], fit.Coef[j], rob.SE[j], fit.SE[j], b)
		if b < lo || b > hi {
			t.Errorf("%s: %.4f (%.4f to %.4f) misses the simulated %.3f", fit.Terms[j], fit.Coef[j], lo, hi, b)
		}
	}
}

// TestIPWAdjustedStratifiedScale times the stratified adjusted model on ONCOFED_IPW_BENCH
// patients over 10 sites in process (propensity fit, each site's weights, the sites' summed
// contributions per Newton step and their meats at β̂ and 0; no network).
func TestIPWAdjustedStratifiedScale(t *testing.T) {
	nStr := os.Getenv("ONCOFED_IPW_BENCH")
	if nStr == "" {
		t.Skip("set ONCOFED_IPW_BENCH=1000000 to time the stratified adjusted model at scale")
	}
	n, err := strconv.Atoi(nStr)
	if err != nil {
		t.Fatal(err)
	}
	ps := ConfoundedCohort(n, 10, 7)
	cpu := func() time.Duration {
		var ru syscall.Rusage
		syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
		return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
	}
	for _, ties := range []analysis.Ties{analysis.Efron, analysis.Breslow} {
		start, c0 := time.Now(), cpu()
		fit, rob, err := analysis.FitWeightedStratifiedCox(adjustedStrata(t, ps, 10), ties, analysis.CoxOptions{Terms: []string{"trt", "age", "ecog"}})
		if err != nil {
			t.Fatal(err)
		}
		t.Logf("%d patients, 10 sites, %v: propensity + weights + stratified adjusted weighted Cox (robust): wall %v, CPU %v; coef %.6g (robust SE %.4g, naive %.4g), %d iterations",
			n, ties, time.Since(start), cpu()-c0, fit.Coef, rob.SE, fit.SE, fit.Iterations)
	}
}
