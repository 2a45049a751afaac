package node

import (
	"context"

	"github.com/oncofed/oncofed/protocol"
)

// The overlap guard stops the differencing attack: an analyst who obtains aggregates over a
// patient set A and over A minus one patient learns that patient's values by subtraction.
// Every patient set whose aggregate or count is released (the cohort, each released group,
// each released cell of a summary) is remembered per analyst and study version as a bitset;
// a new set is refused when its symmetric difference with a remembered one holds between 1
// and min_cell-1 patients.
// Comparison is one XOR-and-popcount pass over n/64 words, skipped outright when the sizes
// alone differ by min_cell or more; identical sets are stored once.

type guardKey struct {
	analyst, study string
	version        int64
}

// guardSets is the engine's cache of the sets released to one analyst for one study version.
// It holds committed sets only: a transaction's reads and writes join it after the commit
// (guardView.commit), so a rolled-back release leaves neither a set nor a skipped ID behind.
type guardSets struct {
	sets    []ReleasedSet
	digests map[string]bool
	lastID  int64 // highest store ID read
}

// guardView is the guard state within one Release transaction: the cache, plus what other
// processes serving the same database released since the cache was last topped up, plus what
// this transaction saves.
type guardView struct {
	gs      *guardSets
	minCell int
	words   int
	added   []ReleasedSet   // read or saved in this transaction, not yet in gs
	digests map[string]bool // of added
	lastID  int64
}

// guardView reads, within tx, the sets released to analyst for this load of the study since
// the cached ones. Called with e.decide held.
func (e *Engine) guardView(ctx context.Context, tx ReleaseTx, analyst string, ls *loadedStudy) (*guardView, error) {
	k := guardKey{analyst, ls.data.Name, ls.info.Version}
	gs, ok := e.released[k]
	if !ok {
		gs = &guardSets{digests: map[string]bool{}}
		e.released[k] = gs
	}
	v := &guardView{gs: gs, minCell: e.policy.MinCell, words: (ls.data.Len() + 63) / 64, digests: map[string]bool{}, lastID: gs.lastID}
	sets, err := tx.ReleasedSets(ctx, ls.data.Name, ls.info.Version, gs.lastID)
	if err != nil {
		return nil, err
	}
	for _, s := range sets {
		v.lastID = max(v.lastID, s.ID)
		v.add(s)
	}
	return v, nil
}

// known reports whether a set with digest d is in the view.
func (v *guardView) known(d string) bool { return v.gs.digests[d] || v.digests[d] }

// add puts r into the view unless it is known.
func (v *guardView) add(r ReleasedSet) {
	d := bitsDigest(r.Bits)
	if len(r.Bits) != v.words || v.known(d) {
		return // not of this load (cannot happen: versions are never reused), or known
	}
	v.added = append(v.added, r)
	v.digests[d] = true
}

// check refuses when one of sets differs from a set already released by fewer than min_cell
// patients (but is not identical).
func (v *guardView) check(analyst string, sets []bitset) error {
	if v.minCell <= 1 {
		return nil
	}
	for _, s := range sets {
		ns := s.count()
		for _, released := range [][]ReleasedSet{v.gs.sets, v.added} {
			for _, r := range released {
				if diff := ns - r.Size; diff >= v.minCell || -diff >= v.minCell {
					continue
				}
				if d := xorCount(s, r.Bits, v.minCell); d > 0 && d < v.minCell {
					return refusef(protocol.ReasonOverlapGuard, float64(v.minCell),
						"overlap guard: this patient set differs from one already released to analyst %q by fewer than min_cell=%d patients", clip(analyst), v.minCell)
				}
			}
		}
	}
	return nil
}

// record saves the sets not yet known within tx.
func (v *guardView) record(ctx context.Context, tx ReleaseTx, analyst string, ls *loadedStudy, sets []bitset) error {
	for _, s := range sets {
		if v.known(bitsDigest(s)) {
			continue
		}
		r := ReleasedSet{Analyst: analyst, Study: ls.data.Name, Version: ls.info.Version, Size: s.count(), Bits: s}
		id, err := tx.SaveReleasedSet(ctx, r)
		if err != nil {
			return err
		}
		r.ID = id
		v.add(r)
		// Every other set was read above under the same lock, so no ID below id is unseen.
		v.lastID = max(v.lastID, id)
	}
	return nil
}

// commit moves what the transaction read and saved into the cache. Call it only once the
// Release committed; called with e.decide held.
func (v *guardView) commit() {
	for _, r := range v.added {
		d := bitsDigest(r.Bits)
		if !v.gs.digests[d] {
			v.gs.sets = append(v.gs.sets, r)
			v.gs.digests[d] = true
		}
	}
	v.gs.lastID = max(v.gs.lastID, v.lastID)
}
