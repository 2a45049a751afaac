package node

import (
	"context"
	"fmt"
	"math/rand/v2"
	"path/filepath"
	"strings"
	"testing"

	"github.com/oncofed/oncofed/protocol"
)

// egfrCSV writes n synthetic patients with a unique key k = 1..n (the attacker's
// quasi-identifier: it isolates one patient, as age, sex and year of diagnosis would), a
// sensitive egfr status (mutant about a third of the time), a stage and an age in 40..84.
func egfrCSV(t testing.TB, dir string, n int) string {
	t.Helper()
	rnd := rand.New(rand.NewPCG(3, 5))
	var b strings.Builder
	b.WriteString("id,k,egfr,stage,age,time,event\n")
	for i := 1; i <= n; i++ {
		egfr := "wild"
		if rnd.IntN(3) == 0 {
			egfr = "mutant"
		}
		fmt.Fprintf(&b, "p%d,%d,%s,%s,%d,%d,%d\n", i, i, egfr, []string{"I", "II", "III", "IV"}[rnd.IntN(4)],
			40+rnd.IntN(45), 1+rnd.IntN(2000), rnd.IntN(2))
	}
	return writeFile(t, dir, "egfr.csv", b.String())
}

var egfrSpec = ImportSpec{Study: "egfr", IDColumn: "id", DataCut: "2026-01-01",
	Endpoints:  []EndpointSpec{{Name: "OS", TimeColumn: "time", EventColumn: "event"}},
	Dictionary: declare("egfr=mutant,wild", "stage=I,II,III,IV")}

// egfrEngine imports n egfrCSV patients into a new database in a temporary directory and
// returns an engine with the default policy but no feasibility budget, and the study.
func egfrEngine(t testing.TB, n int) (*Engine, *loadedStudy) {
	t.Helper()
	dir := t.TempDir()
	store := importFile(t, filepath.Join(dir, "egfr.db"), egfrCSV(t, dir, n), egfrSpec)
	pol := DefaultPolicy()
	pol.FeasibilityBudget = 0
	e, err := NewEngine(context.Background(), store, Config{InsecureOpen: true, Policy: &pol})
	if err != nil {
		t.Fatal(err)
	}
	ls, err := e.study(context.Background(), "egfr")
	if err != nil {
		t.Fatal(err)
	}
	return e, ls
}

// notKey is the cohort f minus the patient whose key is k.
func notKey(f *protocol.Filter, k int) *protocol.Filter {
	return and(f, &protocol.Filter{Op: protocol.OpNot, Args: []*protocol.Filter{rng("k", fp(float64(k)), fp(float64(k)))}})
}

// Attack (membership by repeated pairs): the attacker isolates patient x by a
// quasi-identifier (the key k) and wants x's egfr status. They ask k = 30 pairs (S_i,
// S_i minus x), S_i = egfr mutant AND age in a range around x's age (30 different ranges).
// When x is not a mutant, S_i minus x is S_i: the answers are identical. When x is a mutant,
// the sets differ by one patient, and with independent noise for each set a pair differs with
// probability about 0.24, so that one differing pair among 30 proves membership (a member
// goes unnoticed with probability Π(1 − p_i), about 3·10⁻⁴ here). With sticky answers
// (feasibility.go) S_i minus x gets S_i's answer: every pair is identical for the member and
// the non-member alike, and the attacker learns nothing. Half of the pairs are asked minus-x
// first. With independent noise per set the member's pairs differed in 7 to 10 of 30 (six
// runs, each with a new site key).
func TestAttackFeasibilityMembership(t *testing.T) {
	e, ls := egfrEngine(t, 3000)
	egfr, age, key := ls.vars["egfr"], ls.vars["age"], ls.vars["k"]
	mutant := int32(-1)
	for c, name := range egfr.Categories {
		if name == "mutant" {
			mutant = int32(c)
		}
	}
	// The member and the non-member: the first mutant and the first wild-type patient aged 60.
	targets := map[string]int{}
	for i := 0; i < ls.data.Len(); i++ {
		if age.Numeric[i] != 60 {
			continue
		}
		name := "non-member"
		if egfr.Codes[i] == mutant {
			name = "member"
		}
		if _, ok := targets[name]; !ok {
			targets[name] = int(key.Numeric[i])
		}
	}
	if len(targets) != 2 {
		t.Fatalf("targets %v: need a mutant and a wild-type patient aged 60", targets)
	}
	const pairs = 30
	differing := map[string]int{}
	for _, name := range []string{"member", "non-member"} {
		x := targets[name]
		i := 0
		noticed := 1.0 // Π(1 − p_i) with independent noise: the chance of no differing pair
		for lo := 55; lo <= 60 && i < pairs; lo++ {
			for hi := 60; hi <= 65 && i < pairs; hi++ {
				s := and(eq("egfr", "mutant"), rng("age", fp(float64(lo)), fp(float64(hi))))
				qs, qm := feasQuery("mallory", s), feasQuery("mallory", notKey(s, x))
				qs.Study, qm.Study = "egfr", "egfr"
				var as, am int
				if i%2 == 0 {
					as, am = feasAnswer(t, e, qs), feasAnswer(t, e, qm)
				} else {
					am, as = feasAnswer(t, e, qm), feasAnswer(t, e, qs)
				}
				if as != am {
					differing[name]++
				}
				rows := ls.evalFilter(s)
				if rows.has(x - 1) {
					noticed *= 1 - pairDiffers(rows.count(), 10, 3)
				}
				i++
			}
		}
		t.Logf("%s (k=%d): %d of %d pairs differ; with independent noise per set none would differ with probability %.2g",
			name, x, differing[name], pairs, noticed)
	}
	// The attacker's verdict is "member" as soon as one pair differs.
	for name, n := range differing {
		if n != 0 {
			t.Errorf("%s: %d of %d pairs (S, S minus x) got different answers: the attacker learns x's egfr status", name, n, pairs)
		}
	}
}

// Attack (near duplicates at the same instant, on two replicas of one database): S to one
// replica and S minus one patient to the other, released together, 100 times with a new S
// each round (25 keys of a synthetic study, disjoint between rounds, so every round starts
// with no remembered near duplicate; 25 and 24 patients, the sizes whose answers differ most
// often with independent noise: 25/49 by pairDiffers). Both must get one answer: the lookup and the record of
// a fresh answer are one Release transaction, under the write lock both replicas take.
// Looked up in each process's memory only, the replicas answered with their own draws and
// differed in 41 to 59 of the 100 rounds (five runs; 25/49 expected).
func TestAttackFeasibilityStickyRace(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	dbPath := filepath.Join(dir, "synth.db")
	importFile(t, dbPath, synthCSV(t, dir, 3000), synthSpec)
	pol := DefaultPolicy()
	pol.FeasibilityBudget = 0
	var engines [2]*Engine
	for i := range engines {
		e, err := NewEngine(ctx, openStore(t, dbPath), Config{InsecureOpen: true, Policy: &pol})
		if err != nil {
			t.Fatal(err)
		}
		engines[i] = e
	}
	rnd := rand.New(rand.NewPCG(5, 6))
	const rounds = 100
	differ := 0
	for round := 0; round < rounds; round++ {
		lo, hi := 25*round+1, 25*round+25
		s := rng("k", fp(float64(lo)), fp(float64(hi)))
		qs := [2]protocol.Query{feasQuery("mallory", s), feasQuery("eve", notKey(s, lo+rnd.IntN(25)))}
		qs[0].Study, qs[1].Study = "synth", "synth"
		if round%2 == 1 {
			qs[0], qs[1] = qs[1], qs[0]
		}
		var replies [2]protocol.Reply
		together(
			func() { replies[0] = engines[0].Handle(ctx, qs[0]) },
			func() { replies[1] = engines[1].Handle(ctx, qs[1]) },
		)
		for i, r := range replies {
			mustOK(t, r)
			if err := protocol.ValidateReply(qs[i], r); err != nil {
				t.Fatal(err)
			}
		}
		if replies[0].Count.Total.N != replies[1].Count.Total.N {
			differ++
		}
	}
	if differ != 0 {
		t.Errorf("S and S minus one, asked of two replicas at the same instant, got different answers in %d of %d rounds", differ, rounds)
	}
	verifyAuditAfterRace(t, dbPath, 2*rounds, 2*rounds)
}

// Attack (what sticky answers do not stop: a set at the boundary). Sticky answers are a
// threshold on |S Δ S'|, and the attacker can build two sets whose distance is min_cell − 1
// when x is not in S and min_cell when x is: B = S ∪ Y, with Y min_cell − 1 patients known
// not to be in S (here four patients of ages outside S's range, named by their key as x is),
// then S minus x. When x ∉ S, S minus x is S, min_cell − 1 from B, and gets B's answer; when
// x ∈ S it is min_cell from B and gets an answer of its own, which differs from B's with
// probability pairDiffersBy(|B|, min_cell), about one half (16 to 19 of 30 tries over six runs,
// 16.5 expected). Two counts per try instead of the
// pair's two, and a better chance per try than the 0.24 of independent noise: sticky answers
// stop the repeated-pairs attack (TestAttackFeasibilityMembership) of an attacker who can
// isolate x, not that of one who can also isolate min_cell − 1 other patients outside S. This
// test records the limitation: should it fail because the member is no longer told apart,
// update feasibility.go's doc comment and the README. The non-member is asked first: a
// sticky answer is the nearest remembered set's, and the member's S minus x, remembered, is
// one patient from the non-member's S, nearer than B (the attacker picks the order).
func TestAttackFeasibilityStickyBoundary(t *testing.T) {
	e, ls := egfrEngine(t, 3000)
	egfr, age, key := ls.vars["egfr"], ls.vars["age"], ls.vars["k"]
	minCell := e.policy.MinCell
	targets := map[string]int{}
	var outside []*protocol.Filter // min_cell − 1 patients aged over 80: in none of the S below
	for i := 0; i < ls.data.Len(); i++ {
		k := float64(key.Numeric[i])
		switch {
		case age.Numeric[i] > 80 && len(outside) < minCell-1:
			outside = append(outside, rng("k", fp(k), fp(k)))
		case age.Numeric[i] == 60:
			name := "non-member"
			if egfr.Categories[egfr.Codes[i]] == "mutant" {
				name = "member"
			}
			if _, ok := targets[name]; !ok {
				targets[name] = int(k)
			}
		}
	}
	const tries = 30
	differing := map[string]int{}
	for _, name := range []string{"non-member", "member"} {
		x, i := targets[name], 0
		expect := 0.0
		for lo := 55; lo <= 60 && i < tries; lo++ {
			for hi := 60; hi <= 65 && i < tries; hi++ {
				s := and(eq("egfr", "mutant"), rng("age", fp(float64(lo)), fp(float64(hi))))
				b := &protocol.Filter{Op: protocol.OpOr, Args: append([]*protocol.Filter{s}, outside...)}
				qb, qm := feasQuery("mallory", b), feasQuery("mallory", notKey(s, x))
				qb.Study, qm.Study = "egfr", "egfr"
				if feasAnswer(t, e, qb) != feasAnswer(t, e, qm) {
					differing[name]++
				}
				if rows := ls.evalFilter(s); rows.has(x - 1) {
					expect += pairDiffersBy(rows.count()+minCell-1, minCell, 10, 3)
				}
				i++
			}
		}
		t.Logf("%s (k=%d): B and S minus x differ in %d of %d tries (%.1f expected)", name, x, differing[name], tries, expect)
	}
	if differing["non-member"] != 0 {
		t.Errorf("non-member: %d tries differ: S minus x = S, min_cell − 1 from B, must get B's answer", differing["non-member"])
	}
	if differing["member"] == 0 {
		t.Errorf("member: no try differs; the boundary attack no longer works — update the documented limitation")
	}
}

// A fresh answer rounded below min_cohort is the small-cohort refusal, and it is remembered
// like any answer: with min_cohort 15, a set of 16 patients whose noise is −2 or −3 (16 + noise
// rounds to 10) is refused, and so must be the same set minus one patient (15, still at least
// min_cohort) asked after it, though its own noise would often have given 20; and a set of 16
// that was answered gives its answer to the set minus one. 60 disjoint ranges of 16 keys.
func TestFeasibilityStickyRefusal(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	store := importFile(t, filepath.Join(dir, "synth.db"), synthCSV(t, dir, 1000), synthSpec)
	pol := DefaultPolicy()
	pol.MinCohort, pol.FeasibilityBudget = 15, 0
	e, err := NewEngine(ctx, store, Config{InsecureOpen: true, Policy: &pol})
	if err != nil {
		t.Fatal(err)
	}
	ls, err := e.study(ctx, "synth")
	if err != nil {
		t.Fatal(err)
	}
	key, err := e.siteSecret(ctx)
	if err != nil {
		t.Fatal(err)
	}
	ask := func(f *protocol.Filter) (int, bool) {
		q := feasQuery("mallory", f)
		q.Study = "synth"
		r := e.Handle(ctx, q)
		if r.Error != nil {
			wantCode(t, r, protocol.CodeRefusedByPolicy)
			if r.Error.Message != "cohort has fewer than min_cohort=15 patients" {
				t.Fatalf("refused with %q", r.Error.Message)
			}
			return 0, false
		}
		if err := protocol.ValidateReply(q, r); err != nil {
			t.Fatal(err)
		}
		return r.Count.Total.N, true
	}
	refused, rescued := 0, 0
	for i := 0; i < 60; i++ {
		lo := 16*i + 1
		s := rng("k", fp(float64(lo)), fp(float64(lo+15)))
		minus := notKey(s, lo)
		ns, okS := ask(s)
		nm, okM := ask(minus)
		if okS != okM || ns != nm {
			t.Errorf("keys %d..%d: S answered %d (%v), S minus one %d (%v): want one answer", lo, lo+15, ns, okS, nm, okM)
		}
		if !okS {
			refused++
			own := roundToMultiple(15+feasibilityNoise(key, "synth", ls.info.Version, ls.evalFilter(minus), 3), 10)
			if own >= pol.MinCohort {
				rescued++ // S minus one alone would have been answered
			}
		}
	}
	t.Logf("%d of 60 sets of 16 refused for their noise (2/7 expected: 17.1); %d of their near duplicates would have been answered on their own", refused, rescued)
	if refused == 0 || rescued == 0 {
		t.Fatalf("%d refused, %d of their near duplicates answerable on their own: the test must see both", refused, rescued)
	}
}
