package node

import (
	"context"
	"fmt"
	"math"
	"testing"

	"github.com/oncofed/oncofed/protocol"
)

// Attack (known padding, issue 13 follow-up): the attacker knows min_cell − 1 patients of a
// site exactly — their own patients, or a published case series — and pads the difference
// with them. A = the site's patients with a known Karnofsky score, B = A without the target x
// and without the padding P (each picked out by a unique age): |A Δ B| = min_cell, so no rule
// of the guard applies, and Σ_A − Σ_B − Σ_P = x's score. Without the padding (A and A minus x)
// the guard refuses B. This is the limit of every rule that decides on set sizes from public
// information: whether P's patients are known to the analyst is not public, and a padded
// difference of min_cell is indistinguishable from an honest one. Raising min_cell only
// raises the padding needed. The rules mode leaves it to the data-use agreement of the
// trusted role and to the audit log (B's definition names min_cell patients one by one);
// differentially private releases bound it (docs/privacy.md). This test records the limit:
// should the padded recipe stop working, update docs/privacy.md and the README.
func TestAttackGuardKnownPadding(t *testing.T) {
	modes(t, func(t *testing.T, legacy bool) {
		ctx := context.Background()
		pol := DefaultPolicy()
		targets, padded, unpadded := 0, 0, 0
		whole, _ := lungEngine(t, pol, nil)
		for _, e := range append(lungSites(t, pol), whole) {
			e.guardLegacy = legacy
			ls := studyOf(t, e)
			age, karno := ls.vars["age"].Numeric, ls.vars["karno"].Numeric
			known := rng("karno", fp(0), nil)
			rows := ls.evalFilter(known)
			if rows.count() < pol.MinCohort+pol.MinCell {
				continue
			}
			unique := uniqueAge(ls, rows)
			if len(unique) < pol.MinCell+1 {
				continue
			}
			for k, x := range unique {
				if k == 3 {
					break // three targets per site
				}
				// The padding: the next min_cell − 1 patients of unique age after x.
				var pad []int
				for j := 1; len(pad) < pol.MinCell-1; j++ {
					pad = append(pad, unique[(k+j)%len(unique)])
				}
				targets++
				for _, withPad := range []bool{false, true} {
					out := []*protocol.Filter{notF(ageIs(age[x]))}
					padSum := 0.0
					if withPad {
						for _, p := range pad {
							out = append(out, notF(ageIs(age[p])))
							padSum += karno[p]
						}
					}
					b := and(append([]*protocol.Filter{known}, out...)...)
					analyst := fmt.Sprintf("eve-%s-%d-%v", e.Site(), x, withPad)
					ra := e.Handle(ctx, summaryOf(analyst, known, "karno"))
					rb := e.Handle(ctx, summaryOf(analyst, b, "karno"))
					if ra.Error != nil || rb.Error != nil {
						continue
					}
					got := ra.Summary.Groups[0].Variables[0].Sum - rb.Summary.Groups[0].Variables[0].Sum - padSum
					if math.Abs(got-karno[x]) < 1e-9 {
						if withPad {
							padded++
						} else {
							unpadded++
						}
					}
				}
			}
		}
		t.Logf("legacy %v: %d targets; A vs A − x recovered %d, padded with min_cell − 1 known patients recovered %d", legacy, targets, unpadded, padded)
		if targets < 10 {
			t.Fatalf("only %d targets", targets)
		}
		if unpadded != 0 {
			t.Errorf("A vs A − x: %d recovered; the guard's pairwise rule must refuse it", unpadded)
		}
		if padded == 0 {
			t.Errorf("the padded recipe recovered nothing: the documented limit no longer holds — update docs/privacy.md and the README")
		}
	})
}
