package chart

import (
	"fmt"
	"math"
	"strconv"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
)

// TuningCurve is a criterion over the values of a tuning parameter tried in order (a ridge
// penalty's θ grid against the held-out log-likelihood): the values evenly spaced on x and
// labelled as given (a grid such as 0, 0.1, 0.3, 1, 3 has no common log scale with its 0),
// the criterion on y, and the chosen value marked and labelled.
type TuningCurve struct {
	Title          string
	XLabel, YLabel string
	X              []float64 // the parameter values, in the order tried
	Y              []float64 // the criterion at each
	Chosen         int       // index of the chosen value; -1: none
	ChosenLabel    string    // e.g. "chosen"
	Footnote       string
	Style          Style
}

// FigureStyle returns the style the figure is drawn in.
func (f *TuningCurve) FigureStyle() Style { return f.Style.orDefault() }

func (f *TuningCurve) validate() error {
	if len(f.X) == 0 || len(f.X) != len(f.Y) {
		return fmt.Errorf("chart: tuning curve has %d values and %d criteria", len(f.X), len(f.Y))
	}
	for i, y := range f.Y {
		if math.IsNaN(y) || math.IsInf(y, 0) {
			return fmt.Errorf("chart: tuning curve: criterion %v at %v is not finite", y, f.X[i])
		}
	}
	if f.Chosen >= len(f.X) {
		return fmt.Errorf("chart: tuning curve: chosen index %d of %d values", f.Chosen, len(f.X))
	}
	return nil
}

// Draw draws the curve to fill c.
func (f *TuningCurve) Draw(c draw.Canvas) error {
	if err := f.validate(); err != nil {
		return err
	}
	s := f.FigureStyle()
	inner := frame(c, s, f.Title, f.Footnote)
	p := s.newPlot()
	p.X.Label.Text, p.Y.Label.Text = f.XLabel, f.YLabel
	lo, hi := math.Inf(1), math.Inf(-1)
	for _, y := range f.Y {
		lo, hi = math.Min(lo, y), math.Max(hi, y)
	}
	pad := nonZero(hi-lo) * 0.12
	p.Y.Min, p.Y.Max = lo-pad, hi+pad
	p.X.Min, p.X.Max = -0.5, float64(len(f.X))-0.5
	ticks := make([]plot.Tick, len(f.X))
	for i, x := range f.X {
		ticks[i] = plot.Tick{Value: float64(i), Label: strconv.FormatFloat(x, 'g', 4, 64)}
	}
	p.X.Tick.Marker = plot.ConstantTicks(ticks)
	accent := s.color(0)
	p.Add(plotterFunc(func(c draw.Canvas, p *plot.Plot) {
		trX, trY := p.Transforms(&c)
		pts := make([]vg.Point, len(f.X))
		for i, y := range f.Y {
			pts[i] = vg.Point{X: trX(float64(i)), Y: trY(y)}
		}
		strokeLine(c, accent, s.LineWidth, nil, pts...)
		r := s.TextSize * 0.3
		for i, pt := range pts {
			c.SetColor(accent)
			var path vg.Path
			rr := r
			if i == f.Chosen {
				rr = r * 1.8
			}
			path.Move(vg.Point{X: pt.X + rr, Y: pt.Y})
			path.Arc(pt, rr, 0, 2*math.Pi)
			path.Close()
			c.Fill(path)
		}
		if f.Chosen >= 0 && f.ChosenLabel != "" {
			pt := pts[f.Chosen]
			putText(c, s.text(s.TextSize*0.85, true), pt.X, pt.Y-r*3, draw.XCenter, draw.YTop, f.ChosenLabel)
		}
	}))
	p.Draw(inner)
	return nil
}
