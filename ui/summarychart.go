package ui

import (
	"strings"

	"github.com/oncofed/oncofed/app"
	"github.com/oncofed/oncofed/chart"
	"github.com/oncofed/oncofed/report"
)

// SummaryFigure draws variable name of a summary result per group of its Table 1, from the
// aggregates the table is built from (app.SummaryVariable): grouped bars of a categorical
// variable's counts, with a bar for missing values when there are any, or the histogram of a
// numeric one on the requested edges. It returns nil when the variable has nothing to draw.
func SummaryFigure(r *app.Result, name string, style chart.Style, footnote string) chart.Figure {
	if r == nil || r.Summary == nil {
		return nil
	}
	groups, vs, err := app.SummaryVariable(r, name)
	if err != nil || len(vs) == 0 {
		return nil
	}
	names := make([]string, len(groups))
	for i, g := range groups {
		names[i] = report.GroupName(g)
	}
	if !vs[0].Numeric {
		b, err := chart.BarsFromAggregates(name, names, vs, nil)
		if err != nil {
			return nil
		}
		b.Style, b.Footnote = style, report.JoinNotes(b.Footnote, footnote)
		return b
	}
	// A group whose sites suppressed its n (or released no values) has no histogram: draw the
	// others and say so.
	kept, keptNames := vs[:0:0], []string(nil)
	var without []string
	for i, v := range vs {
		if v.Histogram == nil {
			without = append(without, names[i])
			continue
		}
		kept, keptNames = append(kept, v), append(keptNames, names[i])
	}
	if len(kept) == 0 {
		return nil
	}
	h, err := chart.HistogramFromAggregates(name, keptNames, kept)
	if err != nil {
		return nil
	}
	if len(without) > 0 {
		h.Footnote = report.JoinNotes(h.Footnote, "No histogram to draw for "+strings.Join(without, ", ")+".")
	}
	h.Style, h.Footnote = style, report.JoinNotes(h.Footnote, footnote)
	return h
}
