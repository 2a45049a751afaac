package analysis

import (
	"encoding/json"
	"math"
	"os"
	"slices"
	"testing"
)

// ridgeGoldens is testdata/ridge_goldens.json, written by testdata/ridge_goldens.R: R's
// coxph(... ridge(X, theta, scale)) per case, and the leave-one-site-out θ curves.
type ridgeGoldens struct {
	Datasets map[string]map[string]json.RawMessage `json:"datasets"`
	Cases    []struct {
		coxGoldenCase
		Theta    float64 `json:"theta"`
		Scale    bool    `json:"scale"`
		Expected struct {
			Terms     []string  `json:"terms"`
			Coef      []float64 `json:"coef"`
			SE        []float64 `json:"se"`
			SE2       []float64 `json:"se2"`
			Var       []float64 `json:"var"`
			Var2      []float64 `json:"var2"`
			LogLik0   float64   `json:"loglik0"`
			LogLik    float64   `json:"loglik"`
			Penalty   float64   `json:"penalty"`
			DF        float64   `json:"df"`
			LRT       float64   `json:"lrt"`
			LRTP      float64   `json:"lrt_p"`
			Wald      float64   `json:"wald"`
			Iter      int       `json:"iter"`
			N         int       `json:"n"`
			Events    int       `json:"events"`
			ColumnVar []float64 `json:"column_var"`
		} `json:"expected"`
	} `json:"cases"`
	Predict []struct {
		Name  string    `json:"name"`
		Ties  string    `json:"ties"`
		X     []float64 `json:"x"`
		Time  []float64 `json:"time"`
		Surv  []float64 `json:"surv"`
		StdEr []float64 `json:"std_err"`
		Lower []float64 `json:"lower"`
		Upper []float64 `json:"upper"`
	} `json:"predict"`
	Loso []struct {
		coxGoldenCase
		Scale    bool      `json:"scale"`
		Grid     []float64 `json:"grid"`
		Expected struct {
			Curve []struct {
				Theta   float64   `json:"theta"`
				Sites   []string  `json:"sites"`
				Heldout []float64 `json:"heldout"`
				Total   float64   `json:"total"`
			} `json:"curve"`
			Best float64 `json:"best"`
		} `json:"expected"`
	} `json:"loso"`
}

func loadRidgeGoldens(t *testing.T) (*ridgeGoldens, *coxGoldens) {
	t.Helper()
	b, err := os.ReadFile("testdata/ridge_goldens.json")
	if err != nil {
		t.Fatal(err)
	}
	var g ridgeGoldens
	if err := json.Unmarshal(b, &g); err != nil {
		t.Fatal(err)
	}
	if len(g.Cases) == 0 || len(g.Loso) == 0 {
		t.Fatal("no cases in ridge_goldens.json")
	}
	return &g, &coxGoldens{Datasets: g.Datasets}
}

// ridgeFitter fits the cases' model on a set of sites: the sum of stratum contributions
// (strata = site) or the pooled form from the sites' risk-set rows.
func ridgeFitter(sites []siteDesign, p int, ties Ties, pooled bool) CoxEvaluator {
	return func(beta []float64) (CoxContribution, error) {
		if pooled {
			rows := make([][]RiskSetRow, len(sites))
			ex := make([][]float64, len(sites))
			n := 0
			for k, s := range sites {
				var err error
				if rows[k], ex[k], err = CoxRiskSetRows(s.time, s.event, s.x, p, beta); err != nil {
					return CoxContribution{}, err
				}
				n += s.n
			}
			c, err := PooledCoxContribution(rows, ex, p, beta, ties)
			c.N = n
			return c, err
		}
		var sum CoxContribution
		for _, s := range sites {
			c, err := CoxStratumContribution(s.time, s.event, s.x, p, beta, ties)
			if err != nil {
				return c, err
			}
			sum.Add(c)
		}
		return sum, nil
	}
}

// columnVariances is R's var() of every design column over all the sites' complete cases
// (ridge(scale = TRUE)'s weights).
func columnVariances(sites []siteDesign, p int) []float64 {
	out := make([]float64, p)
	for j := 0; j < p; j++ {
		var xs []float64
		for _, s := range sites {
			for i := 0; i < s.n; i++ {
				xs = append(xs, s.x[i*p+j])
			}
		}
		mean := 0.0
		for _, x := range xs {
			mean += x
		}
		mean /= float64(len(xs))
		ss := 0.0
		for _, x := range xs {
			ss += (x - mean) * (x - mean)
		}
		out[j] = ss / float64(len(xs)-1)
	}
	return out
}

// TestRidgeGoldens checks every penalized fit against R's coxph(... ridge(...)): pooled (the
// federated risk-set form) and stratified by site, Efron and Breslow, scale FALSE and TRUE.
func TestRidgeGoldens(t *testing.T) {
	g, cg := loadRidgeGoldens(t)
	for _, cs := range g.Cases {
		t.Run(cs.Name, func(t *testing.T) {
			ties, _, sites, p, names := caseDesigns(t, cg, cs.coxGoldenCase)
			want := cs.Expected
			if !slices.Equal(names, want.Terms) {
				t.Fatalf("terms %v, R: %v", names, want.Terms)
			}
			r := &Ridge{Theta: cs.Theta}
			if cs.Scale {
				r.Scale = columnVariances(sites, p)
				for j := range r.Scale {
					if !eq(r.Scale[j], want.ColumnVar[j], 1e-12) {
						t.Errorf("var(%s) = %.15g, R: %.15g", names[j], r.Scale[j], want.ColumnVar[j])
					}
				}
			}
			fit, err := FitCox(ridgeFitter(sites, p, ties, cs.Strata != "site"), p, CoxOptions{Terms: names, Ridge: r})
			if err != nil {
				t.Fatal(err)
			}
			if fit.Iterations != want.Iter || fit.N != want.N || fit.Events != want.Events {
				t.Errorf("%d iterations, n %d, events %d; R: %d, %d, %d", fit.Iterations, fit.N, fit.Events, want.Iter, want.N, want.Events)
			}
			vec := func(name string, got, w []float64) {
				t.Helper()
				for j := range w {
					if !eq(got[j], w[j], coxRelTol) {
						t.Errorf("%s[%d] = %.15g, R: %.15g (rel %.2g)", name, j, got[j], w[j], math.Abs(got[j]/w[j]-1))
					}
				}
			}
			vec("coef", fit.Coef, want.Coef)
			vec("se", fit.SE, want.SE)
			vec("se2", fit.SE2, want.SE2)
			vec("var", fit.Vcov, want.Var)
			vec("var2", fit.Vcov2, want.Var2)
			vec("scalars", []float64{fit.LogLik0, fit.LogLik, fit.Penalty, fit.DFEffective, fit.LRT.Stat, fit.Wald.Stat},
				[]float64{want.LogLik0, want.LogLik, want.Penalty, want.DF, want.LRT, want.Wald})
			if !eq(fit.LRT.P, want.LRTP, coxPTol) {
				t.Errorf("LRT p = %g, R: %g", fit.LRT.P, want.LRTP)
			}
		})
	}
}

// TestRidgeLOSOGoldens checks the leave-one-site-out θ curve against R's: per θ and site, the
// fit on the other sites (stratified or pooled) and the site's partial log-likelihood at it.
func TestRidgeLOSOGoldens(t *testing.T) {
	g, cg := loadRidgeGoldens(t)
	for _, cs := range g.Loso {
		t.Run(cs.Name, func(t *testing.T) {
			ties, d, sites, p, names := caseDesigns(t, cg, cs.coxGoldenCase)
			var order []string
			for _, s := range d.site {
				if !slices.Contains(order, s) {
					order = append(order, s)
				}
			}
			var curve []RidgeCVPoint
			for k, theta := range cs.Grid {
				want := cs.Expected.Curve[k]
				pt := RidgeCVPoint{Theta: theta}
				for i, site := range want.Sites {
					h := slices.Index(order, site)
					if h < 0 {
						t.Fatalf("site %s not in the data", site)
					}
					others := slices.Delete(slices.Clone(sites), h, h+1)
					fit, err := FitCox(ridgeFitter(others, p, ties, cs.Strata != "site"), p, CoxOptions{Terms: names, Ridge: &Ridge{Theta: theta}})
					if err != nil {
						t.Fatalf("θ %g without %s: %v", theta, site, err)
					}
					held := sites[h]
					c, err := CoxStratumContribution(held.time, held.event, held.x, p, fit.Coef, ties)
					if err != nil {
						t.Fatal(err)
					}
					if !eq(c.LogLik, want.Heldout[i], coxRelTol) {
						t.Errorf("θ %g, site %s: held-out loglik %.15g, R: %.15g", theta, site, c.LogLik, want.Heldout[i])
					}
					pt.Sites = append(pt.Sites, site)
					pt.HeldOut = append(pt.HeldOut, c.LogLik)
					pt.Total += c.LogLik
				}
				if !eq(pt.Total, want.Total, coxRelTol) {
					t.Errorf("θ %g: total %.15g, R: %.15g", theta, pt.Total, want.Total)
				}
				curve = append(curve, pt)
			}
			if b := BestRidgeTheta(curve); b < 0 || curve[b].Theta != cs.Expected.Best {
				t.Errorf("best θ index %d, R: θ = %g", b, cs.Expected.Best)
			}
		})
	}
}

// TestRidgePredictGoldens: the penalized pooled model predicts as R's survfit(fit, newdata) on
// the penalized coxph fit: the baseline from the sites' sums at β̂ and fit$var (H_p⁻¹) for the
// interval.
func TestRidgePredictGoldens(t *testing.T) {
	g, cg := loadRidgeGoldens(t)
	if len(g.Predict) == 0 {
		t.Fatal("no prediction cases")
	}
	for _, pc := range g.Predict {
		t.Run(pc.Name, func(t *testing.T) {
			ties, err := ParseTies(pc.Ties)
			if err != nil {
				t.Fatal(err)
			}
			d := cg.data(t, "lung")
			sites, p, names := d.siteDesigns(t, coxGoldenCase{Covariates: []string{"age", "sex", "ecogc"}})
			fit, err := FitCox(ridgeFitter(sites, p, ties, true), p, CoxOptions{Terms: names, Ridge: &Ridge{Theta: 1}})
			if err != nil {
				t.Fatal(err)
			}
			base := pooledBaselineAt(t, sites, p, ties, fit.Coef)
			ps, err := base.Predict(pc.X, fit.Coef, fit.Vcov, 0.95)
			if err != nil {
				t.Fatal(err)
			}
			if len(ps.Time) != len(pc.Time) {
				t.Fatalf("%d times, R %d", len(ps.Time), len(pc.Time))
			}
			for i := range pc.Time {
				if ps.Time[i] != pc.Time[i] {
					t.Fatalf("time %d: %v, R %v", i, ps.Time[i], pc.Time[i])
				}
				for _, c := range [][2]float64{{ps.Surv[i], pc.Surv[i]}, {ps.StdErr[i], pc.StdEr[i]}, {ps.Lower[i], pc.Lower[i]}, {ps.Upper[i], pc.Upper[i]}} {
					if !eq(c[0], c[1], coxRelTol) {
						t.Fatalf("time %v: %.15g, R %.15g", pc.Time[i], c[0], c[1])
					}
				}
			}
		})
	}
}

// caseDesigns is a golden case's ties and data, and each site's design.
func caseDesigns(t *testing.T, cg *coxGoldens, cs coxGoldenCase) (Ties, *coxData, []siteDesign, int, []string) {
	t.Helper()
	ties, err := ParseTies(cs.Ties)
	if err != nil {
		t.Fatal(err)
	}
	d := cg.data(t, cs.Data)
	sites, p, names := d.siteDesigns(t, cs)
	return ties, d, sites, p, names
}
