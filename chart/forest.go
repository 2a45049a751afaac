package chart

import (
	"fmt"
	"math"
	"strconv"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"

	"github.com/oncofed/oncofed/report/format"
)

// ForestRow is one line of a forest plot: a model term, or a site in a heterogeneity view.
type ForestRow struct {
	// Label names the row ("age (per year)", "site A").
	Label string
	// HR, Lower and Upper are the hazard ratio and its 95% confidence limits.
	HR, Lower, Upper float64
	// Weight sizes the square: its area is proportional to Weight (e.g. inverse variance).
	// Zero everywhere gives equal squares.
	Weight float64
	// Pooled draws the row as a diamond spanning the CI: the pooled estimate.
	Pooled bool
	// Text replaces the "HR (95% CI)" text in the right column.
	Text string
	// PredictionLower and PredictionUpper, when both are set on a pooled row, draw the 95%
	// prediction interval of a random-effects pooling as a thin line through the diamond.
	PredictionLower, PredictionUpper float64
}

// ForestPlot is a forest plot of hazard ratios: label column, squares sized by weight with
// CI lines on a log axis, a vertical line at HR = 1, the "HR (95% CI)" column, a pooled
// diamond and the heterogeneity statistics under it.
type ForestPlot struct {
	// Title is drawn above the figure.
	Title string
	// XLabel defaults to "Hazard ratio (log scale)".
	XLabel string
	// LabelHeader and EstimateHeader head the two text columns; EstimateHeader defaults to
	// "HR (95% CI)".
	LabelHeader, EstimateHeader string
	// Rows are drawn top to bottom.
	Rows []ForestRow
	// I2 is Higgins' I² in percent, as analysis.Heterogeneity reports it (nil: not shown);
	// QP is the p-value of Cochran's Q (nil: not shown).
	I2, QP *float64
	// Footnote is drawn under the figure.
	Footnote string
	// Style is the look; the zero Style is PublicationStyle.
	Style Style
	// Linear draws the estimates on a linear axis with the reference line at Reference (a
	// concordance index against 0.5, a calibration slope against 1) instead of ratios on a
	// log axis against 1; values need not be positive.
	Linear    bool
	Reference float64
}

// FigureStyle returns the style the figure is drawn in.
func (f *ForestPlot) FigureStyle() Style { return f.Style.orDefault() }

func (f *ForestPlot) validate() error {
	if len(f.Rows) == 0 {
		return fmt.Errorf("chart: forest plot has no rows")
	}
	for i, r := range f.Rows {
		for _, v := range []float64{r.HR, r.Lower, r.Upper} {
			if f.Linear && !math.IsNaN(v) && !math.IsInf(v, 0) {
				continue
			}
			if !(v > 0) || math.IsInf(v, 0) {
				return fmt.Errorf("chart: forest row %d (%q): HR and CI must be positive and finite, got %v (%v–%v)",
					i, r.Label, r.HR, r.Lower, r.Upper)
			}
		}
		if r.Lower > r.HR || r.HR > r.Upper {
			return fmt.Errorf("chart: forest row %d (%q): HR %v is outside its CI %v–%v", i, r.Label, r.HR, r.Lower, r.Upper)
		}
		if r.Weight < 0 || math.IsNaN(r.Weight) {
			return fmt.Errorf("chart: forest row %d (%q): weight %v is negative", i, r.Label, r.Weight)
		}
	}
	return nil
}

// forestAxis returns the axis range and ticks for ratios from lo to hi (and always 1):
// powers of two (0.25, 0.5, 1, 2, 4), symmetric about 1 on the log axis, while that takes
// at most 8 ticks, otherwise 1-2-5 steps per decade. The axis ends on ticks.
func forestAxis(lo, hi float64) (min, max float64, ticks []float64) {
	lo, hi = math.Min(lo, 1), math.Max(hi, 1)
	a, b := math.Floor(math.Log2(lo)+1e-9), math.Ceil(math.Log2(hi)-1e-9)
	if b-a <= 7 {
		for e := a; e <= b; e++ {
			ticks = append(ticks, math.Exp2(e))
		}
		return ticks[0], ticks[len(ticks)-1], ticks
	}
	da, db := math.Floor(math.Log10(lo)+1e-9), math.Ceil(math.Log10(hi)-1e-9)
	for e := da; e <= db; e++ {
		for _, m := range []float64{1, 2, 5} {
			v := m * math.Pow(10, e)
			if e == db && m > 1 {
				break
			}
			ticks = append(ticks, v)
		}
	}
	// Trim to the first tick at or below lo and the last at or above hi.
	i, j := 0, len(ticks)-1
	for i+1 < len(ticks) && ticks[i+1] <= lo {
		i++
	}
	for j-1 >= 0 && ticks[j-1] >= hi {
		j--
	}
	ticks = ticks[i : j+1]
	return ticks[0], ticks[len(ticks)-1], ticks
}

// Draw draws the forest plot to fill c.
func (f *ForestPlot) Draw(c draw.Canvas) error {
	if err := f.validate(); err != nil {
		return err
	}
	s := f.FigureStyle()
	inner := frame(c, s, f.Title, f.Footnote)

	tsty := s.text(s.TextSize, false)
	bsty := s.text(s.TextSize, true)
	rowH := s.TextSize * 1.6
	het := f.heterogeneity()
	if het != "" {
		inner.Min.Y += rowH
	}
	labelHead := f.LabelHeader
	estHead := f.EstimateHeader
	if estHead == "" {
		estHead = "HR (95% CI)"
	}
	labelW, estW := bsty.Width(labelHead), bsty.Width(estHead)
	texts := make([]string, len(f.Rows))
	lo, hi := math.Inf(1), math.Inf(-1)
	for i, r := range f.Rows {
		sty := tsty
		if r.Pooled {
			sty = bsty
		}
		labelW = max(labelW, sty.Width(r.Label))
		texts[i] = r.Text
		if texts[i] == "" {
			texts[i] = FormatHR(r.HR, r.Lower, r.Upper)
		}
		estW = max(estW, sty.Width(texts[i]))
		lo, hi = math.Min(lo, r.Lower), math.Max(hi, r.Upper)
		if r.Pooled && r.PredictionLower != 0 && r.PredictionUpper != 0 {
			lo, hi = math.Min(lo, r.PredictionLower), math.Max(hi, r.PredictionUpper)
		}
	}
	gap := s.TextSize * 1.5
	inner.Max.Y -= rowH // header line

	p := s.newPlot()
	p.X.Label.Text = f.XLabel
	if f.Linear {
		lo, hi = math.Min(lo, f.Reference), math.Max(hi, f.Reference)
		pad := 0.05 * math.Max(hi-lo, 1e-3)
		p.X.Min, p.X.Max = lo-pad, hi+pad
	} else {
		p.X.Scale = plot.LogScale{}
		if p.X.Label.Text == "" {
			p.X.Label.Text = "Hazard ratio (log scale)"
		}
		xmin, xmax, ticks := forestAxis(lo, hi)
		var xt plot.ConstantTicks
		for _, v := range ticks {
			xt = append(xt, plot.Tick{Value: v, Label: strconv.FormatFloat(v, 'g', -1, 64)})
		}
		p.X.Tick.Marker = xt
		p.X.Min, p.X.Max = xmin, xmax
	}
	n := len(f.Rows)
	p.Y.Min, p.Y.Max = 0.5, float64(n)+0.5
	p.Y.Tick.Marker = plot.ConstantTicks{}
	p.Y.Width, p.Y.Padding = 0, 0
	p.Add(&forestMarks{fig: f, style: s})

	area := inner
	area.Min.X += labelW + gap
	area.Max.X -= estW + gap
	dc := p.DataCanvas(area)
	// With few rows, keep them close together under the header rather than spread over
	// the whole height.
	if maxRow := s.TextSize * 2.6; (dc.Max.Y-dc.Min.Y)/vg.Length(n) > maxRow {
		extra := dc.Max.Y - dc.Min.Y - maxRow*vg.Length(n)
		area.Min.Y += extra / 2
		area.Max.Y -= extra / 2
		dc = p.DataCanvas(area)
	}
	p.Draw(area)
	if het != "" {
		putText(c, tsty, inner.Min.X, area.Min.Y-rowH/2, draw.XLeft, draw.YCenter, het)
	}
	rowY := func(i int) vg.Length { return dc.Y(p.Y.Norm(float64(n - i))) }

	putText(c, bsty, inner.Min.X, area.Max.Y+rowH/2, draw.XLeft, draw.YCenter, labelHead)
	putText(c, bsty, inner.Max.X, area.Max.Y+rowH/2, draw.XRight, draw.YCenter, estHead)
	for i, r := range f.Rows {
		sty := tsty
		if r.Pooled {
			sty = bsty
			// A rule above the pooled row separates it from the rows it pools.
			yl := (rowY(i) + rowY(i-1)) / 2
			if i > 0 {
				strokeLine(c, s.Muted, s.AxisWidth*0.6, nil, vg.Point{X: inner.Min.X, Y: yl}, vg.Point{X: inner.Max.X, Y: yl})
			}
		}
		putText(c, sty, inner.Min.X, rowY(i), draw.XLeft, draw.YCenter, r.Label)
		putText(c, sty, inner.Max.X, rowY(i), draw.XRight, draw.YCenter, texts[i])
	}
	return nil
}

// heterogeneity returns the "Heterogeneity: I² = 34%, Q test p = 0.21" line, or "".
func (f *ForestPlot) heterogeneity() string {
	out := ""
	if f.I2 != nil {
		out = fmt.Sprintf("I² = %.0f%%", *f.I2)
	}
	if f.QP != nil {
		if out != "" {
			out += ", "
		}
		out += "Cochran's Q " + format.PValue(*f.QP)
	}
	if out == "" {
		return ""
	}
	return "Heterogeneity: " + out
}

// forestMarks draws the reference line at 1, the CI lines, squares and diamonds.
type forestMarks struct {
	fig   *ForestPlot
	style Style
}

// Plot implements plot.Plotter.
func (m *forestMarks) Plot(c draw.Canvas, p *plot.Plot) {
	s := m.style
	trX, trY := p.Transforms(&c)
	n := len(m.fig.Rows)
	rowH := trY(1) - trY(0)
	ref := 1.0
	if m.fig.Linear {
		ref = m.fig.Reference
	}
	strokeLine(c, s.Muted, s.AxisWidth*1.2, nil, vg.Point{X: trX(ref), Y: c.Min.Y}, vg.Point{X: trX(ref), Y: c.Max.Y})
	maxW := 0.0
	for _, r := range m.fig.Rows {
		if !r.Pooled {
			maxW = math.Max(maxW, r.Weight)
		}
	}
	box := s.color(0)
	for i, r := range m.fig.Rows {
		y := trY(float64(n - i))
		xl, x, xh := trX(r.Lower), trX(r.HR), trX(r.Upper)
		if r.Pooled {
			if r.PredictionLower != 0 && r.PredictionUpper != 0 {
				strokeLine(c, s.color(1), s.LineWidth*0.8, nil, vg.Point{X: trX(r.PredictionLower), Y: y}, vg.Point{X: trX(r.PredictionUpper), Y: y})
			}
			h := rowH * 0.28
			pts := []vg.Point{{X: xl, Y: y}, {X: x, Y: y + h}, {X: xh, Y: y}, {X: x, Y: y - h}}
			c.FillPolygon(s.color(1), pts)
			continue
		}
		for _, l := range c.ClipLinesX([]vg.Point{{X: xl, Y: y}, {X: xh, Y: y}}) {
			strokeLine(c, s.Foreground, s.LineWidth*0.8, nil, l...)
		}
		// Square sides run from a quarter to all of the largest size, area ∝ weight.
		big := min(rowH*0.32, s.TextSize*0.75)
		half := big * 0.6
		if maxW > 0 {
			half = big * vg.Length(0.25+0.75*math.Sqrt(r.Weight/maxW))
		}
		fillRect(c, box, vg.Rectangle{Min: vg.Point{X: x - half, Y: y - half}, Max: vg.Point{X: x + half, Y: y + half}})
	}
}
