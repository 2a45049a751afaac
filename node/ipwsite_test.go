package node

import (
	"context"
	"fmt"
	"math"
	"slices"
	"strings"
	"testing"

	"github.com/oncofed/oncofed/analysis"
	"github.com/oncofed/oncofed/protocol"
)

// siteQuery is ipwQuery with the treatment membership in site trial.
func siteQuery(analyst string, stage protocol.IPWStage, beta []float64, trial string) protocol.Query {
	q := ipwQuery(analyst, stage, beta)
	q.IPW.Treatment, q.IPW.Treated, q.IPW.TreatedSite = "", "", trial
	return q
}

// completeCases returns the rows of ls with age, karno and wt.loss (the ipw confounders of
// these tests) present.
func completeCases(ls *loadedStudy) []int {
	age, karno, wl := ls.vars["age"].Numeric, ls.vars["karno"].Numeric, ls.vars["wt.loss"].Numeric
	var rows []int
	for i := range age {
		if !math.IsNaN(age[i]) && !math.IsNaN(karno[i]) && !math.IsNaN(wl[i]) {
			rows = append(rows, i)
		}
	}
	return rows
}

// With the treatment membership in a site, a site's reply is about its own patients only, and
// they are all in one arm. The one-patient trial: the analyst names as the trial a site with a
// single complete case (inst33 of lung), or narrows a large site (inst1) to one patient with a
// cohort filter. The trial site's propensity contribution at β = 0 is then (1 − ½)·x, her
// confounders, and its outcome reply's treated arm her time and status. The site's arm must
// hold min_cohort complete cases: under the default policy every stage is refused; under the
// exact policy (no rules: trusted networks only) the attacker reads her age, time and status,
// so the test can fail.
func TestAttackIPWOnePatientTrialSite(t *testing.T) {
	for _, rulesOff := range []bool{false, true} {
		t.Run(fmt.Sprintf("rules off %v", rulesOff), func(t *testing.T) {
			pol := DefaultPolicy()
			if rulesOff {
				pol = ExactPolicy()
			}
			pol.DailyQueryBudget = 0
			engines := lungSites(t, pol)
			byName := map[string]*Engine{}
			for _, e := range engines {
				byName[e.Site()] = e
			}
			attacks := []struct {
				site   string
				cohort func(ls *loadedStudy) (*protocol.Filter, int) // the filter and its one patient
			}{
				{"inst33", func(ls *loadedStudy) (*protocol.Filter, int) { return nil, completeCases(ls)[0] }},
				{"inst1", func(ls *loadedStudy) (*protocol.Filter, int) {
					rows := completeCases(ls)
					age := ls.vars["age"].Numeric
					oldest := slices.MaxFunc(rows, func(a, b int) int { return int(age[a] - age[b]) })
					return rng("age", fp(age[oldest]), nil), oldest
				}},
			}
			won := 0
			for _, a := range attacks {
				e := byName[a.site]
				ls := studyOf(t, e)
				if a.site == "inst33" && len(completeCases(ls)) != 1 {
					t.Fatalf("inst33 has %d complete cases, the attack wants 1", len(completeCases(ls)))
				}
				cohort, target := a.cohort(ls)
				for _, stage := range []protocol.IPWStage{protocol.IPWPropensity, protocol.IPWOutcome} {
					q := siteQuery("mallory", stage, []float64{0, 0, 0, 0}, a.site)
					q.ID = fmt.Sprint(a.site, stage)
					q.Cohort = cohort
					r := e.Handle(context.Background(), q)
					if !rulesOff {
						if r.Error == nil || r.Error.Code != protocol.CodeRefusedByPolicy {
							t.Errorf("%s %s: %v, want refused_by_policy", a.site, stage, r.Error)
						}
						continue
					}
					if r.Error != nil {
						t.Fatalf("%s %s without the rules: %v", a.site, stage, r.Error)
					}
					switch stage {
					case protocol.IPWPropensity:
						if got := 2 * r.IPW.Gradient[1]; r.IPW.N == 1 && got == ls.vars["age"].Numeric[target] {
							won++
						}
					case protocol.IPWOutcome:
						tab := r.IPW.TreatedArm.Table
						if len(tab.Time) == 1 && tab.Time[0] == ls.eps["OS"].Time[target] && (tab.NEvent[0] == 1) == ls.eps["OS"].Event[target] {
							won++
						}
					}
				}
			}
			if rulesOff && won != 4 {
				t.Errorf("without the rules the attack read %d of 4 answers: the test cannot show the rules matter", won)
			}
		})
	}
}

// oldestPatients returns up to n complete cases with a unique age, oldest first.
func oldestPatients(ls *loadedStudy, n int) []int {
	return oldestAmong(ls, n, func(int) bool { return true })
}

// oldestAmong returns up to n of the complete cases passing keep that have a unique age among
// them, oldest first, each with at least 20 younger ones (so that her cohort of everyone up to
// her age has an arm above min_cohort).
func oldestAmong(ls *loadedStudy, n int, keep func(i int) bool) []int {
	age := ls.vars["age"].Numeric
	var rows []int
	count := map[float64]int{}
	for _, i := range completeCases(ls) {
		if keep(i) {
			rows = append(rows, i)
			count[age[i]]++
		}
	}
	slices.SortFunc(rows, func(a, b int) int { return int(age[b] - age[a]) })
	var out []int
	for r, i := range rows {
		if len(out) < n && count[age[i]] == 1 && len(rows)-r > 20 {
			out = append(out, i)
		}
	}
	return out
}

// Crafted weights with the treatment membership in a site, as they would enter the pooled
// weighted Cox model. The pooled form is computed from the outcome stage's weighted tables
// alone (analysis.TwoArmWeightedCox; no site is asked anything more), so those tables are what
// an attacker can work on: it knows a target's confounders (the oldest patient of the cohort)
// and crafts a propensity model giving her, and her alone, an enormous weight — in the trial
// arm (the site is the trial: ATE weight 1/e with η = −20 for her) or in the control arm (the
// site is a control: 1/(1 − e) with η = +20). Her weight outweighs her arm and its weighted
// events against its censorings tell whether she died, in the arm's table and so in the
// pooled model's score. The spread rule refuses such a model; with it off (and the cap with
// it) the attack wins for every target, so the test can fail.
func TestAttackIPWTreatedSiteCraftedWeights(t *testing.T) {
	pol := DefaultPolicy()
	pol.DailyQueryBudget = 0
	pol.OverlapGuard = false // one query per target; the guard is not what stops it
	for _, rulesOff := range []bool{false, true} {
		for _, trialHere := range []bool{true, false} {
			t.Run(fmt.Sprintf("rules off %v, trial site %v", rulesOff, trialHere), func(t *testing.T) {
				e, _ := lungEngine(t, pol, nil)
				e.withoutWeightSpread = rulesOff
				ls := studyOf(t, e)
				trial, sign := "elsewhere", 1.0 // a control site: her e → 1
				if trialHere {
					trial, sign = e.Site(), -1 // the trial site: her e → 0
				}
				targets := oldestPatients(ls, 6)
				if len(targets) < 3 {
					t.Fatalf("%d targets", len(targets))
				}
				won := 0
				for _, i := range targets {
					age := ls.vars["age"].Numeric[i]
					beta := []float64{sign * (20 - 10*age), sign * 10, 0, 0} // η = ±20 for her, ±10 or less for the younger
					q := siteQuery("mallory", protocol.IPWOutcome, beta, trial)
					q.ID = fmt.Sprint("target", i)
					q.Cohort = rng("age", nil, fp(age))
					r := e.Handle(context.Background(), q)
					if r.Error != nil {
						if rulesOff {
							t.Fatalf("target %d: refused with the rules off: %v", i, r.Error)
						}
						if r.Error.Code != protocol.CodeRefusedByPolicy || !strings.Contains(r.Error.Message, "single out") {
							t.Fatalf("target %d: %v, want refused_by_policy by the spread rule", i, r.Error)
						}
						continue
					}
					arm := r.IPW.ControlArm
					if trialHere {
						arm = r.IPW.TreatedArm
					}
					var ev, ce float64
					for k := range arm.Table.Time {
						ev += arm.Table.Events[k]
						ce += arm.Table.Censor[k]
					}
					if (ev > ce) == ls.eps["OS"].Event[i] {
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
}

// With the treatment membership in a site every site holds one arm: the cox stage (a model
// stratified by site) is refused as invalid, with the reason, before any row is read.
func TestIPWTreatedSiteRefusesStratifiedCox(t *testing.T) {
	e, _ := lungEngine(t, ExactPolicy(), nil)
	q := siteQuery("alice", protocol.IPWCox, []float64{0, 0, 0, 0}, e.Site())
	r := e.Handle(context.Background(), q)
	wantCode(t, r, protocol.CodeInvalid)
	if r.Error == nil || !strings.Contains(r.Error.Message, "compares nothing") {
		t.Errorf("refusal %v does not say why", r.Error)
	}
}

// Under the default policy a single-arm comparison works: the trial site (inst1 of lung) and
// the control sites large enough for min_cohort answer the propensity rounds of the fit and the
// outcome stage at the fitted model, each about its own arm only (the other arm empty), every
// released row holding none or at least min_cell events and censorings each (the confounders
// are continuous); the sites below min_cohort refuse and sit out.
func TestIPWTreatedSiteUnderDefaultPolicy(t *testing.T) {
	pol := DefaultPolicy()
	pol.DailyQueryBudget = 0
	ctx := context.Background()
	var answering []*Engine
	for _, e := range lungSites(t, pol) {
		r := e.Handle(ctx, siteQuery("alice", protocol.IPWPropensity, nil, "inst1"))
		switch {
		case r.Error == nil:
			answering = append(answering, e)
		case r.Error.Code != protocol.CodeRefusedByPolicy:
			t.Fatalf("%s: %v", e.Site(), r.Error)
		}
	}
	if len(answering) < 4 || !slices.ContainsFunc(answering, func(e *Engine) bool { return e.Site() == "inst1" }) {
		t.Fatalf("%d sites answered", len(answering))
	}
	fit, err := analysis.FitLogistic(func(beta []float64) (analysis.LogisticContribution, error) {
		var sum analysis.LogisticContribution
		for _, e := range answering {
			r := e.Handle(ctx, siteQuery("alice", protocol.IPWPropensity, beta, "inst1"))
			if r.Error != nil {
				return sum, fmt.Errorf("%s: %v", e.Site(), r.Error)
			}
			sum.Add(analysis.LogisticContribution{LogLik: r.IPW.LogLik, Gradient: r.IPW.Gradient, Hessian: r.IPW.Hessian, N: r.IPW.N, Treated: r.IPW.Treated})
		}
		return sum, nil
	}, 4, analysis.LogisticOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range answering {
		r := mustOK(t, e.Handle(ctx, siteQuery("alice", protocol.IPWOutcome, fit.Coef, "inst1")))
		own, other := r.IPW.ControlArm, r.IPW.TreatedArm
		if e.Site() == "inst1" {
			own, other = other, own
		}
		if own.N == 0 || other.N != 0 || len(other.Table.Time) != 0 {
			t.Errorf("%s: its arm holds %d patients, the other %d", e.Site(), own.N, other.N)
		}
		for k := range own.Table.Time {
			// age, karno and wt.loss are continuous: the strict rule of TestAttackIPWOneEventWeight.
			if ev, ce := own.Table.NEvent[k], own.Table.NCensor[k]; ev > 0 && ev < pol.MinCell || ce > 0 && ce < pol.MinCell {
				t.Errorf("%s: released row at %v holds %d events and %d censorings", e.Site(), own.Table.Time[k], ev, ce)
			}
		}
	}
}
