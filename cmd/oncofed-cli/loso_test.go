package main

import (
	"encoding/json"
	"math"
	"strconv"
	"strings"
	"testing"

	"github.com/oncofed/oncofed/analysis"
	"github.com/oncofed/oncofed/internal/lungtest"
	"github.com/oncofed/oncofed/node"
)

// lungStrata returns each lung site's (age, male) Cox stratum.
func lungStrata(t *testing.T) map[string]*analysis.CoxStratum {
	t.Helper()
	h, rows := lungtest.Read(t)
	cs, ct, ce := lungtest.Column(t, h, "site"), lungtest.Column(t, h, "time"), lungtest.Column(t, h, "event")
	ca, cx := lungtest.Column(t, h, "age"), lungtest.Column(t, h, "sex")
	type data struct {
		time, x []float64
		event   []bool
	}
	by := map[string]*data{}
	for _, r := range rows {
		d := by[r[cs]]
		if d == nil {
			d = &data{}
			by[r[cs]] = d
		}
		tm, _ := strconv.ParseFloat(r[ct], 64)
		age, _ := strconv.ParseFloat(r[ca], 64)
		male := 0.0
		if r[cx] == "male" {
			male = 1
		}
		d.time, d.event, d.x = append(d.time, tm), append(d.event, r[ce] == "1"), append(d.x, age, male)
	}
	out := map[string]*analysis.CoxStratum{}
	for s, d := range by {
		st, err := analysis.NewCoxStratum(d.time, d.event, d.x, 2)
		if err != nil {
			t.Fatal(err)
		}
		out[s] = st
	}
	return out
}

// `oncofed-cli model --validate loso` over real nodes on an embedded hub: every site is
// listed, each answering site's C and slope equal the model fitted directly on the other
// sites' patients and evaluated on its own (analysis, checked against R); under the default
// policy the small institutions sit out with the reason; the pooled C carries a prediction interval wider
// than its confidence interval.
func TestModelValidateLOSO(t *testing.T) {
	url := startLung(t, node.ExactPolicy())
	code, out, errOut := cli(t, "--hub", url, "model", "--study", "lung", "--endpoint", "os", "--covariates", "age,sex",
		"--strata", "site", "--validate", "loso", "--format", "json")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	var doc struct {
		Terms      []coxTermDoc
		Validation struct {
			Sites []struct {
				Site               string
				N, Events          int
				HarrellC           *float64 `json:"harrell_c"`
				HarrellSE          *float64 `json:"harrell_se"`
				UnoC               *float64 `json:"uno_c"`
				CalibrationSlope   *float64 `json:"calibration_slope"`
				CalibrationSlopeSE *float64 `json:"calibration_slope_se"`
				Coef               []float64
				SatOut             string `json:"sat_out"`
			}
			Pooled struct {
				HarrellC        float64 `json:"harrell_c"`
				Lower, Upper    float64
				PredictionLower float64 `json:"prediction_lower"`
				PredictionUpper float64 `json:"prediction_upper"`
			}
		}
	}
	if err := json.Unmarshal([]byte(out), &doc); err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	strata := lungStrata(t)
	if len(doc.Terms) != 2 || len(doc.Validation.Sites) != len(strata) {
		t.Fatalf("%d terms, %d sites of %d: %s", len(doc.Terms), len(doc.Validation.Sites), len(strata), out)
	}
	answered := 0
	for _, s := range doc.Validation.Sites {
		if s.SatOut != "" {
			continue
		}
		answered++
		var others []*analysis.CoxStratum
		for site, st := range strata {
			if site != s.Site {
				others = append(others, st)
			}
		}
		fit, err := analysis.FitCox(analysis.StrataEvaluator(others, analysis.Efron), 2, analysis.CoxOptions{})
		if err != nil {
			t.Fatal(err)
		}
		want, err := strata[s.Site].Validate(fit.Coef, analysis.Efron, nil, nil)
		if err != nil {
			t.Fatal(err)
		}
		near(t, s.Site+" C", s.HarrellC, want.Harrell.C, 1e-9)
		near(t, s.Site+" C SE", s.HarrellSE, want.Harrell.SE, 1e-9)
		near(t, s.Site+" Uno C", s.UnoC, want.Uno.C, 1e-9)
		if math.IsNaN(want.Slope) {
			if s.CalibrationSlope != nil {
				t.Errorf("%s: slope %v released where it cannot be fitted", s.Site, *s.CalibrationSlope)
			}
		} else {
			near(t, s.Site+" slope", s.CalibrationSlope, want.Slope, 1e-9)
		}
		if s.N != want.N || s.Events != want.Events {
			t.Errorf("%s: n %d events %d, want %d %d", s.Site, s.N, s.Events, want.N, want.Events)
		}
	}
	if answered != len(strata) {
		t.Errorf("%d of %d sites answered under the exact policy", answered, len(strata))
	}
	p := doc.Validation.Pooled
	if !(p.PredictionLower <= p.Lower && p.Lower < p.HarrellC && p.HarrellC < p.Upper && p.Upper <= p.PredictionUpper) {
		t.Errorf("pooled C %+v: the prediction interval should contain the confidence interval around C", p)
	}
	// Under the default policy the small institutions sit out, named in the text output; csv
	// and strata within sites are refused up front.
	pol := node.DefaultPolicy()
	pol.DailyQueryBudget, pol.EventsPerCoxCovariate = 0, 0
	url = startLung(t, pol)
	code, out, errOut = cli(t, "--hub", url, "model", "--study", "lung", "--endpoint", "os", "--covariates", "age,sex",
		"--strata", "site", "--validate", "loso")
	if code != 0 || !strings.Contains(out, "sat out:") || !strings.Contains(out, "prediction interval") {
		t.Errorf("text: exit %d\n%s\n%s", code, out, errOut)
	}
	for _, extra := range [][]string{{"--strata", "ecog"}, {"--strata", "site", "--format", "csv"}} {
		args := append([]string{"--hub", url, "model", "--study", "lung", "--endpoint", "os", "--covariates", "age,sex", "--validate", "loso"}, extra...)
		if code, _, errOut := cli(t, args...); code == 0 || !strings.Contains(errOut, "--validate") {
			t.Errorf("%v: exit %d: %s", extra, code, errOut)
		}
	}
}
