package main

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/nats-io/nats.go"

	"github.com/oncofed/oncofed/network"
	"github.com/oncofed/oncofed/node"
)

// predictGolden is R's survfit(coxph(Surv(time, event) ~ sex + age, lung.csv), newdata) for
// the first profile of analysis/testdata/predict_goldens.json's "service" (Efron).
type predictGolden struct {
	Profiles []struct {
		LP      float64   `json:"lp"`
		Time    []float64 `json:"time"`
		Surv    []float64 `json:"surv"`
		Lower   []float64 `json:"lower"`
		Upper   []float64 `json:"upper"`
		AtTime  []float64 `json:"at_time"`
		AtSurv  []float64 `json:"at_surv"`
		AtLower []float64 `json:"at_lower"`
		AtUpper []float64 `json:"at_upper"`
	} `json:"profiles"`
}

// `oncofed-cli model --strata none --predict ... --times ...` over real nodes on an embedded
// hub: the predicted curve and the survival at the landmarks equal R's survfit(fit, newdata)
// to 1e-6, the profile's place in the cohort's lp histogram is given, and no query any site
// received carries the profile (a distinctive age is searched for in every query's bytes).
func TestModelPredict(t *testing.T) {
	b, err := os.ReadFile("../../analysis/testdata/predict_goldens.json")
	if err != nil {
		t.Fatal(err)
	}
	var g struct {
		Service map[string]predictGolden `json:"service"`
	}
	if err := json.Unmarshal(b, &g); err != nil {
		t.Fatal(err)
	}
	want := g.Service["efron"].Profiles[0] // sex male, age 63
	var mu sync.Mutex
	var queries []string
	url := startLungWrapped(t, node.ExactPolicy(), func(site string, h network.Handler, _ *nats.Conn) network.Handler {
		return network.HandlerFunc(func(ctx context.Context, q []byte) []byte {
			mu.Lock()
			queries = append(queries, string(q))
			mu.Unlock()
			return h.HandleJSON(ctx, q)
		})
	})
	code, out, errOut := cli(t, "--hub", url, "model", "--study", "lung", "--endpoint", "os", "--covariates", "sex,age",
		"--strata", "none", "--predict", "sex=male, age=63", "--times", "180,365,730,5000", "--format", "json")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	var doc struct {
		Predicted struct {
			LP          *float64
			Time        []float64
			Surv, Lower []*float64
			Upper       []*float64
			At          []struct {
				Time               float64
				Surv, Lower, Upper *float64
				BeyondFollowUp     bool `json:"beyond_follow_up"`
			}
			LPHistogram *struct {
				Bins []struct {
					Lower, Upper *float64
					N            int
				}
				Sites    []string
				CDF      []struct{ LP, Lower, Upper float64 }
				Position struct {
					Below, Above int
					InBin        int `json:"in_bin"`
					Text         string
				}
			} `json:"lp_histogram"`
		}
	}
	if err := json.Unmarshal([]byte(out), &doc); err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	p := doc.Predicted
	near(t, "lp", p.LP, want.LP, 1e-6)
	if len(p.Time) != len(want.Time) {
		t.Fatalf("%d times, R %d", len(p.Time), len(want.Time))
	}
	for i := range want.Time {
		near(t, "surv", p.Surv[i], want.Surv[i], 1e-6)
		near(t, "lower", p.Lower[i], want.Lower[i], 1e-6)
		near(t, "upper", p.Upper[i], want.Upper[i], 1e-6)
	}
	if len(p.At) != 4 || !p.At[3].BeyondFollowUp || p.At[3].Surv != nil {
		t.Fatalf("landmarks %+v", p.At)
	}
	for i := range want.AtTime {
		near(t, "surv at landmark", p.At[i].Surv, want.AtSurv[i], 1e-6)
		near(t, "lower at landmark", p.At[i].Lower, want.AtLower[i], 1e-6)
		near(t, "upper at landmark", p.At[i].Upper, want.AtUpper[i], 1e-6)
	}
	h := p.LPHistogram
	if h == nil || len(h.Sites) < 10 || len(h.Bins) < 1 || h.Bins[0].Lower != nil || h.Bins[len(h.Bins)-1].Upper != nil || len(h.CDF) < 10 {
		t.Fatalf("lp histogram %+v", h)
	}
	n := 0
	for _, bin := range h.Bins {
		n += bin.N
	}
	if pos := h.Position; pos.Below+pos.InBin+pos.Above != n || pos.InBin == 0 || pos.InBin > n/4 || !strings.Contains(pos.Text, "percentile") {
		t.Errorf("position %+v of %d", pos, n)
	}

	// The profile never leaves: a distinctive age, searched for in every query received.
	mu.Lock()
	queries = nil
	mu.Unlock()
	code, out, errOut = cli(t, "--hub", url, "model", "--study", "lung", "--endpoint", "os", "--covariates", "sex,age",
		"--strata", "none", "--predict", "sex=female,age=61.734289", "--format", "text")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	if !strings.Contains(out, "Predicted survival for sex female, age 61.734289") || !strings.Contains(out, "percentile") {
		t.Errorf("text output:\n%s", out)
	}
	mu.Lock()
	seen := slices.Clone(queries)
	mu.Unlock()
	histograms := 0
	for _, q := range seen {
		if strings.Contains(q, "61.734289") || strings.Contains(q, "61.73") {
			t.Errorf("a query carries the profile: %s", q)
		}
		if strings.Contains(q, `"lp_histogram"`) {
			histograms++
		}
	}
	if len(seen) < 18 || histograms == 0 {
		t.Errorf("%d queries, %d for the histogram: the check saw nothing", len(seen), histograms)
	}

	// The stored pooled fit keeps its baseline and validation: offline, the same command
	// predicts and validates again (the histogram needs the network and says so).
	db := filepath.Join(t.TempDir(), "cache.db")
	args := []string{"model", "--study", "lung", "--endpoint", "os", "--covariates", "sex,age", "--strata", "none",
		"--validate", "loso", "--landmarks", "180,365", "--predict", "sex=male,age=63", "--times", "180,365"}
	if code, _, errOut := cli(t, append([]string{"--hub", url, "--cache", db}, args...)...); code != 0 {
		t.Fatalf("live: exit %d: %s", code, errOut)
	}
	code, out, errOut = cli(t, append([]string{"--offline", "--hub", url, "--cache", db}, args...)...)
	if code != 0 || !strings.Contains(out, "Predicted survival for sex male, age 63") || !strings.Contains(out, "Calibration at landmarks") ||
		!strings.Contains(out, "offline: the cohort's risk-score distribution needs the network") {
		t.Errorf("offline: exit %d %s\n%s", code, errOut, out)
	}

	// The model stratified by site does not predict, and says why.
	code, _, errOut = cli(t, "--hub", url, "model", "--study", "lung", "--endpoint", "os", "--covariates", "sex,age",
		"--strata", "site", "--predict", "sex=male,age=63")
	if code == 0 || !strings.Contains(errOut, "no shared baseline hazard") {
		t.Errorf("stratified: exit %d, %s", code, errOut)
	}
}

// `oncofed-cli model --strata none --validate loso --landmarks 180,365` over real nodes: every
// site that evaluates the pooled model fitted on the others also releases calibration in the
// large and the Brier score at both landmarks (app.TestValidateLOSOPooled checks the numbers
// against the direct computation); the text output prints them.
func TestModelValidateLOSOPooled(t *testing.T) {
	url := startLung(t, node.ExactPolicy())
	args := []string{"--hub", url, "model", "--study", "lung", "--endpoint", "os", "--covariates", "age,sex",
		"--strata", "none", "--validate", "loso", "--landmarks", "180,365"}
	code, out, errOut := cli(t, append(args, "--format", "json")...)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	var doc struct {
		Validation struct {
			Sites []struct {
				Site        string
				SatOut      string `json:"sat_out"`
				Calibration []struct{ Time, Observed, Predicted float64 }
				Brier       []struct{ Time, Value float64 }
			}
		}
	}
	if err := json.Unmarshal([]byte(out), &doc); err != nil {
		t.Fatal(err)
	}
	answered := 0
	for _, s := range doc.Validation.Sites {
		if s.SatOut != "" {
			continue
		}
		answered++
		if len(s.Calibration) != 2 || len(s.Brier) != 2 || s.Brier[1].Time != 365 {
			t.Fatalf("%s: calibration %+v, brier %+v", s.Site, s.Calibration, s.Brier)
		}
		for k, b := range s.Brier {
			c := s.Calibration[k]
			if !(b.Value > 0 && b.Value < 0.5) || !(c.Observed >= 0 && c.Observed <= 1) || !(c.Predicted > 0 && c.Predicted < 1) {
				t.Errorf("%s at %v: brier %v, observed %v, predicted %v", s.Site, b.Time, b.Value, c.Observed, c.Predicted)
			}
		}
	}
	if answered < 5 {
		t.Errorf("%d sites answered", answered)
	}
	code, out, errOut = cli(t, args...)
	if code != 0 || !strings.Contains(out, "Calibration at landmarks") || !strings.Contains(out, "BRIER") {
		t.Errorf("text: exit %d %s\n%s", code, errOut, out)
	}
}
