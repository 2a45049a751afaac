package main

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/oncofed/oncofed/internal/lungtest"
	"github.com/oncofed/oncofed/node"
)

// TestCoxPerSiteEqualsR: cox --per-site over the lung network (one node per institution, exact
// policy) prints each site's own hazard ratio for sex and their meta-analysis, equal to R's
// per-site coxph and metafor::rma (analysis/testdata/meta_goldens.R); the text output shows the
// same sites and the heterogeneity line; CSV and the pooled form are refused with the reason.
func TestCoxPerSiteEqualsR(t *testing.T) {
	g := lungtest.ReadMetaCase(t, "lung_sex_by_site")
	url := startLung(t, node.ExactPolicy())
	cache := t.TempDir() + "/cache.db"
	base := []string{"--hub", url, "--cache", cache, "cox", "--study", "lung", "--endpoint", "os", "--covariates", "sex", "--per-site"}
	code, out, errOut := cli(t, append(base, "--format", "json")...)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	type pooled struct {
		LogHR *float64 `json:"log_hr"`
		SE, P *float64
	}
	var doc struct {
		PerSite struct {
			DP      bool
			Queries int
			Terms   []struct {
				Term  string
				Sites []struct {
					Site         string
					N, Events    int
					LogHR        *float64 `json:"log_hr"`
					SE           *float64
					WeightRandom *float64 `json:"weight_random"`
				}
				Excluded      []struct{ Site, Reason string }
				Fixed, Random pooled
				Tau2, Q, I2   *float64
				QP            *float64 `json:"q_p"`
				DF            int
			}
		} `json:"per_site"`
	}
	if err := json.Unmarshal([]byte(out), &doc); err != nil {
		t.Fatal(err)
	}
	ps := doc.PerSite
	if ps.DP || ps.Queries == 0 || len(ps.Terms) != 1 || ps.Terms[0].Term != "sexmale" {
		t.Fatalf("per_site %+v", ps)
	}
	term := ps.Terms[0]
	if len(term.Sites) != len(g.Site) {
		t.Fatalf("%d sites pooled, R %d: %+v", len(term.Sites), len(g.Site), term.Sites)
	}
	for i, s := range term.Sites {
		if s.Site != g.Site[i] || s.N == 0 || s.Events < 10 {
			t.Errorf("site %d: %+v, R %s", i, s, g.Site[i])
		}
		near(t, s.Site+" log HR", s.LogHR, g.Yi[i], 1e-9)
		near(t, s.Site+" SE", s.SE, g.Sei[i], 1e-9)
		near(t, s.Site+" weight", s.WeightRandom, g.WeightsRandom[i], 1e-9)
	}
	for _, e := range term.Excluded {
		if e.Reason == "" {
			t.Errorf("site %s left out without a reason", e.Site)
		}
	}
	if len(term.Excluded)+len(term.Sites) != 18 {
		t.Errorf("%d left out + %d pooled of lung's 18 sites", len(term.Excluded), len(term.Sites))
	}
	near(t, "fixed", term.Fixed.LogHR, g.Fixed.Estimate[0], 1e-9)
	near(t, "fixed SE", term.Fixed.SE, g.Fixed.SE[0], 1e-9)
	near(t, "random", term.Random.LogHR, g.Random.Estimate[0], 1e-9)
	near(t, "random SE", term.Random.SE, g.Random.SE[0], 1e-9)
	near(t, "Q", term.Q, g.Q[0], 1e-9)
	near(t, "Q p", term.QP, g.QP[0], 1e-6)
	near(t, "I2", term.I2, g.I2[0], 1e-9)
	if g.Tau2[0] == 0 {
		if term.Tau2 == nil || *term.Tau2 != 0 {
			t.Errorf("tau2 %v, R 0", term.Tau2)
		}
	} else {
		near(t, "tau2", term.Tau2, g.Tau2[0], 1e-9)
	}

	code, text, errOut := cli(t, base...)
	if code != 0 {
		t.Fatalf("text: exit %d: %s", code, errOut)
	}
	hr := "random effects (DerSimonian–Laird): HR " // the heterogeneity line
	if !strings.Contains(text, "Per site: the model fitted at each site alone") || !strings.Contains(text, hr) || !strings.Contains(text, g.Site[0]) {
		t.Fatalf("text output without the per-site table:\n%s", text)
	}
	if !strings.Contains(text, "Not pooled: ") {
		t.Errorf("text output does not name the sites left out:\n%s", text)
	}
	for _, bad := range [][]string{{"--format", "csv"}, {"--strata", "none"}} {
		code, _, errOut := cli(t, append(base, bad...)...)
		if code != 2 || !strings.Contains(errOut, "--per-site") {
			t.Errorf("%v: exit %d: %s", bad, code, errOut)
		}
	}
}
