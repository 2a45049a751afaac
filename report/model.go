package report

import (
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"

	"github.com/oncofed/oncofed/app"
	"github.com/oncofed/oncofed/chart"
	"github.com/oncofed/oncofed/report/format"
)

// The prognostic model's figures (issue 20), shared by the desktop's Model tab and exports:
// the per-site C and calibration slopes of leave-one-site-out validation as forest plots with
// the pooled estimate and its prediction interval, and the curve predicted for one patient.

// ConcordanceForest is the forest plot of the held-out sites' Harrell's C (95% CI C ± 1.96 SE,
// within [0, 1]) with the pooled C (logit-scale REML) as a diamond and its 95% prediction
// interval as a line; nil when no site released a C.
func ConcordanceForest(l *app.LOSOResult, style chart.Style) *chart.ForestPlot {
	f := &chart.ForestPlot{Title: "Harrell's C at each held-out site", XLabel: "Harrell's C (0.5: no discrimination)",
		LabelHeader: "Held-out site", EstimateHeader: "C (95% CI)", Linear: true, Reference: 0.5, Style: style}
	for _, s := range l.Sites {
		if s.SatOut != "" || math.IsNaN(s.HarrellC) {
			continue
		}
		se, _ := s.PoolingSEs() // with the release's noise, on DP tables
		lo, hi := math.Max(0, s.HarrellC-1.96*se), math.Min(1, s.HarrellC+1.96*se)
		f.Rows = append(f.Rows, chart.ForestRow{Label: fmt.Sprintf("%s (n = %s)", s.Site, format.Thousands(s.N)), HR: s.HarrellC, Lower: lo, Upper: hi,
			Weight: 1 / (se * se), Text: intervalText(s.HarrellC, lo, hi)})
	}
	if len(f.Rows) == 0 {
		return nil
	}
	if c := l.PooledC; c != nil {
		f.Rows = append(f.Rows, chart.ForestRow{Label: "Pooled (random effects)", HR: c.C, Lower: c.Lower, Upper: c.Upper,
			PredictionLower: c.PredictionLower, PredictionUpper: c.PredictionUpper, Pooled: true, Text: intervalText(c.C, c.Lower, c.Upper)})
		f.I2 = &c.Logit.I2
		f.Footnote = "Line through the diamond: 95% prediction interval " + intervalBounds(c.PredictionLower, c.PredictionUpper) +
			", the C a new hospital should expect."
	}
	if l.DP != nil {
		f.Footnote = strings.TrimSpace(f.Footnote + " Computed from differentially private tables: each site's interval includes the release's noise.")
	}
	return f
}

// SlopeForest is the forest plot of the held-out sites' calibration slopes (1: calibrated)
// with the pooled slope and its prediction interval; nil when no site released a slope.
func SlopeForest(l *app.LOSOResult, style chart.Style) *chart.ForestPlot {
	f := &chart.ForestPlot{Title: "Calibration slope at each held-out site", XLabel: "Calibration slope (1: calibrated)",
		LabelHeader: "Held-out site", EstimateHeader: "Slope (95% CI)", Linear: true, Reference: 1, Style: style}
	for _, s := range l.Sites {
		if s.SatOut != "" || math.IsNaN(s.CalibrationSlope) || math.IsNaN(s.CalibrationSlopeSE) {
			continue
		}
		_, se := s.PoolingSEs() // with the release's noise, on DP tables
		lo, hi := s.CalibrationSlope-1.96*se, s.CalibrationSlope+1.96*se
		f.Rows = append(f.Rows, chart.ForestRow{Label: s.Site, HR: s.CalibrationSlope, Lower: lo, Upper: hi,
			Weight: 1 / (se * se), Text: intervalText(s.CalibrationSlope, lo, hi)})
	}
	if len(f.Rows) == 0 {
		return nil
	}
	if p := l.PooledSlope; p != nil {
		f.Rows = append(f.Rows, chart.ForestRow{Label: "Pooled (random effects)", HR: p.Estimate, Lower: p.Lower, Upper: p.Upper,
			PredictionLower: p.PredictionLower, PredictionUpper: p.PredictionUpper, Pooled: true, Text: intervalText(p.Estimate, p.Lower, p.Upper)})
		f.I2 = &p.I2
	}
	return f
}

func intervalText(x, lo, hi float64) string {
	return fmt.Sprintf("%.3f %s", x, intervalBounds(lo, hi))
}

func intervalBounds(lo, hi float64) string { return fmt.Sprintf("(%.3f–%.3f)", lo, hi) }

// LOSOSummary is the validation's one-line verdict: the pooled C with its prediction interval,
// and the sites that sat out.
func LOSOSummary(l *app.LOSOResult) string {
	s := ""
	if c := l.PooledC; c != nil {
		s = fmt.Sprintf("Pooled C %.3f %s over %d sites; a new hospital's C is expected within %s (95%% prediction interval).",
			c.C, intervalBounds(c.Lower, c.Upper), len(c.Logit.Sites), intervalBounds(c.PredictionLower, c.PredictionUpper))
	}
	if p := l.PooledSlope; p != nil {
		s += fmt.Sprintf(" Pooled calibration slope %.3f %s.", p.Estimate, intervalBounds(p.Lower, p.Upper))
	}
	for _, site := range l.Sites {
		if site.SatOut != "" {
			s += fmt.Sprintf(" %s sat out: %s.", site.Site, site.SatOut)
		}
	}
	return s
}

// CalibrationRow is one held-out site's calibration in the large and Brier score at a landmark.
type CalibrationRow struct {
	Site                          string
	Time                          float64
	Observed, Predicted, Brier    string
	ObservedP, PredictedP, BrierP float64
}

// CalibrationRows lists the validation's calibration points (the pooled model's), site by site.
func CalibrationRows(l *app.LOSOResult) []CalibrationRow {
	var out []CalibrationRow
	for _, s := range l.Sites {
		for _, c := range s.Calibration {
			brier := "–"
			if !math.IsNaN(c.Brier) {
				brier = fmt.Sprintf("%.3f", c.Brier)
			}
			out = append(out, CalibrationRow{Site: s.Site, Time: c.Time, Observed: fmt.Sprintf("%.1f%%", 100*c.Observed),
				Predicted: fmt.Sprintf("%.1f%%", 100*c.Predicted), Brier: brier, ObservedP: c.Observed, PredictedP: c.Predicted, BrierP: c.Brier})
		}
	}
	return out
}

// PredictionFigure is the predicted survival curve of one profile with its pointwise 95%
// band, drawn up to the model's last released time, without a number-at-risk table (the
// curve is a model's, not a group of patients').
func PredictionFigure(p *app.Prediction, profile string, style chart.Style, unit chart.TimeUnit) *chart.KMFigure {
	c := p.Curve
	curve := chart.KMCurve{Name: "Predicted for " + profile, Time: append([]float64{0}, c.Time...),
		Surv: append([]float64{1}, c.Surv...), Lower: append([]float64{1}, c.Lower...), Upper: append([]float64{1}, c.Upper...), End: c.LastTime}
	return &chart.KMFigure{Title: "Predicted survival", YLabel: "Predicted survival probability", Unit: unit, Curves: []chart.KMCurve{curve},
		HideRiskTable: true, HideCensor: true, Style: style}
}

// CalibrationFigure plots calibration in the large at the landmarks: each held-out site's
// observed survival (Kaplan–Meier) against the mean survival the model fitted without it
// predicts for its patients, a colour per landmark; nil when no site released one.
func CalibrationFigure(l *app.LOSOResult, style chart.Style) *chart.CalibrationPlot {
	f := &chart.CalibrationPlot{Title: "Calibration at each held-out site", Style: style,
		Footnote: "On the dashed line the survival observed at a site equals the survival predicted for its patients."}
	var times []float64
	for _, s := range l.Sites {
		for _, c := range s.Calibration {
			if math.IsNaN(c.Observed) || math.IsNaN(c.Predicted) {
				continue
			}
			k := slices.Index(times, c.Time)
			if k < 0 {
				k, times = len(times), append(times, c.Time)
				f.Landmarks = append(f.Landmarks, "day "+strconv.FormatFloat(c.Time, 'g', -1, 64))
			}
			f.Points = append(f.Points, chart.CalibrationPoint{Label: s.Site, Landmark: k, Predicted: c.Predicted, Observed: c.Observed})
		}
	}
	if len(f.Points) == 0 {
		return nil
	}
	return f
}
