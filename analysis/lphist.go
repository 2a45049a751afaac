package analysis

import (
	"fmt"
	"math"
	"slices"
)

// LPHistogram is the distribution of a model's linear predictors over a cohort, binned on the
// grid of width Width anchored at 0 (cell k is [k·Width, (k+1)·Width)). Cuts are the cell
// indices where a bin boundary lies (at Cut·Width), increasing; Counts has len(Cuts)+1 bins,
// the first (−∞, Cuts[0]·Width) and the last [Cuts[len−1]·Width, ∞): the extremes are open, so
// no edge says where the most extreme patient lies.
type LPHistogram struct {
	Width  float64
	Cuts   []int
	Counts []int
}

// maxLPCell bounds |lp/Width|: a linear predictor farther out is an error, not an overflow.
const maxLPCell = 1e9

// BinLinearPredictors bins lp on the grid of width width and merges neighbouring cells, from
// the lowest, until every bin holds at least minCell patients (a remainder below minCell at the
// top joins the bin under it). With minCell ≤ 1 every non-empty cell closes a bin. A width
// that is not positive and finite, or an lp beyond 10⁹ cells, is an error.
func BinLinearPredictors(lp []float64, width float64, minCell int) (LPHistogram, error) {
	if !(width > 0) || math.IsInf(width, 0) {
		return LPHistogram{}, fmt.Errorf("analysis: lp histogram: width %v is not positive and finite", width)
	}
	minCell = max(minCell, 1)
	cells := make([]int, len(lp))
	for i, v := range lp {
		c := math.Floor(v / width)
		if math.IsNaN(c) || math.Abs(c) > maxLPCell {
			return LPHistogram{}, fmt.Errorf("analysis: lp histogram: linear predictor %v is beyond %g bins of %v", v, maxLPCell, width)
		}
		cells[i] = int(c)
	}
	slices.Sort(cells)
	h := LPHistogram{Width: width}
	acc := 0
	for i, c := range cells {
		acc++
		if i+1 < len(cells) && cells[i+1] == c {
			continue
		}
		if acc >= minCell {
			h.Cuts = append(h.Cuts, c+1)
			h.Counts = append(h.Counts, acc)
			acc = 0
		}
	}
	switch {
	case len(h.Counts) == 0:
		h.Counts = []int{acc}
	case acc > 0:
		h.Counts[len(h.Counts)-1] += acc
		h.Cuts = h.Cuts[:len(h.Cuts)-1]
	default:
		h.Cuts = h.Cuts[:len(h.Cuts)-1] // the top bin is open
	}
	return h, nil
}

// Total is the number of patients of the histogram.
func (h LPHistogram) Total() int {
	n := 0
	for _, c := range h.Counts {
		n += c
	}
	return n
}

// check validates a histogram as received: counts non-negative and one more than the cuts,
// cuts increasing.
func (h LPHistogram) check() error {
	if len(h.Counts) != len(h.Cuts)+1 {
		return fmt.Errorf("%d counts for %d cuts", len(h.Counts), len(h.Cuts))
	}
	for i, c := range h.Counts {
		if c < 0 {
			return fmt.Errorf("bin %d: count %d", i, c)
		}
	}
	for i := 1; i < len(h.Cuts); i++ {
		if h.Cuts[i] <= h.Cuts[i-1] {
			return fmt.Errorf("cut %d does not follow %d", h.Cuts[i], h.Cuts[i-1])
		}
	}
	return nil
}

// PoolLPHistograms adds the sites' histograms (all of one width) on the boundaries every site
// has: each pooled bin is a union of every site's bins, so the pooled counts are sums of
// released counts only. A malformed histogram returns an error naming the site.
func PoolLPHistograms(sites []LPHistogram) (LPHistogram, error) {
	if len(sites) == 0 {
		return LPHistogram{}, fmt.Errorf("analysis: lp histogram: no site")
	}
	width := sites[0].Width
	var common []int
	for s, h := range sites {
		if h.Width != width {
			return LPHistogram{}, fmt.Errorf("analysis: lp histogram: site %d has width %v, site 0 %v", s, h.Width, width)
		}
		if err := h.check(); err != nil {
			return LPHistogram{}, fmt.Errorf("analysis: lp histogram: site %d: %w", s, err)
		}
		if s == 0 {
			common = slices.Clone(h.Cuts)
			continue
		}
		common = slices.DeleteFunc(common, func(c int) bool {
			_, found := slices.BinarySearch(h.Cuts, c)
			return !found
		})
	}
	out := LPHistogram{Width: width, Cuts: common, Counts: make([]int, len(common)+1)}
	for _, h := range sites {
		for i, n := range h.Counts {
			// Site bin i starts at cut i−1 (−∞ for i = 0): it lies in the pooled bin that
			// starts at the last common cut at or below it.
			b := 0
			if i > 0 {
				b, _ = slices.BinarySearch(common, h.Cuts[i-1]+1)
			}
			out.Counts[b] += n
		}
	}
	return out, nil
}

// Locate places a linear predictor in the histogram: the patients in bins wholly below its
// bin, in its bin, and above. Its percentile among the cohort lies between below/N and
// (below+in)/N.
func (h LPHistogram) Locate(lp float64) (below, in, above int) {
	cell := math.Floor(lp / h.Width)
	bin := 0
	for _, c := range h.Cuts {
		if cell >= float64(c) {
			bin++
		}
	}
	for i, n := range h.Counts {
		switch {
		case i < bin:
			below += n
		case i == bin:
			in = n
		default:
			above += n
		}
	}
	return below, in, above
}

// Edges returns bin i's bounds (−∞ and +∞ at the open ends).
func (h LPHistogram) Edges(i int) (lo, hi float64) {
	lo, hi = math.Inf(-1), math.Inf(1)
	if i > 0 {
		lo = float64(h.Cuts[i-1]) * h.Width
	}
	if i < len(h.Cuts) {
		hi = float64(h.Cuts[i]) * h.Width
	}
	return lo, hi
}

// LocateAmong places a linear predictor among several sites' histograms without pooling their
// bins: each site's patients in bins wholly below lp's cell count below, those in the bin that
// holds it count in, the rest above. The bounds are exact (each site's bins are released
// counts) and much tighter than Locate on PoolLPHistograms, whose common boundaries few
// sites share.
func LocateAmong(sites []LPHistogram, lp float64) (below, in, above int) {
	for _, h := range sites {
		b, i, a := h.Locate(lp)
		below, in, above = below+b, in+i, above+a
	}
	return below, in, above
}

// LPCDFPoint bounds the cohort's distribution function of the linear predictor at LP: the share
// of patients certainly below LP (in bins whose upper bound is at most LP) and possibly below
// it (in bins whose lower bound is below LP).
type LPCDFPoint struct {
	LP           float64
	Lower, Upper float64
}

// LPCDFBounds returns the bounds of the distribution function of the sites' linear
// predictors at every boundary any site released, in increasing order: the figure of where a
// profile lies, drawn from released counts only.
func LPCDFBounds(sites []LPHistogram) []LPCDFPoint {
	var cuts []int
	total := 0
	for _, h := range sites {
		cuts = append(cuts, h.Cuts...)
		total += h.Total()
	}
	slices.Sort(cuts)
	cuts = slices.Compact(cuts)
	if total == 0 {
		return nil
	}
	out := make([]LPCDFPoint, len(cuts))
	for k, c := range cuts {
		var certain, possible int
		for _, h := range sites {
			for i, n := range h.Counts {
				lo, hi := math.Inf(-1), math.Inf(1)
				if i > 0 {
					lo = float64(h.Cuts[i-1])
				}
				if i < len(h.Cuts) {
					hi = float64(h.Cuts[i])
				}
				if hi <= float64(c) {
					certain += n
				}
				if lo < float64(c) {
					possible += n
				}
			}
		}
		w := sites[0].Width
		out[k] = LPCDFPoint{LP: float64(c) * w, Lower: float64(certain) / float64(total), Upper: float64(possible) / float64(total)}
	}
	return out
}
