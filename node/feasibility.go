package node

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"math/rand/v2"

	"github.com/oncofed/oncofed/protocol"
)

// Feasibility counts (protocol.Query.Feasibility) are what a live cohort panel asks on every
// edit. They are approximate, as in i2b2/SHRINE and TriNetX, but stronger:
//
//   - n = |S| below min_cohort is refused exactly as an exact count would be, and nothing is
//     remembered;
//   - otherwise, when the node answered a set S₀ of the same study version before, to any
//     analyst, with |S₀ Δ S| < min_cell (the overlap guard's distance), S gets S₀'s answer
//     exactly — the nearest such S₀, the earliest of equally near ones, so that the choice is
//     deterministic and a set one patient from a remembered S₀ gets S₀'s answer even when an
//     earlier remembered set lies within min_cell too — and S itself is not remembered;
//   - else S gets a fresh answer round(n + noise(S), r), the nearest multiple of the rounding
//     r, where noise(S) is an integer uniform in [−k, +k]; should that fall below min_cohort
//     the answer is the same refusal, so a small answer and a small cohort look alike. The
//     node remembers (S, answer), the refusal too (else a near duplicate asked later could
//     be answered where S is refused), in the site database (migration 005), for everyone;
//   - noise(S) is a function of the patient set, not of the query: it is drawn from a
//     ChaCha8 stream keyed by HMAC-SHA256(site secret, study, study version, S's bitset),
//     so the answer of a fresh set does not depend on who asks first either;
//   - the overlap guard checks a new answer only against rules 3 and 7 (as a cohort, with the
//     analyst's exact releases: guardfeas.go), and it remembers, per analyst, the set whose
//     answer each gave (rule 6, guardfeas.go): an exact release fewer than min_cell patients
//     from it is refused unless that set's own answer was created through the release's
//     definition (the count of the final cohort, then its run, stay answered); each is charged feasibility_cost (default 0.25) of
//     a query to the daily budget exact queries use too (Engine.checkDailyBudget; the optional
//     feasibility_budget caps their number besides), and they are audited like every query
//     (the audit record names the remembered set whose answer was released).
//   - every patient set released exactly (rule-based releases: cohorts, groups, cells) is
//     remembered too, with its own fresh answer, in the release's transaction
//     (Engine.registerExact), so that a feasibility count one patient from an exactly
//     counted padding set gets the padding's answer whether that patient is in or not.
//
// Why S is not remembered (pointing at S₀): remembered feasibility sets then stay min_cell or
// more apart (exactly released sets need not be), and every answer stays within
// k + min_cell − 1 of the true size before rounding. A chain of
// small edits in the live panel (age ≥ 60, 61, 62, …) gets a fresh answer once it has moved
// min_cell patients from the set it started from; chained sets would carry the first answer
// arbitrarily far. Nor would chaining close the boundary below: the attacker picks the order.
//
// The lookup and the record of a fresh answer are part of the Release transaction, under the
// lock that orders release decisions, so replicas serving one database give near duplicates
// asked at the same instant one answer; each engine caches the remembered sets as the guard
// caches released ones (a scan with a size pre-filter and XOR-and-popcount: about 6 to 9 µs
// over 2,000 sets of a 3,000-patient study, BenchmarkFeasibilitySticky).
//
// What this guarantees. The same set, asked again, through an equivalent filter or by another
// analyst, gets one answer, so averaging learns nothing. A set and a near duplicate (fewer than
// min_cell patients apart) asked after it get the same answer, whoever asks and in whichever
// order, provided no remembered set lies at the boundary (see below): in particular S and S
// minus patient x. Before sticky answers those differed with probability 0 to 25/49 by
// n mod 10, 17/70 ≈ 0.24 on average, and an analyst able to isolate x by quasi-identifiers
// learnt from 30 pairs (S_i, S_i minus x) whether x is in S_i (TestAttackFeasibilityMembership:
// a member was told apart by 7 to 10 differing pairs of 30 over 6 runs; a non-member's sets
// are identical). Now every such pair is identical for the member and the non-member alike.
//
// What it does not. Sets min_cell or more apart are answered independently, like exact
// releases under the guard, and answers are deterministic: an analyst who can also name
// min_cell − 1 patients known to be outside S can build B = S ∪ those patients, min_cell − 1
// from S minus x when x ∉ S (same answer) but min_cell from it when x ∈ S (its own answer,
// different with probability about one half): TestAttackFeasibilityStickyBoundary tells a
// member apart in two counts per try. Any rule that answers near duplicates alike and far
// sets independently has such a boundary; only noise that grows with the number of counts
// allowed (differential privacy's accounting), or far fewer counts, bounds what an attacker
// learns. The shared daily budget bounds the counts per analyst and day (2,000 by default,
// fewer the more exact queries the analyst asks), and the audit log
// shows the pattern (the same set with and without one patient; sets padded by a few named
// patients). A sticky answer is also less accurate: it is S₀'s, so it may differ from |S| by
// up to k + min_cell − 1 before rounding (the reply's noise label still says k).

// feasibilityNoise returns the noise of the patient set rows of one load of a study: an
// integer uniform in [−k, +k] (k = 0: none), the same for the same set and key.
func feasibilityNoise(key []byte, study string, version int64, rows bitset, k int) int {
	if k <= 0 {
		return 0
	}
	mac := hmac.New(sha256.New, key)
	var buf [8]byte
	// Length-prefixed, so that no (study, version, set) serialises like another.
	binary.LittleEndian.PutUint64(buf[:], uint64(len(study)))
	mac.Write(buf[:])
	mac.Write([]byte(study))
	binary.LittleEndian.PutUint64(buf[:], uint64(version))
	mac.Write(buf[:])
	for _, w := range rows {
		binary.LittleEndian.PutUint64(buf[:], w)
		mac.Write(buf[:])
	}
	var seed [32]byte
	copy(seed[:], mac.Sum(nil))
	// IntN is unbiased (it rejects the uneven tail), unlike a bare modulo of the digest.
	return rand.New(rand.NewChaCha8(seed)).IntN(2*k+1) - k
}

// roundToMultiple rounds x to the nearest multiple of r ≥ 1, a half up (15 → 20 with r = 10);
// x ≤ 0 (possible only with min_cohort 0) gives 0.
func roundToMultiple(x, r int) int {
	if x <= 0 {
		return 0
	}
	return (x + r/2) / r * r
}

// errSmallCohort is the refusal of a cohort below min_cohort. Exact and feasibility counts
// share it word for word, so that the refusal of a feasibility answer rounded below
// min_cohort cannot be told from that of a small cohort.
func errSmallCohort(minCohort int) error {
	return refusef(protocol.ReasonSmallCohort, float64(minCohort), "cohort has fewer than min_cohort=%d patients", minCohort)
}

// feasibilityCount computes the fresh answer to a feasibility count of c (n ≥ min_cohort,
// checked by compute): round(n + noise(c's set), r). Whether that or the answer of a
// remembered near-duplicate set is released, and whether it is the small-cohort refusal, is
// decided within the release transaction (Engine.stickyCount). Its answer carries no patient
// set for the overlap guard, which does not check it; the set whose answer it gets joins the
// analyst's guard memory (Engine.recordFeasibilityGiven).
func (e *Engine) feasibilityCount(ctx context.Context, c *cohort, reply *protocol.Reply) (answer, error) {
	key, err := e.siteSecret(ctx)
	if err != nil {
		return answer{}, errorf(protocol.CodeInternal, "feasibility noise unavailable")
	}
	r, k := e.policy.FeasibilityRounding, e.policy.FeasibilityNoise
	noise := feasibilityNoise(key, c.study.data.Name, c.study.info.Version, c.rows, k)
	reply.Count = &protocol.CountReply{}
	reply.Policy.FeasibilityRounding, reply.Policy.FeasibilityNoise = r, k
	return answer{feas: &feasPending{rows: c.rows, n: c.n, fresh: roundToMultiple(c.n+noise, r), region: regionOf(c.filter), def: canonFilter(c.filter)}}, nil
}

// feasPending is a feasibility count computed before the release decision.
type feasPending struct {
	rows  bitset
	n     int // |rows|
	fresh int // round(n + noise(rows), r): the answer unless a near-duplicate set was answered
	// region is the cohort definition's (regionOf): a fresh answer is remembered with it.
	region string
	// def is the cohort's canonical definition (the guard's region algebra, guardfeas.go).
	def *protocol.Filter
}

// feasKey names the feasibility sets of one load of a study.
type feasKey struct {
	study   string
	version int64
}

// feasSets is the engine's cache of the feasibility sets of one study version, committed
// ones only, in ID order, as guardSets is for the overlap guard.
type feasSets struct {
	sets   []FeasibilitySet
	lastID int64 // highest store ID read
}

// feasView is the feasibility state within one Release transaction: the cache, plus what
// other processes serving the same database remembered since it was last topped up, plus
// what this transaction saves.
type feasView struct {
	fs     *feasSets
	added  []FeasibilitySet // read or saved in this transaction, not yet in fs
	lastID int64
}

// commit moves what the transaction read and saved into the cache. Call it only once the
// Release committed; called with e.decide held.
func (v *feasView) commit() {
	v.fs.sets = append(v.fs.sets, v.added...)
	v.fs.lastID = max(v.fs.lastID, v.lastID)
}

// stickyRadius is the distance below which a feasibility set gets the answer of a remembered
// one: min_cell, the overlap guard's, and at least 1 (identical sets).
func (e *Engine) stickyRadius() int { return max(e.policy.MinCell, 1) }

// nearest returns the remembered set S nearest to rows (n = |rows|) with |S Δ rows| < radius,
// the earliest of equally near ones, or false. The cache holds lower IDs than the
// transaction's additions, so scanning the cache first and each in order meets the earliest
// first. Nearest rather than earliest: an exactly released P is remembered (registerExact)
// even within min_cell of an earlier set R, and P ∪ {x} must get P's answer, not R's, or
// whether x is in would show as R's answer versus P's.
func (v *feasView) nearest(rows bitset, n, radius int) (FeasibilitySet, bool) {
	best, bestD := FeasibilitySet{}, radius
	for _, sets := range [][]FeasibilitySet{v.fs.sets, v.added} {
		for _, s := range sets {
			// |S Δ S'| ≥ ||S| − |S'||: most sets are skipped on their size alone.
			if d := n - s.Size; d >= bestD || -d >= bestD || len(s.Bits) != len(rows) {
				continue
			}
			if d := xorCount(rows, s.Bits, bestD); d < bestD {
				best, bestD = s, d
				if d == 0 {
					return best, true
				}
			}
		}
	}
	return best, bestD < radius
}

// stickyCount decides, within tx, the answer to the feasibility count p of ls: the answer of
// the nearest remembered set that differs from p's by fewer than min_cell patients, else p's
// fresh answer, which is then remembered with p's region (a fresh answer below min_cohort
// too: it is the refusal, and a near duplicate must get the same refusal). It returns the
// remembered set whose answer it is; the caller refuses an answer below min_cohort. An exact
// feasibility policy (rounding 1, no noise) releases the fresh answer and remembers nothing
// (the set returned has ID 0): its counts are labelled exact. Called with e.decide held.
func (e *Engine) stickyCount(ctx context.Context, tx ReleaseTx, ls *loadedStudy, p *feasPending) (*feasView, FeasibilitySet, error) {
	if e.feasibilityExact() {
		return nil, FeasibilitySet{Answer: p.fresh}, nil
	}
	v, err := e.feasView(ctx, tx, ls)
	if err != nil {
		return nil, FeasibilitySet{}, err
	}
	if s, ok := v.nearest(p.rows, p.n, e.stickyRadius()); ok {
		return v, s, nil
	}
	f, err := v.save(ctx, tx, ls, p.rows, p.n, p.fresh, p.region)
	if err != nil {
		return nil, FeasibilitySet{}, err
	}
	return v, f, nil
}

// feasibilityExact reports whether feasibility counts are exact (rounding 1, no noise): then
// nothing is remembered.
func (e *Engine) feasibilityExact() bool {
	return e.policy.FeasibilityRounding <= 1 && e.policy.FeasibilityNoise <= 0
}

// feasView reads, within tx, the feasibility sets of ls remembered since the cached ones.
// Called with e.decide held.
func (e *Engine) feasView(ctx context.Context, tx ReleaseTx, ls *loadedStudy) (*feasView, error) {
	k := feasKey{ls.data.Name, ls.info.Version}
	fs, ok := e.feasible[k]
	if !ok {
		fs = &feasSets{}
		e.feasible[k] = fs
	}
	v := &feasView{fs: fs, lastID: fs.lastID}
	sets, err := tx.FeasibilitySets(ctx, k.study, k.version, fs.lastID)
	if err != nil {
		return nil, err
	}
	words := (ls.data.Len() + 63) / 64
	for _, s := range sets {
		v.lastID = max(v.lastID, s.ID)
		if len(s.Bits) == words {
			v.added = append(v.added, s)
		}
	}
	return v, nil
}

// save remembers, within tx, the set rows (n patients) with answer, given through region.
func (v *feasView) save(ctx context.Context, tx ReleaseTx, ls *loadedStudy, rows bitset, n, answer int, region string) (FeasibilitySet, error) {
	f, err := tx.SaveFeasibilitySet(ctx, FeasibilitySet{Study: ls.data.Name, Version: ls.info.Version, Size: n, Bits: rows, Answer: answer, Region: region})
	if err != nil {
		return FeasibilitySet{}, err
	}
	// Every other set was read above under the same lock, so no ID below f.ID is unseen.
	v.added = append(v.added, f)
	v.lastID = max(v.lastID, f.ID)
	return f, nil
}

// registerExact remembers, within tx, every set of an exact release (sets: the overlap
// guard's) as a feasibility set with its own fresh answer round(|S| + noise(S), r), unless the
// same set is remembered already. Otherwise an exact count of a padding set P and feasibility
// counts of T = P ∪ (x if x has the secret value), with many paddings, tell whether x has it:
// T's feasibility answer would be a fresh draw around |P| + 1 for a member and P's own
// draw, around |P|, for a non-member. Now T, one patient from P, gets P's answer in both
// cases, as the nearest remembered set (nearest, not earliest: an earlier set R within
// min_cell of T would give R's answer to P ∪ {x} and P's to P). Its own answer, not that of a
// remembered set near it: inheriting one would carry answers of sets the attacker asked
// before the exact count, whose answers depend on x, to P and so to T. Remembered sets are then
// no longer min_cell apart; every answer is still that of a set within min_cell − 1 of the
// one asked, so within k + min_cell − 1 of its size before rounding.
//
// Feasibility counts asked before the exact release are not covered here: a fresh answer
// given to P ∪ {x} before P was released exactly stays what it was; the overlap guard then
// refuses the exact release of P instead (rule 6, guardfeas.go; TestAttackGuardFeasibilityExact,
// "reverse"). Each set is remembered with the region it was released through. Called with
// e.decide held.
func (e *Engine) registerExact(ctx context.Context, tx ReleaseTx, ls *loadedStudy, sets []bitset, regions []string, key []byte) (*feasView, error) {
	v, err := e.feasView(ctx, tx, ls)
	if err != nil {
		return nil, err
	}
	r, k := e.policy.FeasibilityRounding, e.policy.FeasibilityNoise
	for i, s := range sets {
		n := s.count()
		if _, ok := v.nearest(s, n, 1); ok {
			continue // remembered already
		}
		answer := roundToMultiple(n+feasibilityNoise(key, ls.data.Name, ls.info.Version, s, k), r)
		if _, err := v.save(ctx, tx, ls, s, n, answer, regions[i]); err != nil {
			return nil, err
		}
	}
	return v, nil
}

// siteSecret returns the store's secret key, read once per engine.
func (e *Engine) siteSecret(ctx context.Context) ([]byte, error) {
	e.secretMu.Lock()
	defer e.secretMu.Unlock()
	if e.secret != nil {
		return e.secret, nil
	}
	key, err := e.store.SiteSecret(ctx)
	if err != nil {
		return nil, err
	}
	if len(key) < 16 {
		return nil, fmt.Errorf("node: site secret of %d bytes", len(key))
	}
	e.secret = key
	return key, nil
}
