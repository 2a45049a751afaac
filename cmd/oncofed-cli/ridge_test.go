package main

import (
	"encoding/json"
	"os"
	"strconv"
	"strings"
	"testing"

	"gonum.org/v1/gonum/floats/scalar"

	"github.com/oncofed/oncofed/node"
)

// ridgeGolden is the part of analysis/testdata/ridge_goldens.json (R's coxph(... ridge(X,
// theta, scale = FALSE)) on lung by institution) that the CLI is checked against.
type ridgeGolden struct {
	Cases []struct {
		Name     string
		Expected struct {
			Coef, SE, SE2   []float64
			LogLik, Penalty float64
			DF              float64
		}
	}
	Loso []struct {
		Name     string
		Expected struct {
			Curve []struct {
				Theta   float64
				Sites   []string
				Heldout []float64
				Total   float64
			}
			Best float64
		}
	}
}

func loadRidgeGolden(t *testing.T) *ridgeGolden {
	t.Helper()
	b, err := os.ReadFile("../../analysis/testdata/ridge_goldens.json")
	if err != nil {
		t.Fatal(err)
	}
	var g ridgeGolden
	if err := json.Unmarshal(b, &g); err != nil {
		t.Fatal(err)
	}
	return &g
}

type ridgeDoc struct {
	Terms []struct {
		Coef, SE, SE2 float64
	}
	Loglik  []float64
	Penalty struct {
		Theta   float64
		Penalty float64
		DF      float64
		Curve   []struct {
			Theta         float64
			HeldoutLoglik float64 `json:"heldout_loglik"`
			Sites         []struct {
				Site   string
				Loglik float64
			}
		}
		SatOut []struct{ Site, Reason string } `json:"sat_out"`
	}
}

func within(got, want, tol float64) bool { return scalar.EqualWithinAbsOrRel(got, want, tol, tol) }

// `oncofed-cli model --penalty ridge --theta 1` over real nodes on an embedded hub (one per
// lung institution): coefficients, se (R's se(coef)) and se2, the unpenalized loglik, the
// penalty and the effective df equal R's coxph(... ridge(age, sex, ecog, theta = 1)) to 1e-9,
// stratified by site and pooled, Efron and Breslow.
func TestModelRidge(t *testing.T) {
	g := loadRidgeGolden(t)
	url := startLung(t, node.ExactPolicy())
	for _, c := range []struct{ golden, strata, ties string }{
		{"lung_app_theta1_efron_strata", "site", "efron"}, {"lung_app_theta1_breslow_strata", "site", "breslow"},
		{"lung_app_theta1_efron", "none", "efron"}, {"lung_app_theta1_breslow", "none", "breslow"},
	} {
		t.Run(c.golden, func(t *testing.T) {
			var want *struct {
				Coef, SE, SE2   []float64
				LogLik, Penalty float64
				DF              float64
			}
			for i := range g.Cases {
				if g.Cases[i].Name == c.golden {
					want = &g.Cases[i].Expected
				}
			}
			if want == nil {
				t.Fatalf("no golden %s", c.golden)
			}
			code, out, errOut := cli(t, "--hub", url, "model", "--study", "lung", "--endpoint", "os", "--covariates", "age,sex,ecog",
				"--strata", c.strata, "--ties", c.ties, "--penalty", "ridge", "--theta", "1", "--format", "json")
			if code != 0 {
				t.Fatalf("exit %d: %s", code, errOut)
			}
			var doc ridgeDoc
			if err := json.Unmarshal([]byte(out), &doc); err != nil {
				t.Fatal(err)
			}
			if len(doc.Terms) != len(want.Coef) {
				t.Fatalf("%d terms, R %d", len(doc.Terms), len(want.Coef))
			}
			for j, term := range doc.Terms {
				for _, v := range [][3]float64{{term.Coef, want.Coef[j]}, {term.SE, want.SE[j]}, {term.SE2, want.SE2[j]}} {
					if !within(v[0], v[1], 1e-9) {
						t.Errorf("term %d: %.15g, R %.15g", j, v[0], v[1])
					}
				}
			}
			if !within(doc.Loglik[1], want.LogLik, 1e-9) || !within(doc.Penalty.Penalty, want.Penalty, 1e-9) || !within(doc.Penalty.DF, want.DF, 1e-9) {
				t.Errorf("loglik %v, penalty %v, df %v; R %v, %v, %v", doc.Loglik[1], doc.Penalty.Penalty, doc.Penalty.DF, want.LogLik, want.Penalty, want.DF)
			}
		})
	}
}

// `oncofed-cli model --penalty ridge --theta loso` chooses θ leaving one site out: each
// held-out institution's partial log-likelihood at the model fitted on the others, and the
// summed curve, equal R's (the same loop over coxph fits) to 1e-9 for every θ of the default
// grid, and the chosen θ is R's; the model is then fitted at that θ. The text output shows the
// curve, and reopening the stored result offline gives the same choice without a network.
func TestModelRidgeLOSO(t *testing.T) {
	g := loadRidgeGolden(t)
	url := startLung(t, node.ExactPolicy())
	cache := t.TempDir() + "/cache.db"
	for _, c := range []struct{ golden, strata string }{{"lung_app_loso_efron_strata", "site"}, {"lung_app_loso_efron_pooled", "none"}} {
		t.Run(c.golden, func(t *testing.T) {
			var want = -1
			for i := range g.Loso {
				if g.Loso[i].Name == c.golden {
					want = i
				}
			}
			if want < 0 {
				t.Fatalf("no golden %s", c.golden)
			}
			w := g.Loso[want].Expected
			args := []string{"model", "--study", "lung", "--endpoint", "os", "--covariates", "age,sex", "--strata", c.strata,
				"--penalty", "ridge", "--theta", "loso"}
			code, out, errOut := cli(t, append([]string{"--hub", url, "--cache", cache}, append(args, "--format", "json")...)...)
			if code != 0 {
				t.Fatalf("exit %d: %s", code, errOut)
			}
			var doc ridgeDoc
			if err := json.Unmarshal([]byte(out), &doc); err != nil {
				t.Fatal(err)
			}
			if len(doc.Penalty.SatOut) != 0 {
				t.Errorf("sites left out under the exact policy: %v", doc.Penalty.SatOut)
			}
			if len(doc.Penalty.Curve) != len(w.Curve) {
				t.Fatalf("%d points, R %d", len(doc.Penalty.Curve), len(w.Curve))
			}
			for k, pt := range doc.Penalty.Curve {
				rw := w.Curve[k]
				if pt.Theta != rw.Theta || !within(pt.HeldoutLoglik, rw.Total, 1e-9) {
					t.Errorf("θ %g: held-out loglik %.15g; R θ %g: %.15g", pt.Theta, pt.HeldoutLoglik, rw.Theta, rw.Total)
				}
				if len(pt.Sites) != len(rw.Sites) {
					t.Fatalf("θ %g: %d sites, R %d", pt.Theta, len(pt.Sites), len(rw.Sites))
				}
				for i, s := range pt.Sites {
					if s.Site != rw.Sites[i] || !within(s.Loglik, rw.Heldout[i], 1e-9) {
						t.Errorf("θ %g, %s: %.15g; R %s: %.15g", pt.Theta, s.Site, s.Loglik, rw.Sites[i], rw.Heldout[i])
					}
				}
			}
			if doc.Penalty.Theta != w.Best {
				t.Errorf("chose θ = %g, R %g", doc.Penalty.Theta, w.Best)
			}
			code, text, errOut := cli(t, append([]string{"--cache", cache, "--offline"}, append(args, "--format", "text")...)...)
			if code != 0 {
				t.Fatalf("offline: exit %d: %s", code, errOut)
			}
			if !strings.Contains(text, "← chosen") || !strings.Contains(text, "ridge θ = "+g4(w.Best)+" (chosen leave one site out)") {
				t.Errorf("offline text lacks the choice:\n%s", text)
			}
		})
	}
}

func g4(v float64) string { return strconv.FormatFloat(v, 'g', -1, 64) }
