package node

import (
	"context"
	"fmt"
	"math/rand/v2"
	"path/filepath"
	"testing"

	"github.com/oncofed/oncofed/protocol"
)

// BenchmarkFeasibilitySticky: the cost of sticky feasibility answers with 2,000 remembered
// sets over a 3,000-patient synthetic study (synthCSV), the last of them the target, asked
// as the target minus one patient, so that the scan passes every other set before it finds
// the answer.
//
//   - handle/remembered=N: Engine.Handle end to end (filter, noise, the Release transaction
//     with the lookup and the audit append), N = 1 (the target only) and 2,000 (ranges of the
//     key of 20 to 400 patients, at least min_cell + 1 apart, as a live panel's edits leave).
//   - lookup/…: feasView.nearest alone over 2,000 cached sets: sizes spread as above, and the
//     worst case for the size pre-filter, 2,000 random sets of 1,500 ± 2 patients, all of
//     which need the XOR-and-popcount pass.
func BenchmarkFeasibilitySticky(b *testing.B) {
	const patients, remembered = 3000, 2000
	ctx := context.Background()
	keys := func(lo, hi int) *protocol.Filter { return rng("k", fp(float64(lo)), fp(float64(hi))) }
	size := func(rnd *rand.Rand) int { return 20 + rnd.IntN(381) }
	ranges := separatedRanges(rand.New(rand.NewPCG(9, 9)), patients, remembered, DefaultPolicy().MinCell+1, size)
	target := ranges[len(ranges)-1]
	query := feasQuery("alice", notKey(keys(target[0], target[1]), target[0]))
	query.Study = "synth"

	for _, n := range []int{1, remembered} {
		b.Run(fmt.Sprintf("handle/remembered=%d", n), func(b *testing.B) {
			dir := b.TempDir()
			store := importFile(b, filepath.Join(dir, "synth.db"), synthCSV(b, dir, patients), synthSpec)
			pol := DefaultPolicy()
			pol.FeasibilityBudget = 0
			e, err := NewEngine(ctx, store, Config{InsecureOpen: true, Policy: &pol})
			if err != nil {
				b.Fatal(err)
			}
			ls, err := e.study(ctx, "synth")
			if err != nil {
				b.Fatal(err)
			}
			err = store.Release(ctx, "seed", func(tx ReleaseTx) error {
				for _, r := range ranges[len(ranges)-n:] {
					rows := ls.evalFilter(keys(r[0], r[1]))
					f := FeasibilitySet{Study: "synth", Version: ls.info.Version, Size: rows.count(), Bits: rows, Answer: roundToMultiple(rows.count(), 10)}
					if _, err := tx.SaveFeasibilitySet(ctx, f); err != nil {
						return err
					}
				}
				return nil
			})
			if err != nil {
				b.Fatal(err)
			}
			want := roundToMultiple(target[1]-target[0]+1, 10)
			if got := mustOK(b, e.Handle(ctx, query)).Count.Total.N; got != want {
				b.Fatalf("answer %d, want the target's %d", got, want)
			}
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				if r := e.Handle(ctx, query); r.Error != nil {
					b.Fatal(r.Error)
				}
			}
		})
	}

	words := (patients + 63) / 64
	lookup := func(b *testing.B, sets []FeasibilitySet, q bitset) {
		v := &feasView{fs: &feasSets{sets: sets}}
		n := q.count()
		if s, ok := v.nearest(q, n, DefaultPolicy().MinCell); !ok || s.ID != sets[len(sets)-1].ID {
			b.Fatalf("found %v %v, want the last set", s.ID, ok)
		}
		b.ResetTimer()
		for i := 0; i < b.N; i++ {
			v.nearest(q, n, DefaultPolicy().MinCell)
		}
	}
	b.Run("lookup/remembered=2000/sizes-spread", func(b *testing.B) {
		var sets []FeasibilitySet
		for i, r := range ranges {
			rows := newBitset(patients)
			for k := r[0]; k <= r[1]; k++ {
				rows.set(k - 1)
			}
			sets = append(sets, FeasibilitySet{ID: int64(i + 1), Size: rows.count(), Bits: rows})
		}
		q := append(bitset(nil), sets[len(sets)-1].Bits...)
		q[(target[0]-1)>>6] &^= 1 << (uint(target[0]-1) & 63)
		lookup(b, sets, q)
	})
	b.Run("lookup/remembered=2000/same-size", func(b *testing.B) {
		rnd := rand.New(rand.NewPCG(4, 4))
		var sets []FeasibilitySet
		for i := 0; i < remembered; i++ {
			rows := newBitset(patients)
			for _, k := range rnd.Perm(patients)[:1498+rnd.IntN(5)] {
				rows.set(k)
			}
			sets = append(sets, FeasibilitySet{ID: int64(i + 1), Size: rows.count(), Bits: rows})
		}
		q := append(bitset(nil), sets[len(sets)-1].Bits...)
		first := -1
		q.forEach(func(i int) {
			if first < 0 {
				first = i
			}
		})
		q[first>>6] &^= 1 << (uint(first) & 63)
		if len(q) != words {
			b.Fatal("words")
		}
		lookup(b, sets, q)
	})
}
