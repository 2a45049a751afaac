package app_test

import (
	"context"
	"reflect"
	"slices"
	"testing"

	"github.com/oncofed/oncofed/analysis"
	"github.com/oncofed/oncofed/app"
	"github.com/oncofed/oncofed/protocol"
)

// TestSummaryVariableCountsLung: the per-group aggregates a Summary figure draws hold the
// patients of lung.csv, counted here directly (18 sites, no suppression in the fake network).
func TestSummaryVariableCountsLung(t *testing.T) {
	f := newFixture(t)
	edges := []float64{40, 50, 60, 70, 80}
	r, err := f.svc.Run(context.Background(), app.Request{Kind: protocol.KindSummary, Study: "lung", GroupBy: "sex",
		Variables: []string{"age", "ecog"}, Bins: []protocol.HistogramSpec{{Variable: "age", Edges: edges}}})
	if err != nil {
		t.Fatal(err)
	}
	// Expected: from lung.csv, per sex: the age histogram's cells (below 40, the four bins,
	// 80 and above) and the ecog levels and missing ecog.
	hist := map[string][]int{}
	ecog := map[string]map[string]int{}
	ecogMissing := map[string]int{}
	for _, p := range loadLung(t) {
		sex := p.cat["sex"]
		if hist[sex] == nil {
			hist[sex], ecog[sex] = make([]int, len(edges)+1), map[string]int{}
		}
		hist[sex][cellOf(edges, p.num["age"])]++ // age is never missing in lung
		if e, ok := p.cat["ecog"]; ok {
			ecog[sex][e]++
		} else {
			ecogMissing[sex]++
		}
	}

	groups, vs, err := app.SummaryVariable(r, "age")
	if err != nil {
		t.Fatal(err)
	}
	if want := r.Summary.Table.Columns[:2]; !slices.Equal(groups, want) || !slices.Equal(groups, []string{"female", "male"}) {
		t.Fatalf("groups %q, want Table 1's %q", groups, want)
	}
	for i, g := range groups {
		if !vs[i].Numeric || !slices.Equal(vs[i].Edges, edges) {
			t.Fatalf("group %s: %+v", g, vs[i])
		}
		got := make([]int, len(vs[i].Histogram))
		for j, c := range vs[i].Histogram {
			if c.Suppressed {
				t.Errorf("group %s: cell %d suppressed: %+v", g, j, c)
			}
			got[j] = c.N
		}
		if !slices.Equal(got, hist[g]) {
			t.Errorf("group %s: age histogram %v, lung.csv %v", g, got, hist[g])
		}
		// The figure and Table 1 describe the same aggregate.
		if s := analysis.SummarizeNumeric(vs[i], nil); s.N != r.Summary.Table.Variables[0].Numerics[i].N || s.Mean != r.Summary.Table.Variables[0].Numerics[i].Mean {
			t.Errorf("group %s: n %v mean %v, Table 1 %+v", g, s.N, s.Mean, r.Summary.Table.Variables[0].Numerics[i])
		}
	}

	groups, vs, err = app.SummaryVariable(r, "ecog")
	if err != nil || len(vs) != 2 {
		t.Fatalf("ecog: %q %v", groups, err)
	}
	for i, g := range groups {
		got := map[string]int{}
		for k, c := range vs[i].Categories {
			if c.N > 0 {
				got[k] = c.N
			}
		}
		if !reflect.DeepEqual(got, ecog[g]) || vs[i].Missing.N != ecogMissing[g] {
			t.Errorf("group %s: ecog %v missing %v, lung.csv %v missing %d", g, got, vs[i].Missing, ecog[g], ecogMissing[g])
		}
	}

	if groups, vs, err := app.SummaryVariable(r, "karno"); err != nil || groups != nil || vs != nil {
		t.Errorf("a variable not asked for: %q %v %v", groups, vs, err)
	}
	km, err := f.svc.Run(context.Background(), kmBySex)
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := app.SummaryVariable(km, "age"); app.ErrorCode(err) != app.EInvalid {
		t.Errorf("a Kaplan–Meier result: %v, want an invalid error", err)
	}
}

// cellOf returns the histogram cell of x on edges: 0 below the first edge, i for
// [edges[i-1], edges[i]), len(edges) at or above the last.
func cellOf(edges []float64, x float64) int {
	i := 0
	for i < len(edges) && x >= edges[i] {
		i++
	}
	return i
}

// TestSummaryVariableSecondarySuppression: a figure's suppressed histogram cells get the bounds
// Table 1 uses (issue 7), not 1..min cell−1: central-university's three suppressed age cells
// hold 2100 − 2085 = 15 patients, so each holds 1..13.
func TestSummaryVariableSecondarySuppression(t *testing.T) {
	r := centralUniversityAgeResult(t)
	groups, vs, err := app.SummaryVariable(r, "age")
	if err != nil || !slices.Equal(groups, []string{""}) {
		t.Fatalf("groups %q: %v", groups, err)
	}
	want := analysis.CellCount{N: 1, Suppressed: true, Max: 13}
	for _, j := range []int{4, 5, 16} { // 35–40, 40–45, ≥95
		if c := vs[0].Histogram[j]; c != want {
			t.Errorf("cell %d: %+v, want %+v", j, c, want)
		}
	}
	if c := vs[0].Histogram[6]; c != analysis.ExactCount(44) {
		t.Errorf("cell 6 (45–50): %+v, want exactly 44", c)
	}
}
