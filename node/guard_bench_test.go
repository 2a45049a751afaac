package node

import (
	"math/rand/v2"
	"testing"
)

// BenchmarkGuardCheck measures one check of a new set against 500 sets released to one
// analyst for a 10,000-patient study (rules 1–4 of guard.go), in three layouts:
//   - random: cohorts of random sizes (10 to 10,000) of random patients;
//   - nested: every released set contains the new one (500 supersets, each of whose covers
//     is computed: the remainder rule's worst case);
//   - sizes: every released set has 5,000 patients and the new one 10,000 − 1, so that every
//     pair passes the size filter of the combination rule (its worst case);
//   - partition: the whole study and 499 disjoint pieces of 20 patients covering it; the new
//     set is 100 pieces and one patient more (refused: it minus its 100 pieces is that
//     patient; the remainder rule's search runs through the 100 pieces).
func BenchmarkGuardCheck(b *testing.B) {
	const n, released = 10000, 500
	words := (n + 63) / 64
	rnd := rand.New(rand.NewPCG(1, 2))
	randomSet := func(size int) bitset {
		s := newBitset(n)
		for _, i := range rnd.Perm(n)[:size] {
			s.set(i)
		}
		return s
	}
	layouts := map[string]func() ([]bitset, bitset){
		"random": func() ([]bitset, bitset) {
			var sets []bitset
			for range released {
				sets = append(sets, randomSet(10+rnd.IntN(n-10)))
			}
			return sets, randomSet(10 + rnd.IntN(n-10))
		},
		"nested": func() ([]bitset, bitset) {
			perm := rnd.Perm(n)
			var sets []bitset
			for k := range released {
				s := newBitset(n)
				for _, i := range perm[:1000+15*k] {
					s.set(i)
				}
				sets = append(sets, s)
			}
			s := newBitset(n)
			for _, i := range perm[:500] {
				s.set(i)
			}
			return sets, s
		},
		"partition": func() ([]bitset, bitset) {
			// The cohort of 10,000 and 499 disjoint pieces of 20 covering it exactly; the new
			// set is a cohort of 100 pieces (2,000 patients) and one more patient.
			perm := rnd.Perm(n)
			all := newBitset(n)
			all.fill(n)
			sets := []bitset{all}
			for k := range released - 1 {
				s := newBitset(n)
				for _, i := range perm[20*k : 20*k+20] {
					s.set(i)
				}
				sets = append(sets, s)
			}
			s := newBitset(n)
			for _, i := range perm[:2000] {
				s.set(i)
			}
			s.set(perm[9990])
			return sets, s
		},
		"sizes": func() ([]bitset, bitset) {
			var sets []bitset
			for range released {
				sets = append(sets, randomSet(n/2))
			}
			return sets, randomSet(n - 1)
		},
	}
	// check times one check of s against sets released to the analyst and, given besides,
	// feasibility answers it was given (rule 6); the partition's new set is refused.
	check := func(b *testing.B, sets []bitset, s bitset, given int, refused bool) {
		gs := &guardSets{byDigest: map[string]*gset{}}
		v := &guardView{gs: gs, minCell: 5, words: words, byDig: map[string]*gset{}, regions: map[*gset][]string{}}
		for _, r := range sets {
			v.add(bitsDigest(r), r, r.count(), "r", nil, false)
		}
		for range given {
			f := randomSet(10 + rnd.IntN(n/2))
			v.add(bitsDigest(f), f, f.count(), feasRegionPrefix+"f", nil, false)
		}
		v.commit()
		v = &guardView{gs: gs, minCell: 5, words: words, byDig: map[string]*gset{}, regions: map[*gset][]string{}}
		b.ResetTimer()
		for b.Loop() {
			if err := v.check("bench", []bitset{s}, []string{"new"}, nil, nil); (err != nil) != refused {
				b.Fatal(err)
			}
		}
	}
	for _, name := range []string{"random", "nested", "sizes", "partition"} {
		b.Run(name, func(b *testing.B) {
			sets, s := layouts[name]()
			check(b, sets, s, 0, name == "partition")
		})
		// The same, with 500 feasibility answers given to the analyst besides (rule 6,
		// guardfeas.go: random sets of 10 to 5,000 patients, none near the new set).
		b.Run(name+"/given", func(b *testing.B) {
			sets, s := layouts[name]()
			check(b, sets, s, released, name == "partition")
		})
		// Loading the 500 sets into an empty cache, as a process does once per analyst and
		// study version after a restart (each set's cover of cached subsets is computed).
		b.Run(name+"/load", func(b *testing.B) {
			sets, _ := layouts[name]()
			for b.Loop() {
				gs := &guardSets{byDigest: map[string]*gset{}}
				v := &guardView{gs: gs, minCell: 5, words: words, byDig: map[string]*gset{}, regions: map[*gset][]string{}}
				for _, r := range sets {
					v.add(bitsDigest(r), r, r.count(), "r", nil, false)
				}
				v.commit()
			}
		})
	}
}
