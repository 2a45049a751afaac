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

// TestDPAnalystIPW: `ipw` by an analyst of role dp on the 18 lung sites sends one query per site
// (a dp_tables Cox release; docs/dp-compare.md) and prints the comparison with the noise's SD of
// the log HR and the interval widened by it, in JSON and in text.
func TestDPAnalystIPW(t *testing.T) {
	keyFile, analysts := dpAnalyst(t)
	pol := node.DefaultPolicy()
	pol.DPRhoCox, pol.DPRhoDaily, pol.DPRhoTotal = 5, 20, 20
	pol.EventsPerCoxCovariate = 0 // lung's sites are small: the comparison, not that rule, is tested here
	var queries, ipw atomic.Int64
	url := startLungFor(t, pol, analysts, func(site string, h network.Handler, nc *nats.Conn) network.Handler {
		return network.HandlerFunc(func(ctx context.Context, q []byte) []byte {
			if !strings.Contains(string(q), `"kind":"catalog"`) {
				queries.Add(1)
			}
			if strings.Contains(string(q), `"kind":"ipw"`) {
				ipw.Add(1)
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
	args := []string{"ipw", "--study", "lung", "--endpoint", "os", "--treatment", "sex", "--treated", "female", "--confounders", "age,karno", "--strata", "none"}
	out := run(append(args, "--format", "json")...)
	if n := queries.Load(); n != 18 || ipw.Load() != 0 {
		t.Errorf("%d queries (%d of kind ipw) to 18 sites; want one dp_tables query each", n, ipw.Load())
	}
	var doc struct {
		Cox struct{ Lower, Upper float64 }
		DP  *struct {
			Rho            float64
			NoiseSD        []float64 `json:"noise_sd"`
			Patients       int       `json:"pseudo_patients"`
			LowerWithNoise float64   `json:"lower_with_noise"`
			UpperWithNoise float64   `json:"upper_with_noise"`
		}
	}
	if err := json.Unmarshal([]byte(out), &doc); err != nil {
		t.Fatal(err)
	}
	if doc.DP == nil || doc.DP.Rho != 5 || len(doc.DP.NoiseSD) != 1 || !(doc.DP.NoiseSD[0] > 0) || doc.DP.Patients == 0 {
		t.Fatalf("dp block %+v", doc.DP)
	}
	if !(doc.DP.LowerWithNoise < doc.Cox.Lower && doc.DP.UpperWithNoise > doc.Cox.Upper) {
		t.Errorf("interval with the noise %v–%v does not contain the robust one %v–%v", doc.DP.LowerWithNoise, doc.DP.UpperWithNoise, doc.Cox.Lower, doc.Cox.Upper)
	}
	text := run(args...)
	if !strings.Contains(text, "Differentially private: one release per site (ρ 5)") || !strings.Contains(text, "re-noised copies; with it, 95% CI") {
		t.Errorf("text output:\n%s", text)
	}
}
