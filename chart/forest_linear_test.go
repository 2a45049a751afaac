package chart

import (
	"math"
	"testing"
)

// A linear forest plot (concordance or calibration slopes) draws values below zero, its
// reference line anywhere, and a pooled row's prediction interval, with nothing clipped or
// overlapping; NaN is still refused.
func TestForestLinear(t *testing.T) {
	f := &ForestPlot{Title: "Calibration slope by held-out site", XLabel: "Calibration slope", LabelHeader: "Site",
		EstimateHeader: "Slope (95% CI)", Linear: true, Reference: 1, Rows: []ForestRow{
			{Label: "inst1", HR: 0.8, Lower: -0.2, Upper: 1.8, Text: "0.80 (−0.20–1.80)"},
			{Label: "inst12", HR: 1.3, Lower: 0.6, Upper: 2.0, Text: "1.30 (0.60–2.00)"},
			{Label: "Pooled (REML)", HR: 1.05, Lower: 0.55, Upper: 1.55, PredictionLower: -0.4, PredictionUpper: 2.5, Pooled: true, Text: "1.05 (0.55–1.55)"},
		}}
	items, w, h := recordTexts(t, f, 640, 300)
	if len(items) < 8 {
		t.Fatalf("%d strings drawn", len(items))
	}
	for i, a := range items {
		if a.x0 < 0 || a.x1 > w || a.y-a.desent < 0 || a.y+a.ascent > h {
			t.Errorf("%q leaves the page", a.s)
		}
		for _, b := range items[i+1:] {
			if a.x0 < b.x1-0.5 && b.x0 < a.x1-0.5 && a.y-a.desent < b.y+b.ascent-0.5 && b.y-b.desent < a.y+a.ascent-0.5 {
				t.Errorf("%q and %q overlap", a.s, b.s)
			}
		}
	}
	f.Rows[0].Lower = math.NaN()
	if err := f.validate(); err == nil {
		t.Error("a NaN limit drawn")
	}
	f.Rows[0].Lower, f.Linear = -0.2, false
	if err := f.validate(); err == nil {
		t.Error("a negative limit on a log axis drawn")
	}
}
