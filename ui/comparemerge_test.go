package ui

import (
	"strings"
	"testing"

	"fyne.io/fyne/v2/test"

	"github.com/oncofed/oncofed/node"
	"github.com/oncofed/oncofed/protocol"
	"github.com/oncofed/oncofed/synth"
)

// TestCompareMergeLevels: "Merge levels…" under the confounders is offered once a chosen
// confounder has levels to merge (stage; not age, which is continuous); merging stages IVA and
// IVB lists the merge, sends it (app.IPWSpec.Merge) and the comparison's propensity model has
// the merged design column stageIVA+IVB; an invalid merge is refused with the app's message;
// deselecting the confounder, or its clear button, drops the merge.
func TestCompareMergeLevels(t *testing.T) {
	f := startApp(t)
	f.ui.selectTab(TabCompare)
	c := f.ui.compare
	c.treatment.SetName("treatment")
	c.treated.SetSelected("pembro-chemo")
	c.confounders.SetSelected([]string{"age"})
	if !c.mergeBtn.Disabled() {
		t.Error("Merge levels… offered with only a continuous confounder")
	}
	c.confounders.SetSelected([]string{"age", "stage"})
	if c.mergeBtn.Disabled() {
		t.Fatal("Merge levels… not offered with stage chosen")
	}
	test.Tap(c.mergeBtn) // the dialog opens (Fyne's test driver); the merge itself is addMerge's
	if err := c.addMerge("stage", []string{"IVB", "IVA"}); err != nil {
		t.Fatal(err)
	}
	if err := c.addMerge("stage", []string{"IIIB"}); err == nil || !strings.Contains(err.Error(), "merges 2 to 256 levels") {
		t.Errorf("a group of one level: %v", err)
	}
	if got := texts(c.mergeRow); len(got) != 1 || !strings.Contains(got[0], "IVA, IVB") {
		t.Errorf("merge row %q", got)
	}
	req := c.Request()
	if g := req.IPW.Merge["stage"]; len(g) != 1 || g[0].Name != "IVA+IVB" {
		t.Fatalf("request's merge %+v", req.IPW.Merge)
	}
	test.Tap(c.run)
	f.loop.until(t, "the comparison", func() bool { return c.result != nil || strings.HasPrefix(c.status.Text, "No comparison") })
	if c.result == nil {
		t.Fatalf("no comparison: %s", c.status.Text)
	}
	terms := strings.Join(c.result.IPW.Propensity.Terms, " ")
	if !strings.Contains(terms, "stageIVA+IVB") || strings.Contains(terms, "stageIVB") {
		t.Errorf("propensity terms %q, want the merged stage", terms)
	}
	// Deselecting stage drops its merge; choosing it again does not bring it back.
	c.confounders.SetSelected([]string{"age"})
	c.confounders.SetSelected([]string{"age", "stage"})
	if c.Merge() != nil || len(texts(c.mergeRow)) != 0 {
		t.Errorf("merge %+v kept after deselecting stage", c.Merge())
	}
	_ = c.addMerge("stage", []string{"IIIB", "IIIC"})
	if c.Merge() == nil {
		t.Fatal("no merge")
	}
	c.setMerge(nil)
	if c.Request().IPW.Merge != nil {
		t.Error("merge kept after clearing")
	}
}

// TestCompareDP: for an analyst of role dp the Compare tab's comparison is computed from one
// differentially private release per site (a dp_tables Cox query), and the tab says so with
// the noise's spread of the hazard ratio beside the privacy line; merging levels is not offered.
func TestCompareDP(t *testing.T) {
	// Two sites of 1,500 and 1,000: the test federation's 480 patients are too few for a dp
	// comparison (most of its treated arm's patterns are within the noise of an empty one).
	fed := demoFederation("dp compare", synth.Spec{Study: synth.NSCLC, SiteSizes: []int{1500, 1000}, Seed: 11})
	f := startAppAs(t, fed, node.RoleDP)
	f.ui.selectTab(TabCompare)
	c := f.ui.compare
	c.treatment.SetName("treatment")
	c.treated.SetSelected("pembro-chemo")
	c.confounders.SetSelected([]string{"age"})
	test.Tap(c.run)
	f.loop.until(t, "the comparison", func() bool { return c.result != nil || strings.HasPrefix(c.status.Text, "No comparison") })
	if c.result == nil {
		t.Fatalf("no comparison: %s", c.status.Text)
	}
	if q := c.result.Rounds[0].Query; len(c.result.Rounds) != 1 || q.Kind != protocol.KindCox || q.Cox.Form != protocol.CoxDPTables {
		t.Fatalf("rounds %d, first %s: want one dp_tables release", len(c.result.Rounds), q.Kind)
	}
	if !strings.Contains(c.privacy.Text, "Differentially private: one release per site") || !strings.Contains(c.privacy.Text, "Noise of the release") {
		t.Errorf("privacy line %q", c.privacy.Text)
	}
	// ECOG has levels to merge, but a dp release takes no merge: not offered.
	c.confounders.SetSelected([]string{"age", "ecog"})
	if !c.mergeBtn.Disabled() {
		t.Error("Merge levels… offered to a dp analyst")
	}
}
