package main

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"gonum.org/v1/gonum/floats/scalar"

	"github.com/oncofed/oncofed/cache"
	"github.com/oncofed/oncofed/chart"
	"github.com/oncofed/oncofed/node"
	"github.com/oncofed/oncofed/report"
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

// `library pin ID --view validation|patient` pins a validated, penalized model as its slide
// shows it: the forest of the held-out sites' C with the model's provenance (penalty and
// validation) beneath, or the predicted curve of the patient given, whose profile is kept in
// the cache only; `library export` and `library deck` then draw that slide. A view the model
// cannot show is refused with the reason.
func TestLibraryModelViews(t *testing.T) {
	ctx := context.Background()
	url := startLung(t, node.ExactPolicy())
	path := filepath.Join(t.TempDir(), "cache.db")
	code, _, errOut := cli(t, "--hub", url, "--cache", path, "model", "--study", "lung", "--endpoint", "os", "--covariates", "age,sex",
		"--strata", "none", "--validate", "loso", "--landmarks", "365", "--penalty", "ridge", "--theta", "1", "--format", "json")
	if code != exitOK {
		t.Fatalf("model: exit %d %s", code, errOut)
	}
	slide := func() (chart.Figure, string) {
		t.Helper()
		db, err := cache.Open(ctx, path)
		if err != nil {
			t.Fatal(err)
		}
		defer db.Close()
		r, err := openResult(ctx, db, 1)
		if err != nil {
			t.Fatal(err)
		}
		return report.Slide(r, report.Names{}, chart.PresentationStyle(), time.Now())
	}
	if code, _, errOut = cli(t, "library", "--cache", path, "pin", "1", "--view", "patient", "--predict", "age=63,sex=male", "--times", "365,730"); code != exitOK {
		t.Fatalf("pin patient: exit %d %s", code, errOut)
	}
	fig, why := slide()
	if km, ok := fig.(*chart.KMFigure); !ok || !strings.Contains(km.Title, "predicted survival for one patient") ||
		!strings.Contains(km.Footnote, "ridge θ = 1") || !strings.Contains(km.Footnote, "Pooled C") {
		t.Errorf("patient slide %T (%s): %+v", fig, why, fig)
	}
	png := filepath.Join(t.TempDir(), "patient.png")
	if code, _, errOut = cli(t, "library", "--cache", path, "export", "1", "--out", png); code != exitOK {
		t.Fatalf("export: exit %d %s", code, errOut)
	}
	if st, err := os.Stat(png); err != nil || st.Size() < 10000 {
		t.Errorf("exported figure: %v %v", st, err)
	}
	if code, _, errOut = cli(t, "library", "--cache", path, "pin", "1", "--view", "validation"); code != exitOK {
		t.Fatalf("pin validation: exit %d %s", code, errOut)
	}
	fig, why = slide()
	if f, ok := fig.(*chart.ForestPlot); !ok || !strings.Contains(f.Title, "held-out site") || len(f.Rows) < 3 || !f.Rows[len(f.Rows)-1].Pooled ||
		!(f.Rows[len(f.Rows)-1].PredictionLower > 0 && f.Rows[len(f.Rows)-1].PredictionLower <= f.Rows[len(f.Rows)-1].Lower) {
		t.Errorf("validation slide %T (%s): %+v", fig, why, fig)
	}
	deck := filepath.Join(t.TempDir(), "deck.pdf")
	if code, _, errOut = cli(t, "library", "--cache", path, "deck", "--out", deck); code != exitOK {
		t.Fatalf("deck: exit %d %s", code, errOut)
	}
	if code, _, errOut = cli(t, "library", "--cache", path, "pin", "1", "--view", "patient", "--predict", "age=63"); code == exitOK || !strings.Contains(errOut, "sex") {
		t.Errorf("a profile without sex: exit %d %s", code, errOut)
	}
}

// Under the default policy the small institutions refuse the first round (min_cohort, or a
// design column below min_cell: 14 of 18 on age + sex): they
// take no part in the choice of θ, are named with the reason, and appear in no point of the
// curve; the sites that answer are each held out at every θ. A θ grid too long, a grid without
// loso and a penalty with strata within sites are refused up front.
func TestModelRidgeLOSORefusals(t *testing.T) {
	pol := node.DefaultPolicy()
	pol.DailyQueryBudget, pol.EventsPerCoxCovariate = 0, 0
	url := startLung(t, pol)
	code, out, errOut := cli(t, "--hub", url, "model", "--study", "lung", "--endpoint", "os", "--covariates", "age,sex",
		"--strata", "site", "--penalty", "ridge", "--theta-grid", "0,1,10", "--format", "json")
	if code != exitOK {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	var doc ridgeDoc
	if err := json.Unmarshal([]byte(out), &doc); err != nil {
		t.Fatal(err)
	}
	if len(doc.Penalty.SatOut) == 0 || len(doc.Penalty.Curve) != 3 {
		t.Fatalf("sat out %v, %d points: the small institutions should sit out", doc.Penalty.SatOut, len(doc.Penalty.Curve))
	}
	out2 := map[string]bool{}
	for _, s := range doc.Penalty.SatOut {
		if s.Site == "" || s.Reason == "" {
			t.Errorf("a site sat out without its name or reason: %+v", s)
		}
		out2[s.Site] = true
	}
	for _, pt := range doc.Penalty.Curve {
		if len(pt.Sites)+len(doc.Penalty.SatOut) != 18 || len(pt.Sites) < 3 {
			t.Errorf("θ %g: %d sites held out, %d sat out, of 18", pt.Theta, len(pt.Sites), len(doc.Penalty.SatOut))
		}
		for _, s := range pt.Sites {
			if out2[s.Site] {
				t.Errorf("θ %g: %s both held out and sat out", pt.Theta, s.Site)
			}
		}
	}
	for _, bad := range [][]string{
		{"--penalty", "ridge", "--theta-grid", "0,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16"},
		{"--penalty", "ridge", "--theta", "1", "--theta-grid", "0,1"},
		{"--penalty", "ridge", "--strata", "ecog"},
		{"--penalty", "lasso"},
		{"--penalty", "ridge", "--theta", "-1"},
	} {
		args := append([]string{"--hub", url, "model", "--study", "lung", "--endpoint", "os", "--covariates", "age,sex"}, bad...)
		if code, _, errOut := cli(t, args...); code == exitOK || errOut == "" {
			t.Errorf("%v: exit %d: %s", bad, code, errOut)
		}
	}
}

// `model --penalty ridge --theta 1 --ridge-scale` (R's scale = TRUE) over real nodes: the
// columns' variances come from the sites' cohort summary (over each covariate's non-missing
// values, as R's ridge() takes them before coxph drops incomplete rows), and the fit equals
// R's coxph(Surv ~ ridge(X, theta = 1, scale = TRUE)) on lung by institution to 1e-9,
// stratified and pooled, Efron and Breslow; the θ chosen leaving one site out with the scale
// (each complement's own variances) gives R's curve and θ.
func TestModelRidgeScaled(t *testing.T) {
	b, err := os.ReadFile("../../analysis/testdata/ridge_goldens.json")
	if err != nil {
		t.Fatal(err)
	}
	var g struct {
		Scaled []struct {
			Name, Ties, Strata string
			Coef, SE, SE2      []float64
			Loglik, Penalty    float64
			DF                 float64
			ColumnVar          []float64 `json:"column_var"`
		}
		ScaledLoso struct {
			Grid, Total []float64
			Best        float64
		} `json:"scaled_loso"`
	}
	if err := json.Unmarshal(b, &g); err != nil {
		t.Fatal(err)
	}
	url := startLung(t, node.ExactPolicy())
	for _, c := range g.Scaled {
		t.Run(c.Name, func(t *testing.T) {
			strata := "none"
			if c.Strata == "site" {
				strata = "site"
			}
			code, out, errOut := cli(t, "--hub", url, "model", "--study", "lung", "--endpoint", "os", "--covariates", "age,sex,ecog",
				"--strata", strata, "--ties", c.Ties, "--penalty", "ridge", "--theta", "1", "--ridge-scale", "--format", "json")
			if code != exitOK {
				t.Fatalf("exit %d: %s", code, errOut)
			}
			var doc struct {
				ridgeDoc
				Penalty struct {
					Scale     bool
					ColumnVar []float64 `json:"column_var"`
					Penalty   float64
					DF        float64
				}
			}
			if err := json.Unmarshal([]byte(out), &doc); err != nil {
				t.Fatal(err)
			}
			if !doc.Penalty.Scale || len(doc.Penalty.ColumnVar) != len(c.ColumnVar) {
				t.Fatalf("scale %v, variances %v; R %v", doc.Penalty.Scale, doc.Penalty.ColumnVar, c.ColumnVar)
			}
			for j, v := range c.ColumnVar {
				if !within(doc.Penalty.ColumnVar[j], v, 1e-12) {
					t.Errorf("column %d variance %.15g, R %.15g", j, doc.Penalty.ColumnVar[j], v)
				}
			}
			for j, term := range doc.Terms {
				for _, v := range [][2]float64{{term.Coef, c.Coef[j]}, {term.SE, c.SE[j]}, {term.SE2, c.SE2[j]}} {
					if !within(v[0], v[1], 1e-9) {
						t.Errorf("term %d: %.15g, R %.15g", j, v[0], v[1])
					}
				}
			}
			if !within(doc.Loglik[1], c.Loglik, 1e-9) || !within(doc.Penalty.Penalty, c.Penalty, 1e-9) || !within(doc.Penalty.DF, c.DF, 1e-9) {
				t.Errorf("loglik %v, penalty %v, df %v; R %v, %v, %v", doc.Loglik[1], doc.Penalty.Penalty, doc.Penalty.DF, c.Loglik, c.Penalty, c.DF)
			}
		})
	}
	// Reopened offline, the stored model refits from its trace with the stored variances.
	cachePath := filepath.Join(t.TempDir(), "cache.db")
	args := []string{"--cache", cachePath, "model", "--study", "lung", "--endpoint", "os", "--covariates", "age,sex,ecog",
		"--penalty", "ridge", "--theta", "1", "--ridge-scale", "--format", "json"}
	code, live, errOut := cli(t, append([]string{"--hub", url}, args...)...)
	if code != exitOK {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	code, offline, errOut := cli(t, append([]string{"--offline"}, args...)...)
	var liveDoc, offDoc struct{ Terms []coxTermDoc }
	if code != exitOK || json.Unmarshal([]byte(live), &liveDoc) != nil || json.Unmarshal([]byte(offline), &offDoc) != nil || len(liveDoc.Terms) != 5 {
		t.Fatalf("offline: exit %d %s", code, errOut)
	}
	for j, lt := range liveDoc.Terms {
		if ot := offDoc.Terms[j]; *lt.Coef != *ot.Coef || *lt.SE2 != *ot.SE2 {
			t.Errorf("term %d offline %v, live %v", j, *ot.Coef, *lt.Coef)
		}
	}
	grid := make([]string, len(g.ScaledLoso.Grid))
	for i, v := range g.ScaledLoso.Grid {
		grid[i] = strconv.FormatFloat(v, 'g', -1, 64)
	}
	code, out, errOut := cli(t, "--hub", url, "model", "--study", "lung", "--endpoint", "os", "--covariates", "age,sex",
		"--strata", "site", "--penalty", "ridge", "--ridge-scale", "--theta-grid", strings.Join(grid, ","), "--format", "json")
	if code != exitOK {
		t.Fatalf("loso: exit %d: %s", code, errOut)
	}
	var doc ridgeDoc
	if err := json.Unmarshal([]byte(out), &doc); err != nil {
		t.Fatal(err)
	}
	if len(doc.Penalty.Curve) != len(g.ScaledLoso.Total) || doc.Penalty.Theta != g.ScaledLoso.Best {
		t.Fatalf("curve %+v, θ %g; R %v, θ %g", doc.Penalty.Curve, doc.Penalty.Theta, g.ScaledLoso.Total, g.ScaledLoso.Best)
	}
	for k, pt := range doc.Penalty.Curve {
		if !within(pt.HeldoutLoglik, g.ScaledLoso.Total[k], 1e-9) {
			t.Errorf("θ %g: %.15g, R %.15g", pt.Theta, pt.HeldoutLoglik, g.ScaledLoso.Total[k])
		}
	}
}
