package report

import (
	"reflect"
	"slices"
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

// A discrete variable with a declared range is binned one whole value per bin, and listed as
// discrete only when binned so (a --bins of its own keeps it numeric).
func TestDiscreteBins(t *testing.T) {
	lo, hi := 0.0, 5.0
	st := &app.Study{Variables: []app.Variable{
		{Name: "ecog", Type: protocol.Numeric, Unit: "points", Min: &lo, Max: &hi, Discrete: true},
		{Name: "score", Type: protocol.Numeric, Unit: "points"},
	}}
	if e := DefaultEdges(st.Variables[0]); !slices.Equal(e, []float64{1, 2, 3, 4, 5}) {
		t.Errorf("ecog edges %v, want 1…5 (values 0…5)", e)
	}
	bins := SummaryBins(st, []string{"ecog", "score"}, nil)
	if d := Discrete(st, bins); !slices.Equal(d, []string{"ecog"}) {
		t.Errorf("discrete %v, want [ecog] (score is not declared discrete)", d)
	}
	own := SummaryBins(st, []string{"ecog"}, []protocol.HistogramSpec{{Variable: "ecog", Edges: []float64{2, 4}}})
	if d := Discrete(st, own); d != nil {
		t.Errorf("ecog binned 2, 4 by the analyst listed discrete: %v", d)
	}
}
