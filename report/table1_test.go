package report

import (
	"slices"
	"testing"

	"github.com/oncofed/oncofed/analysis"
)

func TestTable1Columns(t *testing.T) {
	site := analysis.SiteAggregate{Site: "a", Groups: []analysis.GroupAggregate{{Group: "", N: analysis.CellCount{N: 3},
		Variables: []analysis.VariableAggregate{{Name: "sex", Categories: map[string]analysis.CellCount{"f": {N: 1}, "m": {N: 2}}}}}}}
	tb, err := analysis.BuildTable1([]analysis.SiteAggregate{site}, analysis.Table1Options{})
	if err != nil {
		t.Fatal(err)
	}
	out, smd := Table1(tb)
	if smd || !slices.Equal(out.Columns, []string{"All patients"}) || len(out.N) != 1 || out.N[0].N != 3 {
		t.Fatalf("ungrouped: columns %q, n %v, smd %v", out.Columns, out.N, smd)
	}
	for _, r := range out.Rows {
		if len(r.Cells) != 1 || r.SMD != "" {
			t.Errorf("row %q: cells %q, smd %q", r.Label, r.Cells, r.SMD)
		}
	}
	if len(tb.Rows[0].Cells) != 2 {
		t.Error("the analysis table was changed in place")
	}
	grouped := analysis.SiteAggregate{Site: "a", Groups: []analysis.GroupAggregate{
		{Group: "x", N: analysis.CellCount{N: 1}, Variables: []analysis.VariableAggregate{{Name: "sex", Categories: map[string]analysis.CellCount{"f": {N: 1}}}}},
		{Group: "y", N: analysis.CellCount{N: 2}, Variables: []analysis.VariableAggregate{{Name: "sex", Categories: map[string]analysis.CellCount{"m": {N: 2}}}}}}}
	if tb, err = analysis.BuildTable1([]analysis.SiteAggregate{grouped}, analysis.Table1Options{}); err != nil {
		t.Fatal(err)
	}
	if out, smd = Table1(tb); !smd || len(out.Columns) != 3 {
		t.Errorf("grouped: columns %q, smd %v", out.Columns, smd)
	}
}
