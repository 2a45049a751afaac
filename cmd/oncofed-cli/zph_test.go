package main

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/oncofed/oncofed/internal/lungtest"
	"github.com/oncofed/oncofed/node"
)

// TestCoxZPHCommandEqualsR: cox --zph over the lung network (one node per institution, exact
// policy, embedded NATS) prints R's cox.zph table for the model stratified by site and the
// pooled one, for every transform; the text output shows the same table, and --offline shows
// it again from the cache.
func TestCoxZPHCommandEqualsR(t *testing.T) {
	url := startLung(t, node.ExactPolicy())
	cache := t.TempDir() + "/cache.db"
	for _, tc := range []struct {
		golden string
		args   []string
	}{
		{"lungcsv_strata_efron", []string{"--covariates", "age,sex,ecog"}},
		{"lungcsv_pooled_efron", []string{"--covariates", "age,sex,ecog", "--strata", "none"}},
		{"lungcsv_pooled_breslow", []string{"--covariates", "age,sex", "--strata", "none", "--ties", "breslow"}},
	} {
		g := lungtest.ReadZPHCase(t, tc.golden)
		for _, want := range g.ZPH {
			flag := "--zph=" + want.Transform
			args := append([]string{"--hub", url, "--cache", cache, "cox", "--study", "lung", "--endpoint", "os", "--format", "json", flag}, tc.args...)
			code, out, errOut := cli(t, args...)
			if code != 0 {
				t.Fatalf("%s %s: exit %d: %s", tc.golden, flag, code, errOut)
			}
			var doc struct {
				ZPH struct {
					Transform string
					Error     string
					Rows      []struct {
						Term  string
						ChiSq *float64
						DF    int
						P     *float64
					}
				}
			}
			if err := json.Unmarshal([]byte(out), &doc); err != nil {
				t.Fatal(err)
			}
			if doc.ZPH.Error != "" || doc.ZPH.Transform != want.Transform || len(doc.ZPH.Rows) != len(want.Terms) {
				t.Fatalf("%s %s: zph %+v", tc.golden, flag, doc.ZPH)
			}
			for k, r := range doc.ZPH.Rows {
				if r.Term != want.Terms[k] || r.DF != want.DF[k] {
					t.Errorf("%s %s: row %d %s df %d, R %s df %d", tc.golden, flag, k, r.Term, r.DF, want.Terms[k], want.DF[k])
				}
				near(t, tc.golden+" "+want.Transform+" "+r.Term+" chisq", r.ChiSq, want.ChiSq[k], 1e-9)
				near(t, tc.golden+" "+want.Transform+" "+r.Term+" p", r.P, want.P[k], 1e-9)
			}
		}
	}
	// Text: the table under the hazard ratios; and the same again offline, from the cache.
	args := []string{"--hub", url, "--cache", cache, "cox", "--study", "lung", "--endpoint", "os", "--covariates", "age,sex,ecog", "--zph"}
	code, out, errOut := cli(t, args...)
	if code != 0 {
		t.Fatalf("text: exit %d: %s", code, errOut)
	}
	if !strings.Contains(out, "Proportional hazards") || !strings.Contains(out, "All terms (global)") || !strings.Contains(out, "1 − Kaplan–Meier") {
		t.Fatalf("text output without the table:\n%s", out)
	}
	code, off, errOut := cli(t, append([]string{"--offline"}, args[2:]...)...)
	if code != 0 {
		t.Fatalf("offline: exit %d: %s", code, errOut)
	}
	if tableOf(off) != tableOf(out) {
		t.Fatalf("offline table differs:\n%s\nonline:\n%s", off, out)
	}
}

// tableOf is the proportional-hazards part of the cox command's text output.
func tableOf(out string) string {
	i := strings.Index(out, "Proportional hazards")
	if i < 0 {
		return ""
	}
	s := out[i:]
	if j := strings.Index(s, "\nprivacy:"); j >= 0 {
		s = s[:j]
	}
	return s
}

// TestCoxZPHDefaultPolicy: sites under the default policy answer the identity transform and
// refuse km (a transform from the client); the fit stands and the refusal is printed.
func TestCoxZPHDefaultPolicy(t *testing.T) {
	url := startLung(t, node.DefaultPolicy())
	base := []string{"--hub", url, "--cache", t.TempDir() + "/c.db", "cox", "--study", "lung", "--endpoint", "os", "--covariates", "age,sex", "--format", "json"}
	code, out, errOut := cli(t, append(base, "--zph=identity")...)
	if code != 0 && code != 3 {
		t.Fatalf("identity: exit %d: %s", code, errOut)
	}
	if !strings.Contains(out, `"GLOBAL"`) {
		t.Fatalf("identity: no table: %s %s", out, errOut)
	}
	_, out, _ = cli(t, append(base, "--zph")...)
	if !strings.Contains(out, "allow_pooled_cox") || strings.Contains(out, `"GLOBAL"`) {
		t.Fatalf("km under the default policy: %s", out)
	}
}

// TestCoxCountsPerLevel: cox --counts adds, per level of each categorical covariate, the
// model's patients and events, equal to a tabulation of lung.csv's complete cases (age, sex
// and ecog present), adding up to the model's n and events; the text table shows them.
func TestCoxCountsPerLevel(t *testing.T) {
	url := startLung(t, node.ExactPolicy())
	header, rows := lungtest.Read(t)
	col := func(name string) int { return lungtest.Column(t, header, name) }
	want := map[string]map[string][2]int{"sex": {}, "ecog": {}}
	for _, r := range rows {
		if r[col("age")] == "" || r[col("sex")] == "" || r[col("ecog")] == "" {
			continue
		}
		ev := 0
		if r[col("event")] == "1" {
			ev = 1
		}
		for _, v := range []string{"sex", "ecog"} {
			c := want[v][r[col(v)]]
			want[v][r[col(v)]] = [2]int{c[0] + 1, c[1] + ev}
		}
	}
	args := []string{"--hub", url, "cox", "--study", "lung", "--endpoint", "os", "--covariates", "age,sex,ecog", "--counts", "--format", "json"}
	code, out, errOut := cli(t, args...)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	var doc struct {
		N, Events   int
		LevelCounts struct {
			ByLevel map[string]map[string]struct{ N, Events int } `json:"by_level"`
			Missing map[string]string
		} `json:"level_counts"`
	}
	if err := json.Unmarshal([]byte(out), &doc); err != nil {
		t.Fatal(err)
	}
	if len(doc.LevelCounts.Missing) != 0 || len(doc.LevelCounts.ByLevel) != 2 {
		t.Fatalf("level counts %+v", doc.LevelCounts)
	}
	for v, levels := range want {
		n, ev := 0, 0
		for l, w := range levels {
			got := doc.LevelCounts.ByLevel[v][l]
			if got.N != w[0] || got.Events != w[1] {
				t.Errorf("%s %s: n %d events %d, lung.csv %d %d", v, l, got.N, got.Events, w[0], w[1])
			}
			n, ev = n+got.N, ev+got.Events
		}
		if n != doc.N || ev != doc.Events || doc.N != 226 || doc.Events != 163 { // R: coxph n = 226, 163 events
			t.Errorf("%s: counts add to %d, %d; the model has %d, %d", v, n, ev, doc.N, doc.Events)
		}
	}
	code, out, errOut = cli(t, args[:len(args)-2]...)
	if code != 0 || !strings.Contains(out, "N\tEVENTS") && !strings.Contains(out, "EVENTS") {
		t.Fatalf("text: exit %d %s\n%s", code, errOut, out)
	}
}
