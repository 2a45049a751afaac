package report

import (
	"bytes"
	"math"
	"strings"
	"testing"

	"github.com/oncofed/oncofed/analysis"
	"github.com/oncofed/oncofed/app"
	"github.com/oncofed/oncofed/chart"
)

// losoExample is a validation with three answering sites and one that sat out.
func losoExample(t *testing.T) *app.LOSOResult {
	t.Helper()
	l := &app.LOSOResult{Sites: []app.LOSOSite{
		{Site: "inst1", N: 36, HarrellC: 0.61, HarrellSE: 0.05, CalibrationSlope: 0.9, CalibrationSlopeSE: 0.4,
			Calibration: []analysis.CalibrationPoint{{Time: 365, Observed: 0.41, Predicted: 0.44, Brier: 0.21}}},
		{Site: "inst12", N: 23, HarrellC: 0.66, HarrellSE: 0.07, CalibrationSlope: 1.4, CalibrationSlopeSE: 0.6,
			Calibration: []analysis.CalibrationPoint{{Time: 365, Observed: 0.5, Predicted: 0.46, Brier: math.NaN()}}},
		{Site: "inst3", N: 19, HarrellC: 0.55, HarrellSE: 0.08, CalibrationSlope: math.NaN(), CalibrationSlopeSE: math.NaN()},
		{Site: "inst9", SatOut: "fewer than min_cell=5 events", HarrellC: math.NaN(), CalibrationSlope: math.NaN(), CalibrationSlopeSE: math.NaN()},
	}}
	var cs, ss []analysis.SiteEstimate
	for _, s := range l.Sites[:3] {
		cs = append(cs, analysis.SiteEstimate{Site: s.Site, Estimate: s.HarrellC, SE: s.HarrellSE})
	}
	for _, s := range l.Sites[:2] {
		ss = append(ss, analysis.SiteEstimate{Site: s.Site, Estimate: s.CalibrationSlope, SE: s.CalibrationSlopeSE})
	}
	pc, err := analysis.PoolConcordance(cs, 0.95)
	if err != nil {
		t.Fatal(err)
	}
	ps, err := analysis.MetaAnalyzeREML(ss, 0.95)
	if err != nil {
		t.Fatal(err)
	}
	l.PooledC, l.PooledSlope = &pc, &ps
	return l
}

// The validation's figures list the sites that answered with the pooled diamond and its
// prediction interval last, draw, and the summary names the site that sat out.
func TestModelFigures(t *testing.T) {
	l := losoExample(t)
	c := ConcordanceForest(l, chart.Style{})
	if c == nil || len(c.Rows) != 4 || !c.Rows[3].Pooled || c.Rows[3].PredictionLower > c.Rows[3].Lower || c.Rows[3].PredictionLower == 0 || c.Rows[0].Label != "inst1 (n = 36)" {
		t.Fatalf("C forest %+v", c)
	}
	s := SlopeForest(l, chart.Style{})
	if s == nil || len(s.Rows) != 3 || s.Reference != 1 {
		t.Fatalf("slope forest %+v", s)
	}
	for _, f := range []chart.Figure{c, s} {
		var b bytes.Buffer
		if err := chart.WritePNG(&b, f, 800, 400); err != nil || b.Len() < 1000 {
			t.Fatalf("PNG: %v (%d bytes)", err, b.Len())
		}
	}
	if got := LOSOSummary(l); !strings.Contains(got, "Pooled C 0.6") || !strings.Contains(got, "inst9 sat out: fewer than min_cell=5 events") {
		t.Errorf("summary %q", got)
	}
	rows := CalibrationRows(l)
	if len(rows) != 2 || rows[0].Brier != "0.210" || rows[1].Brier != "–" || rows[0].Observed != "41.0%" {
		t.Errorf("calibration rows %+v", rows)
	}
	if ConcordanceForest(&app.LOSOResult{Sites: l.Sites[3:]}, chart.Style{}) != nil {
		t.Error("a forest without sites")
	}
	p := &app.Prediction{Curve: &analysis.PredictedSurvival{Time: []float64{10, 50}, Surv: []float64{0.9, 0.7},
		Lower: []float64{0.8, 0.6}, Upper: []float64{0.95, 0.8}, LastTime: 80}}
	fig := PredictionFigure(p, "sex male, age 63", chart.Style{}, chart.Days)
	if len(fig.Curves) != 1 || fig.Curves[0].Surv[0] != 1 || fig.Curves[0].End != 80 {
		t.Fatalf("prediction figure %+v", fig.Curves)
	}
	var b bytes.Buffer
	if err := chart.WritePNG(&b, fig, 640, 400); err != nil {
		t.Fatal(err)
	}
}
