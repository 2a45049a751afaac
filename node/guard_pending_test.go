package node

import (
	"math/rand/v2"
	"testing"
)

// A reply's own cells alone never make the guard refuse (they are governed by suppression),
// however many there are: a Table 1 of a dozen variables by a grouping releases a hundred
// or more cells that partition the cohort a dozen ways, and the search for disjoint pieces
// among them used to run out of its budget — which refuses — although no family of them
// could qualify, since each must hold a set released before. The demo's Table 1 by sex or
// stage was refused by the larger sites on a fresh network.
func TestGuardOwnCellsNeverExhaustTheBudget(t *testing.T) {
	const n, minCell = 2000, 5
	rnd := rand.New(rand.NewPCG(1, 2))
	cohort := &gset{bits: newBitset(n), size: n}
	for i := range n {
		cohort.bits.set(i)
	}
	// Table 1 by a grouping of two groups: the groups, and twelve variables' cells (4 to 15
	// each) in the whole cohort and in each group.
	group := make([]int, n)
	groups := []bitset{newBitset(n), newBitset(n)}
	for i := range n {
		group[i] = rnd.IntN(2)
		groups[group[i]].set(i)
	}
	var cells []*gset
	for _, b := range groups {
		cells = append(cells, &gset{bits: b, size: b.count(), pending: true})
	}
	for v := range 12 {
		k := 4 + v
		parts := make([][3]bitset, k) // whole cohort, group 0, group 1
		for c := range parts {
			parts[c] = [3]bitset{newBitset(n), newBitset(n), newBitset(n)}
		}
		for i := range n {
			c := rnd.IntN(k)
			parts[c][0].set(i)
			parts[c][1+group[i]].set(i)
		}
		for _, p := range parts {
			for _, b := range p {
				cells = append(cells, &gset{bits: b, size: b.count(), pending: true})
			}
		}
	}
	never := func([]*gset, []int) bool { return true } // any empty remainder would be refused
	if packs(cohort, nil, cells, minCell, true, never) {
		t.Fatal("the cohort refused against the reply's own cells alone")
	}
	// With a set released before among them, the same search still finds the remainder a
	// family of old and new sets leaves: one group but one patient (released before), and the
	// other group.
	old := cells[0]
	old.pending = false
	missing := newBitset(n)
	first := -1
	for i := range n {
		if old.bits.has(i) {
			first = i
			break
		}
	}
	missing.set(first)
	trimmed := &gset{bits: slices0(old.bits, missing), size: old.size - 1, pending: false}
	family := append([]*gset{trimmed}, cells[1:4]...)
	if !packs(cohort, nil, family, minCell, true, never) {
		t.Fatal("a family of old and new cells leaving one patient was not found")
	}
}

// slices0 is a minus b.
func slices0(a, b bitset) bitset {
	out := make(bitset, len(a))
	for i := range a {
		out[i] = a[i] &^ b[i]
	}
	return out
}
