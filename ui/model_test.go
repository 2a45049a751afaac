package ui

import (
	"fmt"
	"image/png"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/test"
	"fyne.io/fyne/v2/widget"

	"github.com/oncofed/oncofed/chart"
	"github.com/oncofed/oncofed/report"
	"github.com/oncofed/oncofed/synth"
)

// pooledFederation is the test federation with every site under the exact (trusted) policy,
// which opts in to the pooled Cox form and so to prediction.
func pooledFederation() synth.Federation {
	f := synth.Federation{Name: "pooled federation", Policies: map[string]synth.SitePolicy{},
		Studies: []synth.Spec{{Study: synth.NSCLC, SiteSizes: []int{400, 300, 200}, Seed: 12}}}
	for _, n := range f.SiteNames() {
		f.Policies[n] = synth.SitePolicy{}
	}
	return f
}

// The Model tab fits the pooled model, predicts for a typed patient (curve, survival at the
// landmarks, the risk score's place among the cohort's), and validates it leave one site out
// (forest plots of C and slopes, calibration and Brier at the landmarks). With
// ONCOFED_SCREENSHOTS=dir it writes the tab at 1024×700 and 1600×1000 there.
func TestModelTab(t *testing.T) {
	f := startAppOn(t, pooledFederation())
	m := f.ui.model
	f.ui.selectTab(TabModel)
	m.covariates.SetSelected([]string{"age", "sex"})
	m.landmarks.SetText("180, 365, 730")
	test.Tap(m.fit)
	f.loop.until(t, "the fit", func() bool { return m.result != nil || strings.HasPrefix(m.status.Text, "No model") })
	if m.result == nil || m.result.Cox.Baseline == nil || m.predict.Disabled() {
		t.Fatalf("no pooled model: %q", m.status.Text)
	}
	if len(m.fields) != 2 {
		t.Fatalf("%d profile fields", len(m.fields))
	}
	for _, o := range m.profileBox.Objects {
		if e, ok := o.(*widget.Entry); ok {
			e.SetText("64")
		}
	}
	test.Tap(m.predict)
	if m.prediction == nil || m.curve.figure == nil {
		t.Fatalf("no prediction: %q", m.status.Text)
	}
	rows := texts(m.atTable)
	if len(rows) != 8 || !strings.Contains(rows[3], "%") {
		t.Errorf("survival at landmarks %q", rows)
	}
	f.loop.until(t, "the risk score's place", func() bool {
		return strings.Contains(m.position.Text, "percentile") || strings.Contains(m.position.Text, "patients")
	})
	shoot(t, f, "model_patient")
	test.Tap(m.validate)
	f.loop.until(t, "the validation", func() bool { return m.validated != nil || strings.HasPrefix(m.status.Text, "No validation") })
	if m.validated == nil || m.cForest.figure == nil || m.slopeFig.figure == nil {
		t.Fatalf("validation %v: %q", m.validated != nil, m.status.Text)
	}
	if cal := texts(m.calTable); len(cal) < 5+3*5 || !contains(cal, "Brier") {
		t.Errorf("calibration table %q", cal)
	}
	// The calibration plot: a point per row of the table, predicted against observed.
	if m.calFig.figure == nil {
		t.Error("no calibration plot")
	} else if cp, ok := m.calFig.figure().(*chart.CalibrationPlot); !ok || len(cp.Points) != len(report.CalibrationRows(m.validated)) || len(cp.Landmarks) != 3 {
		t.Errorf("calibration plot %T: %d points, %d landmarks, for %d rows", m.calFig.figure(), len(cp.Points), len(cp.Landmarks), len(report.CalibrationRows(m.validated)))
	} else if err := chart.WritePNG(io.Discard, cp, 800, 500); err != nil {
		t.Errorf("calibration plot: %v", err)
	}
	if m.result.ID == 0 || m.result.Cox.Validation != m.validated || m.result.Request.Cox.Validate != "loso" {
		t.Errorf("the validation is not one stored result with the model (id %d)", m.result.ID)
	}
	if !strings.Contains(m.losoText.Text, "Pooled C") {
		t.Errorf("summary %q", m.losoText.Text)
	}
	shoot(t, f, "model_validation")

	// The model stratified by site fits and validates, and says why it does not predict.
	m.form.SetSelected(formStratified)
	m.result = nil
	test.Tap(m.fit)
	f.loop.until(t, "the stratified fit", func() bool { return m.result != nil })
	if !m.predict.Disabled() || !strings.Contains(m.position.Text, "no shared baseline hazard") {
		t.Errorf("stratified: predict enabled %v, %q", !m.predict.Disabled(), m.position.Text)
	}
}

// shoot writes the window at 1024×700 and 1600×1000 to $ONCOFED_SCREENSHOTS, when set.
func shoot(t *testing.T, f *fixture, name string) {
	dir := os.Getenv("ONCOFED_SCREENSHOTS")
	if dir == "" {
		return
	}
	for _, size := range []fyne.Size{{Width: 1024, Height: 700}, {Width: 1600, Height: 1000}} {
		// Two layout passes, as the desktop driver's frames do: a wrapped label's height
		// follows the width it was last given.
		f.ui.Window().Resize(size.AddWidthHeight(0, 1))
		f.ui.Window().Resize(size)
		start := time.Now() // the figures render off the UI goroutine after a quiet period
		f.loop.until(t, "the figures", func() bool { return time.Since(start) > 500*time.Millisecond })
		img := f.ui.Window().Canvas().Capture()
		out, err := os.Create(filepath.Join(dir, fmt.Sprintf("%s_%.0fx%.0f.png", name, size.Width, size.Height)))
		if err != nil {
			t.Fatal(err)
		}
		if err := png.Encode(out, img); err != nil {
			t.Fatal(err)
		}
		out.Close()
	}
	f.ui.Window().Resize(fyne.NewSize(1400, 900))
}
