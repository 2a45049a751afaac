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

type guardSets struct {
	sets    []ReleasedSet
	digests map[string]bool
	lastID  int64 // highest store ID read
}

// guardState returns the sets released to analyst for this load of the study: cached in
// memory, topped up from the store on every call with what other processes serving the same
// database have released since.
func (e *Engine) guardState(ctx context.Context, analyst string, ls *loadedStudy) (*guardSets, error) {
	k := guardKey{analyst, ls.data.Name, ls.info.Version}
	gs, ok := e.released[k]
	if !ok {
		gs = &guardSets{digests: map[string]bool{}}
		e.released[k] = gs
	}
	sets, err := e.store.ReleasedSets(ctx, analyst, ls.data.Name, ls.info.Version, gs.lastID)
	if err != nil {
		return nil, err
	}
	words := (ls.data.Len() + 63) / 64
	for _, s := range sets {
		gs.lastID = max(gs.lastID, s.ID)
		d := bitsDigest(s.Bits)
		if len(s.Bits) != words || gs.digests[d] {
			continue // not of this load (cannot happen: versions are never reused), or known
		}
		gs.sets = append(gs.sets, s)
		gs.digests[d] = true
	}
	return gs, nil
}

// checkOverlap refuses when one of sets differs from a set already released to analyst by
// fewer than min_cell patients (but is not identical). Called with e.decide held.
func (e *Engine) checkOverlap(ctx context.Context, analyst string, ls *loadedStudy, sets []bitset) error {
	minCell := e.policy.MinCell
	if minCell <= 1 {
		return nil
	}
	gs, err := e.guardState(ctx, analyst, ls)
	if err != nil {
		return errorf(protocol.CodeInternal, "overlap guard state unavailable")
	}
	for _, s := range sets {
		ns := s.count()
		for _, r := range gs.sets {
			if diff := ns - r.Size; diff >= minCell || -diff >= minCell {
				continue
			}
			if d := xorCount(s, r.Bits, minCell); d > 0 && d < minCell {
				return errorf(protocol.CodeRefusedByPolicy,
					"overlap guard: this patient set differs from one already released to analyst %q by fewer than min_cell=%d patients", clip(analyst), minCell)
			}
		}
	}
	return nil
}

// recordReleased remembers the released sets. Called with e.decide held.
func (e *Engine) recordReleased(ctx context.Context, analyst string, ls *loadedStudy, sets []bitset) error {
	if len(sets) == 0 {
		return nil
	}
	gs, err := e.guardState(ctx, analyst, ls)
	if err != nil {
		return err
	}
	for _, s := range sets {
		d := bitsDigest(s)
		if gs.digests[d] {
			continue
		}
		r := ReleasedSet{Analyst: analyst, Study: ls.data.Name, Version: ls.info.Version, Size: s.count(), Bits: s}
		if err := e.store.SaveReleasedSet(ctx, r); err != nil {
			return err
		}
		gs.digests[d] = true
		gs.sets = append(gs.sets, r)
	}
	return nil
}
