package analysis

import (
	"fmt"
	"math"
	"slices"
)

// A biomarker screen's designs are functions of a few codes a patient (the marker's level,
// the treatment arm, an adjuster's value): a node knows each patient's key among a few
// hundred and can build the design once per key instead of once per patient. A stratum built
// from those rows (NewCoxStratumRows) is grouped from the start, as one built from the n×p
// design groups itself on its first evaluation (decideGrouping), and it holds no n×p matrix
// until a per-patient method asks for one (design). Every sum it makes reads the same numbers
// in the same order as the stratum of the materialised design: the same bits
// (TestCoxStratumRowsEqualsMaterialised).

// designRows is a design given as its distinct rows: subject k's (time order) row is
// uniq[rowOf[k]*p : (rowOf[k]+1)*p].
type designRows struct {
	rowOf []int32
	uniq  []float64
}

// NewCoxStratumRows is NewCoxStratumSorted for the design whose row of subject k (time order)
// is row rowOf[k] of keyRows (m×p row-major): keyRows holds one row per key the caller
// numbered, equal rows allowed (they are merged, as a stratum's grouping merges them). The
// stratum keeps time, event and rowOf (the caller must not modify them) and makes the n×p
// design only if a per-patient method needs it (or at once, when a row of keyRows is no
// subject's, or the times are out of order). A row index out of range or lengths that do not
// match panic; a bad time or a non-finite row value returns an error.
func NewCoxStratumRows(entry, time []float64, event []bool, rowOf []int32, keyRows []float64, p int) (*CoxStratum, error) {
	n := len(time)
	if p <= 0 || len(event) != n || len(rowOf) != n || len(keyRows)%p != 0 {
		panic(fmt.Sprintf("analysis: NewCoxStratumRows: %d times, %d event flags, %d row numbers, %d row values for p = %d",
			n, len(event), len(rowOf), len(keyRows), p))
	}
	m := int32(len(keyRows) / p)
	used, unused := make([]bool, m), int(m)
	for _, r := range rowOf {
		if r < 0 || r >= m {
			panic(fmt.Sprintf("analysis: NewCoxStratumRows: row %d of %d", r, m))
		}
		if !used[r] {
			used[r] = true
			unused--
		}
	}
	// Rare (a node's times are in order, and its key rows are those its subjects hold): the
	// n×p design, sorted.
	if unused > 0 || !slices.IsSorted(time) {
		return NewCoxStratumSorted(entry, time, event, expandRows(rowOf, keyRows, p), p)
	}
	if err := checkPatients("NewCoxStratumRows", time, event, nil, 0); err != nil {
		return nil, err
	}
	for k, v := range keyRows {
		if math.IsNaN(v) || math.IsInf(v, 0) {
			return nil, fmt.Errorf("analysis: NewCoxStratumRows: row %d, column %d: covariate value %v is not finite", k/p, k%p, v)
		}
	}
	if err := checkEntries(entry, time, event); err != nil {
		return nil, err
	}
	rows := &designRows{}
	rows.rowOf, rows.uniq = mergeKeyRows(rowOf, keyRows, p)
	s, err := newCoxStratumChecked(time, event, nil, p, true, rows)
	if err != nil || entry == nil {
		return s, err
	}
	s.setEntries(entry, time)
	return s, nil
}

// expandRows returns the n×p design whose row k is row rowOf[k] of uniq.
func expandRows(rowOf []int32, uniq []float64, p int) []float64 {
	x := make([]float64, 0, len(rowOf)*p)
	for _, r := range rowOf {
		x = append(x, uniq[int(r)*p:int(r+1)*p]...)
	}
	return x
}

// centers is columnCenters over the subjects' rows: each column's sum in subject order, and
// exactly the common value of a constant column — decided on the distinct rows, every one of
// which some subject holds.
func (d *designRows) centers(p int) []float64 {
	m := make([]float64, p)
	if len(d.rowOf) == 0 {
		return m
	}
	first := d.uniq[int(d.rowOf[0])*p:][:p]
	constant := make([]bool, p)
	for j := range constant {
		constant[j] = true
		for r := 0; r < len(d.uniq)/p; r++ {
			if d.uniq[r*p+j] != first[j] {
				constant[j] = false
			}
		}
	}
	sum := make([]float64, p)
	for _, r := range d.rowOf {
		row := d.uniq[int(r)*p:][:len(sum)]
		for j, v := range row {
			sum[j] += v
		}
	}
	for j := range m {
		if constant[j] {
			m[j] = first[j]
		} else {
			m[j] = sum[j] / float64(len(d.rowOf))
		}
	}
	return m
}

// setGrouping sets the stratum's grouping to its design rows (decideGrouping's, found).
func (s *CoxStratum) setGrouping(d *designRows) {
	c := &s.wcache
	c.mu.Lock()
	defer c.mu.Unlock()
	c.grouped, c.rowOf, c.uniq = true, d.rowOf, d.uniq
	s.indexEvents()
}

// design returns the stratum's n×p design in time order, made from its rows on first use.
func (s *CoxStratum) design() []float64 {
	if s.rows != nil {
		s.xOnce.Do(func() { s.x = expandRows(s.rows.rowOf, s.rows.uniq, s.p) })
	}
	return s.x
}
