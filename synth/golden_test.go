package synth_test

import (
	"bytes"
	"encoding/csv"
	"encoding/json"
	"flag"
	"math"
	"os"
	"path/filepath"
	"sort"
	"testing"

	"github.com/oncofed/oncofed/analysis"
	"github.com/oncofed/oncofed/synth"
)

var regen = flag.Bool("regen", false, "rewrite testdata/nsclc_golden.csv (then run testdata/r_check.R)")

// goldenSpec is the spec behind testdata/nsclc_golden.csv.
var goldenSpec = synth.Spec{Study: synth.NSCLC, SiteSizes: []int{800, 200}, Seed: 2024}

type rCheck struct {
	N         int `json:"n"`
	OSEvents  int `json:"os_events"`
	PFSEvents int `json:"pfs_events"`
	Arms      map[string]struct {
		N         int      `json:"n"`
		OSMedian  *float64 `json:"os_median"` // null: not reached
		PFSMedian *float64 `json:"pfs_median"`
	} `json:"arms"`
	Cox struct {
		Terms  []string  `json:"terms"`
		Coef   []float64 `json:"coef"`
		SE     []float64 `json:"se"`
		N      int       `json:"n"`
		Events int       `json:"events"`
	} `json:"cox"`
}

// TestGoldenSite pins the generator's output: site 0 of goldenSpec must be byte for byte
// testdata/nsclc_golden.csv (a change of model or of the Go toolchain's random variates shows
// here; regenerate deliberately with -regen and the R script). The same file read by R's
// survival package (testdata/r_check.json) gives the per-arm KM medians and an adjusted Cox
// fit that the analysis package must reproduce from the generator's columns (rel 1e-9).
func TestGoldenSite(t *testing.T) {
	g := mustNew(t, goldenSpec)
	got := csvBytes(t, g, 0)
	path := filepath.Join("testdata", "nsclc_golden.csv")
	if *regen {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Fatalf("site 0 of %+v differs from %s: the generator changed (regenerate with -regen and testdata/r_check.R if intended)", goldenSpec, path)
	}
	data, err := os.ReadFile(filepath.Join("testdata", "r_check.json"))
	if err != nil {
		t.Fatal(err)
	}
	var r rCheck
	if err := json.Unmarshal(data, &r); err != nil {
		t.Fatal(err)
	}
	c := g.Site(0)
	if c.Len() != r.N {
		t.Fatalf("%d patients, R read %d", c.Len(), r.N)
	}
	arms := map[string]*arm{}
	osEvents, pfsEvents := 0, 0
	for i := 0; i < c.Len(); i++ {
		tr := c.Level("treatment", i)
		if arms[tr] == nil {
			arms[tr] = &arm{}
		}
		arms[tr].add(c, i, 0)
		if c.OSEvent[i] {
			osEvents++
		}
		if c.PFSEvent[i] {
			pfsEvents++
		}
	}
	if osEvents != r.OSEvents || pfsEvents != r.PFSEvents {
		t.Errorf("events OS %d PFS %d, R %d %d", osEvents, pfsEvents, r.OSEvents, r.PFSEvents)
	}
	if len(arms) != len(r.Arms) {
		t.Errorf("%d arms, R %d", len(arms), len(r.Arms))
	}
	for name, ra := range r.Arms {
		a := arms[name]
		if a == nil || len(a.osT) != ra.N {
			t.Errorf("arm %s: missing or wrong size (R n=%d)", name, ra.N)
			continue
		}
		for _, m := range []struct {
			ep   string
			got  float64
			want *float64
		}{
			{"OS", km(t, a.osT, a.osE, 0.95).Median().Time, ra.OSMedian},
			{"PFS", km(t, a.pfsT, a.pfsE, 0.95).Median().Time, ra.PFSMedian},
		} {
			if m.want == nil && !math.IsNaN(m.got) || m.want != nil && !close(m.got, *m.want, 1e-9) {
				t.Errorf("arm %s %s median %v days, R %v", name, m.ep, m.got, m.want)
			}
		}
	}
	// The Cox fit from the columns, rows in CSV order (complete cases).
	var times []float64
	var events []bool
	var x []float64
	for i := 0; i < c.Len(); i++ {
		tr := c.Level("treatment", i)
		ecog := c.Column("ecog").Values[i]
		if (tr != "pembro-chemo" && tr != "chemo") || math.IsNaN(ecog) {
			continue
		}
		trt, female := 0.0, 0.0
		if tr == "pembro-chemo" {
			trt = 1
		}
		if c.Level("sex", i) == "female" {
			female = 1
		}
		times = append(times, c.OSDays[i])
		events = append(events, c.OSEvent[i])
		x = append(x, trt, ecog, female, c.Column("age").Values[i])
	}
	fit, err := analysis.FitCox(func(beta []float64) (analysis.CoxContribution, error) {
		return analysis.CoxStratumContribution(times, events, x, 4, beta, analysis.Efron)
	}, 4, analysis.CoxOptions{Terms: r.Cox.Terms})
	if err != nil {
		t.Fatal(err)
	}
	if fit.N != r.Cox.N || fit.Events != r.Cox.Events {
		t.Errorf("Cox n %d events %d, R %d %d", fit.N, fit.Events, r.Cox.N, r.Cox.Events)
	}
	for j, term := range r.Cox.Terms {
		if !close(fit.Coef[j], r.Cox.Coef[j], 1e-9) || !close(fit.SE[j], r.Cox.SE[j], 1e-9) {
			t.Errorf("%s: coef %v se %v, R %v %v", term, fit.Coef[j], fit.SE[j], r.Cox.Coef[j], r.Cox.SE[j])
		}
	}
	// The golden CSV parses as CSV with the schema's header (what R read).
	recs, err := csv.NewReader(bytes.NewReader(want)).ReadAll()
	if err != nil || len(recs) != r.N+1 {
		t.Fatalf("golden CSV: %d records, %v", len(recs), err)
	}
	keys := make([]string, 0, len(arms))
	for k := range arms {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	t.Logf("arms %v", keys)
}

func close(a, b, rel float64) bool {
	if a == b {
		return true
	}
	return math.Abs(a-b) <= rel*math.Max(math.Abs(a), math.Abs(b))
}
