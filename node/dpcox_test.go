package node

import (
	"context"
	"math"
	"strings"
	"sync"
	"testing"

	"github.com/oncofed/oncofed/analysis"
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
	pol.DPRhoCox = 0.5 // noise small enough that the fit can be checked tightly
	pol.DPRhoDaily = 1
	l := newDPLung(t, pol, lungCSV)
	q := dpCoxQuery("sex", "age")
	r := mustOK(t, handleJSON(t, l.e, sign(t, l.dora, q)))
	d := r.Policy.DP
	if d == nil || d.Mechanism != "survival-sqrt" || d.Rho > 0.5 || d.Rho < 0.49 || math.Abs(d.LeftToday-(1-d.Rho)) > 1e-12 {
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
	if math.Abs(fit.Coef[0]-0.5127) > 0.25 {
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
	wantCode(t, handleJSON(t, l.e, sign(t, l.tom, dpCoxQuery("sex"))), protocol.CodeInvalid)

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
