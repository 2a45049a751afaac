package synth

import (
	"os"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/oncofed/oncofed/analysis"
)

// adjustedPooled fits the ATE-weighted pooled Cox model of treatment adjusted for age and ECOG
// on ps over sites, through the network form's three phases in process
// (analysis.FitWeightedPooledCox): the sites' strata carry each site's own weights.
func adjustedPooled(t *testing.T, ps []ConfoundedPatient, sites int, ties analysis.Ties) (*analysis.CoxFit, *analysis.RobustCox) {
	t.Helper()
	fit, rob, err := analysis.FitWeightedPooledCox(adjustedStrata(t, ps, sites), ties, analysis.CoxOptions{Terms: []string{"trt", "age", "ecog"}})
	if err != nil {
		t.Fatal(err)
	}
	return fit, rob
}

// adjustedStrata fits the propensity model of treatment on age and ECOG over ps and returns
// each site's stratum of the outcome model (treatment, age − 65, ECOG) with its ATE weights.
func adjustedStrata(t *testing.T, ps []ConfoundedPatient, sites int) []*analysis.WeightedCoxStratum {
	t.Helper()
	x := make([]float64, 0, 3*len(ps))
	y := make([]bool, 0, len(ps))
	for _, p := range ps {
		x = append(x, 1, p.Age, p.ECOG)
		y = append(y, p.Treated)
	}
	prop, err := analysis.FitLogistic(func(beta []float64) (analysis.LogisticContribution, error) {
		return analysis.LogisticSiteContribution(x, 3, y, beta)
	}, 3, analysis.LogisticOptions{})
	if err != nil {
		t.Fatal(err)
	}
	strata := make([]*analysis.WeightedCoxStratum, sites)
	for s := range strata {
		var tm, xs, ws []float64
		var ev []bool
		for i, p := range ps {
			if p.Site != s {
				continue
			}
			w, _ := analysis.IPWeight(analysis.Propensity(x[3*i:3*i+3], prop.Coef), p.Treated, analysis.WeightOptions{})
			tm, ev, ws = append(tm, p.Time), append(ev, p.Event), append(ws, w)
			xs = append(xs, float64(b2i(p.Treated)), p.Age-65, p.ECOG) // age centred on a public constant
		}
		if strata[s], err = analysis.NewWeightedCoxStratum(tm, ev, xs, 3, ws); err != nil {
			t.Fatal(err)
		}
	}
	return strata
}

// The adjusted model on ConfoundedCohort: adjusting the weighted model for the confounders
// moves the treatment's HR towards the conditional one (0.70) the data were simulated with,
// and recovers the simulated age and ECOG log hazard ratios (0.03 a year, 0.6 a point) within
// their robust intervals.
func TestConfoundedCohortAdjustedPooled(t *testing.T) {
	fit, rob := adjustedPooled(t, ConfoundedCohort(4000, 5, 1), 5, analysis.Efron)
	want := []float64{ConfoundedLogHR, 0.03, 0.6}
	for j, b := range want {
		lo, hi := fit.Coef[j]-1.96*rob.SE[j], fit.Coef[j]+1.96*rob.SE[j]
		t.Logf("%s: %.4f (robust SE %.4f, naive %.4f), simulated %.3f", fit.Terms[j], fit.Coef[j], rob.SE[j], fit.SE[j], b)
		if b < lo || b > hi {
			t.Errorf("%s: %.4f (%.4f to %.4f) misses the simulated %.3f", fit.Terms[j], fit.Coef[j], lo, hi, b)
		}
	}
}

// TestIPWAdjustedPooledScale times the adjusted pooled model's rounds on ONCOFED_IPW_BENCH
// patients over 10 sites in process (the sites' and the client's computation, no network), and
// the same model stratified by site.
func TestIPWAdjustedPooledScale(t *testing.T) {
	nStr := os.Getenv("ONCOFED_IPW_BENCH")
	if nStr == "" {
		t.Skip("set ONCOFED_IPW_BENCH=1000000 to time the adjusted pooled model at scale")
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
	terms := analysis.CoxOptions{Terms: []string{"trt", "age", "ecog"}}
	for _, ties := range []analysis.Ties{analysis.Efron, analysis.Breslow} {
		start, c0 := time.Now(), cpu()
		fit, rob := adjustedPooled(t, ps, 10, ties)
		t.Logf("%d patients, 10 sites, %v: propensity + weights + adjusted pooled weighted Cox (3 phases, robust): wall %v, CPU %v; coef %.6g (robust SE %.4g, naive %.4g), %d iterations",
			n, ties, time.Since(start), cpu()-c0, fit.Coef, rob.SE, fit.SE, fit.Iterations)
		// The same model stratified by site (the cox stage with ipw.adjust).
		start, c0 = time.Now(), cpu()
		fit, rob, err := analysis.FitWeightedStratifiedCox(adjustedStrata(t, ps, 10), ties, terms)
		if err != nil {
			t.Fatal(err)
		}
		t.Logf("%d patients, 10 sites, %v: propensity + weights + stratified adjusted weighted Cox (robust): wall %v, CPU %v; coef %.6g (robust SE %.4g, naive %.4g), %d iterations",
			n, ties, time.Since(start), cpu()-c0, fit.Coef, rob.SE, fit.SE, fit.Iterations)
	}
}
