package node

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"math"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/oncofed/oncofed/dp"
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

// dpScreenQuery is a differentially private screen of scr: one dp_tables model per marker,
// each adjusted for age (declared 18–100: one numeric column).
func dpScreenQuery(analyst string, rho float64, markers ...string) protocol.Query {
	var models []protocol.CoxRequest
	for _, m := range markers {
		models = append(models, protocol.CoxRequest{Form: protocol.CoxDPTables, Ties: "efron", Covariates: []string{m, "age"}, Beta: make([]float64, 2)})
	}
	q := screenQuery(nil, models)
	q.Analyst, q.Screen.Rho = analyst, rho
	return q
}

// standingOf is what the catalog tells analyst s of its budget.
func standingOf(t *testing.T, e *Engine, s *protocol.Signer) *protocol.AnalystBudget {
	t.Helper()
	return mustOK(t, handleJSON(t, e, sign(t, s, protocol.Query{Version: protocol.Version, Kind: protocol.KindCatalog, ID: "c"}))).Catalog.You
}

// A dp analyst's screen is one differentially private release of every marker model's tables
// at ρ_total/K each (docs/dp-cox.md), and it costs exactly what it released at:
//   - the default screen spends dp_rho_screen (= dp_rho_cox) over its K = 5 markers: four are
//     drawn (the one marker held by patient 7 alone, and the one of four patients, are drawn
//     too, and mostly refused on their noisy tables — charged all the same), the unknown marker is refused from the
//     dictionary at no cost, so the screen charges 4/5 of ρ_total, and the ρ of its models'
//     labels add up to the charge, never more than declared;
//   - the catalog's budget and the audit record (one, with that ρ) agree;
//   - a screen over what is left of the day is refused before anything is computed (it names
//     an unknown endpoint, and gets the budget's refusal, not not_found), and costs nothing;
//   - the analyst's own ρ (screen.rho) is what the next screen spends.
func TestDPScreenCostsWhatItReleased(t *testing.T) {
	ctx := context.Background()
	pol := DefaultPolicy()
	e, store, clock := screenRoleSite(t, pol, "100,1")
	dora := protocol.NewSigner(testKey(4), clock.now)
	before := standingOf(t, e, dora)
	q := dpScreenQuery("dora", 0, "mk_a", "mk_b", "mk_one", "mk_four", "nope")
	signed := sign(t, dora, q)
	r := handleJSON(t, e, signed)
	mustOK(t, r)
	if err := protocol.ValidateReply(signed, r); err != nil {
		t.Fatalf("the client refuses the reply: %v", err)
	}
	per := pol.DPRhoCox / 5
	var sum float64
	for k, m := range r.Screen.Models {
		switch k {
		case 0, 1:
			if m.Error != nil || m.Cox == nil || len(m.Cox.Patterns) == 0 || m.Policy.DP == nil {
				t.Fatalf("model %d: %+v", k, m)
			}
			if m.Policy.DP.Rho != per {
				t.Errorf("model %d released at ρ=%g, want %g", k, m.Policy.DP.Rho, per)
			}
			sum += m.Policy.DP.Rho
		case 2, 3:
			// Drawn; refused on the noisy tables or released (the noise at ρ=0.01 is wide):
			// charged either way.
			if m.Error != nil && m.Error.Code != protocol.CodeRefusedByPolicy || m.Error == nil && m.Policy.DP.Rho != per {
				t.Errorf("model %d (a marker of 1 or 4 patients): %+v", k, m)
			}
			sum += per
		case 4:
			if m.Error == nil || m.Error.Code != protocol.CodeNotFound {
				t.Errorf("the unknown marker: %+v, want not_found", m.Error)
			}
		}
	}
	d := r.Policy.DP
	if d == nil || math.Abs(d.Rho-4*per) > 1e-15 || math.Abs(sum-d.Rho) > 1e-15 || d.Rho > pol.DPRhoCox {
		t.Fatalf("the screen's label %+v; want ρ=%g, the sum of its models' %g, within the declared %g", d, 4*per, sum, pol.DPRhoCox)
	}
	after := standingOf(t, e, dora)
	if spent := before.RhoLeftToday["scr"] - after.RhoLeftToday["scr"]; math.Abs(spent-4*per) > 1e-12 {
		t.Errorf("the screen took ρ=%g off today's budget, want %g", spent, 4*per)
	}
	if after.QueriesLeft != before.QueriesLeft-1 {
		t.Errorf("queries left %d → %d: a screen is one query", before.QueriesLeft, after.QueriesLeft)
	}
	recs, err := VerifyAudit(ctx, store)
	if err != nil {
		t.Fatal(err)
	}
	var audited []AuditRecord
	for _, rec := range recs {
		if rec.Analyst == "dora" && rec.Kind == string(protocol.KindScreen) {
			audited = append(audited, rec)
		}
	}
	if len(audited) != 1 || audited[0].Outcome != OutcomeReleased || math.Abs(audited[0].Rho-4*per) > 1e-15 || !strings.Contains(audited[0].Released, "reply_sha256=") {
		t.Fatalf("audit of the screen: %+v", audited)
	}

	// The analyst's own ρ: 0.2 of the 0.21 left.
	big := dpScreenQuery("dora", 0.2, "mk_a", "mk_b")
	r = mustOK(t, handleJSON(t, e, sign(t, dora, big)))
	if r.Policy.DP.Rho != 0.2 || r.Screen.Models[0].Policy.DP.Rho != 0.1 {
		t.Fatalf("a screen at screen.rho=0.2: label %+v, model %+v", r.Policy.DP, r.Screen.Models[0].Policy.DP)
	}
	left := standingOf(t, e, dora).RhoLeftToday["scr"]
	if math.Abs(left-(pol.DPRhoDaily-4*per-0.2)) > 1e-12 {
		t.Fatalf("left today %g", left)
	}

	// Over budget: refused before computing, free.
	over := dpScreenQuery("dora", 0, "mk_a", "mk_b")
	over.Endpoint = "no_such_endpoint"
	r = handleJSON(t, e, sign(t, dora, over))
	if r.Error == nil || r.Error.Reason != protocol.ReasonPrivacyBudget || r.Policy.DP != nil {
		t.Fatalf("a screen over the budget: %+v, want the privacy_budget refusal (not not_found: nothing computed)", r.Error)
	}
	if now := standingOf(t, e, dora).RhoLeftToday["scr"]; now != left {
		t.Errorf("the refusal was charged: %g left before, %g after", left, now)
	}
	// More than a day's budget in one screen: refused whatever is left.
	huge := dpScreenQuery("dora", pol.DPRhoDaily*2, "mk_a")
	clock.t = clock.t.Add(24 * time.Hour)
	if r = handleJSON(t, e, sign(t, dora, huge)); r.Error == nil || r.Error.Reason != protocol.ReasonPrivacyBudget {
		t.Errorf("a screen asking twice the daily budget: %+v", r.Error)
	}
}

// A trusted analyst's screen is unchanged (its stratified rounds answered exactly, the overlap
// guard and the query budget as before), while the dp analyst's stratified screen stays refused
// with analyst_role at no cost; the trusted analyst asking the dp_tables form gets the same DP
// release as a dp analyst, charged to its own ρ ledger.
func TestDPScreenLeavesTrustedScreenUnchanged(t *testing.T) {
	pol := DefaultPolicy()
	markers := []string{"mk_a", "mk_b", "mk_one"}
	var trusted [2][]byte
	for v, patient7 := range []string{"100,1", "650,0"} {
		e, _, clock := screenRoleSite(t, pol, patient7)
		dora := protocol.NewSigner(testKey(4), clock.now)
		tom := protocol.NewSigner(testKey(5), clock.now)
		q := screenQuery(nil, screenModels(0.2, markers...))
		q.Analyst = "dora"
		before := standingOf(t, e, dora)
		r := handleJSON(t, e, sign(t, dora, q))
		if r.Error == nil || r.Error.Reason != protocol.ReasonAnalystRole || r.Screen != nil {
			t.Fatalf("dora's stratified screen: %+v, want the analyst_role refusal", r.Error)
		}
		if after := standingOf(t, e, dora); after.QueriesLeft != before.QueriesLeft || after.RhoLeftToday["scr"] != before.RhoLeftToday["scr"] {
			t.Errorf("the refusal was charged: %+v → %+v", before, after)
		}
		tq := screenQuery(nil, screenModels(0.2, markers...))
		tq.Analyst = "tom"
		var want []modelOutcome
		for k := range tq.Screen.Models {
			want = append(want, singleOutcome(handleJSON(t, e, sign(t, tom, tq.ModelQuery(k)))))
		}
		e2, _, clock2 := screenRoleSite(t, pol, patient7)
		tom2 := protocol.NewSigner(testKey(5), clock2.now)
		got := screenOutcomes(t, handleJSON(t, e2, sign(t, tom2, tq)))
		for k := range got {
			g, _ := json.Marshal(got[k])
			w, _ := json.Marshal(want[k])
			if !bytes.Equal(g, w) {
				t.Errorf("tom's screen, model %d:\n%s\nas single queries:\n%s", k, g, w)
			}
		}
		trusted[v], _ = json.Marshal(got[0].Cox)
		// tom asking the dp_tables form: a DP release on tom's ledger.
		dq := dpScreenQuery("tom", 0, "mk_a")
		dr := mustOK(t, handleJSON(t, e, sign(t, tom, dq)))
		if dr.Policy.DP == nil || dr.Policy.DP.Rho != pol.DPRhoCox {
			t.Errorf("tom's dp_tables screen: label %+v", dr.Policy.DP)
		}
	}
	if bytes.Equal(trusted[0], trusted[1]) {
		t.Error("the trusted analyst's answers do not depend on patient 7: the comparison cannot fail")
	}
}

// Membership inference against the differentially private screen: the attacker knows the lung
// data but whether patient 1 is in it, asks 200 screens of each world (four models, ρ_total =
// 0.2 split over them), and adds up the evidence of all four: the released sizes of patient 1's
// pattern in every model, guessing "in" when the sum reaches its size with patient 1 less half
// the number of models. The empirical advantage stays within the bound of the ρ the screen
// spent (the four models' ρ add up to it). The sum's spread is also that of the four models'
// noise at their stated ρ_total/4 (a node that noised each model at ρ_total would be found by
// it: its spread would be half); the trusted role's exact model separates the worlds always.
func TestDPScreenMembershipInference(t *testing.T) {
	const rhoTotal = 0.2
	pol := DefaultPolicy()
	pol.DPRhoScreen = rhoTotal
	pol.DPRhoDaily, pol.DPRhoTotal = 1e6, 1e6
	in := newDPLung(t, pol, lungCSV)
	out := newDPLung(t, pol, withoutFirstPatient(t))
	models := [][]string{{"sex", "age"}, {"age"}, {"karno"}, {"sex"}}
	q := query(protocol.KindScreen)
	q.Endpoint, q.Screen = "OS", &protocol.ScreenRequest{}
	for _, m := range models {
		q.Screen.Models = append(q.Screen.Models, protocol.CoxRequest{Form: protocol.CoxDPTables, Ties: "efron", Covariates: m, Beta: make([]float64, dpCoxColumns(m))})
	}
	sizes := func(r protocol.Reply) map[string]int {
		out := map[string]int{}
		for k, m := range r.Screen.Models {
			if m.Cox == nil {
				t.Fatalf("model %d refused: %+v", k, m.Error)
			}
			for _, pt := range m.Cox.Patterns {
				n := 0
				for i := range pt.Time {
					n += pt.Events[i] + pt.Censor[i]
				}
				out[fmt.Sprint(k, pt.X)] = n
			}
		}
		return out
	}
	// Patient 1's pattern in each model: the one whose size differs between the worlds, from
	// releases with noise of sd ≈ 0.
	sharpPol := pol
	sharpPol.DPRhoScreen = 1e7 * float64(len(models))
	sharpPol.DPRhoDaily, sharpPol.DPRhoTotal = 1e9, 1e9
	sharpIn, sharpOut := newDPLung(t, sharpPol, lungCSV), newDPLung(t, sharpPol, withoutFirstPatient(t))
	sIn := sizes(mustOK(t, handleJSON(t, sharpIn.e, sign(t, sharpIn.dora, q))))
	sOut := sizes(mustOK(t, handleJSON(t, sharpOut.e, sign(t, sharpOut.dora, q))))
	var targets []string
	withTarget := 0
	for key, n := range sIn {
		if sOut[key] != n {
			if sOut[key] != n-1 {
				t.Fatalf("pattern %s: %d with patient 1, %d without", key, n, sOut[key])
			}
			targets = append(targets, key)
			withTarget += n
		}
	}
	if len(targets) != len(models) {
		t.Fatalf("patient 1 found in %d models' patterns (%v), want %d", len(targets), targets, len(models))
	}
	const trials = 200
	guessedIn := map[*dpLung]int{}
	var spent float64
	var sumSq, sumX float64
	var wantVar float64
	for _, world := range []*dpLung{in, out} {
		for range trials {
			r := mustOK(t, handleJSON(t, world.e, sign(t, world.dora, q)))
			spent = r.Policy.DP.Rho
			s := sizes(r)
			stat := 0
			for _, key := range targets {
				stat += s[key]
			}
			if float64(stat) >= float64(withTarget)-float64(len(models))/2 {
				guessedIn[world]++
			}
			if world == in {
				x := float64(stat - withTarget)
				sumX += x
				sumSq += x * x
				for _, m := range r.Screen.Models {
					if m.Policy.DP.Rho != rhoTotal/float64(len(models)) {
						t.Fatalf("a model released at ρ=%g", m.Policy.DP.Rho)
					}
				}
			}
		}
	}
	if spent != rhoTotal {
		t.Fatalf("each screen spent ρ=%g, want %g", spent, rhoTotal)
	}
	adv := float64(guessedIn[in]-guessedIn[out]) / trials
	bound := advantageBound(spent)
	se := math.Sqrt(0.5 / trials)
	// The pattern size's noise at ρ_total/4, from the release's public parameters.
	ls, err := in.e.study(context.Background(), "lung")
	if err != nil {
		t.Fatal(err)
	}
	w, horizon := in.e.dpGrid(ls.eps["OS"])
	sd := dp.SurvivalSizeSD(int(math.Ceil(horizon/w)), ratOf(rhoTotal/float64(len(models))), dp.SurvivalSqrt)
	wantVar = float64(len(models)) * sd * sd
	mean := sumX / trials
	gotVar := sumSq/trials - mean*mean
	t.Logf("advantage %.3f over %d trials per world, bound %.3f at ρ=%g; the sum's SD %.2f, the models' noise at ρ/%d gives %.2f", adv, trials, bound, spent, math.Sqrt(gotVar), len(models), math.Sqrt(wantVar))
	if adv > bound+3*se {
		t.Errorf("membership advantage %.3f exceeds the ρ=%g bound %.3f + 3 se", adv, spent, bound)
	}
	if r := gotVar / wantVar; r < 0.7 || r > 1.4 {
		t.Errorf("the sum's variance is %.2f× that of the models' noise at their stated ρ", r)
	}
	exactQ := dpCoxQuery("sex", "age")
	exactQ.Cox.Form = protocol.CoxStratified
	nIn := mustOK(t, handleJSON(t, in.e, sign(t, in.tom, exactQ))).Cox.N
	nOut := mustOK(t, handleJSON(t, out.e, sign(t, out.tom, exactQ))).Cox.N
	if nIn != nOut+1 {
		t.Errorf("trusted complete cases %d and %d: the exact release does not separate the worlds", nIn, nOut)
	}
}
