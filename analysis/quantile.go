package analysis

import (
	"fmt"
	"math"
	"sort"
)

// QuantileEstimate is a quantile of the survival-time distribution with its confidence
// interval; NaN where R reports NA (the curve or its band never reaches the quantile).
type QuantileEstimate struct {
	Prob  float64 // p: the time by which a fraction p has had the event, Ŝ(t) = 1 − p
	Time  float64
	Lower float64
	Upper float64
}

// quantileTol is R's tolerance = sqrt(.Machine$double.eps) of quantile.survfit.
var quantileTol = math.Sqrt(0x1p-52)

// Quantile returns the p-quantiles of the survival time with confidence intervals, by the rule
// of R's quantile.survfit (survival 3.5, after Brookmeyer & Crowley 1982):
//
//	t_p = inf{ t : Ŝ(t) ≤ 1 − p }
//
// except that where Ŝ is flat at exactly 1 − p (within sqrt(machine ε)) over [t_a, t_b), the
// quantile is the midpoint (t_a + t_b)/2, and where the curve ends flat at 1 − p it is the
// midpoint of the start of that segment and the last time. The interval is the same rule
// applied to the lower and the upper confidence curves: the lower limit is where the lower
// curve crosses 1 − p, the upper limit where the upper curve does; NaN where a curve never
// reaches 1 − p (and the lower curve is undefined where Ŝ = 0). p = 0 gives time 0.
//
// Note that the median printed by R's print(fit) (survmean) uses a slightly different rule in
// one case: a curve that ends flat at exactly 0.5 gives the start of the flat segment there,
// and (t + last time)/2 here, as quantile(fit, 0.5).
func (e *KMEstimate) Quantile(probs ...float64) ([]QuantileEstimate, error) {
	for _, p := range probs {
		if !(p >= 0 && p <= 1) {
			return nil, fmt.Errorf("analysis: quantile probability %v is not in [0, 1]", p)
		}
	}
	x := make([]float64, len(e.Time)+1)
	copy(x[1:], e.Time) // xmin = 0: the curve starts at (0, 1)
	q := findQuantile(x, oneMinus(e.Surv), probs)
	lo := findQuantile(x, oneMinus(e.Lower), probs)
	hi := findQuantile(x, oneMinus(e.Upper), probs)
	out := make([]QuantileEstimate, len(probs))
	for i, p := range probs {
		out[i] = QuantileEstimate{Prob: p, Time: q[i], Lower: lo[i], Upper: hi[i]}
	}
	return out, nil
}

// Median returns Quantile(0.5): the median survival time and its confidence interval.
func (e *KMEstimate) Median() QuantileEstimate {
	q, _ := e.Quantile(0.5)
	return q[0]
}

// oneMinus returns (0, 1 − s_1, …, 1 − s_m): the cumulative distribution from time 0 on.
func oneMinus(s []float64) []float64 {
	y := make([]float64, len(s)+1)
	for i, v := range s {
		y[i+1] = 1 - v
	}
	return y
}

// findQuantile is survival's internal findq: x are the times (x[0] the start), y the
// non-decreasing distribution values at them, possibly NaN (R's NA, dropped by approx).
func findQuantile(x, y, probs []float64) []float64 {
	nan := math.NaN()
	out := make([]float64, len(probs))
	if len(probs) == 0 {
		return out
	}
	maxY, minP := math.Inf(-1), math.Inf(1)
	for _, v := range y {
		if !math.IsNaN(v) && v > maxY {
			maxY = v
		}
	}
	for _, p := range probs {
		minP = math.Min(minP, p)
	}
	if maxY < minP {
		for i := range out {
			out[i] = nan
		}
		return out
	}
	xmax := x[len(x)-1]
	// Drop repeated y values (first occurrence kept; all NaN count as one value, as R's
	// duplicated treats NA).
	var xs, ys []float64
	seenNaN := false
	seen := make(map[float64]bool, len(y))
	for i, v := range y {
		if math.IsNaN(v) {
			if seenNaN {
				continue
			}
			seenNaN = true
		} else {
			if seen[v] {
				continue
			}
			seen[v] = true
		}
		xs = append(xs, x[i])
		ys = append(ys, v)
	}
	n := len(ys)
	idx1 := approxConstantRight(ys, quantileTol, probs)
	idx2 := approxConstantRight(ys, -quantileTol, probs)
	at := func(i int) float64 {
		if i < 0 {
			return nan
		}
		return xs[i]
	}
	for i, p := range probs {
		out[i] = (at(idx1[i]) + at(idx2[i])) / 2
		if p == 0 {
			out[i] = xs[0]
		}
		if last := ys[n-1]; !math.IsNaN(last) && math.Abs(p-last) < quantileTol {
			out[i] = (at(idx1[i]) + xmax) / 2
		}
	}
	return out
}

// approxConstantRight is R's approx(y + shift, seq_along(y), p, method = "constant", f = 1)$y
// returned as 0-based indices (−1 for NA): pairs with NaN are dropped, the rest sorted by value;
// a p outside their range gives NA, a p equal to a value gives that value's index, and a p
// strictly between two values gives the index of the upper one.
func approxConstantRight(y []float64, shift float64, probs []float64) []int {
	type pt struct {
		v   float64
		idx int
	}
	pts := make([]pt, 0, len(y))
	for i, v := range y {
		if !math.IsNaN(v) {
			pts = append(pts, pt{v + shift, i})
		}
	}
	sort.SliceStable(pts, func(a, b int) bool { return pts[a].v < pts[b].v })
	out := make([]int, len(probs))
	for i, p := range probs {
		out[i] = -1
		if len(pts) == 0 || p < pts[0].v || p > pts[len(pts)-1].v {
			continue
		}
		j := sort.Search(len(pts), func(k int) bool { return pts[k].v >= p })
		out[i] = pts[j].idx
	}
	return out
}

// TableMedian returns the median as R's print(fit) and summary(fit)$table report it
// (survival 3.5 survmean): the first time the curve is below 0.5 (within sqrt(machine ε)), or,
// where the curve is at exactly 0.5 first and falls below it later, the midpoint of the start of
// that flat segment and the time it falls; the limits apply the same rule to the lower and upper
// curves. It equals Median except for a curve that ends flat at exactly 0.5, where TableMedian
// gives the start of the flat segment (and Median, as quantile(fit, 0.5), the midpoint up to the
// last time).
func (e *KMEstimate) TableMedian() QuantileEstimate {
	return QuantileEstimate{
		Prob:  0.5,
		Time:  survmeanMedian(e.Surv, e.Time),
		Lower: survmeanMedian(e.Lower, e.Time),
		Upper: survmeanMedian(e.Upper, e.Time),
	}
}

// survmeanMedian is survmean's minmin(y, x).
func survmeanMedian(y, x []float64) float64 {
	var ks []int
	for k, v := range y {
		if !math.IsNaN(v) && v < 0.5+quantileTol {
			ks = append(ks, k)
		}
	}
	if len(ks) == 0 {
		return math.NaN()
	}
	first := y[ks[0]]
	if math.Abs(first-0.5) < quantileTol {
		for _, k := range ks[1:] {
			if y[k] < first {
				return (x[ks[0]] + x[k]) / 2
			}
		}
	}
	return x[ks[0]]
}
