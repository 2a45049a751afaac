package node

import (
	"context"
	"fmt"
	"slices"
	"testing"

	"github.com/oncofed/oncofed/protocol"
)

// Attack (review class 2 through combinations: an empty remainder as an oracle). The guard's
// rules 3 and 4 refuse a combination of released sets that leaves 1..min_cell−1 patients; one
// that leaves none used to be answered. So the attacker builds a query whose combination with
// released sets is empty exactly when the target has the guessed value, and reads the guess
// off the one variant answered. At every site, A = its women when there are min_cohort of
// them, else all its patients; x a patient of A with a unique age a, ECOG known to the
// attacker's neighbour only by its grade being one of four; the sites, and the whole data as
// one site. Two recipes, each for every ECOG
// grade h in turn until one is answered:
//
//   - "L,C,D": counts of A and of C = A ∧ age < m (m the median age, x older), then of
//     D_h = A ∧ age ≥ m ∧ (age ≠ a ∨ ecog = h). A − C − D_h is x when x's grade is not h,
//     and empty when it is.
//   - "C,D,S": counts of C = A ∧ age < a and D = A ∧ age > a, then of
//     S_h = A ∧ (age ≠ a ∨ ecog ≠ h). S_h − C − D is x when x's grade is not h, empty when it
//     is (then S_h is the union of C and D).
//
// Before: the one answered variant named the grade (counted below); now the guard refuses a
// combination whose remainder is empty like a small one unless its definitions make it empty
// (region algebra over the study's public domain, definition.go): every variant is refused,
// while the honest recipes (the same definitions without the target's clause) are answered.
func TestAttackGuardEmptyCombinationOracle(t *testing.T) {
	ctx := context.Background()
	pol := DefaultPolicy()
	tries, recovered, honest := 0, 0, 0
	whole, _ := lungEngine(t, pol, nil)
	for _, e := range append(lungSites(t, pol), whole) {
		ls := studyOf(t, e)
		var a *protocol.Filter = eq("sex", "female")
		if ls.evalFilter(a).count() < 2*pol.MinCohort+1 {
			a = nil
		}
		rows := ls.evalFilter(a)
		if rows.count() < 2*pol.MinCohort+1 {
			continue
		}
		age, ecog := ls.vars["age"].Numeric, ls.vars["ecog"]
		var ages []float64
		rows.forEach(func(i int) { ages = append(ages, age[i]) })
		slices.Sort(ages)
		for _, x := range uniqueAge(ls, rows) {
			if ecog.Codes[x] < 0 {
				continue
			}
			ax := age[x]
			below := func(f *protocol.Filter) int { return ls.evalFilter(andFilter(a, f)).count() }
			m := ages[len(ages)/2]
			recipes := map[string][]*protocol.Filter{}
			variant := map[string]func(h string) *protocol.Filter{}
			if ax > m && below(rng("age", nil, fp(m))) >= pol.MinCohort && below(rng("age", fp(m), nil)) > pol.MinCohort {
				c := andFilter(a, &protocol.Filter{Op: protocol.OpRange, Var: "age", Max: fp(m), MaxOpen: true})
				recipes["L,C,D"] = []*protocol.Filter{a, c}
				variant["L,C,D"] = func(h string) *protocol.Filter {
					return andFilter(a, and(rng("age", fp(m), nil), orF(notF(ageIs(ax)), eq("ecog", h))))
				}
			}
			lo := &protocol.Filter{Op: protocol.OpRange, Var: "age", Max: fp(ax), MaxOpen: true}
			hi := &protocol.Filter{Op: protocol.OpRange, Var: "age", Min: fp(ax), MinOpen: true}
			if below(lo) >= pol.MinCohort && below(hi) >= pol.MinCohort {
				recipes["C,D,S"] = []*protocol.Filter{andFilter(a, lo), andFilter(a, hi)}
				variant["C,D,S"] = func(h string) *protocol.Filter {
					return andFilter(a, orF(notF(ageIs(ax)), notF(eq("ecog", h))))
				}
			}
			for name, setup := range recipes {
				tries++
				analyst := fmt.Sprintf("eve-%s-%d-%s", e.Site(), x, name)
				for _, f := range setup {
					mustOK(t, e.Handle(ctx, countOf(analyst, f)))
				}
				var answered []string
				for _, h := range ecog.Categories {
					r := e.Handle(ctx, countOf(analyst, variant[name](h)))
					if r.Error == nil {
						answered = append(answered, h)
						break
					}
					if r.Error.Reason != protocol.ReasonOverlapGuard {
						t.Fatalf("%s: refused for another reason: %v", name, r.Error)
					}
				}
				if len(answered) == 1 && answered[0] == ecog.Categories[ecog.Codes[x]] {
					recovered++
				}
				// The honest completion of the same recipe: the remainder empty by definition.
				var done *protocol.Filter
				if name == "L,C,D" {
					done = andFilter(a, notF(&protocol.Filter{Op: protocol.OpRange, Var: "age", Max: fp(m), MaxOpen: true}))
				} else {
					done = andFilter(a, notF(ageIs(ax))) // C ∪ D: A without those aged a
				}
				if r := e.Handle(ctx, countOf(analyst+"-honest", setup[0])); r.Error != nil {
					t.Fatalf("%s honest: %v", name, r.Error)
				}
				for _, f := range setup[1:] {
					mustOK(t, e.Handle(ctx, countOf(analyst+"-honest", f)))
				}
				if r := e.Handle(ctx, countOf(analyst+"-honest", done)); r.Error == nil {
					honest++
				} else {
					t.Errorf("%s: the honest completion refused: %v", name, r.Error)
				}
			}
		}
	}
	t.Logf("%d of %d recipes recovered the target's ECOG grade; %d honest completions answered", recovered, tries, honest)
	if tries < 10 {
		t.Fatalf("only %d recipes", tries)
	}
	if recovered != 0 {
		t.Errorf("%d of %d recipes recovered the grade", recovered, tries)
	}
}
