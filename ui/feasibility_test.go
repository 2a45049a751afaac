package ui

import (
	"slices"
	"strings"
	"testing"

	"fyne.io/fyne/v2/test"
	"fyne.io/fyne/v2/widget"

	"github.com/oncofed/oncofed/app"
	"github.com/oncofed/oncofed/node"
	"github.com/oncofed/oncofed/protocol"
	"github.com/oncofed/oncofed/report/format"
	"github.com/oncofed/oncofed/synth"
)

func TestFormatFeasibility(t *testing.T) {
	for _, c := range []struct {
		n      app.Count
		approx bool
		want   string
	}{
		{app.Count{N: 1230}, true, "≈1,230"},
		{app.Count{N: 7800}, true, "≈7,800"},
		{app.Count{N: 1230}, false, "1,230"},
		{app.Count{Suppressed: true, Max: 9}, true, "<10"},                // refused below min_cohort 10
		{app.Count{Suppressed: true, Max: 27}, true, "<28"},               // three such sites pooled
		{app.Count{N: 230, Suppressed: true, Max: 248}, true, "≈230–248"}, // ≈230 plus two "<10"
		{app.Count{N: 1, Suppressed: true, Max: 4}, false, "<5"},
	} {
		if got := FormatFeasibility(c.n, c.approx); got != c.want {
			t.Errorf("FormatFeasibility(%+v, %v) = %q, want %q", c.n, c.approx, got, c.want)
		}
	}
}

// The problem feasibility counts solve, through the desktop app on the demo federation (overlap
// guard on, min cell 5): the analyst narrows the cohort step by step (age ≥ 50, ≥ 60, ≥ 70),
// each edit counted live, then runs Kaplan–Meier and Table 1 of the final cohort. No site
// refuses the run. With exact counts each edit released a set, and an edit moving fewer than
// min_cell patients got the run refused; with feasibility counts that is so too when the
// final cohort is 1..min_cell−1 patients from an earlier edit at a site (age ≥ 61, then
// ≥ 62 at the smallest site): the node's guard rule 6 (node/guardfeas.go, review class 5 in
// the reverse order) refuses an exact release near a feasibility answer of another
// definition, which the node's TestAttackFeasibilityThenRun plays.
func TestEditingFiltersDoesNotTripTheGuard(t *testing.T) {
	f := startApp(t)
	a := f.ui
	c := a.cohort
	for _, lo := range []float64{50, 60, 70} {
		before := c.feas
		c.AddFilter(cohortFilter{Var: "age", Min: &lo})
		f.loop.until(t, "feasibility of the edited cohort", func() bool { return c.feas != before })
		if c.feas.count == nil || !c.feas.count.Approximate || len(c.feas.refused) > 0 {
			t.Fatalf("age ≥ %v: count %+v, refused %+v", lo, c.feas.count, c.feas.refused)
		}
	}
	if len(c.refusals) > 0 {
		t.Fatalf("refusals predicted: %+v", c.refusals)
	}
	test.Tap(c.run)
	f.loop.until(t, "both results", func() bool { return a.survival.result != nil && a.summary.result != nil })
	for _, r := range []*app.Result{a.survival.result, a.summary.result} {
		if p := r.Provenance; len(p.Refused) > 0 || len(p.Answered) != 3 {
			t.Errorf("%s: answered by %v, refused by %+v; want all 3 sites", r.Request.Kind, p.Answered, p.Refused)
		}
	}
}

// Grouped by stage within stage IVA–IVB, the stage III groups are empty because the filter
// says so, not small: no site is predicted to refuse, and no "<10" group is shown for them
// (walkthrough: the warning counted levels the filter had removed and said every site would
// refuse).
func TestFilteredOutGroupsAreNotSmall(t *testing.T) {
	f := startApp(t)
	c := f.ui.cohort
	before := c.feas
	c.AddFilter(cohortFilter{Var: "stage", Categorical: true, Values: []string{"IVA", "IVB"}})
	f.loop.until(t, "feasibility of stage IV", func() bool { return c.feas != before })
	before = c.feas
	c.groupBy.SetSelected("stage")
	f.loop.until(t, "feasibility by stage", func() bool { return c.feas != before })
	if len(c.refusals) > 0 || c.warning.Visible() {
		t.Errorf("refusals predicted for groups the filter removed: %+v (%q)", c.refusals, c.warning.Text)
	}
	for _, s := range texts(c.feasBox) {
		if strings.Contains(s, "IIIB") || strings.Contains(s, "IIIC") {
			t.Errorf("a group the filter removed is shown: %q", s)
		}
	}
	if c.feas.count == nil || len(c.feas.count.Groups) != 2 {
		t.Errorf("pooled groups %+v, want IVA and IVB", c.feas.count)
	}
}

// dialogButtons returns the buttons of the dialog on top of the window, by their text.
func dialogButtons(t *testing.T, a *App) map[string]*widget.Button {
	t.Helper()
	top := a.win.Canvas().Overlays().Top()
	if top == nil {
		t.Fatal("no dialog shown")
	}
	out := map[string]*widget.Button{}
	for _, o := range test.LaidOutObjects(top) {
		if b, ok := o.(*widget.Button); ok {
			out[b.Text] = b
		}
	}
	return out
}

// When some sites would refuse, Run asks first and the prominent button is Cancel; the other
// runs on the sites that would answer, and says how many.
func TestRunWarningDefaultsToCancel(t *testing.T) {
	f := startApp(t)
	a := f.ui
	c := a.cohort
	before := c.feas
	c.groupBy.SetSelected("stage") // the two smaller sites have fewer than 10 stage IIIC patients
	f.loop.until(t, "feasibility by stage", func() bool { return c.feas != before })
	if len(c.refusals) == 0 || c.willAnswer == 0 {
		t.Fatalf("want some sites refusing and some answering: refusals %+v, answering %d", c.refusals, c.willAnswer)
	}
	runs := a.runGen
	test.Tap(c.run)
	bs := dialogButtons(t, a)
	cancel, run := bs["Cancel"], bs["Run on the other "+format.Plural(c.willAnswer, "site", "sites")]
	if cancel == nil || run == nil {
		t.Fatalf("dialog buttons %v", bs)
	}
	if cancel.Importance != widget.HighImportance || run.Importance == widget.HighImportance {
		t.Error("the prominent choice is not Cancel")
	}
	test.Tap(cancel)
	if a.runGen != runs {
		t.Error("Cancel ran the analysis")
	}
	test.Tap(c.run)
	test.Tap(dialogButtons(t, a)["Run on the other "+format.Plural(c.willAnswer, "site", "sites")])
	if a.runGen == runs {
		t.Error("running on the other sites sent nothing")
	}
}

// When every site would refuse, Run says so and offers nothing to run.
func TestRunWarningWhenEverySiteRefuses(t *testing.T) {
	f := startApp(t)
	a := f.ui
	c := a.cohort
	before := c.feas
	c.AddFilter(cohortFilter{Var: "alk", Categorical: true, Values: []string{"rearranged"}})
	f.loop.until(t, "feasibility of ALK-rearranged", func() bool { return c.feas != before })
	before = c.feas
	c.groupBy.SetSelected("sex")
	f.loop.until(t, "feasibility by sex", func() bool { return c.feas != before })
	if c.willAnswer != 0 {
		t.Fatalf("%d sites would answer ALK-rearranged by sex (refusals %+v)", c.willAnswer, c.refusals)
	}
	runs := a.runGen
	test.Tap(c.run)
	bs := dialogButtons(t, a)
	if len(bs) != 1 || bs["OK"] == nil {
		t.Errorf("dialog buttons %v, want OK alone", bs)
	}
	if a.runGen != runs {
		t.Error("Run sent a query every site would refuse")
	}
}

// The bounds of a numeric filter are checked as typed against the variable's declared range
// and against each other, so that the dialog keeps the text and says what is wrong.
func TestBoundValidator(t *testing.T) {
	lo, hi := 18.0, 100.0
	v := &app.Variable{Name: "age", Min: &lo, Max: &hi}
	none := func() string { return "" }
	check := boundValidator(v, none, func() string { return "70" })
	for s, want := range map[string]string{"": "", "65": "", "650": "outside age's range 18–100", "x": "not a number", "75": "above the upper bound 70"} {
		err := check(s)
		if (err == nil) != (want == "") || err != nil && !strings.Contains(err.Error(), want) {
			t.Errorf("%q: %v, want %q", s, err, want)
		}
	}
	if err := boundValidator(v, func() string { return "60" }, none)("55"); err == nil || !strings.Contains(err.Error(), "below the lower bound 60") {
		t.Errorf("upper bound under the lower: %v", err)
	}
}

// The filter dialog of a categorical variable shows each level's count in the cohort, as
// feasibility releases it, and the levels ticked by their labels make the filter.
func TestFilterDialogCountsLevels(t *testing.T) {
	f := startApp(t)
	a := f.ui
	c := a.cohort
	c.onAddFilter("stage")
	var check *widget.CheckGroup
	for _, o := range test.LaidOutObjects(a.win.Canvas().Overlays().Top()) {
		if cg, ok := o.(*widget.CheckGroup); ok {
			check = cg
		}
	}
	if check == nil {
		t.Fatal("no level choice in the filter dialog")
	}
	check.SetSelected([]string{"IVA"}) // ticked before the counts come: kept through the relabel
	f.loop.until(t, "the level counts", func() bool { return strings.Contains(strings.Join(check.Options, "|"), " · ≈") })
	var iva, ivb string
	for _, o := range check.Options {
		switch {
		case strings.HasPrefix(o, "IVA · ≈"):
			iva = o
		case strings.HasPrefix(o, "IVB · ≈"):
			ivb = o
		}
	}
	if iva == "" || ivb == "" || !slices.Equal(check.Selected, []string{iva}) {
		t.Fatalf("options %q, selected %q", check.Options, check.Selected)
	}
	check.SetSelected([]string{ivb, iva})
	test.Tap(dialogButtons(t, a)["Add"])
	if len(c.filters) != 1 || !slices.Equal(c.filters[0].Values, []string{"IVA", "IVB"}) {
		t.Errorf("filter %+v, want stage in IVA, IVB", c.filters)
	}
}

// Sites that would refuse a grouping because of one small level answer once it is merged
// with another: the Merge… dialog offers the levels (with their counts), the merge shows
// under Group by, travels with the request and names the group in the results; a new
// grouping clears it.
func TestMergeRareLevels(t *testing.T) {
	f := startApp(t)
	a := f.ui
	c := a.cohort
	before := c.feas
	c.groupBy.SetSelected("stage") // the two smaller sites have fewer than 10 stage IIIC patients
	f.loop.until(t, "feasibility by stage", func() bool { return c.feas != before })
	refusing := len(c.refusals)
	if refusing == 0 || c.mergeBtn.Disabled() || !strings.Contains(c.warning.Text, "Merge…") {
		t.Fatalf("refusals %d, merge button disabled %v, warning %q", refusing, c.mergeBtn.Disabled(), c.warning.Text)
	}
	c.onMerge()
	var check *widget.CheckGroup
	var name *widget.Entry
	for _, o := range test.LaidOutObjects(a.win.Canvas().Overlays().Top()) {
		switch w := o.(type) {
		case *widget.CheckGroup:
			check = w
		case *widget.Entry:
			name = w
		}
	}
	if check == nil || name == nil || name.Text != "Other" {
		t.Fatalf("merge dialog: levels %v, name %v", check, name)
	}
	f.loop.until(t, "the level counts", func() bool { return strings.Contains(strings.Join(check.Options, "|"), " · ≈") })
	var pick []string
	for _, o := range check.Options {
		if strings.HasPrefix(o, "IIIB") || strings.HasPrefix(o, "IIIC") {
			pick = append(pick, o)
		}
	}
	check.SetSelected(pick)
	name.SetText("IIIB–C")
	before = c.feas
	test.Tap(dialogButtons(t, a)["Merge"])
	if !strings.Contains(strings.Join(texts(c.mergeRow), " "), "Merged: IIIB–C = IIIB, IIIC") {
		t.Errorf("merge row %q", texts(c.mergeRow))
	}
	req := c.Request(protocol.KindSurvival)
	if len(req.Merge) != 1 || !slices.Equal(req.Merge[0].Levels, []string{"IIIB", "IIIC"}) {
		t.Fatalf("request merge %+v", req.Merge)
	}
	f.loop.until(t, "feasibility with IIIB and IIIC merged", func() bool { return c.feas != before })
	if len(c.refusals) >= refusing {
		t.Errorf("still %d sites predicted to refuse (%d before merging): %+v", len(c.refusals), refusing, c.refusals)
	}
	test.Tap(c.run)
	if len(c.refusals) > 0 { // the warning: run on the sites that answer
		test.Tap(dialogButtons(t, a)["Run on the other "+format.Plural(c.willAnswer, "site", "sites")])
	}
	f.loop.until(t, "the merged KM", func() bool { return a.survival.result != nil })
	var groups []string
	for _, g := range a.survival.result.KM.Groups {
		groups = append(groups, g.Group)
	}
	if !slices.Equal(groups, []string{"IIIB–C", "IVA", "IVB"}) {
		t.Errorf("KM groups %v, want the merged group first", groups)
	}
	c.groupBy.SetSelected("sex")
	if len(c.merge) != 0 || len(c.mergeRow.Objects) != 0 {
		t.Errorf("a new grouping kept the merge %+v", c.merge)
	}
}

// A dp analyst's feasibility counts are differentially private: the panel says so and what
// each count costs, and never promises exact numbers with Run (walkthrough with
// `oncofed --demo-role dp`: it said "approximate per site; exact with Run").
func TestFeasibilityLegendDP(t *testing.T) {
	f := startAppAs(t, testFederation(), node.RoleDP)
	c := f.ui.cohort
	f.loop.until(t, "the first feasibility count", func() bool { return c.feas != nil })
	if len(c.feas.release.DPSites) == 0 || c.feas.release.Rho <= 0 {
		t.Fatalf("release %+v: the dp count is not marked as differentially private", c.feas.release)
	}
	for _, s := range []string{c.feasLegend, c.feasState.Text} {
		if strings.Contains(s, "xact with Run") || strings.Contains(s, "xact numbers come") {
			t.Errorf("%q promises exact numbers to a dp analyst", s)
		}
	}
	if !strings.Contains(c.feasLegend, "Differentially private") || !strings.Contains(c.feasLegend, "ρ=") {
		t.Errorf("legend %q does not say the counts are DP and what they cost", c.feasLegend)
	}
	if !strings.Contains(c.feasState.Text, "DP") {
		t.Errorf("short line %q", c.feasState.Text)
	}
}

// The front page's Kaplan–Meier, as an analyst reaches it on the demo network: the filter
// dialog counts all patients by stage (feasibility), the filter keeps IVA and IVB, the cohort is
// grouped by PD-L1 (whose missing values the groups leave out), and Run. Every site answers.
// Before, 5 of 6 refused through the overlap guard's rule 3: all patients − IIIB − IIIC − (the
// groups' union) − (the missing group) is empty, and by definition — but the union was
// described as the stage IV cohort itself (so the difference was stage IV patients missing
// PD-L1, not empty by definition), and a set with its definition written twice was not
// combined at all (differByDefinition).
func TestFilterDialogThenGroupedRunAnswered(t *testing.T) {
	f := startAppOn(t, synth.DemoFederation())
	a, c := f.ui, f.ui.cohort
	counted := false
	c.countLevels("stage", func(r *app.CountResult) { counted = len(r.Groups) == 4 })
	f.loop.until(t, "the filter dialog's counts by stage", func() bool { return counted })
	before := c.feas
	c.AddFilter(cohortFilter{Var: "stage", Categorical: true, Values: []string{"IVA", "IVB"}})
	f.loop.until(t, "feasibility of stage IV", func() bool { return c.feas != before })
	before = c.feas
	c.groupBy.SetSelected("pdl1_tps")
	f.loop.until(t, "feasibility by PD-L1", func() bool { return c.feas != before })
	if len(c.refusals) > 0 {
		t.Fatalf("refusals predicted: %+v", c.refusals)
	}
	test.Tap(c.run)
	f.loop.until(t, "both results", func() bool { return a.survival.result != nil && a.summary.result != nil })
	for _, r := range []*app.Result{a.survival.result, a.summary.result} {
		if p := r.Provenance; len(p.Refused) > 0 || len(p.Answered) != 6 {
			t.Errorf("%s: answered by %v, refused by %+v; want all 6 sites", r.Request.Kind, p.Answered, p.Refused)
		}
	}
	if km := a.survival.result.KM; km == nil || len(km.Groups) != 3 {
		t.Errorf("KM groups: %+v", km)
	}
}
