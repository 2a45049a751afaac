package ui

import (
	"reflect"
	"testing"

	"fyne.io/fyne/v2/test"

	"github.com/oncofed/oncofed/protocol"
)

// TestCohortWhereLine: under the filters the cohort builder shows the cohort in the CLI's
// --where syntax, a line that parses back to the very filter the app sends, and no line for
// the whole study.
func TestCohortWhereLine(t *testing.T) {
	test.NewTempApp(t)
	c := newCohortPanel(&App{})
	shown := func() bool {
		for _, o := range c.filterBox.Objects {
			if o == c.where {
				return true
			}
		}
		return false
	}
	c.renderFilters()
	if shown() || c.where.Text != "" {
		t.Errorf("all patients: where line %q shown %v", c.where.Text, shown())
	}
	lo, hi := 65.0, 80.0
	c.filters = []cohortFilter{
		{Var: "age", Min: &lo, Max: &hi},
		{Var: "stage", Categorical: true, Values: []string{"IVA", "IV B"}},
	}
	c.renderFilters()
	const want = `where 65 <= age <= 80 and stage in (IVA, "IV B")`
	if !shown() || c.where.Text != want || !c.where.Selectable {
		t.Fatalf("where line %q (shown %v, selectable %v), want %q", c.where.Text, shown(), c.where.Selectable, want)
	}
	back, err := protocol.ParseFilter(c.where.Text[len("where "):])
	if err != nil || !reflect.DeepEqual(back, c.Cohort()) {
		t.Errorf("the line parses to %+v (%v), the app sends %+v", back, err, c.Cohort())
	}
	c.filters = c.filters[:0]
	c.renderFilters()
	if shown() {
		t.Error("the where line stays after the last filter is removed")
	}
}
