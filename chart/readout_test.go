package chart

import (
	"image/color"
	"strings"
	"testing"
)

// The readout under the pointer names the time and each curve's S(t) with its CI, as the
// step function holds it there; curves past their follow-up and points off the data area
// read nothing.
func TestKMReadAt(t *testing.T) {
	f := &KMFigure{Unit: Months, Curves: []KMCurve{
		{Name: "A", N: 20, Time: []float64{100, 400}, Surv: []float64{0.8, 0.5}, Lower: []float64{0.6, 0.3}, Upper: []float64{0.9, 0.7}, End: 500},
		{Name: "B", N: 10, Time: []float64{200}, Surv: []float64{0.6}, Lower: []float64{0.3}, Upper: []float64{0.8}, End: 250},
	}}
	if got := f.ReadAt(0.5, 0.5); got != "" {
		t.Errorf("before drawing: %q", got)
	}
	if _, err := Image(f, 900, 600); err != nil {
		t.Fatal(err)
	}
	a := f.area
	at := func(days float64) float64 {
		return a.left + (days/Months.DaysPer()-a.xmin)/(a.xmax-a.xmin)*(a.right-a.left)
	}
	mid := (a.top + a.bottom) / 2
	got := f.ReadAt(at(220), mid)
	if want := "7.2 months · A 80.0% (60.0–90.0) · B 60.0% (30.0–80.0)"; got != want {
		t.Errorf("at day 220: %q, want %q", got, want)
	}
	// Past B's follow-up (day 250) only A is read.
	if got := f.ReadAt(at(450), mid); !strings.HasPrefix(got, "14.8 months · A 50.0% (30.0–70.0)") || strings.Contains(got, "B ") {
		t.Errorf("at day 450: %q", got)
	}
	for _, p := range [][2]float64{{a.left - 0.01, mid}, {at(220), a.bottom + 0.01}, {at(220), a.top - 0.01}} {
		if got := f.ReadAt(p[0], p[1]); got != "" {
			t.Errorf("off the data area at %v: %q", p, got)
		}
	}
	if !(0 < a.left && a.left < a.right && a.right < 1 && 0 < a.top && a.top < a.bottom && a.bottom < 1) {
		t.Errorf("data area %+v is not inside the figure", *a)
	}
}

// Curves beyond the palette's colours are dashed, so a by-site view of more sites than
// colours keeps every site distinct (in the legend too: the same call draws both).
func TestKMDashesBeyondThePalette(t *testing.T) {
	f := &KMFigure{}
	for i := 0; i < 3*len(GroupPalette); i++ {
		f.Curves = append(f.Curves, KMCurve{Name: string(rune('a' + i)), Time: []float64{10}, Surv: []float64{0.5}})
	}
	s := f.FigureStyle()
	n := len(s.Palette)
	if f.dashes(s, 0) != nil || f.dashes(s, n-1) != nil {
		t.Error("a curve with a colour of its own is dashed")
	}
	a, b := f.dashes(s, n), f.dashes(s, 2*n)
	if a == nil || b == nil || len(a) == len(b) && a[0] == b[0] {
		t.Errorf("curves %d and %d reuse colours 0 without a distinct dash: %v, %v", n, 2*n, a, b)
	}
	if _, err := Image(f, 800, 600); err != nil {
		t.Fatal(err)
	}
}

// A cumulative incidence (Rising) starts at 0: before its first time nothing of the curve is
// drawn near 1, where a survival curve starts (it was drawn from (0, 1), a vertical line up the
// figure at the first time).
func TestRisingCurveStartsAtZero(t *testing.T) {
	red := color.RGBA{R: 255, A: 255}
	for _, rising := range []bool{true, false} {
		f := &KMFigure{Unit: Months, Rising: rising, HideBands: true, HideRiskTable: true, HideLegend: true, HideCensor: true,
			Curves: []KMCurve{{Name: "A", Time: []float64{100, 400}, Surv: []float64{0.2, 0.5}, End: 500, Color: red}}}
		img, err := Image(f, 900, 600)
		if err != nil {
			t.Fatal(err)
		}
		a, b := f.area, img.Bounds()
		x0, x1 := int(a.left*float64(b.Dx())), int((a.left+(90/Months.DaysPer()-a.xmin)/(a.xmax-a.xmin)*(a.right-a.left))*float64(b.Dx()))
		y0, y1 := int(a.top*float64(b.Dy())), int((a.top+0.25*(a.bottom-a.top))*float64(b.Dy()))
		reds := 0
		for x := x0; x <= x1; x++ {
			for y := y0; y <= y1; y++ {
				if r, g, bl, _ := img.At(x, y).RGBA(); r > 0xc000 && g < 0x4000 && bl < 0x4000 {
					reds++
				}
			}
		}
		if rising && reds > 0 || !rising && reds == 0 {
			t.Errorf("rising %v: %d curve pixels above 0.75 before the first time", rising, reds)
		}
	}
}
