package chart

import (
	"fmt"
	"image/color"
	"math"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
)

// LoveRow is one design column of a Love plot: its standardised mean difference before and
// after weighting.
type LoveRow struct {
	Label         string
	Before, After float64
}

// LovePlot is the balance diagnostic of a weighted comparison (Ahmed et al. 2006, named after
// Thomas Love): one row per design column, the absolute standardised mean difference before
// (hollow) and after (filled) weighting, and a dashed line at the threshold (0.1) below which
// a column counts as balanced.
type LovePlot struct {
	Title, Footnote string
	Rows            []LoveRow
	// Threshold is drawn as a dashed vertical line; 0 means 0.1.
	Threshold float64
	Style     Style
}

// FigureStyle returns the style the figure is drawn in.
func (l *LovePlot) FigureStyle() Style { return l.Style.orDefault() }

func (l *LovePlot) validate() error {
	if len(l.Rows) == 0 {
		return fmt.Errorf("chart: Love plot has no rows")
	}
	for i, r := range l.Rows {
		for _, v := range []float64{r.Before, r.After} {
			if math.IsNaN(v) || math.IsInf(v, 0) {
				return fmt.Errorf("chart: Love plot row %d (%q): SMD %v is not finite", i, r.Label, v)
			}
		}
	}
	return nil
}

// Draw draws the Love plot to fill c.
func (l *LovePlot) Draw(c draw.Canvas) error {
	if err := l.validate(); err != nil {
		return err
	}
	s := l.FigureStyle()
	thr := l.Threshold
	if thr == 0 {
		thr = 0.1
	}
	colors := []string{"before weighting", "after weighting"}
	inner := frame(c, s, l.Title, l.Footnote)
	inner = drawLegendRow(c, inner, s, colors, []color.Color{s.color(0), s.color(1)})
	p := s.newPlot()
	p.X.Label.Text = "|standardised mean difference|"
	top := thr * 2
	for _, r := range l.Rows {
		top = math.Max(top, math.Max(math.Abs(r.Before), math.Abs(r.After)))
	}
	n := len(l.Rows)
	p.X.Min, p.X.Max = 0, top*1.08
	p.Y.Min, p.Y.Max = -0.5, float64(n)-0.5
	var ticks plot.ConstantTicks
	for i, r := range l.Rows {
		ticks = append(ticks, plot.Tick{Value: float64(n - 1 - i), Label: r.Label})
	}
	p.Y.Tick.Marker = ticks
	p.Y.Tick.Length = 0
	p.Add(plotterFunc(func(dc draw.Canvas, p *plot.Plot) {
		trX, trY := p.Transforms(&dc)
		muted := s.Muted
		if muted == nil {
			muted = s.Foreground
		}
		x := trX(thr)
		strokeLine(dc, muted, s.AxisWidth, []vg.Length{vg.Points(3), vg.Points(3)}, vg.Point{X: x, Y: dc.Min.Y}, vg.Point{X: x, Y: dc.Max.Y})
		rad := s.TextSize * 0.3
		for i, r := range l.Rows {
			y := trY(float64(n - 1 - i))
			b := vg.Point{X: trX(math.Abs(r.Before)), Y: y}
			a := vg.Point{X: trX(math.Abs(r.After)), Y: y}
			strokeLine(dc, muted, s.AxisWidth*0.5, nil, b, a)
			dc.SetLineWidth(s.LineWidth)
			dc.SetColor(s.color(0))
			dc.Stroke(circle(b, rad))
			dc.SetColor(s.color(1))
			dc.Fill(circle(a, rad))
		}
	}))
	p.Draw(inner)
	return nil
}

// circle is a closed circular path of radius r around c.
func circle(c vg.Point, r vg.Length) vg.Path {
	var p vg.Path
	p.Move(vg.Point{X: c.X + r, Y: c.Y})
	p.Arc(c, r, 0, 2*math.Pi)
	p.Close()
	return p
}
