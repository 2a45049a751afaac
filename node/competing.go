package node

import (
	"math"
	"sort"

	"github.com/oncofed/oncofed/analysis"
	"github.com/oncofed/oncofed/protocol"
)

// Competing causes and delayed entry in survival replies (issue 17).
//
// An endpoint with competing causes releases the same rows as without them (min_cell patients a
// row, rows merged forward, the tail truncated), and splits each released row's events by cause:
// the causes of a row add up to its events, so the split tells no more about a row than its
// events and censorings do about it, and it refines no row below min_cell patients. Events the
// tail truncation folds into censorings are censorings for every cause.
//
// An endpoint with entry times releases its delayed entries in blocks of at least min_cell
// patients, each block at the earliest entry time among its patients: an entry is never
// reported later than it happened, so no patient is reported at risk after leaving or leaves
// before entering. Entries left over after the last full block join it. When the cohort has
// fewer than min_cell delayed entries none is released (those patients count as at risk from
// the start) and the reply says so. A block at or after the time the exits were truncated (only
// patients reported as censored there can have entered so late) moves back to the previous
// block, or is dropped the same way.
//
// Time coarsening (bin_days w > 0) reports an exit at ceil(t/w)·w and an entry at floor(t/w)·w:
// both land on the same grid, and since entry < exit before coarsening it stays so after; a
// patient counts as at risk in the whole bin in which they entered. (Ceiling both would make a
// patient entering and leaving in one bin never at risk, which R refuses.) The pooled result
// equals R's survfit(Surv(floor(entry/w)·w, ceiling(exit/w)·w, status)) — see
// analysis/testdata/competing_goldens.R.

// coarsenEntry is the entry time a policy with bins of w days reports: floor(t/w)·w.
func coarsenEntry(t, w float64) float64 {
	if w <= 0 {
		return t
	}
	return math.Floor(t/w) * w
}

// splitCauses fills each group table's Causes from the endpoint's cause codes (times coarsened
// to binDays, as the tables are).
func splitCauses(c *cohort, ep *EndpointData, tables []analysis.SurvivalTable, binDays float64) {
	if ep.Causes == nil {
		return
	}
	_, codes := c.groups()
	for g := range tables {
		tables[g].Causes = make([][]int, len(ep.Causes))
		for k := range tables[g].Causes {
			tables[g].Causes[k] = make([]int, len(tables[g].Time))
		}
	}
	c.rows.forEach(func(i int) {
		g := 0
		if codes != nil {
			if g = int(codes[i]); g < 0 {
				return
			}
		}
		if ep.Cause[i] < 0 {
			return
		}
		t := tables[g]
		k := sort.SearchFloat64s(t.Time, analysis.CoarsenTime(ep.Time[i], binDays))
		t.Causes[ep.Cause[i]][k]++
	})
}

// delayedEntries returns, per group, the coarsened entry times > 0 of the cohort's patients,
// sorted.
func delayedEntries(c *cohort, ep *EndpointData, k int, binDays float64) [][]float64 {
	if ep.Entry == nil {
		return nil
	}
	_, codes := c.groups()
	out := make([][]float64, k)
	c.rows.forEach(func(i int) {
		g := 0
		if codes != nil {
			if g = int(codes[i]); g < 0 {
				return
			}
		}
		if e := coarsenEntry(ep.Entry[i], binDays); e > 0 {
			out[g] = append(out[g], e)
		}
	})
	for g := range out {
		sort.Float64s(out[g])
	}
	return out
}

// releaseCauses splits the released rows' events by cause: released row r covers the table's
// rows with times in (Time[r−1], Time[r]] (releaseBlocks merges whole rows forward), and its
// events are theirs (a truncated tail adds censorings only).
func releaseCauses(t analysis.SurvivalTable, g *protocol.SurvivalGroup) {
	if t.Causes == nil {
		return
	}
	g.Causes = make([]protocol.Ints, len(t.Causes))
	for c := range g.Causes {
		g.Causes[c] = make(protocol.Ints, len(g.Time))
	}
	r := 0
	for k, x := range t.Time {
		for r < len(g.Time) && g.Time[r] < x {
			r++
		}
		if r == len(g.Time) {
			break // folded into the truncated tail as censorings
		}
		for c := range t.Causes {
			g.Causes[c][r] += t.Causes[c][k]
		}
	}
	if tr := len(g.Time) - 1; tr >= 0 {
		// The last row may hold folded subjects as censorings: its events are still the sum.
		sum := 0
		for c := range g.Causes {
			sum += g.Causes[c][tr]
		}
		if sum != g.Events[tr] {
			panic("node: cause split of a released row does not add up to its events")
		}
	}
}

// releaseEntries forms the blocks of delayed entries described above from sorted entry times.
// It returns the number of entries not released (fewer than minCell in all).
func releaseEntries(entries []float64, minCell int, truncatedAfter *float64, g *protocol.SurvivalGroup) (unreleased int) {
	if len(entries) == 0 {
		return 0
	}
	var times []float64
	var counts []int
	minCell = max(minCell, 1)
	for i := 0; i < len(entries); {
		j, n := i, 0
		for j < len(entries) && (n < minCell || entries[j] == entries[j-1]) {
			j++
			n++
		}
		if n < minCell { // the remainder joins the previous block
			if len(counts) == 0 {
				return n
			}
			counts[len(counts)-1] += n
			break
		}
		times = append(times, entries[i])
		counts = append(counts, n)
		i = j
	}
	if truncatedAfter != nil {
		for len(times) > 0 && times[len(times)-1] >= *truncatedAfter {
			last := len(times) - 1
			if last == 0 {
				return counts[0]
			}
			counts[last-1] += counts[last]
			times, counts = times[:last], counts[:last]
		}
	}
	g.EntryTime, g.Entries = times, counts
	return 0
}
