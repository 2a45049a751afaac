package node

import (
	"fmt"

	"github.com/oncofed/oncofed/analysis"
	"github.com/oncofed/oncofed/protocol"
)

// suppressPartition releases the cells of a partition whose total is released elsewhere
// (groups of a cohort, categories of a variable, histogram cells). A count in 1..minCell-1 is
// released as suppressed, never as a number (primary suppression). Because the total is known,
// the suppressed cells' sum is known too; so further cells, the smallest non-zero ones first,
// are suppressed (secondary suppression) until either nothing is suppressed or at least two
// cells are and their sum reaches minCell — then no suppressed cell is "total minus the rest"
// and no small sum pins the suppressed cells down. Zero is released as zero.
// It returns the released cells and how many were suppressed.
func suppressPartition(cells []int, minCell int) ([]protocol.Count, int) {
	return suppressLevels(cells, nil, minCell)
}

// suppressLevels is suppressPartition where the cell k with hideZero[k] set is a declared
// category (or group) that may be empty at this site without the query saying so: its zero is
// released like a count in 1..minCell-1 (suppressed), so that a category absent at the site is
// not told apart from a rare one. Secondary suppression then covers it like any small cell.
func suppressLevels(cells []int, hideZero []bool, minCell int) ([]protocol.Count, int) {
	return suppressLinked(cells, hideZero, nil, nil, minCell) // nothing forced, nothing avoided
}

// releaseCount releases a single count under min_cell.
func releaseCount(n, minCell int) (protocol.Count, int) {
	if n > 0 && n < minCell {
		return protocol.Count{Suppressed: true}, 1
	}
	return protocol.Count{N: n}, 0
}

// releaseSurvival applies the policy to one group's survival table, whose times are already
// coarsened to bin_days. Rows are never suppressed (that would corrupt the curve); instead:
//
//   - merging: consecutive rows are added together, each into the following one (times only
//     ever move later, as with coarsening), until every released row holds at least minCell
//     events plus censorings;
//   - tail truncation: no row is released once fewer than minCell subjects are at risk; those
//     subjects are reported as censored at the last released time, so the number at risk
//     derived from the table stays exact at every released time.
//
// The released table is a valid table of the same subjects, only coarser, so pooled tables
// stay valid. With minCell ≤ 1 the table is released as it is.
func releaseSurvival(t analysis.SurvivalTable, minCell int) (g protocol.SurvivalGroup, merged int, truncatedAfter *float64) {
	return releaseBlocks(t, minCell, false)
}

// releaseBlocks is releaseSurvival; strict additionally makes the events and the censorings
// of every released row each either zero or at least minCell. The pooled Cox form needs it:
// its rows carry sums of exp(x'β)·x over a row's events (for Efron's ties) and, by difference,
// over its censorings, and each such sum must cover minCell patients or none. In strict mode
// the subjects left when the rows run out are censored at the last released time; should that
// leave that row with 1..minCell-1 censorings, the row is folded back into the remainder too.
func releaseBlocks(t analysis.SurvivalTable, minCell int, strict bool) (g protocol.SurvivalGroup, merged int, truncatedAfter *float64) {
	g.Time, g.Events, g.Censor = []float64{}, []int{}, []int{}
	if minCell <= 1 {
		g.Time = append(g.Time, t.Time...)
		g.Events = append(g.Events, t.Events...)
		g.Censor = append(g.Censor, t.Censor...)
		return g, 0, nil
	}
	// Strict rows with causes (a Fine–Gray round) hold zero or min_cell events of each cause.
	split := make([]int, len(t.Causes))
	ok := func(d, c int) bool {
		if strict {
			for _, n := range split {
				if n != 0 && n < minCell {
					return false
				}
			}
			return (d == 0 || d >= minCell) && (c == 0 || c >= minCell) && d+c > 0
		}
		return d+c >= minCell
	}
	remaining := t.Total()
	rest := 0 // subjects to fold in as censorings at the last released time
	for k := 0; k < len(t.Time); {
		if remaining < minCell {
			rest = remaining
			break
		}
		d, c, j := 0, 0, k
		clear(split)
		for j < len(t.Time) && !ok(d, c) {
			d += t.Events[j]
			c += t.Censor[j]
			if strict {
				for m := range split {
					split[m] += t.Causes[m][j]
				}
			}
			j++
		}
		if !ok(d, c) { // strict mode ran out of rows
			rest = d + c
			break
		}
		merged += j - k - 1
		g.Time = append(g.Time, t.Time[j-1])
		g.Events = append(g.Events, d)
		g.Censor = append(g.Censor, c)
		remaining -= d + c
		k = j
	}
	if rest == 0 {
		return g, merged, nil
	}
	// Truncate: fold the remaining subjects into the last released row as censorings.
	for strict && len(g.Time) > 0 && g.Censor[len(g.Censor)-1]+rest < minCell {
		last := len(g.Time) - 1
		rest += g.Events[last] + g.Censor[last]
		g.Time, g.Events, g.Censor = g.Time[:last], g.Events[:last], g.Censor[:last]
		merged++
	}
	if len(g.Time) == 0 {
		g.Time, g.Events, g.Censor = append(g.Time, 0), append(g.Events, 0), append(g.Censor, rest)
	} else {
		g.Censor[len(g.Censor)-1] += rest
	}
	at := g.Time[len(g.Time)-1]
	return g, merged, &at
}

// note adds a human-readable line to the reply's policy effects.
func note(p *protocol.PolicyEffects, format string, args ...any) {
	p.Notes = append(p.Notes, fmt.Sprintf(format, args...))
}
