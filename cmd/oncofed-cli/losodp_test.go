package main

import (
	"context"
	"encoding/json"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/nats-io/nats.go"
	"github.com/oncofed/oncofed/network"
	"github.com/oncofed/oncofed/node"
)

// An analyst of role dp validates its model leave one site out and predicts for a patient,
// from the differentially private tables of one release: the first `model --validate loso`
// sends one dp_tables query (one ρ per site); validating or predicting again over the same
// tables, stratified or pooled, sends nothing (the tables kept with the first result are
// reused); every figure says it comes from DP tables, and the validation states its noise.
func TestDPAnalystModelLOSOAndPredict(t *testing.T) {
	keyFile, analysts := dpAnalyst(t)
	pol := node.DefaultPolicy()
	pol.DPRhoCox, pol.DPRhoDaily, pol.DPRhoTotal = 5, 20, 20
	var queries atomic.Int64
	url := startLungFor(t, pol, analysts, func(site string, h network.Handler, nc *nats.Conn) network.Handler {
		return network.HandlerFunc(func(ctx context.Context, q []byte) []byte {
			if !strings.Contains(string(q), `"kind":"catalog"`) { // each command reads the catalog
				queries.Add(1)
			}
			return h.HandleJSON(ctx, q)
		})
	})
	db := filepath.Join(t.TempDir(), "cache.db")
	run := func(args ...string) string {
		t.Helper()
		code, out, stderr := cli(t, append([]string{"--hub", url, "--key", keyFile, "--cache", db}, args...)...)
		if code != exitOK {
			t.Fatalf("%v: exit %d\n%s%s", args, code, out, stderr)
		}
		return out
	}
	run("catalog")
	model := []string{"model", "--study", "lung", "--endpoint", "os", "--covariates", "sex"}
	before := queries.Load()
	out := run(append(model, "--strata", "site", "--validate", "loso", "--format", "json")...)
	sites := queries.Load() - before
	if sites == 0 {
		t.Fatal("the first dp fit sent no query")
	}
	var doc struct {
		Form       string
		Validation struct {
			Method string
			DP     struct {
				Rho           float64
				RhoSpent      float64 `json:"rho_spent"`
				Queries       int
				NoiseReleases int `json:"noise_releases"`
				Note          string
			}
			Sites []struct {
				Site     string
				SatOut   string   `json:"sat_out"`
				HarrellC *float64 `json:"harrell_c"`
				NoiseSD  *struct {
					HarrellC *float64 `json:"harrell_c"`
				} `json:"noise_sd"`
			}
			Pooled struct {
				HarrellC *float64 `json:"harrell_c"`
			}
		}
	}
	if err := json.Unmarshal([]byte(out), &doc); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	v := doc.Validation
	if doc.Form != "dp_tables" || v.DP.Rho != 5 || v.DP.Queries != 0 || v.DP.RhoSpent != 0 || v.DP.NoiseReleases != 50 || !strings.Contains(v.Method, "differentially private") ||
		!strings.Contains(v.DP.Note, "sent no query") || v.Pooled.HarrellC == nil || len(v.Sites) < 2 {
		t.Fatalf("validation %+v\n%s", v, out)
	}
	answered := 0
	for _, s := range v.Sites {
		if s.SatOut == "" {
			answered++
			if s.HarrellC == nil || s.NoiseSD == nil || s.NoiseSD.HarrellC == nil || !(*s.NoiseSD.HarrellC > 0) {
				t.Errorf("site %s: C %v, noise %+v", s.Site, s.HarrellC, s.NoiseSD)
			}
		}
	}
	if answered < 2 {
		t.Errorf("%d sites validated", answered)
	}

	// Pooled, validated with calibration, and a prediction: the same tables, nothing sent.
	before = queries.Load()
	text := run(append(model, "--strata", "none", "--validate", "loso", "--landmarks", "180,365", "--predict", "sex=male", "--times", "180,365")...)
	if got := queries.Load() - before; got != 0 {
		t.Errorf("validating and predicting over the kept tables sent %d queries", got)
	}
	for _, want := range []string{"pooled baseline hazard, fitted on differentially private tables", "Leave-one-site-out validation on differentially private tables",
		"C NOISE SD", "this validation sent no query and spent no ρ", "The tables are those kept with result 1", "inst10 sat out: released no tables: ", "Calibration at landmarks", "Predicted survival for", "Fitted on the sites' differentially private tables",
		"Noise of the differentially private release"} {
		if !strings.Contains(text, want) {
			t.Errorf("pooled model: %q missing\n%s", want, text)
		}
	}
	if strings.Contains(text, "risk score among the cohort: not shown") {
		t.Errorf("the lp histogram of a dp model comes from its tables\n%s", text)
	}
	// Stored, it reopens offline from its trace: the pooled fit, the validation with its noise.
	code, shown, stderr := cli(t, "--offline", "--cache", db, "library", "show", "2")
	if code != exitOK || !strings.Contains(shown, "pooled baseline hazard, fitted on differentially private tables") || !strings.Contains(shown, "C NOISE SD") ||
		!strings.Contains(shown, "this validation sent no query") {
		t.Errorf("library show: exit %d\n%s%s", code, shown, stderr)
	}
}
