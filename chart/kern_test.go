package chart

import (
	"math"
	"testing"

	xfont "golang.org/x/image/font"
	"gonum.org/v1/plot/font"
	"gonum.org/v1/plot/vg"
)

// TestDrawnTextAdvancesAsMeasured: the raster canvas advances text by what gonum/plot measures
// it to be, kerning included, at every size a figure uses. x/image's opentype faces kern at a
// fixed 32 px/em (golang/go#46727), which ate the space in "IVA vs IIIB" at tick sizes.
func TestDrawnTextAdvancesAsMeasured(t *testing.T) {
	st := PublicationStyle()
	for _, size := range []vg.Length{7, 9, 12, 24} {
		f := font.DefaultCache.Lookup(font.From(st.Font, size), size)
		for _, dpi := range []float64{96, 192} {
			c := &rasterCanvas{dpi: dpi, faces: map[font.Font]xfont.Face{}}
			face := c.face(f)
			for _, s := range []string{"stage: IVA vs IIIB", "14.0 (11.4–18.1)", "LAVA Ty"} {
				drawn := float64(xfont.MeasureString(face, s)) / 64
				want := f.Width(s).Dots(dpi)
				if math.Abs(drawn-want) > 1 {
					t.Errorf("%v pt at %v dpi: %q advances %.1f px drawn, %.1f px measured", size, dpi, s, drawn, want)
				}
			}
		}
	}
}
