package node

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/oncofed/oncofed/analysis"
	"github.com/oncofed/oncofed/app"
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

// A dp analyst's survival query on an endpoint with causes that asks for the split
// (split_causes, a cumulative incidence) is released split by cause, at the KM's ρ (one patient
// is in one cell whatever their cause): the causes add up to each row's events, and the budget
// is charged dp_rho_survival, once.
func TestDPSurvivalSplitByCause(t *testing.T) {
	pol := DefaultPolicy()
	d, _ := competingGolden(t, "mgus2")
	store := importCompeting(t, d, true, false)
	e, dora := doraEngine(t, store, pol)
	q := protocol.Query{Version: protocol.Version, Kind: protocol.KindSurvival, ID: "q", Study: "cr", Endpoint: "E", SplitCauses: true}
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

// A dp analyst's Kaplan–Meier and cumulative incidence of the same cohort and endpoint (the
// survival query without and with split_causes) are two releases, each charged
// dp_rho_survival: the spending adds up in the reply and in the audit log, which records two
// queries (two hashes, the second naming split_causes). Asking the same form twice is charged
// twice too: nothing is served again from an earlier release. A cumulative incidence beyond
// what is left of the day is refused before anything is computed — the refusal of a query
// naming an unknown variable is the same, word for word — and costs nothing. (What the
// releases together disclose is bounded by the sum of their ρ:
// dp.TestKMAndCompetingCombinedMembership.)
func TestDPKMAndCIFChargesAddUp(t *testing.T) {
	pol := DefaultPolicy()
	pol.DPRhoDaily = 0.07 // three survival releases at 0.02, not four
	store := importKMAndCauses(t)
	e, dora := doraEngine(t, store, pol)
	surv := func(split bool, cohort *protocol.Filter) protocol.Query {
		return protocol.Query{Version: protocol.Version, Kind: protocol.KindSurvival, ID: "q", Study: "cr", Endpoint: "E", Cohort: cohort, SplitCauses: split}
	}
	var released []protocol.Reply
	for _, split := range []bool{false, true, false} {
		released = append(released, mustOK(t, handleJSON(t, e, sign(t, dora, surv(split, nil)))))
	}
	if len(released[0].Survival.Groups[0].Causes) != 0 || len(released[1].Survival.Groups[0].Causes) != 2 || len(released[2].Survival.Groups[0].Causes) != 0 {
		t.Fatalf("KM split into %d causes, CIF into %d", len(released[0].Survival.Groups[0].Causes), len(released[1].Survival.Groups[0].Causes))
	}
	if slices.Equal(released[0].Survival.Groups[0].Events, released[2].Survival.Groups[0].Events) {
		t.Error("the same KM asked twice got the same noise: a repeated release must be fresh (and charged)")
	}
	for i, r := range released {
		left := pol.DPRhoDaily - float64(i+1)*pol.DPRhoSurvival
		if r.Policy.DP == nil || r.Policy.DP.Rho != pol.DPRhoSurvival || math.Abs(r.Policy.DP.LeftToday-left) > 1e-12 {
			t.Errorf("release %d: dp %+v, want ρ %v and %v left", i, r.Policy.DP, pol.DPRhoSurvival, left)
		}
	}
	recs, err := store.AuditRecords(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if len(recs) != 3 || recs[0].QueryHash == recs[1].QueryHash || strings.Contains(recs[0].Query, "split_causes") || !strings.Contains(recs[1].Query, `"split_causes":true`) {
		t.Fatalf("audit log of the KM and the CIF: %d records, hashes %.8s %.8s, queries %s / %s", len(recs), recs[0].QueryHash, recs[1].QueryHash, recs[0].Query, recs[1].Query)
	}
	var refusals []string
	for _, q := range []protocol.Query{surv(true, nil), surv(true, eq("no_such_variable", "x"))} {
		r := handleJSON(t, e, sign(t, dora, q))
		wantCode(t, r, protocol.CodeRefusedByPolicy)
		if r.Policy.DP != nil || r.Survival != nil || !strings.Contains(r.Error.Message, "today's budget of 0.07") {
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
	if recs, err = store.AuditRecords(context.Background()); err != nil {
		t.Fatal(err)
	}
	spent := 0.0
	for _, r := range recs {
		spent += r.Rho
	}
	if math.Abs(spent-3*pol.DPRhoSurvival) > 1e-12 {
		t.Errorf("audit log charges ρ=%v, want 3 × %v", spent, pol.DPRhoSurvival)
	}
}

// Without split_causes (a Kaplan–Meier, or a client older than the field) a dp analyst's
// survival query on an endpoint with causes is released exactly as the Kaplan–Meier of an
// endpoint without causes: given the same noise, the reply of E (events by cause) and of OS
// (the same patients, any event) are the same, group for group and bin for bin, at the same ρ
// and with the same size SD; E's says how to ask for the split.
func TestDPSurvivalUnsplitIsKM(t *testing.T) {
	pol := DefaultPolicy()
	store := importKMAndCauses(t)
	e, dora := doraEngine(t, store, pol)
	release := func(endpoint string) protocol.Reply {
		e.sampler = dp.NewSampler(rand.NewChaCha8([32]byte{13}))
		q := protocol.Query{Version: protocol.Version, Kind: protocol.KindSurvival, ID: "q", Study: "cr", Endpoint: endpoint, GroupBy: "group"}
		return mustOK(t, handleJSON(t, e, sign(t, dora, q)))
	}
	km, unsplit := release("OS"), release("E")
	if len(unsplit.Survival.Groups) != 2 || !reflect.DeepEqual(km.Survival.Groups, unsplit.Survival.Groups) || !reflect.DeepEqual(km.Survival.MissingGroup, unsplit.Survival.MissingGroup) {
		t.Fatalf("unsplit release of E differs from the KM of OS:\n%+v\n%+v", unsplit.Survival, km.Survival)
	}
	for _, g := range unsplit.Survival.Groups {
		if g.Causes != nil {
			t.Errorf("group %s split by cause without split_causes", g.Group)
		}
	}
	a, b := *km.Policy.DP, *unsplit.Policy.DP
	a.LeftToday, a.LeftTotal, b.LeftToday, b.LeftTotal = 0, 0, 0, 0
	if a != b || a.Rho != pol.DPRhoSurvival {
		t.Errorf("dp effects: KM %+v, unsplit %+v", a, b)
	}
	if !slices.ContainsFunc(unsplit.Policy.Notes, func(n string) bool { return strings.Contains(n, "split_causes") }) {
		t.Errorf("the unsplit release does not say how to ask for the split: %q", unsplit.Policy.Notes)
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
	d, gold := competingGolden(t, "mgus2")
	store := importCompeting(t, d, true, false)
	e, dora := doraEngine(t, store, pol)
	q := protocol.Query{Version: protocol.Version, Kind: protocol.KindSurvival, ID: "q", Study: "cr", Endpoint: "E", GroupBy: "group", SplitCauses: true}
	r := mustOK(t, handleJSON(t, e, sign(t, dora, q)))
	if r.Policy.DP == nil {
		t.Fatal("not a dp release")
	}
	rc := gold.CIFCase(t, "mgus2/bin6/log")
	if len(r.Survival.Groups) != len(rc.Groups) {
		t.Fatalf("R %d groups, %d released", len(rc.Groups), len(r.Survival.Groups))
	}
	for k, g := range rc.Groups {
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
	// The client's dp path (the noise simulated into the intervals and Gray's variance, app.DPCompeting)
	// adds nothing when there is no noise: R's estimate and standard error, and Gray's test of the
	// tables (analysis.GrayTest, cmprsk's: analysis.TestGrayTestGoldens).
	res := &app.Result{Name: "cif", Request: app.Request{Kind: protocol.KindSurvival, Study: q.Study, GroupBy: q.GroupBy, Endpoint: q.Endpoint, CIF: true},
		Rounds: []app.Round{{Query: q, Replies: []protocol.Reply{r}}}}
	if err := app.Render(res); err != nil {
		t.Fatal(err)
	}
	km := res.KM
	if !km.GrayWithNoise || len(km.Gray) != 2 {
		t.Fatalf("the dp path: Gray %+v with noise %v (%q)", km.Gray, km.GrayWithNoise, km.GrayError)
	}
	for k, g := range rc.Groups {
		for c := range 2 {
			got := km.Groups[k].CIF.Causes[c]
			for j, want := range g.CIF[c] {
				if math.Abs(got.CIF[j]-want) > 1e-14 || math.Abs(got.StdErr[j]-g.StdErr[c][j]) > 1e-13 || !(got.NoiseSD[j] < 1e-12) {
					t.Fatalf("dp path, %s cause %d row %d: %v ± %v (noise SD %v), R %v ± %v", g.Group, c+1, j, got.CIF[j], got.StdErr[j], got.NoiseSD[j], want, g.StdErr[c][j])
				}
			}
		}
	}
	for c, g := range km.Gray {
		want, err := analysis.GrayTest([][]analysis.SurvivalTable{{km.Groups[0].Table, km.Groups[1].Table}}, c+1, 0)
		if err != nil || math.Abs(g.Stat-want.Stat) > 1e-9*want.Stat {
			t.Errorf("dp path, Gray's test of cause %d: %g, the tables' %g (%v)", c+1, g.Stat, want.Stat, err)
		}
	}
}

// A rule-based release (a trusted analyst) splits the events by cause whether the query asks
// or not: split_causes changes nothing there.
func TestRulesSplitWithoutAsking(t *testing.T) {
	pol := DefaultPolicy()
	store := importKMAndCauses(t)
	e, err := NewEngine(context.Background(), store, Config{InsecureOpen: true, Policy: &pol})
	if err != nil {
		t.Fatal(err)
	}
	var replies []protocol.Reply
	for _, split := range []bool{false, true} {
		q := protocol.Query{Version: protocol.Version, Kind: protocol.KindSurvival, ID: "q", Analyst: "tom", Study: "cr", Endpoint: "E", GroupBy: "group", SplitCauses: split}
		r := mustOK(t, handleJSON(t, e, q))
		if r.Policy.DP != nil || len(r.Survival.Groups) != 2 || len(r.Survival.Groups[0].Causes) != 2 {
			t.Fatalf("split_causes %v: dp %+v, reply %+v", split, r.Policy.DP, r.Survival)
		}
		replies = append(replies, r)
	}
	if !reflect.DeepEqual(replies[0].Survival, replies[1].Survival) {
		t.Errorf("split_causes changed a rule-based release")
	}
}
