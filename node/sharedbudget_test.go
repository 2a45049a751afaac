package node

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/oncofed/oncofed/protocol"
)

// Feasibility counts and exact queries draw on one daily budget (daily_query_budget): a
// feasibility count costs feasibility_cost (0.25) of a query. With a budget of 3: 2 queries
// and 4 counts use it up exactly; the next count and the next query are refused with reason
// daily_budget, saying what was spent on what. With 2 queries and 3 counts (2.75) a query no
// longer fits, and its refusal costs nothing: a fourth count still fits. The next UTC day
// starts afresh.
func TestSharedDailyBudget(t *testing.T) {
	ctx := context.Background()
	clock := &fixedClock{t: time.Date(2026, 3, 1, 22, 0, 0, 0, time.UTC)}
	pol := DefaultPolicy()
	pol.DailyQueryBudget = 3
	if pol.FeasibilityCost != 0.25 || pol.FeasibilityBudget != 0 {
		t.Fatalf("default feasibility cost %v, extra cap %d; want 0.25 and none", pol.FeasibilityCost, pol.FeasibilityBudget)
	}
	e, _ := lungEngine(t, pol, clock)
	f := feasQuery("alice", eq("sex", "female"))
	mustOK(t, e.Handle(ctx, query(protocol.KindCount)))
	mustOK(t, e.Handle(ctx, query(protocol.KindCount)))
	for i := 0; i < 4; i++ {
		feasAnswer(t, e, f)
	}
	r := handleJSON(t, e, f)
	wantReason(t, r, protocol.ReasonDailyBudget, 3)
	if !strings.Contains(r.Error.Message, "2 queries and 4 feasibility counts (at 0.25 of a query each) today make 3") {
		t.Errorf("refusal message %q does not say what was spent on what", r.Error.Message)
	}
	wantReason(t, handleJSON(t, e, query(protocol.KindCount)), protocol.ReasonDailyBudget, 3)

	// Another analyst: 2 queries and 3 counts leave 0.25, enough for a count but not a query.
	bob := query(protocol.KindCount)
	bob.Analyst = "bob"
	fb := feasQuery("bob", eq("sex", "female"))
	mustOK(t, e.Handle(ctx, bob))
	mustOK(t, e.Handle(ctx, bob))
	for i := 0; i < 3; i++ {
		feasAnswer(t, e, fb)
	}
	r = handleJSON(t, e, bob)
	wantReason(t, r, protocol.ReasonDailyBudget, 3)
	if !strings.Contains(r.Error.Message, "make 2.75; a query costs 1") {
		t.Errorf("refusal message %q", r.Error.Message)
	}

	// The refused query cost nothing: the last quarter still pays for a count, then nothing.
	feasAnswer(t, e, fb)
	wantReason(t, handleJSON(t, e, fb), protocol.ReasonDailyBudget, 3)

	clock.t = clock.t.Add(3 * time.Hour) // next UTC day
	mustOK(t, e.Handle(ctx, query(protocol.KindCount)))
	feasAnswer(t, e, f)
}

// 2,000 feasibility counts take the default budget of 500 queries: the 2,001st is refused.
// A policy without a daily budget (0) charges nothing.
func TestSharedBudgetDefaultCounts(t *testing.T) {
	pol := DefaultPolicy()
	pol.DailyQueryBudget = 20 // 80 counts; the default 500 / 0.25 the same way, 25 times slower
	e, _ := lungEngine(t, pol, nil)
	f := feasQuery("alice", eq("sex", "female"))
	for i := 0; i < 80; i++ {
		feasAnswer(t, e, f)
	}
	wantReason(t, handleJSON(t, e, f), protocol.ReasonDailyBudget, 20)

	pol.DailyQueryBudget = 0
	e, _ = lungEngine(t, pol, nil)
	for i := 0; i < 100; i++ {
		feasAnswer(t, e, f)
	}
}

// Attack (the shared budget's last units, at the same instant, on two replicas of one
// database): each round a fresh analyst with a budget of 2 sends 16 feasibility counts at once
// (8 to each replica): exactly 8 are answered. Then 8 counts and 8 exact queries at once: what
// is answered never costs more than 2 (queries + 0.25 × counts).
func TestAttackSharedBudgetRace(t *testing.T) {
	ctx := context.Background()
	pol := DefaultPolicy()
	pol.DailyQueryBudget = 2
	clock := &fixedClock{time.Date(2026, 3, 2, 12, 0, 0, 0, time.UTC)}
	dbPath, engines := twoReplicas(t, pol, clock)
	const rounds, perReplica = 20, 8
	total, totalAnswered := 0, 0
	for round := 0; round < rounds; round++ {
		for _, mixed := range []bool{false, true} {
			analyst := fmt.Sprintf("mallory-%d-%v", round, mixed)
			f := feasQuery(analyst, eq("sex", "female"))
			q := query(protocol.KindCount)
			q.Analyst = analyst
			var mu sync.Mutex
			queries, counts := 0, 0
			var fns []func()
			for k := 0; k < 2*perReplica; k++ {
				isQuery := mixed && k%4 >= 2
				fns = append(fns, func() {
					ask := f
					if isQuery {
						ask = q
					}
					r := engines[k%2].Handle(ctx, ask)
					if r.Error != nil && (r.Error.Reason != protocol.ReasonDailyBudget) {
						t.Errorf("round %d: refused with %v, want the daily budget", round, r.Error)
					}
					mu.Lock()
					defer mu.Unlock()
					if r.Error == nil {
						if isQuery {
							queries++
						} else {
							counts++
						}
					}
				})
			}
			together(fns...)
			total += 2 * perReplica
			totalAnswered += queries + counts
			spent := float64(queries) + 0.25*float64(counts)
			if spent > 2 || (!mixed && counts != 8) {
				t.Fatalf("round %d (mixed %v): %d queries and %d counts answered (%g) with a budget of 2", round, mixed, queries, counts, spent)
			}
		}
	}
	verifyAuditAfterRace(t, dbPath, total, totalAnswered)
}

// A policy file from before the shared budget (feasibility_budget 2000 beside
// daily_query_budget 500) still parses, its feasibility_budget kept as the extra cap; the
// feasibility_cost is read, defaults to 0.25 and must be in (0, 1].
func TestParseFeasibilityCost(t *testing.T) {
	old := `{"min_cohort":10,"min_cell":5,"bin_days":7,"overlap_guard":true,"daily_query_budget":500,"events_per_cox_covariate":10,"feasibility_rounding":10,"feasibility_noise":3,"feasibility_budget":2000}`
	p, err := ParsePolicy([]byte(old))
	if err != nil || p.FeasibilityBudget != 2000 || p.FeasibilityCost != DefaultFeasibilityCost || p.DailyQueryBudget != 500 {
		t.Fatalf("old policy file: %+v, %v", p, err)
	}
	if p, err := ParsePolicy([]byte(`{"feasibility_cost":1}`)); err != nil || p.FeasibilityCost != 1 {
		t.Errorf("feasibility_cost 1: %v, %v", p.FeasibilityCost, err)
	}
	if p, err := ParsePolicy([]byte(`{"min_cohort":0,"min_cell":0,"bin_days":0,"overlap_guard":false}`)); err != nil || p.FeasibilityCost != DefaultFeasibilityCost || p.DailyQueryBudget != 0 {
		t.Errorf("exact policy: %+v, %v", p, err)
	}
	for _, bad := range []string{`{"feasibility_cost":0}`, `{"feasibility_cost":-0.25}`, `{"feasibility_cost":1.5}`, `{"feasibility_cost":"x"}`} {
		if _, err := ParsePolicy([]byte(bad)); err == nil {
			t.Errorf("%s accepted", bad)
		} else if bad != `{"feasibility_cost":"x"}` && !strings.Contains(err.Error(), "feasibility_cost") {
			t.Errorf("%s: %v does not name the field", bad, err)
		}
	}
	if p := withFeasibilityDefaults(protocol.Policy{MinCohort: 10, MinCell: 5, OverlapGuard: true, DailyQueryBudget: 5}); p.FeasibilityCost != DefaultFeasibilityCost {
		t.Errorf("a literal policy without a cost gets %v", p.FeasibilityCost)
	}
}

// The catalog's You.QueriesLeft is the whole queries left of the shared budget: a trusted
// analyst who asked 2 queries and 5 feasibility counts of a budget of 10 has 6.75, so 6.
func TestStandingSharedBudget(t *testing.T) {
	pol := DefaultPolicy()
	pol.DailyQueryBudget = 10
	l := newDPLung(t, pol, lungCSV)
	mustOK(t, handleJSON(t, l.e, sign(t, l.tom, query(protocol.KindCount))))
	mustOK(t, handleJSON(t, l.e, sign(t, l.tom, query(protocol.KindCount))))
	f := query(protocol.KindCount)
	f.Cohort, f.Feasibility = eq("sex", "female"), true
	for i := 0; i < 5; i++ {
		mustOK(t, handleJSON(t, l.e, sign(t, l.tom, f)))
	}
	cq := query(protocol.KindCatalog)
	cat := mustOK(t, handleJSON(t, l.e, sign(t, l.tom, cq)))
	if err := protocol.ValidateReply(cq, cat); err != nil {
		t.Errorf("catalog refused by the client: %v", err)
	}
	if you := cat.Catalog.You; you == nil || you.QueriesLeft != 6 {
		t.Errorf("tom's standing %+v, want 6 queries left", you)
	}
	if got := cat.Catalog.Policy.FeasibilityCost; got != 0.25 {
		t.Errorf("catalog publishes feasibility_cost %v", got)
	}
}
