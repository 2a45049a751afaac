package chart

import (
	"fmt"
	"image/color"
	"math"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
)

// CalibrationPoint is one held-out site at one landmark: the survival the model predicts for
// its patients on average, and the survival observed there (Kaplan–Meier).
type CalibrationPoint struct {
	Label               string // the site
	Landmark            int    // index into CalibrationPlot.Landmarks
	Predicted, Observed float64
}

// CalibrationPlot is calibration in the large at landmark times: predicted survival on x,
// observed on y, one point per held-out site and landmark (a colour per landmark), and the
// dashed diagonal where a calibrated model's points lie.
type CalibrationPlot struct {
	Title, Footnote string
	// Landmarks name the landmark times ("1 year"), in colour order.
	Landmarks []string
	Points    []CalibrationPoint
	Style     Style
}

// FigureStyle returns the style the figure is drawn in.
func (p *CalibrationPlot) FigureStyle() Style { return p.Style.orDefault() }

func (p *CalibrationPlot) validate() error {
	if len(p.Points) == 0 {
		return fmt.Errorf("chart: calibration plot has no points")
	}
	for i, pt := range p.Points {
		if !(pt.Predicted >= 0 && pt.Predicted <= 1 && pt.Observed >= 0 && pt.Observed <= 1) {
			return fmt.Errorf("chart: calibration point %d (%q): predicted %v and observed %v must lie in [0, 1]", i, pt.Label, pt.Predicted, pt.Observed)
		}
		if pt.Landmark < 0 || pt.Landmark >= len(p.Landmarks) {
			return fmt.Errorf("chart: calibration point %d (%q): landmark %d of %d", i, pt.Label, pt.Landmark, len(p.Landmarks))
		}
	}
	return nil
}

// Draw draws the calibration plot to fill c. The axes span the points (with a margin), not
// the whole unit square, so that sites a few points apart can be told apart.
func (p *CalibrationPlot) Draw(c draw.Canvas) error {
	if err := p.validate(); err != nil {
		return err
	}
	s := p.FigureStyle()
	inner := frame(c, s, p.Title, p.Footnote)
	colors := make([]color.Color, len(p.Landmarks))
	for i := range colors {
		colors[i] = s.color(i)
	}
	inner = drawLegendRow(c, inner, s, p.Landmarks, colors)
	pl := s.newPlot()
	pl.X.Label.Text, pl.Y.Label.Text = "Predicted survival (mean over the site's patients)", "Observed survival (Kaplan–Meier)"
	lo, hi := 1.0, 0.0
	for _, pt := range p.Points {
		lo, hi = math.Min(lo, math.Min(pt.Predicted, pt.Observed)), math.Max(hi, math.Max(pt.Predicted, pt.Observed))
	}
	pad := math.Max(0.05, (hi-lo)*0.1)
	lo, hi = math.Max(0, lo-pad), math.Min(1, hi+pad)
	pl.X.Min, pl.X.Max, pl.Y.Min, pl.Y.Max = lo, hi, lo, hi
	pl.Add(plotterFunc(func(dc draw.Canvas, pl *plot.Plot) {
		trX, trY := pl.Transforms(&dc)
		strokeLine(dc, s.Muted, s.AxisWidth, []vg.Length{vg.Points(3), vg.Points(3)}, vg.Point{X: trX(lo), Y: trY(lo)}, vg.Point{X: trX(hi), Y: trY(hi)})
		r := s.TextSize * 0.3
		for _, pt := range p.Points {
			dc.SetColor(colors[pt.Landmark])
			dc.Fill(circle(vg.Point{X: trX(pt.Predicted), Y: trY(pt.Observed)}, r))
		}
	}))
	pl.Draw(inner)
	return nil
}
