package report

import (
	"reflect"
	"testing"

	"github.com/oncofed/oncofed/app"
	"github.com/oncofed/oncofed/protocol"
)

func TestDefaultEdges(t *testing.T) {
	age := DefaultEdges(app.Variable{Name: "age", Unit: "years"})
	if len(age) == 0 || age[0] != 20 || age[len(age)-1] != 95 || age[1]-age[0] != 5 {
		t.Errorf("age edges %v", age)
	}
	for _, name := range []string{"age", "Age_at_dx", "dx_age"} {
		if e := DefaultEdges(app.Variable{Name: name}); !reflect.DeepEqual(e, age) {
			t.Errorf("%s edges %v, want the age edges", name, e)
		}
	}
	// A name merely containing "age" is no age (strings.Contains matched these).
	for _, name := range []string{"dx_year", "dosage", "stage", "average_dose"} {
		if e := DefaultEdges(app.Variable{Name: name}); e != nil {
			t.Errorf("%s edges %v, want none", name, e)
		}
	}
	if e := DefaultEdges(app.Variable{Name: "ecog_ps"}); len(e) != 4 {
		t.Errorf("ecog_ps edges %v", e)
	}
}

// The CLI's --bins wins for the variables it names; the others get the default edges.
func TestSummaryBins(t *testing.T) {
	st := &app.Study{Variables: []app.Variable{
		{Name: "age", Type: protocol.Numeric, Unit: "years"},
		{Name: "ecog", Type: protocol.Numeric},
		{Name: "dosage", Type: protocol.Numeric},
		{Name: "sex", Type: protocol.Categorical},
	}}
	given := []protocol.HistogramSpec{{Variable: "age", Edges: []float64{50, 70}}}
	got := SummaryBins(st, []string{"age", "ecog", "dosage", "sex"}, given)
	want := []protocol.HistogramSpec{{Variable: "age", Edges: []float64{50, 70}}, {Variable: "ecog", Edges: []float64{1, 2, 3, 4}}}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("SummaryBins = %+v, want %+v", got, want)
	}
}
