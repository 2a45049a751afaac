package node

import (
	"context"
	"errors"
	"fmt"
	"math"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/oncofed/oncofed/analysis"
	"github.com/oncofed/oncofed/protocol"
)

// designOf builds the design of rows of one categorical covariate "grade" (levels A, B, C; A
// the reference) and one numeric covariate "dose", as BuildDesign would: columns gradeB,
// gradeC, dose.
func designOf(grades []string, doses []float64) (x []float64, p int, names []string, blocks []designBlock) {
	for i, g := range grades {
		x = append(x, b2f(g == "B"), b2f(g == "C"), doses[i])
	}
	return x, 3, []string{"gradeB", "gradeC", "dose"},
		[]designBlock{{Covariate: "grade", Reference: "A", Columns: 2}, {Covariate: "dose", Numeric: true, Columns: 1}}
}

func b2f(b bool) float64 {
	if b {
		return 1
	}
	return 0
}

// group appends k patients of grade g and dose d, the first ev of them with an event.
func group(grades *[]string, doses *[]float64, events *[]bool, g string, d float64, k, ev int) {
	for i := 0; i < k; i++ {
		*grades = append(*grades, g)
		*doses = append(*doses, d)
		*events = append(*events, i < ev)
	}
}

// The design-column rule: each indicator level, the reference level, and a numeric column's
// patients off its most common value need min_cell patients, min_cell events and one patient
// without an event; the refusal names the column and no count.
func TestDesignColumnRule(t *testing.T) {
	type grp struct {
		grade string
		dose  float64
		k, ev int
	}
	base := []grp{{"A", 0, 12, 8}, {"B", 0, 12, 8}, {"C", 0, 12, 8}, {"A", 2, 6, 5}, {"B", 3, 6, 5}}
	for _, tc := range []struct {
		name    string
		groups  []grp
		minCell int
		refuse  string // the column the refusal names; "" = answered
	}{
		{"every column large enough", base, 5, ""},
		{"non-reference level of 4 patients", []grp{{"A", 0, 20, 10}, {"B", 0, 20, 10}, {"C", 0, 4, 2}, {"A", 1, 10, 5}}, 5, "gradeC"},
		{"reference level of 4 patients", []grp{{"A", 0, 4, 2}, {"B", 0, 20, 10}, {"C", 0, 20, 10}, {"B", 1, 10, 5}}, 5, "grade (the reference level A)"},
		{"level with 4 events", []grp{{"A", 0, 20, 10}, {"B", 0, 20, 10}, {"C", 0, 30, 4}, {"A", 1, 10, 5}}, 5, "gradeC"},
		{"level of 5, all events (x plus 4 others)", []grp{{"A", 0, 20, 10}, {"B", 0, 20, 10}, {"C", 0, 5, 5}, {"A", 1, 10, 5}}, 5, "gradeC"},
		{"level of 6, 5 events", []grp{{"A", 0, 20, 10}, {"B", 0, 20, 10}, {"C", 0, 6, 5}, {"A", 1, 10, 5}}, 5, ""},
		{"level of 30, all events", []grp{{"A", 0, 20, 10}, {"B", 0, 20, 10}, {"C", 0, 30, 30}, {"A", 1, 10, 5}}, 5, "gradeC"},
		{"one patient off the numeric mode", []grp{{"A", 0, 20, 10}, {"B", 0, 20, 10}, {"C", 0, 20, 10}, {"C", 7, 1, 1}}, 5, "dose (the patients off its most common value)"},
		{"off the mode: 6 patients, 5 events", []grp{{"A", 0, 20, 10}, {"B", 0, 20, 10}, {"C", 0, 20, 10}, {"C", 7, 6, 5}}, 5, ""},
		{"off the mode: 6 patients, 4 events", []grp{{"A", 0, 20, 10}, {"B", 0, 20, 10}, {"C", 0, 20, 10}, {"C", 7, 6, 4}}, 5, "dose (the patients off its most common value)"},
		// Two most common values (0 and 7, 30 each): off 0 are the 7s, fine; off 7 are the 0s,
		// whose events are all there are of them: refused, whichever mode a site would pick.
		{"tied modes", []grp{{"A", 0, 10, 10}, {"B", 0, 10, 10}, {"C", 0, 10, 10}, {"A", 7, 10, 5}, {"B", 7, 10, 5}, {"C", 7, 10, 5}}, 5, "dose (the patients off its most common value)"},
		{"min_cell 0 checks nothing", []grp{{"A", 0, 1, 1}, {"B", 0, 1, 0}, {"C", 1, 1, 1}}, 0, ""},
	} {
		var grades []string
		var doses []float64
		var events []bool
		for _, g := range tc.groups {
			group(&grades, &doses, &events, g.grade, g.dose, g.k, g.ev)
		}
		x, p, names, blocks := designOf(grades, doses)
		err := checkDesignColumns(x, p, names, blocks, events, tc.minCell, "")
		if tc.refuse == "" {
			if err != nil {
				t.Errorf("%s: %v", tc.name, err)
			}
			continue
		}
		var pe *protocol.Error
		if !errors.As(err, &pe) || pe.Code != protocol.CodeRefusedByPolicy {
			t.Errorf("%s: %v, want a refusal naming %s", tc.name, err, tc.refuse)
			continue
		}
		if !strings.Contains(pe.Message, "design column "+tc.refuse+" ") {
			t.Errorf("%s: %q does not name %s", tc.name, pe.Message, tc.refuse)
		}
		// No count of the cohort in the message: its only digits are min_cell's.
		if strings.ContainsAny(strings.ReplaceAll(pe.Message, "5", ""), "0123456789") {
			t.Errorf("%s: %q holds a number other than min_cell", tc.name, pe.Message)
		}
	}
}

// capSite is a 40-patient site: sex (20 each), age (declared 18–100), bmi (no declared
// range), grp (g1: the first 6 patients, g2 the others), events in two of three patients.
func capSite(t *testing.T, policy protocol.Policy) *Engine {
	t.Helper()
	var b strings.Builder
	b.WriteString("id,sex,age,bmi,grp,time,event\n")
	for i := 0; i < 40; i++ {
		grp := "g2"
		if i < 6 {
			grp = "g1"
		}
		fmt.Fprintf(&b, "%d,%s,%d,%g,%s,%d,%d\n", i+1, []string{"female", "male"}[i%2], 40+i, 20+float64(i%9), grp, 30+17*i%400, b2i(i%3 != 0))
	}
	store := importFile(t, filepath.Join(t.TempDir(), "cap.db"), writeFile(t, t.TempDir(), "cap.csv", b.String()),
		ImportSpec{Study: "cap", IDColumn: "id", DataCut: "2026-01-01", Endpoints: []EndpointSpec{{Name: "OS", TimeColumn: "time", EventColumn: "event"}},
			Dictionary: declare("sex=female,male", "grp=g1,g2")})
	e, err := NewEngine(context.Background(), store, Config{InsecureOpen: true, Policy: &policy})
	if err != nil {
		t.Fatal(err)
	}
	declareRanges(t, e, "cap", map[string][2]float64{"age": {18, 100}})
	return e
}

func b2i(b bool) int {
	if b {
		return 1
	}
	return 0
}

func capQuery(cov string, beta float64) protocol.Query {
	return protocol.Query{Version: protocol.Version, Kind: protocol.KindCox, ID: "q", Analyst: "alice", Study: "cap", Endpoint: "OS",
		Cox: &protocol.CoxRequest{Form: protocol.CoxStratified, Ties: "efron", Covariates: []string{cov}, Beta: []float64{beta}}}
}

// The β cap: |β|·w ≤ max_cox_log_hr, w = 1 for an indicator and the declared range's width for
// a numeric covariate; a numeric covariate without a declared range is refused; exact policies
// have no cap; the reply states the limit.
func TestCoxBetaCap(t *testing.T) {
	ctx := context.Background()
	pol := DefaultPolicy()
	pol.DailyQueryBudget = 0
	pol.OverlapGuard = false
	e := capSite(t, pol)
	ageLimit := 5.0 / 82
	for _, tc := range []struct {
		cov   string
		beta  float64
		ok    bool
		limit float64
	}{
		{"sex", 0, true, 5},
		{"sex", 5, true, 5},
		{"sex", -5, true, 5},
		{"sex", 5.0001, false, 5},
		{"sex", -60, false, 5},
		{"age", 0.99 * ageLimit, true, ageLimit},
		{"age", -0.99 * ageLimit, true, ageLimit},
		{"age", 1.01 * ageLimit, false, ageLimit},
		{"age", 1, false, ageLimit},
	} {
		r := e.Handle(ctx, capQuery(tc.cov, tc.beta))
		if tc.ok {
			c := mustOK(t, r).Cox
			if len(c.BetaLimit) != 1 || c.BetaLimit[0] != tc.limit {
				t.Errorf("%s β = %g: beta_limit %v, want [%g]", tc.cov, tc.beta, c.BetaLimit, tc.limit)
			}
			continue
		}
		wantCode(t, r, protocol.CodeRefusedByPolicy)
		if !strings.Contains(r.Error.Message, "max_cox_log_hr=5") || !strings.Contains(r.Error.Message, "for "+map[string]string{"sex": "sexmale", "age": "age"}[tc.cov]) {
			t.Errorf("%s β = %g: %q; want the cap's refusal naming the column", tc.cov, tc.beta, r.Error.Message)
		}
	}
	// A numeric covariate without a declared range: refused at any β, saying to declare it.
	r := e.Handle(ctx, capQuery("bmi", 0))
	wantCode(t, r, protocol.CodeRefusedByPolicy)
	if !strings.Contains(r.Error.Message, "declare its range") || !strings.Contains(r.Error.Message, "bmi") {
		t.Errorf("bmi without a range: %q", r.Error.Message)
	}
	// A site's own cap.
	tight := pol
	tight.MaxCoxLogHR = 2
	r = capSite(t, tight).Handle(ctx, capQuery("sex", 3))
	wantCode(t, r, protocol.CodeRefusedByPolicy)
	// Exact policies: no cap, no range needed, no limit stated.
	exact := capSite(t, ExactPolicy())
	for _, q := range []protocol.Query{capQuery("sex", 60), capQuery("bmi", 0), capQuery("age", 1)} {
		if c := mustOK(t, exact.Handle(ctx, q)).Cox; c.BetaLimit != nil {
			t.Errorf("exact policy: beta_limit %v", c.BetaLimit)
		}
	}
	// A protective policy written in Go without the field gets the default cap, not none.
	lit := capSite(t, protocol.Policy{BinDays: 7, MinCell: 5})
	if lit.Policy().MaxCoxLogHR != DefaultMaxCoxLogHR {
		t.Errorf("policy literal: max_cox_log_hr %g", lit.Policy().MaxCoxLogHR)
	}
	wantCode(t, lit.Handle(ctx, capQuery("sex", 6)), protocol.CodeRefusedByPolicy)
}

func TestParsePolicyMaxCoxLogHR(t *testing.T) {
	for doc, want := range map[string]float64{
		`{}`:                     DefaultMaxCoxLogHR,
		`{"max_cox_log_hr":3.5}`: 3.5,
		`{"min_cohort":0,"min_cell":0,"bin_days":0,"overlap_guard":false}`:                       0,
		`{"min_cohort":0,"min_cell":0,"bin_days":0,"overlap_guard":false,"max_cox_log_hr":3}`:    3,
		`{"min_cohort":0,"min_cell":0,"bin_days":30,"overlap_guard":false,"max_cox_log_hr":2.5}`: 2.5,
	} {
		p, err := ParsePolicy([]byte(doc))
		if err != nil || p.MaxCoxLogHR != want {
			t.Errorf("%s: max_cox_log_hr %g (%v), want %g", doc, p.MaxCoxLogHR, err, want)
		}
	}
	for _, doc := range []string{`{"max_cox_log_hr":-1}`, `{"max_cox_log_hr":0}`, `{"bin_days":30,"max_cox_log_hr":0}`, `{"max_cox_log_hr":"5"}`, `{"max_cox_log_hr":1e999}`} {
		if p, err := ParsePolicy([]byte(doc)); err == nil {
			t.Errorf("%s accepted: %+v", doc, p)
		}
	}
}

// coxFitThrough fits a stratified Cox model on one engine as the app does: the β limits of
// the first reply go to FitCox. It returns the fit, the number of rounds, the largest |β_j|
// over its limit that was asked for, and the first refusal.
func coxFitThrough(e *Engine, analyst string, cov []string) (fit *analysis.CoxFit, rounds int, worst float64, err error) {
	ctx := context.Background()
	eval := func(beta []float64) (analysis.CoxContribution, error) {
		q := query(protocol.KindCox)
		q.Analyst = analyst
		q.Endpoint = "OS"
		q.Cox = &protocol.CoxRequest{Form: protocol.CoxStratified, Ties: "efron", Covariates: cov, Beta: beta}
		r := e.Handle(ctx, q)
		if r.Error != nil {
			return analysis.CoxContribution{}, r.Error
		}
		rounds++
		for j, b := range beta {
			worst = math.Max(worst, math.Abs(b)/r.Cox.BetaLimit[j])
		}
		return analysis.CoxContribution{LogLik: r.Cox.LogLik, Gradient: r.Cox.Gradient, Hessian: r.Cox.Hessian,
			N: r.Cox.N, Events: r.Cox.Events, CoefBound: r.Cox.BetaLimit}, nil
	}
	// One design column per covariate: numeric ones and sex (two levels).
	fit, err = analysis.FitCox(eval, len(cov), analysis.CoxOptions{})
	return fit, rounds, worst, err
}

// The NCCTG lung reference models under the default policy, with the ranges lung's dictionary
// declares: no Newton–Raphson iterate comes near the cap (measured: at most 0.36 of it,
// Karnofsky's first step; 3 to 5 rounds per fit) and every fit converges.
// (TestFitCoxBoundNotReached shows that a bound never reached changes no bit of a fit.)
func TestCoxFitsStayWithinCap(t *testing.T) {
	pol := DefaultPolicy()
	pol.DailyQueryBudget = 0
	e, _ := lungEngine(t, pol, nil)
	for _, cov := range [][]string{{"sex"}, {"age"}, {"sex", "age"}, {"karno"}, {"wt.loss"}, {"sex", "age", "karno"}, {"age", "sex", "karno", "wt.loss"}} {
		// One analyst per model: the overlap guard would refuse complete cases that differ
		// by a few patients with a missing covariate.
		fit, rounds, worst, err := coxFitThrough(e, strings.Join(cov, "+"), cov)
		if err != nil || !fit.Converged {
			t.Fatalf("%v: %v", cov, err)
		}
		if worst > 0.7 {
			t.Errorf("%v: an iterate reached %.2f of the cap", cov, worst)
		}
		t.Logf("%v: %d rounds, coef %.4g, largest |β|/limit asked %.3f", cov, rounds, fit.Coef, worst)
	}
}

// Every Newton–Raphson round is a budgeted query: a fit of k rounds uses k of the analyst's
// daily budget, and a fit that runs out of budget is refused mid-way, saying so.
func TestCoxRoundsChargedToBudget(t *testing.T) {
	clock := &fixedClock{time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC)}
	pol := DefaultPolicy()
	e, store := lungEngine(t, pol, clock)
	fit, rounds, _, err := coxFitThrough(e, "alice", []string{"sex", "age"})
	if err != nil || fit == nil {
		t.Fatal(err)
	}
	recs, err := store.AuditRecords(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	budgeted := 0
	for _, r := range recs {
		if r.Analyst == "alice" && r.Budgeted && r.Kind == string(protocol.KindCox) {
			budgeted++
		}
	}
	if budgeted != rounds || rounds != fit.Iterations+1 {
		t.Errorf("a fit of %d rounds (%d iterations) charged %d queries", rounds, fit.Iterations, budgeted)
	}

	pol.DailyQueryBudget = rounds - 2
	short, _ := lungEngine(t, pol, clock)
	fit, done, _, err := coxFitThrough(short, "bob", []string{"sex", "age"})
	if fit != nil || done != rounds-2 {
		t.Fatalf("budget %d: fit %v after %d rounds", rounds-2, fit, done)
	}
	if err == nil || !strings.Contains(err.Error(), fmt.Sprintf("daily query budget of %d queries used up", rounds-2)) || !strings.Contains(err.Error(), fmt.Sprintf("iteration %d", rounds-2)) {
		t.Errorf("budget %d: %v; want the budget's refusal at iteration %d", rounds-2, err, rounds-2)
	}
}

// A within-site stratum is a cohort of its own for the design-column rule: sex holds 20
// patients per level over the site, but only 3 in stratum g1 of grp.
func TestDesignColumnRuleWithinStrata(t *testing.T) {
	ctx := context.Background()
	pol := DefaultPolicy()
	pol.DailyQueryBudget, pol.OverlapGuard = 0, false
	e := capSite(t, pol)
	q := capQuery("sex", 0)
	mustOK(t, e.Handle(ctx, q))
	q.Cox.Strata = "grp"
	r := e.Handle(ctx, q)
	wantCode(t, r, protocol.CodeRefusedByPolicy)
	if !strings.Contains(r.Error.Message, "design column sexmale holds too few patients in this cohort in stratum g1 of grp") {
		t.Errorf("stratified by grp: %q", r.Error.Message)
	}
	// The exact policy answers it.
	mustOK(t, capSite(t, ExactPolicy()).Handle(ctx, q))
}
