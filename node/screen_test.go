package node

import (
	"context"
	"encoding/json"
	"fmt"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/oncofed/oncofed/protocol"
)

// screenCSV is a 200-patient site with candidate markers: mk_a and mk_b common (half and a
// third of the patients), mk_miss as mk_a but not tested in two patients (its complete cases
// are the cohort less two: a differencing pair with mk_a under min_cell 5), mk_one held by
// patient 7 alone, mk_four by four patients. Patient 0 alone is 95 years old. patient7 sets
// patient 7's time and event (the attack tests change them).
func screenCSV(patient7 string) string {
	var b strings.Builder
	b.WriteString("id,age,mk_a,mk_b,mk_miss,mk_one,mk_four,time,event\n")
	for i := 0; i < 200; i++ {
		age := 40 + i%40
		if i == 0 {
			age = 95
		}
		a := []string{"neg", "pos"}[b2i(i%2 == 0)]
		miss := a
		if i == 11 || i == 12 {
			miss = ""
		}
		four := "neg"
		if i == 3 || i == 10 || i == 20 || i == 30 {
			four = "pos"
		}
		outcome := fmt.Sprintf("%d,%d", 30+(17*i)%700, b2i((i*7)%5 != 0))
		if i == 7 {
			outcome = patient7
		}
		fmt.Fprintf(&b, "%d,%d,%s,%s,%s,%s,%s,%s\n", i+1, age, a, []string{"neg", "pos"}[b2i(i%3 == 0)], miss,
			[]string{"neg", "pos"}[b2i(i == 7)], four, outcome)
	}
	return b.String()
}

// screenSite imports screenCSV(patient7) under pol.
func screenSite(t *testing.T, pol protocol.Policy, patient7 string, clock *fixedClock) (*Engine, *SQLiteStore) {
	t.Helper()
	dir := t.TempDir()
	var cats []string
	for _, m := range []string{"mk_a", "mk_b", "mk_miss", "mk_one", "mk_four"} {
		cats = append(cats, m+"=neg,pos")
	}
	store := importFile(t, filepath.Join(dir, "site.db"), writeFile(t, dir, "site.csv", screenCSV(patient7)),
		ImportSpec{Study: "scr", IDColumn: "id", DataCut: "2026-01-01", Endpoints: []EndpointSpec{{Name: "OS", TimeColumn: "time", EventColumn: "event"}},
			Dictionary: declare(cats...)})
	cfg := Config{InsecureOpen: true, Policy: &pol}
	if clock != nil {
		cfg.Now = clock.now
	}
	e, err := NewEngine(context.Background(), store, cfg)
	if err != nil {
		t.Fatal(err)
	}
	declareRanges(t, e, "scr", map[string][2]float64{"age": {18, 100}})
	return e, store
}

// screenModels are the stratified models of markers (each + age) at β.
func screenModels(beta float64, markers ...string) []protocol.CoxRequest {
	var out []protocol.CoxRequest
	for _, m := range markers {
		out = append(out, protocol.CoxRequest{Form: protocol.CoxStratified, Ties: "efron", Covariates: []string{m, "age"},
			Beta: []float64{beta, beta / 100}})
	}
	return out
}

func screenQuery(cohort *protocol.Filter, models []protocol.CoxRequest) protocol.Query {
	return protocol.Query{Version: protocol.Version, Kind: protocol.KindScreen, ID: "s", Analyst: "alice", Study: "scr", Endpoint: "OS",
		Cohort: cohort, Screen: &protocol.ScreenRequest{Models: models}}
}

// modelOutcome is what one model's answer says, comparable between a screen's entry and the
// reply to the model's cox query alone.
type modelOutcome struct {
	Error  *protocol.Error
	Policy *protocol.PolicyEffects
	Cox    *protocol.CoxReply
}

func screenOutcomes(t *testing.T, r protocol.Reply) []modelOutcome {
	t.Helper()
	mustOK(t, r)
	var out []modelOutcome
	for _, m := range r.Screen.Models {
		out = append(out, modelOutcome{m.Error, m.Policy, m.Cox})
	}
	return out
}

func singleOutcome(r protocol.Reply) modelOutcome {
	if r.Error != nil {
		return modelOutcome{Error: r.Error}
	}
	p := r.Policy
	return modelOutcome{Policy: &p, Cox: r.Cox}
}

// asIndividual answers q's models one by one as cox queries, in order.
func asIndividual(e *Engine, q protocol.Query) []modelOutcome {
	var out []modelOutcome
	for k := range q.Screen.Models {
		out = append(out, singleOutcome(e.Handle(context.Background(), q.ModelQuery(k))))
	}
	return out
}

func budgetedQueries(t *testing.T, s *SQLiteStore, analyst string) int {
	t.Helper()
	recs, err := s.AuditRecords(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, r := range recs {
		if r.Analyst == analyst && r.Budgeted {
			n++
		}
	}
	return n
}

// A screen query answers and refuses exactly what its models sent one by one as cox queries,
// in order, would: the same payloads, the same refusals (the design-column rule for the
// one-patient and four-patient markers, the overlap guard for mk_miss after mk_a, the daily
// budget past its end), the same budget spent — in every round, under the guard and the budget.
func TestScreenBatchRefusesAsIndividual(t *testing.T) {
	clock := &fixedClock{time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC)}
	pol := DefaultPolicy()
	pol.DailyQueryBudget = 13 // two full rounds of 6 models, then one model of the third
	markers := []string{"mk_a", "mk_one", "mk_miss", "mk_four", "mk_b", "mk_a"}
	batch, bstore := screenSite(t, pol, "100,1", clock)
	single, sstore := screenSite(t, pol, "100,1", clock)
	var saw = map[string]bool{}
	for round, beta := range []float64{0, 0.2, -0.1} {
		q := screenQuery(nil, screenModels(beta, markers...))
		got, want := screenOutcomes(t, batch.Handle(context.Background(), q)), asIndividual(single, q)
		if !reflect.DeepEqual(got, want) {
			gb, _ := json.Marshal(got)
			wb, _ := json.Marshal(want)
			t.Fatalf("round %d: the screen answered\n%s\nits models one by one\n%s", round+1, gb, wb)
		}
		for k, o := range got {
			switch {
			case o.Error == nil:
				saw["released"] = true
			case o.Error.Reason == protocol.ReasonDailyBudget:
				saw["budget"] = true
			case o.Error.Reason == protocol.ReasonOverlapGuard && markers[k] == "mk_miss":
				saw["guard"] = true
			case strings.Contains(o.Error.Message, "design column "+markers[k]+"pos holds too few patients"):
				saw["design"] = true
			default:
				t.Errorf("round %d, %s: unexpected refusal %v", round+1, markers[k], o.Error)
			}
		}
	}
	for _, what := range []string{"released", "budget", "guard", "design"} {
		if !saw[what] {
			t.Errorf("no model was %s: the test does not exercise it", what)
		}
	}
	// Every model is one query (a model refused by a rule is charged as a cox query refused
	// by it is, so the count passes the budget; a model refused for the budget is not).
	if b, s := budgetedQueries(t, bstore, "alice"), budgetedQueries(t, sstore, "alice"); b != s || b < pol.DailyQueryBudget {
		t.Errorf("budget spent: screen %d, one by one %d, want the same, at least %d", b, s, pol.DailyQueryBudget)
	}
}

// The attack of two screens one patient apart: screen every marker on the cohort, then on the
// cohort without the one 95-year-old patient; the difference of the two screens' likelihood
// contributions would give that patient's time, event and markers. The overlap guard refuses
// every model of the second screen, as it refuses the models sent one by one; nothing of the
// second cohort leaves.
func TestAttackScreenTwoScreensOnePatientApart(t *testing.T) {
	ctx := context.Background()
	pol := DefaultPolicy()
	pol.DailyQueryBudget = 0
	e, _ := screenSite(t, pol, "100,1", nil)
	markers := []string{"mk_a", "mk_b"}
	first := screenOutcomes(t, e.Handle(ctx, screenQuery(nil, screenModels(0.1, markers...))))
	for k, o := range first {
		if o.Error != nil {
			t.Fatalf("first screen, %s: %v", markers[k], o.Error)
		}
	}
	apart := screenQuery(notF(ageIs(95)), screenModels(0.1, markers...))
	for k, o := range screenOutcomes(t, e.Handle(ctx, apart)) {
		if o.Error == nil || o.Error.Reason != protocol.ReasonOverlapGuard || o.Cox != nil {
			t.Errorf("second screen, %s: %+v; want the overlap guard's refusal and no payload", markers[k], o)
		}
	}
	// Sent one by one, the same models are refused alike.
	for k, o := range asIndividual(e, apart) {
		if o.Error == nil || o.Error.Reason != protocol.ReasonOverlapGuard {
			t.Errorf("one by one, %s: %+v", markers[k], o)
		}
	}
	// The order does not matter either: the cohort one patient smaller first, then the whole.
	e2, _ := screenSite(t, pol, "100,1", nil)
	screenOutcomes(t, e2.Handle(ctx, apart))
	for k, o := range screenOutcomes(t, e2.Handle(ctx, screenQuery(nil, screenModels(0.1, markers...)))) {
		if o.Error == nil || o.Error.Reason != protocol.ReasonOverlapGuard {
			t.Errorf("reversed, %s: %+v", markers[k], o)
		}
	}
}

// The attack of a crafted marker list: markers each held by one patient (or a handful), in one
// screen with an ordinary marker. Each such model is refused by the design-column rule before
// anything is computed from it, with a message that names the column and no count, and that
// reads the same whatever the patient's outcome (two sites differing only in patient 7's time
// and event answer every refused model with the same bytes); each refused model still costs
// its query of the budget, so the batch is no cheaper than the models one by one.
func TestAttackScreenOnePatientMarkers(t *testing.T) {
	ctx := context.Background()
	clock := &fixedClock{time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC)}
	pol := DefaultPolicy()
	markers := []string{"mk_one", "mk_four", "mk_b"}
	var refused [2][]string
	for v, patient7 := range []string{"100,1", "650,0"} {
		e, store := screenSite(t, pol, patient7, clock)
		out := screenOutcomes(t, e.Handle(ctx, screenQuery(nil, screenModels(0.3, markers...))))
		for k, o := range out[:2] {
			if o.Error == nil || o.Cox != nil || !strings.Contains(o.Error.Message, "design column "+markers[k]+"pos holds too few patients") {
				t.Fatalf("%s: %+v; want the design-column refusal", markers[k], o)
			}
			if strings.ContainsAny(o.Error.Message, "0123456789") && !strings.Contains(o.Error.Message, "min_cell=5") {
				t.Errorf("%s: the refusal quotes a number: %q", markers[k], o.Error.Message)
			}
			b, _ := json.Marshal(o.Error)
			refused[v] = append(refused[v], string(b))
		}
		if out[2].Error != nil || out[2].Cox == nil {
			t.Errorf("mk_b alongside: %+v", out[2])
		}
		if n := budgetedQueries(t, store, "alice"); n != len(markers) {
			t.Errorf("the screen of %d models cost %d queries", len(markers), n)
		}
	}
	if !reflect.DeepEqual(refused[0], refused[1]) {
		t.Errorf("the refusals depend on patient 7's outcome:\n%v\n%v", refused[0], refused[1])
	}
}

// A screen's models have one form (and one addressed site); a screen carries at most
// protocol.MaxScreenModels of them; a query too large for a single query but within the screen
// limit is decoded only when it is a screen.
func TestScreenQueryLimits(t *testing.T) {
	ctx := context.Background()
	e, _ := screenSite(t, ExactPolicy(), "100,1", nil)
	q := screenQuery(nil, screenModels(0, "mk_a", "mk_b"))
	q.Screen.Models[1].Form = protocol.CoxPooledSums
	wantCode(t, e.Handle(ctx, q), protocol.CodeInvalid)
	q = screenQuery(nil, screenModels(0, strings.Split(strings.Repeat("mk_a,", protocol.MaxScreenModels+1), ",")[:protocol.MaxScreenModels+1]...))
	wantCode(t, e.Handle(ctx, q), protocol.CodeInvalid)
	// A screen of MaxScreenModels models past MaxQueryBytes is decoded and answered model by
	// model (here each refused: 64 coefficients for 2 columns).
	q = screenQuery(nil, screenModels(0, strings.Split(strings.Repeat("mk_a,", protocol.MaxScreenModels), ",")[:protocol.MaxScreenModels]...))
	for k := range q.Screen.Models {
		q.Screen.Models[k].Beta = make([]float64, protocol.MaxDesignCols)
		for j := range q.Screen.Models[k].Beta {
			q.Screen.Models[k].Beta[j] = 0.123456789012345 + float64(j)
		}
	}
	msg, _ := json.Marshal(q)
	if len(msg) <= protocol.MaxQueryBytes {
		t.Fatalf("the screen is %d bytes: not past the single-query limit", len(msg))
	}
	var r protocol.Reply
	if err := json.Unmarshal(e.HandleJSON(ctx, msg), &r); err != nil {
		t.Fatal(err)
	}
	if mustOK(t, r); len(r.Screen.Models) != protocol.MaxScreenModels || r.Screen.Models[0].Error == nil ||
		!strings.Contains(r.Screen.Models[0].Error.Message, "cox.beta has 64 coefficients for 2 design columns") {
		t.Errorf("screen of %d models: %d answers, the first %+v", protocol.MaxScreenModels, len(r.Screen.Models), r.Screen.Models[0])
	}
	// A cox query of that size is not.
	big := q.ModelQuery(0)
	big.Cohort = &protocol.Filter{Op: protocol.OpIn, Var: "mk_a", Values: strings.Split(strings.Repeat("neg,", 20000), ",")}
	msg, _ = json.Marshal(big)
	if err := json.Unmarshal(e.HandleJSON(ctx, msg), &r); err != nil || r.Error == nil || !strings.Contains(r.Error.Message, "exceeds the limit") {
		t.Errorf("oversized cox query: %+v %v", r.Error, err)
	}
	// Nor when it first claims to be a screen (queryLimit reads the first "kind"; the query
	// decodes to the last).
	msg = append([]byte(`{"kind":"screen",`), msg[1:]...)
	r = protocol.Reply{}
	if err := json.Unmarshal(e.HandleJSON(ctx, msg), &r); err != nil || r.Error == nil || !strings.Contains(r.Error.Message, "exceeds the limit") {
		t.Errorf("oversized cox query claiming to be a screen: %+v %v", r.Error, err)
	}
}

// A pooled round's phase 2 in a screen is addressed to one site with that site's weights: a
// site refuses every model of a screen addressed to another (the weights of another site's
// risk sets are not for it), as it refuses such a cox query.
func TestScreenPooledHessianAddressed(t *testing.T) {
	pol := ExactPolicy()
	pol.AllowPooledCox = true
	e, _ := screenSite(t, pol, "100,1", nil)
	models := screenModels(0, "mk_a", "mk_b")
	for k := range models {
		models[k].Form, models[k].Site = protocol.CoxPooledHessian, "elsewhere"
		models[k].Weights = &protocol.CoxWeights{A: []float64{0.1}, B: []float64{0}}
	}
	q := screenQuery(nil, models)
	for k, o := range screenOutcomes(t, e.Handle(context.Background(), q)) {
		if o.Error == nil || !strings.Contains(o.Error.Message, `addressed to site "elsewhere" reached site`) {
			t.Errorf("model %d: %+v", k, o)
		}
		if !reflect.DeepEqual(o, asIndividual(e, q)[k]) {
			t.Errorf("model %d: the screen and the cox query refuse differently", k)
		}
	}
}
