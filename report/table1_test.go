package report

import (
	"bytes"
	"encoding/csv"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/oncofed/oncofed/analysis"
	"github.com/oncofed/oncofed/app"
	"github.com/oncofed/oncofed/protocol"
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

// A Table 1 saved as CSV ends each record with the release kind: exact for an exact release,
// differentially private as soon as one site noised its reply; the Markdown export carries the
// privacy line instead.
func TestWriteTable1CSVRelease(t *testing.T) {
	site := analysis.SiteAggregate{Site: "a", Groups: []analysis.GroupAggregate{{Group: "", N: analysis.CellCount{N: 3},
		Variables: []analysis.VariableAggregate{{Name: "sex", Categories: map[string]analysis.CellCount{"f": {N: 1}, "m": {N: 2}}}}}}}
	tb, err := analysis.BuildTable1([]analysis.SiteAggregate{site}, analysis.Table1Options{})
	if err != nil {
		t.Fatal(err)
	}
	r := &app.Result{}
	for _, want := range []string{"exact", "differentially private"} {
		if want != "exact" {
			r.Provenance.Sites = []app.SiteProvenance{{Site: "a", Policy: protocol.PolicyEffects{DP: &protocol.DPEffects{Rho: 0.1}}}}
		}
		var b bytes.Buffer
		if err := WriteTable1(&b, r, tb, Table1CSV, time.Now()); err != nil {
			t.Fatal(err)
		}
		recs, err := csv.NewReader(&b).ReadAll()
		if err != nil || len(recs) != len(tb.Rows)+1 {
			t.Fatalf("%v: %d records for %d rows", err, len(recs), len(tb.Rows))
		}
		if h := recs[0]; !slices.Equal(h, []string{"Characteristic", "All patients", "SMD", "release"}) {
			t.Errorf("header %q", h)
		}
		for _, rec := range recs[1:] {
			if rec[len(rec)-1] != want {
				t.Errorf("record %q, want release %q", rec, want)
			}
		}
	}
	var md bytes.Buffer
	if err := WriteTable1(&md, r, tb, Table1Markdown, time.Now()); err != nil || !strings.Contains(md.String(), "differentially private") {
		t.Errorf("markdown (%v):\n%s", err, md.String())
	}
}
