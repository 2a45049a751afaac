package node

import (
	"bytes"
	"context"
	"fmt"
	"math"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/oncofed/oncofed/protocol"
)

// ipwECOGQuery is an ipw query of lung (women against men) with ECOG among the confounders,
// its levels merged as merge says (nil: as declared).
func ipwECOGQuery(stage protocol.IPWStage, beta []float64, merge ...protocol.LevelGroup) protocol.Query {
	q := ipwQuery("mallory", stage, beta)
	q.IPW.Confounders = append(q.IPW.Confounders, "ecog")
	if len(merge) > 0 {
		q.IPW.Merge = map[string][]protocol.LevelGroup{"ecog": merge}
	}
	return q
}

func ecogGroup(levels ...string) protocol.LevelGroup {
	return protocol.LevelGroup{Name: strings.Join(levels, "+"), Levels: levels}
}

// The real-data case: ECOG 3 holds one patient of lung (id 28, a man). With ECOG among the
// confounders the site refuses from the first propensity round (its column, ecogecog3, is too
// small among the controls); with ECOG 2 and 3 merged the whole comparison is answered, and the
// design names the merged level. A merge of an undeclared level is an error naming it.
func TestIPWMergeRareECOG(t *testing.T) {
	ctx := context.Background()
	pol := DefaultPolicy()
	pol.DailyQueryBudget = 0
	pol.OverlapGuard = false
	e, _ := lungEngine(t, pol, nil)
	r := e.Handle(ctx, ipwECOGQuery(protocol.IPWPropensity, nil))
	wantCode(t, r, protocol.CodeRefusedByPolicy)
	if !strings.Contains(r.Error.Message, "ecogecog3") {
		t.Errorf("refusal: %s", r.Error.Message)
	}
	merge := ecogGroup("ecog2", "ecog3")
	q := ipwECOGQuery(protocol.IPWPropensity, nil, merge)
	q.IPW.Levels = map[string][]string{"ecog": {"ecog0", "ecog1", "ecog2+ecog3"}}
	got := mustOK(t, e.Handle(ctx, q)).IPW
	if want := []string{"(Intercept)", "age", "karno", "wt.loss", "ecogecog1", "ecogecog2+ecog3"}; !slices.Equal(got.Columns, want) {
		t.Fatalf("columns %v, want %v", got.Columns, want)
	}
	out := q
	out.ID = "outcome"
	out.IPW = ipwECOGQuery(protocol.IPWOutcome, make([]float64, 6), merge).IPW
	mustOK(t, e.Handle(ctx, out))
	bad := ipwECOGQuery(protocol.IPWPropensity, nil, ecogGroup("ecog2", "ecog4"))
	bad.ID = "bad"
	if r := e.Handle(ctx, bad); r.Error == nil || !strings.Contains(r.Error.Message, `"ecog4" is not a level`) {
		t.Errorf("a merge of an undeclared level: %+v", r.Error)
	}
}

// The demo's comparison (synthetic NSCLC, pembrolizumab-chemotherapy against chemotherapy,
// adjusted for age, ECOG and stage) at its largest site: ECOG is a discrete numeric confounder
// (no column per value, so the design-column rule does not see a rare value), and ECOG × stage
// make 12 classes per arm, one of which is rare. The site refuses from the first propensity
// round, saying that the combination is rare (every value alone is common) and how to coarsen;
// with ECOG 1 and 2 merged and stage IIIB to IVA merged it answers every stage, and the
// weights' classes are the merged ones (ECOG 2 counts as 1).
func TestIPWMergeDemoClasses(t *testing.T) {
	ctx := context.Background()
	c := synthCohort(t, 3000, 1)
	s := c.sites[0]
	store := openStore(t, filepath.Join(t.TempDir(), "nsclc.db"))
	if _, err := ImportCSV(ctx, store, s.spec, bytes.NewReader(s.csv)); err != nil {
		t.Fatal(err)
	}
	pol := DefaultPolicy()
	pol.DailyQueryBudget = 0
	pol.OverlapGuard = false
	e, err := NewEngine(ctx, store, Config{InsecureOpen: true, Site: s.name, Policy: &pol})
	if err != nil {
		t.Fatal(err)
	}
	ask := func(stage protocol.IPWStage, beta []float64, merge map[string][]protocol.LevelGroup) protocol.Reply {
		q := query(protocol.KindIPW)
		q.Study, q.Analyst, q.Endpoint = "nsclc", "mallory", "OS"
		q.ID = fmt.Sprintf("%s-%d", stage, len(merge))
		q.Cohort = &protocol.Filter{Op: protocol.OpIn, Var: "treatment", Values: []string{"pembro-chemo", "chemo"}}
		q.IPW = &protocol.IPWRequest{Stage: stage, Treatment: "treatment", Treated: "pembro-chemo", Confounders: []string{"age", "ecog", "stage"},
			Merge: merge, Beta: beta, Estimand: "ATE", Ties: "efron", Edges: []float64{0, 0.5, 1}}
		return e.Handle(ctx, q)
	}
	r := ask(protocol.IPWPropensity, nil, nil)
	wantCode(t, r, protocol.CodeRefusedByPolicy)
	if msg := r.Error.Message; !strings.Contains(msg, "combination of the values of ecog, stage") || !strings.Contains(msg, "--merge") {
		t.Errorf("refusal: %s", msg)
	}
	merge := map[string][]protocol.LevelGroup{"ecog": {{Name: "1+2", Levels: []string{"1", "2"}}}, "stage": {{Name: "III-IVA", Levels: []string{"IIIB", "IIIC", "IVA"}}}}
	prop := mustOK(t, ask(protocol.IPWPropensity, nil, merge)).IPW
	if want := []string{"(Intercept)", "age", "ecog", "stageIVB"}; !slices.Equal(prop.Columns, want) {
		t.Fatalf("columns %v, want %v", prop.Columns, want)
	}
	out := mustOK(t, ask(protocol.IPWOutcome, []float64{1, 0, -0.5, 0.2}, merge)).IPW
	// Race, stage, PD-L1, histology and ECOG declare 4 × 4 × 3 × 3 × 6 = 864 classes per arm,
	// more than a site keeps sets for: refused from the dictionary; ECOG merged to two, 288.
	many := func(merge map[string][]protocol.LevelGroup) protocol.Reply {
		q := query(protocol.KindIPW)
		q.Study, q.Analyst, q.Endpoint, q.ID = "nsclc", "mallory", "OS", fmt.Sprintf("many-%d", len(merge))
		q.IPW = &protocol.IPWRequest{Stage: protocol.IPWPropensity, Treatment: "sex", Treated: "female",
			Confounders: []string{"race", "stage", "pdl1_tps", "histology", "ecog"}, Merge: merge}
		return e.Handle(ctx, q)
	}
	if r := many(nil); r.Error == nil || r.Error.Code != protocol.CodeInvalid || !strings.Contains(r.Error.Message, "more than 512 classes") {
		t.Errorf("864 declared classes: %+v", r.Error)
	}
	two := map[string][]protocol.LevelGroup{"ecog": {{Name: "0+1", Levels: []string{"0", "1"}}, {Name: "2-5", Levels: []string{"2", "3", "4", "5"}}}}
	if r := many(two); r.Error != nil && strings.Contains(r.Error.Message, "classes of patients") {
		t.Errorf("288 declared classes: %+v", r.Error)
	}
	for _, arm := range []*protocol.IPWArm{out.TreatedArm, out.ControlArm} {
		if len(arm.Table.Time) == 0 {
			t.Errorf("outcome: an empty table")
		}
		// ECOG (balance column 1, after age) is 0 or 1 once 2 counts as 1: Σx = Σx².
		if arm.Sum[1] != arm.SumSq[1] || !(arm.Sum[1] > 0) {
			t.Errorf("ECOG sums %v and %v: values other than 0 and 1", arm.Sum[1], arm.SumSq[1])
		}
	}
}

// eventsOfClass decodes, from an arm's released weighted table, how many events its patients
// of one class had over the whole follow-up, when that class's weight is high and every
// other patient's low (a propensity model with one coefficient on the class's column): per row,
// Σw over the events = a·high + (d − a)·low.
func eventsOfClass(tab protocol.WeightedTable, high, low float64) float64 {
	a := 0.0
	for k := range tab.Time {
		a += (tab.Events[k] - float64(tab.NEvent[k])*low) / (high - low)
	}
	return math.Round(a*1e6) / 1e6
}

// The merge that isolates one patient: the analyst merges ECOG 0, 1 and 2, leaving ECOG 3 —
// one man, id 28 — a class of its own, and gives that class alone a coefficient (its weight
// 1/(1 − e^1/(1+e^1)) against 2 for every other man). In two databases that differ only in
// whether he died, every stage is refused word for word from the first round (the class rule,
// here through its column's rule: ecogecog3); with the rules off (the control) the men's table
// gives his status by subtraction.
func TestAttackIPWMergeIsolatesOnePatient(t *testing.T) {
	ctx := context.Background()
	pol := DefaultPolicy()
	pol.DailyQueryBudget = 0
	pol.OverlapGuard = false
	merge := ecogGroup("ecog0", "ecog1", "ecog2")
	beta := []float64{0, 0, 0, 0, 1} // design: (Intercept), age, karno, wt.loss, ecogecog3
	high := 1 / (1 - 1/(1+math.Exp(-1)))
	run := func(rulesOff bool) [2][]protocol.Reply {
		var out [2][]protocol.Reply
		for k, event := range []string{"0", "1"} {
			e, _ := ipwWorld(t, pol, "28", event)
			e.withoutModelRules, e.withoutWeightSpread = rulesOff, rulesOff
			for _, stage := range []protocol.IPWStage{protocol.IPWPropensity, protocol.IPWOutcome} {
				q := ipwECOGQuery(stage, beta, merge)
				q.ID = string(stage)
				r := e.Handle(ctx, q)
				r.QueryID = ""
				out[k] = append(out[k], r)
			}
		}
		return out
	}
	with := run(false)
	for s := range with[0] {
		if with[0][s].Error == nil || !reflect.DeepEqual(with[0][s], with[1][s]) {
			t.Errorf("stage %d: with the rules the two databases answer %+v and %+v", s, with[0][s].Error, with[1][s].Error)
		} else if !strings.Contains(with[0][s].Error.Message, "ecog") {
			t.Errorf("stage %d: refusal %q", s, with[0][s].Error.Message)
		}
	}
	without := run(true)
	for k, died := range []float64{0, 1} {
		r := without[k][1]
		if r.IPW == nil {
			t.Fatalf("control: refused: %v", r.Error)
		}
		if got := eventsOfClass(r.IPW.ControlArm.Table, high, 2); got != died {
			t.Errorf("control, world %d: the men's table gives %v events of ECOG 3, his status is %v", k, got, died)
		}
	}
}

// Two coarsenings that differ by a rare level: ECOG 2+3 in one query, ECOG 1+3 (so ECOG 2
// alone) in the next. Each query's classes all hold at least min_cell men, but the men of
// ECOG 2+3 minus those of ECOG 2 is one man (id 28): with a coefficient on the class of
// interest in each query, the two tables give his status by subtraction. The site registers
// every released class with the overlap guard, which refuses the second query (the two classes
// differ by fewer than min_cell patients) identically in two databases that differ in his
// outcome; with the guard off (the control) the subtraction reads his status.
func TestAttackIPWMergeDifference(t *testing.T) {
	ctx := context.Background()
	high := 1 / (1 - 1/(1+math.Exp(-1)))
	run := func(guard bool) [2][]protocol.Reply {
		pol := DefaultPolicy()
		pol.DailyQueryBudget = 0
		pol.OverlapGuard = guard
		var out [2][]protocol.Reply
		for k, event := range []string{"0", "1"} {
			e, _ := ipwWorld(t, pol, "28", event)
			// Design: (Intercept), age, karno, wt.loss, then ECOG's two columns after ecog0.
			for n, q := range []protocol.Query{
				ipwECOGQuery(protocol.IPWOutcome, []float64{0, 0, 0, 0, 0, 1}, ecogGroup("ecog2", "ecog3")), // on ecogecog2+ecog3
				ipwECOGQuery(protocol.IPWOutcome, []float64{0, 0, 0, 0, 0, 1}, ecogGroup("ecog1", "ecog3")), // on ecogecog2
			} {
				q.ID = fmt.Sprintf("q%d", n)
				r := e.Handle(ctx, q)
				r.QueryID = ""
				out[k] = append(out[k], r)
			}
		}
		return out
	}
	with := run(true)
	for k := range with {
		if with[k][0].Error != nil {
			t.Fatalf("world %d: the first coarsening is refused: %v", k, with[k][0].Error)
		}
	}
	if with[0][1].Error == nil || with[0][1].Error.Code != protocol.CodeRefusedByPolicy || !reflect.DeepEqual(with[0][1], with[1][1]) {
		t.Errorf("with the guard, the second coarsening: %+v and %+v", with[0][1].Error, with[1][1].Error)
	}
	without := run(false)
	for k, died := range []float64{0, 1} {
		if without[k][1].IPW == nil {
			t.Fatalf("control, world %d: refused: %v", k, without[k][1].Error)
		}
		both := eventsOfClass(without[k][0].IPW.ControlArm.Table, high, 2)
		two := eventsOfClass(without[k][1].IPW.ControlArm.Table, high, 2)
		if both-two != died {
			t.Errorf("control, world %d: ECOG 2+3 minus ECOG 2 gives %v events, his status is %v", k, both-two, died)
		}
	}
}
