package ui

import (
	"slices"
	"strings"
	"testing"

	"fyne.io/fyne/v2/test"

	"github.com/oncofed/oncofed/node"
	"github.com/oncofed/oncofed/report"
	"github.com/oncofed/oncofed/synth"
)

// On a myeloma network, whose PFS has competing causes, the Survival view offers the
// cumulative incidence of each cause per group: the figure then has one rising curve per group
// and cause, named by the declared causes, with Gray's test per cause; the pooled
// Kaplan–Meier view is one choice away.
func TestSurvivalShowsCumulativeIncidence(t *testing.T) {
	fed := demoFederation("myeloma", synth.Spec{Study: synth.MM, SiteSizes: []int{400, 300}, Seed: 5})
	f := startAppOn(t, fed)
	a := f.ui
	a.cohort.endpoint.SetSelected("PFS")
	before := a.cohort.feas
	a.cohort.groupBy.SetSelected("sex")
	f.loop.until(t, "feasibility by sex", func() bool { return a.cohort.feas != before })
	test.Tap(a.cohort.run)
	f.loop.until(t, "the survival result", func() bool { return a.survival.result != nil })
	r := a.survival.result
	if r.KM.Causes != 2 || len(r.KM.Gray) != 2 {
		t.Fatalf("causes %d, Gray tests %d (%s)", r.KM.Causes, len(r.KM.Gray), r.KM.GrayError)
	}
	if !contains(a.survival.view.Options, viewCIF) {
		t.Fatalf("view options %q lack %q", a.survival.view.Options, viewCIF)
	}
	a.survival.view.SetSelected(viewCIF)
	shown, opts, style := a.survival.shown()
	fig := a.survival.kmFigure(shown, opts, style, "")
	if len(fig.Curves) != 4 || fig.Curves[0].Name != "female — progression" || fig.Curves[3].Name != "male — death" {
		var names []string
		for _, c := range fig.Curves {
			names = append(names, c.Name)
		}
		t.Fatalf("curves %q", names)
	}
	for _, c := range fig.Curves {
		if c.Surv[0] > c.Surv[len(c.Surv)-1] {
			t.Errorf("%s: the cumulative incidence falls", c.Name)
		}
	}
	if !strings.HasPrefix(fig.Title, "Cumulative incidence: ") || len(fig.Notes) < 2 || !strings.HasPrefix(fig.Notes[0], "Gray's test, progression") {
		t.Errorf("title %q, notes %q", fig.Title, fig.Notes)
	}
	fv := a.survival.figure
	f.loop.until(t, "the cumulative incidence figure", func() bool { return fv.Image() != nil })
	a.survival.view.SetSelected(viewPooled)
	shown, opts, style = a.survival.shown()
	if fig := a.survival.kmFigure(shown, opts, style, ""); strings.HasPrefix(fig.Title, "Cumulative") {
		t.Errorf("back to the pooled view still titled %q", fig.Title)
	}
}

// An analyst of role dp gets the same view from the sites' noisy per-cause tables: the curves,
// labelled differentially private with the ρ spent, a note under the figure that the counts are
// noisy and the intervals include the noise, and Gray's test with the noise in its variance,
// said under the figure (report.DPGrayNote).
// Its Kaplan–Meier release is of all causes together (the more accurate one); choosing the
// view asks the sites for the split (split_causes), a release of its own.
func TestSurvivalShowsDPCumulativeIncidence(t *testing.T) {
	fed := demoFederation("myeloma", synth.Spec{Study: synth.MM, SiteSizes: []int{1200, 900}, Seed: 5})
	f := startAppAs(t, fed, node.RoleDP)
	a := f.ui
	a.cohort.endpoint.SetSelected("PFS")
	runKM(t, f)
	km := a.survival.result
	if km.KM.Causes != 0 || km.Rounds[0].Query.SplitCauses {
		t.Fatalf("the dp Kaplan–Meier asked for the split: %d causes", km.KM.Causes)
	}
	if !contains(a.survival.view.Options, viewCIF) {
		t.Fatalf("view options %q lack %q", a.survival.view.Options, viewCIF)
	}
	a.survival.view.SetSelected(viewCIF)
	f.loop.until(t, "the split by cause", func() bool {
		return a.survival.result != km || strings.HasPrefix(a.survival.status.Text, "No ")
	})
	r := a.survival.result
	if !r.Rounds[0].Query.SplitCauses || r.KM.Causes != 2 || len(r.KM.Gray) != 2 || !r.KM.GrayWithNoise || r.KM.GrayError != "" {
		t.Fatalf("causes %d, Gray tests %d (%q); status %q", r.KM.Causes, len(r.KM.Gray), r.KM.GrayError, a.survival.status.Text)
	}
	if a.survival.view.Selected != viewCIF {
		t.Fatalf("view %q after the split", a.survival.view.Selected)
	}
	shown, opts, style := a.survival.shown()
	fig := a.survival.kmFigure(shown, opts, style, "")
	if len(fig.Curves) != 4 || !fig.Approximate || !slices.Contains(fig.Notes, report.DPCIFNote(r)) || !strings.Contains(report.DPCIFNote(r), "intervals include the noise") ||
		!slices.Contains(fig.Notes, report.DPGrayNote) {
		t.Errorf("%d curves, approximate %v, notes %q", len(fig.Curves), fig.Approximate, fig.Notes)
	}
	if !strings.Contains(a.survival.privacy.Text, "differentially private") || !strings.Contains(a.survival.privacy.Text, "ρ=") {
		t.Errorf("privacy line %q", a.survival.privacy.Text)
	}
}
