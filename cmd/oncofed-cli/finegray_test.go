package main

import (
	"encoding/json"
	"fmt"
	"math"
	"slices"
	"strings"
	"testing"

	"github.com/oncofed/oncofed/node"
	"github.com/oncofed/oncofed/report"
)

func ptr[T any](v T) *T { return &v }

// oncofed-cli finegray over four SQLite sites on a real embedded hub equals cmprsk::crr on the
// pooled mgus2 records (coefficients and sandwich SEs to 1e-6), for both causes; CSV and text
// say the same; --strata site and a site that has not opted in to pooled models are refused.
func TestFineGrayCommandEqualsCRR(t *testing.T) {
	url, gold := startMGUS(t, node.ExactPolicy()) // the exact policy opts in to pooled models
	causes := map[int]string{1: "progression", 2: "death"}
	tested := 0
	for _, g := range gold.CRR {
		if g.Dataset != "mgus2" {
			continue
		}
		code, out, errOut := cli(t, "--hub", url, "finegray", "--study", "mgus", "--endpoint", "E", "--cause", causes[g.Failcode],
			"--covariates", "x1,x2,sex", "--format", "json")
		if code != 0 {
			t.Fatalf("%s: exit %d: %s", g.Name, code, errOut)
		}
		var doc struct {
			Cause  string `json:"cause"`
			N      int    `json:"n"`
			Events int    `json:"events"`
			Terms  []struct {
				Column string  `json:"column"`
				Coef   float64 `json:"coef"`
				SE     float64 `json:"se"`
				HR     float64 `json:"hr"`
				Lower  float64 `json:"lower"`
				Upper  float64 `json:"upper"`
				P      float64 `json:"p"`
			} `json:"terms"`
			Sites   []string       `json:"sites"`
			Privacy report.Privacy `json:"privacy"`
			Policy  map[string]any `json:"policy"`
		}
		if err := json.Unmarshal([]byte(out), &doc); err != nil {
			t.Fatalf("%s: %v\n%s", g.Name, err, out)
		}
		if len(doc.Terms) != 3 || len(doc.Sites) != 4 || doc.Cause != causes[g.Failcode] {
			t.Fatalf("%s: %s", g.Name, out)
		}
		// The privacy and provenance block of every result: an exact release from all four sites.
		if p := doc.Privacy; p.Release != "exact" || !slices.Equal(p.Answered, doc.Sites) || !slices.Equal(p.Expected, doc.Sites) ||
			len(p.Missing) != 0 || len(p.Bins) != 0 || p.SuppressedCells != 0 || p.DP != nil || p.ComputedAt.IsZero() || len(doc.Policy) != 4 {
			t.Errorf("%s: privacy %+v, policy %v", g.Name, p, doc.Policy)
		}
		worst := 0.0
		for j, term := range doc.Terms {
			worst = max(worst, math.Abs(term.Coef-g.Coef[j]), math.Abs(term.SE-g.SE[j]))
			if math.Abs(term.Coef-g.Coef[j]) > 1e-6 || math.Abs(term.SE-g.SE[j]) > 1e-6 {
				t.Errorf("%s %s: coef %.10g se %.10g, crr %.10g %.10g", g.Name, term.Column, term.Coef, term.SE, g.Coef[j], g.SE[j])
			}
			if math.Abs(term.HR-math.Exp(term.Coef)) > 1e-12*term.HR || !(term.Lower < term.HR && term.HR < term.Upper) || !(term.P >= 0 && term.P <= 1) {
				t.Errorf("%s %s: hr %v (%v–%v), p %v", g.Name, term.Column, term.HR, term.Lower, term.Upper, term.P)
			}
		}
		t.Logf("%s: largest difference from crr (coef, se) %.2g", g.Name, worst)
		if want := []string{"x1", "x2", "sexM"}; doc.Terms[0].Column != want[0] || doc.Terms[2].Column != want[2] {
			t.Errorf("%s: columns %v", g.Name, doc.Terms)
		}
		tested++
	}
	if tested != 2 {
		t.Fatalf("%d mgus2 crr goldens", tested)
	}
	code, out, errOut := cli(t, "--hub", url, "finegray", "--study", "mgus", "--endpoint", "E", "--cause", "death", "--covariates", "x1,x2,sex", "--format", "csv")
	if code != 0 || !strings.HasPrefix(out, "term,column,level,reference,coef,se,hr,lower,upper,p\n") || strings.Count(out, "\n") != 4 {
		t.Errorf("csv: exit %d %s\n%s", code, errOut, out)
	}
	code, out, errOut = cli(t, "--hub", url, "finegray", "--study", "mgus", "--endpoint", "E", "--cause", "death", "--covariates", "x1,x2,sex")
	if code != 0 || !strings.Contains(out, "Fine–Gray model of E (cause death") || !strings.Contains(out, "0.5236") {
		t.Errorf("text: exit %d %s\n%s", code, errOut, out)
	}
	code, _, errOut = cli(t, "--hub", url, "finegray", "--study", "mgus", "--endpoint", "E", "--cause", "death", "--covariates", "x1", "--strata", "site")
	if code == 0 || !strings.Contains(errOut, "no counterpart in cmprsk::crr") {
		t.Errorf("--strata site: exit %d: %s", code, errOut)
	}
	code, _, errOut = cli(t, "--hub", url, "finegray", "--study", "mgus", "--endpoint", "E", "--cause", "relapse", "--covariates", "x1")
	if code == 0 || !strings.Contains(errOut, "not a cause") {
		t.Errorf("unknown cause: exit %d: %s", code, errOut)
	}
}

// Sites whose policy does not opt in to pooled models refuse every round, and the command says
// why.
func TestFineGrayCommandRefusedWithoutOptIn(t *testing.T) {
	policy := node.ExactPolicy()
	policy.AllowPooledCox = false
	url, _ := startMGUS(t, policy)
	code, _, errOut := cli(t, "--hub", url, "finegray", "--study", "mgus", "--endpoint", "E", "--cause", "death", "--covariates", "x1")
	if code == 0 || !strings.Contains(errOut, "allow_pooled_cox") {
		t.Errorf("exit %d: %s", code, errOut)
	}
}

// Under the protective default policy (opted in to pooled models; 30-day bins, strict rows of
// min_cell patients of each kind, the model rules) the fit runs over the hub, every round
// passing the overlap guard (the same complete cases each time), and lands near the exact fit.
func TestFineGrayCommandProtectivePolicy(t *testing.T) {
	policy := node.DefaultPolicy()
	policy.AllowPooledCox = true
	url, _ := startMGUS(t, policy)
	code, out, errOut := cli(t, "--hub", url, "finegray", "--study", "mgus", "--endpoint", "E", "--cause", "death", "--covariates", "x1,x2,sex", "--format", "json")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	var doc struct {
		Converged bool `json:"converged"`
		Terms     []struct {
			Coef float64 `json:"coef"`
			SE   float64 `json:"se"`
		} `json:"terms"`
		Privacy report.Privacy `json:"privacy"`
	}
	if err := json.Unmarshal([]byte(out), &doc); err != nil || !doc.Converged || len(doc.Terms) != 3 {
		t.Fatalf("%v: %s", err, out)
	}
	// The JSON says what the policy did, as every result's does: the policy's bins at the four
	// sites, rows of min_cell patients (merged where fewer), the data cut.
	if p := doc.Privacy; p.Release != "coarsened" || len(p.Bins) != 1 || p.Bins[0].Days != policy.BinDays || len(p.Bins[0].Sites) != 4 ||
		p.MinCell != policy.MinCell || p.MergedRows == 0 || len(p.Answered) != 4 || !slices.Equal(p.DataCuts, []string{"2024-01-01"}) {
		t.Errorf("privacy %+v", p)
	}
	code, out, errOut = cli(t, "--hub", url, "finegray", "--study", "mgus", "--endpoint", "E", "--cause", "death", "--covariates", "x1,x2,sex")
	if code != 0 || !strings.Contains(out, fmt.Sprintf("privacy: coarsened release · %g-day bins at 4 sites", policy.BinDays)) {
		t.Errorf("text: exit %d %s\n%s", code, errOut, out)
	}
	// mgus2's times are months: 30-"day" bins and strict rows coarsen them a great deal.
	exact := []float64{0.523608232892292, -0.115669647497754, 0.475181555705616} // crr, mgus2, death
	for j, term := range doc.Terms {
		if math.Abs(term.Coef-exact[j]) > 0.1*math.Abs(exact[j]) {
			t.Errorf("term %d: %v under the protective policy, %v exact", j, term.Coef, exact[j])
		}
		t.Logf("term %d: coef %.6f (exact %.6f), se %.6f", j, term.Coef, exact[j], term.SE)
	}
}

// km's text says when the sites report delayed entries (a registry), with the figure's note,
// and its JSON carries the number.
func TestKMTextNamesDelayedEntry(t *testing.T) {
	var b strings.Builder
	if err := writeKM(&b, "text", &kmDoc{Study: "mm", Endpoint: "OS", ConfType: "log", DelayedEntries: 58}); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(b.String(), "Risk sets from entry; 58 entered late\n") {
		t.Errorf("text:\n%s", b.String())
	}
	b.Reset()
	if err := writeKM(&b, "json", &kmDoc{DelayedEntries: 58}); err != nil || !strings.Contains(b.String(), `"delayed_entries": 58`) {
		t.Errorf("json (%v):\n%s", err, b.String())
	}
}
