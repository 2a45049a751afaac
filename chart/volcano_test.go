package chart

import (
	"image/color"
	"testing"
)

// A highlighted marker is drawn in the accent colour at its place (log HR, −log10 p) and a
// plain one is not; a volcano without points or with a p outside [0, 1] is an error.
func TestVolcanoDrawsHighlightedMarkers(t *testing.T) {
	count := func(v *Volcano) int {
		img, err := Image(v, 800, 500)
		if err != nil {
			t.Fatal(err)
		}
		want := color.RGBAModel.Convert(v.FigureStyle().color(0)).(color.RGBA)
		n := 0
		b := img.Bounds()
		for y := b.Min.Y; y < b.Max.Y; y++ {
			for x := b.Min.X; x < b.Max.X; x++ {
				if img.RGBAAt(x, y) == want {
					n++
				}
			}
		}
		return n
	}
	pts := []VolcanoPoint{{Label: "tp53", LogHR: 0.3, P: 1e-5}, {Label: "nf1", LogHR: -0.05, P: 0.6}, {Label: "kras", LogHR: 0.01, P: 0.9}}
	plain := &Volcano{Title: "NSCLC OS", Points: pts}
	if n := count(plain); n != 0 {
		t.Errorf("%d accent pixels without a highlighted marker", n)
	}
	pts[0].Highlight = true
	hl := &Volcano{Title: "NSCLC OS", Points: pts}
	if n := count(hl); n < 20 {
		t.Errorf("%d accent pixels for a highlighted marker", n)
	}
	for _, bad := range []*Volcano{{}, {Points: []VolcanoPoint{{Label: "x", LogHR: 0.1, P: 1.5}}}} {
		if _, err := Image(bad, 400, 300); err == nil {
			t.Errorf("%+v: no error", bad)
		}
	}
}
