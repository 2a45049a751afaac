package node

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"testing"

	"github.com/oncofed/oncofed/protocol"
)

// The region algebra decides emptiness by definition exactly, over the declared categories
// and ranges, with missing values only where the load has some.
func TestRegionAlgebraVanishes(t *testing.T) {
	dom := func(missing bool) *domain {
		return &domain{vars: map[string]*domainVar{
			"age":   {numeric: true, min: fp(18), max: fp(100), missing: missing},
			"stage": {cats: []string{"I", "II", "III", "IV"}, missing: missing},
		}}
	}
	lt := func(x float64) *protocol.Filter {
		return &protocol.Filter{Op: protocol.OpRange, Var: "age", Max: fp(x), MaxOpen: true}
	}
	ge := func(x float64) *protocol.Filter { return rng("age", fp(x), nil) }
	in := func(v ...string) *protocol.Filter {
		return &protocol.Filter{Op: protocol.OpIn, Var: "stage", Values: v}
	}
	a := eq("stage", "III")
	cases := []struct {
		name            string
		terms           []regionTerm
		noMiss, withMis bool // vanishes without, with missing values
	}{
		{"A − (A ∧ age<60) − (A ∧ not age<60)", []regionTerm{{1, a}, {-1, and(a, lt(60))}, {-1, and(a, notF(lt(60)))}}, true, true},
		{"A − (A ∧ age<60) − (A ∧ age≥60)", []regionTerm{{1, a}, {-1, and(a, lt(60))}, {-1, and(a, ge(60))}}, true, false},
		{"all − each stage", []regionTerm{{1, nil}, {-1, eq("stage", "I")}, {-1, eq("stage", "II")}, {-1, in("III", "IV")}}, true, false},
		{"in(I, II) − I − II", []regionTerm{{1, in("I", "II")}, {-1, eq("stage", "I")}, {-1, eq("stage", "II")}}, true, true},
		{"the oracle's variant: A ∧ age≥60 ∧ (age≠70 ∨ stage=II)", []regionTerm{{1, nil}, {-1, lt(60)}, {-1, and(ge(60), orF(notF(ageIs(70)), eq("stage", "II")))}}, false, false},
		{"age ≤ 59 vs age < 60 (not integers by declaration)", []regionTerm{{1, rng("age", nil, fp(59))}, {-1, lt(60)}}, false, false},
		{"a range beyond the declared one: age < 200 is age present", []regionTerm{{1, lt(200)}, {-1, &protocol.Filter{Op: protocol.OpPresent, Var: "age"}}}, true, true},
		{"unknown variable", []regionTerm{{1, eq("grade", "x")}, {-1, eq("grade", "x")}}, false, false},
	}
	// An integer-coded variable (ECOG 0–4 as numbers): "ecog ≤ 1" is the cells 0 and 1 by
	// definition when the site holds integers only, not otherwise.
	cell := func(x float64) *protocol.Filter { return rng("ecogn", fp(x), fp(x)) }
	for _, integer := range []bool{true, false} {
		d := &domain{vars: map[string]*domainVar{"ecogn": {numeric: true, min: fp(0), max: fp(4), integer: integer}}}
		terms := []regionTerm{{1, rng("ecogn", nil, fp(1))}, {-1, cell(0)}, {-1, cell(1)}}
		if got := d.vanishes(terms); got != integer {
			t.Errorf("ecog ≤ 1 − [0,0] − [1,1], integers only %v: vanishes %v", integer, got)
		}
		d.vars["ecogn"].missing = true
		if got := d.vanishes(terms); got != integer {
			t.Errorf("with missing values, integers only %v: vanishes %v", integer, got)
		}
		if d.vanishes([]regionTerm{{1, nil}, {-1, cell(0)}, {-1, cell(1)}, {-1, cell(2)}, {-1, cell(3)}, {-1, cell(4)}}) {
			t.Errorf("integers only %v, missing values: every patient is not the five cells", integer)
		}
	}
	for _, c := range cases {
		for _, m := range []bool{false, true} {
			want := c.noMiss
			if m {
				want = c.withMis
			}
			canon := make([]regionTerm, len(c.terms))
			for i, tm := range c.terms {
				canon[i] = regionTerm{tm.coef, canonFilter(tm.f)}
			}
			if got := dom(m).vanishes(canon); got != want {
				t.Errorf("%s (missing values %v): vanishes %v, want %v", c.name, m, got, want)
			}
		}
	}
	// A set known only by an old row (no definition) never vanishes with others.
	g1, g2 := &gset{defs: []*protocol.Filter{nil}}, &gset{}
	own := func(g *gset) []*protocol.Filter { return g.defs }
	if dom(false).anyCombinationVanishes([]*gset{g1, g2}, []int{1, -1}, own, nil) {
		t.Error("a set without a definition vanished")
	}
	// Of two definitions of one set, one that vanishes suffices.
	g2.defs = []*protocol.Filter{eq("stage", "I"), nil}
	if !dom(false).anyCombinationVanishes([]*gset{g1, g2}, []int{1, -1}, own, nil) {
		t.Error("the matching definition was not tried")
	}
}

// A region released as exactly 0 (Table 1's missing count of g in A) is public, so a later
// cohort whose remainder is that region is empty by definition for this analyst: A's Table 1
// (g: 10, 10, 10, none missing) then A ∧ g in (a, b) is answered although g is missing for a
// patient outside A; an analyst who was not told A's missing count is refused the same query
// after the same cells by other means (A, then A ∧ g = c), since for them the remainder
// A − (A ∧ g in (a, b)) − (A ∧ g = c) could be a patient of A missing g.
func TestGuardKnownEmptyRegions(t *testing.T) {
	var csv strings.Builder
	csv.WriteString("id,sex,g,time,event\n")
	id := 0
	row := func(sex, g string, k int) {
		for range k {
			id++
			fmt.Fprintf(&csv, "%d,%s,%s,%d,%d\n", id, sex, g, 100+id, id%2)
		}
	}
	row("female", "a", 10)
	row("female", "b", 10)
	row("female", "c", 10)
	row("male", "a", 11)
	row("male", "", 1)
	store := importFile(t, filepath.Join(t.TempDir(), "g.db"), writeFile(t, t.TempDir(), "g.csv", csv.String()),
		ImportSpec{Study: "g", IDColumn: "id", DataCut: "2026-01-01", Endpoints: []EndpointSpec{{Name: "OS", TimeColumn: "time", EventColumn: "event"}},
			Dictionary: declare("sex=female,male", "g=a,b,c")})
	pol := DefaultPolicy()
	ctx := context.Background()
	e, err := NewEngine(ctx, store, Config{InsecureOpen: true, Policy: &pol})
	if err != nil {
		t.Fatal(err)
	}
	ask := func(q protocol.Query) protocol.Reply { q.Study = "g"; return e.Handle(ctx, q) }
	a := eq("sex", "female")
	ab := and(a, &protocol.Filter{Op: protocol.OpIn, Var: "g", Values: []string{"a", "b"}})
	r := mustOK(t, ask(summaryOf("alice", a, "g")))
	if m := r.Summary.Groups[0].Variables[0].Missing; m.Suppressed || m.N != 0 {
		t.Fatalf("missing count %+v, want an exact 0", m)
	}
	mustOK(t, ask(countOf("alice", ab)))
	mustOK(t, ask(countOf("bob", a)))
	mustOK(t, ask(countOf("bob", and(a, eq("g", "c")))))
	if r := ask(countOf("bob", ab)); r.Error == nil || r.Error.Reason != protocol.ReasonOverlapGuard {
		t.Fatalf("bob, not told A's missing count: %+v", r.Error)
	}
	// Across a restart the known empty region is read back from the store.
	e2, err := NewEngine(ctx, store, Config{InsecureOpen: true, Policy: &pol})
	if err != nil {
		t.Fatal(err)
	}
	q := countOf("alice", and(a, &protocol.Filter{Op: protocol.OpIn, Var: "g", Values: []string{"b", "c"}}))
	q.Study = "g"
	mustOK(t, e2.Handle(ctx, q))
}
