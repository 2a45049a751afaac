package node

import (
	"context"
	"fmt"
	"math"
	"slices"
	"testing"

	"github.com/oncofed/oncofed/protocol"
)

// Attack tests for the overlap guard's rules of guard.go (review classes 2, 3 and 5), on the
// lung data split into its institutions (small sites included). Each runs the published
// recipe over many targets under the guard and, as a sub-test, under the guard as it was
// before regions and combinations (Engine.guardLegacy), which must let the attacker recover
// them: so each test can fail.

func orF(args ...*protocol.Filter) *protocol.Filter {
	return &protocol.Filter{Op: protocol.OpOr, Args: args}
}
func notF(f *protocol.Filter) *protocol.Filter {
	return &protocol.Filter{Op: protocol.OpNot, Args: []*protocol.Filter{f}}
}
func ageIs(a float64) *protocol.Filter { return rng("age", fp(a), fp(a)) }

func countOf(analyst string, f *protocol.Filter) protocol.Query {
	q := query(protocol.KindCount)
	q.Analyst, q.Cohort = analyst, f
	return q
}

func summaryOf(analyst string, f *protocol.Filter, vars ...string) protocol.Query {
	q := query(protocol.KindSummary)
	q.Analyst, q.Cohort, q.Variables = analyst, f, vars
	return q
}

func studyOf(t testing.TB, e *Engine) *loadedStudy {
	t.Helper()
	ls, err := e.study(context.Background(), "lung")
	if err != nil {
		t.Fatal(err)
	}
	return ls
}

// uniqueAge returns the rows of set whose age no other row of set has.
func uniqueAge(ls *loadedStudy, set bitset) []int {
	age := ls.vars["age"].Numeric
	seen := map[float64]int{}
	set.forEach(func(i int) { seen[age[i]]++ })
	var out []int
	set.forEach(func(i int) {
		if seen[age[i]] == 1 {
			out = append(out, i)
		}
	})
	return out
}

func modes(t *testing.T, f func(t *testing.T, legacy bool)) {
	t.Run("guard", func(t *testing.T) { f(t, false) })
	t.Run("old guard", func(t *testing.T) { f(t, true) })
}

// Attack (review class 2, refusals as an oracle): after cohort A is released (the women of a
// site when there are min_cohort of them, else all its patients), the attacker asks
// A and (age ≠ a or ecog = h) for each ECOG grade h, a being the target's age, unique in A.
// For the target's true grade the set is A itself; for every other grade it is A minus the
// target. The old guard refused the latter (one patient off) and answered the former
// (identical): the one answered variant was the target's grade. Now an identical set reached
// through a new definition is refused like a near duplicate, with the same code and message:
// every variant is refused. Old guard: 95 of 95 targets at 9 sites recovered in 179 queries;
// now 0 of 95 (285 queries, every one refused with one message).
func TestAttackGuardRefusalOracle(t *testing.T) {
	modes(t, func(t *testing.T, legacy bool) {
		ctx := context.Background()
		pol := DefaultPolicy()
		targets, recovered, queries, sites := 0, 0, 0, 0
		messages := map[string]bool{}
		for _, e := range lungSites(t, pol) {
			e.guardLegacy = legacy
			ls := studyOf(t, e)
			a := eq("sex", "female")
			if ls.evalFilter(a).count() < pol.MinCohort {
				a = nil // everyone at the site
			}
			rows := ls.evalFilter(a)
			if rows.count() < pol.MinCohort {
				continue
			}
			sites++
			mustOK(t, e.Handle(ctx, countOf("eve", a)))
			ecog := ls.vars["ecog"]
			for _, x := range uniqueAge(ls, rows) {
				if ecog.Codes[x] < 0 {
					continue
				}
				targets++
				var answered []string
				for _, h := range ecog.Categories {
					variant := andFilter(a, orF(notF(ageIs(ls.vars["age"].Numeric[x])), eq("ecog", h)))
					r := e.Handle(ctx, countOf("eve", variant))
					queries++
					if r.Error == nil {
						answered = append(answered, h)
						break
					}
					messages[r.Error.Code+": "+r.Error.Message] = true
				}
				if len(answered) == 1 && answered[0] == ecog.Categories[ecog.Codes[x]] {
					recovered++
				}
			}
		}
		t.Logf("%d of %d targets' ECOG grade recovered at %d sites in %d queries", recovered, targets, sites, queries)
		if targets < 10 {
			t.Fatalf("only %d targets", targets)
		}
		if legacy {
			if recovered != targets {
				t.Errorf("old guard: %d of %d recovered; the attack did not reproduce", recovered, targets)
			}
			return
		}
		if recovered != 0 {
			t.Errorf("%d of %d targets recovered", recovered, targets)
		}
		if len(messages) != 1 {
			t.Errorf("refusals differ (they must say nothing beyond the rule): %v", messages)
		}
	})
}

// Attack (review class 3, three-set differencing): at every site with enough patients, for
// each target x with a unique age, C = the youngest min_cohort or more of the other patients,
// D = the oldest min_cohort or more: summaries of Karnofsky score over S1 = C ∪ D ∪ {x}, C
// and D, in three orders; then a second recipe, R1 = C ∪ D, R2 = D and S = C ∪ {x} (x's
// score is S − (R1 − R2); R1 \ R2 is never released, and S is neither a subset nor a superset
// of anything). Each pair of sets is min_cell or more apart, so the pairwise guard answered
// all of them: the old guard gave every target's score away (24 targets at 2 sites, inst1
// and inst12, 4 recipes each: 96 of 96); now 0 of 96: the last
// query of each recipe is refused (the remainder rule for S1 − C − D, the combination rule
// for S − R1 + R2). A fresh analyst per target and recipe, so no refusal comes from an earlier
// target.
func TestAttackGuardThreeSets(t *testing.T) {
	modes(t, func(t *testing.T, legacy bool) {
		ctx := context.Background()
		pol := DefaultPolicy()
		tries, recovered, targets := 0, 0, 0
		for _, e := range lungSites(t, pol) {
			e.guardLegacy = legacy
			ls := studyOf(t, e)
			age, karno := ls.vars["age"].Numeric, ls.vars["karno"].Numeric
			for _, x := range uniqueAge(ls, ls.evalFilter(nil)) {
				if math.IsNaN(karno[x]) {
					continue
				}
				// C and D: the youngest and the oldest min_cohort (or more, with ties) of the
				// other patients; x is the only patient of its age.
				xf := ageIs(age[x])
				var ages []float64
				for i := range ls.data.Len() {
					if i != x {
						ages = append(ages, age[i])
					}
				}
				slices.Sort(ages)
				if len(ages) < 2*pol.MinCohort {
					break
				}
				lo, hi := ages[pol.MinCohort-1], ages[len(ages)-pol.MinCohort]
				if lo >= hi {
					continue
				}
				c, d := and(rng("age", nil, fp(lo)), notF(xf)), and(rng("age", fp(hi), nil), notF(xf))
				targets++
				recipes := map[string][]*protocol.Filter{
					"S1,C,D":  {orF(c, d, xf), c, d},
					"C,D,S1":  {c, d, orF(c, d, xf)},
					"C,S1,D":  {c, orF(c, d, xf), d},
					"R1,R2,S": {orF(c, d), d, orF(c, xf)},
				}
				for name, qs := range recipes {
					tries++
					analyst := fmt.Sprintf("eve-%s-%d-%s", e.Site(), x, name)
					var sums []float64
					for _, f := range qs {
						r := e.Handle(ctx, summaryOf(analyst, f, "karno"))
						if r.Error != nil {
							break
						}
						sums = append(sums, r.Summary.Groups[0].Variables[0].Sum)
					}
					if len(sums) < 3 {
						continue
					}
					var got float64
					switch name {
					case "S1,C,D":
						got = sums[0] - sums[1] - sums[2]
					case "C,D,S1":
						got = sums[2] - sums[0] - sums[1]
					case "C,S1,D":
						got = sums[1] - sums[0] - sums[2]
					case "R1,R2,S":
						got = sums[2] - (sums[0] - sums[1])
					}
					if math.Abs(got-karno[x]) < 1e-9 {
						recovered++
					}
				}
			}
		}
		t.Logf("%d of %d recipes (%d targets) recovered the target's Karnofsky score", recovered, tries, targets)
		if targets < 10 {
			t.Fatalf("only %d targets", targets)
		}
		if legacy {
			if recovered != tries {
				t.Errorf("old guard: %d of %d recovered; the attack did not reproduce", recovered, tries)
			}
			return
		}
		if recovered != 0 {
			t.Errorf("%d of %d recipes recovered a score", recovered, tries)
		}
	})
}
