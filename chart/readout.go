package chart

import (
	"math"
	"sort"
	"strconv"
	"strings"

	"gonum.org/v1/plot/vg/draw"
)

// Readout is a figure that can say what it shows under a point, after it was drawn: the
// desktop shows it as the pointer moves over the figure.
type Readout interface {
	// ReadAt returns the values under (fx, fy), given as fractions of the drawn canvas's
	// width from the left and height from the top; "" outside the data or before Draw.
	ReadAt(fx, fy float64) string
}

// dataArea is where a figure's data went on its last drawn canvas, as fractions of it (x from
// the left, y from the top), with the x-axis range it maps.
type dataArea struct {
	left, right, top, bottom float64
	xmin, xmax               float64
}

func newDataArea(c, data draw.Canvas, xmin, xmax float64) *dataArea {
	w, h := float64(c.Max.X-c.Min.X), float64(c.Max.Y-c.Min.Y)
	if w <= 0 || h <= 0 {
		return nil
	}
	return &dataArea{
		left: float64(data.Min.X-c.Min.X) / w, right: float64(data.Max.X-c.Min.X) / w,
		top: float64(c.Max.Y-data.Max.Y) / h, bottom: float64(c.Max.Y-data.Min.Y) / h,
		xmin: xmin, xmax: xmax,
	}
}

// x is the axis value under fx, ok when (fx, fy) is inside the data area.
func (a *dataArea) x(fx, fy float64) (float64, bool) {
	if a == nil || fx < a.left || fx > a.right || fy < a.top || fy > a.bottom || a.right <= a.left {
		return 0, false
	}
	return a.xmin + (fx-a.left)/(a.right-a.left)*(a.xmax-a.xmin), true
}

// ReadAt says, at the time under the pointer, each curve's survival with its 95% CI:
// "12.0 months · A 54.2% (50.1–58.0) · B 61.0% (57.3–64.6)". A curve past its follow-up is
// left out; nothing is read below the x-axis (the number-at-risk table shows only counts
// the sites' minimum cell allows, and the readout never adds any).
func (f *KMFigure) ReadAt(fx, fy float64) string {
	t, ok := f.area.x(fx, fy)
	if !ok || t < 0 {
		return ""
	}
	days := t * f.Unit.DaysPer()
	parts := []string{strconv.FormatFloat(t, 'f', 1, 64) + " " + f.Unit.String()}
	for i := range f.Curves {
		k := &f.Curves[i]
		if days > k.end() {
			continue
		}
		lo, hi := math.NaN(), math.NaN()
		if k.Lower != nil && k.Upper != nil {
			lo, hi = stepAt(k.Time, k.Lower, days), stepAt(k.Time, k.Upper, days)
		}
		parts = append(parts, k.Name+" "+FormatSurvivalCI(k.survAt(days), lo, hi))
	}
	if len(parts) == 1 {
		return ""
	}
	return strings.Join(parts, " · ")
}

// stepAt is the right-continuous step function through (times[i], v[i]) at t: v at the last
// time at or before t, 1 before the first (where S and its limits start).
func stepAt(times, v []float64, t float64) float64 {
	i := sort.Search(len(times), func(i int) bool { return times[i] > t })
	if i == 0 {
		return 1
	}
	return v[i-1]
}
