package ui

import (
	"fmt"
	"slices"
	"strings"
	"testing"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/test"

	"github.com/oncofed/oncofed/app"
	"github.com/oncofed/oncofed/node"
	"github.com/oncofed/oncofed/report"
)

// A dp analyst's Cox table shows each coefficient's SE with the release's noise SD beside it,
// "SE (noise SD)", and at 1024×700 it fits its pane without scrolling sideways, long terms
// ("histology: squamous vs adenocarcinoma") wrapped (it needed 602 px of 525 with the term on
// one line and "coef (SE)", the noise SD only in a sentence under the table).
func TestCoxTableDPFitsSmallScreens(t *testing.T) {
	f := startAppAs(t, testFederation(), node.RoleDP)
	a := f.ui
	a.selectTab(TabCox)
	a.cox.covariates.SetSelected([]string{"sex", "ecog", "histology"})
	test.Tap(a.cox.fit)
	f.loop.until(t, "the Cox fit", func() bool { return a.cox.result != nil || strings.HasPrefix(a.cox.status.Text, "No Cox") })
	if a.cox.result == nil || len(a.cox.result.Cox.NoiseSD) == 0 {
		t.Fatalf("no dp fit with its noise SD: %s", a.cox.status.Text)
	}
	a.Window().Resize(fyne.NewSize(1024, 701))
	a.Window().Resize(fyne.NewSize(1024, 700))
	cells := texts(a.cox.table)
	if len(cells) < 4 || !slices.Equal(cells[:4], []string{"Term", "HR (95% CI)", "p", "SE (noise SD)"}) {
		t.Fatalf("header %q", cells)
	}
	for _, row := range report.CoxRows(a.cox.result, a.names()) {
		if row.Reference {
			continue
		}
		if want := fmt.Sprintf("%.3f (%.3f)", row.SE, row.NoiseSD); !slices.Contains(cells, want) {
			t.Errorf("%s: no cell %q in %q", row.Label, want, cells)
		}
	}
	if !slices.Contains(cells, "histology: squamous vs\nadenocarcinoma") {
		t.Errorf("the long term is not wrapped: %q", cells)
	}
	var pane *container.Scroll
	for _, o := range test.LaidOutObjects(a.Window().Content()) {
		if s, ok := o.(*container.Scroll); ok && s.Visible() {
			if c, ok := s.Content.(*fyne.Container); ok && slices.Contains(c.Objects, fyne.CanvasObject(a.cox.table)) {
				pane = s
			}
		}
	}
	if pane == nil {
		t.Fatal("the table's scroll pane is not on screen")
	}
	if need, have := a.cox.table.MinSize().Width, pane.Size().Width; need > have {
		t.Errorf("the table needs %.0f px, its pane is %.0f px wide at 1024×700", need, have)
	}
	if strings.Contains(a.cox.model.Text, "Noise of the differentially private release") || !strings.Contains(a.cox.model.Text, "Noise SD:") {
		t.Errorf("model text %q: the per-coefficient SDs belong in the table, the line says what they are", a.cox.model.Text)
	}
	// The p-values and intervals hold the noise and the line says so; its global test is the
	// Wald test with the noise, the likelihood ratio test withheld with the reason.
	if m := a.cox.model.Text; !strings.Contains(m, "the p-values and intervals include it") || !strings.Contains(m, "Wald test with the noise") ||
		strings.Contains(m, "likelihood ratio test p") || !strings.Contains(m, app.ErrCoxTestsNoisy) || !a.cox.result.Cox.WithNoise {
		t.Errorf("model text %q", m)
	}
}
