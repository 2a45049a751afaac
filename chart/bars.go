package chart

import (
	"fmt"
	"image/color"
	"math"
	"strconv"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
)

// BarGroup is one group's values in a BarChart, one per category.
type BarGroup struct {
	// Name labels the group in the legend.
	Name string
	// Values holds one count (or percentage) per category; a negative value marks a cell
	// suppressed by a disclosure policy, drawn as "<MinCell" at the baseline.
	Values []float64
	// Max, when set, gives for each category an upper bound: a pooled count that includes
	// suppressed cells is only known to lie in [Values[i], Max[i]], and the bar shows that
	// range as a pale extension. Max[i] ≤ Values[i] means exact.
	Max []float64
	// Labels, when set, replace the value printed above each bar ("<5", "13–16").
	Labels []string
	// Color overrides the palette colour.
	Color color.Color
}

// BarChart shows category counts by group as grouped bars, for the Summary tab.
type BarChart struct {
	// Title, XLabel and YLabel label the figure; YLabel defaults to "Patients".
	Title, XLabel, YLabel string
	// Categories name the bars along the x-axis.
	Categories []string
	// Groups are drawn side by side within each category.
	Groups []BarGroup
	// MinCell is the policy's minimum cell size, shown for suppressed cells.
	MinCell int
	// HideValues turns off the value printed above each bar.
	HideValues bool
	// Footnote is drawn under the figure.
	Footnote string
	// Style is the look; the zero Style is PublicationStyle.
	Style Style
}

// FigureStyle returns the style the figure is drawn in.
func (b *BarChart) FigureStyle() Style { return b.Style.orDefault() }

func (b *BarChart) validate() error {
	if len(b.Categories) == 0 || len(b.Groups) == 0 {
		return fmt.Errorf("chart: bar chart needs categories and groups")
	}
	for i, g := range b.Groups {
		if len(g.Values) != len(b.Categories) {
			return fmt.Errorf("chart: bar group %d (%q) has %d values for %d categories", i, g.Name, len(g.Values), len(b.Categories))
		}
		if (g.Max != nil && len(g.Max) != len(g.Values)) || (g.Labels != nil && len(g.Labels) != len(g.Values)) {
			return fmt.Errorf("chart: bar group %d (%q): Max or Labels do not match the %d categories", i, g.Name, len(g.Values))
		}
		for j, v := range g.Values {
			if math.IsNaN(v) || math.IsInf(v, 0) {
				return fmt.Errorf("chart: bar group %d (%q), category %q: value %v is not finite", i, g.Name, b.Categories[j], v)
			}
		}
	}
	return nil
}

// Draw draws the bar chart to fill c.
func (b *BarChart) Draw(c draw.Canvas) error {
	if err := b.validate(); err != nil {
		return err
	}
	f := countsFigure{title: b.Title, footnote: b.Footnote, xLabel: b.XLabel, yLabel: b.YLabel,
		xMin: -0.5, xMax: float64(len(b.Categories)) - 0.5, headroom: 1.12} // room for the value labels
	for _, g := range b.Groups {
		f.series = append(f.series, countSeries{name: g.Name, color: g.Color, counts: g.Values, max: g.Max})
	}
	for i, cat := range b.Categories {
		f.xTicks = append(f.xTicks, plot.Tick{Value: float64(i), Label: cat})
	}
	f.draw(c, b.FigureStyle(), b.drawBars)
	return nil
}

// drawBars draws the bars, their value labels and the suppressed-cell labels.
func (b *BarChart) drawBars(c draw.Canvas, trX, trY func(float64) vg.Length, s Style, colors []color.Color) {
	g := len(b.Groups)
	slot := 0.8 / float64(g)
	vsty := s.text(s.TextSize*0.85, false)
	for gi, grp := range b.Groups {
		for ci, v := range grp.Values {
			x0 := float64(ci) - 0.4 + float64(gi)*slot
			xa, xb := trX(x0+slot*0.06), trX(x0+slot*0.94)
			mid := (xa + xb) / 2
			if v < 0 {
				putText(c, vsty, mid, trY(0)+s.TextSize*0.2, draw.XCenter, draw.YBottom, FormatCount(-1, b.MinCell, false))
				continue
			}
			fillRect(c, colors[gi], vg.Rectangle{Min: vg.Point{X: xa, Y: trY(0)}, Max: vg.Point{X: xb, Y: trY(v)}})
			top := v
			if grp.Max != nil && grp.Max[ci] > v {
				top = grp.Max[ci]
				fillRect(c, withAlpha(colors[gi], 0.3), vg.Rectangle{Min: vg.Point{X: xa, Y: trY(v)}, Max: vg.Point{X: xb, Y: trY(top)}})
			}
			if !b.HideValues {
				lbl := strconv.FormatFloat(v, 'f', -1, 64)
				if v != math.Trunc(v) {
					lbl = strconv.FormatFloat(v, 'f', 1, 64)
				}
				if grp.Labels != nil {
					lbl = grp.Labels[ci]
				}
				if vsty.Width(lbl) <= (xb-xa)*1.15 {
					putText(c, vsty, mid, trY(top)+s.TextSize*0.15, draw.XCenter, draw.YBottom, lbl)
				}
			}
		}
	}
}

// HistSeries is one group's counts in a Histogram, one per bin.
type HistSeries struct {
	// Name labels the group in the legend.
	Name string
	// Counts holds one count per bin; a negative count marks a suppressed bin.
	Counts []float64
	// Max, when set, bounds each bin's count from above when it is only known to lie in
	// [Counts[i], Max[i]] (pooled with suppressed cells); the range is drawn pale.
	Max []float64
	// Labels, when set, print a bin's text above it in the series' colour where it fits the
	// bin ("<5" for a range count); an empty label prints nothing. Bins carry no value labels
	// otherwise: a histogram is read from its shape and axis.
	Labels []string
	// Color overrides the palette colour.
	Color color.Color
}

// Histogram draws counts over bins given by their edges, as sites release them; several
// series share each bin side by side.
type Histogram struct {
	// Title, XLabel and YLabel label the figure; YLabel defaults to "Patients".
	Title, XLabel, YLabel string
	// Edges are the bin edges in increasing order: bin i is [Edges[i], Edges[i+1]).
	Edges []float64
	// Series are overlaid in order.
	Series []HistSeries
	// MinCell is the policy's minimum cell size, shown for suppressed bins.
	MinCell int
	// Footnote is drawn under the figure.
	Footnote string
	// Style is the look; the zero Style is PublicationStyle.
	Style Style
}

// FigureStyle returns the style the figure is drawn in.
func (h *Histogram) FigureStyle() Style { return h.Style.orDefault() }

func (h *Histogram) validate() error {
	if len(h.Edges) < 2 || len(h.Series) == 0 {
		return fmt.Errorf("chart: histogram needs at least two edges and one series")
	}
	for i := 1; i < len(h.Edges); i++ {
		if !(h.Edges[i] > h.Edges[i-1]) || math.IsInf(h.Edges[i], 0) || math.IsInf(h.Edges[i-1], 0) {
			return fmt.Errorf("chart: histogram edge %d (%v) does not increase from %v", i, h.Edges[i], h.Edges[i-1])
		}
	}
	for i, sr := range h.Series {
		if len(sr.Counts) != len(h.Edges)-1 || (sr.Max != nil && len(sr.Max) != len(sr.Counts)) || (sr.Labels != nil && len(sr.Labels) != len(sr.Counts)) {
			return fmt.Errorf("chart: histogram series %d (%q) has %d counts (%d bounds, %d labels) for %d bins", i, sr.Name, len(sr.Counts), len(sr.Max), len(sr.Labels), len(h.Edges)-1)
		}
		for j, v := range sr.Counts {
			if math.IsNaN(v) || math.IsInf(v, 0) {
				return fmt.Errorf("chart: histogram series %d (%q), bin %d: count %v is not finite", i, sr.Name, j, v)
			}
		}
	}
	return nil
}

// Draw draws the histogram to fill c.
func (h *Histogram) Draw(c draw.Canvas) error {
	if err := h.validate(); err != nil {
		return err
	}
	f := countsFigure{title: h.Title, footnote: h.Footnote, xLabel: h.XLabel, yLabel: h.YLabel,
		xMin: h.Edges[0], xMax: h.Edges[len(h.Edges)-1], headroom: 1.05}
	for _, sr := range h.Series {
		f.series = append(f.series, countSeries{name: sr.Name, color: sr.Color, counts: sr.Counts, max: sr.Max})
	}
	f.draw(c, h.FigureStyle(), h.drawBins)
	return nil
}

// drawBins draws the bins of every series and labels suppressed bins.
func (h *Histogram) drawBins(c draw.Canvas, trX, trY func(float64) vg.Length, s Style, colors []color.Color) {
	// Several series share each bin side by side (dodged) rather than overlaid: translucent
	// overlays mix the palette's colours into ones no legend explains.
	ns := len(h.Series)
	vsty := s.text(s.TextSize*0.8, false)
	for si, sr := range h.Series {
		for i, v := range sr.Counts {
			x0, x1 := trX(h.Edges[i]), trX(h.Edges[i+1])
			w := (x1 - x0) / vg.Length(ns)
			xa, xb := x0+w*vg.Length(si), x0+w*vg.Length(si+1)
			if v < 0 {
				sty := vsty
				sty.Color = colors[si]
				putText(c, sty, (xa+xb)/2, trY(0)+s.TextSize*0.2, draw.XCenter, draw.YBottom, FormatCount(-1, h.MinCell, false))
				continue
			}
			r := vg.Rectangle{Min: vg.Point{X: xa, Y: trY(0)}, Max: vg.Point{X: xb, Y: trY(v)}}
			fillRect(c, withAlpha(colors[si], 0.85), r)
			top := v
			if sr.Max != nil && sr.Max[i] > v {
				top = sr.Max[i]
				fillRect(c, withAlpha(colors[si], 0.3), vg.Rectangle{Min: vg.Point{X: xa, Y: trY(v)}, Max: vg.Point{X: xb, Y: trY(top)}})
			}
			strokeLine(c, s.bg(), s.AxisWidth*0.5, nil, r.Min, vg.Point{X: r.Min.X, Y: r.Max.Y}, r.Max, vg.Point{X: r.Max.X, Y: r.Min.Y})
			if sr.Labels != nil && sr.Labels[i] != "" && vsty.Width(sr.Labels[i]) <= (xb-xa)*0.9 { // dodged bins touch: keep a gap
				sty := vsty
				sty.Color = colors[si]
				putText(c, sty, (xa+xb)/2, trY(top)+s.TextSize*0.15, draw.XCenter, draw.YBottom, sr.Labels[i])
			}
		}
	}
}

// countSeries is one series of a bar chart or histogram as their shared frame sees it.
type countSeries struct {
	name        string
	color       color.Color // nil: the palette's colour of the series' index
	counts, max []float64   // max may be nil
}

// countsFigure is what a bar chart and a histogram share: a count axis from 0 with room
// above the highest count or bound, a legend row for more than one series, and the frame.
type countsFigure struct {
	title, footnote, xLabel, yLabel string
	series                          []countSeries
	xMin, xMax                      float64
	// headroom multiplies the highest count or bound to give the top of the y-axis.
	headroom float64
	// xTicks, when set, label categories at fixed positions, without tick marks.
	xTicks plot.ConstantTicks
}

// countMarks draws a figure's bars on the plot's data area c, through the plot's data-to-canvas
// transforms, each series in its colour.
type countMarks func(c draw.Canvas, trX, trY func(float64) vg.Length, s Style, colors []color.Color)

// plotterFunc adapts a function to plot.Plotter.
type plotterFunc func(c draw.Canvas, p *plot.Plot)

// Plot implements plot.Plotter.
func (f plotterFunc) Plot(c draw.Canvas, p *plot.Plot) { f(c, p) }

// draw draws the frame, legend and axes to fill c, then marks in the series' colours (a nil
// colour replaced by the palette's, so that every series is drawn in its legend colour).
func (f *countsFigure) draw(c draw.Canvas, s Style, marks countMarks) {
	names := make([]string, len(f.series))
	colors := make([]color.Color, len(f.series))
	top := 0.0
	for i, sr := range f.series {
		names[i], colors[i] = sr.name, sr.color
		if colors[i] == nil {
			colors[i] = s.color(i)
		}
		top = math.Max(top, countsTop(sr.counts, sr.max))
	}
	inner := frame(c, s, f.title, f.footnote)
	if len(names) > 1 {
		inner = drawLegendRow(c, inner, s, names, colors)
	}
	p := s.newPlot()
	p.X.Label.Text, p.Y.Label.Text = f.xLabel, f.yLabel
	if p.Y.Label.Text == "" {
		p.Y.Label.Text = "Patients"
	}
	if f.xTicks != nil {
		p.X.Tick.Marker = f.xTicks
		p.X.Tick.Length = 0
	}
	p.X.Min, p.X.Max = f.xMin, f.xMax
	p.Y.Min, p.Y.Max = 0, nonZero(top)*f.headroom
	p.Y.Tick.Marker = countTicks{}
	p.Add(plotterFunc(func(c draw.Canvas, p *plot.Plot) {
		trX, trY := p.Transforms(&c)
		marks(c, trX, trY, s, colors)
	}))
	p.Draw(inner)
}

// countsTop returns the largest count or upper bound of one series (max may be nil), 0 when
// there is none above 0.
func countsTop(counts, max []float64) float64 {
	top := 0.0
	for i, v := range counts {
		top = math.Max(top, v)
		if max != nil {
			top = math.Max(top, max[i])
		}
	}
	return top
}

// nonZero returns top, or 1 for an axis of only zeros, which would otherwise have no extent.
func nonZero(top float64) float64 {
	if top == 0 {
		return 1
	}
	return top
}

// drawLegendRow draws a one-line legend (colour swatch and name per entry) right-aligned at
// the top of c and returns c without it.
func drawLegendRow(c, area draw.Canvas, s Style, names []string, colors []color.Color) draw.Canvas {
	tsty := s.text(s.TextSize, false)
	sw := s.TextSize
	gap := s.TextSize * 0.5
	total := vg.Length(0)
	for _, n := range names {
		total += sw + gap + tsty.Width(n) + 2*gap
	}
	x := area.Max.X - total
	y := area.Max.Y - s.TextSize*0.7
	for i, n := range names {
		fillRect(c, colors[i], vg.Rectangle{Min: vg.Point{X: x, Y: y - sw/2}, Max: vg.Point{X: x + sw, Y: y + sw/2}})
		putText(c, tsty, x+sw+gap, y, draw.XLeft, draw.YCenter, n)
		x += sw + gap + tsty.Width(n) + 2*gap
	}
	area.Max.Y -= s.TextSize * 1.8
	return area
}

// countTicks are about five ticks at steps of 1, 2 or 5 × 10ᵏ, labelled without trailing
// zeros ("75", not "75.00").
type countTicks struct{}

// Ticks implements plot.Ticker.
func (countTicks) Ticks(min, max float64) []plot.Tick {
	span := max - min
	if !(span > 0) {
		return []plot.Tick{{Value: min, Label: formatTick(min)}}
	}
	raw := span / 5
	mag := math.Pow(10, math.Floor(math.Log10(raw)))
	step := 10 * mag
	for _, m := range []float64{1, 2, 5} {
		if m*mag >= raw {
			step = m * mag
			break
		}
	}
	var ts []plot.Tick
	for v := math.Ceil(min/step) * step; v <= max+step*1e-9; v += step {
		ts = append(ts, plot.Tick{Value: v, Label: formatTick(v)})
	}
	return ts
}
