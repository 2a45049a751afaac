package ui

import (
	"context"
	"strings"
	"testing"

	"fyne.io/fyne/v2/test"

	"github.com/oncofed/oncofed/app"
	"github.com/oncofed/oncofed/chart"
	"github.com/oncofed/oncofed/report"
)

// The Model tab builds its model with the Cox tab's builder: a reference level per categorical
// covariate (here sex's second level), which reorders the levels the fit is asked with. A
// ridge penalty chosen leaving one site out is fitted and its θ curve drawn. Validated, the
// model is stored; opened from the Library it lands in the Model tab with its validation and
// its choices back on the builder, and pinned from the Validation panel it draws the forest of
// per-site C in the slides.
func TestModelTabReferenceRidgeLibrary(t *testing.T) {
	f := startAppOn(t, pooledFederation())
	a, m := f.ui, f.ui.model
	a.selectTab(TabModel)
	m.covariates.SetSelected([]string{"age", "sex"})
	ref := m.refs["sex"]
	if ref == nil || len(ref.Options) < 2 || !contains(texts(m.refBox), "Reference for sex") {
		t.Fatalf("the Model tab offers no reference level for sex: %q", texts(m.refBox))
	}
	second := ref.Options[1]
	ref.SetSelected(second)
	m.penalty.SetSelected(penaltyLOSO)
	// Stratified by site: one round a Newton step (the pooled form takes two), so that the
	// choice's 8 θ × 3 sites of fits stay well inside the harness's 30 s under -race.
	m.form.SetSelected(formStratified)
	req, err := m.modelRequest()
	if err != nil || req.Cox.Levels["sex"][0] != second || req.Cox.Penalty == nil || req.Cox.Penalty.Choose != app.ChooseLOSO {
		t.Fatalf("request %+v (%v): want sex's reference %s and a ridge chosen leave one site out", req.Cox, err, second)
	}
	test.Tap(m.fit)
	f.loop.until(t, "the penalized fit", func() bool { return m.result != nil || strings.HasPrefix(m.status.Text, "No model") })
	if m.result == nil || m.result.Cox.RidgeChoice == nil || m.ridgeFig.figure == nil {
		t.Fatalf("no ridge choice: %q", m.status.Text)
	}
	m.panels.SelectIndex(0)
	m.valTabs.SelectIndex(3)
	shoot(t, f, "model_ridge")
	if !strings.Contains(m.summary.Text, "chosen leave one site out") {
		t.Errorf("summary %q does not name the penalty", m.summary.Text)
	}
	if terms := strings.Join(m.result.Cox.Fit.Terms, ","); !strings.Contains(terms, "sex") {
		t.Errorf("terms %s", terms)
	}
	test.Tap(m.validate)
	f.loop.until(t, "the validation", func() bool { return m.validated != nil || strings.HasPrefix(m.status.Text, "No validation") })
	if m.validated == nil || m.result.ID == 0 {
		t.Fatalf("no stored validation: %q", m.status.Text)
	}
	id := m.result.ID
	test.Tap(m.pin)
	f.loop.until(t, "the pin", func() bool { return m.result.Pinned })

	// Opened from the Library, in a fresh tab state: the Model tab, not the Cox tab.
	a.selectTab(TabCox)
	m.setStudy(a.currentStudy())
	a.openResult(id)
	f.loop.until(t, "the reopened model", func() bool { return m.validated != nil && m.result != nil && m.result.ID == id })
	if got := a.tabs.Selected().Text; got != TabModel {
		t.Errorf("a validated model opened in the %s tab", got)
	}
	if m.cForest.figure == nil || m.penalty.Selected != penaltyLOSO || m.refs["sex"] == nil || m.refs["sex"].Selected != second {
		t.Errorf("reopened: forest %v, penalty %q, reference %v", m.cForest.figure != nil, m.penalty.Selected, m.refs["sex"])
	}
	r, err := a.svc.Open(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	if r.Display == nil || r.Display.View != app.ViewValidation {
		t.Fatalf("pinned display %+v", r.Display)
	}
	fig, why := report.Slide(r, a.names(), chart.PresentationStyle(), a.opt.Now())
	forest, ok := fig.(*chart.ForestPlot)
	if !ok || !strings.Contains(forest.Title, "held-out site") || !strings.Contains(forest.Footnote, "ridge θ") {
		t.Errorf("slide %T (%s): %+v", fig, why, fig)
	}
}
