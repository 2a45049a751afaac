package analysis

import (
	"errors"
	"fmt"
	"math"
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
	sort.Slice(idx, func(a, b int) bool { return time[idx[a]] < time[idx[b]] })
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
func MergeTables(tables ...SurvivalTable) SurvivalTable {
	withEntries := false
	for _, t := range tables {
		if t.Entries != nil {
			withEntries = true
		}
	}
	parts := make([]SurvivalTable, 0, len(tables))
	for _, t := range tables {
		if len(t.Time) > 0 {
			parts = append(parts, sortedCopy(t, withEntries))
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
				next = append(next, mergeSorted(parts[i], parts[i+1], withEntries))
			}
		}
		parts = next
	}
	return parts[0]
}

// sortedCopy returns a copy of t with strictly increasing times (rows at equal times summed),
// with an Entries column when withEntries is set.
func sortedCopy(t SurvivalTable, withEntries bool) SurvivalTable {
	n := len(t.Time)
	strictly := true
	for k := 1; k < n && strictly; k++ {
		strictly = t.Time[k] > t.Time[k-1]
	}
	entry := func(k int) int {
		if t.Entries == nil {
			return 0
		}
		return t.Entries[k]
	}
	if strictly {
		c := SurvivalTable{
			Time:   append([]float64(nil), t.Time...),
			Events: append([]int(nil), t.Events...),
			Censor: append([]int(nil), t.Censor...),
		}
		if withEntries {
			c.Entries = make([]int, n)
			for k := range c.Entries {
				c.Entries[k] = entry(k)
			}
		}
		return c
	}
	idx := make([]int, n)
	for i := range idx {
		idx[i] = i
	}
	sort.SliceStable(idx, func(a, b int) bool { return t.Time[idx[a]] < t.Time[idx[b]] })
	var out SurvivalTable
	for _, k := range idx {
		m := len(out.Time)
		if m == 0 || out.Time[m-1] != t.Time[k] {
			out.Time = append(out.Time, t.Time[k])
			out.Events = append(out.Events, 0)
			out.Censor = append(out.Censor, 0)
			if withEntries {
				out.Entries = append(out.Entries, 0)
			}
			m++
		}
		out.Events[m-1] += t.Events[k]
		out.Censor[m-1] += t.Censor[k]
		if withEntries {
			out.Entries[m-1] += entry(k)
		}
	}
	return out
}

// mergeSorted merges two tables with strictly increasing times into a new one.
func mergeSorted(a, b SurvivalTable, withEntries bool) SurvivalTable {
	n := len(a.Time) + len(b.Time)
	out := SurvivalTable{Time: make([]float64, 0, n), Events: make([]int, 0, n), Censor: make([]int, 0, n)}
	if withEntries {
		out.Entries = make([]int, 0, n)
	}
	take := func(t SurvivalTable, k int) {
		m := len(out.Time)
		if m > 0 && out.Time[m-1] == t.Time[k] {
			out.Events[m-1] += t.Events[k]
			out.Censor[m-1] += t.Censor[k]
			if withEntries {
				out.Entries[m-1] += t.Entries[k]
			}
			return
		}
		out.Time = append(out.Time, t.Time[k])
		out.Events = append(out.Events, t.Events[k])
		out.Censor = append(out.Censor, t.Censor[k])
		if withEntries {
			out.Entries = append(out.Entries, t.Entries[k])
		}
	}
	i, j := 0, 0
	for i < len(a.Time) || j < len(b.Time) {
		if j == len(b.Time) || (i < len(a.Time) && a.Time[i] <= b.Time[j]) {
			take(a, i)
			i++
		} else {
			take(b, j)
			j++
		}
	}
	return out
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
	c := SurvivalTable{Time: make([]float64, len(t.Time)), Events: t.Events, Censor: t.Censor, Entries: t.Entries}
	for k, x := range t.Time {
		c.Time[k] = CoarsenTime(x, w)
	}
	return MergeTables(c)
}
