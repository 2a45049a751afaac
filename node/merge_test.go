package node

import (
	"context"
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/oncofed/oncofed/protocol"
)

// mergeSite is a site of 100 patients: stage I 40, II 40, III 17 and IV 3 (too few for a
// group of its own under min_cohort 10). The last IV patient's time is t4.
func mergeSite(t *testing.T, policy protocol.Policy, t4 int) *Engine {
	t.Helper()
	ctx := context.Background()
	var b strings.Builder
	b.WriteString("id,time,event,stage\n")
	for i := 0; i < 100; i++ {
		stage := "I"
		switch {
		case i >= 97:
			stage = "IV"
		case i >= 80:
			stage = "III"
		case i >= 40:
			stage = "II"
		}
		time := 30 + 11*i
		if i == 99 {
			time = t4
		}
		fmt.Fprintf(&b, "p%d,%d,%d,%s\n", i, time, i%2, stage)
	}
	store := openStore(t, filepath.Join(t.TempDir(), "m.db"))
	spec := ImportSpec{Study: "s", IDColumn: "id", Endpoints: []EndpointSpec{{Name: "OS", TimeColumn: "time", EventColumn: "event"}},
		Dictionary: declare("stage=I,II,III,IV")}
	if _, err := ImportCSV(ctx, store, spec, strings.NewReader(b.String())); err != nil {
		t.Fatal(err)
	}
	e, err := NewEngine(ctx, store, Config{InsecureOpen: true, Policy: &policy})
	if err != nil {
		t.Fatal(err)
	}
	return e
}

var stagesMerged = []protocol.LevelGroup{{Name: "III–IV", Levels: []string{"III", "IV"}}}

// Merging rare levels into one group answers a grouping a small level made the site refuse:
// the merged group takes the place of its first level, with the patients of all its levels.
func TestMergeLevels(t *testing.T) {
	ctx := context.Background()
	e := mergeSite(t, DefaultPolicy(), 2000)
	q := protocol.Query{Version: protocol.Version, Kind: protocol.KindSurvival, ID: "q1", Analyst: "a", Study: "s", GroupBy: "stage", Endpoint: "OS"}
	if r := e.Handle(ctx, q); r.Error == nil || r.Error.Reason != protocol.ReasonSmallCohort {
		t.Fatalf("KM by stage with 3 patients in IV: %+v", r.Error)
	}
	q = protocol.Query{Version: protocol.Version, Kind: protocol.KindCount, ID: "q2", Analyst: "a", Study: "s", GroupBy: "stage", Merge: stagesMerged}
	c := mustOK(t, e.Handle(ctx, q)).Count
	if !slices.Equal(c.Order, []string{"I", "II", "III–IV"}) || c.Groups["III–IV"].N != 20 || c.Groups["I"].N != 40 {
		t.Errorf("merged count: order %v, groups %+v", c.Order, c.Groups)
	}
	q.ID, q.Kind, q.Endpoint = "q3", protocol.KindSurvival, "OS"
	var names []string
	for _, g := range mustOK(t, e.Handle(ctx, q)).Survival.Groups {
		names = append(names, g.Group)
	}
	if !slices.Equal(names, []string{"I", "II", "III–IV"}) {
		t.Errorf("merged survival groups %v", names)
	}
	// A cohort that rules out both merged levels knows the merged group empty; one that rules
	// out one of them does not.
	q.ID, q.Kind, q.Endpoint, q.Analyst = "q4", protocol.KindCount, "", "b" // a fresh guard for each

	q.Cohort = &protocol.Filter{Op: protocol.OpIn, Var: "stage", Values: []string{"I", "II"}}
	if c := mustOK(t, e.Handle(ctx, q)).Count; c.Groups["III–IV"].N != 0 || c.Groups["III–IV"].Suppressed {
		t.Errorf("stage in I, II: the merged III–IV group is known empty, got %+v", c.Groups["III–IV"])
	}
	q.ID, q.Analyst = "q5", "c"
	q.Cohort = &protocol.Filter{Op: protocol.OpIn, Var: "stage", Values: []string{"I", "II", "IV"}}
	if c := mustOK(t, e.Handle(ctx, q)).Count; !c.Groups["III–IV"].Suppressed {
		t.Errorf("stage in I, II, IV: the merged group holds IV's 3 patients, shown %+v (want suppressed)", c.Groups["III–IV"])
	}

	for name, c := range map[string]struct {
		merge []protocol.LevelGroup
		group string
		want  string
	}{
		"unknown level":         {[]protocol.LevelGroup{{Name: "x", Levels: []string{"III", "V"}}}, "stage", `"V" is not a level`},
		"named like a level":    {[]protocol.LevelGroup{{Name: "I", Levels: []string{"III", "IV"}}}, "stage", "named like another level"},
		"one level":             {[]protocol.LevelGroup{{Name: "x", Levels: []string{"IV"}}}, "stage", "2 to 256 levels"},
		"level in two groups":   {[]protocol.LevelGroup{{Name: "x", Levels: []string{"III", "IV"}}, {Name: "y", Levels: []string{"II", "IV"}}}, "stage", "merged twice"},
		"merge without a group": {stagesMerged, "", "only in a grouping"},
	} {
		q := protocol.Query{Version: protocol.Version, Kind: protocol.KindCount, ID: "bad " + name, Analyst: "a", Study: "s", GroupBy: c.group, Merge: c.merge}
		r := e.Handle(ctx, q)
		if r.Error == nil || r.Error.Code != protocol.CodeInvalid || !strings.Contains(r.Error.Message, c.want) {
			t.Errorf("%s: %+v, want invalid: %s", name, r.Error, c.want)
		}
	}
}

// Attack: merged groups as a differencing tool. The attacker releases KM by stage with III and
// IV merged (20 patients), then KM of stage III alone (17): the difference is stage IV's three
// patients' survival table, which no single query may release. With the overlap guard the
// second release is refused (in either order) and the two databases, differing only in one
// stage IV patient's time, give identical answers; with the guard off the attacker reads the
// patient's time off the difference.
func TestAttackMergedGroupDifference(t *testing.T) {
	ctx := context.Background()
	km := func(e *Engine, id string, merged bool) protocol.Reply {
		q := protocol.Query{Version: protocol.Version, Kind: protocol.KindSurvival, ID: id, Analyst: "mallory", Study: "s", Endpoint: "OS"}
		if merged {
			q.GroupBy, q.Merge = "stage", stagesMerged
		} else {
			q.Cohort = &protocol.Filter{Op: protocol.OpEq, Var: "stage", Value: "III"}
		}
		return e.Handle(ctx, q)
	}
	// recovered is the time of the stage IV patient the difference isolates (0: none).
	recovered := func(e *Engine, mergedFirst bool) float64 {
		a, b := km(e, "a", mergedFirst), km(e, "b", !mergedFirst)
		merged, alone := a, b
		if !mergedFirst {
			merged, alone = b, a
		}
		if merged.Error != nil || alone.Error != nil {
			return 0
		}
		times := map[float64]int{}
		for _, g := range merged.Survival.Groups {
			if g.Group == "III–IV" {
				for k, tm := range g.Time {
					times[tm] += g.Events[k] + g.Censor[k]
				}
			}
		}
		g := alone.Survival.Groups[0]
		for k, tm := range g.Time {
			times[tm] -= g.Events[k] + g.Censor[k]
		}
		latest := 0.0
		for tm, n := range times {
			if n > 0 && tm > latest {
				latest = tm
			}
		}
		return latest
	}
	exact := ExactPolicy()
	exact.MinCohort, exact.MinCell = 10, 5
	guarded := exact
	guarded.OverlapGuard = true
	for _, mergedFirst := range []bool{true, false} {
		for _, t4 := range []int{1500, 1700} {
			if got := recovered(mergeSite(t, exact, t4), mergedFirst); got != float64(t4) {
				t.Errorf("without the guard (merged first %v): recovered %v, want %d: the attack does not reproduce", mergedFirst, got, t4)
			}
			if got := recovered(mergeSite(t, guarded, t4), mergedFirst); got != 0 {
				t.Errorf("with the guard (merged first %v): recovered the stage IV patient's time %v", mergedFirst, got)
			}
		}
		// Identical answers whatever the target's time: refusals included.
		a, b := mergeSite(t, guarded, 1500), mergeSite(t, guarded, 1700)
		ra, rb := km(a, "x", mergedFirst), km(b, "x", mergedFirst)
		sa, sb := km(a, "y", !mergedFirst), km(b, "y", !mergedFirst)
		if (sa.Error == nil) != (sb.Error == nil) || (ra.Error == nil) != (rb.Error == nil) || sa.Error == nil {
			t.Errorf("merged first %v: second query answered or refused differently: %v / %v", mergedFirst, sa.Error, sb.Error)
		}
	}
}
