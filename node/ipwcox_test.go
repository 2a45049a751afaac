package node

import (
	"context"
	"fmt"
	"reflect"
	"strings"
	"testing"

	"github.com/oncofed/oncofed/analysis"
	"github.com/oncofed/oncofed/protocol"
)

// ipwCoxAdjustedFit fits the weighted Cox model stratified by site and adjusted for adjust on
// the engines' cox stages (as the app does), with its robust variance.
func ipwCoxAdjustedFit(t *testing.T, engines []*Engine, beta []float64, adjust []string, q int) (*analysis.CoxFit, *analysis.RobustCox) {
	t.Helper()
	ctx := context.Background()
	n := 0
	round := func(coxBeta []float64) (c analysis.CoxContribution, meat, score []float64) {
		meat, score = make([]float64, q*q), make([]float64, q)
		for _, e := range engines {
			qq := ipwPooledQuery(protocol.IPWCox, beta, coxBeta, adjust)
			n++
			qq.ID = fmt.Sprintf("cox-%d", n)
			r := mustOK(t, e.Handle(ctx, qq)).IPW
			if len(r.CoxColumns) != q {
				t.Fatalf("%s: columns %v", e.Site(), r.CoxColumns)
			}
			c.Add(analysis.CoxContribution{LogLik: r.LogLik, Gradient: r.Gradient, Hessian: r.Hessian, N: r.N, Events: r.Events, CoefBound: r.BetaLimit})
			for k := range r.Meat {
				meat[k] += r.Meat[k]
			}
			for k := range r.Score {
				score[k] += r.Score[k]
			}
		}
		return c, meat, score
	}
	fit, err := analysis.FitCox(func(b []float64) (analysis.CoxContribution, error) {
		c, _, _ := round(b)
		return c, nil
	}, q, analysis.CoxOptions{})
	if err != nil {
		t.Fatal(err)
	}
	_, m, _ := round(fit.Coef)
	_, m0, u0 := round(make([]float64, q))
	rob, err := analysis.Sandwich(fit, m, m0, u0)
	if err != nil {
		t.Fatal(err)
	}
	return fit, rob
}

// Under the default policy, without allow_pooled_cox (the demo's sites), the weighted Cox model
// stratified by site and adjusted for age and karno is answered at a fitted propensity model
// along its whole Newton path: it converges to finite robust and naive SEs, and every reply
// carries the outcome columns and the site's caps on them (R agreement: the CLI's
// TestIPWCommandEqualsR over a hub).
func TestIPWCoxAdjustedUnderDefaultPolicy(t *testing.T) {
	pol := DefaultPolicy()
	pol.DailyQueryBudget = 0
	pol.OverlapGuard = false
	e, _ := lungEngine(t, pol, nil)
	prop := ipwFitThrough(t, []*Engine{e}, "mallory")
	fit, rob := ipwCoxAdjustedFit(t, []*Engine{e}, prop.Coef, []string{"age", "karno"}, 3)
	if !fit.Converged {
		t.Fatalf("not converged: %+v", fit)
	}
	for j := range fit.Coef {
		if !(rob.SE[j] > 0) || !(fit.SE[j] > 0) {
			t.Errorf("term %d: robust SE %v, naive %v", j, rob.SE[j], fit.SE[j])
		}
	}
	t.Logf("lung, default policy, stratified: log HR women %.4f (robust SE %.4f, naive %.4f)", fit.Coef[0], rob.SE[0], fit.SE[0])
	r := mustOK(t, e.Handle(context.Background(), ipwPooledQuery(protocol.IPWCox, prop.Coef, []float64{0, 0, 0}, []string{"age", "karno"}))).IPW
	if !reflect.DeepEqual(r.CoxColumns, []string{"sexfemale", "age", "karno"}) || len(r.BetaLimit) != 3 {
		t.Errorf("columns %v, limits %v", r.CoxColumns, r.BetaLimit)
	}
}

// Every adjusted cox round is a release under the model rules: the treatment's or a
// covariate's β beyond the site's cap is refused, so is a covariate that is not a confounder
// (protocol), and the audit log names the adjustment.
func TestIPWCoxAdjustedRules(t *testing.T) {
	ctx := context.Background()
	pol := DefaultPolicy()
	pol.DailyQueryBudget = 0
	pol.OverlapGuard = false
	e, store := lungEngine(t, pol, nil)
	prop := ipwFitThrough(t, []*Engine{e}, "mallory")
	ok := ipwPooledQuery(protocol.IPWCox, prop.Coef, []float64{0, 0}, []string{"age"})
	r := mustOK(t, e.Handle(ctx, ok)).IPW
	recs, err := store.AuditRecords(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if last := recs[len(recs)-1].Released; !strings.Contains(last, "ipw cox ATE efron adjust=[age] p=2") {
		t.Errorf("audit record: released %q", last)
	}
	for k, coxBeta := range [][]float64{{pol.MaxCoxLogHR + 1, 0}, {0, 2 * r.BetaLimit[1]}} {
		q := ipwPooledQuery(protocol.IPWCox, prop.Coef, coxBeta, []string{"age"})
		q.ID = fmt.Sprintf("capped-%d", k)
		if rep := e.Handle(ctx, q); rep.Error == nil || rep.Error.Code != protocol.CodeRefusedByPolicy {
			t.Errorf("β %v beyond the caps %v: %+v", coxBeta, r.BetaLimit, rep.Error)
		}
	}
	q := ipwPooledQuery(protocol.IPWCox, prop.Coef, []float64{0, 0}, []string{"ecog"})
	q.ID = "not-a-confounder"
	wantCode(t, e.Handle(ctx, q), protocol.CodeInvalid)
}

// The one-patient column and the dominant weight against the stratified adjusted model: (a)
// adjusting for ECOG, whose level 3 holds one patient of lung (id 28, a man who died at 118
// days); (b) a propensity model crafted to give the oldest woman (id 129, censored at 551 days)
// alone an ATE weight of e^20, so that her residual is the robust meat. In two databases that
// differ only in that patient's outcome, the cox stage gets the same refusal word for word
// under the default policy; with the rules off (the control) the replies differ, so the test
// can fail.
func TestAttackIPWCoxAdjusted(t *testing.T) {
	ctx := context.Background()
	pol := DefaultPolicy()
	pol.DailyQueryBudget = 0
	pol.OverlapGuard = false
	age := 77.0
	attacks := []struct {
		name, id string
		query    protocol.Query
		want     string
	}{
		{"one-patient column", "28", ipwPooledQuery(protocol.IPWCox, make([]float64, 7), make([]float64, 4), []string{"ecog"}, "ecog"), "ecogecog3"},
		{"dominant weight", "129", ipwPooledQuery(protocol.IPWCox, []float64{10*age - 20, -10, 0, 0}, []float64{0, 0}, []string{"age"}), "single out fewer than min_cell"},
	}
	attacks[1].query.Cohort = orF(eq("sex", "male"), rng("age", nil, fp(age)))
	for _, a := range attacks {
		run := func(rulesOff bool) [2]protocol.Reply {
			var out [2]protocol.Reply
			for k, event := range []string{"0", "1"} {
				e, _ := ipwWorld(t, pol, a.id, event)
				e.withoutModelRules, e.withoutWeightSpread = rulesOff, rulesOff
				out[k] = e.Handle(ctx, a.query)
				out[k].QueryID = ""
			}
			return out
		}
		with := run(false)
		if with[0].Error == nil || with[0].Error.Code != protocol.CodeRefusedByPolicy || !reflect.DeepEqual(with[0], with[1]) {
			t.Errorf("%s: with the rules the two databases answer %+v and %+v", a.name, with[0].Error, with[1].Error)
		} else if !strings.Contains(with[0].Error.Message, a.want) {
			t.Errorf("%s: refusal %q does not say %q", a.name, with[0].Error.Message, a.want)
		}
		without := run(true)
		if without[0].IPW == nil || without[1].IPW == nil {
			t.Fatalf("%s, control: refused (%v, %v)", a.name, without[0].Error, without[1].Error)
		}
		if reflect.DeepEqual(without[0].IPW, without[1].IPW) {
			t.Errorf("%s, control: the two databases answer alike; the attack cannot show the rules matter", a.name)
		}
	}
}
