package node

import (
	"context"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"math"
	"math/rand/v2"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/oncofed/oncofed/protocol"
)

// feasQuery is a feasibility count of cohort f for analyst.
func feasQuery(analyst string, f *protocol.Filter) protocol.Query {
	q := query(protocol.KindCount)
	q.Analyst, q.Cohort, q.Feasibility = analyst, f, true
	return q
}

// feasAnswer asks q and returns the released count, checking the reply as the client does
// (protocol.ValidateReply: a multiple of the rounding, labelled approximate).
func feasAnswer(t *testing.T, e *Engine, q protocol.Query) int {
	t.Helper()
	r := mustOK(t, e.Handle(context.Background(), q))
	if err := protocol.ValidateReply(q, r); err != nil {
		t.Fatalf("reply to a feasibility count: %v", err)
	}
	if r.Policy.FeasibilityRounding != e.policy.FeasibilityRounding || r.Policy.FeasibilityNoise != e.policy.FeasibilityNoise {
		t.Fatalf("reply labelled rounding %d noise %d, policy has %d, %d", r.Policy.FeasibilityRounding, r.Policy.FeasibilityNoise,
			e.policy.FeasibilityRounding, e.policy.FeasibilityNoise)
	}
	return r.Count.Total.N
}

// Attack (the problem feasibility counts solve, and the guard unchanged): an analyst editing
// the cohort in the live panel counts women aged 60 to 76 (B, far from A), then A (all 90
// women of lung) and runs the analysis of A: answered, and the exact survival of A minus one
// (women aged ≤ 76: all but the one aged 77) is refused after it. With exact counts, A minus
// one then A trips the overlap guard at the count of A and at the run of A.
//
// Counting A minus one, then A, then running A is the honest form of review class 5 in the
// reverse order (a feasibility answer of T, then the exact count of a set P one patient from
// it), which no rule can tell from the attack: A's count gets A minus one's answer, and the
// run of A is refused (guard rule 6, guardfeas.go), as the run of any cohort 1..min_cell−1
// patients from a count of another definition the analyst was answered.
func TestAttackFeasibilityThenRun(t *testing.T) {
	ctx := context.Background()
	a, minusOne := raceQueries("alice")
	survival := func(c *protocol.Query) protocol.Query {
		q := query(protocol.KindSurvival)
		q.Analyst, q.Cohort, q.Endpoint = c.Analyst, c.Cohort, "OS"
		return q
	}
	summary := func(c *protocol.Query) protocol.Query {
		q := query(protocol.KindSummary)
		q.Analyst, q.Cohort, q.Variables = c.Analyst, c.Cohort, []string{"age", "ecog"}
		return q
	}

	t.Run("feasibility", func(t *testing.T) {
		e, _ := lungEngine(t, DefaultPolicy(), nil)
		fb, fa := minusOne, a
		fb.Cohort = and(eq("sex", "female"), rng("age", fp(60), fp(76)))
		fb.Feasibility, fa.Feasibility = true, true
		if n := feasAnswer(t, e, fb); n < 30 || n > 80 {
			t.Fatalf("B (women aged 60 to 76) ≈ %d", n)
		}
		if n := feasAnswer(t, e, fa); n < 80 || n > 100 {
			t.Fatalf("A (90 patients) ≈ %d", n)
		}
		// The exact analyses of A: answered.
		mustOK(t, e.Handle(ctx, survival(&a)))
		mustOK(t, e.Handle(ctx, summary(&a)))
		// A minus one exactly, now that A was released exactly: the guard refuses.
		r := e.Handle(ctx, survival(&minusOne))
		wantCode(t, r, protocol.CodeRefusedByPolicy)
		if !strings.Contains(r.Error.Message, "overlap guard") {
			t.Fatalf("refused with %v, want the overlap guard", r.Error)
		}
	})

	t.Run("near edit", func(t *testing.T) {
		e, _ := lungEngine(t, DefaultPolicy(), nil)
		fm, fa := minusOne, a
		fm.Feasibility, fa.Feasibility = true, true
		m := feasAnswer(t, e, fm)
		if n := feasAnswer(t, e, fa); n != m {
			t.Fatalf("A ≈ %d, A minus one ≈ %d: want A minus one's answer", n, m)
		}
		for _, q := range []protocol.Query{survival(&a), a} {
			r := e.Handle(ctx, q)
			if r.Error == nil || r.Error.Reason != protocol.ReasonOverlapGuard {
				t.Fatalf("%s of A after the counts of A minus one and A: %+v, want the guard's refusal", q.Kind, r.Error)
			}
		}
		// A cohort of the definition whose count got an answer of its own is answered.
		mustOK(t, e.Handle(ctx, survival(&minusOne)))
	})

	t.Run("exact counts", func(t *testing.T) {
		e, _ := lungEngine(t, DefaultPolicy(), nil)
		if n := mustOK(t, e.Handle(ctx, minusOne)).Count.Total.N; n != 89 {
			t.Fatalf("A minus one: %d patients, want 89", n)
		}
		for _, q := range []protocol.Query{a, survival(&a), summary(&a)} {
			r := e.Handle(ctx, q)
			wantCode(t, r, protocol.CodeRefusedByPolicy)
			if !strings.Contains(r.Error.Message, "overlap guard") {
				t.Fatalf("%s of A refused with %v, want the overlap guard", q.Kind, r.Error)
			}
		}
	})
}

// Attack (averaging): the same patient set asked 50 times, through equivalent filters and by
// another analyst, gets one answer, so averaging repeated answers cancels no noise. lung has no missing sex
// or age, so each filter below selects the same 90 women, and the same 138 patients aged
// 60 or more.
func TestAttackFeasibilityAveraging(t *testing.T) {
	e, _ := lungEngine(t, DefaultPolicy(), nil)
	not := func(f *protocol.Filter) *protocol.Filter {
		return &protocol.Filter{Op: protocol.OpNot, Args: []*protocol.Filter{f}}
	}
	for name, filters := range map[string][]*protocol.Filter{
		"women": {
			eq("sex", "female"),
			{Op: protocol.OpIn, Var: "sex", Values: []string{"female"}},
			not(eq("sex", "male")),
			and(eq("sex", "female"), rng("age", fp(0), fp(200))),
		},
		"age ≥ 60": {
			rng("age", fp(60), nil),
			not(&protocol.Filter{Op: protocol.OpRange, Var: "age", Max: fp(60), MaxOpen: true}),
			&protocol.Filter{Op: protocol.OpOr, Args: []*protocol.Filter{and(eq("sex", "female"), rng("age", fp(60), nil)), and(eq("sex", "male"), rng("age", fp(60), nil))}},
			&protocol.Filter{Op: protocol.OpRange, Var: "age", Min: fp(59.5), MinOpen: true},
		},
	} {
		answers := map[int]int{}
		for i := 0; i < 50; i++ {
			answers[feasAnswer(t, e, feasQuery("mallory", filters[0]))]++
		}
		for _, f := range filters[1:] {
			answers[feasAnswer(t, e, feasQuery("mallory", f))]++
		}
		// Colluding analysts pool nothing either: the noise does not depend on who asks.
		answers[feasAnswer(t, e, feasQuery("eve", filters[0]))]++
		if len(answers) != 1 {
			t.Errorf("%s: %d distinct answers %v to one patient set, want 1", name, len(answers), answers)
		}
	}
}

// Feasibility answers are multiples of the rounding and never below min_cohort: the cohorts
// "age ≥ x" for x from 39 to 82 (227 down to 1 patient); below min_cohort the answer is the
// refusal an exact count gets, word for word.
func TestFeasibilityRoundingAndSmallCohorts(t *testing.T) {
	ctx := context.Background()
	pol := DefaultPolicy()
	e, _ := lungEngine(t, pol, nil)
	exactRefusal := func(q protocol.Query) string {
		q.Feasibility = false
		q.Analyst = "exact-" + q.ID
		r := e.Handle(ctx, q)
		if r.Error == nil {
			return ""
		}
		return r.Error.Message
	}
	refused, answered := 0, 0
	for x := 39; x <= 82; x++ {
		q := feasQuery("alice", rng("age", fp(float64(x)), nil))
		q.ID = fmt.Sprint(x)
		r := e.Handle(ctx, q)
		if r.Error != nil {
			wantCode(t, r, protocol.CodeRefusedByPolicy)
			if r.Error.Message != "cohort has fewer than min_cohort=10 patients" {
				t.Errorf("age ≥ %d: refusal %q", x, r.Error.Message)
			}
			refused++
			continue
		}
		answered++
		if err := protocol.ValidateReply(q, r); err != nil {
			t.Errorf("age ≥ %d: %v", x, err)
		}
		n := r.Count.Total.N
		if n%pol.FeasibilityRounding != 0 || n < pol.MinCohort || r.Count.Total.Suppressed || len(r.Count.Groups) != 0 {
			t.Errorf("age ≥ %d: released %+v, want a multiple of %d of at least %d", x, r.Count, pol.FeasibilityRounding, pol.MinCohort)
		}
		if msg := exactRefusal(q); msg != "" {
			t.Errorf("age ≥ %d: feasibility answered %d where the exact count is refused (%s)", x, n, msg)
		}
	}
	if refused == 0 || answered < 20 {
		t.Fatalf("%d answered, %d refused: the sweep must cross min_cohort", answered, refused)
	}
	// A cohort of 1 (ecog3): the same refusal as its exact count.
	small := feasQuery("alice", eq("ecog", "ecog3"))
	r := e.Handle(ctx, small)
	wantCode(t, r, protocol.CodeRefusedByPolicy)
	if want := exactRefusal(small); r.Error.Message != want {
		t.Errorf("feasibility refusal %q, exact refusal %q: they must not differ", r.Error.Message, want)
	}
	// Feasibility is only for an ungrouped count: refused with the field named.
	for _, q := range []protocol.Query{
		func() protocol.Query { q := feasQuery("alice", nil); q.GroupBy = "sex"; return q }(),
		func() protocol.Query {
			q := feasQuery("alice", nil)
			q.Kind, q.Endpoint = protocol.KindSurvival, "OS"
			return q
		}(),
	} {
		r := e.Handle(ctx, q)
		wantCode(t, r, protocol.CodeInvalid)
		if !strings.HasPrefix(r.Error.Message, "feasibility: ") {
			t.Errorf("refusal %q does not name the field", r.Error.Message)
		}
	}
}

// TestRoundToMultiple: nearest multiple, a half up; nothing negative.
func TestRoundToMultiple(t *testing.T) {
	for _, c := range []struct{ x, r, want int }{
		{0, 10, 0}, {4, 10, 0}, {5, 10, 10}, {14, 10, 10}, {15, 10, 20}, {1234, 10, 1230}, {1235, 10, 1240},
		{-3, 10, 0}, {-3, 1, 0}, {7, 1, 7}, {12, 5, 10}, {13, 5, 15},
	} {
		if got := roundToMultiple(c.x, c.r); got != c.want {
			t.Errorf("roundToMultiple(%d, %d) = %d, want %d", c.x, c.r, got, c.want)
		}
	}
}

// pairDiffers is the probability that round(n + U₁) ≠ round(n − 1 + U₂), with U₁, U₂
// independent and uniform on {−k..k} and round to the nearest multiple of r (half up): the
// chance that a set and the set minus one patient would get different feasibility answers
// were each answered with its own noise, by enumeration of the (2k+1)² noise pairs.
func pairDiffers(n, r, k int) float64 { return pairDiffersBy(n, 1, r, k) }

// pairDiffersBy is pairDiffers for a set of n and one of n − d patients.
func pairDiffersBy(n, d, r, k int) float64 {
	differ := 0
	for u1 := -k; u1 <= k; u1++ {
		for u2 := -k; u2 <= k; u2++ {
			if roundToMultiple(n+u1, r) != roundToMultiple(n-d+u2, r) {
				differ++
			}
		}
	}
	return float64(differ) / float64((2*k+1)*(2*k+1))
}

// synthCSV writes n synthetic patients with a unique numeric key k = 1..n (so that a range of
// k is any contiguous set, and a range minus one key is that set minus one patient).
func synthCSV(t testing.TB, dir string, n int) string {
	t.Helper()
	rnd := rand.New(rand.NewPCG(7, 11))
	var b strings.Builder
	b.WriteString("id,k,sex,age,time,event\n")
	for i := 1; i <= n; i++ {
		sex := "female"
		if rnd.IntN(2) == 1 {
			sex = "male"
		}
		fmt.Fprintf(&b, "p%d,%d,%s,%d,%d,%d\n", i, i, sex, 40+rnd.IntN(45), 1+rnd.IntN(2000), rnd.IntN(2))
	}
	return writeFile(t, dir, "synth.csv", b.String())
}

var synthSpec = ImportSpec{Study: "synth", IDColumn: "id", DataCut: "2026-01-01",
	Endpoints:  []EndpointSpec{{Name: "OS", TimeColumn: "time", EventColumn: "event"}},
	Dictionary: declare("sex=female,male")}

// rangeDistance is |[a, b] Δ [c, d]| for ranges of the unique key of synthCSV.
func rangeDistance(a, b, c, d int) int {
	return (b - a + 1) + (d - c + 1) - 2*max(0, min(b, d)-max(a, c)+1)
}

// separatedRanges draws count ranges [lo, hi] of the key 1..patients, with size(lo, hi) ≥ 20
// patients, each at distance at least sep from every range drawn before it (so that no set
// asked earlier is a near duplicate of a later pair).
func separatedRanges(rnd *rand.Rand, patients, count, sep int, size func(*rand.Rand) int) [][2]int {
	var out [][2]int
	for len(out) < count {
		n := size(rnd)
		lo := 1 + rnd.IntN(patients-n+1)
		hi := lo + n - 1
		ok := true
		for _, r := range out {
			if rangeDistance(lo, hi, r[0], r[1]) < sep {
				ok = false
				break
			}
		}
		if ok {
			out = append(out, [2]int{lo, hi})
		}
	}
	return out
}

// Attack (differencing through feasibility counts): 300 pairs (S, S minus one patient) of a
// synthetic study, S a random range of a unique key (20 to 400 patients) and the patient a
// random member, half of the pairs asked minus-one first. Exact counts of such a pair always
// differ by one. Were each set answered with its own noise, the answers would differ with
// probability pairDiffers(|S|): 0 when |S| mod 10 is 0, 1 or 9, up to 25/49 ≈ 0.51 at 5, and
// 17/70 ≈ 0.243 averaged over the ten residues (the fraction measured before sticky answers
// was 56 to 79 of 300 over 11 runs). With sticky answers the second set of a pair differs from
// the first by one patient, fewer than min_cell, so it gets the first one's answer: no pair
// differs. The ranges are drawn at least min_cell + 1 apart, so that no earlier pair's set is
// a near duplicate of a later one (TestAttackFeasibilityStickyBoundary shows what such a set
// can do).
//
// Sets differing by min_cell patients or more are answered independently, as before: 300
// pairs ([lo, hi], [lo, hi − min_cell]) differ in a fraction that must lie within 4.5 standard
// deviations of the expectation computed for the drawn sizes (Σ p, variance Σ p(1−p)).
func TestAttackFeasibilityPairs(t *testing.T) {
	const patients, pairs = 1000, 300
	avg := 0.0
	for res := 0; res < 10; res++ {
		avg += pairDiffers(100+res, 10, 3) / 10
	}
	if math.Abs(avg-17.0/70) > 1e-12 {
		t.Fatalf("average over residues %v, want 17/70 (119 of 490 noise pairs, enumerated by hand)", avg)
	}
	engine := func(t *testing.T) *Engine {
		dir := t.TempDir()
		store := importFile(t, filepath.Join(dir, "synth.db"), synthCSV(t, dir, patients), synthSpec)
		pol := DefaultPolicy()
		pol.FeasibilityBudget = 0
		e, err := NewEngine(context.Background(), store, Config{InsecureOpen: true, Policy: &pol})
		if err != nil {
			t.Fatal(err)
		}
		return e
	}
	ask := func(t *testing.T, e *Engine, f *protocol.Filter) int {
		q := feasQuery("mallory", f)
		q.Study = "synth"
		return feasAnswer(t, e, q)
	}
	keys := func(lo, hi int) *protocol.Filter { return rng("k", fp(float64(lo)), fp(float64(hi))) }
	minCell := DefaultPolicy().MinCell
	size := func(rnd *rand.Rand) int { return 20 + rnd.IntN(381) }

	t.Run("minus one", func(t *testing.T) {
		e := engine(t)
		rnd := rand.New(rand.NewPCG(1, 2))
		differ := 0
		var independent float64
		for i, r := range separatedRanges(rnd, patients, pairs, minCell+1, size) {
			drop := r[0] + rnd.IntN(r[1]-r[0]+1)
			s := keys(r[0], r[1])
			minus := and(s, &protocol.Filter{Op: protocol.OpNot, Args: []*protocol.Filter{keys(drop, drop)}})
			var as, am int
			if i%2 == 0 {
				as, am = ask(t, e, s), ask(t, e, minus)
			} else {
				am, as = ask(t, e, minus), ask(t, e, s)
			}
			if as != am {
				differ++
			}
			independent += pairDiffers(r[1]-r[0]+1, 10, 3)
		}
		t.Logf("S and S minus one: %d of %d pairs differ (with independent noise per set: %.1f expected)", differ, pairs, independent)
		if differ != 0 {
			t.Errorf("%d of %d pairs (S, S minus one) got different answers, want none", differ, pairs)
		}
	})

	t.Run("minus min_cell", func(t *testing.T) {
		e := engine(t)
		rnd := rand.New(rand.NewPCG(3, 4))
		differ := 0
		var expect, variance float64
		// Both sets of every pair at least min_cell + 1 from every earlier set.
		for _, r := range separatedRanges(rnd, patients, pairs, 2*minCell+1, size) {
			if ask(t, e, keys(r[0], r[1])) != ask(t, e, keys(r[0], r[1]-minCell)) {
				differ++
			}
			p := pairDiffersBy(r[1]-r[0]+1, minCell, 10, 3)
			expect += p
			variance += p * (1 - p)
		}
		sd := math.Sqrt(variance)
		t.Logf("S and S minus %d: %d of %d pairs differ; expected %.1f ± %.1f with independent noise", minCell, differ, pairs, expect, sd)
		if math.Abs(float64(differ)-expect) > 4.5*sd {
			t.Errorf("%d of %d pairs differ, expected %.1f ± %.1f: sets min_cell apart are not answered independently", differ, pairs, expect, sd)
		}
	})
}

// Attack (exhausting the feasibility cap): with the optional extra cap of 5 feasibility counts
// a day the sixth count is refused for that cap; the five counts also took 5 × 0.25 of the
// shared daily budget of 5, so 3 exact queries fit and a fourth does not. The next UTC day
// starts afresh.
func TestAttackFeasibilityBudget(t *testing.T) {
	ctx := context.Background()
	clock := &fixedClock{t: time.Date(2026, 3, 1, 23, 0, 0, 0, time.UTC)}
	pol := DefaultPolicy()
	pol.DailyQueryBudget, pol.FeasibilityBudget = 5, 5
	e, store := lungEngine(t, pol, clock)
	f := feasQuery("alice", eq("sex", "female"))
	for i := 0; i < 5; i++ {
		feasAnswer(t, e, f)
	}
	r := e.Handle(ctx, f)
	wantCode(t, r, protocol.CodeRefusedByPolicy)
	if !strings.Contains(r.Error.Message, "feasibility budget of 5") {
		t.Fatalf("refused with %v, want the feasibility budget", r.Error)
	}
	for i := 0; i < 3; i++ {
		mustOK(t, e.Handle(ctx, query(protocol.KindCount)))
	}
	wantCode(t, e.Handle(ctx, query(protocol.KindCount)), protocol.CodeRefusedByPolicy)
	other := f
	other.Analyst = "bob"
	feasAnswer(t, e, other)
	clock.t = clock.t.Add(2 * time.Hour) // next UTC day
	feasAnswer(t, e, f)
	// The audit log holds every feasibility count, released or refused, marked as such (not
	// as a budgeted query: it is charged feasibility_cost); the chain verifies.
	recs, err := VerifyAudit(ctx, store)
	if err != nil {
		t.Fatal(err)
	}
	marked, released := 0, 0
	for _, rec := range recs {
		isFeas := strings.Contains(rec.Query, `"feasibility":true`)
		if rec.Feasibility != isFeas || (rec.Feasibility && rec.Budgeted) {
			t.Errorf("record %d: feasibility %v budgeted %v for %s", rec.Seq, rec.Feasibility, rec.Budgeted, rec.Query)
		}
		if rec.Feasibility {
			marked++
			if rec.Outcome == OutcomeReleased {
				released++
				if !strings.HasPrefix(rec.Released, "feasibility count n=90 released=") || !strings.Contains(rec.Reason, "feasibility rounding=10 noise=±3") {
					t.Errorf("record %d: released %q, reason %q", rec.Seq, rec.Released, rec.Reason)
				}
			}
		}
	}
	if marked != 8 || released != 7 {
		t.Errorf("%d feasibility records, %d released; want 8 and 7", marked, released)
	}
}

// Attack (the feasibility budget's last counts, at the same instant, on two replicas of one
// database): as TestAttackBudgetRace for the query budget, 16 concurrent feasibility counts
// with a budget of 5, 40 times with a fresh analyst: exactly 5 are answered each round.
func TestAttackFeasibilityBudgetRace(t *testing.T) {
	ctx := context.Background()
	pol := DefaultPolicy()
	pol.FeasibilityBudget = 5
	clock := &fixedClock{time.Date(2026, 3, 2, 12, 0, 0, 0, time.UTC)}
	dbPath, engines := twoReplicas(t, pol, clock)
	const rounds, perReplica = 40, 8
	for round := 0; round < rounds; round++ {
		f := feasQuery(fmt.Sprintf("mallory-%d", round), eq("sex", "female"))
		var mu sync.Mutex
		answered := 0
		var fns []func()
		for k := 0; k < 2*perReplica; k++ {
			fns = append(fns, func() {
				r := engines[k%2].Handle(ctx, f)
				if r.Error != nil && (r.Error.Code != protocol.CodeRefusedByPolicy || !strings.Contains(r.Error.Message, "feasibility budget")) {
					t.Errorf("round %d: refused with %v, want the feasibility budget", round, r.Error)
				}
				mu.Lock()
				defer mu.Unlock()
				if r.Error == nil {
					answered++
				}
			})
		}
		together(fns...)
		if answered != pol.FeasibilityBudget {
			t.Fatalf("round %d: %d of %d concurrent feasibility counts answered with a budget of %d", round, answered, 2*perReplica, pol.FeasibilityBudget)
		}
	}
	verifyAuditAfterRace(t, dbPath, rounds*2*perReplica, rounds*pol.FeasibilityBudget)
}

// Attack (the noise key): two sites holding the same data (two databases) have different
// secrets, so the same patient set gets independent noise at each — the noise of one site
// says nothing about the other's. A site's key survives a restart (the same answers), is
// shared by replicas of one database, and appears in no reply and no audit record.
func TestAttackFeasibilitySecret(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	pol := DefaultPolicy()
	pol.FeasibilityBudget = 0
	var stores [2]*SQLiteStore
	var engines [2]*Engine
	for i := range stores {
		stores[i] = importFile(t, filepath.Join(dir, fmt.Sprintf("site%d.db", i)), lungCSV, lungSpec)
		e, err := NewEngine(ctx, stores[i], Config{InsecureOpen: true, Policy: &pol})
		if err != nil {
			t.Fatal(err)
		}
		engines[i] = e
	}
	var keys [2][]byte
	for i, e := range engines {
		k, err := e.siteSecret(ctx)
		if err != nil || len(k) != 32 {
			t.Fatalf("site %d: secret of %d bytes, %v", i, len(k), err)
		}
		keys[i] = k
	}
	if string(keys[0]) == string(keys[1]) {
		t.Fatal("two sites have the same secret")
	}
	// Same sets at both sites (the same study, loaded at version 1 in each database): the
	// noise agrees by chance only, with probability 1/7 for ±3.
	ls := [2]*loadedStudy{}
	for i, e := range engines {
		var err error
		if ls[i], err = e.study(ctx, "lung"); err != nil {
			t.Fatal(err)
		}
	}
	if ls[0].info.Version != ls[1].info.Version {
		t.Fatalf("versions %d and %d: the comparison needs the same (study, version, set)", ls[0].info.Version, ls[1].info.Version)
	}
	agree, sets := 0, 0
	for lo := 39; lo <= 78; lo++ {
		for _, sex := range []string{"female", "male"} {
			f := and(eq("sex", sex), rng("age", fp(float64(lo)), nil))
			var noise [2]int
			for i := range engines {
				noise[i] = feasibilityNoise(keys[i], "lung", ls[i].info.Version, ls[i].evalFilter(f), pol.FeasibilityNoise)
			}
			sets++
			if noise[0] == noise[1] {
				agree++
			}
		}
	}
	t.Logf("the noise of two sites agrees on %d of %d sets (independent: 1/7 ≈ %.0f)", agree, sets, float64(sets)/7)
	// Binomial(80, 1/7): mean 11.4, sd 3.1; identical keys would agree on all 80.
	if agree > 30 {
		t.Errorf("the noise agrees on %d of %d sets: not independent between sites", agree, sets)
	}

	// Answers, and everything that left or was logged, hold no trace of the key.
	var replies []string
	for lo := 40; lo <= 70; lo += 5 {
		for _, e := range engines {
			r := mustOK(t, e.Handle(ctx, feasQuery("alice", rng("age", fp(float64(lo)), nil))))
			body, _ := json.Marshal(r)
			replies = append(replies, string(body))
		}
	}
	cat := mustOK(t, engines[0].Handle(ctx, protocol.Query{Version: protocol.Version, Kind: protocol.KindCatalog, ID: "c", Analyst: "alice"}))
	body, _ := json.Marshal(cat)
	replies = append(replies, string(body))
	for i, s := range stores {
		recs, err := VerifyAudit(ctx, s)
		if err != nil {
			t.Fatal(err)
		}
		if len(recs) == 0 {
			t.Fatal("no audit records")
		}
		var logged []string
		for _, r := range recs {
			logged = append(logged, r.Query, r.Reason, r.Released, r.Code, r.Kind, r.Study, r.Analyst)
		}
		for _, k := range keys {
			for _, form := range []string{string(k), hex.EncodeToString(k), strings.ToUpper(hex.EncodeToString(k)), base64.StdEncoding.EncodeToString(k), base64.RawURLEncoding.EncodeToString(k)} {
				for _, text := range append(logged, replies...) {
					if strings.Contains(text, form) {
						t.Fatalf("site %d: the secret appears in %q", i, text)
					}
				}
			}
		}
	}

	// Restart and replica: the same key, hence the same answer.
	q := feasQuery("alice", eq("sex", "female"))
	before := feasAnswer(t, engines[0], q)
	again, err := NewEngine(ctx, openStore(t, stores[0].Path()), Config{InsecureOpen: true, Policy: &pol})
	if err != nil {
		t.Fatal(err)
	}
	k, err := again.siteSecret(ctx)
	if err != nil || string(k) != string(keys[0]) {
		t.Fatalf("the secret changed on reopening the database: %v", err)
	}
	if after := feasAnswer(t, again, q); after != before {
		t.Fatalf("the same set answered %d, then %d after a restart", before, after)
	}
}

// The feasibility settings of a policy file: absent fields keep the defaults (rounding 10,
// noise ±3, no extra cap: the shared budget bounds them; exact feasibility counts in the exact
// policy); an old file's feasibility_budget is kept as the extra cap; a
// rounding below 1 and negative values are refused. A policy built in code before the fields
// existed gets the defaults' rounding and noise, unless it is exact.
func TestParseFeasibilityPolicy(t *testing.T) {
	for doc, want := range map[string][3]int{
		`{}`: {10, 3, 0},
		`{"daily_query_budget":500,"feasibility_budget":2000}`:                                       {10, 3, 2000},
		`{"feasibility_rounding":5,"feasibility_noise":0,"feasibility_budget":0}`:                    {5, 0, 0},
		`{"min_cohort":0,"min_cell":0,"bin_days":0,"overlap_guard":false}`:                           {1, 0, 0},
		`{"min_cohort":0,"min_cell":0,"bin_days":0,"overlap_guard":false,"feasibility_rounding":10}`: {10, 0, 0},
		`{"min_cohort":0,"min_cell":0,"bin_days":0,"overlap_guard":false,"feasibility_budget":100}`:  {1, 0, 100},
		`{"min_cell":11,"feasibility_noise":5}`:                                                      {10, 5, 0},
	} {
		p, err := ParsePolicy([]byte(doc))
		if got := [3]int{p.FeasibilityRounding, p.FeasibilityNoise, p.FeasibilityBudget}; err != nil || got != want {
			t.Errorf("%s: rounding, noise, budget %v (%v), want %v", doc, got, err, want)
		}
	}
	for _, bad := range []string{`{"feasibility_rounding":0}`, `{"feasibility_rounding":-10}`, `{"feasibility_noise":-1}`,
		`{"feasibility_budget":-1}`, `{"feasibility_noise":100000000}`, `{"feasibility_roundng":10}`} {
		if _, err := ParsePolicy([]byte(bad)); err == nil {
			t.Errorf("%s accepted", bad)
		}
	}
	literal := protocol.Policy{MinCohort: 10, MinCell: 5, OverlapGuard: true}
	if p := withFeasibilityDefaults(literal); p.FeasibilityRounding != 10 || p.FeasibilityNoise != 3 || p.FeasibilityBudget != 0 {
		t.Errorf("protective literal policy: %+v", p)
	}
	if p := withFeasibilityDefaults(protocol.Policy{}); p.FeasibilityRounding != 1 || p.FeasibilityNoise != 0 {
		t.Errorf("exact literal policy: %+v", p)
	}
	if p := withFeasibilityDefaults(protocol.Policy{FeasibilityRounding: 5, FeasibilityNoise: -2, FeasibilityBudget: -1}); p.FeasibilityRounding != 5 || p.FeasibilityNoise != 0 || p.FeasibilityBudget != 0 {
		t.Errorf("negative noise and budget in a literal policy: %+v", p)
	}
	if p := withFeasibilityDefaults(ExactPolicy()); p != ExactPolicy() {
		t.Errorf("ExactPolicy changed: %+v", p)
	}
}
