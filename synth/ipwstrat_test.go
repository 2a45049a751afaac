package synth

import (
	"testing"

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
