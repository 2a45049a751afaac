package main

import (
	"encoding/json"
	"os"
	"strings"
	"testing"

	"github.com/oncofed/oncofed/node"
)

// TestScreenCommandEqualsR runs `oncofed-cli screen` over the lung sites (one per
// institution, exact policy) and compares every marker with R's coxph(Surv(time, event) ~
// marker + age + strata(site)), p.adjust(p, "BH") and metafor's heterogeneity of the sites'
// one-step estimates (analysis/testdata/r/screen_goldens.R, case lung, Efron, stratified).
func TestScreenCommandEqualsR(t *testing.T) {
	b, err := os.ReadFile("../../analysis/testdata/r/screen_goldens.json")
	if err != nil {
		t.Fatal(err)
	}
	var golden struct {
		Cases []struct {
			Name    string
			Strata  bool
			Ties    string
			Markers []struct {
				Marker    string
				Estimable bool
				Coef, SE  json.RawMessage
				Chisq, P  float64
				Q         float64
				N, Events int
				DF        int `json:"df"`
				Het       *struct {
					I2   float64
					Tau2 *float64
				}
			}
		}
	}
	if err := json.Unmarshal(b, &golden); err != nil {
		t.Fatal(err)
	}
	url := startLung(t, node.ExactPolicy())
	for _, c := range golden.Cases {
		if c.Name != "lung" || !c.Strata {
			continue
		}
		code, out, errOut := cli(t, "--hub", url, "screen", "--study", "lung", "--endpoint", "os", "--markers", "sex,ecog,karno,wt.loss",
			"--adjust", "age", "--ties", c.Ties, "--format", "json")
		if code != 0 {
			t.Fatalf("exit %d: %s", code, errOut)
		}
		var doc struct {
			Mode    string
			Tests   int
			Markers []struct {
				Marker    string
				Estimable bool
				Terms     []struct {
					Column   string
					Coef, SE *float64
				}
				Chisq, P, Q, I2, Tau2 *float64
				DF, N, Events         int
				SitesUsed             []string `json:"sites_used"`
			}
		}
		if err := json.Unmarshal([]byte(out), &doc); err != nil {
			t.Fatal(err)
		}
		if doc.Mode != "prognostic" || len(doc.Markers) != len(c.Markers) || doc.Tests != 4 {
			t.Fatalf("%s: mode %q, %d markers, %d tests", c.Ties, doc.Mode, len(doc.Markers), doc.Tests)
		}
		for i, w := range c.Markers {
			m := doc.Markers[i]
			where := c.Ties + " " + w.Marker
			if m.Marker != w.Marker || !m.Estimable || m.N != w.N || m.Events != w.Events || m.DF != w.DF {
				t.Errorf("%s: %+v", where, m)
				continue
			}
			var coef, se []float64
			if err := json.Unmarshal(wrapArray(w.Coef), &coef); err != nil {
				t.Fatal(err)
			}
			if err := json.Unmarshal(wrapArray(w.SE), &se); err != nil {
				t.Fatal(err)
			}
			for k := range coef {
				near(t, where+" coef", m.Terms[k].Coef, coef[k], 1e-6)
				near(t, where+" se", m.Terms[k].SE, se[k], 1e-6)
			}
			near(t, where+" chisq", m.Chisq, w.Chisq, 1e-6)
			near(t, where+" p", m.P, w.P, 1e-5)
			near(t, where+" q", m.Q, w.Q, 1e-5)
			if w.Het != nil {
				near(t, where+" I2", m.I2, w.Het.I2, 1e-6)
				if w.Het.Tau2 != nil {
					near(t, where+" tau2", m.Tau2, *w.Het.Tau2, 1e-6)
				}
			}
		}
		// The text table shows p and q side by side.
		code, out, errOut = cli(t, "--hub", url, "screen", "--study", "lung", "--endpoint", "os", "--markers", "sex,karno",
			"--adjust", "age", "--ties", c.Ties, "--sort", "q")
		if code != 0 || !strings.Contains(out, "p  ") || !strings.Contains(out, "q  ") || !strings.Contains(out, "sexmale") {
			t.Errorf("text: exit %d: %s%s", code, out, errOut)
		}
	}
}

func wrapArray(b json.RawMessage) []byte {
	if len(b) > 0 && b[0] != '[' {
		return append(append([]byte{'['}, b...), ']')
	}
	return b
}
