package node

import (
	"bytes"
	"context"
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/oncofed/oncofed/protocol"
)

// screenRoleSite imports screenCSV(patient7) behind an engine listing dora (role dp) and tom
// (trusted), on a fixed clock.
func screenRoleSite(t *testing.T, pol protocol.Policy, patient7 string) (*Engine, *SQLiteStore, *fixedClock) {
	t.Helper()
	clock := &fixedClock{t: time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)}
	a, err := ParseAnalysts(strings.NewReader("dora " + pubText(testKey(4)) + "\ntom " + pubText(testKey(5)) + " trusted\n"))
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	var cats []string
	for _, m := range []string{"mk_a", "mk_b", "mk_miss", "mk_one", "mk_four"} {
		cats = append(cats, m+"=neg,pos")
	}
	store := importFile(t, filepath.Join(dir, "site.db"), writeFile(t, dir, "site.csv", screenCSV(patient7)),
		ImportSpec{Study: "scr", IDColumn: "id", DataCut: "2026-01-01", Endpoints: []EndpointSpec{{Name: "OS", TimeColumn: "time", EventColumn: "event"}},
			Dictionary: declare(cats...)})
	e, err := NewEngine(context.Background(), store, Config{Policy: &pol, Now: clock.now, Analysts: a})
	if err != nil {
		t.Fatal(err)
	}
	declareRanges(t, e, "scr", map[string][2]float64{"age": {18, 100}})
	return e, store, clock
}

// A dp analyst's screen is refused before anything is computed, with the machine-readable
// reason analyst_role: no differentially private release of Cox models other than dp_tables
// exists, and a screen carries stratified or pooled rounds. The attack: dora screens the
// markers (one of them held by patient 7 alone) on two sites that differ only in patient 7's
// time and event. Both sites send the same bytes; neither prepared a design (the Cox cache is
// empty), neither charged a query of the daily budget or any ρ, and the audit records the
// refusal as not budgeted. The same screen from tom (trusted) is answered, and its answers
// differ between the two sites — so the comparison above can fail.
func TestScreenRefusedToDPRole(t *testing.T) {
	ctx := context.Background()
	pol := DefaultPolicy()
	markers := []string{"mk_a", "mk_b", "mk_one"}
	var refusals, trusted [2][]byte
	for v, patient7 := range []string{"100,1", "650,0"} {
		e, store, clock := screenRoleSite(t, pol, patient7)
		dora := protocol.NewSigner(testKey(4), clock.now)
		tom := protocol.NewSigner(testKey(5), clock.now)
		catalog := protocol.Query{Version: protocol.Version, Kind: protocol.KindCatalog, ID: "c"}
		before := mustOK(t, handleJSON(t, e, sign(t, dora, catalog))).Catalog.You

		q := screenQuery(nil, screenModels(0.2, markers...))
		q.Analyst = "dora"
		signed := sign(t, dora, q)
		raw, err := json.Marshal(signed)
		if err != nil {
			t.Fatal(err)
		}
		body := e.HandleJSON(ctx, raw)
		var r protocol.Reply
		if err := json.Unmarshal(body, &r); err != nil {
			t.Fatal(err)
		}
		if r.Error == nil || r.Error.Code != protocol.CodeRefusedByPolicy || r.Error.Reason != protocol.ReasonAnalystRole || r.Screen != nil || r.Policy.DP != nil {
			t.Fatalf("dora's screen: error %+v, screen %+v, dp %+v; want the analyst_role refusal and nothing else", r.Error, r.Screen, r.Policy.DP)
		}
		if !strings.Contains(r.Error.Message, "dp role") {
			t.Errorf("the refusal does not say why: %q", r.Error.Message)
		}
		if err := protocol.ValidateReply(signed, r); err != nil {
			t.Errorf("the client refuses the refusal: %v", err)
		}
		refusals[v] = body
		e.coxMu.Lock()
		prepared := len(e.coxCache)
		e.coxMu.Unlock()
		if prepared != 0 {
			t.Errorf("%d Cox designs were prepared for a refused screen", prepared)
		}

		after := mustOK(t, handleJSON(t, e, sign(t, dora, catalog))).Catalog.You
		if after.QueriesLeft != before.QueriesLeft || after.RhoLeftToday["scr"] != before.RhoLeftToday["scr"] || after.RhoLeftTotal["scr"] != before.RhoLeftTotal["scr"] {
			t.Errorf("the refusal was charged: before %+v, after %+v", before, after)
		}
		recs, err := VerifyAudit(ctx, store)
		if err != nil {
			t.Fatal(err)
		}
		var audited int
		for _, rec := range recs {
			if rec.Analyst == "dora" && rec.Kind == string(protocol.KindScreen) {
				audited++
				if rec.Outcome != OutcomeRefused || rec.Budgeted || rec.Rho != 0 || rec.Released != "" {
					t.Errorf("audit record of the refusal: %+v", rec)
				}
			}
		}
		if audited != 1 {
			t.Errorf("%d audit records of dora's screen, want 1", audited)
		}

		// The control: tom's screen is computed, and patient 7's outcome shows in it.
		tq := screenQuery(nil, screenModels(0.2, markers...))
		tq.Analyst = "tom"
		tr := handleJSON(t, e, sign(t, tom, tq))
		out := screenOutcomes(t, tr)
		if out[0].Error != nil || out[0].Cox == nil {
			t.Fatalf("tom's screen, mk_a: %+v", out[0])
		}
		trusted[v], _ = json.Marshal(out[0].Cox)
	}
	if !bytes.Equal(refusals[0], refusals[1]) {
		t.Errorf("the refusal depends on patient 7:\n%s\n%s", refusals[0], refusals[1])
	}
	if bytes.Equal(trusted[0], trusted[1]) {
		t.Error("the trusted analyst's answers do not depend on patient 7: the comparison cannot fail")
	}
}

// Every refusal of a query kind or form the dp role has no release of carries the reason
// analyst_role (clients read it, not the text) and costs nothing: the proportional-hazards test
// was refused with a bare policy code, so it was charged to the daily budget and a client could
// not tell it from a data-dependent refusal.
func TestDPRoleRefusalsAreCodedAndFree(t *testing.T) {
	e, _, clock := screenRoleSite(t, DefaultPolicy(), "100,1")
	dora := protocol.NewSigner(testKey(4), clock.now)
	catalog := protocol.Query{Version: protocol.Version, Kind: protocol.KindCatalog, ID: "c"}
	levels := map[string][]string{"mk_a": {"neg", "pos"}}
	zph := zphQuery("efron", []float64{0.1}, &protocol.CoxZPHRequest{Transform: "identity"}, "mk_a")
	zph.Cox.Levels = levels
	stratified := zphQuery("efron", []float64{0}, nil, "mk_a")
	stratified.Cox.Form, stratified.Cox.ZPH, stratified.Cox.Levels = protocol.CoxStratified, nil, levels
	for name, q := range map[string]protocol.Query{"zph": zph, "stratified": stratified} {
		q.Study, q.Analyst = "scr", "dora"
		before := mustOK(t, handleJSON(t, e, sign(t, dora, catalog))).Catalog.You
		r := handleJSON(t, e, sign(t, dora, q))
		if r.Error == nil || r.Error.Code != protocol.CodeRefusedByPolicy || r.Error.Reason != protocol.ReasonAnalystRole {
			t.Errorf("%s: error %+v, want the analyst_role refusal", name, r.Error)
			continue
		}
		after := mustOK(t, handleJSON(t, e, sign(t, dora, catalog))).Catalog.You
		if after.QueriesLeft != before.QueriesLeft {
			t.Errorf("%s: the refusal was charged: %d queries left before, %d after", name, before.QueriesLeft, after.QueriesLeft)
		}
	}
}
