package report

import (
	"slices"
	"testing"

	"github.com/oncofed/oncofed/analysis"
	"github.com/oncofed/oncofed/app"
	"github.com/oncofed/oncofed/chart"
	"github.com/oncofed/oncofed/protocol"
)

// The cumulative incidence drawn from differentially private tables says under the figure that
// its counts are noisy and its intervals and Gray's test leave out the noise; from exact tables
// it does not.
func TestCIFFigureNotesDP(t *testing.T) {
	table := analysis.SurvivalTable{Time: []float64{30, 60}, Events: []int{3, 2}, Censor: []int{1, 4}, Causes: [][]int{{1, 2}, {2, 0}}}
	est, err := analysis.CumulativeIncidence(table, analysis.KMOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for _, dp := range []bool{false, true} {
		site := app.SiteProvenance{Site: "a"}
		if dp {
			site.Policy.DP = &protocol.DPEffects{Mechanism: "survival-sqrt", Rho: 0.02}
		}
		r := &app.Result{KM: &app.KMResult{Causes: 2, Groups: []app.KMGroup{{Table: table, CIF: est}}},
			Provenance: app.Provenance{Sites: []app.SiteProvenance{site}}}
		f := CIFFigure(r, []string{"relapse", "death"}, chart.Days, chart.Style{}, "")
		if got := slices.Contains(f.Notes, DPCIFNote(r)) && DPCIFNote(r) != ""; got != dp || f.Approximate != dp {
			t.Errorf("dp %v: notes %q, approximate %v", dp, f.Notes, f.Approximate)
		}
		if !f.Rising {
			t.Error("the cumulative incidence is drawn from 1 at time 0, as a survival curve")
		}
	}
}
