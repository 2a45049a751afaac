package chart

import (
	"fmt"
	"image/color"
	"math"
	"sort"
	"strings"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"

	"github.com/oncofed/oncofed/report/format"
)

// KMCurve is one group's Kaplan–Meier estimate as a step function. Times are in days.
type KMCurve struct {
	// Name labels the group in the legend and the number-at-risk table.
	Name string
	// N is the number of patients in the group, shown as "n = N" in the legend and as the
	// at-risk count at time 0; 0 leaves it out.
	N int
	// Time holds the distinct times of the step function in increasing order, and Surv the
	// survival estimate S(t) from Time[i] until the next time.
	Time, Surv []float64
	// Lower and Upper are the pointwise confidence limits of Surv (nil: no band). NaN marks
	// a limit that is not estimable, as R reports NA once S(t) reaches 0.
	Lower, Upper []float64
	// NRisk is the number at risk at Time[i]. When present, and Time holds every distinct
	// time (events and censorings, like summary(survfit, censored = TRUE) or an
	// analysis.SurvivalTable), the figure derives its number-at-risk table from it.
	NRisk []int
	// CensorTimes are the times, in days, at which patients were censored; each gets a '+'
	// mark on the curve.
	CensorTimes []float64
	// End is the end of follow-up in days; the curve is drawn flat up to it. Zero means the
	// last of Time and CensorTimes.
	End float64
	// Median is the median survival and its 95% CI in days, shown in the annotation box;
	// nil leaves the column out.
	Median *MedianCI
	// Color overrides the style's palette colour for this group.
	Color color.Color
}

// MedianCI is a median survival time with its confidence interval, in days. A value that is
// NaN or +Inf was not reached.
type MedianCI struct {
	Median, Lower, Upper float64
}

// HazardRatio is a hazard ratio with its 95% CI, with a label naming the comparison
// ("male vs female").
type HazardRatio struct {
	Label            string
	HR, Lower, Upper float64
}

// KMFigure is the publication Kaplan–Meier figure: step curves with confidence bands and
// censor marks, a number-at-risk table aligned under the time axis, a legend with n, an
// annotation box (median with 95% CI per group, log-rank p, hazard ratio) and a footnote.
// The zero value of every option gives the usual figure; set fields to turn parts off.
type KMFigure struct {
	// Title is drawn above the figure; empty for none.
	Title string
	// XLabel defaults to "Time (months)" (or the unit in use); YLabel to
	// "Overall survival probability" (or "Overall survival (%)" with Percent).
	XLabel, YLabel string
	// Unit is the unit of the time axis; input times are in days.
	Unit TimeUnit
	// Percent labels the y-axis 0–100 % instead of 0–1.
	Percent bool
	// Curves are the groups, drawn in order.
	Curves []KMCurve
	// XTicks overrides the time-axis ticks, in days; nil chooses them with TimeTicks.
	XTicks []float64
	// RiskTable, when set, is drawn as given; otherwise the table is derived from the
	// curves' NRisk (and N) at the axis ticks, hiding counts below RiskMinCell.
	RiskTable *RiskTable
	// RiskMinCell applies the minimum cell size to a derived risk table.
	RiskMinCell int
	// Approximate marks the curves' counts as noisy estimates (a differentially private
	// release): the legend's n and a derived risk table's counts are shown as "≈N".
	Approximate bool
	// HideRiskTable, HideBands, HideCensor and HideLegend turn those parts off.
	HideRiskTable, HideBands, HideCensor, HideLegend bool
	// Rising marks the curves as cumulative incidences: they start at 0 at time 0 (a survival
	// curve starts at 1).
	Rising bool
	// ShowMedianLines draws dashed lines at S = 0.5 down to each group's median.
	ShowMedianLines bool
	// LogRankP is the log-rank test p-value (nil: not shown), labelled PLabel (default
	// "Log-rank").
	LogRankP *float64
	PLabel   string
	// HR is a hazard ratio with 95% CI for a two-group comparison (nil: not shown).
	HR *HazardRatio
	// Notes are extra annotation lines, such as landmark survival.
	Notes []string
	// Footnote is drawn under the figure: the cohort in words, sites, data cut and the
	// privacy line.
	Footnote string
	// Style is the look; the zero Style is PublicationStyle.
	Style Style

	// area is where the last Draw put the data (ReadAt).
	area *dataArea
}

// FigureStyle returns the style the figure is drawn in.
func (f *KMFigure) FigureStyle() Style { return f.Style.orDefault() }

// Ticks returns the time-axis ticks in days: XTicks if set, otherwise the ticks TimeTicks
// chooses for the longest follow-up. A caller building a RiskTable from site releases asks
// the sites for the counts at these times.
func (f *KMFigure) Ticks() []float64 {
	if len(f.XTicks) > 0 {
		return append([]float64(nil), f.XTicks...)
	}
	maxT := 0.0
	for i := range f.Curves {
		maxT = math.Max(maxT, f.Curves[i].end())
	}
	ticks := TimeTicks(f.Unit.FromDays(maxT), f.Unit, f.FigureStyle().MaxTimeIntervals)
	for i := range ticks {
		ticks[i] *= f.Unit.DaysPer()
	}
	return ticks
}

// end returns the end of follow-up of the curve in days.
func (k *KMCurve) end() float64 {
	e := k.End
	if n := len(k.Time); n > 0 {
		e = math.Max(e, k.Time[n-1])
	}
	for _, t := range k.CensorTimes {
		e = math.Max(e, t)
	}
	return e
}

// survAt returns S(t): the estimate at the last step time at or before t (1 before the first).
func (k *KMCurve) survAt(t float64) float64 { return stepAt(k.Time, k.Surv, t) }

// riskAt returns the number at risk at time t (patients with follow-up ≥ t), read from NRisk
// at the first distinct time at or after t; 0 after the last time.
func (k *KMCurve) riskAt(t float64) int {
	i := sort.Search(len(k.Time), func(i int) bool { return k.Time[i] >= t })
	switch {
	case i == 0 && k.N > 0:
		return k.N
	case i == len(k.Time):
		return 0
	}
	return k.NRisk[i]
}

func (f *KMFigure) validate() error {
	if len(f.Curves) == 0 {
		return fmt.Errorf("chart: Kaplan–Meier figure has no curves")
	}
	for ci := range f.Curves {
		k := &f.Curves[ci]
		bad := func(format string, args ...any) error {
			return fmt.Errorf("chart: curve %d (%q): %s", ci, k.Name, fmt.Sprintf(format, args...))
		}
		n := len(k.Time)
		if len(k.Surv) != n {
			return bad("%d times but %d survival values", n, len(k.Surv))
		}
		if (k.Lower != nil && len(k.Lower) != n) || (k.Upper != nil && len(k.Upper) != n) {
			return bad("confidence limits do not match the %d times", n)
		}
		if k.NRisk != nil && len(k.NRisk) != n {
			return bad("%d at-risk counts for %d times", len(k.NRisk), n)
		}
		for i, t := range k.Time {
			if !(t >= 0) || math.IsInf(t, 0) || (i > 0 && t < k.Time[i-1]) {
				return bad("time %d (%v) is negative, not finite or out of order", i, t)
			}
			if s := k.Surv[i]; !(s >= 0 && s <= 1) {
				return bad("survival %d (%v) is outside [0, 1]", i, s)
			}
		}
	}
	if rt := f.RiskTable; rt != nil {
		if len(rt.Counts) != len(f.Curves) {
			return fmt.Errorf("chart: risk table has %d rows for %d curves", len(rt.Counts), len(f.Curves))
		}
		for i, row := range rt.Counts {
			if len(row) != len(rt.Times) {
				return fmt.Errorf("chart: risk table row %d has %d counts for %d times", i, len(row), len(rt.Times))
			}
		}
		if rt.Weighted != nil && len(rt.Weighted) != len(rt.Counts) {
			return fmt.Errorf("chart: risk table has %d weighted rows for %d curves", len(rt.Weighted), len(rt.Counts))
		}
		for i, row := range rt.Weighted {
			if len(row) != len(rt.Times) {
				return fmt.Errorf("chart: risk table weighted row %d has %d values for %d times", i, len(row), len(rt.Times))
			}
		}
	}
	return nil
}

func (f *KMFigure) color(s Style, i int) color.Color {
	if c := f.Curves[i].Color; c != nil {
		return c
	}
	return s.color(i)
}

// dashes is the dash pattern of curve i: solid while the palette has colours left, then
// dashed, dotted and dash-dotted as it cycles, so that every curve of a by-site view (more
// sites than colours) stays distinct, in the legend too.
func (f *KMFigure) dashes(s Style, i int) []vg.Length {
	if f.Curves[i].Color != nil || len(s.Palette) == 0 {
		return nil
	}
	w := s.LineWidth
	switch (i / len(s.Palette)) % 4 {
	case 1:
		return []vg.Length{4 * w, 2 * w}
	case 2:
		return []vg.Length{w, 1.5 * w}
	case 3:
		return []vg.Length{4 * w, 1.5 * w, w, 1.5 * w}
	}
	return nil
}

// kmLayout is where the parts of a Kaplan–Meier figure go on a canvas.
type kmLayout struct {
	style     Style
	plot      *plot.Plot
	plotArea  draw.Canvas // the canvas the gonum plot is drawn on
	data      draw.Canvas // its data area, where x and y are mapped
	ticks     []float64   // axis ticks in units
	table     *RiskTable
	rows      []riskRow // the table's rows
	tableArea draw.Canvas
	rowH      vg.Length

	legend     *kmLegend
	legendRect vg.Rectangle
}

// x maps a time in units to the canvas, exactly as the plot maps its ticks.
func (l *kmLayout) x(t float64) vg.Length { return l.data.X(l.plot.X.Norm(t)) }

// y maps a survival probability to the canvas.
func (l *kmLayout) y(s float64) vg.Length { return l.data.Y(l.plot.Y.Norm(s)) }

// layout fills the background, draws the title and footnote, places the plot and risk
// table on c, and builds the plot with its curves.
func (f *KMFigure) layout(c draw.Canvas) *kmLayout {
	s := f.FigureStyle()
	l := &kmLayout{style: s}
	inner := frame(c, s, f.Title, f.Footnote)

	ticksDays := f.Ticks()
	u := f.Unit
	l.ticks = make([]float64, len(ticksDays))
	for i, t := range ticksDays {
		l.ticks[i] = u.FromDays(t)
	}
	l.table = f.riskTable(ticksDays)

	// The risk table takes a header line and one row per group under the plot.
	tsty := s.text(s.TextSize, false)
	l.rowH = s.TextSize * 1.45
	var labelW, cellW vg.Length
	if l.table != nil {
		names := make([]string, len(f.Curves))
		for i := range f.Curves {
			names[i] = f.Curves[i].Name
		}
		l.rows = l.table.rows(names)
		for _, r := range l.rows {
			labelW = max(labelW, tsty.Width(r.label))
			for _, c := range r.cells {
				cellW = max(cellW, tsty.Width(c))
			}
		}
		h := vg.Length(len(l.rows)+1)*l.rowH + s.TextSize*0.4
		l.tableArea = inner
		l.tableArea.Max.Y = inner.Min.Y + h
		inner.Min.Y += h + s.TextSize*0.6
	}
	l.plotArea = inner
	l.plot = f.newPlot(s, l.ticks)
	l.data = l.plot.DataCanvas(l.plotArea)
	if l.table != nil {
		// Room on the left for the group labels, right-aligned before the first column.
		gap := s.TextSize * 0.8
		if need := labelW + gap + cellW/2; l.data.Min.X-inner.Min.X < need {
			l.plotArea.Min.X += need - (l.data.Min.X - inner.Min.X)
		}
		// Room on the right for half of the last column.
		if over := l.data.Max.X + cellW/2 - inner.Max.X; over > 0 {
			l.plotArea.Max.X -= over
		}
		l.data = l.plot.DataCanvas(l.plotArea)
	}
	if !f.HideLegend {
		l.legend = f.legend(s, false)
		inset := s.TextSize * 0.6
		var score float64
		l.legendRect, score = l.placeBox(f, l.legend.size, inset)
		// A box that would hide part of a curve (or much of a band) goes right of the
		// plot instead, stacked to be narrow, when that leaves the plot 70% of the width;
		// the risk table follows the new axis.
		if stacked := f.legend(s, true); score > 6 && stacked.size.X < (inner.Max.X-inner.Min.X)*0.3 {
			l.legend = stacked
			l.plotArea.Max.X -= l.legend.size.X + s.TextSize
			l.data = l.plot.DataCanvas(l.plotArea)
			o := vg.Point{X: l.plotArea.Max.X + s.TextSize, Y: l.data.Max.Y - l.legend.size.Y}
			l.legendRect = vg.Rectangle{Min: o, Max: o.Add(l.legend.size)}
		}
	}
	return l
}

// newPlot builds the gonum plot: axes, bands, curves, censor marks and median lines.
func (f *KMFigure) newPlot(s Style, ticks []float64) *plot.Plot {
	p := s.newPlot()
	u := f.Unit
	p.X.Label.Text = f.XLabel
	if p.X.Label.Text == "" {
		p.X.Label.Text = "Time (" + u.String() + ")"
	}
	p.Y.Label.Text = f.YLabel
	if p.Y.Label.Text == "" {
		p.Y.Label.Text = "Overall survival probability"
		if f.Percent {
			p.Y.Label.Text = "Overall survival (%)"
		}
	}
	xt := make(plot.ConstantTicks, len(ticks))
	for i, t := range ticks {
		xt[i] = plot.Tick{Value: t, Label: formatTick(t)}
	}
	p.X.Tick.Marker = xt
	var yt plot.ConstantTicks
	for _, v := range []float64{0, 0.25, 0.5, 0.75, 1} {
		lbl := fmt.Sprintf("%.2f", v)
		if f.Percent {
			lbl = fmt.Sprintf("%.0f", 100*v)
		}
		yt = append(yt, plot.Tick{Value: v, Label: lbl})
	}
	p.Y.Tick.Marker = yt

	for i := range f.Curves {
		k := &f.Curves[i]
		clr := f.color(s, i)
		xs, ys := k.steps(u, k.Surv, f.origin())
		if !f.HideBands && k.Lower != nil && k.Upper != nil {
			_, lo := k.steps(u, k.Lower, f.origin())
			_, hi := k.steps(u, k.Upper, f.origin())
			p.Add(&band{x: xs, lo: lo, hi: hi, color: withAlpha(clr, s.BandAlpha)})
		}
		line := &plotter.Line{XYs: make(plotter.XYs, len(xs)), StepStyle: plotter.PostStep,
			LineStyle: draw.LineStyle{Color: clr, Width: s.LineWidth, Dashes: f.dashes(s, i)}}
		for j := range xs {
			line.XYs[j] = plotter.XY{X: xs[j], Y: ys[j]}
		}
		p.Add(line)
		if !f.HideCensor && len(k.CensorTimes) > 0 {
			m := &censorMarks{color: clr, size: s.CensorSize, width: s.LineWidth * 0.6}
			for _, t := range k.CensorTimes {
				m.pts = append(m.pts, plotter.XY{X: u.FromDays(t), Y: k.survAt(t)})
			}
			p.Add(m)
		}
	}
	if f.ShowMedianLines {
		p.Add(&medianLines{fig: f, unit: u, color: s.Muted, width: s.AxisWidth * 1.2})
	}
	p.X.Min, p.X.Max = 0, ticks[len(ticks)-1]
	p.Y.Min, p.Y.Max = 0, 1
	return p
}

// origin is every curve's value at time 0: 1 for survival, 0 for a cumulative incidence.
func (f *KMFigure) origin() float64 {
	if f.Rising {
		return 0
	}
	return 1
}

// steps returns the vertices of the post-step function through (0, origin), (Time[i], v[i])
// and (End, last v), with times in units.
func (k *KMCurve) steps(u TimeUnit, v []float64, origin float64) (xs, ys []float64) {
	xs = append(xs, 0)
	ys = append(ys, origin)
	for i, t := range k.Time {
		xs = append(xs, u.FromDays(t))
		ys = append(ys, v[i])
	}
	if end := k.end(); len(k.Time) == 0 || end > k.Time[len(k.Time)-1] {
		xs = append(xs, u.FromDays(end))
		ys = append(ys, ys[len(ys)-1])
	}
	return xs, ys
}

// Draw draws the figure to fill c.
func (f *KMFigure) Draw(c draw.Canvas) error {
	if err := f.validate(); err != nil {
		return err
	}
	l := f.layout(c)
	l.plot.Draw(l.plotArea)
	f.area = newDataArea(c, l.data, l.plot.X.Min, l.plot.X.Max)
	if l.table != nil {
		f.drawRiskTable(c, l)
	}
	if l.legend != nil {
		f.drawLegend(c, l)
	}
	return nil
}

// band fills the area between two post-step functions; NaN limits leave a gap.
type band struct {
	x, lo, hi []float64
	color     color.Color
}

// Plot implements plot.Plotter.
func (b *band) Plot(c draw.Canvas, p *plot.Plot) {
	trX, trY := p.Transforms(&c)
	flush := func(upper, lower []vg.Point) {
		if len(upper) < 2 {
			return
		}
		poly := append([]vg.Point(nil), upper...)
		for i := len(lower) - 1; i >= 0; i-- {
			poly = append(poly, lower[i])
		}
		c.FillPolygon(b.color, poly)
	}
	var upper, lower []vg.Point
	for i := 0; i < len(b.x); i++ {
		ok := !math.IsNaN(b.lo[i]) && !math.IsNaN(b.hi[i])
		if !ok {
			flush(upper, lower)
			upper, lower = nil, nil
			continue
		}
		x, yl, yh := trX(b.x[i]), trY(b.lo[i]), trY(b.hi[i])
		if len(upper) > 0 { // post-step: run flat to this time, then jump
			upper = append(upper, vg.Point{X: x, Y: upper[len(upper)-1].Y})
			lower = append(lower, vg.Point{X: x, Y: lower[len(lower)-1].Y})
		}
		upper = append(upper, vg.Point{X: x, Y: yh})
		lower = append(lower, vg.Point{X: x, Y: yl})
	}
	flush(upper, lower)
}

// censorMarks draws a '+' at each censoring on the curve.
type censorMarks struct {
	pts         plotter.XYs
	color       color.Color
	size, width vg.Length
}

// Plot implements plot.Plotter.
func (m *censorMarks) Plot(c draw.Canvas, p *plot.Plot) {
	trX, trY := p.Transforms(&c)
	sty := draw.LineStyle{Color: m.color, Width: m.width}
	for _, pt := range m.pts {
		x, y := trX(pt.X), trY(pt.Y)
		if !c.ContainsX(x) {
			continue
		}
		c.StrokeLine2(sty, x-m.size, y, x+m.size, y)
		c.StrokeLine2(sty, x, y-m.size, x, y+m.size)
	}
}

// medianLines draws the dashed reference lines at S = 0.5 down to each reached median.
type medianLines struct {
	fig   *KMFigure
	unit  TimeUnit
	color color.Color
	width vg.Length
}

// Plot implements plot.Plotter.
func (m *medianLines) Plot(c draw.Canvas, p *plot.Plot) {
	trX, trY := p.Transforms(&c)
	dash := []vg.Length{m.width * 4, m.width * 3}
	far := math.Inf(-1)
	for i := range m.fig.Curves {
		k := &m.fig.Curves[i]
		if k.Median == nil || math.IsNaN(k.Median.Median) || math.IsInf(k.Median.Median, 0) {
			continue
		}
		x := m.unit.FromDays(k.Median.Median)
		far = math.Max(far, x)
		strokeLine(c, m.color, m.width, dash, vg.Point{X: trX(x), Y: trY(0.5)}, vg.Point{X: trX(x), Y: trY(0)})
	}
	if !math.IsInf(far, -1) {
		strokeLine(c, m.color, m.width, dash, vg.Point{X: trX(0), Y: trY(0.5)}, vg.Point{X: trX(far), Y: trY(0.5)})
	}
}

// kmLegend is the legend and annotation box: one row per group (colour, name, n, median
// with 95% CI), then the log-rank p, the hazard ratio and any notes.
//
// Stacked puts each group's median on a line of its own under its name, for the narrow
// box to the right of the plot.
type kmLegend struct {
	names, meds, extra []string
	medHead            string
	nameW              vg.Length
	size               vg.Point
	stacked            bool
}

func (f *KMFigure) legend(s Style, stacked bool) *kmLegend {
	u := f.Unit
	tsty := s.text(s.TextSize, false)
	rowH, swatch, gap, pad := s.TextSize*1.3, s.TextSize*1.8, s.TextSize*0.8, s.TextSize*0.6
	lg := &kmLegend{names: make([]string, len(f.Curves)), meds: make([]string, len(f.Curves)), stacked: stacked}
	var medW vg.Length
	for i := range f.Curves {
		k := &f.Curves[i]
		lg.names[i] = k.Name
		if k.N > 0 {
			// "n ≈ 7759" for a noisy count rather than "n = ≈7759".
			n := strings.Replace("n = "+FormatCount(k.N, 0, f.Approximate), "= ≈", "≈ ", 1)
			lg.names[i] = fmt.Sprintf("%s (%s)", k.Name, n)
		}
		lg.nameW = max(lg.nameW, tsty.Width(lg.names[i]))
		if m := k.Median; m != nil {
			lg.medHead = "Median, " + u.Abbrev() + " (95% CI)"
			lg.meds[i] = FormatMedianCI(u.FromDays(m.Median), u.FromDays(m.Lower), u.FromDays(m.Upper))
			if u == Days { // a tenth of a day is noise
				lg.meds[i] = fmt.Sprintf("%s (%s–%s)", formatDays(m.Median), formatDays(m.Lower), formatDays(m.Upper))
			}
			medW = max(medW, tsty.Width(lg.meds[i]))
		}
	}
	if lg.medHead != "" {
		medW = max(medW, tsty.Width(lg.medHead))
	}
	if f.LogRankP != nil {
		lbl := f.PLabel
		if lbl == "" {
			lbl = "Log-rank"
		}
		lg.extra = append(lg.extra, lbl+" "+format.PValue(*f.LogRankP))
	}
	if hr := f.HR; hr != nil {
		lbl := "HR"
		if hr.Label != "" {
			lbl += " (" + hr.Label + ")"
		}
		lg.extra = append(lg.extra, fmt.Sprintf("%s %s (95%% CI %s–%s)", lbl, formatRatio(hr.HR), formatRatio(hr.Lower), formatRatio(hr.Upper)))
	}
	lg.extra = append(lg.extra, f.Notes...)

	w := swatch + gap + lg.nameW
	rows := len(f.Curves) + len(lg.extra)
	switch {
	case lg.medHead != "" && stacked:
		w = max(w, swatch+gap+medW)
		rows += len(f.Curves) + 1
	case lg.medHead != "":
		w += gap + medW
		rows++
	}
	for _, e := range lg.extra {
		w = max(w, tsty.Width(e))
	}
	h := vg.Length(rows) * rowH
	if len(lg.extra) > 0 {
		h += rowH * 0.3
	}
	lg.size = vg.Point{X: w + 2*pad, Y: h + 2*pad}
	return lg
}

// drawLegend draws the legend box in the rectangle the layout chose for it.
func (f *KMFigure) drawLegend(c draw.Canvas, l *kmLayout) {
	s := l.style
	lg, r := l.legend, l.legendRect
	tsty := s.text(s.TextSize, false)
	hsty := tsty
	hsty.Color = s.Muted
	rowH, swatch, gap, pad := s.TextSize*1.3, s.TextSize*1.8, s.TextSize*0.8, s.TextSize*0.6

	fillRect(c, withAlpha(s.bg(), 0.85), r)
	strokeLine(c, s.Muted, s.AxisWidth*0.6, nil, r.Min, vg.Point{X: r.Max.X, Y: r.Min.Y}, r.Max,
		vg.Point{X: r.Min.X, Y: r.Max.Y}, r.Min)

	x0 := r.Min.X + pad
	y := r.Max.Y - pad - rowH/2
	medX := x0 + swatch + gap + lg.nameW + gap
	if lg.stacked {
		medX = x0 + swatch + gap
	}
	if lg.medHead != "" {
		putText(c, hsty, medX, y, draw.XLeft, draw.YCenter, lg.medHead)
		y -= rowH
	}
	for i := range f.Curves {
		clr := f.color(s, i)
		if !f.HideBands && f.Curves[i].Lower != nil {
			fillRect(c, withAlpha(clr, s.BandAlpha), vg.Rectangle{
				Min: vg.Point{X: x0, Y: y - rowH*0.3}, Max: vg.Point{X: x0 + swatch, Y: y + rowH*0.3}})
		}
		strokeLine(c, clr, s.LineWidth, f.dashes(s, i), vg.Point{X: x0, Y: y}, vg.Point{X: x0 + swatch, Y: y})
		putText(c, tsty, x0+swatch+gap, y, draw.XLeft, draw.YCenter, lg.names[i])
		if lg.meds[i] != "" {
			if lg.stacked {
				y -= rowH
			}
			putText(c, tsty, medX, y, draw.XLeft, draw.YCenter, lg.meds[i])
		}
		y -= rowH
	}
	y -= rowH * 0.3
	for _, e := range lg.extra {
		putText(c, tsty, x0, y, draw.XLeft, draw.YCenter, e)
		y -= rowH
	}
}

// placeBox returns, with its overlap score, where to put a box of the given size in the data area: of the positions
// on a grid over the area, the one the curves cross least (their confidence bands count a
// quarter), and among equals the one nearest a corner, preferring top right, then bottom
// left, bottom right and top left.
func (l *kmLayout) placeBox(f *KMFigure, size vg.Point, inset vg.Length) (vg.Rectangle, float64) {
	d := l.data
	x0, x1 := d.Min.X+inset, d.Max.X-inset-size.X
	y0, y1 := d.Min.Y+inset, d.Max.Y-inset-size.Y
	if x1 < x0 {
		x1 = x0
	}
	if y1 < y0 {
		y1 = y0
	}
	type sample struct {
		p vg.Point
		w float64
	}
	var pts []sample
	// Sample the step functions densely, vertical drops included, every 2 points.
	trace := func(xs, ys []float64, w float64) {
		for j := 1; j < len(xs); j++ {
			if math.IsNaN(ys[j-1]) || math.IsNaN(ys[j]) {
				continue
			}
			xa, xb := l.x(xs[j-1]), l.x(xs[j])
			ya, yb := l.y(ys[j-1]), l.y(ys[j])
			for t := xa; t < xb; t += 2 {
				pts = append(pts, sample{vg.Point{X: t, Y: ya}, w})
			}
			for t := min(ya, yb); t <= max(ya, yb); t += 2 {
				pts = append(pts, sample{vg.Point{X: xb, Y: t}, w})
			}
		}
	}
	for i := range f.Curves {
		k := &f.Curves[i]
		xs, ys := k.steps(f.Unit, k.Surv, f.origin())
		trace(xs, ys, 1)
		if !f.HideBands && k.Lower != nil && k.Upper != nil {
			_, lo := k.steps(f.Unit, k.Lower, f.origin())
			_, hi := k.steps(f.Unit, k.Upper, f.origin())
			trace(xs, lo, 0.25)
			trace(xs, hi, 0.25)
		}
	}
	corners := []vg.Point{{X: x1, Y: y1}, {X: x0, Y: y0}, {X: x1, Y: y0}, {X: x0, Y: y1}}
	const steps = 12
	best := corners[0]
	bestScore, bestDist := math.Inf(1), math.Inf(1)
	for ix := 0; ix <= steps; ix++ {
		for iy := 0; iy <= steps; iy++ {
			o := vg.Point{X: x0 + (x1-x0)*vg.Length(ix)/steps, Y: y0 + (y1-y0)*vg.Length(iy)/steps}
			score := 0.0
			for _, sp := range pts {
				p := sp.p
				if p.X >= o.X-inset && p.X <= o.X+size.X+inset && p.Y >= o.Y-inset && p.Y <= o.Y+size.Y+inset {
					score += sp.w
				}
			}
			dist := math.Inf(1)
			for ci, c := range corners {
				// Each corner in the order of preference costs a little more.
				dd := math.Hypot(float64(o.X-c.X), float64(o.Y-c.Y)) + float64(ci)*float64(inset)
				dist = math.Min(dist, dd)
			}
			if score < bestScore-1e-9 || (score < bestScore+1e-9 && dist < bestDist) {
				best, bestScore, bestDist = o, score, dist
			}
		}
	}
	return vg.Rectangle{Min: best, Max: best.Add(size)}, bestScore
}

// formatDays prints a time in whole days, or "NR" when not reached.
func formatDays(d float64) string {
	if math.IsNaN(d) || math.IsInf(d, 0) {
		return "NR"
	}
	return fmt.Sprintf("%.0f", d)
}
