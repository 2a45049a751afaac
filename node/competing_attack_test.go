package node

import (
	"context"
	"fmt"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/oncofed/oncofed/protocol"
)

// Attacks on competing causes and delayed entry (issue 17): what an analyst learns about one
// patient by combining the cause split and the entry blocks with the other answers a node
// gives (counts, Kaplan–Meier, feasibility, refusals, other identities).

// attackStudy imports 80 patients: exits 10..800 days, causes alternating, distinct ages, and
// delayed entries as lateEntry says (patient i's entry, 0 for none). Patient 0 is the target.
func attackStudy(t *testing.T, lateEntry func(i int) float64, targetCause int) *Engine {
	t.Helper()
	var b strings.Builder
	b.WriteString("pid,t,st,ent,age,sex\n")
	for i := range 80 {
		st := 1 + i%2
		if i%5 == 4 {
			st = 0
		}
		if i == 0 {
			st = targetCause
		}
		sex := []string{"F", "M"}[i%2]
		fmt.Fprintf(&b, "p%d,%d,%d,%v,%d,%s\n", i, 10*(i+1), st, lateEntry(i), 30+i, sex)
	}
	dir := t.TempDir()
	spec := ImportSpec{Study: "cr", IDColumn: "pid", DataCut: "2026-01-01",
		Endpoints:  []EndpointSpec{{Name: "E", TimeColumn: "t", EventColumn: "st"}},
		Causes:     map[string][]string{"E": {"relapse", "death"}},
		Entry:      map[string]string{"E": "ent"},
		Dictionary: Dictionary{Version: "1", Entries: []DictionaryEntry{{Name: "sex", Categories: []string{"F", "M"}}, {Name: "age", Type: protocol.Numeric, Min: fp(18), Max: fp(120)}}}}
	store := openStore(t, filepath.Join(dir, "cr.db"))
	if _, err := ImportCSV(context.Background(), store, spec, strings.NewReader(b.String())); err != nil {
		t.Fatal(err)
	}
	pol := DefaultPolicy()
	pol.BinDays = 0 // exact times: the strongest position for the attacker
	e, err := NewEngine(context.Background(), store, Config{InsecureOpen: true, Policy: &pol})
	if err != nil {
		t.Fatal(err)
	}
	return e
}

func crQuery(kind protocol.Kind, analyst string, cohort *protocol.Filter, groupBy string) protocol.Query {
	q := protocol.Query{Version: protocol.Version, Kind: kind, ID: "q-" + analyst, Analyst: analyst, Study: "cr", Cohort: cohort, GroupBy: groupBy}
	if kind == protocol.KindSurvival {
		q.Endpoint = "E"
	}
	return q
}

// Differencing the cause split: the cohort, then the cohort without the target (the one
// patient aged 30), by any route — survival, then survival or a count or a grouped count of the
// near-identical cohort — is refused by the overlap guard, in either order; the target's cause
// is what the difference would tell.
func TestAttackCauseSplitDifference(t *testing.T) {
	ctx := context.Background()
	withoutTarget := &protocol.Filter{Op: protocol.OpRange, Var: "age", Min: fp(30), MinOpen: true}
	for _, order := range []string{"cohort first", "difference first"} {
		for _, second := range []protocol.Kind{protocol.KindSurvival, protocol.KindCount} {
			e := attackStudy(t, func(int) float64 { return 0 }, 1)
			a := crQuery(protocol.KindSurvival, "mallory", nil, "")
			b := crQuery(second, "mallory", withoutTarget, "")
			if order == "difference first" {
				a, b = crQuery(second, "mallory", withoutTarget, ""), crQuery(protocol.KindSurvival, "mallory", nil, "")
			}
			mustOK(t, e.Handle(ctx, a))
			r := e.Handle(ctx, b)
			if r.Error == nil || r.Error.Reason != protocol.ReasonOverlapGuard {
				t.Errorf("%s, %s: the cohort and the cohort without the target are both answered (%+v)", order, second, r.Error)
			}
		}
	}
}

// Learns nothing: whatever the target's cause, every answer the attacker can get after the
// cohort's split — the split itself, Kaplan–Meier of the cohort (any cause), a count, a
// feasibility count, and the refusal of the difference — is the same except the target's own
// row of the split, which holds min_cell patients; the refusals are word for word the same.
func TestAttackCauseSplitLearnsNothingBeyondTheRow(t *testing.T) {
	ctx := context.Background()
	withoutTarget := &protocol.Filter{Op: protocol.OpRange, Var: "age", Min: fp(30), MinOpen: true}
	var replies [2][]protocol.Reply
	for c, cause := range []int{1, 2} {
		e := attackStudy(t, func(int) float64 { return 0 }, cause)
		feas := crQuery(protocol.KindCount, "mallory", withoutTarget, "")
		feas.Feasibility = true
		for _, q := range []protocol.Query{crQuery(protocol.KindSurvival, "mallory", nil, ""), crQuery(protocol.KindCount, "mallory", nil, "sex"),
			feas, crQuery(protocol.KindSurvival, "mallory", withoutTarget, "")} {
			r := e.Handle(ctx, q)
			r.QueryID = ""
			replies[c] = append(replies[c], r)
		}
	}
	split := [2]*protocol.SurvivalReply{replies[0][0].Survival, replies[1][0].Survival}
	g0, g1 := split[0].Groups[0], split[1].Groups[0]
	if !reflect.DeepEqual(g0.Time, g1.Time) || !reflect.DeepEqual(g0.Events, g1.Events) || !reflect.DeepEqual(g0.Censor, g1.Censor) {
		t.Error("the all-cause table depends on the target's cause")
	}
	differ := 0
	for k := range g0.Time {
		if g0.Causes[0][k] != g1.Causes[0][k] {
			differ++
			if n := g0.Events[k] + g0.Censor[k]; n < DefaultPolicy().MinCell {
				t.Errorf("the target's row holds %d patients", n)
			}
		}
	}
	if differ != 1 {
		t.Errorf("%d rows of the split differ, want the target's only", differ)
	}
	for i := 1; i < len(replies[0]); i++ {
		if !reflect.DeepEqual(replies[0][i], replies[1][i]) {
			t.Errorf("answer %d depends on the target's cause:\n%+v\n%+v", i, replies[0][i], replies[1][i])
		}
	}
	if r := replies[0][3]; r.Error == nil || r.Error.Reason != protocol.ReasonOverlapGuard {
		t.Errorf("the difference is answered: %+v", r.Error)
	}
}

// Entry-time blocks: a lone late entrant, or fewer than min_cell of them, are not released at
// all (the reply reads as for none, note included), so whether and when the target entered
// late is not told; with min_cell late entrants, the block sits at the earliest entry and
// moving the target's entry within the block changes nothing. Grouping the cohort so that the
// target's group is small is refused before anything is released.
func TestAttackEntryBlocks(t *testing.T) {
	ctx := context.Background()
	reply := func(late func(int) float64, q protocol.Query) protocol.Reply {
		e := attackStudy(t, late, 1)
		r := e.Handle(ctx, q)
		r.QueryID = ""
		return r
	}
	km := crQuery(protocol.KindSurvival, "mallory", nil, "")
	none := reply(func(int) float64 { return 0 }, km)
	for _, late := range []int{1, 4} {
		got := reply(func(i int) float64 {
			if i < late {
				return 5 // the first patients (exits at 10, 20, …) entered on day 5
			}
			return 0
		}, km)
		if !reflect.DeepEqual(got, none) {
			t.Errorf("%d late entrant(s) tell apart from none:\n%+v\n%+v", late, got.Survival.Groups, none.Survival.Groups)
		}
	}
	// Five late entrants at days 5..9 (patients 1–5) and the target entering at day 7 or 8: one
	// block of six at day 5, whatever the target's day.
	block := func(target float64) protocol.Reply {
		return reply(func(i int) float64 {
			switch {
			case i == 0:
				return target
			case i <= 5:
				return float64(4 + i)
			}
			return 0
		}, km)
	}
	a, b := block(7), block(8)
	if !reflect.DeepEqual(a, b) {
		t.Error("moving the target's entry within its block changes the reply")
	}
	if g := a.Survival.Groups[0]; len(g.Entries) != 1 || g.Entries[0] != 6 || g.EntryTime[0] != 5 {
		t.Errorf("entry blocks %v at %v, want 6 at day 5", g.Entries, g.EntryTime)
	}
	small := crQuery(protocol.KindSurvival, "mallory", nil, "")
	small.Cohort = &protocol.Filter{Op: protocol.OpRange, Var: "age", Max: fp(33)}
	if r := reply(func(int) float64 { return 5 }, small); r.Error == nil || r.Error.Reason != protocol.ReasonSmallCohort {
		t.Errorf("a cohort of the target and three others is answered: %+v", r.Error)
	}
}

// A dp analyst asking for a delayed-entry endpoint is refused before anything is charged, from
// the declaration alone (the same refusal whatever the rows), and gets no cause split.
func TestDPRefusesDelayedEntry(t *testing.T) {
	pol := DefaultPolicy()
	d, _ := competingGolden(t, "lung_entry")
	for i := range d.Group {
		d.Group[i] = map[string]string{"female": "F", "male": "M"}[d.Group[i]]
	}
	store := importCompeting(t, d, false, true)
	e, dora := doraEngine(t, store, pol)
	q := protocol.Query{Version: protocol.Version, Kind: protocol.KindSurvival, ID: "q", Study: "cr", Endpoint: "E"}
	r := handleJSON(t, e, sign(t, dora, q))
	if r.Error == nil || r.Error.Code != protocol.CodeRefusedByPolicy || !strings.Contains(r.Error.Message, "delayed entry") {
		t.Fatalf("dp survival of a delayed-entry endpoint: %+v", r.Error)
	}
	cq := protocol.Query{Version: protocol.Version, Kind: protocol.KindCount, ID: "c", Study: "cr"}
	c := mustOK(t, handleJSON(t, e, sign(t, dora, cq)))
	if left := c.Policy.DP.LeftToday; left != pol.DPRhoDaily-pol.DPRhoCount {
		t.Errorf("after the refusal and a count, %v of the day's ρ is left, want %v: the refusal was charged", left, pol.DPRhoDaily-pol.DPRhoCount)
	}
}
