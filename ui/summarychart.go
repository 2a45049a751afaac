package ui

import (
	"fmt"
	"sort"

	"github.com/oncofed/oncofed/app"
	"github.com/oncofed/oncofed/chart"
	"github.com/oncofed/oncofed/protocol"
)

// released converts a site's released count; a suppressed cell lies in 1..minCell−1.
func released(c protocol.Count, minCell int) app.Count {
	if c.Suppressed {
		n := app.Count{N: 1, Suppressed: true}
		if minCell > 1 {
			n.Max = minCell - 1
		}
		return n
	}
	return app.Count{N: c.N}
}

// barValue gives a bar its value, upper bound and label: a suppressed cell is drawn as
// "<minCell" at the baseline, a pooled count that includes suppressed cells as its lower bound
// with the range up to its upper bound drawn pale.
func barValue(c app.Count) (v, max float64, label string) {
	label = FormatCount(c)
	switch {
	case !c.Suppressed:
		return float64(c.N), float64(c.N), label
	case c.N <= 1 && c.Max > 0:
		return -1, -1, label
	case c.Max > 0:
		return float64(c.N), float64(c.Max), label
	}
	return float64(c.N), float64(c.N), label
}

// SummaryFigure draws variable name of a summary result: grouped bars of the category counts
// of a categorical variable, or the pooled histogram (on the requested edges) of a numeric
// one, per group. It returns nil when the variable has nothing to draw.
func SummaryFigure(r *app.Result, name string, style chart.Style, footnote string) chart.Figure {
	if r == nil || r.Summary == nil {
		return nil
	}
	tb := r.Summary.Table
	groups := tb.Columns
	cols := make([]int, 0, len(groups))
	for i := range groups {
		cols = append(cols, i)
	}
	if len(groups) > 1 { // the last column is "Overall": draw the groups side by side
		cols = cols[:len(cols)-1]
	}
	mc := minCell(r)
	for _, v := range tb.Variables {
		if v.Name != name {
			continue
		}
		if v.Numeric {
			return summaryHistogram(r, name, style, footnote)
		}
		last := v.Categorical[len(v.Categorical)-1]
		b := &chart.BarChart{Title: name, Categories: last.Levels, MinCell: mc, Footnote: footnote, Style: style}
		for _, ci := range cols {
			cs := v.Categorical[ci]
			g := chart.BarGroup{Name: groupName(groups[ci])}
			if len(groups) == 1 {
				g.Name = "All patients"
			}
			for li := range last.Levels {
				c := app.Count{}
				if li < len(cs.Counts) {
					c = cs.Counts[li]
				}
				val, max, lbl := barValue(c)
				g.Values = append(g.Values, val)
				g.Max = append(g.Max, max)
				g.Labels = append(g.Labels, lbl)
			}
			b.Groups = append(b.Groups, g)
		}
		return b
	}
	return nil
}

// summaryHistogram pools each group's histogram of a numeric variable over the sites. The two
// open cells (below the first edge, at or above the last) have no width to draw; their counts
// go into the footnote.
func summaryHistogram(r *app.Result, name string, style chart.Style, footnote string) chart.Figure {
	type series struct {
		cells []app.Count
	}
	var edges []float64
	byGroup := map[string]*series{}
	var order []string
	for _, rep := range r.Rounds[0].Replies {
		if rep.Summary == nil {
			continue
		}
		for _, g := range rep.Summary.Groups {
			for _, v := range g.Variables {
				if v.Variable != name || len(v.Edges) < 2 || len(v.Histogram) != len(v.Edges)+1 {
					continue
				}
				if edges == nil {
					edges = v.Edges
				}
				s := byGroup[g.Group]
				if s == nil {
					s = &series{cells: make([]app.Count, len(v.Histogram))}
					byGroup[g.Group] = s
					order = append(order, g.Group)
				}
				if len(s.cells) != len(v.Histogram) {
					continue
				}
				for i, c := range v.Histogram {
					s.cells[i] = s.cells[i].Add(released(c, rep.Policy.MinCell))
				}
			}
		}
	}
	if edges == nil {
		return nil
	}
	sort.Strings(order)
	h := &chart.Histogram{Title: name, Edges: edges, MinCell: minCell(r), Style: style}
	var below, above app.Count
	for _, g := range order {
		s := byGroup[g]
		hs := chart.HistSeries{Name: groupName(g)}
		for _, c := range s.cells[1 : len(s.cells)-1] {
			v, max, _ := barValue(c)
			hs.Counts = append(hs.Counts, v)
			hs.Max = append(hs.Max, max)
		}
		below = below.Add(s.cells[0])
		above = above.Add(s.cells[len(s.cells)-1])
		h.Series = append(h.Series, hs)
	}
	h.Footnote = fmt.Sprintf("Not drawn: %s patients below %s and %s at or above %s.", FormatCount(below), fmtNum(edges[0]),
		FormatCount(above), fmtNum(edges[len(edges)-1]))
	if footnote != "" {
		h.Footnote += " " + footnote
	}
	return h
}
