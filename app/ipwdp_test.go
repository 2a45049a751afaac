package app_test

import (
	"encoding/json"
	"fmt"
	"math"
	"os"
	"slices"
	"testing"

	"github.com/oncofed/oncofed/app"
	"github.com/oncofed/oncofed/protocol"
)

// ipwDPGolden is one case of app/testdata/ipw_dp_goldens.json (ipw_dp_goldens.R).
type ipwDPGolden struct {
	Name        string   `json:"name"`
	Estimand    string   `json:"estimand"`
	Stabilise   bool     `json:"stabilise"`
	Trim        float64  `json:"trim"`
	Strata      string   `json:"strata"`
	Adjust      []string `json:"adjust"`
	TreatedSite string   `json:"treated_site"`
	N           int      `json:"n"`
	TreatedN    int      `json:"treated_n"`
	Propensity  struct {
		Terms []string  `json:"terms"`
		Coef  []float64 `json:"coef"`
		SE    []float64 `json:"se"`
	} `json:"propensity"`
	Trimmed   struct{ Treated, Control int }     `json:"trimmed"`
	WeightSum struct{ Treated, Control float64 } `json:"weight_sum"`
	ESS       struct{ Treated, Control float64 } `json:"ess"`
	Balance   []struct {
		Column    string  `json:"column"`
		SMDBefore float64 `json:"smd_before"`
		SMDAfter  float64 `json:"smd_after"`
	} `json:"balance"`
	KM map[string]struct {
		Time   []float64 `json:"time"`
		NRisk  []float64 `json:"n_risk"`
		Surv   []float64 `json:"surv"`
		StdErr []float64 `json:"std_err"`
	} `json:"km"`
	Cox []struct {
		Ties     string    `json:"ties"`
		Coef     []float64 `json:"coef"`
		SERobust []float64 `json:"se_robust"`
		SENaive  []float64 `json:"se_naive"`
		Score    float64   `json:"score"`
		RScore   float64   `json:"rscore"`
	} `json:"cox"`
}

// lungDPBin is the cell midpoint of x in 4 equal-width bins of [lo, hi], as node/dpcox.go
// codes a numeric covariate (clipped, the last bin closed).
func lungDPBin(x, lo, hi float64) float64 {
	w := (hi - lo) / 4
	k := min(int((min(max(x, lo), hi)-lo)/w), 3)
	return lo + (float64(k)+0.5)*w
}

// lungDPReplies are the dp_tables replies the lung sites (one per institution) would send for
// the comparison's covariates with the noise drawn as zero: per covariate pattern (the
// treatment's indicator, when the treatment is a variable, then age, karno and wt.loss in 4
// bins of their declared ranges), events and censorings at the ends of 30-day bins.
func lungDPReplies(t *testing.T, spec *app.IPWSpec) []protocol.Reply {
	t.Helper()
	const w = 30.0
	horizon := 3650.0
	ranges := [][3]any{{"age", 18.0, 100.0}, {"karno", 0.0, 100.0}, {"wt.loss", -50.0, 100.0}}
	type key struct {
		site    string
		pattern string
	}
	tables := map[key]*protocol.CoxPattern{}
	var keys []key
	n := map[string]int{}
	for _, p := range loadLung(t) {
		var x []float64
		if spec.TreatedSite == "" {
			x = append(x, 0)
			if p.cat["sex"] == spec.Treated {
				x[0] = 1
			}
		}
		complete := true
		for _, r := range ranges {
			v, ok := p.num[r[0].(string)]
			complete = complete && ok
			x = append(x, lungDPBin(v, r[1].(float64), r[2].(float64)))
		}
		if !complete {
			continue
		}
		k := key{p.site, fmt.Sprint(x)}
		pt := tables[k]
		if pt == nil {
			pt = &protocol.CoxPattern{X: x}
			tables[k] = pt
			keys = append(keys, k)
		}
		tm := w * math.Ceil(p.time/w)
		i := slices.Index(pt.Time, tm)
		if i < 0 {
			i = len(pt.Time)
			pt.Time, pt.Events, pt.Censor = append(pt.Time, tm), append(pt.Events, 0), append(pt.Censor, 0)
		}
		if p.event {
			pt.Events[i]++
		} else {
			pt.Censor[i]++
		}
		n[p.site]++
	}
	columns := []string{"age", "karno", "wt.loss"}
	if spec.TreatedSite == "" {
		columns = append([]string{"sex" + spec.Treated}, columns...)
	}
	bySite := map[string]*protocol.CoxReply{}
	var sites []string
	for _, k := range keys {
		c := bySite[k.site]
		if c == nil {
			c = &protocol.CoxReply{Columns: columns, N: n[k.site]}
			bySite[k.site] = c
			sites = append(sites, k.site)
		}
		pt := *tables[k]
		// Rows in time order, as a release lists them.
		order := make([]int, len(pt.Time))
		for i := range order {
			order[i] = i
		}
		slices.SortFunc(order, func(a, b int) int { return int(pt.Time[a] - pt.Time[b]) })
		var sorted protocol.CoxPattern
		sorted.X = pt.X
		for _, i := range order {
			sorted.Time = append(sorted.Time, pt.Time[i])
			sorted.Events, sorted.Censor = append(sorted.Events, pt.Events[i]), append(sorted.Censor, pt.Censor[i])
			c.Events += pt.Events[i]
		}
		c.Patterns = append(c.Patterns, sorted)
	}
	slices.Sort(sites)
	var replies []protocol.Reply
	for _, s := range sites {
		replies = append(replies, protocol.Reply{Version: protocol.Version, Site: s, Kind: protocol.KindCox, Cox: bySite[s],
			Policy: protocol.PolicyEffects{BinDays: w, TruncatedAfter: &horizon, DP: &protocol.DPEffects{Mechanism: "survival-sqrt", Rho: 0.05}}})
	}
	return replies
}

// TestIPWDPMatchesR: the comparison of a dp analyst, computed from dp_tables releases of lung's
// institutions (noise drawn as zero), equals R's glm, weights, survfit and coxph(weights = w,
// robust = TRUE) on the pseudo-patients the tables describe, to 1e-9: treatment a variable
// (women) stratified by site, adjusted, pooled; and a single-arm trial (inst1 against the
// others) pooled, adjusted; Efron and Breslow. It is rendered from the stored release alone
// (Render, no network), with the noise's spread of the log HR beside the robust SE.
func TestIPWDPMatchesR(t *testing.T) {
	var g struct {
		Cases []ipwDPGolden `json:"cases"`
	}
	b, err := os.ReadFile("testdata/ipw_dp_goldens.json")
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, &g); err != nil {
		t.Fatal(err)
	}
	if len(g.Cases) != 5 {
		t.Fatalf("%d cases", len(g.Cases))
	}
	const tol = 1e-9
	for _, c := range g.Cases {
		for _, cox := range c.Cox {
			t.Run(c.Name+" "+cox.Ties, func(t *testing.T) {
				spec := &app.IPWSpec{Confounders: []string{"age", "karno", "wt.loss"}, Estimand: c.Estimand, Stabilise: c.Stabilise,
					Trim: c.Trim, Strata: c.Strata, Adjust: c.Adjust, Ties: cox.Ties, DPAllPatterns: true}
				if c.TreatedSite != "" {
					spec.TreatedSite = c.TreatedSite
				} else {
					spec.Treatment, spec.Treated = "sex", "female"
				}
				r := ipwDPResult(t, spec)
				if err := app.Render(r); err != nil {
					t.Fatal(err)
				}
				res := r.IPW
				fit := res.Propensity
				if fit.N != c.N || fit.Treated != c.TreatedN || !slices.Equal(fit.Terms, c.Propensity.Terms) {
					t.Fatalf("propensity on %d (%d treated), terms %q; R %d (%d) %q", fit.N, fit.Treated, fit.Terms, c.N, c.TreatedN, c.Propensity.Terms)
				}
				all(t, "propensity coef", fit.Coef, c.Propensity.Coef, tol)
				all(t, "propensity SE", fit.SE, c.Propensity.SE, tol)
				if res.Treated.Trimmed.N != c.Trimmed.Treated || res.Control.Trimmed.N != c.Trimmed.Control {
					t.Errorf("trimmed %v/%v, R %d/%d", res.Treated.Trimmed, res.Control.Trimmed, c.Trimmed.Treated, c.Trimmed.Control)
				}
				all(t, "weight sums", []float64{res.Treated.WeightSum, res.Control.WeightSum}, []float64{c.WeightSum.Treated, c.WeightSum.Control}, tol)
				all(t, "ESS", []float64{res.Treated.ESS, res.Control.ESS}, []float64{c.ESS.Treated, c.ESS.Control}, tol)
				for j, bal := range c.Balance {
					got := res.Balance[j]
					if got.Column != bal.Column || !close(got.SMDBefore, bal.SMDBefore, tol) || !close(got.SMDAfter, bal.SMDAfter, tol) {
						t.Errorf("balance %+v, R %+v", got, bal)
					}
				}
				for name, arm := range map[string]app.IPWArm{"control": res.Control, "treated": res.Treated} {
					want := c.KM[name]
					all(t, name+" KM time", arm.KM.Time, want.Time, 0)
					all(t, name+" KM n.risk", arm.KM.WRisk, want.NRisk, tol)
					all(t, name+" KM surv", arm.KM.Surv, want.Surv, tol)
					all(t, name+" KM std.err", arm.KM.StdErr, want.StdErr, tol)
				}
				all(t, "Cox coef", res.Cox.Coef, cox.Coef, tol)
				all(t, "Cox robust SE", res.Robust.SE, cox.SERobust, tol)
				all(t, "Cox naive SE", res.Cox.SE, cox.SENaive, tol)
				all(t, "score tests", []float64{res.Cox.Score.Stat, res.Robust.Score.Stat}, []float64{cox.Score, cox.RScore}, tol)
				if res.DP == nil || res.DP.Rho != 0.05 || res.DP.Patients != c.N || len(res.DP.NoiseSD) != len(res.Cox.Coef) || !(res.DP.NoiseSD[0] > 0) {
					t.Errorf("DP part %+v", res.DP)
				}
			})
		}
	}
}

// ipwDPResult is the stored result of a dp comparison of lung with the replies lungDPReplies.
func ipwDPResult(t *testing.T, spec *app.IPWSpec) *app.Result {
	t.Helper()
	replies := lungDPReplies(t, spec)
	cox := &protocol.CoxRequest{Form: protocol.CoxDPTables, Ties: spec.Ties, Covariates: spec.Confounders, Beta: make([]float64, len(replies[0].Cox.Columns))}
	if spec.TreatedSite == "" {
		cox.Covariates = append([]string{spec.Treatment}, cox.Covariates...)
		cox.Indicators = map[string]string{spec.Treatment: spec.Treated}
	}
	q := protocol.Query{Version: protocol.Version, Kind: protocol.KindCox, ID: "q1", Study: "lung", Endpoint: "os", Cox: cox}
	req := app.Request{Kind: protocol.KindIPW, Study: "lung", Endpoint: "os", IPW: spec}
	return &app.Result{Request: req, Rounds: []app.Round{{Query: q, Replies: replies}}}
}

func all(t *testing.T, what string, got, want []float64, tol float64) {
	t.Helper()
	if len(got) != len(want) {
		t.Errorf("%s: %d values, R %d", what, len(got), len(want))
		return
	}
	for i := range got {
		if !close(got[i], want[i], tol) {
			t.Errorf("%s[%d] = %.15g, R %.15g", what, i, got[i], want[i])
		}
	}
}
