package app

import (
	"github.com/oncofed/oncofed/analysis"
	"github.com/oncofed/oncofed/protocol"
)

// releasedPartition converts the released cells of a partition of total (a count's groups and
// missing group, a categorical variable's categories and missing, a numeric variable's present
// and missing, a histogram's cells) into counts with correct bounds.
//
// A node suppresses counts in 1..minCell−1 (primary suppression) and then, so that no cell is
// "total minus the rest", further non-zero cells of any size (secondary suppression,
// node.suppressPartition). The client cannot tell the two apart, so a suppressed cell is not
// bounded by minCell−1 — assuming so made the cells of a large site's age histogram sum to
// less than its exact n, and its median and quartiles came out "NA" (issue 7). What is known is
// that every suppressed cell is at least 1 and that the suppressed cells add up to total less
// the released ones, R = total − Σ exact; so each of the k suppressed cells lies in
// [1, R − (k−1)]. The node's documented rule also suppresses secondarily the smallest released
// cells first, and primary cells are below min cell ≤ any released non-zero cell: so no
// suppressed cell exceeds the smallest released non-zero cell either. When total is itself suppressed its upper bound stands in for it; when that
// is unknown, or the released cells contradict the total, the small-cell bound minCell−1 is
// kept (it holds for a partition that needed no secondary suppression).
func releasedPartition(cells []protocol.Count, total Count, minCell int) []Count {
	return releasedLevelPartition(cells, 0, total, minCell)
}

// releasedLevelPartition is releasedPartition where the first levels cells are a variable's
// declared categories (or a count's groups): a node suppresses such a cell also when it is
// empty, so that a category absent at the site looks like a rare one (node.suppressLevels).
// Their lower bound is 0, not 1, and they take nothing from the others' upper bound.
func releasedLevelPartition(cells []protocol.Count, levels int, total Count, minCell int) []Count {
	out := make([]Count, len(cells))
	exact, k, smallest := 0, 0, 0
	for i, c := range cells {
		out[i] = releasedCount(c, minCell)
		if c.Suppressed && i < levels {
			out[i].N = 0
		}
		if c.Suppressed {
			if i >= levels {
				k++ // at least one patient each
			}
		} else {
			exact += c.N
			if c.N > 0 && (smallest == 0 || c.N < smallest) {
				smallest = c.N
			}
		}
	}
	if k == 0 && !anySuppressed(cells) {
		return out
	}
	upper := total.N
	if total.Suppressed {
		if total.Max <= 0 {
			return out
		}
		upper = total.Max
	}
	// A cell's upper bound is what the others leave: R less one patient for each other cell
	// known to hold at least one.
	hi := upper - exact - max(k-1, 0)
	hiLevel := upper - exact - k // a level cell: every one of the k others holds one or more
	if smallest > 0 && !anyLinked(cells) {
		// Not when the overlap guard suppressed cells the small-cell rules would release
		// (node table1.go): those may be of any size.
		hi, hiLevel = min(hi, smallest), min(hiLevel, smallest)
	}
	if hi < 1 || hiLevel < 0 {
		return out // contradicts the total: keep the small-cell reading
	}
	for i, c := range cells {
		switch {
		case c.Suppressed && i < levels:
			out[i] = analysis.CellCount{N: 0, Suppressed: true, Max: max(hiLevel, 1)}
		case c.Suppressed:
			out[i] = analysis.CellCount{N: 1, Suppressed: true, Max: hi}
		}
	}
	return out
}

func anySuppressed(cells []protocol.Count) bool {
	for _, c := range cells {
		if c.Suppressed {
			return true
		}
	}
	return false
}

func anyLinked(cells []protocol.Count) bool {
	for _, c := range cells {
		if c.Linked {
			return true
		}
	}
	return false
}
