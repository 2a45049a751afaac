package node

import (
	"context"
	"fmt"
	"math"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/oncofed/oncofed/protocol"
)

// Fine–Gray rounds at a node (finegray.go) and the attacks on them.

// fgStudy imports 100 patients: exits 10..1000 days; causes relapse, death and censoring in
// turn; ages 30..129 capped at the declared 120; sex alternating. Patient 0 (a man, aged 40:
// the only man aged 40 when alone is set) is the target; targetCause is his status.
func fgStudy(t *testing.T, pol protocol.Policy, targetCause int, alone bool) *Engine {
	e, _ := fgStudyStore(t, pol, targetCause, alone)
	return e
}

// fgStudyStore is fgStudy with its store (for the audit log).
func fgStudyStore(t *testing.T, pol protocol.Policy, targetCause int, alone bool) (*Engine, *SQLiteStore) {
	t.Helper()
	var b strings.Builder
	b.WriteString("pid,t,st,age,sex\n")
	for i := range 100 {
		st := []int{1, 2, 0}[i%3]
		sex := []string{"F", "M"}[i%2]
		age := 30 + i%60
		if i == 0 {
			st, sex, age = targetCause, "M", 40
		} else if alone {
			sex = "F" // every other patient a woman: the target's sex column holds him alone
		}
		fmt.Fprintf(&b, "p%d,%d,%d,%d,%s\n", i, 10*(i+1), st, age, sex)
	}
	spec := ImportSpec{Study: "fg", IDColumn: "pid", DataCut: "2026-01-01",
		Endpoints:  []EndpointSpec{{Name: "E", TimeColumn: "t", EventColumn: "st"}},
		Causes:     map[string][]string{"E": {"relapse", "death"}},
		Dictionary: Dictionary{Version: "1", Entries: []DictionaryEntry{{Name: "sex", Categories: []string{"F", "M"}}, {Name: "age", Type: protocol.Numeric, Min: fp(18), Max: fp(120)}}}}
	store := openStore(t, filepath.Join(t.TempDir(), "fg.db"))
	if _, err := ImportCSV(context.Background(), store, spec, strings.NewReader(b.String())); err != nil {
		t.Fatal(err)
	}
	e, err := NewEngine(context.Background(), store, Config{InsecureOpen: true, Policy: &pol})
	if err != nil {
		t.Fatal(err)
	}
	return e, store
}

func fgQuery(form protocol.CoxForm, beta []float64, cohort *protocol.Filter, covariates ...string) protocol.Query {
	q := protocol.Query{Version: protocol.Version, Kind: protocol.KindFineGray, ID: fmt.Sprintf("fg-%s-%v", form, beta), Analyst: "mallory",
		Study: "fg", Endpoint: "E", Cohort: cohort,
		Cox: &protocol.CoxRequest{Form: form, Ties: "breslow", Covariates: covariates, Beta: beta, Cause: "relapse"}}
	return q
}

// Protective rows: every released time of a Fine–Gray round holds zero or min_cell events of
// the cause, zero or min_cell competing events and zero or min_cell censorings; the counts add
// up to the cohort; the site refuses without the opt-in, for an unknown cause, a delayed-entry
// endpoint, a request addressed to another site and weights of the wrong length.
func TestFineGrayRoundRules(t *testing.T) {
	ctx := context.Background()
	pol := DefaultPolicy()
	pol.AllowPooledCox = true
	e := fgStudy(t, pol, 1, false)
	c := mustOK(t, e.Handle(ctx, fgQuery(protocol.CoxPooledSums, []float64{0}, nil, "age"))).Cox
	n, d := 0, 0
	for _, r := range c.FineGrayRows {
		for _, k := range []int{r.D, r.NC, r.N - r.D - r.NC} {
			if k != 0 && k < pol.MinCell {
				t.Errorf("time %v: a kind of %d patients (%+v)", r.Time, k, r)
			}
		}
		n += r.N
		d += r.D
	}
	if n != 100 || d != c.Events || c.N != 100 || len(c.FineGrayRows) < 3 {
		t.Errorf("rows add up to %d patients, %d events (reply %d, %d; %d rows)", n, d, c.N, c.Events, len(c.FineGrayRows))
	}
	q := fgQuery(protocol.CoxPooledHessian, []float64{0}, nil, "age")
	q.Cox.Site, q.Cox.Weights = e.Site(), &protocol.CoxWeights{A: []float64{1}, B: nil}
	wantCode(t, e.Handle(ctx, q), protocol.CodeInvalid)
	q.Cox.Site = "elsewhere"
	wantCode(t, e.Handle(ctx, q), protocol.CodeInvalid)
	q = fgQuery(protocol.CoxPooledSums, []float64{0}, nil, "age")
	q.Cox.Cause = "progression"
	wantCode(t, e.Handle(ctx, q), protocol.CodeNotFound)

	closed := fgStudy(t, DefaultPolicy(), 1, false)
	r := closed.Handle(ctx, fgQuery(protocol.CoxPooledSums, []float64{0}, nil, "age"))
	wantCode(t, r, protocol.CodeRefusedByPolicy)
	if !strings.Contains(r.Error.Message, "allow_pooled_cox") {
		t.Errorf("refusal without the opt-in: %v", r.Error)
	}
	// The β cap: |β|·(120 − 18) ≤ 5.
	wantCode(t, e.Handle(ctx, fgQuery(protocol.CoxPooledSums, []float64{0.06}, nil, "age")), protocol.CodeRefusedByPolicy)
}

// The one-patient design column: the cohort "every woman ∪ {the target}" with covariate sex.
// With the model rules, both databases — the target relapsed, or was censored — get the same
// refusal word for word, at every form; without them (the control) the phase-1 reply's Σx
// over the events of the cause reads the target's outcome.
func TestAttackFineGrayOneManColumn(t *testing.T) {
	ctx := context.Background()
	pol := DefaultPolicy()
	pol.AllowPooledCox = true
	run := func(withoutRules bool) [2][]protocol.Reply {
		var out [2][]protocol.Reply
		for k, cause := range []int{1, 0} {
			e := fgStudy(t, pol, cause, true)
			e.withoutModelRules = withoutRules
			for _, form := range []protocol.CoxForm{protocol.CoxPooledSums, protocol.CoxPooledHessian, protocol.CoxMeat} {
				q := fgQuery(form, []float64{0}, nil, "sex")
				if form != protocol.CoxPooledSums {
					q.Cox.Site, q.Cox.Weights = e.Site(), &protocol.CoxWeights{A: make([]float64, 1)}
				}
				r := e.Handle(ctx, q)
				r.QueryID = ""
				out[k] = append(out[k], r)
			}
		}
		return out
	}
	with := run(false)
	for f := range with[0] {
		if with[0][f].Error == nil || !reflect.DeepEqual(with[0][f], with[1][f]) {
			t.Errorf("form %d: with the rules the two databases answer %+v and %+v", f, with[0][f].Error, with[1][f].Error)
		}
	}
	if !strings.Contains(with[0][0].Error.Message, "design column sexM") {
		t.Errorf("refusal: %v", with[0][0].Error)
	}
	without := run(true)
	r0, r1 := without[0][0].Cox, without[1][0].Cox
	if r0 == nil || r1 == nil {
		t.Fatalf("control: without the rules the round is refused (%v, %v)", without[0][0].Error, without[1][0].Error)
	}
	if r0.EventXSum[0] != 1 || r1.EventXSum[0] != 0 {
		t.Errorf("control: Σ sexM over the relapses is %v and %v; the attack did not read the target's outcome", r0.EventXSum, r1.EventXSum)
	}
}

// Crafted weights (a forged Ĝ): phase-2 weights A = 0 and B a spike at one released time make
// the reply (and the variance round's, with the same B) Σ age² over that time's competing events — a weight no honest Ĝ gives (B follows
// from Ĝ(t−)/Ĝ(T−) ≤ 1 and the pooled risk sets), and the node cannot tell, having neither. So
// the rows carry the rule: under the opted-in protective policy every such cell holds zero or
// min_cell patients and no age is read; under the exact policy (the control) each cell of one
// patient gives that patient's age exactly.
func TestAttackFineGrayCraftedWeights(t *testing.T) {
	ctx := context.Background()
	run := func(pol protocol.Policy) (isolated, cells, smallest int) {
		e := fgStudy(t, pol, 2, false)
		beta := []float64{0}
		c := mustOK(t, e.Handle(ctx, fgQuery(protocol.CoxPooledSums, beta, nil, "age"))).Cox
		var comp []int // rows with competing events
		for k, r := range c.FineGrayRows {
			if r.N-r.D-r.NC > 0 {
				comp = append(comp, k)
			}
		}
		smallest = math.MaxInt
		for j, k := range comp {
			q := fgQuery(protocol.CoxPooledHessian, beta, nil, "age")
			b := make([]float64, len(comp))
			b[j] = 1
			q.Cox.Site, q.Cox.Weights = e.Site(), &protocol.CoxWeights{A: make([]float64, len(c.FineGrayRows)), B: b}
			q.ID = fmt.Sprintf("spike-%d", j)
			m := mustOK(t, e.Handle(ctx, q)).Cox.SecondMoment[0]
			// The variance round with the same forged B (every other weight 0), minus the same
			// round with B = 0 (the events' own Σ age²), reads the same cell: each competing
			// patient's η + ψ is −w·age there.
			nt, nd, ne := len(c.FineGrayRows), 0, 0
			for _, r := range c.FineGrayRows {
				nd, ne = nd+min(r.D, 1), ne+min(r.NC, 1)
			}
			meat := func(b []float64, id string) float64 {
				mq := fgQuery(protocol.CoxMeat, beta, nil, "age")
				mq.ID = id
				mq.Cox.Site, mq.Cox.Weights = e.Site(), &protocol.CoxWeights{A: make([]float64, nt), B: b, A1: make([]float64, nt),
					B1: make([]float64, len(comp)), XBar: make([]float64, nd), Psi: make([]float64, nt), QPi: make([]float64, ne)}
				return mustOK(t, e.Handle(ctx, mq)).Cox.Meat[0]
			}
			if d := meat(b, fmt.Sprintf("meat-%d", j)) - meat(make([]float64, len(comp)), fmt.Sprintf("meat0-%d", j)); math.Abs(d-m) > 1e-9*m {
				t.Errorf("cell %d: the variance rounds' difference reads %v, phase 2 %v", j, d, m)
			}
			row := c.FineGrayRows[k]
			n := row.N - row.D - row.NC
			smallest = min(smallest, n)
			cells++
			if n == 1 { // β = 0: C1 is the one patient's age
				if age := row.C1[0]; math.Abs(m-age*age) < 1e-9*age*age {
					isolated++
				}
			}
		}
		return isolated, cells, smallest
	}
	isolated, cells, _ := run(ExactPolicy())
	if isolated < 20 {
		t.Fatalf("exact policy: %d of %d competing cells read a patient's age; the attack did not reproduce", isolated, cells)
	}
	pol := DefaultPolicy()
	pol.AllowPooledCox = true
	pol.BinDays = 0 // exact times: the attacker's best case
	isolated, cells, smallest := run(pol)
	if isolated != 0 || smallest < pol.MinCell || cells == 0 {
		t.Errorf("protective policy: %d ages read over %d cells; the smallest holds %d patients (min_cell %d)", isolated, cells, smallest, pol.MinCell)
	}
}

// Every round is a release of its own: charged to the daily query budget, recorded in the
// audit log with the weights' digest instead of the weights (as the pooled Cox form's phase 2),
// and refused to a dp analyst before any data is read.
func TestFineGrayBudgetAuditRole(t *testing.T) {
	ctx := context.Background()
	pol := DefaultPolicy()
	pol.AllowPooledCox = true
	pol.DailyQueryBudget = 3
	e, store := fgStudyStore(t, pol, 1, false)
	c := mustOK(t, e.Handle(ctx, fgQuery(protocol.CoxPooledSums, []float64{0}, nil, "age"))).Cox
	nc := 0
	for _, r := range c.FineGrayRows {
		if r.N-r.D-r.NC > 0 {
			nc++
		}
	}
	q := fgQuery(protocol.CoxPooledHessian, []float64{0}, nil, "age")
	q.Cox.Site, q.Cox.Weights = e.Site(), &protocol.CoxWeights{A: make([]float64, len(c.FineGrayRows)), B: make([]float64, nc)}
	for k := range q.Cox.Weights.A {
		q.Cox.Weights.A[k] = 0.5
	}
	mustOK(t, e.Handle(ctx, q))
	recs, err := store.AuditRecords(ctx)
	if err != nil {
		t.Fatal(err)
	}
	last := recs[len(recs)-1]
	digest := weightsDigest(q.Cox.Weights)
	if !strings.Contains(last.Query, `"weights_sha256":"`+digest) || strings.Contains(last.Query, `"a":`) ||
		!strings.Contains(last.Released, "finegray pooled_hessian cause=relapse") || !strings.Contains(last.Released, digest) {
		t.Errorf("audit record: query %q, released %q", last.Query, last.Released)
	}
	q.ID = "third"
	mustOK(t, e.Handle(ctx, q))
	q.ID = "fourth"
	r := e.Handle(ctx, q)
	if r.Error == nil || r.Error.Reason != protocol.ReasonDailyBudget {
		t.Errorf("the fourth round of a budget of 3: %+v", r.Error)
	}

	l := newDPLung(t, DefaultPolicy(), lungCSV)
	dq := query(protocol.KindFineGray)
	dq.Endpoint = "OS"
	dq.Cox = &protocol.CoxRequest{Form: protocol.CoxPooledSums, Ties: "breslow", Covariates: []string{"age"}, Beta: []float64{0}, Cause: "death"}
	r = handleJSON(t, l.e, sign(t, l.dora, dq))
	wantCode(t, r, protocol.CodeRefusedByPolicy)
	if !strings.Contains(r.Error.Message, "dp role") {
		t.Errorf("dp analyst: %v", r.Error)
	}
}

// A delayed-entry endpoint is refused, from its declaration, by the kinds whose risk sets do not
// take entry times: Fine–Gray (as crr) and the propensity-weighted comparison.
func TestDelayedEntryRefusedByFineGrayAndIPW(t *testing.T) {
	e := attackStudy(t, func(int) float64 { return 0 }, 1) // declares an entry column, none used
	q := fgQuery(protocol.CoxPooledSums, []float64{0}, nil, "age")
	q.Study = "cr"
	r := e.Handle(context.Background(), q)
	wantCode(t, r, protocol.CodeInvalid)
	if !strings.Contains(r.Error.Message, "delayed entry") {
		t.Errorf("finegray: %v", r.Error)
	}
	iq := crQuery(protocol.KindIPW, "mallory", nil, "")
	iq.Endpoint = "E"
	iq.IPW = &protocol.IPWRequest{Stage: protocol.IPWPropensity, Treatment: "sex", Treated: "M", Confounders: []string{"age"}}
	r = e.Handle(context.Background(), iq)
	wantCode(t, r, protocol.CodeInvalid)
	if !strings.Contains(r.Error.Message, "delayed entry") {
		t.Errorf("ipw: %v", r.Error)
	}
}
