package chart

import (
	"fmt"
	"math"
	"slices"
	"sort"
	"strings"

	"gonum.org/v1/gonum/stat/distuv"

	"github.com/oncofed/oncofed/analysis"
	"github.com/oncofed/oncofed/report/format"
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
// share their edges). Suppressed and range counts show their lower bound solid and the rest
// of their range pale, labelled as analysis.CellCount prints them ("<5", "13–16") where the
// label fits the bin. Values below the first or at or above the last edge cannot be drawn
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
			lo, hi, lbl := cellBounds(c)
			if c.Exact() {
				lbl = ""
			}
			s.Counts, s.Max, s.Labels = append(s.Counts, lo), append(s.Max, hi), append(s.Labels, lbl)
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

// ForestFromMeta builds the per-site forest plot of a hazard ratio from the sites' log-HR
// estimates and their meta-analysis: one row per site used, with the HR and the Wald
// interval at h.Level, squares weighted as in the pooled estimate, the pooled diamond (the
// DerSimonian–Laird random-effects estimate when random is true, else the fixed effect), I²
// and the Q test. Sites MetaAnalyze left out are named in the footnote with the reason.
func ForestFromMeta(title string, sites []analysis.SiteEstimate, h analysis.Heterogeneity, random bool) *ForestPlot {
	z := distuv.UnitNormal.Quantile(1 - (1-h.Level)/2)
	byName := map[string]analysis.SiteEstimate{}
	for _, s := range sites {
		byName[s.Site] = s
	}
	weights, pooled, model := h.WeightsFixed, h.Fixed, "fixed effect"
	if random {
		weights, pooled, model = h.WeightsRandom, h.Random, "random effects"
	}
	f := &ForestPlot{Title: title, LabelHeader: "Site", I2: &h.I2, QP: &h.QP}
	if h.Level != 0.95 {
		f.EstimateHeader = fmt.Sprintf("HR (%g%% CI)", 100*h.Level)
	}
	for i, name := range h.Sites {
		s := byName[name]
		r := ForestRow{Label: name, HR: math.Exp(s.Estimate), Lower: math.Exp(s.Estimate - z*s.SE), Upper: math.Exp(s.Estimate + z*s.SE)}
		if i < len(weights) {
			r.Weight = weights[i]
		}
		f.Rows = append(f.Rows, r)
	}
	f.Rows = append(f.Rows, ForestRow{Label: "Pooled (" + model + ")", HR: math.Exp(pooled.Estimate),
		Lower: math.Exp(pooled.Lower), Upper: math.Exp(pooled.Upper), Pooled: true})
	var out []string
	for _, e := range h.Excluded {
		out = append(out, e.Site+" ("+e.Reason+")")
	}
	if len(out) > 0 {
		f.Footnote = "Not pooled: " + strings.Join(out, "; ") + "."
	}
	return f
}

// ForestFromCox builds the forest plot of a Cox model: one row per estimable term with its
// HR, 95% CI and Wald p-value; terms R would report as NA, and terms without a finite
// interval, are named in the footnote instead.
// labels renames terms for display (nil or missing keys keep the term names).
func ForestFromCox(title string, fit *analysis.CoxFit, labels map[string]string) *ForestPlot {
	f := &ForestPlot{Title: title, LabelHeader: "Term", EstimateHeader: "HR (95% CI)  p"}
	var undrawn []string
	for i, term := range fit.Terms {
		if math.IsNaN(fit.HR[i]) {
			continue // not estimable: listed from fit.NotEstimable below
		}
		if !(fit.Lower[i] > 0) || !(fit.Upper[i] < math.Inf(1)) || math.IsInf(fit.HR[i], 0) { // NaN fails < too
			undrawn = append(undrawn, term)
			continue
		}
		lbl := term
		if l, ok := labels[term]; ok {
			lbl = l
		}
		f.Rows = append(f.Rows, ForestRow{Label: lbl, HR: fit.HR[i], Lower: fit.Lower[i], Upper: fit.Upper[i],
			Text: FormatHR(fit.HR[i], fit.Lower[i], fit.Upper[i]) + "  " + format.PValue(fit.P[i])})
	}
	var notes []string
	if len(fit.NotEstimable) > 0 {
		notes = append(notes, "Not estimable: "+strings.Join(fit.NotEstimable, ", ")+".")
	}
	if len(fit.Infinite) > 0 {
		notes = append(notes, "Coefficient may be infinite: "+strings.Join(fit.Infinite, ", ")+".")
	}
	if len(undrawn) > 0 {
		notes = append(notes, "No finite interval to draw: "+strings.Join(undrawn, ", ")+".")
	}
	f.Footnote = strings.Join(notes, " ")
	return f
}
