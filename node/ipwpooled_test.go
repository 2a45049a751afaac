package node

import (
	"context"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/oncofed/oncofed/analysis"
	"github.com/oncofed/oncofed/protocol"
)

// ipwPooledQuery is a pooled-stage query of the lung study: women against men, confounders
// age, karno and wt.loss (plus extra), ATE weights at the propensity model beta, the outcome
// model adjusted for adjust at coxBeta.
func ipwPooledQuery(stage protocol.IPWStage, beta, coxBeta []float64, adjust []string, extra ...string) protocol.Query {
	q := ipwQuery("mallory", stage, beta)
	q.IPW.Confounders = append(q.IPW.Confounders, extra...)
	q.IPW.Edges, q.IPW.Adjust, q.IPW.CoxBeta = nil, adjust, coxBeta
	return q
}

// ipwWorld is the lung study at one site with patient id's event set to event: one of two
// databases that differ in one patient's outcome.
func ipwWorld(t *testing.T, pol protocol.Policy, id, event string) (*Engine, *SQLiteStore) {
	t.Helper()
	b, err := os.ReadFile(lungCSV)
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(string(b), "\n")
	found := false
	for k, line := range lines {
		f := strings.Split(line, ",")
		if len(f) > 3 && f[0] == id {
			f[3], found = event, true
			lines[k] = strings.Join(f, ",")
		}
	}
	if !found {
		t.Fatalf("no patient %s in %s", id, lungCSV)
	}
	dir := t.TempDir()
	path := writeFile(t, dir, "lung.csv", strings.Join(lines, "\n"))
	store := importFile(t, filepath.Join(dir, "lung.db"), path, lungSpec)
	e, err := NewEngine(context.Background(), store, Config{InsecureOpen: true, Policy: &pol})
	if err != nil {
		t.Fatal(err)
	}
	return e, store
}

// ipwPooledFitThrough fits the adjusted pooled model on one engine's three stages as the app
// does: phase 1, phase 2 for the Hessians, and the meat at β̂ and 0.
func ipwPooledFitThrough(t *testing.T, e *Engine, beta []float64, adjust []string, q int) (*analysis.CoxFit, *analysis.RobustCox) {
	t.Helper()
	ctx := context.Background()
	n := 0
	ask := func(stage protocol.IPWStage, coxBeta []float64, w *protocol.IPWCoxWeights) *protocol.IPWReply {
		qq := ipwPooledQuery(stage, beta, coxBeta, adjust)
		n++
		qq.ID = fmt.Sprintf("pooled-%d", n)
		if stage != protocol.IPWPooledSums {
			qq.IPW.Site, qq.IPW.CoxWeights = e.Site(), w
		}
		return mustOK(t, e.Handle(ctx, qq)).IPW
	}
	rows := func(r *protocol.IPWReply) ([][]analysis.RiskSetRow, [][]float64, [][]float64) {
		var rs []analysis.RiskSetRow
		var dw []float64
		for _, row := range r.Rows {
			rs = append(rs, analysis.RiskSetRow{Time: row.Time, D: row.D, R0: row.R0, R1: row.R1, E0: row.E0, E1: row.E1})
			dw = append(dw, row.DW)
		}
		return [][]analysis.RiskSetRow{rs}, [][]float64{dw}, [][]float64{r.EventXSum}
	}
	ties := analysis.Efron
	fit, err := analysis.FitCoxSteps(func(b []float64) (analysis.CoxContribution, func() (analysis.CoxContribution, error), error) {
		rs, dw, ex := rows(ask(protocol.IPWPooledSums, b, nil))
		step, err := analysis.WeightedPooledCoxSums(rs, dw, ex, q, b, ties)
		if err != nil {
			return analysis.CoxContribution{}, nil, err
		}
		return step.Contribution(), func() (analysis.CoxContribution, error) {
			a, bb := step.Weights(0)
			return step.Complete([][]float64{ask(protocol.IPWPooledHessian, b, &protocol.IPWCoxWeights{A: a, B: bb}).SecondMoment})
		}, nil
	}, q, analysis.CoxOptions{})
	if err != nil {
		t.Fatal(err)
	}
	meat := func(b []float64) (m, u []float64) {
		rs, dw, _ := rows(ask(protocol.IPWPooledSums, b, nil))
		ws, err := analysis.WeightedPooledMeatWeights(rs, dw, q, b, ties)
		if err != nil {
			t.Fatal(err)
		}
		w := ws[0]
		r := ask(protocol.IPWPooledMeat, b, &protocol.IPWCoxWeights{H: w.H, AH: w.A, HD: w.HD, AD: w.AD, XBarD: w.XBarD})
		return r.Meat, r.Score
	}
	m, _ := meat(fit.Coef)
	m0, u0 := meat(make([]float64, q))
	rob, err := analysis.Sandwich(fit, m, m0, u0)
	if err != nil {
		t.Fatal(err)
	}
	return fit, rob
}

// Under the default policy with allow_pooled_cox, a fitted propensity model and the adjusted
// outcome model's whole Newton path pass every rule at a site holding all of lung: the fit
// converges to finite robust and naive SEs. Without the opt-in, every pooled stage is refused
// before any row is read, with the reason.
func TestIPWPooledUnderDefaultPolicy(t *testing.T) {
	pol := DefaultPolicy()
	pol.DailyQueryBudget = 0
	pol.OverlapGuard = false
	e, _ := lungEngine(t, pol, nil)
	prop := ipwFitThrough(t, []*Engine{e}, "mallory")
	for _, stage := range []protocol.IPWStage{protocol.IPWPooledSums, protocol.IPWPooledHessian, protocol.IPWPooledMeat} {
		q := ipwPooledQuery(stage, prop.Coef, []float64{0, 0}, []string{"age"})
		switch stage {
		case protocol.IPWPooledHessian:
			q.IPW.Site, q.IPW.CoxWeights = e.Site(), &protocol.IPWCoxWeights{A: []float64{1}}
		case protocol.IPWPooledMeat:
			q.IPW.Site, q.IPW.CoxWeights = e.Site(), &protocol.IPWCoxWeights{H: []float64{1}}
		}
		r := e.Handle(context.Background(), q)
		wantCode(t, r, protocol.CodeRefusedByPolicy)
		if !strings.Contains(r.Error.Message, "allow_pooled_cox") {
			t.Errorf("%s without the opt-in: %v", stage, r.Error)
		}
	}
	pol.AllowPooledCox = true
	e, _ = lungEngine(t, pol, nil)
	fit, rob := ipwPooledFitThrough(t, e, prop.Coef, []string{"age", "karno"}, 3)
	if !fit.Converged {
		t.Fatalf("not converged: %+v", fit)
	}
	for j := range fit.Coef {
		if !(rob.SE[j] > 0) || !(fit.SE[j] > 0) {
			t.Errorf("term %d: robust SE %v, naive %v", j, rob.SE[j], fit.SE[j])
		}
	}
	t.Logf("lung, default policy: log HR women %.4f (robust SE %.4f, naive %.4f)", fit.Coef[0], rob.SE[0], fit.SE[0])
}

// Every pooled round is a release: charged to the daily budget, audited with the weights'
// digest (not the weights), refused to a dp analyst from the role alone, refused at a β beyond
// the cap, and refused when addressed to another site.
func TestIPWPooledBudgetAuditRules(t *testing.T) {
	ctx := context.Background()
	pol := DefaultPolicy()
	pol.AllowPooledCox = true
	pol.OverlapGuard = false
	pol.DailyQueryBudget = 3
	e, store := lungEngine(t, pol, nil)
	beta := []float64{0, 0, 0, 0}
	r := mustOK(t, e.Handle(ctx, ipwPooledQuery(protocol.IPWPooledSums, beta, []float64{0, 0}, []string{"age"}))).IPW
	if !reflect.DeepEqual(r.CoxColumns, []string{"sexfemale", "age"}) || len(r.Rows) == 0 {
		t.Fatalf("columns %v, %d rows", r.CoxColumns, len(r.Rows))
	}
	a := make([]float64, len(r.Rows))
	var b []float64
	for k, row := range r.Rows {
		a[k] = 0.01 * float64(k+1)
		if row.D > 0 {
			b = append(b, 0)
		}
	}
	q := ipwPooledQuery(protocol.IPWPooledHessian, beta, []float64{0, 0}, []string{"age"})
	q.ID = "second"
	q.IPW.Site, q.IPW.CoxWeights = e.Site(), &protocol.IPWCoxWeights{A: a, B: b}
	mustOK(t, e.Handle(ctx, q))
	recs, err := store.AuditRecords(ctx)
	if err != nil {
		t.Fatal(err)
	}
	last := recs[len(recs)-1]
	digest := ipwWeightsDigest(q.IPW.CoxWeights)
	if !strings.Contains(last.Released, "ipw pooled_hessian ATE efron adjust=[age]") || !strings.Contains(last.Released, digest) {
		t.Errorf("audit record: released %q", last.Released)
	}
	other := q
	other.ID = "elsewhere"
	other.IPW = new(protocol.IPWRequest)
	*other.IPW = *q.IPW
	other.IPW.Site = "another-site"
	wantCode(t, e.Handle(ctx, other), protocol.CodeInvalid)
	capped := ipwPooledQuery(protocol.IPWPooledSums, beta, []float64{pol.MaxCoxLogHR + 1, 0}, []string{"age"})
	capped.ID = "capped"
	if r := e.Handle(ctx, capped); r.Error == nil || !strings.Contains(r.Error.Message, "max_cox_log_hr") {
		t.Errorf("a treatment β beyond the cap: %+v", r.Error)
	}
	q.ID = "fourth"
	if r := e.Handle(ctx, q); r.Error == nil || r.Error.Reason != protocol.ReasonDailyBudget {
		t.Errorf("the fourth round of a budget of 3: %+v", r.Error)
	}
	d := newDPLung(t, DefaultPolicy(), lungCSV)
	dq := ipwPooledQuery(protocol.IPWPooledSums, beta, []float64{0, 0}, []string{"age"})
	dq.Analyst = "dora"
	wantCode(t, handleJSON(t, d.e, sign(t, d.dora, dq)), protocol.CodeRefusedByPolicy)
}

// The one-patient column: adjusting for ECOG, whose level 3 holds one patient of lung (id 28,
// a man who died at 118 days). In two databases that differ only in whether he died, every
// pooled stage gets the same refusal word for word under the protective policy with the
// opt-in; with the model rules off (the control) phase 1's Σ_events w·x of the ecog3 column
// reads his outcome.
func TestAttackIPWPooledOnePatientColumn(t *testing.T) {
	ctx := context.Background()
	pol := DefaultPolicy()
	pol.AllowPooledCox = true
	pol.DailyQueryBudget = 0
	run := func(rulesOff bool) [2][]protocol.Reply {
		var out [2][]protocol.Reply
		for k, event := range []string{"1", "0"} {
			e, _ := ipwWorld(t, pol, "28", event)
			e.withoutModelRules, e.withoutWeightSpread = rulesOff, rulesOff
			for _, stage := range []protocol.IPWStage{protocol.IPWPooledSums, protocol.IPWPooledHessian, protocol.IPWPooledMeat} {
				q := ipwPooledQuery(stage, make([]float64, 7), make([]float64, 4), []string{"ecog"}, "ecog")
				q.ID = string(stage)
				switch stage {
				case protocol.IPWPooledHessian:
					q.IPW.Site, q.IPW.CoxWeights = e.Site(), &protocol.IPWCoxWeights{A: []float64{1}}
				case protocol.IPWPooledMeat:
					q.IPW.Site, q.IPW.CoxWeights = e.Site(), &protocol.IPWCoxWeights{H: []float64{1}}
				}
				r := e.Handle(ctx, q)
				r.QueryID = ""
				out[k] = append(out[k], r)
			}
		}
		return out
	}
	with := run(false)
	for s := range with[0] {
		if with[0][s].Error == nil || !reflect.DeepEqual(with[0][s], with[1][s]) {
			t.Errorf("stage %d: with the rules the two databases answer %+v and %+v", s, with[0][s].Error, with[1][s].Error)
		}
	}
	if !strings.Contains(with[0][0].Error.Message, "ecogecog3") {
		t.Errorf("refusal: %v", with[0][0].Error)
	}
	without := run(true)
	r0, r1 := without[0][0].IPW, without[1][0].IPW
	if r0 == nil || r1 == nil {
		t.Fatalf("control: without the rules phase 1 is refused (%v, %v)", without[0][0].Error, without[1][0].Error)
	}
	col := len(r0.CoxColumns) - 1 // ecogecog3
	if r0.CoxColumns[col] != "ecogecog3" || !(r0.EventXSum[col] > 0) || r1.EventXSum[col] != 0 {
		t.Errorf("control: Σ_events w·ecog3 is %v and %v; the attack did not read his outcome", r0.EventXSum, r1.EventXSum)
	}
}

// The dominant weight in the meat: a propensity model crafted to give the oldest woman (id 129,
// 77, censored at 551 days) alone an ATE weight of e^20, so that her squared residual is the
// robust meat and her weighted event the phase-1 sums. In two databases that differ only in
// whether she died, every pooled stage is refused word for word (the spread rule, from the
// covariates alone); with the rules off (the control) both phase 1 and the meat differ, and
// the meat's treatment entry is over 99% hers.
func TestAttackIPWPooledDominantWeight(t *testing.T) {
	ctx := context.Background()
	pol := DefaultPolicy()
	pol.AllowPooledCox = true
	pol.DailyQueryBudget = 0
	pol.OverlapGuard = false
	age := 77.0
	beta := []float64{10*age - 20, -10, 0, 0} // η = −20 for her, ≥ −10 for every younger woman
	cohort := orF(eq("sex", "male"), rng("age", nil, fp(age)))
	run := func(rulesOff bool) [2][]protocol.Reply {
		var out [2][]protocol.Reply
		for k, event := range []string{"0", "1"} {
			e, _ := ipwWorld(t, pol, "129", event)
			e.withoutWeightSpread = rulesOff
			e.withoutModelRules = rulesOff
			q := ipwPooledQuery(protocol.IPWPooledSums, beta, []float64{0, 0}, []string{"age"})
			q.Cohort = cohort
			r := e.Handle(ctx, q)
			r.QueryID = ""
			out[k] = append(out[k], r)
			w := &protocol.IPWCoxWeights{H: []float64{0}}
			if r.IPW != nil {
				rs, dw := []analysis.RiskSetRow{}, []float64{}
				for _, row := range r.IPW.Rows {
					rs = append(rs, analysis.RiskSetRow{Time: row.Time, D: row.D, R0: row.R0, R1: row.R1, E0: row.E0, E1: row.E1})
					dw = append(dw, row.DW)
				}
				ws, err := analysis.WeightedPooledMeatWeights([][]analysis.RiskSetRow{rs}, [][]float64{dw}, 2, []float64{0, 0}, analysis.Efron)
				if err != nil {
					t.Fatal(err)
				}
				w = &protocol.IPWCoxWeights{H: ws[0].H, AH: ws[0].A, HD: ws[0].HD, AD: ws[0].AD, XBarD: ws[0].XBarD}
			}
			m := ipwPooledQuery(protocol.IPWPooledMeat, beta, []float64{0, 0}, []string{"age"})
			m.ID, m.Cohort = "meat", cohort
			m.IPW.Site, m.IPW.CoxWeights = e.Site(), w
			r = e.Handle(ctx, m)
			r.QueryID = ""
			out[k] = append(out[k], r)
		}
		return out
	}
	with := run(false)
	for s := range with[0] {
		if with[0][s].Error == nil || !reflect.DeepEqual(with[0][s], with[1][s]) {
			t.Errorf("stage %d: with the rules the two databases answer %+v and %+v", s, with[0][s].Error, with[1][s].Error)
		}
	}
	for s := range with[0] {
		if e := with[0][s].Error; e == nil || e.Code != protocol.CodeRefusedByPolicy || !strings.Contains(e.Message, "single out fewer than min_cell") {
			t.Errorf("stage %d: refused with %+v, want the spread rule", s, e)
		}
	}
	without := run(true)
	for s := range without[0] {
		if without[0][s].IPW == nil || without[1][s].IPW == nil {
			t.Fatalf("control, stage %d: refused (%v, %v)", s, without[0][s].Error, without[1][s].Error)
		}
		if reflect.DeepEqual(without[0][s].IPW, without[1][s].IPW) {
			t.Errorf("control, stage %d: the two databases answer alike; the attack cannot show the rules matter", s)
		}
	}
	// Her residual alone, in the world where she died: at β = 0 her treatment entry is
	// w²(1 − x̄_D − H + Ā)², the others' weights e^{−10} at most of hers.
	m := without[1][1].IPW.Meat[0]
	if !(m > 1e15) {
		t.Errorf("control: the meat's treatment entry %g is not dominated by her weight e^20", m)
	}
}

// The one-event row: phase 1's sums over a row's events carry, when the row holds one death,
// that patient's covariates (E1/E0 at β = 0 is her age) next to her released time. Under the
// protective policy with the opt-in each arm's rows are strict (none or min_cell events, and
// censorings; varying the treatment's β would separate the arms' parts of a sum), so no row
// holds fewer than min_cell deaths. Under the exact policy (the control) rows of one death
// read ages.
func TestAttackIPWPooledOneEventRow(t *testing.T) {
	ctx := context.Background()
	run := func(pol protocol.Policy) (read, small int) {
		pol.DailyQueryBudget = 0
		e, _ := lungEngine(t, pol, nil)
		ls := studyOf(t, e)
		ages := map[float64]bool{}
		for _, a := range ls.vars["age"].Numeric {
			ages[a] = true
		}
		q := ipwPooledQuery(protocol.IPWPooledSums, []float64{0, 0, 0, 0}, []float64{0, 0}, []string{"age"})
		for _, row := range mustOK(t, e.Handle(ctx, q)).IPW.Rows {
			if row.D == 1 && ages[math.Round(row.E1[1]/row.E0*1e9)/1e9] {
				read++
			}
			if row.D > 0 && row.D < pol.MinCell {
				small++
			}
		}
		return read, small
	}
	if read, _ := run(ExactPolicy()); read < 10 {
		t.Fatalf("exact policy: %d ages read from rows of one death; the control cannot show the rule matters", read)
	}
	pol := DefaultPolicy()
	pol.AllowPooledCox = true
	pol.BinDays = 0 // exact times: the attacker's best case
	if read, small := run(pol); read != 0 || small != 0 {
		t.Errorf("protective policy: %d ages read, %d rows of fewer than min_cell deaths", read, small)
	}
}
