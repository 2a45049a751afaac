package node

import (
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/oncofed/oncofed/protocol"
)

// withoutPatient writes lung.csv without the patient whose id is id and returns the path.
func withoutPatient(t *testing.T, id string) string {
	t.Helper()
	data, err := os.ReadFile(lungCSV)
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.SplitAfter(string(data), "\n")
	kept := lines[:1]
	for _, l := range lines[1:] {
		if !strings.HasPrefix(l, id+",") {
			kept = append(kept, l)
		}
	}
	if len(kept) != len(lines)-1 {
		t.Fatalf("patient %s: %d lines dropped", id, len(lines)-len(kept))
	}
	path := filepath.Join(t.TempDir(), "lung-minus-"+id+".csv")
	if err := os.WriteFile(path, []byte(strings.Join(kept, "")), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// Attack (merged groupings, dp role; TestAttackMergedGroupDifference plays the trusted role):
// lung's only ECOG 3 patient (id 28) is the target. The attacker merges the rare level into
// ECOG 2 (protocol.Query.Merge: "ecog2–3"), asks the merged grouping, then the cohort ECOG 2
// alone, and takes the difference of the two group sizes — the target's count — for a count,
// a Kaplan–Meier table (Σ events + censored of the group's noisy bins) and Table 1 (the
// group's noisy n), guessing "in" when it exceeds one half. The two worlds are lung.csv with
// and without the target; 200 pairs of releases per world and kind. The empirical advantage
// stays within the bound the ρ of the pair implies (plus 3 standard errors), as in
// TestDPMembershipInference; the exact count of the merged group's patients, which the
// trusted role gets, tells the worlds apart (the control: the experiment can see a leak).
func TestDPAttackMergedGroupDifference(t *testing.T) {
	pol := DefaultPolicy()
	pol.DPRhoCount, pol.DPRhoSurvival, pol.DPRhoSummary = 0.1, 0.1, 0.1 // bounds that inform
	pol.DPRhoDaily, pol.DPRhoTotal = 1e6, 1e6
	pol.DailyQueryBudget = 0 // 2,400 queries: the ρ budget is what the experiment measures
	in := newDPLung(t, pol, lungCSV)
	out := newDPLung(t, pol, withoutPatient(t, "28"))
	const trials = 200
	const group = "ecog2–3"
	merge := []protocol.LevelGroup{{Name: group, Levels: []string{"ecog2", "ecog3"}}}
	// size is the released size of the group named name (ungrouped: "").
	size := func(r protocol.Reply, name string) int {
		switch {
		case r.Count != nil && name == "":
			return r.Count.Total.N
		case r.Count != nil:
			return r.Count.Groups[name].N
		case r.Summary != nil:
			for _, g := range r.Summary.Groups {
				if g.Group == name || name == "" {
					return g.N.N
				}
			}
		case r.Survival != nil:
			for _, g := range r.Survival.Groups {
				if g.Group == name || name == "" {
					n := 0
					for i := range g.Time {
						n += g.Events[i] + g.Censor[i]
					}
					return n
				}
			}
		}
		t.Fatalf("no group %q in %+v", name, r)
		return 0
	}
	kinds := map[string]func() protocol.Query{
		"count": func() protocol.Query { return query(protocol.KindCount) },
		"survival": func() protocol.Query {
			q := query(protocol.KindSurvival)
			q.Endpoint = "OS"
			return q
		},
		"summary": func() protocol.Query {
			q := query(protocol.KindSummary)
			q.Variables = []string{"age"}
			return q
		},
	}
	for kind, base := range kinds {
		merged, alone := base(), base()
		merged.GroupBy, merged.Merge = "ecog", merge
		alone.Cohort = eq("ecog", "ecog2")
		guessedIn := map[*dpLung]int{}
		var rho, rhoMerged float64
		for _, world := range []*dpLung{in, out} {
			for range trials {
				m := mustOK(t, handleJSON(t, world.e, sign(t, world.dora, merged)))
				a := mustOK(t, handleJSON(t, world.e, sign(t, world.dora, alone)))
				if m.Policy.DP == nil || a.Policy.DP == nil {
					t.Fatalf("%s: a dp analyst's release without its DP label", kind)
				}
				rho, rhoMerged = m.Policy.DP.Rho+a.Policy.DP.Rho, m.Policy.DP.Rho
				if size(m, group)-size(a, "") > 0 {
					guessedIn[world]++
				}
			}
		}
		adv := float64(guessedIn[in]-guessedIn[out]) / trials
		bound := advantageBound(rho)
		se := math.Sqrt(0.5 / trials)
		t.Logf("%s: advantage %.3f over %d pairs per world, bound %.3f at the pair's ρ=%g (%.3f at the merged release's ρ=%g alone, the only one the target is in)",
			kind, adv, trials, bound, rho, advantageBound(rhoMerged), rhoMerged)
		if adv > bound+3*se {
			t.Errorf("%s: membership advantage %.3f exceeds the ρ=%g bound %.3f + 3 se", kind, adv, rho, bound)
		}
	}
	// The control: the merged group's patients counted exactly (the trusted role, as a
	// cohort: the grouped count suppresses the group, its complement being the one patient
	// missing ECOG) tell the worlds apart.
	c := query(protocol.KindCount)
	c.Cohort = &protocol.Filter{Op: protocol.OpIn, Var: "ecog", Values: []string{"ecog2", "ecog3"}}
	ein := mustOK(t, handleJSON(t, in.e, sign(t, in.tom, c)))
	eout := mustOK(t, handleJSON(t, out.e, sign(t, out.tom, c)))
	if d := size(ein, "") - size(eout, ""); d != 1 {
		t.Errorf("the trusted count of ECOG 2 or 3 differs by %d between the worlds, want 1", d)
	}
}
