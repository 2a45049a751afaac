package analysis

import (
	"encoding/json"
	"os"
	"testing"

	"gonum.org/v1/gonum/floats/scalar"
)

// TestFitCoxPatternsEqualsR: the client's fit on covariate-pattern tables (a differentially
// private Cox release) equals R's coxph(Surv(time, event) ~ sexmale + age + strata(site)) on
// the subjects the tables describe — lung in two sites, 30-day bins, age at its bins'
// midpoints, perturbed counts (testdata/r/dpcox_patterns.R).
func TestFitCoxPatternsEqualsR(t *testing.T) {
	raw, err := os.ReadFile("testdata/r/dpcox_patterns.json")
	if err != nil {
		t.Fatal(err)
	}
	var golden struct {
		Sites map[string][]struct {
			X      []float64
			Time   []float64
			Events []int
			Censor []int
		}
		Fits []struct {
			Ties      string
			Coef, SE  []float64
			LogLik    []float64
			N, Events int
		}
	}
	if err := json.Unmarshal(raw, &golden); err != nil {
		t.Fatal(err)
	}
	var sites [][]CoxPatternTable
	for _, name := range []string{"even", "odd"} {
		var tabs []CoxPatternTable
		for _, pt := range golden.Sites[name] {
			tabs = append(tabs, CoxPatternTable{X: pt.X, Time: pt.Time, Events: pt.Events, Censor: pt.Censor})
		}
		sites = append(sites, tabs)
	}
	if len(golden.Fits) != 2 || len(sites[0]) == 0 || len(sites[1]) == 0 {
		t.Fatalf("golden file holds %d fits, sites %d and %d patterns", len(golden.Fits), len(sites[0]), len(sites[1]))
	}
	for _, want := range golden.Fits {
		ties, err := ParseTies(want.Ties)
		if err != nil {
			t.Fatal(err)
		}
		fit, err := FitCoxPatterns(sites, 2, ties, nil, CoxOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if fit.N != want.N || fit.Events != want.Events {
			t.Errorf("%s: n %d events %d, R %d %d", want.Ties, fit.N, fit.Events, want.N, want.Events)
		}
		for j := range want.Coef {
			if !scalar.EqualWithinAbsOrRel(fit.Coef[j], want.Coef[j], 1e-9, 1e-9) || !scalar.EqualWithinAbsOrRel(fit.SE[j], want.SE[j], 1e-9, 1e-9) {
				t.Errorf("%s: coef %d = %v (se %v), R %v (%v)", want.Ties, j, fit.Coef[j], fit.SE[j], want.Coef[j], want.SE[j])
			}
		}
		if !scalar.EqualWithinAbsOrRel(fit.LogLik, want.LogLik[1], 1e-9, 1e-9) || !scalar.EqualWithinAbsOrRel(fit.LogLik0, want.LogLik[0], 1e-9, 1e-9) {
			t.Errorf("%s: loglik %v, %v; R %v", want.Ties, fit.LogLik0, fit.LogLik, want.LogLik)
		}
	}
	// Bad tables are refused with where they are.
	if _, err := NewCoxStratumPatterns([]CoxPatternTable{{X: []float64{1}, Time: []float64{30}, Events: []int{-1}, Censor: []int{0}}}, 1); err == nil {
		t.Error("a negative count was accepted")
	}
	if _, err := NewCoxStratumPatterns([]CoxPatternTable{{X: []float64{1, 2}, Time: []float64{30}, Events: []int{1}, Censor: []int{0}}}, 1); err == nil {
		t.Error("a row of the wrong length was accepted")
	}
}
