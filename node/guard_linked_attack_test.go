package node

import (
	"context"
	"encoding/json"
	"fmt"
	"testing"

	"github.com/oncofed/oncofed/protocol"
)

// Attack (review class 2 through Table 1's suppression pattern): linked cells are suppressed
// rather than the table refused (table1.go), so which cells a Table 1 suppresses is decided by
// the guard, cell by cell, on private data. The attacker releases A (the women of a site, else
// all its patients) as a Table 1, then, for a target x of unique age a in A and every
// ECOG grade h, asks the Table 1s of A_h = A ∧ (age ≠ a ∨ ecog = h) — A itself for x's grade, A
// minus x for the others — ungrouped and by sex, with age on 10-year bins, ecog and karno, and
// reads each reply whole: refused or not, which cells are suppressed or linked, and every
// released number. The grade whose replies differ from all the others' is the guess. A fresh
// analyst per target. Guard on: every A_h is refused (its own set is A or A minus x, through a
// new definition: fixed sets refuse, they are never suppressed), so 0 targets are recovered.
// Control, guard off: every target's grade is recovered (the replies of its grade count one
// patient more).
func TestAttackGuardLinkedSuppressionOracle(t *testing.T) {
	for _, guard := range []bool{true, false} {
		t.Run(fmt.Sprintf("guard=%v", guard), func(t *testing.T) {
			ctx := context.Background()
			pol := DefaultPolicy()
			pol.OverlapGuard = guard
			targets, recovered, queries, answered := 0, 0, 0, 0
			for _, e := range lungSites(t, pol) {
				ls := studyOf(t, e)
				a := eq("sex", "female")
				if ls.evalFilter(a).count() < pol.MinCohort {
					a = nil
				}
				rows := ls.evalFilter(a)
				if rows.count() < 2*pol.MinCohort {
					continue
				}
				ecog := ls.vars["ecog"]
				for _, x := range uniqueAge(ls, rows) {
					if ecog.Codes[x] < 0 {
						continue
					}
					targets++
					analyst := fmt.Sprintf("eve-%s-%d", e.Site(), x)
					table1 := func(cohort *protocol.Filter, group string) protocol.Query {
						q := summaryOf(analyst, cohort, "age", "ecog", "karno")
						q.GroupBy = group
						q.Bins = []protocol.HistogramSpec{{Variable: "age", Edges: []float64{40, 50, 60, 70, 80}}}
						return q
					}
					e.Handle(ctx, table1(a, ""))
					signatures := map[string]string{}
					for _, h := range ecog.Categories {
						variant := andFilter(a, orF(notF(ageIs(ls.vars["age"].Numeric[x])), eq("ecog", h)))
						var sig []byte
						for _, group := range []string{"", "sex"} {
							r := e.Handle(ctx, table1(variant, group))
							queries++
							if r.Error == nil {
								answered++
								b, _ := json.Marshal(r.Summary)
								sig = append(sig, b...)
								sig = fmt.Appendf(sig, "%d/%d;", r.Policy.SuppressedCells, r.Policy.LinkedCells)
							} else {
								sig = append(sig, r.Error.Code+": "+r.Error.Message+";"...)
							}
						}
						signatures[h] = string(sig)
					}
					if guess, ok := oddOneOut(signatures); ok && guess == ecog.Categories[ecog.Codes[x]] {
						recovered++
					}
				}
			}
			t.Logf("%d of %d targets' ECOG grade recovered in %d Table 1s (%d answered)", recovered, targets, queries, answered)
			if targets < 10 {
				t.Fatalf("only %d targets", targets)
			}
			if guard && recovered != 0 {
				t.Errorf("%d of %d targets recovered", recovered, targets)
			}
			if !guard && recovered != targets {
				t.Errorf("guard off: %d of %d recovered; the attack did not reproduce", recovered, targets)
			}
		})
	}
}

// oddOneOut returns the key whose value differs from all the others', the others being equal.
func oddOneOut(m map[string]string) (string, bool) {
	count := map[string]int{}
	for _, v := range m {
		count[v]++
	}
	if len(count) != 2 {
		return "", false
	}
	for k, v := range m {
		if count[v] == 1 && len(m) > 2 {
			return k, true
		}
	}
	return "", false
}
