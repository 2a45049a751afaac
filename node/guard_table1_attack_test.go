package node

import (
	"context"
	"fmt"
	"math"
	"testing"

	"github.com/oncofed/oncofed/protocol"
)

// t1Cells returns, per variable of a Table 1 reply of cohort rows grouped by group ("" none),
// the union of the released non-empty cells of the variable's partitions (the patients of the
// group whose cell the reply tells exactly), read off the reply and the data as the attacker,
// who knows the definitions, would: categories and missing of a categorical variable, the
// histogram cells and missing of a numeric one (its present count too when no bins were
// asked).
func t1Cells(ls *loadedStudy, rows bitset, group string, edges map[string][]float64, r *protocol.SummaryReply) map[string]bitset {
	out := map[string]bitset{}
	for _, g := range r.Groups {
		in := append(bitset(nil), rows...)
		if group != "" {
			gv := ls.vars[group]
			in.forEach(func(i int) {
				if gv.Missing(i) || gv.Categories[gv.Codes[i]] != g.Group {
					in[i>>6] &^= 1 << (uint(i) & 63)
				}
			})
		}
		for _, vs := range g.Variables {
			v := ls.vars[vs.Variable]
			u := out[vs.Variable]
			if u == nil {
				u = newBitset(ls.data.Len())
				out[vs.Variable] = u
			}
			released := func(c protocol.Count) bool { return !c.Suppressed && c.N > 0 }
			in.forEach(func(i int) {
				switch {
				case v.Missing(i):
					if released(vs.Missing) {
						u.set(i)
					}
				case v.Type == protocol.Numeric:
					e := edges[vs.Variable]
					k := 0
					for k < len(e) && v.Numeric[i] >= e[k] {
						k++
					}
					if k < len(vs.Histogram) && released(vs.Histogram[k]) {
						u.set(i)
					}
				default:
					if released(vs.Categories[v.Categories[v.Codes[i]]]) {
						u.set(i)
					}
				}
			})
		}
	}
	return out
}

// Attack (the union of a partition's suppressed Table 1 cells, issue 13 follow-up): a Table
// 1's suppressed cells of a variable hide their union (the group minus the released cells),
// at least min_cell patients by secondary suppression. Two Table 1s of one cohort by two
// groupings (none, sex, ECOG) hide two unions; when those differ by 1..min_cell−1 patients,
// the released cells' counts (and a numeric variable's sums with them) differ by exactly
// those patients': Σ cells of the second − Σ cells of the first. The attacker asks every
// pair of groupings of eleven cohorts (everyone, each sex, either side of four ages) at every lung
// site and on the whole data, and counts the pairs whose released cells of a variable differ
// by 1..min_cell−1 patients. Rule 3 holds the pieces of one partition within a larger set
// only; the released cells of the second Table 1 lie across the first one's groups.
func TestAttackGuardTable1Unions(t *testing.T) {
	modes(t, func(t *testing.T, legacy bool) {
		ctx := context.Background()
		pol := DefaultPolicy()
		pol.OverlapGuard = !legacy // the control: no guard at all (the small-cell rules only)
		edges := map[string][]float64{"age": {50, 60, 70}, "karno": {60, 70, 80, 90}, "wt.loss": {0, 10, 20}}
		var bins []protocol.HistogramSpec
		for _, v := range []string{"age", "karno", "wt.loss"} {
			bins = append(bins, protocol.HistogramSpec{Variable: v, Edges: edges[v]})
		}
		cohorts := map[string]*protocol.Filter{"all": nil, "women": eq("sex", "female"), "men": eq("sex", "male")}
		var names []string
		for _, cut := range []float64{55, 60, 65, 70} {
			lo, hi := fmt.Sprintf("≤%g", cut), fmt.Sprintf(">%g", cut)
			cohorts[lo], cohorts[hi] = rng("age", nil, fp(cut)), rng("age", fp(cut+0.5), nil)
			names = append(names, lo, hi)
		}
		names = append(names, "all", "women", "men")
		groupings := []string{"", "sex", "ecog"}
		pairs, leaks, answered := 0, 0, 0
		whole, _ := lungEngine(t, pol, nil)
		for _, e := range append(lungSites(t, pol), whole) {
			ls := studyOf(t, e)
			for _, cname := range names {
				a := cohorts[cname]
				rows := ls.evalFilter(a)
				if rows.count() < pol.MinCohort {
					continue
				}
				for i, g1 := range groupings {
					for _, g2 := range groupings[i+1:] {
						for _, order := range [][2]string{{g1, g2}, {g2, g1}} {
							analyst := fmt.Sprintf("eve-%s-%s-%s-%s", e.Site(), cname, order[0], order[1])
							var cells []map[string]bitset
							for _, g := range order {
								var vars []string
								for _, v := range []string{"sex", "ecog", "age", "karno", "wt.loss"} {
									if v != g {
										vars = append(vars, v)
									}
								}
								q := summaryOf(analyst, a, vars...)
								q.GroupBy, q.Bins = g, bins
								r := e.Handle(ctx, q)
								if r.Error != nil {
									if r.Error.Reason != protocol.ReasonOverlapGuard && r.Error.Reason != protocol.ReasonSmallCohort {
										t.Fatalf("%s: %v", analyst, r.Error)
									}
									break
								}
								answered++
								cells = append(cells, t1Cells(ls, rows, g, edges, r.Summary))
							}
							if len(cells) < 2 {
								continue
							}
							pairs++
							for v, u1 := range cells[0] {
								u2, ok := cells[1][v]
								if !ok {
									continue
								}
								if d := xorCount(u1, u2, math.MaxInt); d > 0 && d < pol.MinCell {
									leaks++
									t.Logf("%s: %s: the released cells differ by %d patients", analyst, v, d)
								}
							}
						}
					}
				}
			}
		}
		t.Logf("legacy %v: %d of %d pairs of Table 1s leak a union of suppressed cells differing by 1..min_cell−1 patients (%d Table 1s answered)", legacy, leaks, pairs, answered)
		if pairs < 30 {
			t.Fatalf("only %d pairs answered", pairs)
		}
		switch {
		case legacy && leaks == 0:
			t.Errorf("no guard: no leak; the attack did not reproduce")
		case !legacy && leaks != 0:
			t.Errorf("%d pairs leak", leaks)
		}
	})
}
