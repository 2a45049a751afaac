package node

import (
	"context"
	"fmt"
	"math"
	"testing"

	"github.com/oncofed/oncofed/analysis"
	"github.com/oncofed/oncofed/protocol"
)

// ipwQuery is an ipw query of the lung study: women against men, confounders age, karno and
// wt.loss, ATE weights.
func ipwQuery(analyst string, stage protocol.IPWStage, beta []float64) protocol.Query {
	q := query(protocol.KindIPW)
	q.Analyst, q.Endpoint = analyst, "OS"
	q.IPW = &protocol.IPWRequest{Stage: stage, Treatment: "sex", Treated: "female", Confounders: []string{"age", "karno", "wt.loss"},
		Beta: beta, Estimand: "ATE", Ties: "efron", Edges: []float64{0, 0.25, 0.5, 0.75, 1}}
	if stage == protocol.IPWCox {
		q.IPW.CoxBeta = []float64{0}
	}
	return q
}

// ipwFitThrough fits the propensity model on the engines as the app does and returns it.
func ipwFitThrough(t *testing.T, engines []*Engine, analyst string) *analysis.LogisticFit {
	t.Helper()
	ctx := context.Background()
	fit, err := analysis.FitLogistic(func(beta []float64) (analysis.LogisticContribution, error) {
		var sum analysis.LogisticContribution
		for _, e := range engines {
			r := e.Handle(ctx, ipwQuery(analyst, protocol.IPWPropensity, beta))
			if r.Error != nil {
				return sum, r.Error
			}
			sum.Add(analysis.LogisticContribution{LogLik: r.IPW.LogLik, Gradient: r.IPW.Gradient, Hessian: r.IPW.Hessian, N: r.IPW.N, Treated: r.IPW.Treated})
		}
		return sum, nil
	}, 4, analysis.LogisticOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return fit
}

// Under the default policy a fitted propensity model passes every rule at a site holding all
// of lung (the spread of its most extreme linear predictors is far below maxWeightSpread),
// and the outcome and Cox stages are answered with the policy applied: every released row of
// a weighted table holds at least min_cell patients.
func TestIPWUnderDefaultPolicy(t *testing.T) {
	pol := DefaultPolicy()
	pol.DailyQueryBudget = 0
	e, _ := lungEngine(t, pol, nil)
	fit := ipwFitThrough(t, []*Engine{e}, "alice")
	ctx := context.Background()
	r := mustOK(t, e.Handle(ctx, ipwQuery("alice", protocol.IPWOutcome, fit.Coef)))
	for _, arm := range []*protocol.IPWArm{r.IPW.TreatedArm, r.IPW.ControlArm} {
		for k := range arm.Table.Time {
			if n := arm.Table.NEvent[k] + arm.Table.NCensor[k]; n < pol.MinCell {
				t.Errorf("released row at %v holds %d patients, fewer than min_cell", arm.Table.Time[k], n)
			}
		}
		for _, c := range arm.Histogram {
			if !c.Suppressed && c.N > 0 && c.N < pol.MinCell {
				t.Errorf("histogram cell of %d released", c.N)
			}
		}
	}
	if r.Policy.BinDays != pol.BinDays || r.Policy.MergedRows == 0 {
		t.Errorf("policy effects %+v: times not coarsened and merged", r.Policy)
	}
	mustOK(t, e.Handle(ctx, ipwQuery("alice", protocol.IPWCox, fit.Coef)))
}

// The dominant-weight attack: the analyst knows a target's confounders (the oldest woman of
// the cohort) and crafts a propensity model that gives her, and her alone, an enormous ATE
// weight (η = −10 per year above the others). Her weight then outweighs her whole arm, and the
// arm's weighted events against its weighted censorings tell whether she died. The spread
// rule refuses such a model, and the weight cap bounds any weight that gets through; without
// them (withoutWeightSpread) the attacker wins for every target tried, so the test can fail.
func TestAttackIPWDominantWeight(t *testing.T) {
	pol := DefaultPolicy()
	pol.DailyQueryBudget = 0
	pol.OverlapGuard = false // one query per target; the guard is not what stops it
	for _, rulesOff := range []bool{false, true} {
		t.Run(fmt.Sprintf("rules off %v", rulesOff), func(t *testing.T) {
			e, _ := lungEngine(t, pol, nil)
			e.withoutWeightSpread = rulesOff
			ls := studyOf(t, e)
			targets := oldestWomen(ls, 6)
			if len(targets) < 3 {
				t.Fatalf("%d targets", len(targets))
			}
			won := 0
			for _, i := range targets {
				age := ls.vars["age"].Numeric[i]
				beta := []float64{10*age - 20, -10, 0, 0} // η = −20 for her, ≥ −10 for everyone younger
				// The cohort keeps every man and the women up to her age: she is its oldest woman.
				// The propensity stage at the same β is refused alike: its Hessian would single out
				// the patients at the model's threshold.
				qp := ipwQuery("mallory", protocol.IPWPropensity, beta)
				qp.Cohort = orF(eq("sex", "male"), rng("age", nil, fp(age)))
				if rp := e.Handle(context.Background(), qp); !rulesOff && rp.Error == nil {
					t.Errorf("target %d: the propensity stage answered the crafted model", i)
				}
				q := ipwQuery("mallory", protocol.IPWOutcome, beta)
				q.Cohort = orF(eq("sex", "male"), rng("age", nil, fp(age)))
				r := e.Handle(context.Background(), q)
				if r.Error != nil {
					if rulesOff {
						t.Fatalf("target %d: refused with the rules off: %v", i, r.Error)
					}
					if r.Error.Code != protocol.CodeRefusedByPolicy {
						t.Fatalf("target %d: %v, want refused_by_policy", i, r.Error)
					}
					continue
				}
				tab := r.IPW.TreatedArm.Table
				var ev, ce float64
				for k := range tab.Time {
					ev += tab.Events[k]
					ce += tab.Censor[k]
				}
				guess := ev > ce
				if guess == ls.eps["OS"].Event[i] {
					won++
				}
			}
			if rulesOff && won != len(targets) {
				t.Errorf("without the rules the attack won %d of %d targets: the test cannot show the rules matter", won, len(targets))
			}
			if !rulesOff && won > 0 {
				t.Errorf("the attack got answers and won %d of %d targets", won, len(targets))
			}
		})
	}
}

// oldestWomen returns up to n women with a unique age among the women, oldest first, among
// the complete cases of the ipw query (age, karno and wt.loss present).
func oldestWomen(ls *loadedStudy, n int) []int {
	sex := ls.vars["sex"]
	female := int32(ls.catIndex["sex"]["female"])
	return oldestAmong(ls, n, func(i int) bool { return sex.Codes[i] == female })
}

// The differencing attack: two weighted answers on cohorts that differ by one patient (every
// patient, then every patient but the target) would give her contribution to every sum. The
// overlap guard records the complete cases of each ipw answer and refuses the second, as for
// every kind; with the guard off the second answer is released (so the test can fail).
func TestAttackIPWDifferencing(t *testing.T) {
	for _, guard := range []bool{true, false} {
		pol := DefaultPolicy()
		pol.DailyQueryBudget = 0
		pol.OverlapGuard = guard
		e, _ := lungEngine(t, pol, nil)
		ls := studyOf(t, e)
		target := oldestWomen(ls, 1)[0]
		ctx := context.Background()
		q := ipwQuery("mallory", protocol.IPWPropensity, []float64{0, 0, 0, 0})
		first := mustOK(t, e.Handle(ctx, q))
		q.ID = "q2"
		q.Cohort = notF(and(eq("sex", "female"), ageIs(ls.vars["age"].Numeric[target])))
		r := e.Handle(ctx, q)
		switch {
		case guard && r.Error == nil:
			t.Fatalf("two ipw answers on sets differing by one patient were both released (%d and %d patients)", first.IPW.N, r.IPW.N)
		case guard && r.Error.Code != protocol.CodeRefusedByPolicy:
			t.Fatalf("%v, want refused_by_policy", r.Error)
		case !guard && (r.Error != nil || first.IPW.N-r.IPW.N != 1):
			t.Fatalf("without the guard: %v, %d vs %d patients", r.Error, first.IPW.N, r.IPW.N)
		}
	}
}

// A dp analyst has no differentially private ipw release: refused, before any data is read,
// from the role alone (public information), and charged nothing.
func TestIPWRefusedForDPAnalyst(t *testing.T) {
	d := newDPLung(t, DefaultPolicy(), lungCSV)
	q := ipwQuery("dora", protocol.IPWPropensity, nil)
	if err := d.dora.Sign(&q); err != nil {
		t.Fatal(err)
	}
	r := d.e.Handle(context.Background(), q)
	wantCode(t, r, protocol.CodeRefusedByPolicy)
	if r.IPW != nil {
		t.Fatal("refusal carries an ipw payload")
	}
}

// The class-count attack: the analyst picks a model in which the weights depend on one
// discrete confounder only (treatment ECOG 1 against the rest, confounders sex and age, β on
// sex alone), so that it knows each woman's and each man's weight. A released row's weighted
// events and censorings with its numbers then solve for how many women died and were censored
// in it — a survival table by sex whose rows were merged for the arm only, so a row could hold a
// single woman. The site merges rows until each holds, of every class, no patient or at least
// min_cell (as a survival table grouped by the class would); with that rule off
// (withoutWeightSpread) the solved counts include a class of 1..min_cell−1, so the test can
// fail.
func TestAttackIPWClassCounts(t *testing.T) {
	pol := DefaultPolicy()
	pol.DailyQueryBudget = 0
	pol.OverlapGuard = false
	for _, rulesOff := range []bool{false, true} {
		e, _ := lungEngine(t, pol, nil)
		e.withoutWeightSpread = rulesOff
		q := query(protocol.KindIPW)
		q.Analyst, q.Endpoint = "mallory", "OS"
		// Design: (Intercept), sexmale, age; β on sex only: e = 1/2 for women, 1/(1+e⁻¹) for men.
		q.IPW = &protocol.IPWRequest{Stage: protocol.IPWOutcome, Treatment: "ecog", Treated: "ecog1", Confounders: []string{"sex", "age"},
			Beta: []float64{0, 1, 0}, Estimand: "ATE", Edges: []float64{0, 0.5, 1}}
		r := mustOK(t, e.Handle(context.Background(), q))
		wf, wm := 2.0, 1+math.Exp(-1) // treated-arm ATE weights 1/e
		tab := r.IPW.TreatedArm.Table
		small := 0
		for k := range tab.Time {
			women := []float64{
				(tab.Events[k] - float64(tab.NEvent[k])*wm) / (wf - wm),
				(tab.Censor[k] - float64(tab.NCensor[k])*wm) / (wf - wm),
			}
			f := math.Round(women[0] + women[1])
			m := float64(tab.NEvent[k]+tab.NCensor[k]) - f
			for _, n := range []float64{f, m} {
				if n > 0 && n < float64(pol.MinCell) {
					small++
				}
			}
		}
		switch {
		case !rulesOff && small > 0:
			t.Errorf("%d released rows give a class of 1..%d patients", small, pol.MinCell-1)
		case rulesOff && small == 0:
			t.Errorf("without the rule no row gives a small class: the test cannot show the rule matters")
		}
	}
}
