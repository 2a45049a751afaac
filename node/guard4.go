package node

import (
	"math/bits"
	"slices"
)

// Rule 5 of the overlap guard (guard.go): signed combinations of the new set with three
// remembered sets. (A ∪ B ∪ {x}) − (A ∪ C) + (C ∪ D) − (B ∪ D) is x alone, while every pair
// and every triple of those four sets is min_cell or more apart and none is nested, so rules
// 2–4 answered all four: 22 of 24 targets' Karnofsky scores at two lung sites were recovered
// (TestAttackGuardFourSetCombination). A new set S is now also refused when, for remembered
// R1, R2, R3, one of
//
//	1_S − 1_R1 − 1_R2 − 1_R3,   1_S − 1_R1 − 1_R2 + 1_R3,   1_S − 1_R1 + 1_R2 + 1_R3
//
// (every sign pattern up to the order of the Rs; 1_S + 1_R1 + 1_R2 + 1_R3 is never small) is
// non-zero on 1..min_cell−1 patients, or on none unless the definitions make it so
// (definition.go), with at least one of the Rs released before (a reply's own sets alone are
// left to suppression, as in rule 4).
//
// Trying every triple would cost m³ bitset passes. Sizes and sketches filter them exactly: a
// combination non-zero on fewer than min_cell patients, each contributing at most 3 in
// absolute value, has its sizes' signed sum within 3·(min_cell−1) of zero, and likewise its
// sketches' — a sketch is the sum over a set's patients of a fixed pseudo-random weight in
// [−2¹⁵, 2¹⁵), four independent ones per set. So for each pair of Rs with equal signs (pairs
// whose sizes cannot fit are cut off on the size-sorted list), the third R is searched for by
// size, rejected on the sketches, and a bitset pass is made only for the rare survivors:
// O(m² log m) over m remembered sets. Larger combinations (five sets and more) are not
// checked: the daily budget limits them, and the trusted role is for analysts under a
// data-use agreement (differentially private releases account for any combination).

// sketches is the number of sketches per set.
const sketches = 4

// sketchWeight is patient row p's weight in sketch k, in [−2¹⁵, 2¹⁵): splitmix64 of (p, k).
func sketchWeight(p, k int) int64 {
	z := uint64(p)*sketches + uint64(k) + 0x9e3779b97f4a7c15
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9
	z = (z ^ (z >> 27)) * 0x94d049bb133111eb
	return int64((z^(z>>31))&0xffff) - 1<<15
}

// sketchOf returns the set's sketches, computed once per set.
func (g *gset) sketchOf() *[sketches]int64 {
	if !g.sketched {
		bitset(g.bits).forEach(func(p int) {
			for k := range sketches {
				g.sketch[k] += sketchWeight(p, k)
			}
		})
		g.sketched = true
	}
	return &g.sketch
}

// fourPatterns are the signs of (R1, R2, R3) in the checked combinations 1_S + Σ c_k·1_Rk:
// the first two Rs share a sign (the pair enumerated), the third is searched for.
var fourPatterns = [][3]int{{-1, -1, -1}, {-1, -1, 1}, {1, 1, -1}}

// combination4Refused applies rule 5 to the new set s against the remembered sets fam.
func combination4Refused(s *gset, fam []*gset, minCell int, emptyRefused func([]*gset, []int) bool) bool {
	if len(fam) < 3 {
		return false
	}
	bySize := slices.Clone(fam)
	slices.SortFunc(bySize, func(a, b *gset) int { return a.size - b.size })
	maxSize := bySize[len(bySize)-1].size
	w := 3 * (minCell - 1) // bound on the sizes' signed sum
	ws := int64(w) << 15   // and on each sketch's
	ss := s.sketchOf()
	// inter[g] is |S ∩ g|. The patients of S in none of the three sets count 1 in every
	// pattern, so a triple whose intersections with S add up to less than |S| − (min_cell − 1)
	// leaves min_cell or more of them: an exact filter that sizes and sketches lack for small
	// sets (a Table 1 cell of a dozen patients fits any window against other small cells).
	inter := make([]int, len(bySize))
	maxInter := 0
	for i, g := range bySize {
		inter[i] = intersectionCount(s.bits, g.bits)
		maxInter = max(maxInter, inter[i])
	}
	need := s.size - (minCell - 1)
	nonzero := make([][]uint, len(fourPatterns))
	for k, pat := range fourPatterns {
		nonzero[k] = nonzeroPatterns([]int{1, pat[0], pat[1], pat[2]})
	}
	sets := make([]*gset, 4)
	for pk, pat := range fourPatterns {
		cp, co := pat[0], pat[2]
		// x's size: co·|x| = −(|S| + cp·(|a| + |b|)) ± w, which moves one way as b grows
		// along the list (up when co·cp < 0): the window's start k follows it, and once it is
		// out of reach it stays out for this a.
		up := co*cp < 0
		for i, a := range bySize {
			k := -1
			if inter[i]+2*maxInter < need {
				continue
			}
			for ib := i + 1; ib < len(bySize); ib++ {
				b := bySize[ib]
				want := -(s.size + cp*(a.size+b.size)) * co
				if !up && want+w < 0 || up && want-w > maxSize {
					break
				}
				ab := inter[i] + inter[ib]
				switch lo := want - w; {
				case k < 0:
					k, _ = slices.BinarySearchFunc(bySize, lo, func(g *gset, t int) int { return g.size - t })
				case up:
					for k < len(bySize) && bySize[k].size < lo {
						k++
					}
				default:
					for k > 0 && bySize[k-1].size >= lo {
						k--
					}
				}
				if ab+maxInter < need {
					continue // no third set covers enough of S (k follows the window all the same)
				}
				for j := k; j < len(bySize) && bySize[j].size <= want+w; j++ {
					x := bySize[j]
					if ab+inter[j] < need || x == a || x == b || a.pending && b.pending && x.pending {
						continue
					}
					as, bs, xs := a.sketchOf(), b.sketchOf(), x.sketchOf()
					fits := true
					for j := range sketches {
						if v := ss[j] + int64(cp)*(as[j]+bs[j]) + int64(co)*xs[j]; v > ws || v < -ws {
							fits = false
							break
						}
					}
					if !fits {
						continue
					}
					sets[0], sets[1], sets[2], sets[3] = s, a, b, x
					n := supportOf(sets, nonzero[pk], minCell)
					if n < 0 {
						continue
					}
					if n > 0 || emptyRefused(sets, []int{1, pat[0], pat[1], pat[2]}) {
						return true
					}
				}
			}
		}
	}
	return false
}

// supportBelow returns the number of rows on which Σ coefs[k]·1_sets[k] is non-zero, or −1
// once it reaches minCell. The sets are at most four: each of the 16 membership patterns has
// a fixed value.
func supportBelow(sets []*gset, coefs []int, minCell int) int {
	return supportOf(sets, nonzeroPatterns(coefs), minCell)
}

// nonzeroPatterns are the membership patterns (bit k: in set k) on which Σ coefs[k] is
// non-zero.
func nonzeroPatterns(coefs []int) []uint {
	var nonzero []uint
	for pat := range uint(1) << len(coefs) {
		v := 0
		for k := range coefs {
			if pat&(1<<k) != 0 {
				v += coefs[k]
			}
		}
		if v != 0 {
			nonzero = append(nonzero, pat)
		}
	}
	return nonzero
}

// intersectionCount is |a ∩ b|.
func intersectionCount(a, b bitset) int {
	n := 0
	for i := range a {
		n += bits.OnesCount64(a[i] & b[i])
	}
	return n
}

// supportOf is supportBelow for the coefficients whose non-zero patterns are nonzero.
func supportOf(sets []*gset, nonzero []uint, minCell int) int {
	n := 0
	for i := range sets[0].bits {
		var mask uint64
		for _, pat := range nonzero {
			m := ^uint64(0)
			for k, g := range sets {
				if pat&(1<<k) != 0 {
					m &= g.bits[i]
				} else {
					m &^= g.bits[i]
				}
			}
			mask |= m
		}
		if n += bits.OnesCount64(mask); n >= minCell {
			return -1
		}
	}
	return n
}
