package report

import (
	"slices"
	"strings"
	"testing"

	"github.com/oncofed/oncofed/analysis"
	"github.com/oncofed/oncofed/app"
	"github.com/oncofed/oncofed/chart"
	"github.com/oncofed/oncofed/protocol"
)

// The cumulative incidence drawn from differentially private tables says under the figure that
// its counts are noisy and that its intervals and Gray's test include the noise (a result stored
// before they did says its intervals leave it out); from exact tables it says neither.
func TestCIFFigureNotesDP(t *testing.T) {
	table := analysis.SurvivalTable{Time: []float64{30, 60}, Events: []int{3, 2}, Censor: []int{1, 4}, Causes: [][]int{{1, 2}, {2, 0}}}
	est, err := analysis.CumulativeIncidence(table, analysis.KMOptions{})
	if err != nil {
		t.Fatal(err)
	}
	noisy := est.WithNoise([][]float64{{0.01, 0.02}, {0.01, 0.01}})
	gray := []analysis.GrayResult{{Cause: 1, Stat: 1, DF: 1, P: 0.3}}
	for _, c := range []struct {
		dp, withNoise bool
		note          string
	}{{false, false, ""}, {true, false, "the intervals leave out the noise"}, {true, true, "the intervals include the noise"}} {
		site := app.SiteProvenance{Site: "a"}
		if c.dp {
			site.Policy.DP = &protocol.DPEffects{Mechanism: "survival-sqrt", Rho: 0.02}
		}
		km := &app.KMResult{Causes: 2, Groups: []app.KMGroup{{Table: table, CIF: est}, {Group: "b", Table: table, CIF: est}}, Gray: gray}
		if c.withNoise {
			km.Groups[0].CIF, km.Groups[1].CIF, km.GrayWithNoise = noisy, noisy, true
		}
		r := &app.Result{KM: km, Provenance: app.Provenance{Sites: []app.SiteProvenance{site}}}
		f := CIFFigure(r, []string{"relapse", "death"}, chart.Days, chart.Style{}, "")
		if got := slices.Contains(f.Notes, DPCIFNote(r)) && DPCIFNote(r) != ""; got != c.dp || f.Approximate != c.dp || !strings.Contains(DPCIFNote(r), c.note) {
			t.Errorf("dp %v, with noise %v: notes %q, approximate %v", c.dp, c.withNoise, f.Notes, f.Approximate)
		}
		if slices.Contains(f.Notes, DPGrayNote) != c.withNoise {
			t.Errorf("dp %v, with noise %v: Gray's note in %q", c.dp, c.withNoise, f.Notes)
		}
		if !f.Rising {
			t.Error("the cumulative incidence is drawn from 1 at time 0, as a survival curve")
		}
	}
}
