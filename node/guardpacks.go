package node

import "slices"

// packs reports whether a nonempty family of pairwise disjoint sets of pieces (all strictly
// inside l), with must among them when it is not nil, and with a set released before (not
// pending) among them when needOld, leaves 1..minCell−1 patients of l uncovered, or none
// while emptyRefused(l, family) (the definitions do not empty the remainder): rule 3.
//
// The search decides l's patients in order, as exact-cover searches do (Knuth's dancing
// links): the first undecided patient is covered by one of the candidate pieces that hold it
// (disjoint from those taken), or left in the remainder, of which at most minCell−1 may be;
// a patient no candidate holds is left at once, and a branch is pruned when what must be left
// reaches minCell, or when it needs a set released before and no candidate is one; it branches
// on the undecided patient the fewest candidates hold (of the first branchScan), so that a dead
// end shows within a few steps. A state —
// the patients covered, those left, whether an old set was taken — fixes every extension, so
// it is searched once (memo): two Table 1s of the same patients cover each bin of a variable
// either by one table's cells or the other's, and without the memo the search would visit the
// 2^bins mixtures one by one (it ran out of its budget on honest sequences, which refused).
// The memo is exact: a state reached again by another family P2 than the first, P1, has the
// same extensions with the same remainders; only whether a remainder of none is empty by
// definition depends on the family — and if P1 with an extension E was so, P2 with E is so
// exactly when P1 − P2 is empty by definition (the two differ by it). So a revisit is skipped
// when no extension of P1 left none, or when P1 − P2 vanishes by definition, and refused
// otherwise (P2 with E leaves none, not by definition). Past packBudget states the search
// answers yes (refuse).
// branchScan bounds the undecided patients packs compares to choose one to branch on.
const branchScan = 512

func packs(l, must *gset, pieces []*gset, minCell int, needOld bool, emptyRefused func([]*gset, []int) bool) bool {
	words := len(l.bits)
	u, left := make(bitset, words), make(bitset, words)
	family, coefs := []*gset{l}, []int{1}
	if must != nil {
		copy(u, must.bits)
		family, coefs = append(family, must), append(coefs, -1)
	}
	base := len(family)
	type state struct {
		prefix   []*gset // the family that reached it first
		vanished bool    // an extension of it left none, empty by definition
	}
	memo := map[string]*state{}
	var path []*state
	markVanished := func() {
		for _, st := range path {
			st.vanished = true
		}
	}
	// same reports whether prefix and the current family's pieces (coefficient −1 each) differ
	// by a combination that is empty by definition.
	same := func(prefix []*gset) bool {
		cur := family[base:]
		return differByDefinition(prefix, minusOnes(len(prefix)), cur, minusOnes(len(cur)), emptyRefused)
	}
	budget := packBudget
	var dfs func(old bool, nLeft int) bool
	dfs = func(old bool, nLeft int) bool {
		key := string(bitsDigest(u)) + bitsDigest(left)
		if old {
			key += "o"
		}
		if st := memo[key]; st != nil {
			if !st.vanished {
				return false
			}
			if same(st.prefix) {
				markVanished()
				return false
			}
			return true
		}
		st := &state{prefix: slices.Clone(family[base:])}
		memo[key] = st
		if budget--; budget < 0 {
			packExhausted.Add(1)
			return true
		}
		path = append(path, st)
		defer func() { path = path[:len(path)-1] }()
		var cand []*gset
		avail := make(bitset, words)
		someOld := old
		for _, p := range pieces {
			if disjoint(p.bits, u) && disjoint(p.bits, left) {
				cand = append(cand, p)
				avail.or(p.bits)
				someOld = someOld || !p.pending
			}
		}
		if needOld && !someOld {
			return false
		}
		// The undecided patients no candidate holds are left, all at once.
		forced := make(bitset, words)
		undecided := -1
		for i := range l.bits {
			und := l.bits[i] &^ u[i] &^ left[i]
			forced[i] = und &^ avail[i]
			if undecided < 0 && und&avail[i] != 0 {
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
		if undecided < 0 { // every patient decided: the family is a leaf
			if len(family) == 1 || needOld && !old {
				return false
			}
			if nLeft > 0 || emptyRefused(family, coefs) {
				return true
			}
			markVanished()
			return false
		}
		// Branch on the undecided patient that the fewest candidates hold (among the first
		// few): fewer branches, and a dead end shows sooner.
		bit, best := uint64(0), -1
		scanned := 0
		for i := undecided; i < len(l.bits) && scanned < branchScan && best != 1; i++ {
			for w := l.bits[i] &^ u[i] &^ left[i]; w != 0 && scanned < branchScan; w &= w - 1 {
				b := w & -w
				n := 0
				for _, p := range cand {
					if p.bits[i]&b != 0 {
						n++
					}
				}
				scanned++
				if best < 0 || n < best {
					bit, best, undecided = b, n, i
				}
				if n == 1 {
					break
				}
			}
		}
		for _, p := range cand {
			if p.bits[undecided]&bit == 0 {
				continue
			}
			u.or(p.bits)
			family, coefs = append(family, p), append(coefs, -1)
			found := dfs(old || !p.pending, nLeft)
			family, coefs = family[:len(family)-1], coefs[:len(coefs)-1]
			u.andNot(p.bits)
			if found {
				return true
			}
		}
		if nLeft+1 < minCell { // or leave the patient
			left[undecided] |= bit
			found := dfs(old, nLeft+1)
			left[undecided] &^= bit
			return found
		}
		return false
	}
	return dfs(false, 0)
}

// differByDefinition reports whether the signed families a (coefficients ac) and b (bc) differ
// by a combination that is empty by definition — each set that differs has one known
// definition (with more, the choices of the two proofs might not agree) and emptyRefused
// passes their difference — or not at all. The searches of rules 3 and 7 skip a state reached
// again by b when the family a that reached it first had an extension that was empty by
// definition: b with that extension is then empty by definition too.
func differByDefinition(a []*gset, ac []int, b []*gset, bc []int, emptyRefused func([]*gset, []int) bool) bool {
	var sets []*gset
	var cs []int
	for i, g := range a {
		if k := slices.Index(b, g); k < 0 || bc[k] != ac[i] {
			sets, cs = append(sets, g), append(cs, ac[i])
		}
	}
	for k, g := range b {
		if i := slices.Index(a, g); i < 0 || ac[i] != bc[k] {
			sets, cs = append(sets, g), append(cs, -bc[k])
		}
	}
	if len(sets) == 0 {
		return true
	}
	for _, g := range sets {
		if len(g.defs) != 1 {
			return false
		}
	}
	return !emptyRefused(sets, cs)
}

// minusOnes returns n coefficients −1.
func minusOnes(n int) []int {
	c := make([]int, n)
	for i := range c {
		c[i] = -1
	}
	return c
}
