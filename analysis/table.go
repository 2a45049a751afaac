package analysis

import (
	"errors"
	"fmt"
	"math"
	"slices"
	"sort"
)

// SurvivalTable is the mergeable aggregate behind every survival statistic of one group:
// for each distinct time (strictly increasing), the number of events, of censorings and of
// delayed entries observed at that time. It holds no patient-level record.
//
// The number at risk just before time t_k is derived, never stored:
//
//	n(t_k) = Σ_{j ≥ k} (d_j + c_j) − Σ_{j ≥ k} e_j   (entries at t_j enter after t_j),
//
// which for right-censored data without delayed entry is Σ_{j ≥ k} (d_j + c_j).
// Tables from several sites merge exactly (MergeTables), whatever times each site reports.
type SurvivalTable struct {
	Time    []float64 // distinct times, strictly increasing, ≥ 0
	Events  []int     // d_k: events at Time[k]
	Censor  []int     // c_k: censorings at Time[k]
	Entries []int     // e_k: delayed entries at Time[k]; nil when every subject enters at 0
	// Causes splits the events by competing cause: Causes[c][k] is the number of events of
	// cause c+1 at Time[k], and Σ_c Causes[c][k] = Events[k]. Nil for an endpoint without
	// competing causes (every event is the one event).
	Causes [][]int
}

// Len returns the number of distinct times.
func (t SurvivalTable) Len() int { return len(t.Time) }

// Total returns the number of subjects in the table (events plus censorings).
func (t SurvivalTable) Total() int {
	n := 0
	for k := range t.Time {
		n += t.Events[k] + t.Censor[k]
	}
	return n
}

// TotalEvents returns Σ d_k.
func (t SurvivalTable) TotalEvents() int {
	n := 0
	for _, d := range t.Events {
		n += d
	}
	return n
}

// AtRisk returns n(t_k) for every row: the number of subjects under observation just before
// Time[k]. See SurvivalTable for the formula.
func (t SurvivalTable) AtRisk() []int {
	n := make([]int, len(t.Time))
	running := 0
	for k := len(t.Time) - 1; k >= 0; k-- {
		running += t.Events[k] + t.Censor[k]
		if t.Entries != nil {
			// Subjects entering at t_j ≥ t_k are counted among the exits after t_k but are
			// not yet at risk at t_k (counting-process intervals (entry, exit]).
			running -= t.Entries[k]
		}
		n[k] = running
	}
	return n
}

// Validate reports the first way in which t is not a well-formed table: lengths differ, times
// not strictly increasing or negative or not finite, negative counts, or a negative number at risk.
func (t SurvivalTable) Validate() error {
	n := len(t.Time)
	if len(t.Events) != n || len(t.Censor) != n {
		return fmt.Errorf("analysis: survival table: %d times but %d event and %d censor counts", n, len(t.Events), len(t.Censor))
	}
	if t.Entries != nil && len(t.Entries) != n {
		return fmt.Errorf("analysis: survival table: %d times but %d entry counts", n, len(t.Entries))
	}
	for k, x := range t.Time {
		if math.IsNaN(x) || math.IsInf(x, 0) || x < 0 {
			return fmt.Errorf("analysis: survival table: row %d: time %v is not a finite non-negative number", k, x)
		}
		if k > 0 && x <= t.Time[k-1] {
			return fmt.Errorf("analysis: survival table: row %d: time %v does not follow %v", k, x, t.Time[k-1])
		}
		if t.Events[k] < 0 || t.Censor[k] < 0 || (t.Entries != nil && t.Entries[k] < 0) {
			return fmt.Errorf("analysis: survival table: row %d: negative count", k)
		}
	}
	for c, col := range t.Causes {
		if len(col) != n {
			return fmt.Errorf("analysis: survival table: %d times but %d counts of cause %d", n, len(col), c+1)
		}
	}
	if len(t.Causes) > 0 {
		for k := range t.Time {
			sum := 0
			for _, col := range t.Causes {
				if col[k] < 0 {
					return fmt.Errorf("analysis: survival table: row %d: negative count", k)
				}
				sum += col[k]
			}
			if sum != t.Events[k] {
				return fmt.Errorf("analysis: survival table: row %d: %d events but %d by cause", k, t.Events[k], sum)
			}
		}
	}
	for k, r := range t.AtRisk() {
		if r < 0 {
			return fmt.Errorf("analysis: survival table: row %d: negative number at risk", k)
		}
		if t.Events[k] > r {
			return fmt.Errorf("analysis: survival table: row %d: %d events but %d at risk", k, t.Events[k], r)
		}
	}
	return nil
}

// ErrLengthMismatch is returned when parallel input slices differ in length.
var ErrLengthMismatch = errors.New("analysis: input slices differ in length")

// NewSurvivalTable tabulates patient-level right-censored data (time, event flag) into a
// SurvivalTable. Only the site node calls it; everything downstream sees the table.
func NewSurvivalTable(time []float64, event []bool) (SurvivalTable, error) {
	if len(time) != len(event) {
		return SurvivalTable{}, ErrLengthMismatch
	}
	idx := make([]int, len(time))
	for i := range idx {
		idx[i] = i
	}
	if !slices.IsSorted(time) { // a node's Cox designs come in time order
		sort.Slice(idx, func(a, b int) bool { return time[idx[a]] < time[idx[b]] })
	}
	var t SurvivalTable
	for _, i := range idx {
		x := time[i]
		if math.IsNaN(x) || math.IsInf(x, 0) || x < 0 {
			return SurvivalTable{}, fmt.Errorf("analysis: time %v of record %d is not a finite non-negative number", x, i)
		}
		if n := len(t.Time); n == 0 || t.Time[n-1] != x {
			t.Time = append(t.Time, x)
			t.Events = append(t.Events, 0)
			t.Censor = append(t.Censor, 0)
		}
		if event[i] {
			t.Events[len(t.Events)-1]++
		} else {
			t.Censor[len(t.Censor)-1]++
		}
	}
	return t, nil
}

// MergeTables adds tables from several sites (or groups) into one: the union of their
// times, with counts summed at equal times. The result is exactly the table of the pooled
// records, so every statistic of the merged table equals the statistic of the pooled data.
// The result never shares memory with the inputs. Inputs whose times are not increasing are
// sorted first; sorted inputs (every valid table) merge in O(N log k) for N rows in k tables.
// The result has an Entries column when any input has one, and as many cause columns as the
// input with the most (a table without a cause column adds nothing to any cause).
func MergeTables(tables ...SurvivalTable) SurvivalTable {
	shape := tableShape{}
	for _, t := range tables {
		shape.entries = shape.entries || t.Entries != nil
		shape.causes = max(shape.causes, len(t.Causes))
	}
	parts := make([]SurvivalTable, 0, len(tables))
	for _, t := range tables {
		if len(t.Time) > 0 {
			parts = append(parts, sortedCopy(t, shape))
		}
	}
	if len(parts) == 0 {
		return SurvivalTable{}
	}
	// Pairwise rounds: each row takes part in about log2(k) linear merges.
	for len(parts) > 1 {
		next := parts[:0]
		for i := 0; i < len(parts); i += 2 {
			if i+1 == len(parts) {
				next = append(next, parts[i])
			} else {
				next = append(next, mergeSorted(parts[i], parts[i+1], shape))
			}
		}
		parts = next
	}
	return parts[0]
}

// tableShape is the optional columns a merged table carries.
type tableShape struct {
	entries bool
	causes  int
}

// counts returns t's count columns in a fixed order (events, censorings, then the entries and
// causes the shape asks for, zero where t has none), for code that treats them alike.
func (t SurvivalTable) counts(shape tableShape) [][]int {
	cols := [][]int{t.Events, t.Censor}
	if shape.entries {
		cols = append(cols, t.Entries)
	}
	for c := range shape.causes {
		var col []int
		if c < len(t.Causes) {
			col = t.Causes[c]
		}
		cols = append(cols, col)
	}
	return cols
}

// tableBuilder accumulates rows of a table of one shape, summing rows at equal times.
type tableBuilder struct {
	shape tableShape
	time  []float64
	cols  [][]int
}

func newTableBuilder(shape tableShape, n int) *tableBuilder {
	b := &tableBuilder{shape: shape, time: make([]float64, 0, n)}
	ncols := 2 + shape.causes
	if shape.entries {
		ncols++
	}
	b.cols = make([][]int, ncols)
	for c := range b.cols {
		b.cols[c] = make([]int, 0, n)
	}
	return b
}

// add adds row k of columns src (as counts returns them) at time x.
func (b *tableBuilder) add(x float64, src [][]int, k int) {
	m := len(b.time)
	if m > 0 && b.time[m-1] == x {
		for c, col := range src {
			if col != nil {
				b.cols[c][m-1] += col[k]
			}
		}
		return
	}
	b.time = append(b.time, x)
	for c, col := range src {
		v := 0
		if col != nil {
			v = col[k]
		}
		b.cols[c] = append(b.cols[c], v)
	}
}

// table returns the rows added so far.
func (b *tableBuilder) table() SurvivalTable {
	t := SurvivalTable{Time: b.time, Events: b.cols[0], Censor: b.cols[1]}
	i := 2
	if b.shape.entries {
		t.Entries = b.cols[i]
		i++
	}
	if b.shape.causes > 0 {
		t.Causes = b.cols[i:]
	}
	return t
}

// sortedCopy returns a copy of t of the given shape with strictly increasing times (rows at
// equal times summed).
func sortedCopy(t SurvivalTable, shape tableShape) SurvivalTable {
	n := len(t.Time)
	idx := make([]int, n)
	for i := range idx {
		idx[i] = i
	}
	sorted := true
	for k := 1; k < n && sorted; k++ {
		sorted = t.Time[k] >= t.Time[k-1]
	}
	if !sorted {
		sort.SliceStable(idx, func(a, b int) bool { return t.Time[idx[a]] < t.Time[idx[b]] })
	}
	b := newTableBuilder(shape, n)
	src := t.counts(shape)
	for _, k := range idx {
		b.add(t.Time[k], src, k)
	}
	return b.table()
}

// mergeSorted merges two tables of the shape with strictly increasing times into a new one.
func mergeSorted(a, b SurvivalTable, shape tableShape) SurvivalTable {
	out := newTableBuilder(shape, len(a.Time)+len(b.Time))
	ac, bc := a.counts(shape), b.counts(shape)
	i, j := 0, 0
	for i < len(a.Time) || j < len(b.Time) {
		if j == len(b.Time) || (i < len(a.Time) && a.Time[i] <= b.Time[j]) {
			out.add(a.Time[i], ac, i)
			i++
		} else {
			out.add(b.Time[j], bc, j)
			j++
		}
	}
	return out.table()
}

// CoarsenTime returns the time a policy with bins of w days reports for t: ceil(t/w)·w.
// w = 0 means exact times. Coarsening only ever moves a time later, so an event is never
// reported before it happened.
func CoarsenTime(t, w float64) float64 {
	if w <= 0 {
		return t
	}
	return math.Ceil(t/w) * w
}

// Coarsen returns t with every time replaced by CoarsenTime(time, w) and the rows that land
// in the same bin added together. The pooled result of coarsened site tables equals the
// table of the pooled, coarsened records.
func (t SurvivalTable) Coarsen(w float64) SurvivalTable {
	if w <= 0 {
		return t
	}
	c := SurvivalTable{Time: make([]float64, len(t.Time)), Events: t.Events, Censor: t.Censor, Entries: t.Entries, Causes: t.Causes}
	for k, x := range t.Time {
		c.Time[k] = CoarsenTime(x, w)
	}
	return MergeTables(c)
}
