package network_test

import (
	"context"
	"math"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"gonum.org/v1/gonum/floats/scalar"

	"github.com/oncofed/oncofed/analysis"
	"github.com/oncofed/oncofed/app"
	"github.com/oncofed/oncofed/cache"
	"github.com/oncofed/oncofed/internal/lungtest"
	"github.com/oncofed/oncofed/network"
	"github.com/oncofed/oncofed/node"
	"github.com/oncofed/oncofed/protocol"
)

// Tolerances of the house: estimates relative 1e-9, p-values 1e-6.
const (
	tolEst = 1e-9
	tolP   = 1e-6
)

func near(t *testing.T, what string, got, want, tol float64) {
	t.Helper()
	if !scalar.EqualWithinAbsOrRel(got, want, tol, tol) {
		t.Errorf("%s = %.15g, R %.15g", what, got, want)
	}
}

// TestFederatedKaplanMeierEqualsR: the survival tables the lung sites release over the hub,
// merged by the client, give R's survfit by sex (curve, Greenwood SE, CI, median), survdiff
// by sex and survdiff by sex stratified by site — on the pooled patient-level data.
func TestFederatedKaplanMeierEqualsR(t *testing.T) {
	want := lungtest.ReadExpected(t, 0)
	ln := startLungNet(t, node.ExactPolicy(), nil)
	c := dial(t, ln.hub.URL())
	g, err := c.Query(context.Background(), protocol.Query{Kind: protocol.KindSurvival, Study: "lung", Endpoint: "os", GroupBy: "sex"})
	if err != nil {
		t.Fatal(err)
	}
	if g.Partial() {
		t.Fatalf("partial: missing %v refused %v invalid %v", g.Missing, g.Refused, g.Invalid)
	}
	groups := []string{"female", "male"}
	perGroup := make([][]analysis.SurvivalTable, len(groups))
	var strata [][]analysis.SurvivalTable
	for _, r := range g.Replies {
		site := make([]analysis.SurvivalTable, len(groups))
		for _, sg := range r.Survival.Groups {
			for i, name := range groups {
				if sg.Group == name {
					site[i] = analysis.SurvivalTable{Time: sg.Time, Events: sg.Events, Censor: sg.Censor}
					perGroup[i] = append(perGroup[i], site[i])
				}
			}
		}
		strata = append(strata, site)
	}
	row := 0
	merged := make([]analysis.SurvivalTable, len(groups))
	for i, name := range groups {
		merged[i] = analysis.MergeTables(perGroup[i]...)
		km, err := analysis.KaplanMeier(merged[i], analysis.KMOptions{})
		if err != nil {
			t.Fatal(err)
		}
		for k := range km.Time {
			if want.BySex.KM.Group[row] != name {
				t.Fatalf("row %d: R's group %s, ours %s", row, want.BySex.KM.Group[row], name)
			}
			near(t, name+" time", km.Time[k], want.BySex.KM.Time[row], 0)
			if km.NRisk[k] != want.BySex.KM.NRisk[row] || km.NEvent[k] != want.BySex.KM.NEvent[row] {
				t.Errorf("%s t=%v: n.risk %d n.event %d, R %d %d", name, km.Time[k], km.NRisk[k], km.NEvent[k], want.BySex.KM.NRisk[row], want.BySex.KM.NEvent[row])
			}
			near(t, name+" surv", km.Surv[k], want.BySex.KM.Surv[row], tolEst)
			near(t, name+" std.err", km.StdErr[k], want.BySex.KM.StdErr[row], tolEst)
			if w := want.BySex.KM.Lower[row]; !math.IsNaN(w) {
				near(t, name+" lower", km.Lower[k], w, tolEst)
			} else if !math.IsNaN(km.Lower[k]) {
				t.Errorf("%s lower at %v: %v, R NA", name, km.Time[k], km.Lower[k])
			}
			row++
		}
		med := km.Median()
		near(t, name+" median", med.Time, want.BySex.Median.Median[i], tolEst)
		if w := want.BySex.Median.LCL[i]; !math.IsNaN(w) {
			near(t, name+" median lcl", med.Lower, w, tolEst)
		}
		if w := want.BySex.Median.UCL[i]; !math.IsNaN(w) {
			near(t, name+" median ucl", med.Upper, w, tolEst)
		}
	}
	if row != len(want.BySex.KM.Time) {
		t.Errorf("%d curve rows, R %d", row, len(want.BySex.KM.Time))
	}
	lr, err := analysis.LogRank(merged)
	if err != nil {
		t.Fatal(err)
	}
	near(t, "log-rank chisq", lr.ChiSq, want.BySex.LogRank.ChiSq, tolEst)
	near(t, "log-rank p", lr.P, want.BySex.LogRank.P, tolP)
	slr, err := analysis.StratifiedLogRank(strata)
	if err != nil {
		t.Fatal(err)
	}
	near(t, "site-stratified log-rank chisq", slr.ChiSq, want.BySex.LogRankSiteStrata.ChiSq, tolEst)
	near(t, "site-stratified log-rank p", slr.P, want.BySex.LogRankSiteStrata.P, tolP)
}

// coxService is the Cox path of oncofed-cli and the desktop app on network c: an app.Service
// with a real SQLite cache in a temporary directory, its catalog refreshed first (as the CLI
// does before every analysis), so that every round's replies are stored as they would be.
func coxService(t testing.TB, c app.Network) *app.Service {
	t.Helper()
	ctx := context.Background()
	db, err := cache.Open(ctx, filepath.Join(t.TempDir(), "cache.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	svc := app.NewService(c, db, app.NetworkInfo{ID: "lung", Name: "lung"}, app.WithAnalyst("test"))
	if _, err := svc.RefreshCatalog(ctx); err != nil {
		t.Fatal(err)
	}
	return svc
}

// coxRequest is the model of the R goldens: coxph(Surv(time, status) ~ sex + age), female the
// reference level of sex.
func coxRequest(form protocol.CoxForm, ties string) app.Request {
	return app.Request{Kind: protocol.KindCox, Study: "lung", Endpoint: "os", Cox: &app.CoxSpec{
		Form: form, Ties: ties, Covariates: []string{"sex", "age"},
		Levels: map[string][]string{"sex": {"female", "male"}},
	}}
}

// TestFederatedCoxEqualsR: app.Service's Newton–Raphson over network rounds (the path of
// oncofed-cli cox and the desktop app, cache writes included) gives R's coxph on the pooled
// data: pooled (WebDISCO risk-set sums) = coxph(Surv(time, event) ~ sex + age) with Efron and
// Breslow ties; stratified by site = coxph(... + strata(site)). The result reopened from the
// cache (rendered from its stored rounds, no network) gives the same numbers.
func TestFederatedCoxEqualsR(t *testing.T) {
	want := lungtest.ReadExpected(t, 0)
	ln := startLungNet(t, node.ExactPolicy(), nil)
	svc := coxService(t, dial(t, ln.hub.URL()))
	ctx := context.Background()
	for _, tc := range []struct {
		golden string
		form   protocol.CoxForm
		ties   string
	}{
		{"efron", protocol.CoxPooled, "efron"},
		{"breslow", protocol.CoxPooled, "breslow"},
		{"efron_site_strata", protocol.CoxStratified, "efron"},
	} {
		res, err := svc.Run(ctx, coxRequest(tc.form, tc.ties))
		if err != nil {
			t.Fatalf("%s: %v", tc.golden, err)
		}
		reopened, err := svc.Open(ctx, res.ID)
		if err != nil {
			t.Fatalf("%s: reopening result %d from the cache: %v", tc.golden, res.ID, err)
		}
		for _, r := range []struct {
			how string
			res *app.Result
		}{{"run", res}, {"reopened", reopened}} {
			name := tc.golden + " (" + r.how + ")"
			fit := r.res.Cox.Fit
			if fit == nil || r.res.Cox.Form != tc.form || r.res.Cox.FitError != "" {
				t.Fatalf("%s: form %s, fit %v, fit error %q", name, r.res.Cox.Form, fit, r.res.Cox.FitError)
			}
			if len(r.res.Provenance.Answered) != len(ln.sites) || r.res.Provenance.Partial() || !fit.Converged || fit.N != lungN {
				t.Errorf("%s: %d of %d sites answered, converged %v, n %d", name, len(r.res.Provenance.Answered), len(ln.sites), fit.Converged, fit.N)
			}
			if len(fit.Terms) != len(want.Cox.Model(tc.golden).Term) {
				t.Fatalf("%s: terms %v, R %v", name, fit.Terms, want.Cox.Model(tc.golden).Term)
			}
			w := want.Cox.Model(tc.golden)
			for j, term := range w.Term {
				if fit.Terms[j] != term {
					t.Errorf("%s: term %d %q, R %q", name, j, fit.Terms[j], term)
				}
				near(t, name+" "+term+" coef", fit.Coef[j], w.Coef[j], tolEst)
				near(t, name+" "+term+" se", fit.SE[j], w.SE[j], tolEst)
				near(t, name+" "+term+" hr", fit.HR[j], w.HR[j], tolEst)
				near(t, name+" "+term+" p", fit.P[j], w.P[j], tolP)
			}
			if len(r.res.Rounds) < 3 {
				t.Errorf("%s: %d rounds", name, len(r.res.Rounds))
			}
		}
	}
}

// TestFederatedCoxAbortsWhenSiteDropsOut: a site that answers the first rounds and then stops
// answering aborts the fit with a message naming it and the round; no fit on a changed cohort
// is returned, and nothing is stored.
func TestFederatedCoxAbortsWhenSiteDropsOut(t *testing.T) {
	const leaver = "inst13"
	rounds := 0
	ln := startLungNet(t, node.ExactPolicy(), func(site string, h network.Handler, nc *nats.Conn) network.Handler {
		if site != leaver {
			return h
		}
		return network.HandlerFunc(func(ctx context.Context, q []byte) []byte {
			// Queries come one at a time (the client waits for every round): the catalog
			// refresh, Cox rounds 1 and 2, then the site is gone in round 3.
			rounds++
			if rounds == 4 {
				nc.Close()
			}
			return h.HandleJSON(ctx, q)
		})
	})
	svc := coxService(t, dial(t, ln.hub.URL(), network.WithTimeout(4*time.Second)))
	ctx := context.Background()
	res, err := svc.Run(ctx, coxRequest(protocol.CoxStratified, "efron"))
	if err == nil {
		t.Fatalf("fit returned %+v after %s dropped out", res.Cox, leaver)
	}
	if !strings.Contains(err.Error(), "site "+leaver+" stopped answering in round 3") || app.ErrorCode(err) != app.EUnavailable {
		t.Errorf("error %q (code %s) does not name the site and round", err, app.ErrorCode(err))
	}
	stored, err := svc.Results(ctx, app.ResultFilter{})
	if err != nil || len(stored) != 0 {
		t.Errorf("aborted fit: %d results stored (%v)", len(stored), err)
	}
}
