package node

import "slices"

// Rule 7 of the overlap guard (guard.go): two packings. A reply's cohort S is refused when S
// and remembered sets form two families P ∋ S and N, each of pairwise disjoint sets, whose
// unions differ by 1..min_cell−1 patients (or by none, unless the definitions make it so):
// then Σ_P 1_R − Σ_N 1_R = 1_{∪P} − 1_{∪N}, and the released counts and sums of the sets give
// that difference's, for any number of sets. Rules 2 and 3 are its cases |P| = |N| = 1 and
// P = {L} (negated); it also holds
//
//	(A ∪ B ∪ C ∪ {x}) + (D ∪ E ∪ F) − (A ∪ D) − (B ∪ E) − (C ∪ F) = x,
//
// five cohorts of which every pair, triple and quadruple is min_cell or more apart in every
// signed combination, so rules 2–5 answered all five: 99 of 99 tries (33 recipes of five and
// six sets, three orders each, at the lung sites and on the whole lung data) read a target's
// Karnofsky score off them; now 0 of 99, the last cohort of each is refused
// (TestAttackGuardFiveSets).
//
// Scope, so that its cost stays that of one search per reply and honest exploration is not
// refused: it searches from the reply's largest set (its cohort, which holds its groups and
// cells) only, not from each group and cell; and it combines the remembered sets of at least
// min_cohort patients released before (not the reply's own groups and cells). A Table 1's
// cells, mostly below min_cohort and tiling each group in as many ways as it has variables,
// made the search run out of its budget on the exploration sequence of
// TestTable1SecondGroupingAnswered (17 times) when they took part.
//
// The search is packs' (guardpacks.go), two-sided: the first unbalanced patient — in ∪P but
// not ∪N, or the reverse — is balanced by a candidate set of the other side disjoint from that
// side's union, or left in the remainder, of which at most min_cell−1 may be. Candidates are
// cut first to a fixpoint: a set of P other than S is disjoint from S; every set of one side
// has fewer than min_cell patients outside the union of the other side's candidates (they
// must be balanced). Random cohorts then have no candidate at all (no remembered set is
// disjoint from S) and nested ones only sets within min_cell of S. Past packBudget states the
// search refuses, as rule 3's.
//
// What it does not cover: combinations in which a patient lies in two sets of one sign
// (L − C − D + (C ∩ D), inclusion–exclusion over overlapping sets) beyond the four sets of
// rules 4 and 5; coefficients other than ±1; families whose last set is released as a group
// or a cell rather than as a cohort, or that need sets below min_cohort. docs/privacy.md lists
// the limits.

// twoPacksRefused applies rule 7 to the reply's cohort s against fam (the remembered sets and
// the reply's sets checked before it, pending, which it leaves out, as it does sets below
// minSize patients).
func twoPacksRefused(s *gset, fam []*gset, minCell, minSize int, emptyRefused func([]*gset, []int) bool) bool {
	words := len(s.bits)
	// Candidates: pc for P (besides s), nc for N, cut to a fixpoint.
	var pc, nc []*gset
	for _, r := range fam {
		if r.size < minSize || r.pending {
			continue
		}
		if disjoint(r.bits, s.bits) {
			pc = append(pc, r)
		}
		nc = append(nc, r)
	}
	union := func(base *gset, sets []*gset) bitset {
		u := make(bitset, words)
		if base != nil {
			copy(u, base.bits)
		}
		for _, r := range sets {
			u.or(r.bits)
		}
		return u
	}
	for {
		before := len(pc) + len(nc)
		up := union(s, pc)
		nc = slices.DeleteFunc(nc, func(r *gset) bool { return !remainderBelow(r.bits, up, minCell) })
		un := union(nil, nc)
		if len(nc) == 0 || !remainderBelow(s.bits, un, minCell) {
			return false
		}
		pc = slices.DeleteFunc(pc, func(r *gset) bool { return !remainderBelow(r.bits, un, minCell) })
		if len(pc)+len(nc) == before {
			break
		}
	}
	return searchTwoPacks(s, pc, nc, minCell, emptyRefused)
}

// branchScan2 bounds the unbalanced patients searchTwoPacks compares to choose one to branch
// on.
const branchScan2 = 64

// searchTwoPacks is the search of rule 7 over the candidates pc (for P) and nc (for N).
func searchTwoPacks(s *gset, pc, nc []*gset, minCell int, emptyRefused func([]*gset, []int) bool) bool {
	words := len(s.bits)
	uP, uN, left := make(bitset, words), make(bitset, words), make(bitset, words)
	copy(uP, s.bits)
	family, coefs := []*gset{s}, []int{1}
	type state struct {
		prefix   []*gset
		pcoefs   []int
		vanished bool // an extension of it left none, empty by definition
	}
	memo := map[string]*state{}
	var path []*state
	markVanished := func() {
		for _, st := range path {
			st.vanished = true
		}
	}
	same := func(st *state) bool { return differByDefinition(st.prefix, st.pcoefs, family, coefs, emptyRefused) }
	used := func(r *gset) bool { return slices.Contains(family, r) }
	budget := packBudget
	var dfs func(nLeft int) bool
	dfs = func(nLeft int) bool {
		// Candidates now: unused, disjoint from their side's union and from the remainder
		// (a patient left stays unbalanced).
		var candP, candN []*gset
		availP, availN := make(bitset, words), make(bitset, words)
		for _, r := range pc {
			if !used(r) && disjoint(r.bits, uP) && disjoint(r.bits, left) {
				candP = append(candP, r)
				availP.or(r.bits)
			}
		}
		for _, r := range nc {
			if !used(r) && disjoint(r.bits, uN) && disjoint(r.bits, left) {
				candN = append(candN, r)
				availN.or(r.bits)
			}
		}
		// Unbalanced undecided patients no candidate can balance are left, all at once.
		forced := make(bitset, words)
		undecided := -1
		for i := range uP {
			needN := uP[i] &^ uN[i] &^ left[i] // in ∪P only: an N set must hold it
			needP := uN[i] &^ uP[i] &^ left[i]
			forced[i] = needN&^availN[i] | needP&^availP[i]
			if undecided < 0 && (needN&availN[i]|needP&availP[i]) != 0 {
				undecided = i
			}
		}
		nForced := forced.count()
		if nLeft+nForced >= minCell {
			return false
		}
		left.or(forced)
		defer left.andNot(forced)
		nLeft += nForced
		key := bitsDigest(uP) + bitsDigest(uN) + bitsDigest(left)
		st := memo[key]
		if st != nil {
			if !st.vanished {
				return false
			}
			if same(st) {
				markVanished()
				return false
			}
			// Reached by a family the definitions do not tie to the first: search it again.
		} else {
			st = &state{prefix: slices.Clone(family), pcoefs: slices.Clone(coefs)}
			memo[key] = st
		}
		if budget--; budget < 0 {
			packExhausted.Add(1)
			return true
		}
		path = append(path, st)
		defer func() { path = path[:len(path)-1] }()
		if undecided < 0 { // balanced but for the remainder: a leaf
			if len(family) < 2 { // the candidates are all released before (not pending)
				return false
			}
			if nLeft > 0 || emptyRefused(family, coefs) {
				return true
			}
			markVanished()
			return false
		}
		// Branch on the unbalanced patient the fewest candidates can balance (of the first
		// branchScan2).
		word, bit, best, toN := -1, uint64(0), -1, false
		scanned := 0
		for i := undecided; i < len(uP) && scanned < branchScan2 && best != 1; i++ {
			needN := uP[i] &^ uN[i] &^ left[i] & availN[i]
			needP := uN[i] &^ uP[i] &^ left[i] & availP[i]
			for w := needN | needP; w != 0 && scanned < branchScan2; w &= w - 1 {
				b := w & -w
				side := needN&b != 0
				cands := candP
				if side {
					cands = candN
				}
				n := 0
				for _, r := range cands {
					if r.bits[i]&b != 0 {
						n++
					}
				}
				scanned++
				if best < 0 || n < best {
					word, bit, best, toN = i, b, n, side
				}
				if n == 1 {
					break
				}
			}
		}
		cands, u, coef := candP, uP, 1
		if toN {
			cands, u, coef = candN, uN, -1
		}
		for _, r := range cands {
			if r.bits[word]&bit == 0 {
				continue
			}
			u.or(r.bits)
			family, coefs = append(family, r), append(coefs, coef)
			found := dfs(nLeft)
			family, coefs = family[:len(family)-1], coefs[:len(coefs)-1]
			u.andNot(r.bits)
			if found {
				return true
			}
		}
		if nLeft+1 < minCell { // or leave the patient
			left[word] |= bit
			found := dfs(nLeft + 1)
			left[word] &^= bit
			return found
		}
		return false
	}
	return dfs(0)
}
