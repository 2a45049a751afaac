package report

import (
	"math"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/oncofed/oncofed/analysis"
	"github.com/oncofed/oncofed/app"
	"github.com/oncofed/oncofed/chart"
	"github.com/oncofed/oncofed/protocol"
	"github.com/oncofed/oncofed/report/format"
	"github.com/oncofed/oncofed/report/reporttest"
)

// TestForestFigure: a Cox result's forest plot (Cox tab, exports, slides) is chart.ForestFromCox with the tab's term labels;
// a term without an estimate or without a finite interval is named in the footnote, before
// the export's own footnote, and never reaches the drawing (a NaN upper limit used to).
func TestForestFigure(t *testing.T) {
	nan := math.NaN()
	// Inputs: age and sex are R's summary(coxph(Surv(time, status) ~ age + sex, lung)) rounded;
	// ph.karno stands for a term R reports as NA, wt.loss for one whose SE came out NaN.
	fit := &analysis.CoxFit{
		Terms: []string{"age", "sexmale", "ph.karno", "wt.loss"},
		HR:    []float64{1.017, 0.5986, nan, 1.2}, Lower: []float64{1.0006, 0.4311, nan, 0.9},
		Upper: []float64{1.035, 0.8311, nan, nan}, P: []float64{0.0419, 0.00218, nan, 0.3},
		NotEstimable: []string{"ph.karno"},
	}
	r := &app.Result{Request: app.Request{Kind: protocol.KindCox, Study: "lung", Endpoint: "OS",
		Cox: &app.CoxSpec{Covariates: []string{"age", "sex", "ph.karno", "wt.loss"}, Levels: map[string][]string{"sex": {"female", "male"}}}},
		Cox: &app.CoxResult{Fit: fit}}
	f := ForestFigure(r, Names{}, chart.PublicationStyle(), "Cohort: lung.")
	if f == nil {
		t.Fatal("no figure")
	}
	var labels []string
	for _, row := range f.Rows {
		labels = append(labels, row.Label)
	}
	if want := []string{"age", "sex: male vs female"}; !slices.Equal(labels, want) {
		t.Errorf("rows %q, want %q", labels, want)
	}
	if want := chart.FormatHR(0.5986, 0.4311, 0.8311) + "  " + format.PValue(0.00218); f.Rows[1].Text != want {
		t.Errorf("sex row reads %q, want %q", f.Rows[1].Text, want)
	}
	if want := "Not estimable: ph.karno. No finite interval to draw: wt.loss. Cohort: lung."; f.Footnote != want {
		t.Errorf("footnote %q, want %q", f.Footnote, want)
	}
	if f.Title != "Cox model of overall survival — lung: all patients" {
		t.Errorf("title %q", f.Title)
	}
	if _, err := chart.Image(f, 800, 500); err != nil {
		t.Errorf("drawing: %v", err)
	}

	fit.Terms, fit.HR, fit.Lower, fit.Upper, fit.P = fit.Terms[2:], fit.HR[2:], fit.Lower[2:], fit.Upper[2:], fit.P[2:]
	if f := ForestFigure(r, Names{}, chart.PublicationStyle(), ""); f != nil {
		t.Errorf("a fit with no drawable term gave %d rows", len(f.Rows))
	}
}

// A Kaplan–Meier slide is drawn as the result was shown when pinned, and with the defaults
// (censor marks unless too many) when it was pinned from the library.
func TestSlideKeepsTheDisplay(t *testing.T) {
	r := reporttest.KMResult()
	names := Names{From: &app.Study{Name: "lung", Title: "NCCTG lung"}}
	now := time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)
	f, why := Slide(r, names, chart.PresentationStyle(), now)
	km, ok := f.(*chart.KMFigure)
	if !ok || why != "" || km.Unit != chart.Months || km.HideCensor || km.ShowMedianLines || km.Percent || km.HideBands {
		t.Fatalf("default slide: %T %+v (%q)", f, km, why)
	}
	if want := "Overall survival by arm — NCCTG lung: all patients"; km.Title != want {
		t.Errorf("title %q, want %q", km.Title, want)
	}
	if !strings.HasPrefix(km.Footnote, "Cohort: lung, all patients; by arm. privacy:") {
		t.Errorf("footnote %q", km.Footnote)
	}
	r.Display = &app.Display{Unit: "years", HideBands: true, HideCensor: true, MedianLines: true, Percent: true}
	f, _ = Slide(r, names, chart.PresentationStyle(), now)
	if km := f.(*chart.KMFigure); km.Unit != chart.Years || !km.HideBands || !km.HideCensor || !km.ShowMedianLines || !km.Percent {
		t.Errorf("slide shown in years with medians and %%, no bands or marks: %+v", km)
	}
	// A view the stored result cannot draw says why instead of drawing something else.
	r.Display.View = app.ViewBySite + "a"
	if f, why := Slide(r, names, chart.PresentationStyle(), now); f != nil || why == "" {
		t.Errorf("by-site slide of a result without per-site tables: %T, %q", f, why)
	}
	// Too many censoring times: marks start hidden, as on the Survival tab.
	r.Display = nil
	var tb analysis.SurvivalTable
	for k := 1; k <= MaxCensorMarks+1; k++ {
		tb.Time = append(tb.Time, float64(k))
		tb.Events = append(tb.Events, k%2)
		tb.Censor = append(tb.Censor, 1)
	}
	est, err := analysis.KaplanMeier(tb, analysis.KMOptions{})
	if err != nil {
		t.Fatal(err)
	}
	r.KM.Groups[0] = app.KMGroup{Group: "a", Table: tb, Curve: est, Median: est.TableMedian()}
	if f, _ := Slide(r, names, chart.PresentationStyle(), now); !f.(*chart.KMFigure).HideCensor {
		t.Error("a slide with more than MaxCensorMarks censoring times shows every mark")
	}
	if f, why := Slide(&app.Result{Request: app.Request{Kind: protocol.KindCount}}, names, chart.PresentationStyle(), now); f != nil || why == "" {
		t.Errorf("a count result gave a slide %T (%q)", f, why)
	}
}
