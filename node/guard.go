package node

import (
	"context"
	"encoding/json"
	"math/bits"
	"slices"
	"sync/atomic"

	"github.com/oncofed/oncofed/protocol"
)

// The overlap guard stops differencing: an analyst who obtains aggregates over patient sets
// that combine to a handful of patients (A and A minus one patient; S1 = C ∪ D ∪ {x}, C and
// D) learns those patients' values by subtraction. Every patient set whose aggregate or
// count is released (the cohort, each released group, each released cell of a summary) is
// remembered per analyst and study version as a bitset, with the region it was released
// through (region.go: the hash of its canonical definition). A new set S is refused when
//
//  1. it is identical to a remembered set but none of the regions it is released through is
//     one that set was released through (the same patients by a new definition: refused like
//     a near duplicate, so that "identical" and "one patient off" cannot be told apart by the
//     refusal — an identical set by a remembered definition is a re-run, answered, and the
//     checks below are skipped for it, since it releases nothing new);
//  2. |S Δ R| is between 1 and min_cell−1 for a remembered R (the pairwise rule);
//  3. for a remembered R ⊋ S or S itself (the larger set L), pairwise disjoint remembered
//     sets strictly inside L — S among them when L is not S — leave 1..min_cell−1 patients of
//     L: that remainder's count and sums are L's minus the pieces', for any number of pieces
//     (S1 − C − D − E …). Overlapping pieces are not subtracted (their intersections are not
//     released): a summary's cells of two variables overlap and cover the cohort, and must not
//     be refused. The search for such a family is exact up to a budget of 2,048 steps, past
//     which the set is refused;
//  4. for remembered R1 ≠ R2, a signed combination 1_S ± 1_R1 ± 1_R2 is non-zero on 1 to
//     min_cell−1 patients: the released counts and sums give that combination's exactly
//     (S vs R1 ∪ R2 for disjoint R1, R2; S vs R1 \ R2 for R2 ⊆ R1; S − R1 + R2 …), whatever
//     the overlaps. Only the patterns whose size total |S| ± |R1| ± |R2| is below 2·min_cell in
//     absolute value can be (each patient contributes at most 2), so candidates are found by
//     size on a sorted list before any bitset is read;
//  5. for remembered R1, R2, R3, a signed combination 1_S ± 1_R1 ± 1_R2 ± 1_R3 is non-zero on
//     1 to min_cell−1 patients (guard4.go): (A∪B∪{x}) − (A∪C) + (C∪D) − (B∪D) is x, with
//     every pair and triple far apart, and L − C − D + (C ∩ D) is what overlapping pieces
//     leave; candidates are found by size and four sketches before any bitset is read;
//  6. a feasibility answer the analyst was given belongs to a set F with |S Δ F| < min_cell,
//     identical included, and no definition the reply releases created F's answer
//     (guardfeas.go: review class 5 in the reverse order);
//  7. the reply's cohort S and remembered sets of min_cohort or more patients form two
//     families P ∋ S and N, each pairwise disjoint, whose unions differ by 1..min_cell−1
//     patients (guardpacks2.go): Σ_P − Σ_N, for any number of sets —
//     (A∪B∪C∪{x}) + (D∪E∪F) − (A∪D) − (B∪E) − (C∪F) is x, five sets no four of which combine.
//
// A combination of rules 3, 4 and 5 that leaves nobody is refused as well, unless the definitions
// of its sets empty it over the study's public domain (definition.go): A − (A ∧ age < 60) −
// (A ∧ not age < 60) is empty by definition and answered; A − (A ∧ age < 60) −
// (A ∧ age ≥ 60 ∧ (age ≠ 70 ∨ ecog = h)) is empty only when the patient aged 70 has grade h,
// and is refused like the other grades' variants, where it leaves that patient
// (TestAttackGuardEmptyCombinationOracle). Rule 1 is this for pairs, on region hashes. What a
// refusal still depends on is whether a combination holds fewer than min_cell patients: an
// attacker who knows min_cell−1 patients of a difference exactly can still read a threshold
// off it, as off min_cohort, and as off any exact count of a set they know but one of.
//
// The sets of one reply count as remembered for the checks of its later sets, but only in
// combinations that involve a set released before and not released again by the reply: a
// reply's own sets alone are governed by suppression (suppressPartition), as before — a
// summary's cells of two variables may lie within min_cell of each other, or leave a few
// patients of the cohort by a difference, in any order of queries (Table 1 after a KM of the
// same cohort). Within a reply, sets with the same patients are checked once. Every refusal
// has one code and one message, whatever rule refused and whatever the difference, so a
// refusal says nothing beyond "the guard refused".
//
// What it does not stop: linear combinations of five or more sets other than two disjoint
// families (rules 3 and 7), or whose sets are groups, cells or below min_cohort, or whose
// last set is not a reply's cohort (rule 7's scope); combinations with coefficients other
// than ±1; a feasibility answer in a combination with exact releases other than rules 3, 6
// and 7 (guardfeas.go); known padding (an attacker who knows min_cell − 1 patients of a
// difference exactly); differences among the cells of one reply (cells of two variables: as before); and, under the default scope, the
// same attack spread over several analyst keys (the guard is per key unless the policy's
// overlap_guard_scope is "study", guardscope.go). docs/privacy.md collects the rules and limits.
//
// Cost: rules 2–4 use XOR/AND-and-popcount passes over n/64 words, each skipped on sizes
// first, and stopped once min_cell patients differ; rule 3 keeps, for each cached set, the
// union of the cached sets it strictly contains (gset.cover, updated on commit), a bound that
// skips the search for disjoint pieces unless their union leaves fewer than min_cell.
// BenchmarkGuardCheck, one new set against 500 sets released to one analyst for a
// 10,000-patient study (2-core VM shared with other jobs, so ±2×): 0.04 ms for random
// cohorts; 1.4 ms when all 500 contain the new set; 0.8 to 2.6 ms when every pair passes rule
// 4's size filter; 2 to 4 ms when the study is cut into 499 disjoint pieces and the new set is
// 100 of them and one patient (refused by rule 3). Loading the 500 sets into a process's cache
// after a restart, once: 2 to 46 ms. A reply with k sets costs k checks. Rule 5 walks the
// pairs of remembered sets whose sizes can fit (O(m²), the third set's size window followed
// along each pair's list): with it, 30 to 40 ms for random cohorts and nested sets, 16 to 36 ms
// when every pair passes the size filters, 3 to 6 ms for the partition (the VM loaded by other
// jobs); an analyst with 50 sets pays a hundredth of that. Measured again (2026-12-03, same
// VM, loaded): 10 to 25 ms random, 9 to 15 ms nested, 3 to 13 ms sizes, 2 to 7 ms partition.
// Rule 6 adds a size filter and an early-stopping XOR pass per feasibility answer given: 25 to
// 31 µs over 500 given sets that all pass the size filter (the /given sub-benchmarks add 500
// random ones to each layout).

type guardKey struct {
	analyst, study string
	version        int64
}

// gset is one remembered patient set and the regions it was released through.
type gset struct {
	bits    bitset
	size    int
	digest  string
	regions map[string]bool
	// defs are the canonical definitions of its regions that are known (definition.go; rows
	// from before migration 011 have none).
	defs []*protocol.Filter
	// sketch holds Σ sketchWeight over its rows (guard4.go), computed on first use.
	sketch   [sketches]int64
	sketched bool
	// cover is the union of the cached sets strictly contained in this one (nil: none), kept
	// by guardView.commit for the sets in the cache only.
	cover bitset
	// pending marks a set of the reply being checked: sets of one reply are not checked
	// against each other alone (suppression governs a reply's own cells), only in
	// combinations that involve a set released before.
	pending bool
}

// guardSets is the engine's cache of the sets released to one analyst for one study version.
// It holds committed sets only: a transaction's reads and writes join it after the commit
// (guardView.commit), so a rolled-back release leaves neither a set nor a skipped ID behind.
type guardSets struct {
	sets     []*gset
	byDigest map[string]*gset
	// empties are the canonical definitions of the regions released to the analyst with a
	// count of exactly 0 (stored as sets of size 0), by region: public facts for the region
	// algebra (definition.go).
	empties map[string]*protocol.Filter
	// given are the feasibility sets whose answers the analyst was given (rule 6,
	// guardfeas.go), each with the region that created its answer, in store order.
	given         []*gset
	givenByDigest map[string]*gset
	lastID        int64 // highest store ID read
}

// guardView is the guard state within one Release transaction: the cache, plus what other
// processes serving the same database released since the cache was last topped up, plus what
// this transaction saves.
type guardView struct {
	gs      *guardSets
	owner   string // whose memory: the analyst, or the study-wide guard's owner (guardscope.go)
	minCell int
	// minCohort is the policy's: rule 7 combines sets of at least this many patients.
	minCohort int
	words     int
	legacy    bool                         // the pairwise rule only (tests: the guard before regions)
	fresh     []*gset                      // sets read or saved in this transaction that the cache lacks
	byDig     map[string]*gset             // of fresh
	regions   map[*gset][]string           // regions read or saved in this transaction for cached sets
	defs      map[*gset][]*protocol.Filter // definitions of those regions, when known
	dom       *domain                      // the study's public domain (definition.go)
	// empties are the regions released as exactly 0 read or saved in this transaction (not yet
	// in gs.empties), and replyEmpties those of the reply being checked.
	empties      map[string]*protocol.Filter
	replyEmpties []*protocol.Filter
	// givenFresh are the feasibility answers read or saved in this transaction that the cache
	// lacks (rule 6), by digest, in the order of givenOrder.
	givenFresh map[string]*gset
	givenOrder []string
	lastID     int64
}

// guardView reads, within tx, the sets released to analyst for this load of the study since
// the cached ones. Called with e.decide held.
func (e *Engine) guardView(ctx context.Context, tx ReleaseTx, analyst string, ls *loadedStudy) (*guardView, error) {
	owner := e.guardOwner(analyst)
	k := guardKey{owner, ls.data.Name, ls.info.Version}
	gs, ok := e.released[k]
	if !ok {
		gs = &guardSets{byDigest: map[string]*gset{}}
		e.released[k] = gs
	}
	v := &guardView{gs: gs, owner: owner, minCell: e.policy.MinCell, minCohort: e.policy.MinCohort, words: (ls.data.Len() + 63) / 64, legacy: e.guardLegacy,
		byDig: map[string]*gset{}, regions: map[*gset][]string{}, defs: map[*gset][]*protocol.Filter{}, dom: ls.domainOf(), lastID: gs.lastID}
	sets, err := tx.ReleasedSets(ctx, owner, ls.data.Name, ls.info.Version, gs.lastID)
	if err != nil {
		return nil, err
	}
	for _, s := range sets {
		v.lastID = max(v.lastID, s.ID)
		def, known := parseDefinition(s.Definition)
		v.add(bitsDigest(s.Bits), s.Bits, s.Size, s.Region, def, known)
	}
	return v, nil
}

// parseDefinition decodes a stored canonical definition: "" is unknown (a row from before
// migration 011), "null" every patient.
func parseDefinition(text string) (*protocol.Filter, bool) {
	if text == "" {
		return nil, false
	}
	var f *protocol.Filter
	if json.Unmarshal([]byte(text), &f) != nil {
		return nil, false
	}
	return f, true
}

// definitionText encodes a canonical definition for the store.
func definitionText(f *protocol.Filter) string {
	b, _ := json.Marshal(f) // canonical filters of answered queries are finite
	return string(b)
}

// defsOf returns the known definitions of g, the cache's and this transaction's.
func (v *guardView) defsOf(g *gset) []*protocol.Filter {
	if extra := v.defs[g]; len(extra) > 0 {
		return append(slices.Clip(g.defs), extra...)
	}
	return g.defs
}

// lookup returns the remembered set with digest d, or nil.
func (v *guardView) lookup(d string) *gset {
	if g := v.gs.byDigest[d]; g != nil {
		return g
	}
	return v.byDig[d]
}

// hasRegion reports whether g was released through region.
func (v *guardView) hasRegion(g *gset, region string) bool {
	return g.regions[region] || slices.Contains(v.regions[g], region)
}

// add puts a released (set, region) into the view unless it is known, with the region's
// canonical definition when known.
func (v *guardView) add(d string, b []uint64, size int, region string, def *protocol.Filter, known bool) {
	if len(b) != v.words {
		return // not of this load (cannot happen: versions are never reused)
	}
	if created, ok := givenRegion(region); ok {
		v.addGiven(d, b, size, created, def, known)
		return
	}
	if size == 0 { // a region released as exactly 0
		if _, ok := v.gs.empties[region]; known && !ok {
			if v.empties == nil {
				v.empties = map[string]*protocol.Filter{}
			}
			v.empties[region] = def
		}
		return
	}
	switch g := v.lookup(d); {
	case g == nil:
		g = &gset{bits: b, size: size, digest: d, regions: map[string]bool{region: true}}
		if known {
			g.defs = []*protocol.Filter{def}
		}
		v.fresh = append(v.fresh, g)
		v.byDig[d] = g
	case v.byDig[d] == g: // not in the cache yet: the view owns it
		if !g.regions[region] && known {
			g.defs = withDef(g.defs, def)
		}
		g.regions[region] = true
	case !v.hasRegion(g, region):
		v.regions[g] = append(v.regions[g], region)
		if known && !slices.ContainsFunc(g.defs, sameDef(def)) {
			v.defs[g] = withDef(v.defs[g], def)
		}
	}
}

// withDef is defs with def added unless an identical definition is there already. A set
// released through two regions with one definition (a model's complete cases, addComplete)
// has one definition: the searches of rules 3 and 7 combine two proofs only through sets of
// one definition (differByDefinition), and refused such a set's honest tilings.
func withDef(defs []*protocol.Filter, def *protocol.Filter) []*protocol.Filter {
	if slices.ContainsFunc(defs, sameDef(def)) {
		return defs
	}
	return append(defs, def)
}

// sameDef reports whether a definition is def (canonical definitions: as stored).
func sameDef(def *protocol.Filter) func(*protocol.Filter) bool {
	text := definitionText(def)
	return func(f *protocol.Filter) bool { return definitionText(f) == text }
}

// errGuard is the one refusal of the overlap guard, whatever rule refused.
func errGuard(analyst string, minCell int) error {
	return refusef(protocol.ReasonOverlapGuard, float64(minCell),
		"overlap guard: this patient set is within min_cell=%d patients of a set or a combination of sets already released to analyst %q", minCell, clip(analyst))
}

// refuse is the guard's refusal of a query by analyst: errGuard, or under the study-wide
// scope (guardscope.go) its wording for the releases of every analyst of the study.
func (v *guardView) refuse(analyst string) error {
	if v.owner == studyGuardOwner {
		return refusef(protocol.ReasonOverlapGuard, float64(v.minCell),
			"overlap guard: this patient set is within min_cell=%d patients of a set or a combination of sets already released to the analysts of this study", v.minCell)
	}
	return errGuard(analyst, v.minCell)
}

// check refuses when one of sets (released through regions, regions[i] for sets[i], whose
// canonical definitions are defs[i]; defs nil: unknown) breaks a rule of the guard against the
// sets already released and the ones before it in sets; empties are the canonical definitions
// of the cells the reply releases as exactly 0.
func (v *guardView) check(analyst string, sets []bitset, regions []string, defs, empties []*protocol.Filter) error {
	_, err := v.checkFrom(analyst, sets, regions, defs, empties, 0)
	return err
}

// checkFrom is check where sets[:from] passed it before, in this order, against the same
// remembered sets (a Table 1 whose later cells the guard suppressed, table1.go): they are
// taken as the reply's without being checked again. It returns the refusal and the index of
// the set that broke a rule. Dropping sets after a set, or adding sets at the end, cannot make
// a set that passed break a rule (its combinations are among those it passed with), unless a
// dropped set re-released a remembered one, which then counts as released before again, or a
// dropped cell was released as 0: the caller then checks from 0.
func (v *guardView) checkFrom(analyst string, sets []bitset, regions []string, defs, empties []*protocol.Filter, from int) (int, error) {
	v.replyEmpties = empties
	if v.minCell <= 1 {
		return -1, nil
	}
	// The remembered sets, in the cache and read or saved in this transaction, and the sets
	// of this reply checked already (extras: those whose subsets are not in a cached cover).
	replyRegions := map[string]bool{}
	for _, r := range regions {
		replyRegions[r] = true
	}
	// The feasibility answers given take part in rules 3 and 7 as remembered sets
	// (guardfeas.go), after the exact ones: rule 3's cached covers hold the cached exact sets
	// only.
	fam := v.family(nil)
	cached := len(v.gs.sets)
	var given []*gset
	if !v.legacy {
		given = v.givenSets(replyRegions)
	}
	digests := make([]string, len(sets))
	for i, s := range sets {
		digests[i] = bitsDigest(s)
	}
	// A remembered set this reply releases again counts as one of the reply's own for the
	// duration of the check (the reply alone would release the same combination).
	for _, d := range digests {
		if g := v.lookup(d); g != nil && !g.pending {
			g.pending = true // under e.decide, like every use of the cache
			defer func() { g.pending = false }()
		}
	}
	// Rule 7 searches from the reply's largest set, its cohort (guardpacks2.go).
	cohort := 0
	for i, s := range sets {
		if s.count() > sets[cohort].count() {
			cohort = i
		}
	}
	mine := map[string]bool{} // digests of this reply's sets checked already
	for i, s := range sets {
		d := digests[i]
		if mine[d] {
			continue
		}
		mine[d] = true
		// Every region this reply releases these patients through, and its definition.
		var regs []string
		var curDefs []*protocol.Filter
		for j := i; j < len(sets); j++ {
			if digests[j] == d && !slices.Contains(regs, regions[j]) {
				regs = append(regs, regions[j])
				if defs != nil {
					curDefs = withDef(curDefs, defs[j])
				}
			}
		}
		g := v.lookup(d)
		if i < from { // passed before: the reply's, unchecked
			if g == nil {
				fam = append(fam, &gset{bits: s, size: s.count(), pending: true, defs: curDefs})
			}
			continue
		}
		if g != nil {
			if v.legacy || slices.ContainsFunc(regs, func(r string) bool { return v.hasRegion(g, r) }) {
				continue // a re-run: nothing new is released
			}
			return i, v.refuse(analyst) // rule 1
		}
		ns := s.count()
		if !v.legacy && v.givenRefused(s, ns, replyRegions) {
			return i, v.refuse(analyst) // rule 6
		}
		for _, r := range fam {
			if diff := ns - r.size; diff >= v.minCell || -diff >= v.minCell || r.pending {
				continue
			}
			if d := xorCount(s, r.bits, v.minCell); d > 0 && d < v.minCell {
				return i, v.refuse(analyst) // rule 2
			}
		}
		if !v.legacy {
			cur := &gset{bits: s, size: ns, defs: curDefs}
			// The feasibility answers given take part in the rules of disjoint families (3
			// and 7) only (guardfeas.go).
			withGiven := append(slices.Clip(fam), given...)
			if remainderRefused(cur, withGiven, cached, v.minCell, v.emptyRefused) || combinationRefused(cur, fam, v.minCell, v.emptyRefused) ||
				combination4Refused(cur, fam, v.minCell, v.emptyRefused) ||
				i == cohort && twoPacksRefused(cur, withGiven, v.minCell, v.minCohort, v.emptyRefused) {
				return i, v.refuse(analyst) // rules 3, 4, 5, 7
			}
		}
		fam = append(fam, &gset{bits: s, size: ns, pending: true, defs: curDefs})
	}
	return -1, nil
}

// emptyRefused decides a combination Σ coefs[i]·1_sets[i] that is empty on the rows: refused
// unless the sets' definitions make it empty (definition.go), so that an empty combination is
// refused like a small one whenever the rows, not the definitions, empty it.
func (v *guardView) emptyRefused(sets []*gset, coefs []int) bool {
	known := slices.Clone(v.replyEmpties)
	for _, m := range []map[string]*protocol.Filter{v.gs.empties, v.empties} {
		for _, f := range m {
			known = append(known, f)
		}
	}
	return !v.dom.anyCombinationVanishes(sets, coefs, v.defsOf, known)
}

// subsetOf reports whether a ⊆ b.
func subsetOf(a, b bitset) bool {
	for i := range a {
		if a[i]&^b[i] != 0 {
			return false
		}
	}
	return true
}

// remainderRefused applies rule 3 to the new set s: for s and every remembered superset of s
// (the larger set L), whether pairwise disjoint remembered sets strictly inside L — s among
// them when L is not s — leave 1..min_cell−1 patients of L: then |L| minus their sizes is the
// remainder's count, and likewise its sums. fam[:cached] are the cache's sets, whose covers
// hold their cached subsets. The union of all of L's pieces is a quick bound: when it leaves
// min_cell or more, no family can leave fewer.
func remainderRefused(s *gset, fam []*gset, cached int, minCell int, emptyRefused func([]*gset, []int) bool) bool {
	// s as the larger set.
	var pieces []*gset
	var cover bitset
	for _, r := range fam {
		if r.size < s.size && subsetOf(r.bits, s.bits) {
			if cover == nil {
				cover = make(bitset, len(s.bits))
			}
			cover.or(r.bits)
			pieces = append(pieces, r)
		}
	}
	if cover != nil && remainderBelow(s.bits, cover, minCell) && packs(s, nil, pieces, minCell, true, emptyRefused) {
		return true
	}
	// Every remembered superset of s as the larger set.
	for k, l := range fam {
		if l.size <= s.size || !subsetOf(s.bits, l.bits) {
			continue
		}
		cover := make(bitset, len(l.bits))
		from := 0
		if k < cached {
			if l.cover != nil {
				copy(cover, l.cover)
			}
			from = cached // the cached cover holds the cached subsets
		}
		for _, r := range fam[from:] {
			if r.size < l.size && subsetOf(r.bits, l.bits) {
				cover.or(r.bits)
			}
		}
		cover.or(s.bits)
		if !remainderBelow(l.bits, cover, minCell) {
			continue
		}
		pieces = pieces[:0]
		for _, r := range fam {
			if r.size < l.size && r != l && subsetOf(r.bits, l.bits) && disjoint(r.bits, s.bits) {
				pieces = append(pieces, r)
			}
		}
		if packs(l, s, pieces, minCell, l.pending, emptyRefused) {
			return true
		}
	}
	return false
}

// remainderBelow reports whether |l \ cover| < minCell (an empty remainder too: rule 3 then
// asks whether the definitions empty it).
func remainderBelow(l, cover bitset, minCell int) bool {
	rem := 0
	for i := range l {
		if rem += bits.OnesCount64(l[i] &^ cover[i]); rem >= minCell {
			return false
		}
	}
	return true
}

// disjoint reports whether a ∩ b = ∅.
func disjoint(a, b bitset) bool {
	for i := range a {
		if a[i]&b[i] != 0 {
			return false
		}
	}
	return true
}

// packBudget bounds the search of packs; past it the search answers yes (refuse): an
// attacker who builds many overlapping decoys gets refusals, not answers. Most honest patterns
// need a few nodes (pieces of one partition prune at once); the largest met so far is 2,354
// states: exploring the synthetic NSCLC site of 2,100 patients by treatment then histology
// (TestTable1SecondGroupingAnswered; 421 candidate pieces, a 14-patient cell), which ran out
// of the former 2,048. A search costs its states times the pieces' words, so the bound also
// caps the worst check's time.
const packBudget = 4096

// packExhausted counts the searches that ran out of packBudget (and so refused): tests of
// honest sequences assert it stays 0.
var packExhausted atomic.Int64

// combinationRefused applies rule 4 to the new set s: for every ordered pair of remembered
// sets (R1, R2) whose sizes allow it, the support of 1_S − 1_R1 − 1_R2 and of
// 1_S + 1_R1 − 1_R2 (1_S − 1_R1 + 1_R2 is the latter with R1 and R2 swapped; 1_S + 1_R1 + 1_R2
// is never small); an empty support is refused when emptyRefused says the rows, not the
// definitions, empty it.
func combinationRefused(s *gset, fam []*gset, minCell int, emptyRefused func([]*gset, []int) bool) bool {
	if len(fam) < 2 {
		return false
	}
	bySize := slices.Clone(fam)
	slices.SortFunc(bySize, func(a, b *gset) int { return a.size - b.size })
	// window calls f for the sets whose size is in (lo, hi).
	window := func(lo, hi int, f func(r *gset) bool) bool {
		i, _ := slices.BinarySearchFunc(bySize, lo+1, func(g *gset, t int) int { return g.size - t })
		for ; i < len(bySize) && bySize[i].size < hi; i++ {
			if f(bySize[i]) {
				return true
			}
		}
		return false
	}
	w := 2 * minCell // |Σ| < 2·min_cell is necessary for a support below min_cell
	sb := s.bits
	for _, r1 := range fam {
		a := r1.bits
		old := !r1.pending // a reply's own sets alone are not checked (gset.pending)
		// 1_S − 1_R1 − 1_R2: zero where s = 1 and exactly one of r1, r2, or all three are 0.
		if r1.size < s.size+w {
			c := s.size - r1.size
			if window(c-w, c+w, func(r2 *gset) bool {
				if r2 == r1 || !old && r2.pending {
					return false
				}
				b, n := r2.bits, 0
				for i := range sb {
					zero := sb[i]&(a[i]^b[i]) | ^(sb[i] | a[i] | b[i])
					if n += bits.OnesCount64(^zero); n >= minCell {
						return false
					}
				}
				return n > 0 || emptyRefused([]*gset{s, r1, r2}, []int{1, -1, -1})
			}) {
				return true
			}
		}
		// 1_S + 1_R1 − 1_R2: zero where all three are 0, or r2 = 1 and exactly one of s, r1.
		c := s.size + r1.size
		if window(c-w, c+w, func(r2 *gset) bool {
			if r2 == r1 || !old && r2.pending {
				return false
			}
			b, n := r2.bits, 0
			for i := range sb {
				zero := ^(sb[i] | a[i] | b[i]) | (sb[i]^a[i])&b[i]
				if n += bits.OnesCount64(^zero); n >= minCell {
					return false
				}
			}
			return n > 0 || emptyRefused([]*gset{s, r1, r2}, []int{1, 1, -1})
		}) {
			return true
		}
	}
	return false
}

// record saves, within tx, the (set, region) pairs of sets not yet known, with the regions'
// canonical definitions defs, and the regions released as exactly 0 (empties: canonical
// definitions) as sets of size 0.
func (v *guardView) record(ctx context.Context, tx ReleaseTx, analyst string, ls *loadedStudy, sets []bitset, regions []string, defs, empties []*protocol.Filter) error {
	for _, f := range empties {
		region := regionOf(f)
		if _, ok := v.gs.empties[region]; ok {
			continue
		}
		if _, ok := v.empties[region]; ok {
			continue
		}
		none := make(bitset, v.words)
		id, err := tx.SaveReleasedSet(ctx, ReleasedSet{Analyst: v.owner, Study: ls.data.Name, Version: ls.info.Version, Region: region, Definition: definitionText(f), Bits: none})
		if err != nil {
			return err
		}
		v.add(bitsDigest(none), none, 0, region, f, true)
		v.lastID = max(v.lastID, id)
	}
	for i, s := range sets {
		d := bitsDigest(s)
		if g := v.lookup(d); g != nil && v.hasRegion(g, regions[i]) {
			continue
		}
		r := ReleasedSet{Analyst: v.owner, Study: ls.data.Name, Version: ls.info.Version, Region: regions[i], Definition: definitionText(defs[i]), Size: s.count(), Bits: s}
		id, err := tx.SaveReleasedSet(ctx, r)
		if err != nil {
			return err
		}
		v.add(d, s, r.Size, r.Region, defs[i], true)
		// Every other set was read above under the same lock, so no ID below id is unseen.
		v.lastID = max(v.lastID, id)
	}
	return nil
}

// commit moves what the transaction read and saved into the cache. Call it only once the
// Release committed; called with e.decide held.
func (v *guardView) commit() {
	for _, g := range v.fresh {
		if c := v.gs.byDigest[g.digest]; c != nil { // cannot happen: fresh sets are not cached
			for r := range g.regions {
				c.regions[r] = true
			}
			continue
		}
		v.gs.byDigest[g.digest] = g
		g.cover = nil
		for _, c := range v.gs.sets {
			switch {
			case c.size < g.size && subsetOf(c.bits, g.bits):
				if g.cover == nil {
					g.cover = make(bitset, len(g.bits))
				}
				g.cover.or(c.bits)
			case g.size < c.size && subsetOf(g.bits, c.bits):
				if c.cover == nil {
					c.cover = make(bitset, len(c.bits))
				}
				c.cover.or(g.bits)
			}
		}
		v.gs.sets = append(v.gs.sets, g)
	}
	for g, rs := range v.regions {
		for _, r := range rs {
			g.regions[r] = true
		}
	}
	for g, ds := range v.defs {
		for _, d := range ds {
			g.defs = withDef(g.defs, d)
		}
	}
	for r, f := range v.empties {
		if v.gs.empties == nil {
			v.gs.empties = map[string]*protocol.Filter{}
		}
		v.gs.empties[r] = f
	}
	v.commitGiven()
	v.gs.lastID = max(v.gs.lastID, v.lastID)
}
