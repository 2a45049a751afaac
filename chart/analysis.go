package chart

import (
	"fmt"
	"slices"
	"sort"
	"strings"

	"github.com/oncofed/oncofed/analysis"
)

// CurveFromEstimate turns a Kaplan–Meier estimate into a figure's curve named name: its
// steps, pointwise interval, at-risk counts (so the figure derives its number-at-risk
// table), censoring times, and the median with its CI as R's print(survfit) reports it
// (TableMedian; NaN limits print as "NR").
func CurveFromEstimate(name string, e *analysis.KMEstimate) KMCurve {
	c := KMCurve{
		Name:  name,
		N:     e.N,
		Time:  append([]float64(nil), e.Time...),
		Surv:  append([]float64(nil), e.Surv...),
		Lower: append([]float64(nil), e.Lower...),
		Upper: append([]float64(nil), e.Upper...),
		NRisk: append([]int(nil), e.NRisk...),
	}
	for k, n := range e.NCensor {
		if n > 0 {
			c.CensorTimes = append(c.CensorTimes, e.Time[k])
		}
	}
	m := e.TableMedian()
	c.Median = &MedianCI{Median: m.Time, Lower: m.Lower, Upper: m.Upper}
	return c
}

// cellBounds returns a released count as the lower bound, upper bound (NaN when unknown) and
// label the charts show: exact counts as themselves, suppressed ones as CellCount prints them.
func cellBounds(c analysis.CellCount) (lo, hi float64, label string) {
	lo, hi = float64(c.N), float64(c.N)
	if c.Suppressed && c.Max > c.N {
		hi = float64(c.Max)
	}
	return lo, hi, c.String()
}

// BarsFromAggregates builds the bar chart of a categorical variable with one group per
// aggregate (groups[i] names vs[i]), one bar per level in the given order (nil: the levels
// present, sorted), plus "missing" when any group has missing values. Suppressed and
// range counts show their lower bound solid, the rest of their range pale, labelled as
// analysis.CellCount prints them ("<5", "13–16").
func BarsFromAggregates(title string, groups []string, vs []analysis.VariableAggregate, levels []string) (*BarChart, error) {
	if len(groups) != len(vs) || len(vs) == 0 {
		return nil, fmt.Errorf("chart: %d group names for %d aggregates", len(groups), len(vs))
	}
	if levels == nil {
		seen := map[string]bool{}
		for _, v := range vs {
			for k := range v.Categories {
				if !seen[k] {
					seen[k] = true
					levels = append(levels, k)
				}
			}
		}
		sort.Strings(levels)
	}
	missing := false
	for i, v := range vs {
		if v.Numeric {
			return nil, fmt.Errorf("chart: variable %q in group %q is numeric, not categorical", v.Name, groups[i])
		}
		missing = missing || v.Missing.N > 0 || v.Missing.Suppressed
	}
	b := &BarChart{Title: title, XLabel: vs[0].Name, Categories: append([]string(nil), levels...)}
	if missing {
		b.Categories = append(b.Categories, "missing")
	}
	for i, v := range vs {
		g := BarGroup{Name: groups[i]}
		add := func(c analysis.CellCount) {
			lo, hi, lbl := cellBounds(c)
			g.Values, g.Max, g.Labels = append(g.Values, lo), append(g.Max, hi), append(g.Labels, lbl)
		}
		for _, l := range levels {
			add(v.Categories[l])
		}
		if missing {
			add(v.Missing)
		}
		b.Groups = append(b.Groups, g)
	}
	return b, nil
}

// HistogramFromAggregates builds the histogram of a numeric variable with one series per
// aggregate, over the bins between the first and last histogram edge (all aggregates must
// share their edges). Values below the first or at or above the last edge cannot be drawn
// on a bounded axis; their counts are given in the footnote.
func HistogramFromAggregates(title string, groups []string, vs []analysis.VariableAggregate) (*Histogram, error) {
	if len(groups) != len(vs) || len(vs) == 0 {
		return nil, fmt.Errorf("chart: %d group names for %d aggregates", len(groups), len(vs))
	}
	edges := vs[0].Edges
	if len(edges) < 2 {
		return nil, fmt.Errorf("chart: variable %q has %d histogram edges, need 2 or more", vs[0].Name, len(edges))
	}
	h := &Histogram{Title: title, XLabel: vs[0].Name, Edges: append([]float64(nil), edges...)}
	var outside []string
	for i, v := range vs {
		if !v.Numeric || len(v.Histogram) != len(edges)+1 || !slices.Equal(v.Edges, edges) {
			return nil, fmt.Errorf("chart: variable %q in group %q has no histogram on the shared edges", v.Name, groups[i])
		}
		s := HistSeries{Name: groups[i]}
		for _, c := range v.Histogram[1 : len(v.Histogram)-1] {
			lo, hi, _ := cellBounds(c)
			s.Counts, s.Max = append(s.Counts, lo), append(s.Max, hi)
		}
		below, above := v.Histogram[0], v.Histogram[len(v.Histogram)-1]
		if below.N > 0 || below.Suppressed || above.N > 0 || above.Suppressed {
			outside = append(outside, fmt.Sprintf("%s %s below %s and %s at or above %s", groups[i], below,
				formatTick(edges[0]), above, formatTick(edges[len(edges)-1])))
		}
		h.Series = append(h.Series, s)
	}
	if len(outside) > 0 {
		h.Footnote = "Outside the axis: " + strings.Join(outside, "; ") + "."
	}
	return h, nil
}
