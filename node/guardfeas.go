package node

import (
	"context"
	"strings"

	"github.com/oncofed/oncofed/protocol"
)

// Rule 6 of the overlap guard (guard.go): feasibility answers the analyst was given, then
// exact releases. Review class 5 in the reverse order: a feasibility count of
// T = P ∪ (x if x has the secret value) gets a fresh answer round(|T| + noise(T)), and an
// exact count of the padding P asked after it tells |P|; over 50 paddings the answers, near
// |P| + 1 for a member and near |P| for a non-member, proved membership for 9 to 10 of 10
// targets (TestAttackGuardFeasibilityExact/reverse: 0 of 10 now; the old guard, the control,
// still 10 of 10). The forward order is stopped by sticky answers (an exactly released set is
// remembered as a feasibility set, feasibility.go); the reverse cannot be, since T's answer
// was given before P was released.
//
// So every feasibility answer given to an analyst joins that analyst's guard memory: the
// remembered feasibility set F whose answer it was (fresh or sticky: the answer is a function
// of F, not of the set asked), stored as a released set with the region "feas:" followed by
// the region that created F's own answer (the feasibility count or exact release that first
// got it; FeasibilitySet.Region, migration 014). A set S of an exact release is then refused
// when, for such an F,
//
//	|S Δ F| < min_cell, and F's creating region is none of the regions the reply releases
//
// — identical sets included, so that the refusal does not tell T = P from T = P ∪ {x}. The
// exception is public: F was created by a query of a definition this reply releases, which
// on the same load is the same set (the live panel's count of the final cohort, then its run,
// by this analyst or another); or F was released exactly through that definition before. F
// is then the same patients by definition, its exact release tells more than its approximate
// answer, and rules 1–5 govern what is near it (a reply's own cells: suppression). Like rule 2, the decision depends on the rows only through
// whether fewer than min_cell patients separate two sets, never on their values. A re-run of
// a set released exactly before through the same region is answered, as for the other rules.
//
// What it costs the live panel: a run of cohort A is refused when the analyst counted, while
// editing, a cohort 1..min_cell−1 patients from A through another definition and that count
// got an answer of its own (TestAttackFeasibilityThenRun: A minus one patient, then A, then the
// run of A — the honest form of the attack, which no rule can tell from it). Edits that move
// min_cell or more patients, and the final cohort counted with its own answer, leave the run
// answered (ui.TestEditingFiltersDoesNotTripTheGuard).
//
// Combinations (feasibility × two exact releases, TestAttackGuardFeasibilityTwoExact): the
// answers given also take part in rules 3 and 7 of every exact release, and a feasibility
// answer new to the analyst is itself refused when, as a cohort, it breaks rule 3 or 7 with
// the analyst's exact releases (givenCombinationRefused): T = C ∪ D ∪ (x if …) with C and D
// released exactly, in either order, 0 of 12 targets (6 of 12 before). Not rules 4 and 5: with
// them random paddings met the min_cell threshold in one world and not the other
// (TestAttackGuardFeasibilityExact's refusals differed in 35 of 500 pairs).

// feasRegionPrefix marks the released-set rows that hold a feasibility answer given to the
// analyst; the rest of the region is the one that created the answer.
const feasRegionPrefix = "feas:"

// addGiven puts a feasibility set whose answer the analyst was given into the view, with the
// region that created its answer, unless known.
func (v *guardView) addGiven(d string, b []uint64, size int, created string, def *protocol.Filter, known bool) {
	if g := v.gs.givenByDigest[d]; g != nil {
		return // the creating region of a set is one (the first answer stays the answer)
	}
	if g := v.givenFresh[d]; g != nil {
		return
	}
	if v.givenFresh == nil {
		v.givenFresh = map[string]*gset{}
	}
	g := &gset{bits: b, size: size, digest: d, regions: map[string]bool{created: true}}
	if known {
		g.defs = []*protocol.Filter{def}
	}
	v.givenFresh[d] = g
	v.givenOrder = append(v.givenOrder, d)
}

// givenRefused applies rule 6 to the set s (ns patients) of an exact release: whether a
// feasibility answer given to the analyst belongs to a set fewer than min_cell patients from
// s that no region of the reply created. A feasibility set released
// exactly through the region that created it — by this reply (replyRegions: the regions of
// all its sets) or before — is skipped: it is the same patients by definition, its exact
// release tells more than its approximate answer, and rules 1–5 govern what is near it (a
// reply's own cells are left to suppression, as before).
func (v *guardView) givenRefused(s bitset, ns int, replyRegions map[string]bool) bool {
	near := func(g *gset) bool {
		if d := ns - g.size; d >= v.minCell || -d >= v.minCell || xorCount(s, g.bits, v.minCell) >= v.minCell {
			return false
		}
		e := v.lookup(g.digest)
		for r := range g.regions {
			if replyRegions[r] || e != nil && v.hasRegion(e, r) {
				return false
			}
		}
		return true
	}
	for _, g := range v.gs.given {
		if near(g) {
			return true
		}
	}
	for _, d := range v.givenOrder {
		if near(v.givenFresh[d]) {
			return true
		}
	}
	return false
}

// commitGiven moves the feasibility answers read or saved in the transaction into the cache.
func (v *guardView) commitGiven() {
	for _, d := range v.givenOrder {
		if v.gs.givenByDigest[d] != nil {
			continue
		}
		if v.gs.givenByDigest == nil {
			v.gs.givenByDigest = map[string]*gset{}
		}
		g := v.givenFresh[d]
		v.gs.givenByDigest[d] = g
		v.gs.given = append(v.gs.given, g)
	}
}

// recordFeasibilityGiven remembers, within tx, that analyst was given the answer of the
// feasibility set f (ID 0: an exact feasibility policy, which remembers nothing), for rule 6,
// unless the guard refuses it (the error returned; nothing is remembered): a set whose answer
// is new to the analyst — neither given before nor released exactly — is checked as a cohort
// against the exact releases and the answers given (givenCombinationRefused). p is the
// feasibility count asked: when f's answer was created by p's definition, that definition is
// f's and is stored with it (the region algebra of definition.go). *view is the analyst's
// guard view of the transaction, read here when nil. Called with e.decide held.
func (e *Engine) recordFeasibilityGiven(ctx context.Context, tx ReleaseTx, analyst string, ls *loadedStudy, f FeasibilitySet, p *feasPending, view **guardView) error {
	if f.ID == 0 || !e.policy.OverlapGuard || e.guardLegacy || e.policy.MinCell <= 1 {
		return nil
	}
	if *view == nil {
		v, err := e.guardView(ctx, tx, analyst, ls)
		if err != nil {
			return err
		}
		*view = v
	}
	v := *view
	d := bitsDigest(f.Bits)
	if v.gs.givenByDigest[d] != nil || v.givenFresh[d] != nil {
		return nil
	}
	var def *protocol.Filter
	known := p != nil && f.Region == p.region
	if known {
		def = p.def
	}
	if v.lookup(d) == nil && v.givenCombinationRefused(f.Bits, f.Size, def, known) {
		return v.refuse(analyst)
	}
	row := ReleasedSet{Analyst: v.owner, Study: ls.data.Name, Version: ls.info.Version,
		Region: feasRegionPrefix + f.Region, Size: f.Size, Bits: f.Bits}
	if known {
		row.Definition = definitionText(def)
	}
	id, err := tx.SaveReleasedSet(ctx, row)
	if err != nil {
		return err
	}
	v.add(d, f.Bits, f.Size, feasRegionPrefix+f.Region, def, known)
	v.lastID = max(v.lastID, id)
	return nil
}

// givenCombinationRefused applies rules 3, 4, 5 and 7 to a feasibility set about to be
// answered (bits, size; def its definition when known) as a cohort, against the analyst's
// exact releases and the feasibility answers given: T = C ∪ D ∪ (x if x has h) asked after
// exact counts of C and D is refused, in both worlds alike (T − C − D is x, or nobody not by
// definition). Answers given alone do not refuse it (they are taken as a reply's own sets:
// a combination must hold an exact release): approximate answers combine with approximate
// answers as the sticky rule of feasibility.go governs.
func (v *guardView) givenCombinationRefused(bits bitset, size int, def *protocol.Filter, known bool) bool {
	fam := v.family(nil)
	for _, g := range v.givenSets(nil) {
		c := *g
		c.pending = true
		fam = append(fam, &c)
	}
	cur := &gset{bits: bits, size: size}
	if known {
		cur.defs = []*protocol.Filter{def}
	}
	return remainderRefused(cur, fam, len(v.gs.sets), v.minCell, v.emptyRefused) || twoPacksRefused(cur, fam, v.minCell, v.minCohort, v.emptyRefused)
}

// family is the remembered exact sets, the cache's then this transaction's, with room for
// extra more.
func (v *guardView) family(extra []*gset) []*gset {
	fam := make([]*gset, 0, len(v.gs.sets)+len(v.fresh)+len(extra))
	return append(append(append(fam, v.gs.sets...), v.fresh...), extra...)
}

// givenSets are the feasibility sets whose answers the analyst was given and that take part in
// the guard's combinations (rules 3–5 and 7) of an exact release: all but those that are a
// remembered exact set too (counted once, as that set) and those an answer created through a
// region of the reply (replyRegions; nil: none), the same patients by definition as a set of
// the reply (rule 6's exception).
func (v *guardView) givenSets(replyRegions map[string]bool) []*gset {
	var out []*gset
	keep := func(g *gset) {
		if v.lookup(g.digest) != nil {
			return
		}
		for r := range g.regions {
			if replyRegions[r] {
				return
			}
		}
		out = append(out, g)
	}
	for _, g := range v.gs.given {
		keep(g)
	}
	for _, d := range v.givenOrder {
		keep(v.givenFresh[d])
	}
	return out
}

// givenRegion reports whether a released-set row's region marks a feasibility answer, and the
// region that created it.
func givenRegion(region string) (string, bool) {
	return strings.CutPrefix(region, feasRegionPrefix)
}
