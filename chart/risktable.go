package chart

import (
	"strconv"

	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
)

// SuppressedCount in a RiskTable marks a cell the site's disclosure policy suppressed.
const SuppressedCount = -1

// RiskTable is a number-at-risk table given explicitly, as released by the sites under
// their disclosure policies.
type RiskTable struct {
	// Times are in days; each column is drawn under that time on the x-axis, so they are
	// normally the axis ticks (KMFigure.Ticks).
	Times []float64
	// Counts[i][j] is the number at risk in curve i at Times[j]; SuppressedCount (or any
	// negative value) marks a suppressed cell.
	Counts [][]int
	// MinCell is the policy's minimum cell size: suppressed cells and counts between 1 and
	// MinCell-1 are shown as "<MinCell".
	MinCell int
	// Approximate marks the counts as noisy estimates (a differentially private release):
	// each is shown as "≈N".
	Approximate bool
	// Weighted, when set (the same shape as Counts), holds the weighted number at risk of
	// weighted Kaplan–Meier curves: each group then takes two rows, its weighted number and,
	// under it, its number of patients. A weighted cell whose count is hidden is hidden too.
	Weighted [][]float64
}

// riskRow is one drawn row of a number-at-risk table: its label, the curve whose colour it
// takes, and its cells.
type riskRow struct {
	label string
	curve int
	cells []string
}

// rows returns the rows of the table for curves named names.
func (rt *RiskTable) rows(names []string) []riskRow {
	var out []riskRow
	for i, name := range names {
		counts := make([]string, len(rt.Counts[i]))
		for j, n := range rt.Counts[i] {
			counts[j] = FormatCount(n, rt.MinCell, rt.Approximate)
		}
		if rt.Weighted == nil {
			out = append(out, riskRow{name, i, counts})
			continue
		}
		w := make([]string, len(rt.Weighted[i]))
		for j, v := range rt.Weighted[i] {
			w[j] = formatWeighted(v)
			if n := rt.Counts[i][j]; n < 0 || (n > 0 && n < rt.MinCell) {
				w[j] = "–"
			}
		}
		out = append(out, riskRow{name + ", weighted", i, w}, riskRow{"patients", i, counts})
	}
	return out
}

// formatWeighted prints a weighted number at risk: one decimal below 100, whole above.
func formatWeighted(v float64) string {
	if v >= 99.95 || v == 0 {
		return strconv.FormatFloat(v, 'f', 0, 64)
	}
	return strconv.FormatFloat(v, 'f', 1, 64)
}

// riskTable returns the table to draw (times in days), or nil for none.
func (f *KMFigure) riskTable(ticks []float64) *RiskTable {
	if f.HideRiskTable {
		return nil
	}
	if f.RiskTable != nil {
		return f.RiskTable
	}
	rt := &RiskTable{Times: ticks, MinCell: f.RiskMinCell, Approximate: f.Approximate}
	for i := range f.Curves {
		k := &f.Curves[i]
		if k.NRisk == nil {
			return nil // cannot derive the table for every group: draw none rather than a partial one
		}
		row := make([]int, len(ticks))
		for j, t := range ticks {
			row[j] = k.riskAt(t)
		}
		rt.Counts = append(rt.Counts, row)
	}
	return rt
}

// drawRiskTable draws "Number at risk" and one row per group, each count centred under its
// time's position on the x-axis, the group label right-aligned before the first column.
func (f *KMFigure) drawRiskTable(c draw.Canvas, l *kmLayout) {
	s := l.style
	ta := l.tableArea
	head := s.text(s.TextSize, true)
	top := ta.Max.Y
	putText(c, head, ta.Min.X, top-l.rowH/2, draw.XLeft, draw.YCenter, "Number at risk")
	var cellW vg.Length
	tsty := s.text(s.TextSize, false)
	for _, r := range l.rows {
		for _, cell := range r.cells {
			cellW = max(cellW, tsty.Width(cell))
		}
	}
	labelX := l.data.Min.X - cellW/2 - s.TextSize*0.8
	for k, r := range l.rows {
		y := top - vg.Length(k+1)*l.rowH - l.rowH/2
		sty := tsty
		sty.Color = f.color(s, r.curve)
		putText(c, sty, labelX, y, draw.XRight, draw.YCenter, r.label)
		for j, t := range l.table.Times {
			v := f.Unit.FromDays(t)
			if v < l.plot.X.Min-1e-9 || v > l.plot.X.Max+1e-9 {
				continue
			}
			putText(c, sty, l.x(v), y, draw.XCenter, draw.YCenter, r.cells[j])
		}
	}
}
