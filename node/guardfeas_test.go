package node

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/oncofed/oncofed/protocol"
)

// Guard rule 6 (guardfeas.go), its behaviour beyond the attack test: the feasibility answers
// an analyst was given survive a restart and a second process on the same database; an exact
// release near one is refused whether the sets are identical or one patient apart, unless
// the answer was created through the release's own definition — by this analyst or another;
// a set released exactly through its creating definition stops counting as a feasibility
// answer (its exact release governs), so a summary's cells near the cohort stay answered; a
// re-import carries all of it over.
func TestGuardFeasibilityAnswersGiven(t *testing.T) {
	ctx := context.Background()
	pol := DefaultPolicy()
	pol.FeasibilityBudget = 0
	dbPath := filepath.Join(t.TempDir(), "lung.db")
	importFile(t, dbPath, lungCSV, lungSpec)
	open := func() *Engine {
		e, err := NewEngine(ctx, openStore(t, dbPath), Config{InsecureOpen: true, Policy: &pol})
		if err != nil {
			t.Fatal(err)
		}
		return e
	}
	guardRefused := func(e *Engine, q protocol.Query, what string) {
		t.Helper()
		r := e.Handle(ctx, q)
		if r.Error == nil || r.Error.Reason != protocol.ReasonOverlapGuard {
			t.Fatalf("%s: %+v, want the overlap guard's refusal", what, r.Error)
		}
	}
	km := func(analyst string, f *protocol.Filter, group string) protocol.Query {
		q := query(protocol.KindSurvival)
		q.Analyst, q.Cohort, q.Endpoint, q.GroupBy = analyst, f, "OS", group
		return q
	}
	women := eq("sex", "female")
	minusOne := and(women, rng("age", nil, fp(76))) // all 90 women of lung but the one aged 77
	sameAsWomen := and(women, rng("age", nil, fp(200)))

	e := open()
	feasAnswer(t, e, feasQuery("alice", minusOne)) // an answer of its own: created by minusOne
	restarted, replica := open(), open()
	// The same patients as the feasibility set by another definition, and one patient off.
	guardRefused(restarted, countOf("alice", and(minusOne, rng("age", fp(0), nil))), "A minus one by a new definition")
	guardRefused(replica, countOf("alice", women), "A, one patient from the answer")
	guardRefused(restarted, km("alice", women, ""), "the survival of A")
	// Bob was given nothing: his count of A is answered.
	mustOK(t, e.Handle(ctx, countOf("bob", women)))
	// Through the answer's own definition: answered, in every process.
	mustOK(t, replica.Handle(ctx, km("alice", minusOne, "")))
	mustOK(t, restarted.Handle(ctx, countOf("alice", minusOne)))

	// Carol counts what alice's count created, by the same definition: alice's answer (a
	// sticky one), created by that definition, so carol's run of it is answered; a summary
	// of it with cells near the cohort too (the cohort's exact release governs them).
	if n := feasAnswer(t, restarted, feasQuery("carol", sameAsWomen)); n < 80 {
		t.Fatalf("carol's count of the women: %d", n)
	}
	f := feasQuery("carol", women)
	feasAnswer(t, replica, f)
	mustOK(t, replica.Handle(ctx, km("carol", women, "")))
	mustOK(t, restarted.Handle(ctx, summaryOf("carol", women, "ecog", "age")))
	// But the women by the other definition carol was answered for: refused.
	guardRefused(e, km("carol", sameAsWomen, ""), "the women by the definition of carol's first count")

	// A re-import (the same patients in another order) carries the answers given over by
	// patient id, with the definitions that created them.
	reimportLung(t, openStore(t, dbPath), "")
	fresh := open()
	guardRefused(fresh, countOf("alice", women), "A after the re-import")
	mustOK(t, fresh.Handle(ctx, countOf("alice", minusOne)))
	feasAnswer(t, fresh, feasQuery("dave", minusOne))
	guardRefused(fresh, countOf("dave", women), "A after the re-import, for an analyst given A minus one's carried answer")
	mustOK(t, fresh.Handle(ctx, countOf("dave", minusOne))) // the carried answer's creating definition
}
