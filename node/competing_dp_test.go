package node

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/oncofed/oncofed/analysis"
	"github.com/oncofed/oncofed/dp"
	"github.com/oncofed/oncofed/protocol"
)

// doraEngine serves store under pol to dora, an analyst of role dp, at a fixed clock.
func doraEngine(t *testing.T, store *SQLiteStore, pol protocol.Policy) (*Engine, *protocol.Signer) {
	t.Helper()
	a, err := ParseAnalysts(strings.NewReader("dora " + pubText(testKey(4)) + "\n"))
	if err != nil {
		t.Fatal(err)
	}
	clock := &fixedClock{t: time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)}
	e, err := NewEngine(context.Background(), store, Config{Policy: &pol, Now: clock.now, Analysts: a})
	if err != nil {
		t.Fatal(err)
	}
	return e, protocol.NewSigner(testKey(4), clock.now)
}

// A dp analyst's survival query on an endpoint with causes is released split by cause, at the
// KM's ρ (one patient is in one cell whatever their cause): the causes add up to each row's
// events, and the budget is charged dp_rho_survival, once.
func TestDPSurvivalSplitByCause(t *testing.T) {
	pol := DefaultPolicy()
	d, _ := competingGolden(t, "mgus2")
	store := importCompeting(t, d, true, false)
	e, dora := doraEngine(t, store, pol)
	q := protocol.Query{Version: protocol.Version, Kind: protocol.KindSurvival, ID: "q", Study: "cr", Endpoint: "E"}
	r := mustOK(t, handleJSON(t, e, sign(t, dora, q)))
	if r.Survival == nil || len(r.Survival.Groups) != 1 {
		t.Fatalf("dp survival reply: %+v", r.Survival)
	}
	g := r.Survival.Groups[0]
	if len(g.Causes) != 2 {
		t.Fatalf("dp survival of an endpoint with two causes split into %d", len(g.Causes))
	}
	n := 0
	for k := range g.Time {
		if g.Causes[0][k]+g.Causes[1][k] != g.Events[k] {
			t.Fatalf("row %d: causes %d+%d, events %d", k, g.Causes[0][k], g.Causes[1][k], g.Events[k])
		}
		n += g.Events[k] + g.Censor[k]
	}
	if r.Policy.DP == nil {
		t.Fatal("not a dp release")
	}
	// Three noisy columns (two causes, the censoring) instead of the KM's two: the size's SD is
	// √(3/2) times the KM's, and the released size lies within 5 SD of the true one.
	sd := dp.SurvivalSizeSD(int(math.Ceil(pol.DPHorizonDays/pol.DPBinDays)), ratOf(pol.DPRhoSurvival), dp.SurvivalSqrt) * math.Sqrt(1.5)
	if math.Abs(r.Policy.DP.SizeSD-sd) > 1e-9 || math.Abs(float64(n-len(d.Time))) > 5*sd {
		t.Errorf("released size %d ± %v, true %d (SD %v)", n, r.Policy.DP.SizeSD, len(d.Time), sd)
	}
	if r.Policy.DP.Rho != pol.DPRhoSurvival || math.Abs(r.Policy.DP.LeftToday-(pol.DPRhoDaily-pol.DPRhoSurvival)) > 1e-12 {
		t.Errorf("dp accounting %+v, want one dp_rho_survival %v", r.Policy.DP, pol.DPRhoSurvival)
	}
}

// importKMAndCauses imports mgus2 with two endpoints over the same patients: OS, any event
// (a Kaplan–Meier endpoint), and E, its events split into progression and death (the
// cumulative incidence's).
func importKMAndCauses(t *testing.T) *SQLiteStore {
	t.Helper()
	d, _ := competingGolden(t, "mgus2")
	var b strings.Builder
	b.WriteString("pid,t,st,t2,ev,group\n")
	for i := range d.Time {
		fmt.Fprintf(&b, "p%d,%v,%d,%v,%d,%s\n", i, d.Time[i], d.Status[i], d.Time[i], min(d.Status[i], 1), d.Group[i])
	}
	dir := t.TempDir()
	csvPath := filepath.Join(dir, "cr.csv")
	if err := os.WriteFile(csvPath, []byte(b.String()), 0o600); err != nil {
		t.Fatal(err)
	}
	spec := ImportSpec{Study: "cr", IDColumn: "pid", DataCut: "2026-01-01",
		Endpoints:  []EndpointSpec{{Name: "E", TimeColumn: "t", EventColumn: "st"}, {Name: "OS", TimeColumn: "t2", EventColumn: "ev"}},
		Causes:     map[string][]string{"E": {"progression", "death"}},
		Dictionary: Dictionary{Version: "1", Entries: []DictionaryEntry{{Name: "group", Categories: []string{"F", "M"}}}}}
	return importFile(t, filepath.Join(dir, "cr.db"), csvPath, spec)
}

// A dp analyst's Kaplan–Meier and cumulative incidence of the same cohort are two releases,
// each charged dp_rho_survival: the spending adds up in the reply and in the audit log. A
// cumulative incidence beyond what is left of the day is refused before anything is computed —
// the refusal of a query naming an unknown variable is the same, word for word — and costs
// nothing. (What the two releases together disclose is bounded by the sum of their ρ:
// dp.TestKMAndCompetingCombinedMembership.)
func TestDPKMAndCIFChargesAddUp(t *testing.T) {
	pol := DefaultPolicy()
	pol.DPRhoDaily = 0.05 // two survival releases at 0.02, not three
	store := importKMAndCauses(t)
	e, dora := doraEngine(t, store, pol)
	surv := func(endpoint string, cohort *protocol.Filter) protocol.Query {
		return protocol.Query{Version: protocol.Version, Kind: protocol.KindSurvival, ID: "q", Study: "cr", Endpoint: endpoint, Cohort: cohort}
	}
	km := mustOK(t, handleJSON(t, e, sign(t, dora, surv("OS", nil))))
	cif := mustOK(t, handleJSON(t, e, sign(t, dora, surv("E", nil))))
	if len(km.Survival.Groups[0].Causes) != 0 || len(cif.Survival.Groups[0].Causes) != 2 {
		t.Fatalf("KM split into %d causes, CIF into %d", len(km.Survival.Groups[0].Causes), len(cif.Survival.Groups[0].Causes))
	}
	for i, r := range []protocol.Reply{km, cif} {
		left := pol.DPRhoDaily - float64(i+1)*pol.DPRhoSurvival
		if r.Policy.DP == nil || r.Policy.DP.Rho != pol.DPRhoSurvival || math.Abs(r.Policy.DP.LeftToday-left) > 1e-12 {
			t.Errorf("release %d: dp %+v, want ρ %v and %v left", i, r.Policy.DP, pol.DPRhoSurvival, left)
		}
	}
	var refusals []string
	for _, q := range []protocol.Query{surv("E", nil), surv("E", eq("no_such_variable", "x"))} {
		r := handleJSON(t, e, sign(t, dora, q))
		wantCode(t, r, protocol.CodeRefusedByPolicy)
		if r.Policy.DP != nil || r.Survival != nil || !strings.Contains(r.Error.Message, "today's budget of 0.05") {
			t.Errorf("over the day's budget: %v, dp %+v", r.Error, r.Policy.DP)
		}
		if rec := lastAudit(t, store); rec.Rho != 0 || rec.Outcome != OutcomeRefused {
			t.Errorf("the budget's refusal charged ρ=%v (%s)", rec.Rho, rec.Outcome)
		}
		refusals = append(refusals, r.Error.Message)
	}
	if refusals[0] != refusals[1] {
		t.Errorf("the refusal depends on the query's data:\n%s\n%s", refusals[0], refusals[1])
	}
	recs, err := store.AuditRecords(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	spent := 0.0
	for _, r := range recs {
		spent += r.Rho
	}
	if math.Abs(spent-2*pol.DPRhoSurvival) > 1e-12 {
		t.Errorf("audit log charges ρ=%v, want 2 × %v", spent, pol.DPRhoSurvival)
	}
}

// With the noise switched off (ρ so large that every noisy cell rounds to the true one) a dp
// analyst's per-cause tables give R's cumulative incidence on the release's bins: survfit on
// mgus2 with times ceiling(t/6)·6 (analysis/testdata/competing_goldens.R, "mgus2/bin6/log"),
// estimate and standard error, by group. What the noise then adds is measured in
// docs/competing-risks.md (TestDPCIFUtility).
func TestDPCIFNoiseOffEqualsR(t *testing.T) {
	pol := DefaultPolicy()
	pol.DPBinDays, pol.DPHorizonDays = 6, 426 // mgus2's longest follow-up is 424 (months)
	pol.DPRhoSurvival, pol.DPRhoDaily, pol.DPRhoTotal = 1e9, 1e10, 1e10
	d, raw := competingGolden(t, "mgus2")
	store := importCompeting(t, d, true, false)
	e, dora := doraEngine(t, store, pol)
	q := protocol.Query{Version: protocol.Version, Kind: protocol.KindSurvival, ID: "q", Study: "cr", Endpoint: "E", GroupBy: "group"}
	r := mustOK(t, handleJSON(t, e, sign(t, dora, q)))
	if r.Policy.DP == nil {
		t.Fatal("not a dp release")
	}
	type cifCase struct {
		Name   string `json:"name"`
		Groups []struct {
			Group  string       `json:"group"`
			Time   []float64    `json:"time"`
			CIF    [2][]float64 `json:"cif"`
			StdErr [2][]float64 `json:"std_err"`
		} `json:"groups"`
	}
	var cases []cifCase
	if err := json.Unmarshal(raw, &cases); err != nil {
		t.Fatal(err)
	}
	i := slices.IndexFunc(cases, func(c cifCase) bool { return c.Name == "mgus2/bin6/log" })
	if i < 0 || len(r.Survival.Groups) != len(cases[i].Groups) {
		t.Fatalf("golden %d, %d groups released", i, len(r.Survival.Groups))
	}
	for k, g := range cases[i].Groups {
		est, err := analysis.CumulativeIncidence(tableOf(r.Survival.Groups[k]), analysis.KMOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if r.Survival.Groups[k].Group != g.Group || !slices.Equal(est.Time, g.Time) {
			t.Fatalf("group %s: times %v, R %v", g.Group, est.Time, g.Time)
		}
		for c := range 2 {
			for j, want := range g.CIF[c] {
				got := est.Causes[c]
				if math.Abs(got.CIF[j]-want) > 1e-14 || math.Abs(got.StdErr[j]-g.StdErr[c][j]) > 1e-13 {
					t.Fatalf("%s cause %d row %d: %v ± %v, R %v ± %v", g.Group, c+1, j, got.CIF[j], got.StdErr[j], want, g.StdErr[c][j])
				}
			}
		}
	}
}
