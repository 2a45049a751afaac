package node

import (
	"context"
	"fmt"
	"math"
	"slices"
	"testing"

	"github.com/oncofed/oncofed/protocol"
)

// ageBlocks cuts the patients of rows but x (the only one of its age) into k blocks of
// consecutive ages, each of at least size patients, and returns their filters (each within
// base and without x), or nil when there are too few patients.
func ageBlocks(ls *loadedStudy, base *protocol.Filter, rows bitset, x, k, size int) []*protocol.Filter {
	age := ls.vars["age"].Numeric
	var ages []float64
	rows.forEach(func(i int) {
		if i != x {
			ages = append(ages, age[i])
		}
	})
	slices.Sort(ages)
	notX := notF(ageIs(age[x]))
	var blocks []*protocol.Filter
	start := 0
	for len(blocks) < k {
		end := start + size
		if end > len(ages) {
			return nil
		}
		for end < len(ages) && ages[end] == ages[end-1] {
			end++ // ties stay in one block
		}
		lo, hi := ages[start], ages[end-1]
		if len(blocks) == k-1 {
			hi = ages[len(ages)-1]
		}
		blocks = append(blocks, and(base, notX, rng("age", fp(lo), fp(hi))))
		start = end
	}
	return blocks
}

// Attack (five and six sets, issue 13 follow-up): for blocks A, B, C, D, E, F of a site's
// patients with a known Karnofsky score (consecutive age ranges of min_cell or more, x
// excluded) and x the only patient of its age,
//
//	(A ∪ B ∪ C ∪ {x}) + (D ∪ E ∪ F) − (A ∪ D) − (B ∪ E) − (C ∪ F) = x
//
// and with eight blocks, (A∪B∪C∪D∪{x}) + (E∪F∪G∪H) − (A∪E) − (B∪F) − (C∪G) − (D∪H) = x (six
// sets). Every pair, triple and quadruple of these sets is min_cell or more apart in every
// signed combination, and none is nested, so rules 2–5 answer them all; the summed
// Karnofsky scores give x's. Rule 7 (guardpacks2.go: two disjoint families whose unions
// differ by fewer than min_cell patients) refuses the last set of each recipe, in every order.
func TestAttackGuardFiveSets(t *testing.T) {
	modes(t, func(t *testing.T, legacy bool) {
		ctx := context.Background()
		pol := DefaultPolicy()
		targets, tries, recovered, stopped := 0, 0, 0, 0
		whole, _ := lungEngine(t, pol, nil)
		for _, e := range append(lungSites(t, pol), whole) {
			e.guardLegacy = legacy
			ls := studyOf(t, e)
			age, karno := ls.vars["age"].Numeric, ls.vars["karno"].Numeric
			known := rng("karno", fp(0), nil)
			rows := ls.evalFilter(known)
			for _, x := range uniqueAge(ls, rows) {
				for _, kb := range [][2]int{{3, pol.MinCell}, {4, pol.MinCell}, {3, pol.MinCell + 1}} {
					k := kb[0]
					blocks := ageBlocks(ls, known, rows, x, 2*k, kb[1])
					if blocks == nil {
						continue
					}
					xf := and(known, ageIs(age[x]))
					pos1 := orF(append(slices.Clone(blocks[:k]), xf)...)
					pos2 := orF(blocks[k:]...)
					sets := []*protocol.Filter{pos1, pos2}
					signs := []float64{1, 1}
					for j := range k {
						sets = append(sets, orF(blocks[j], blocks[k+j]))
						signs = append(signs, -1)
					}
					if slices.ContainsFunc(sets, func(f *protocol.Filter) bool { return ls.evalFilter(f).count() < pol.MinCohort }) {
						continue
					}
					targets++
					n := len(sets)
					orders := [][]int{inOrder(n), reversed(n), rotated(n, 2)}
					for o, order := range orders {
						tries++
						analyst := fmt.Sprintf("eve-%s-%d-%v-%d", e.Site(), x, kb, o)
						got, answered := 0.0, 0
						for _, j := range order {
							r := e.Handle(ctx, summaryOf(analyst, sets[j], "karno"))
							if r.Error != nil {
								if r.Error.Reason != protocol.ReasonOverlapGuard {
									t.Errorf("%s x=%d: refused: %v", e.Site(), x, r.Error)
								}
								stopped++
								break
							}
							answered++
							got += signs[j] * r.Summary.Groups[0].Variables[0].Sum
						}
						if answered == n && math.Abs(got-karno[x]) < 1e-9 {
							recovered++
						}
					}
				}
			}
		}
		t.Logf("legacy %v: %d of %d tries (%d recipes) recovered the score by five or six sets; %d refused", legacy, recovered, tries, targets, stopped)
		if targets < 10 {
			t.Fatalf("only %d recipes", targets)
		}
		switch {
		case legacy && recovered != tries:
			t.Errorf("the pairwise guard: %d of %d tries recovered; the attack did not reproduce", recovered, tries)
		case !legacy && (recovered != 0 || stopped != tries):
			t.Errorf("%d of %d tries recovered a score, %d refused", recovered, tries, stopped)
		}
	})
}

func inOrder(n int) []int {
	o := make([]int, n)
	for i := range o {
		o[i] = i
	}
	return o
}

func reversed(n int) []int {
	o := inOrder(n)
	slices.Reverse(o)
	return o
}

func rotated(n, k int) []int {
	o := inOrder(n)
	return append(o[k:], o[:k]...)
}
