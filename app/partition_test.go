package app_test

import (
	"encoding/json"
	"testing"

	"github.com/oncofed/oncofed/analysis"
	"github.com/oncofed/oncofed/app"
	"github.com/oncofed/oncofed/protocol"
)

// centralUniversityAge is the age summary that the demo network's central-university (2100
// NSCLC patients, min cell 5) released for 5-year bins 20..95, as oncofed-cli --demo showed
// it. Its exact cells add up to 2085 of 2100: the three suppressed cells hold 15 patients, so
// at least one of them was suppressed secondarily with a count of 5 or more.
const centralUniversityAge = `{"groups":[{"group":"","n":{"n":2100},"variables":[{"variable":"age","missing":{"n":0},"n":{"n":2100},
"sum":142358,"sum_sq":9834360,"edges":[20,25,30,35,40,45,50,55,60,65,70,75,80,85,90,95],
"histogram":[{"n":0},{"n":0},{"n":0},{"n":0},{"n":0,"suppressed":true},{"n":0,"suppressed":true},{"n":44},{"n":110},{"n":230},
{"n":371},{"n":430},{"n":384},{"n":300},{"n":147},{"n":49},{"n":20},{"n":0,"suppressed":true}]}]}]}`

// centralUniversityAgeResult is a summary of age rendered from centralUniversityAge alone.
func centralUniversityAgeResult(t *testing.T) *app.Result {
	t.Helper()
	var s protocol.SummaryReply
	if err := json.Unmarshal([]byte(centralUniversityAge), &s); err != nil {
		t.Fatal(err)
	}
	rep := protocol.Reply{Site: "central-university", Summary: &s, Policy: protocol.PolicyEffects{MinCell: 5, MinCohort: 10}}
	r := &app.Result{Request: app.Request{Kind: protocol.KindSummary, Study: "nsclc", Variables: []string{"age"}},
		Rounds: []app.Round{{Replies: []protocol.Reply{rep}}}}
	if err := app.Render(r); err != nil {
		t.Fatal(err)
	}
	return r
}

// TestTable1SiteWithSecondarySuppression is issue 7: the per-site Table 1 showed the age median
// of the two largest demo sites as "NA [NA, NA]", because every suppressed cell was read as
// 1..min cell−1 and the histogram then could not add up to the site's exact n.
func TestTable1SiteWithSecondarySuppression(t *testing.T) {
	r := centralUniversityAgeResult(t)
	for _, tb := range []struct {
		name string
		rows [][]string
	}{{"pooled", cells(r.Summary.Table.Rows)}, {"by site", cells(r.Summary.BySite.Rows)}} {
		// By hand: the suppressed cells (35–40, 40–45, ≥95) hold 15, each 1..13. Cumulative
		// counts up to 60 are in [386, 398], to 65 in [757, 769], to 70 in [1187, 1199], to 75
		// in [1571, 1583]. Type-7 ranks: Q1 525/526 → [60, 65); median 1050/1051 → [65, 70);
		// Q3 1575/1576 → [70, 75) or [75, 80) depending on the split → 70–80.
		got := tb.rows[2][0]
		if got == "NA [NA, NA]" || got == "" {
			t.Fatalf("%s: age median cell %q", tb.name, got)
		}
		if want := "65.0–70.0 [60.0–65.0, 70.0–80.0]"; got != want {
			t.Errorf("%s: age median cell %q, want %q", tb.name, got, want)
		}
	}
}

// TestSuppressedCellBoundBySmallestReleased: the secondary cells are the smallest released ones,
// so no suppressed cell exceeds the smallest released non-zero cell.
func TestSuppressedCellBoundBySmallestReleased(t *testing.T) {
	// Total 100 = a (3) + b (6, secondary) + c (7) + d (84); R = 9 would allow 8, but b ≤ 7.
	c := &protocol.CountReply{Total: protocol.Count{N: 100}, Groups: map[string]protocol.Count{
		"a": {Suppressed: true}, "b": {Suppressed: true}, "c": {N: 7}, "d": {N: 84}}}
	rep := protocol.Reply{Site: "s", Count: c, Policy: protocol.PolicyEffects{MinCell: 5, MinCohort: 10}}
	r := &app.Result{Request: app.Request{Kind: protocol.KindCount, Study: "x", GroupBy: "g"}, Rounds: []app.Round{{Replies: []protocol.Reply{rep}}}}
	if err := app.Render(r); err != nil {
		t.Fatal(err)
	}
	for _, g := range r.Count.Groups[:2] {
		if g.N.Max != 7 {
			t.Errorf("group %s: %+v, want suppressed 1..7", g.Group, g.N)
		}
	}
}

// TestLinkedCellNotBoundBySmallestReleased: a cell the overlap guard suppressed as linked to
// earlier releases may exceed the smallest released cell (node table1.go), so a partition with
// linked cells is bounded by its total alone.
func TestLinkedCellNotBoundBySmallestReleased(t *testing.T) {
	// Total 100 = a (40, linked) + b (6, its complement) + c (7) + d (47): R = 46, so each of a
	// and b is in 0..46 (a group may be empty); the smallest-released bound (7) would exclude
	// a's 40.
	c := &protocol.CountReply{Total: protocol.Count{N: 100}, Groups: map[string]protocol.Count{
		"a": {Suppressed: true, Linked: true}, "b": {Suppressed: true, Linked: true}, "c": {N: 7}, "d": {N: 47}}}
	rep := protocol.Reply{Site: "s", Count: c, Policy: protocol.PolicyEffects{MinCell: 5, MinCohort: 10}}
	r := &app.Result{Request: app.Request{Kind: protocol.KindCount, Study: "x", GroupBy: "g"}, Rounds: []app.Round{{Replies: []protocol.Reply{rep}}}}
	if err := app.Render(r); err != nil {
		t.Fatal(err)
	}
	for _, g := range r.Count.Groups[:2] {
		if g.N.Max != 46 {
			t.Errorf("group %s: %+v, want suppressed up to 46", g.Group, g.N)
		}
	}
}

func cells(rows []analysis.Table1Row) [][]string {
	var out [][]string
	for _, r := range rows {
		out = append(out, r.Cells)
	}
	return out
}

// TestSuppressedCellBounds: a secondarily suppressed cell can be far above the min cell; its
// bounds come from the partition's total.
func TestSuppressedCellBounds(t *testing.T) {
	// Groups of a count: a (2, primary) and b (30, secondary: otherwise a = total − c − b) under
	// min cell 5; c released as 68. Total 100, so a + b = 32: each of a and b is in 0..32 (a
	// group may be empty: the node suppresses an empty declared category like a rare one) and
	// at most 68, the smallest released cell, which the node would have suppressed first.
	c := &protocol.CountReply{Total: protocol.Count{N: 100}, Groups: map[string]protocol.Count{
		"a": {Suppressed: true}, "b": {Suppressed: true}, "c": {N: 68}}}
	rep := protocol.Reply{Site: "s", Count: c, Policy: protocol.PolicyEffects{MinCell: 5, MinCohort: 10}}
	r := &app.Result{Request: app.Request{Kind: protocol.KindCount, Study: "x", GroupBy: "g"}, Rounds: []app.Round{{Replies: []protocol.Reply{rep}}}}
	if err := app.Render(r); err != nil {
		t.Fatal(err)
	}
	for _, g := range r.Count.Groups[:2] {
		if !g.N.Suppressed || g.N.N != 0 || g.N.Max != 32 {
			t.Errorf("group %s: %+v, want suppressed 0..32", g.Group, g.N)
		}
	}
	if r.Count.Groups[2].N.Suppressed || r.Count.Groups[2].N.N != 68 {
		t.Errorf("group c: %+v", r.Count.Groups[2].N)
	}
}
