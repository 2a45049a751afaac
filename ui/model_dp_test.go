package ui

import (
	"context"
	"maps"
	"strings"
	"testing"

	"fyne.io/fyne/v2/test"

	"github.com/oncofed/oncofed/chart"
	"github.com/oncofed/oncofed/node"
	"github.com/oncofed/oncofed/protocol"
)

// A dp analyst's Model tab fits the pooled model on the differentially private tables (one
// dp_tables release), validates it leave one site out and predicts for a patient from those
// same tables: neither the validation nor the prediction (with the risk score's place among
// the cohort) adds a site's audit record, and the validation says where its figures come from
// and how much noise they carry.
func TestModelTabDP(t *testing.T) {
	f := startAppAs(t, testFederation(), node.RoleDP)
	m := f.ui.model
	f.ui.selectTab(TabModel)
	m.covariates.SetSelected([]string{"sex"})
	m.landmarks.SetText("180, 365")
	test.Tap(m.fit)
	f.loop.until(t, "the fit", func() bool { return m.result != nil || strings.HasPrefix(m.status.Text, "No model") })
	if m.result == nil || m.result.Cox.Form != protocol.CoxDPTables || !m.result.Request.Cox.DPPooled || m.result.Cox.Baseline == nil || m.predict.Disabled() {
		if m.result != nil {
			t.Logf("form %s pooled %v baseline %v %s", m.result.Cox.Form, m.result.Request.Cox.DPPooled, m.result.Cox.Baseline != nil, m.result.Cox.NoBaseline)
		}
		t.Fatalf("no pooled dp model: %q", m.status.Text)
	}
	if !strings.Contains(m.summary.Text, "pooled baseline, fitted on differentially private tables") || !strings.Contains(m.summary.Text, "Released at ρ=") ||
		!strings.Contains(m.summary.Text, "Noise of the differentially private release") {
		t.Errorf("summary %q", m.summary.Text)
	}
	audited := func() int {
		n, err := f.demo.Audited(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		return n
	}
	rhoLeft := func() map[string]float64 {
		cat, err := f.svc.RefreshCatalog(context.Background()) // asked before the audit count
		if err != nil {
			t.Fatal(err)
		}
		out := map[string]float64{}
		for _, sc := range cat.Catalog.Sites {
			if sc.You != nil {
				out[sc.Site] = sc.You.RhoLeftToday["nsclc"]
			}
		}
		return out
	}
	left := rhoLeft()
	for site, v := range left {
		if !(v > 0) {
			t.Fatalf("%s: ρ left today %v: the catalog does not say", site, v)
		}
	}
	before := audited()
	test.Tap(m.validate)
	f.loop.until(t, "the validation", func() bool { return m.validated != nil || strings.HasPrefix(m.status.Text, "No validation") })
	if m.validated == nil || m.validated.DP == nil || m.cForest.figure == nil {
		t.Fatalf("validation: %q", m.status.Text)
	}
	if !strings.Contains(m.losoText.Text, "this validation sent no query and spent no ρ") || !strings.Contains(m.losoText.Text, "simulated releases") {
		t.Errorf("validation text %q", m.losoText.Text)
	}
	if fp, ok := m.cForest.figure().(*chart.ForestPlot); !ok || !strings.Contains(fp.Footnote, "each site's interval includes the release's noise") {
		t.Errorf("forest plot %T: footnote does not say the intervals include the noise", m.cForest.figure())
	}
	shoot(t, f, "model_dp_validation")
	// The tab still fits a 1024-px screen once validated (under Xvfb the window grew past 1024
	// px: the calibration table did not scroll sideways). The height of the wrapped texts
	// depends on the width they were last laid out at, so only the width is checked.
	if ms := f.ui.tabs.Selected().Content.MinSize(); ms.Width > 1024-300 {
		t.Errorf("the Model tab with a dp validation needs %v", ms)
	}
	test.Tap(m.predict)
	if m.prediction == nil || m.curve.figure == nil {
		t.Fatalf("no prediction: %q", m.status.Text)
	}
	f.loop.until(t, "the risk score's place", func() bool {
		return strings.Contains(m.position.Text, "patients") || strings.Contains(m.position.Text, "not shown")
	})
	if !strings.Contains(m.note.Text, "differentially private tables") || strings.Contains(m.position.Text, "not shown") {
		t.Errorf("note %q, position %q", m.note.Text, m.position.Text)
	}
	shoot(t, f, "model_dp_patient")
	if after := audited(); after != before {
		t.Errorf("validation and prediction on dp tables sent queries: %d audit records before, %d after", before, after)
	}
	if now := rhoLeft(); len(now) == 0 || !maps.Equal(now, left) {
		t.Errorf("ρ left today before %v, after %v", left, now)
	}
}
