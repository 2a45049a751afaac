package ui

import (
	"testing"

	"fyne.io/fyne/v2/test"

	"github.com/oncofed/oncofed/app"
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
// guard on, min cell 5): the analyst narrows the cohort step by step (age ≥ 60, ≥ 61, ≥ 62),
// each edit counted live, then runs Kaplan–Meier and Table 1 of the final cohort. No site
// refuses the run. With exact counts each edit released a set differing from the previous
// one by the few patients of one year of age, and the smaller sites' guards then refused the
// run of the final cohort (the node's TestAttackFeasibilityThenRun plays that control).
func TestEditingFiltersDoesNotTripTheGuard(t *testing.T) {
	f := startApp(t)
	a := f.ui
	c := a.cohort
	for _, lo := range []float64{60, 61, 62} {
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
