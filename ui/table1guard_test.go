package ui

import (
	"slices"
	"strings"
	"testing"

	"github.com/oncofed/oncofed/synth"
)

// A first Run by sex on a fresh network of two larger sites under the demo policy: Table 1
// (a dozen variables' cells in each group) and the Kaplan–Meier curves come from both sites.
// The overlap guard used to spend its search budget on Table 1's own cells and refuse it at
// both, so a new user's first Run showed Table 1 from the small sites only.
func TestRunTable1AnsweredEverywhere(t *testing.T) {
	fed := demoFederation("test federation", synth.Spec{Study: synth.NSCLC, SiteSizes: []int{2100, 800}, Seed: 11})
	sites := fed.SiteNames()
	slices.Sort(sites)
	f := startAppOn(t, fed)
	a := f.ui
	for _, group := range []string{"sex"} {
		before := a.cohort.feas
		a.cohort.groupBy.SetSelected(group)
		f.loop.until(t, "feasibility by "+group, func() bool { return a.cohort.feas != before })
		oldKM, oldT1 := a.survival.result, a.summary.result
		a.runAnalyses()
		f.loop.until(t, "Table 1 and the curves by "+group, func() bool {
			done := strings.HasPrefix(a.summary.status.Text, "No Table 1") || a.summary.result != oldT1
			return done && a.survival.result != oldKM && a.survival.result != nil
		})
		if a.summary.result == oldT1 {
			t.Fatalf("by %s: %s", group, a.summary.status.Text)
		}
		for name, answered := range map[string][]string{"Table 1": a.summary.result.Provenance.Answered, "Kaplan–Meier": a.survival.result.Provenance.Answered} {
			if got := slices.Sorted(slices.Values(answered)); !slices.Equal(got, sites) {
				t.Errorf("by %s: %s from %v, want %v (refused: %+v)", group, name, got, sites, a.summary.result.Provenance.Refused)
			}
		}
	}
}
