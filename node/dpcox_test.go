package node

import (
	"context"
	"math"
	"strings"
	"sync"
	"testing"

	"github.com/oncofed/oncofed/analysis"
	"github.com/oncofed/oncofed/dp"
	"github.com/oncofed/oncofed/protocol"
)

// dpCoxQuery is the differentially private Cox query of the lung study on covariates.
func dpCoxQuery(covariates ...string) protocol.Query {
	q := query(protocol.KindCox)
	q.Endpoint = "OS"
	q.Cox = &protocol.CoxRequest{Form: protocol.CoxDPTables, Ties: "efron", Covariates: covariates, Beta: make([]float64, dpCoxColumns(covariates))}
	return q
}

// dpCoxColumns counts the lung design's columns (sex 1, ecog 3, numeric 1).
func dpCoxColumns(covariates []string) int {
	p := 0
	for _, c := range covariates {
		switch c {
		case "ecog":
			p += 3
		default:
			p++
		}
	}
	return p
}

// patternTables turns a dp_tables reply into the client's tables.
func patternTables(r protocol.Reply) []analysis.CoxPatternTable {
	var out []analysis.CoxPatternTable
	for _, pt := range r.Cox.Patterns {
		out = append(out, analysis.CoxPatternTable{X: pt.X, Time: pt.Time, Events: pt.Events, Censor: pt.Censor})
	}
	return out
}

// A dp analyst's Cox query is answered with noisy pattern tables, labelled with mechanism, ρ
// and the budget left, valid for the client, on the public grid; the fit on them lands near
// the exact one; the audit log charges dp_rho_cox once. The trusted analyst cannot ask that
// form, and the dp analyst cannot ask any other.
func TestDPCoxRelease(t *testing.T) {
	pol := DefaultPolicy()
	pol.DPRhoCox = 10 // noise small enough that the fit can be checked tightly
	pol.DPRhoDaily, pol.DPRhoTotal = 30, 30
	l := newDPLung(t, pol, lungCSV)
	q := dpCoxQuery("sex", "age")
	r := mustOK(t, handleJSON(t, l.e, sign(t, l.dora, q)))
	d := r.Policy.DP
	if d == nil || d.Mechanism != "survival-sqrt" || d.Rho > 10 || d.Rho < 9.9 || math.Abs(d.LeftToday-(30-d.Rho)) > 1e-9 {
		t.Fatalf("DP label %+v", d)
	}
	if err := protocol.ValidateReply(q, r); err != nil {
		t.Fatalf("the client refuses the reply: %v", err)
	}
	if got := r.Cox.Columns; len(got) != 2 || got[0] != "sexmale" || got[1] != "age" {
		t.Errorf("columns %v", got)
	}
	// 2 sexes × 4 age bins (18–100 in bins of 20.5 years), coded by the bins' midpoints.
	ages := map[float64]bool{}
	for _, pt := range r.Cox.Patterns {
		ages[pt.X[1]] = true
		for _, tm := range pt.Time {
			if math.Mod(tm, 30) != 0 {
				t.Fatalf("time %v off the 30-day grid", tm)
			}
		}
	}
	for a := range ages {
		if !(a == 28.25 || a == 48.75 || a == 69.25 || a == 89.75) {
			t.Errorf("age coded %v, not a bin midpoint", a)
		}
	}
	fit, err := analysis.FitCoxPatterns([][]analysis.CoxPatternTable{patternTables(r)}, 2, analysis.Efron, r.Cox.BetaLimit, analysis.CoxOptions{})
	if err != nil {
		t.Fatal(err)
	}
	// R: coxph(Surv(time, status) ~ sex + age, lung): sexmale 0.5127 (se 0.1675), age 0.0170.
	// At ρ = 10 the noise moves it by a median 0.03 (README's cost curve scaled by 1/√ρ).
	if math.Abs(fit.Coef[0]-0.5127) > 0.2 {
		t.Errorf("sex log HR %v, exact 0.513", fit.Coef[0])
	}
	if rec := lastAudit(t, l.store); math.Abs(rec.Rho-d.Rho) > 1e-15 || rec.Outcome != OutcomeReleased || !strings.Contains(rec.Released, "dp cox OS p=2") {
		t.Errorf("audit %+v", rec)
	}

	wrong := dpCoxQuery("sex")
	wrong.Cox.Form = protocol.CoxStratified
	rr := handleJSON(t, l.e, sign(t, l.dora, wrong))
	wantCode(t, rr, protocol.CodeRefusedByPolicy)
	if !strings.Contains(rr.Error.Message, "dp_tables") {
		t.Errorf("dp analyst asking stratified: %v", rr.Error)
	}
	// A trusted analyst asking the form (its client on a network where it is dp elsewhere)
	// gets the same differentially private release, labelled and charged.
	if tr := mustOK(t, handleJSON(t, l.e, sign(t, l.tom, dpCoxQuery("sex")))); tr.Policy.DP == nil || lastAudit(t, l.store).Rho != tr.Policy.DP.Rho {
		t.Errorf("trusted analyst's dp_tables release: DP %+v", tr.Policy.DP)
	}

	// Refused from public information, at no cost: 4 × 4 × 4 × 4 covariate patterns.
	before := lastAudit(t, l.store).Seq
	for _, covs := range [][]string{{"ecog", "age", "karno", "wt.loss"}} {
		rr := handleJSON(t, l.e, sign(t, l.dora, dpCoxQuery(covs...)))
		wantCode(t, rr, protocol.CodeRefusedByPolicy)
		if rec := lastAudit(t, l.store); rec.Rho != 0 || rec.Seq == before {
			t.Errorf("%v: refusal charged ρ=%v (%v)", covs, rec.Rho, rr.Error)
		}
	}
}

// A Cox query that would exceed the budget is refused before anything is computed: a query
// naming an unknown covariate gets the budget's refusal, not not_found, and costs nothing.
func TestDPCoxBudgetRefusedBeforeComputing(t *testing.T) {
	pol := DefaultPolicy()
	pol.DPRhoDaily = 0.12 // two Cox fits at 0.05
	l := newDPLung(t, pol, lungCSV)
	for range 2 {
		mustOK(t, handleJSON(t, l.e, sign(t, l.dora, dpCoxQuery("sex"))))
	}
	bad := dpCoxQuery("no_such_variable")
	r := handleJSON(t, l.e, sign(t, l.dora, bad))
	wantCode(t, r, protocol.CodeRefusedByPolicy)
	if !strings.Contains(r.Error.Message, "today's budget of 0.12") || r.Policy.DP != nil {
		t.Errorf("over the day's budget: %v", r.Error)
	}
	if rec := lastAudit(t, l.store); rec.Rho != 0 || rec.Outcome != OutcomeRefused {
		t.Errorf("the budget's refusal charged ρ=%v (%s)", rec.Rho, rec.Outcome)
	}
}

// The Cox spending is kept in the site database with every other DP release: a restarted node
// and a replica answering at the same instant never let the analyst spend past the budget.
func TestDPCoxBudgetAcrossRestartAndReplicas(t *testing.T) {
	pol := DefaultPolicy()
	pol.DPRhoDaily = 0.25 // five Cox fits at 0.05
	l := newDPLung(t, pol, lungCSV)
	for range 3 {
		mustOK(t, handleJSON(t, l.e, sign(t, l.dora, dpCoxQuery("sex"))))
	}
	restarted, err := NewEngine(context.Background(), openStore(t, l.dbPath), Config{Policy: &pol, Now: l.clock.now, Analysts: l.analysts})
	if err != nil {
		t.Fatal(err)
	}
	replica, err := NewEngine(context.Background(), openStore(t, l.dbPath), Config{Policy: &pol, Now: l.clock.now, Analysts: l.analysts})
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	answered := 0
	var wg sync.WaitGroup
	for i := range 10 {
		wg.Add(1)
		go func(e *Engine) {
			defer wg.Done()
			if r := handleJSON(t, e, sign(t, l.dora, dpCoxQuery("sex"))); r.Error == nil {
				mu.Lock()
				answered++
				mu.Unlock()
			}
		}([]*Engine{restarted, replica}[i%2])
	}
	wg.Wait()
	if answered != 2 {
		t.Errorf("%d of 10 concurrent Cox releases answered after 3, want exactly 2 (budget 0.25 at 0.05)", answered)
	}
	recs, err := VerifyAudit(context.Background(), l.store)
	if err != nil {
		t.Fatal(err)
	}
	spent := 0.0
	for _, r := range recs {
		spent += r.Rho
	}
	if spent > 0.25+1e-9 {
		t.Errorf("audit log charges ρ=%v, above the day's 0.25", spent)
	}
}

// Membership inference against the dp role's Cox release: the attacker knows everything but
// whether patient 1 (a man of 74, the age bin 59–79.5) is in the site's data, asks 200 Cox
// releases of each world, and guesses "in" when the released size of patient 1's covariate
// pattern reaches its size with patient 1. The empirical advantage stays within the bound the
// spent ρ implies (plus 3 standard errors); the same attacker against the trusted role's exact
// fit (the number of complete cases) is always right — the experiment detects a leak.
func TestDPCoxMembershipInference(t *testing.T) {
	pol := DefaultPolicy()
	pol.DPRhoCox = 0.2 // large, so that the bound is informative
	pol.DPRhoDaily, pol.DPRhoTotal = 1e6, 1e6
	in := newDPLung(t, pol, lungCSV)
	out := newDPLung(t, pol, withoutFirstPatient(t))
	q := dpCoxQuery("sex", "age")
	target := []float64{1, 69.25}
	size := func(r protocol.Reply) int {
		for _, pt := range r.Cox.Patterns {
			if pt.X[0] == target[0] && pt.X[1] == target[1] {
				n := 0
				for i := range pt.Time {
					n += pt.Events[i] + pt.Censor[i]
				}
				return n
			}
		}
		return 0
	}
	// The pattern's exact size with patient 1, from a release with noise of sd ≈ 0.
	exactPol := pol
	exactPol.DPRhoCox, exactPol.DPRhoDaily, exactPol.DPRhoTotal = 1e7, 1e8, 1e8
	sharp := newDPLung(t, exactPol, lungCSV)
	withTarget := size(mustOK(t, handleJSON(t, sharp.e, sign(t, sharp.dora, q))))
	if withTarget < 10 {
		t.Fatalf("patient 1's pattern holds %d patients", withTarget)
	}
	const trials = 200
	guessedIn := map[*dpLung]int{}
	var rho float64
	for _, world := range []*dpLung{in, out} {
		for range trials {
			r := mustOK(t, handleJSON(t, world.e, sign(t, world.dora, q)))
			rho = r.Policy.DP.Rho
			if size(r) >= withTarget {
				guessedIn[world]++
			}
		}
	}
	adv := float64(guessedIn[in]-guessedIn[out]) / trials
	bound := advantageBound(rho)
	se := math.Sqrt(0.5 / trials)
	t.Logf("advantage %.3f over %d trials per world, bound %.3f at ρ=%g", adv, trials, bound, rho)
	if adv > bound+3*se {
		t.Errorf("membership advantage %.3f exceeds the ρ=%g bound %.3f + 3 se", adv, rho, bound)
	}
	// The trusted analyst's exact release tells the two worlds apart every time.
	exactQ := dpCoxQuery("sex", "age")
	exactQ.Cox.Form = protocol.CoxStratified
	nIn := mustOK(t, handleJSON(t, in.e, sign(t, in.tom, exactQ))).Cox.N
	nOut := mustOK(t, handleJSON(t, out.e, sign(t, out.tom, exactQ))).Cox.N
	if nIn != nOut+1 {
		t.Errorf("trusted complete cases %d and %d: the exact release does not separate the worlds", nIn, nOut)
	}
}

// The sensitivity of the DP Cox release, played: on the lung data and on a random synthetic
// cohort of 500, removing any one patient from the cohort changes the pattern tables and the
// missing count by exactly 1 in exactly one cell (L1 = L2² = 1), which is what
// dp.ReleaseSurvival's accounting assumes (Δ² = 1 per table before its strategy; parallel
// composition across the disjoint tables and the missing count).
func TestDPCoxTablesSensitivity(t *testing.T) {
	ctx := context.Background()
	l := newDPLung(t, DefaultPolicy(), lungCSV)
	syn := newFederation(t, synthCohort(t, 500, 1), DefaultDP.DPRhoSurvival)
	for _, tc := range []struct {
		e     *Engine
		study string
		covs  []string
	}{{l.e, "lung", []string{"sex", "age"}}, {l.e, "lung", []string{"ecog", "wt.loss"}}, {syn.exact[0], "nsclc", []string{"sex", "stage", "age"}}} {
		ls, err := tc.e.study(ctx, tc.study)
		if err != nil {
			t.Fatal(err)
		}
		c := &cohort{study: ls, rows: ls.evalFilter(nil)}
		req := &protocol.CoxRequest{Form: protocol.CoxDPTables, Covariates: tc.covs}
		covs, err := dpCoxDesign(c, req)
		if err != nil {
			t.Fatal(err)
		}
		patterns := 1
		for _, cv := range covs {
			patterns *= len(cv.cells)
		}
		ep := ls.eps["OS"]
		w, horizon := tc.e.dpGrid(ep)
		bins := int(math.Ceil(horizon / w))
		all, allMissing := dpCoxTables(c.rows, covs, ep, patterns, w, bins)
		removed := 0
		c.rows.forEach(func(i int) {
			rows := newBitset(ls.data.Len())
			rows.or(c.rows)
			rows[i>>6] &^= 1 << (uint(i) & 63)
			tabs, missing := dpCoxTables(rows, covs, ep, patterns, w, bins)
			l1 := allMissing - missing
			for g := range tabs {
				for b := range bins {
					d := all[g].Events[b] - tabs[g].Events[b]
					cz := all[g].Censored[b] - tabs[g].Censored[b]
					if d < 0 || cz < 0 {
						t.Fatalf("%s %v: removing patient %d raised a cell", tc.study, tc.covs, i)
					}
					l1 += int(d + cz)
				}
			}
			if l1 != 1 {
				t.Fatalf("%s %v: removing patient %d changed %d cells' counts, want exactly 1", tc.study, tc.covs, i, l1)
			}
			removed++
		})
		if removed != ls.data.Len() {
			t.Errorf("%s: %d of %d patients removed", tc.study, removed, ls.data.Len())
		}
	}
}

// The Cox release combined with the other DP releases: the attacker of
// TestDPCoxMembershipInference also asks a count and a KM table of the cohort in every trial and
// adds up the evidence of all three (each released size's deviation from the size without
// patient 1, in units of its noise). The advantage stays within the bound of the ρ spent on
// the three together (zCDP composition: ρ adds up, which is what the budget charges).
func TestDPCoxCombinedMembershipInference(t *testing.T) {
	pol := DefaultPolicy()
	pol.DPRhoCox, pol.DPRhoCount, pol.DPRhoSurvival = 0.1, 0.1, 0.1
	pol.DPRhoDaily, pol.DPRhoTotal = 1e6, 1e6
	pol.DailyQueryBudget = 0 // 600 queries per world
	in := newDPLung(t, pol, lungCSV)
	out := newDPLung(t, pol, withoutFirstPatient(t))
	cq := dpCoxQuery("sex", "age")
	patternSize := func(r protocol.Reply) int {
		for _, pt := range r.Cox.Patterns {
			if pt.X[0] == 1 && pt.X[1] == 69.25 {
				n := 0
				for i := range pt.Time {
					n += pt.Events[i] + pt.Censor[i]
				}
				return n
			}
		}
		return 0
	}
	exactPol := pol
	exactPol.DPRhoCox, exactPol.DPRhoDaily, exactPol.DPRhoTotal = 1e7, 1e8, 1e8
	sharp := newDPLung(t, exactPol, lungCSV)
	withTarget := float64(patternSize(mustOK(t, handleJSON(t, sharp.e, sign(t, sharp.dora, cq)))))
	const trials = 200
	guessedIn := map[*dpLung]int{}
	total := 0.0
	for _, world := range []*dpLung{in, out} {
		for range trials {
			c := mustOK(t, handleJSON(t, world.e, sign(t, world.dora, query(protocol.KindCount))))
			km := mustOK(t, handleJSON(t, world.e, sign(t, world.dora, survivalQuery(false))))
			cox := mustOK(t, handleJSON(t, world.e, sign(t, world.dora, cq)))
			kmN := 0
			for _, g := range km.Survival.Groups {
				for i := range g.Time {
					kmN += g.Events[i] + g.Censor[i]
				}
			}
			patternSD := dp.SurvivalSizeSD(int(math.Ceil(pol.DPHorizonDays/pol.DPBinDays)), ratOf(pol.DPRhoCox), dp.SurvivalSqrt)
			z := (float64(c.Count.Total.N)-226.5)/c.Policy.DP.SizeSD + (float64(kmN)-226.5)/km.Policy.DP.SizeSD +
				(float64(patternSize(cox))-(withTarget-0.5))/patternSD
			if z > 0 {
				guessedIn[world]++
			}
			total = c.Policy.DP.Rho + km.Policy.DP.Rho + cox.Policy.DP.Rho
		}
	}
	adv := float64(guessedIn[in]-guessedIn[out]) / trials
	bound := advantageBound(total)
	se := math.Sqrt(0.5 / trials)
	t.Logf("count + KM + Cox: advantage %.3f over %d trials per world, bound %.3f at ρ=%g in all", adv, trials, bound, total)
	if adv > bound+3*se {
		t.Errorf("combined membership advantage %.3f exceeds the ρ=%g bound %.3f + 3 se", adv, total, bound)
	}
}
