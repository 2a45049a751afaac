package node

import (
	"context"
	"math"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/oncofed/oncofed/dp"
	"github.com/oncofed/oncofed/protocol"
)

// dpLung is the lung study behind an engine listing dora (role dp) and tom (trusted).
type dpLung struct {
	e         *Engine
	store     *SQLiteStore
	clock     *fixedClock
	dora, tom *protocol.Signer
	analysts  *Analysts
	dbPath    string
}

func newDPLung(t *testing.T, pol protocol.Policy, csvPath string) *dpLung {
	t.Helper()
	return newDPLungSpec(t, pol, csvPath, lungSpec)
}

// newDPLungSpec is newDPLung importing csvPath under spec.
func newDPLungSpec(t *testing.T, pol protocol.Policy, csvPath string, spec ImportSpec) *dpLung {
	t.Helper()
	clock := &fixedClock{t: time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)}
	a, err := ParseAnalysts(strings.NewReader("dora " + pubText(testKey(4)) + "\ntom " + pubText(testKey(5)) + " trusted\n"))
	if err != nil {
		t.Fatal(err)
	}
	dbPath := filepath.Join(t.TempDir(), "lung.db")
	store := importFile(t, dbPath, csvPath, spec)
	e, err := NewEngine(context.Background(), store, Config{Policy: &pol, Now: clock.now, Analysts: a})
	if err != nil {
		t.Fatal(err)
	}
	return &dpLung{e: e, store: store, clock: clock, analysts: a, dbPath: dbPath,
		dora: protocol.NewSigner(testKey(4), clock.now), tom: protocol.NewSigner(testKey(5), clock.now)}
}

// survivalQuery is a KM query of the lung study, by sex when group is set.
func survivalQuery(group bool) protocol.Query {
	q := query(protocol.KindSurvival)
	q.Endpoint = "OS"
	if group {
		q.GroupBy = "sex"
	}
	return q
}

// A dp analyst gets noisy counts and survival tables, labelled with mechanism, ρ and the
// budget left, valid for the client; Cox models are refused before any data is read; the audit log records each cost and still verifies.
func TestDPReleases(t *testing.T) {
	pol := DefaultPolicy()
	l := newDPLung(t, pol, lungCSV)
	c := mustOK(t, handleJSON(t, l.e, sign(t, l.dora, query(protocol.KindCount))))
	d := c.Policy.DP
	if d == nil || d.Mechanism != "discrete-gaussian" || d.Rho != 0.005 || d.Sigma2 != 100 {
		t.Fatalf("count's DP label %+v", d)
	}
	if math.Abs(d.LeftToday-0.245) > 1e-12 || math.Abs(d.LeftTotal-1.995) > 1e-12 {
		t.Errorf("budget left %v today, %v in total; want 0.245, 1.995", d.LeftToday, d.LeftTotal)
	}
	// 227 patients; sd 10: 8 sd is a bug, not bad luck (p < 1e-15).
	if n := c.Count.Total.N; n < 227-80 || n > 227+80 {
		t.Errorf("noisy count %d, 227 ± 8 sd", n)
	}
	if err := protocol.ValidateReply(query(protocol.KindCount), c); err != nil {
		t.Errorf("the client refuses the reply: %v", err)
	}

	km := mustOK(t, handleJSON(t, l.e, sign(t, l.dora, survivalQuery(true))))
	if km.Policy.DP == nil || km.Policy.DP.Mechanism != "survival-sqrt" || km.Policy.DP.Rho > DefaultDP.DPRhoSurvival || km.Policy.BinDays != 30 ||
		km.Policy.TruncatedAfter == nil || *km.Policy.TruncatedAfter != 3650 {
		t.Fatalf("survival's labels %+v (DP %+v)", km.Policy, km.Policy.DP)
	}
	if len(km.Survival.Groups) != 2 {
		t.Fatalf("%d groups, want female and male", len(km.Survival.Groups))
	}
	for _, g := range km.Survival.Groups {
		for _, tm := range g.Time {
			if math.Mod(tm, 30) != 0 || tm > 3650+30 {
				t.Fatalf("group %s: time %v off the public 30-day grid", g.Group, tm)
			}
		}
	}
	if err := protocol.ValidateReply(survivalQuery(true), km); err != nil {
		t.Errorf("the client refuses the reply: %v", err)
	}

	// The catalog tells each analyst their standing: dora's ρ left for lung, tom's queries.
	cq := query(protocol.KindCatalog)
	cat := mustOK(t, handleJSON(t, l.e, sign(t, l.dora, cq)))
	if err := protocol.ValidateReply(cq, cat); err != nil {
		t.Errorf("catalog refused by the client: %v", err)
	}
	you := cat.Catalog.You
	if you == nil || you.Role != "dp" || you.QueriesLeft != pol.DailyQueryBudget-2 ||
		math.Abs(you.RhoLeftToday["lung"]-(DefaultDP.DPRhoDaily-0.005-km.Policy.DP.Rho)) > 1e-12 || math.Abs(you.RhoLeftTotal["lung"]-(2-0.005-km.Policy.DP.Rho)) > 1e-12 {
		t.Errorf("dora's standing %+v", you)
	}
	if you := mustOK(t, handleJSON(t, l.e, sign(t, l.tom, cq))).Catalog.You; you == nil || you.Role != "trusted" || you.QueriesLeft != pol.DailyQueryBudget || you.RhoLeftToday != nil {
		t.Errorf("tom's standing %+v", you)
	}
	for _, k := range []protocol.Kind{protocol.KindCox} {
		r := handleJSON(t, l.e, sign(t, l.dora, query(k)))
		wantCode(t, r, protocol.CodeRefusedByPolicy)
		if !strings.Contains(r.Error.Message, "dp role") || r.Policy.DP != nil {
			t.Errorf("%s: %v", k, r.Error)
		}
	}
	// The trusted analyst gets the exact rule-based release.
	if r := mustOK(t, handleJSON(t, l.e, sign(t, l.tom, query(protocol.KindCount)))); r.Count.Total.N != 227 || r.Policy.DP != nil {
		t.Errorf("trusted count %d, DP %+v", r.Count.Total.N, r.Policy.DP)
	}

	recs, err := VerifyAudit(context.Background(), l.store)
	if err != nil {
		t.Fatal(err)
	}
	var spent float64
	for _, r := range recs {
		if r.Analyst == "dora" {
			spent += r.Rho
		} else if r.Rho != 0 {
			t.Errorf("%s charged ρ=%v", r.Analyst, r.Rho)
		}
	}
	if want := 0.005 + km.Policy.DP.Rho; math.Abs(spent-want) > 1e-12 {
		t.Errorf("audit charges dora ρ=%v, want %v", spent, want)
	}
}

// A query that would exceed the budget is refused before anything is computed (a query naming
// an unknown variable gets the budget's refusal, not not_found) and costs nothing; the day's
// budget renews at midnight UTC, the lifetime budget never; a cohort refused as small on its
// noisy size is charged, as its decision used the data.
func TestDPBudget(t *testing.T) {
	pol := DefaultPolicy()
	pol.DPRhoDaily, pol.DPRhoTotal = 0.02, 0.03
	l := newDPLung(t, pol, lungCSV)
	for i := 0; i < 4; i++ {
		mustOK(t, handleJSON(t, l.e, sign(t, l.dora, query(protocol.KindCount))))
	}
	bad := query(protocol.KindCount)
	bad.Cohort = eq("no_such_variable", "x")
	r := handleJSON(t, l.e, sign(t, l.dora, bad))
	wantCode(t, r, protocol.CodeRefusedByPolicy)
	if !strings.Contains(r.Error.Message, "today's budget of 0.02") {
		t.Errorf("over the day's budget: %v", r.Error)
	}
	if rec := lastAudit(t, l.store); rec.Rho != 0 || rec.Outcome != OutcomeRefused {
		t.Errorf("the budget's refusal charged ρ=%v (%s)", rec.Rho, rec.Outcome)
	}
	// Another study's budget, another analyst's and the trusted role are separate.
	mustOK(t, handleJSON(t, l.e, sign(t, l.tom, query(protocol.KindCount))))

	l.clock.t = l.clock.t.Add(24 * time.Hour)
	mustOK(t, handleJSON(t, l.e, sign(t, l.dora, query(protocol.KindCount))))
	mustOK(t, handleJSON(t, l.e, sign(t, l.dora, query(protocol.KindCount))))
	r = handleJSON(t, l.e, sign(t, l.dora, query(protocol.KindCount)))
	wantCode(t, r, protocol.CodeRefusedByPolicy)
	if !strings.Contains(r.Error.Message, "lifetime budget of 0.03") {
		t.Errorf("over the lifetime budget: %v", r.Error)
	}

	// Refused as small on the noisy size: charged. (ρ = 50: noise of sd 0.1, so that 3
	// patients are below min_cohort for certain.)
	pol = DefaultPolicy()
	pol.DPRhoCount, pol.DPRhoDaily, pol.DPRhoTotal = 50, 100, 100
	l = newDPLung(t, pol, lungCSV)
	small := query(protocol.KindCount)
	small.Cohort = and(eq("sex", "female"), rng("age", fp(80), nil)) // 3 women aged 80 or more
	r = handleJSON(t, l.e, sign(t, l.dora, small))
	wantCode(t, r, protocol.CodeRefusedByPolicy)
	if !strings.Contains(r.Error.Message, "min_cohort") || r.Policy.DP == nil || r.Policy.DP.Rho != 50 {
		t.Errorf("small cohort on noisy size: %v, DP %+v", r.Error, r.Policy.DP)
	}
	if rec := lastAudit(t, l.store); rec.Rho != 50 {
		t.Errorf("the noisy refusal charged ρ=%v, want 50", rec.Rho)
	}
}

// The budget is kept in the site database: a restarted node, and two replicas answering at
// the same instant, never let an analyst spend more than the budget.
func TestDPBudgetAcrossProcessesAndReplicas(t *testing.T) {
	pol := DefaultPolicy()
	pol.DPRhoDaily = 0.05 // ten counts
	l := newDPLung(t, pol, lungCSV)
	for i := 0; i < 3; i++ {
		mustOK(t, handleJSON(t, l.e, sign(t, l.dora, query(protocol.KindCount))))
	}
	// A second engine on its own connection to the same file, as a restart or a replica.
	other, err := NewEngine(context.Background(), openStore(t, l.dbPath), Config{Policy: &pol, Now: l.clock.now, Analysts: l.analysts})
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	answered := 0
	var wg sync.WaitGroup
	for i := 0; i < 20; i++ {
		wg.Add(1)
		go func(e *Engine) {
			defer wg.Done()
			r := handleJSON(t, e, sign(t, l.dora, query(protocol.KindCount)))
			if r.Error == nil {
				mu.Lock()
				answered++
				mu.Unlock()
			}
		}([]*Engine{l.e, other}[i%2])
	}
	wg.Wait()
	if answered != 7 {
		t.Errorf("%d of 20 concurrent counts answered after 3, want exactly 7 (budget 0.05 at 0.005)", answered)
	}
}

// withoutFirstPatient writes lung.csv without its first patient (id 1) and returns the path.
func withoutFirstPatient(t *testing.T) string {
	t.Helper()
	data, err := os.ReadFile(lungCSV)
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.SplitAfter(string(data), "\n")
	if !strings.HasPrefix(lines[1], "1,") {
		t.Fatalf("first data line %q is not patient 1", lines[1])
	}
	path := filepath.Join(t.TempDir(), "lung-minus-1.csv")
	if err := os.WriteFile(path, []byte(lines[0]+strings.Join(lines[2:], "")), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// advantageBound is the largest membership advantage P(guess in | in) − P(guess in | out)
// any test can have against a ρ-zCDP release: (e^ε − 1 + 2δ(ε)) / (e^ε + 1) for every ε,
// with δ(ε) from Canonne, Kamath & Steinke (2020, Cor. 13); the smallest over a grid of ε.
func advantageBound(rho float64) float64 {
	best := 1.0
	for eps := 0.01; eps < 20; eps += 0.01 {
		if b := (math.Exp(eps) - 1 + 2*dp.DeltaCKS(rho, eps)) / (math.Exp(eps) + 1); b < best {
			best = b
		}
	}
	return best
}

// Membership inference against the dp role: the attacker knows everything about the cohort
// but whether patient 1 is in it (the site holds lung.csv with or without that patient), asks
// 200 counts and 200 survival tables of each world and guesses "in" when the released size
// exceeds 226.5. The empirical advantage stays within the bound the spent ρ implies (plus 3
// standard errors of the estimate); the same attacker against the trusted role, which gets
// exact counts, is always right — so the experiment does detect a leak.
func TestDPMembershipInference(t *testing.T) {
	pol := DefaultPolicy()
	pol.DPRhoCount, pol.DPRhoSurvival = 0.2, 0.2 // large ρ, so that the bound is informative
	pol.DPRhoDaily, pol.DPRhoTotal = 1e6, 1e6
	in := newDPLung(t, pol, lungCSV)
	out := newDPLung(t, pol, withoutFirstPatient(t))
	const trials = 200
	size := func(r protocol.Reply) int {
		if r.Count != nil {
			return r.Count.Total.N
		}
		n := 0
		for _, g := range r.Survival.Groups {
			for i := range g.Time {
				n += g.Events[i] + g.Censor[i]
			}
		}
		return n
	}
	for _, q := range []protocol.Query{query(protocol.KindCount), survivalQuery(false)} {
		guessedIn := map[*dpLung]int{}
		var rho float64
		for _, world := range []*dpLung{in, out} {
			for i := 0; i < trials; i++ {
				r := mustOK(t, handleJSON(t, world.e, sign(t, world.dora, q)))
				rho = r.Policy.DP.Rho
				if size(r) >= 227 {
					guessedIn[world]++
				}
			}
		}
		adv := float64(guessedIn[in]-guessedIn[out]) / trials
		bound := advantageBound(rho)
		se := math.Sqrt(0.5 / trials) // sd of a difference of two proportions, at most
		t.Logf("%s: advantage %.3f over %d trials per world, bound %.3f at ρ=%g", q.Kind, adv, trials, bound, rho)
		if adv > bound+3*se {
			t.Errorf("%s: membership advantage %.3f exceeds the ρ=%g bound %.3f + 3 se", q.Kind, adv, rho, bound)
		}
		exactIn := mustOK(t, handleJSON(t, in.e, sign(t, in.tom, q)))
		exactOut := mustOK(t, handleJSON(t, out.e, sign(t, out.tom, q)))
		if size(exactIn) != 227 || size(exactOut) != 226 {
			t.Errorf("%s: trusted sizes %d and %d, want 227 and 226: the attacker's rule is always right", q.Kind, size(exactIn), size(exactOut))
		}
	}
}

// Without min_cell (an exact policy) a dp analyst's grouped count shows a noisy group at or
// below zero as 0, and its total is the sum of what is shown, so the client accepts every
// reply (noise of sd 1,000 makes such groups common).
func TestDPGroupedCountWithoutMinCell(t *testing.T) {
	pol := ExactPolicy()
	pol.DPRhoCount, pol.DPRhoDaily, pol.DPRhoTotal = 5e-7, 1, 1
	l := newDPLung(t, pol, lungCSV)
	q := query(protocol.KindCount)
	q.GroupBy = "ecog"
	zeros := 0
	for i := 0; i < 40; i++ {
		r := mustOK(t, handleJSON(t, l.e, sign(t, l.dora, q)))
		if err := protocol.ValidateReply(q, r); err != nil {
			t.Fatalf("release %d refused by the client: %v", i, err)
		}
		sum := r.Count.Missing.N
		for _, g := range r.Count.Groups {
			sum += g.N
			if g.N == 0 {
				zeros++
			}
		}
		if sum != r.Count.Total.N {
			t.Fatalf("release %d: groups sum to %d, total %d", i, sum, r.Count.Total.N)
		}
	}
	if zeros == 0 {
		t.Errorf("no group shown as 0 in 40 releases with noise of sd 1,000: the test tests nothing")
	}
}

// A dp analyst's query refused for the daily query budget (public: the analyst's own query
// count) releases nothing computed, so it costs no ρ: before, the DP charge was taken first and
// the refusal came after, spending ρ on an answer that never left.
func TestDPQueryBudgetRefusalIsFree(t *testing.T) {
	pol := DefaultPolicy()
	pol.DailyQueryBudget = 2
	l := newDPLung(t, pol, lungCSV)
	for range 2 {
		mustOK(t, handleJSON(t, l.e, sign(t, l.dora, query(protocol.KindCount))))
	}
	catalog := protocol.Query{Version: protocol.Version, Kind: protocol.KindCatalog, ID: "c"}
	left := func() float64 {
		return mustOK(t, handleJSON(t, l.e, sign(t, l.dora, catalog))).Catalog.You.RhoLeftToday["lung"]
	}
	before := left()
	r := handleJSON(t, l.e, sign(t, l.dora, query(protocol.KindCount)))
	wantCode(t, r, protocol.CodeRefusedByPolicy)
	if r.Error.Reason != protocol.ReasonDailyBudget {
		t.Fatalf("third query: %+v, want the daily query budget's refusal", r.Error)
	}
	if rec := lastAudit(t, l.store); rec.Rho != 0 || rec.Outcome != OutcomeRefused {
		t.Errorf("the query budget's refusal charged ρ=%v (%s)", rec.Rho, rec.Outcome)
	}
	if after := left(); after != before || !(before > 0) {
		t.Errorf("ρ left today %v before the refused query, %v after", before, after)
	}
	if r.Policy.DP != nil {
		t.Errorf("the refusal carries DP effects %+v", r.Policy.DP)
	}
}
