package chart

import (
	"fmt"
	"math"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
)

// VolcanoPoint is one marker of a screen: its effect on the log scale and its p-value.
type VolcanoPoint struct {
	Label string
	// LogHR is the marker's log hazard ratio (or log interaction HR); P its p-value.
	LogHR, P float64
	// Highlight draws the point in the accent colour with its label (e.g. q < 0.05).
	Highlight bool
}

// Volcano is a volcano plot of a biomarker screen: log HR on x, −log10 p on y, a dashed
// line at p = 0.05, highlighted markers labelled.
type Volcano struct {
	Title    string
	XLabel   string // default "log hazard ratio"
	Points   []VolcanoPoint
	Footnote string
	Style    Style
}

// FigureStyle returns the style the figure is drawn in.
func (v *Volcano) FigureStyle() Style { return v.Style.orDefault() }

func (v *Volcano) validate() error {
	if len(v.Points) == 0 {
		return fmt.Errorf("chart: volcano plot has no points")
	}
	for i, p := range v.Points {
		if math.IsNaN(p.LogHR) || math.IsInf(p.LogHR, 0) || !(p.P >= 0 && p.P <= 1) {
			return fmt.Errorf("chart: volcano point %d (%q): log HR %v and p %v must be finite, p in [0, 1]", i, p.Label, p.LogHR, p.P)
		}
	}
	return nil
}

// volcanoY is −log10 p, with p = 0 drawn at the largest finite value a float64 p gives.
func volcanoY(p float64) float64 {
	if p <= 0 {
		return -math.Log10(math.SmallestNonzeroFloat64)
	}
	return -math.Log10(p)
}

// Draw draws the volcano plot to fill c.
func (v *Volcano) Draw(c draw.Canvas) error {
	if err := v.validate(); err != nil {
		return err
	}
	s := v.FigureStyle()
	inner := frame(c, s, v.Title, v.Footnote)
	p := s.newPlot()
	p.X.Label.Text = v.XLabel
	if p.X.Label.Text == "" {
		p.X.Label.Text = "log hazard ratio"
	}
	p.Y.Label.Text = "−log10 p"
	xmax, ymax := 0.0, -math.Log10(0.05)
	for _, pt := range v.Points {
		xmax = math.Max(xmax, math.Abs(pt.LogHR))
		ymax = math.Max(ymax, volcanoY(pt.P))
	}
	xmax = nonZero(xmax) * 1.15
	p.X.Min, p.X.Max = -xmax, xmax
	p.Y.Min, p.Y.Max = 0, ymax*1.12
	accent := s.color(0)
	p.Add(plotterFunc(func(c draw.Canvas, p *plot.Plot) {
		trX, trY := p.Transforms(&c)
		y05 := trY(-math.Log10(0.05))
		strokeLine(c, s.Muted, s.AxisWidth, []vg.Length{vg.Points(3), vg.Points(3)}, vg.Point{X: trX(-xmax), Y: y05}, vg.Point{X: trX(xmax), Y: y05})
		strokeLine(c, s.Muted, s.AxisWidth, []vg.Length{vg.Points(1), vg.Points(2)}, vg.Point{X: trX(0), Y: trY(0)}, vg.Point{X: trX(0), Y: trY(ymax * 1.12)})
		r := s.TextSize * 0.28
		lsty := s.text(s.TextSize*0.8, false)
		for _, pass := range []bool{false, true} { // highlighted points on top
			for _, pt := range v.Points {
				if pt.Highlight != pass {
					continue
				}
				clr := withAlpha(s.Muted, 0.7)
				if pt.Highlight {
					clr = accent
				}
				ctr := vg.Point{X: trX(pt.LogHR), Y: trY(volcanoY(pt.P))}
				c.SetColor(clr)
				var path vg.Path
				path.Move(vg.Point{X: ctr.X + r, Y: ctr.Y})
				path.Arc(ctr, r, 0, 2*math.Pi)
				path.Close()
				c.Fill(path)
				if pt.Highlight {
					xa := draw.XLeft
					dx := r * 1.5
					if pt.LogHR > 0 {
						xa, dx = draw.XRight, -dx
					}
					putText(c, lsty, ctr.X+dx, ctr.Y+r, xa, draw.YBottom, pt.Label)
				}
			}
		}
	}))
	p.Draw(inner)
	return nil
}
