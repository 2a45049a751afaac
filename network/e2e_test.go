package network_test

import (
	"context"
	"encoding/json"
	"math"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"gonum.org/v1/gonum/floats/scalar"

	"github.com/oncofed/oncofed/analysis"
	"github.com/oncofed/oncofed/network"
	"github.com/oncofed/oncofed/node"
	"github.com/oncofed/oncofed/protocol"
)

// Tolerances of the house: estimates relative 1e-9, p-values 1e-6.
const (
	tolEst = 1e-9
	tolP   = 1e-6
)

// lungExpected is the part of analysis/testdata/lung_expected_bin0.json (R 4 survival on
// the pooled lung data, written by analysis/testdata/gen_lung.R) these tests use.
type lungExpected struct {
	BySex struct {
		KM struct {
			Group  []string   `json:"group"`
			Time   []float64  `json:"time"`
			NRisk  []int      `json:"n_risk"`
			NEvent []int      `json:"n_event"`
			Surv   []float64  `json:"surv"`
			StdErr []float64  `json:"std_err"`
			Lower  []*float64 `json:"lower"`
			Upper  []*float64 `json:"upper"`
		} `json:"km"`
		Median struct {
			Group  []string   `json:"group"`
			Median []float64  `json:"median"`
			LCL    []*float64 `json:"lcl"`
			UCL    []*float64 `json:"ucl"`
		} `json:"median"`
		LogRank           rTest `json:"logrank"`
		LogRankSiteStrata rTest `json:"logrank_site_strata"`
	} `json:"by_sex"`
	Cox map[string]rCox `json:"cox_sex_age"`
}

type rTest struct {
	ChiSq float64 `json:"chisq"`
	DF    int     `json:"df"`
	P     float64 `json:"p"`
}

type rCox struct {
	Term []string  `json:"term"`
	Coef []float64 `json:"coef"`
	SE   []float64 `json:"se"`
	HR   []float64 `json:"hr"`
	P    []float64 `json:"p"`
}

func readLungExpected(t *testing.T) lungExpected {
	t.Helper()
	b, err := os.ReadFile("../analysis/testdata/lung_expected_bin0.json")
	if err != nil {
		t.Fatal(err)
	}
	var e lungExpected
	if err := json.Unmarshal(b, &e); err != nil {
		t.Fatal(err)
	}
	return e
}

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
	want := readLungExpected(t)
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
			if w := want.BySex.KM.Lower[row]; w != nil {
				near(t, name+" lower", km.Lower[k], *w, tolEst)
			} else if !math.IsNaN(km.Lower[k]) {
				t.Errorf("%s lower at %v: %v, R NA", name, km.Time[k], km.Lower[k])
			}
			row++
		}
		med := km.Median()
		near(t, name+" median", med.Time, want.BySex.Median.Median[i], tolEst)
		if w := want.BySex.Median.LCL[i]; w != nil {
			near(t, name+" median lcl", med.Lower, *w, tolEst)
		}
		if w := want.BySex.Median.UCL[i]; w != nil {
			near(t, name+" median ucl", med.Upper, *w, tolEst)
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

func coxQuery(form protocol.CoxForm, ties string) protocol.Query {
	return protocol.Query{Kind: protocol.KindCox, Study: "lung", Endpoint: "os", Cox: &protocol.CoxRequest{
		Form: form, Ties: ties, Covariates: []string{"sex", "age"},
		Levels: map[string][]string{"sex": {"female", "male"}},
	}}
}

// TestFederatedCoxEqualsR: Newton–Raphson over network rounds gives R's coxph on the pooled
// data: pooled (WebDISCO risk-set sums) = coxph(Surv(time, event) ~ sex + age) with Efron and
// Breslow ties; stratified by site = coxph(... + strata(site)).
func TestFederatedCoxEqualsR(t *testing.T) {
	want := readLungExpected(t)
	ln := startLungNet(t, node.ExactPolicy(), nil)
	c := dial(t, ln.hub.URL())
	for _, tc := range []struct {
		golden string
		form   protocol.CoxForm
		ties   string
	}{
		{"efron", protocol.CoxPooled, "efron"},
		{"breslow", protocol.CoxPooled, "breslow"},
		{"efron_site_strata", protocol.CoxStratified, "efron"},
	} {
		res, err := network.FederatedCox(context.Background(), c, coxQuery(tc.form, tc.ties), network.CoxOptions{})
		if err != nil {
			t.Fatalf("%s: %v", tc.golden, err)
		}
		w := want.Cox[tc.golden]
		if len(res.Sites) != len(ln.sites) || !res.Fit.Converged || res.Fit.N != lungN {
			t.Errorf("%s: %d sites, converged %v, n %d", tc.golden, len(res.Sites), res.Fit.Converged, res.Fit.N)
		}
		for j, term := range w.Term {
			if res.Fit.Terms[j] != term {
				t.Errorf("%s: term %d %q, R %q", tc.golden, j, res.Fit.Terms[j], term)
			}
			near(t, tc.golden+" "+term+" coef", res.Fit.Coef[j], w.Coef[j], tolEst)
			near(t, tc.golden+" "+term+" se", res.Fit.SE[j], w.SE[j], tolEst)
			near(t, tc.golden+" "+term+" hr", res.Fit.HR[j], w.HR[j], tolEst)
			near(t, tc.golden+" "+term+" p", res.Fit.P[j], w.P[j], tolP)
		}
		if res.Rounds < 3 {
			t.Errorf("%s: %d rounds", tc.golden, res.Rounds)
		}
	}
}

// TestFederatedCoxAbortsWhenSiteDropsOut: a site that answers the first rounds and then stops
// answering aborts the fit with a message naming it; no fit on a changed cohort is returned.
func TestFederatedCoxAbortsWhenSiteDropsOut(t *testing.T) {
	const leaver = "inst13"
	rounds := 0
	ln := startLungNet(t, node.ExactPolicy(), func(site string, h network.Handler, nc *nats.Conn) network.Handler {
		if site != leaver {
			return h
		}
		return network.HandlerFunc(func(ctx context.Context, q []byte) []byte {
			rounds++ // handled one at a time per round: the client waits for every round
			if rounds == 3 {
				nc.Close()
			}
			return h.HandleJSON(ctx, q)
		})
	})
	c := dial(t, ln.hub.URL(), network.WithTimeout(4*time.Second))
	res, err := network.FederatedCox(context.Background(), c, coxQuery(protocol.CoxStratified, "efron"), network.CoxOptions{})
	if err == nil {
		t.Fatalf("fit returned %+v after %s dropped out", res, leaver)
	}
	if !strings.Contains(err.Error(), "site "+leaver+" dropped out in round 3") {
		t.Errorf("error %q does not name the site and round", err)
	}
}
