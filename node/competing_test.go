package node

import (
	"context"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/oncofed/oncofed/analysis"
	"github.com/oncofed/oncofed/app"
	"github.com/oncofed/oncofed/internal/competingtest"
	"github.com/oncofed/oncofed/protocol"
)

// competingGolden reads one data set of analysis/testdata/competing_goldens.json and R's
// results on the data sets (internal/competingtest).
func competingGolden(t testing.TB, dataset string) (competingtest.Dataset, *competingtest.Goldens) {
	t.Helper()
	g := competingtest.Load(t)
	return g.Dataset(t, dataset), g
}

// importCompeting writes d as a CSV and imports it as study "cr" with endpoint E (causes
// progression and death when causes, entry column when entry).
func importCompeting(t testing.TB, d competingtest.Dataset, causes, entry bool) *SQLiteStore {
	t.Helper()
	var b strings.Builder
	b.WriteString("pid,t,st,ent,group\n")
	for i := range d.Time {
		e := 0.0
		if entry {
			e = d.Entry[i]
		}
		st := d.Status[i]
		if !causes && st > 1 {
			st = 1
		}
		fmt.Fprintf(&b, "p%d,%v,%d,%v,%s\n", i, d.Time[i], st, e, d.Group[i])
	}
	dir := t.TempDir()
	csvPath := filepath.Join(dir, "cr.csv")
	if err := os.WriteFile(csvPath, []byte(b.String()), 0o600); err != nil {
		t.Fatal(err)
	}
	spec := ImportSpec{Study: "cr", IDColumn: "pid", DataCut: "2026-01-01",
		Endpoints:  []EndpointSpec{{Name: "E", TimeColumn: "t", EventColumn: "st"}},
		Dictionary: Dictionary{Version: "1", Entries: []DictionaryEntry{{Name: "group", Categories: []string{"F", "M"}}}}}
	if causes {
		spec.Causes = map[string][]string{"E": {"progression", "death"}}
	}
	if entry {
		spec.Entry = map[string]string{"E": "ent"}
	}
	return importFile(t, filepath.Join(dir, "cr.db"), csvPath, spec)
}

// tableOf is the client's reading of a released group.
var tableOf = app.SurvivalTableOf

func survivalOf(t testing.TB, e *Engine, groupBy string) *protocol.SurvivalReply {
	t.Helper()
	q := protocol.Query{Version: protocol.Version, Kind: protocol.KindSurvival, ID: "q", Analyst: "alice", Study: "cr",
		Endpoint: "E", GroupBy: groupBy}
	r := mustOK(t, e.Handle(context.Background(), q))
	if err := protocol.ValidateReply(q, r); err != nil {
		t.Fatalf("the client refuses the reply: %v", err)
	}
	return r.Survival
}

// The node splits an exact release by cause, and the cumulative incidence of its reply equals
// R's survfit(Surv(time, factor(status)) ~ 1) per sex on survival::mgus2; the catalog lists
// the causes (in the dictionary hash) and that the endpoint has no delayed entry here.
func TestSurvivalByCauseEqualsR(t *testing.T) {
	d, gold := competingGolden(t, "mgus2")
	store := importCompeting(t, d, true, false)
	pol := ExactPolicy()
	e, err := NewEngine(context.Background(), store, Config{InsecureOpen: true, Policy: &pol})
	if err != nil {
		t.Fatal(err)
	}
	sr := survivalOf(t, e, "group")
	for i, g := range gold.CIFCase(t, "mgus2/log").Groups {
		est, err := analysis.CumulativeIncidence(tableOf(sr.Groups[i]), analysis.KMOptions{})
		if err != nil {
			t.Fatal(err)
		}
		for cause := range 2 {
			for j, want := range g.CIF[cause] {
				got := est.Causes[cause].CIF[j]
				if math.Abs(got-want) > 1e-14 || math.Abs(est.Causes[cause].StdErr[j]-g.StdErr[cause][j]) > 1e-13 {
					t.Fatalf("%s cause %d row %d: %v ± %v, R %v ± %v", g.Group, cause+1, j, got, est.Causes[cause].StdErr[j], want, g.StdErr[cause][j])
				}
			}
		}
	}
	cat := mustOK(t, e.Handle(context.Background(), protocol.Query{Version: protocol.Version, Kind: protocol.KindCatalog, ID: "c", Analyst: "alice"})).Catalog
	sc := cat.Studies[0]
	if got := sc.Endpoints[0].Causes; len(got) != 2 || got[0] != "progression" || got[1] != "death" {
		t.Errorf("catalog causes %v", got)
	}
	if len(sc.DelayedEntry) != 0 {
		t.Errorf("catalog lists delayed entry %v for an endpoint imported without --entry", sc.DelayedEntry)
	}
	plain := sc.Endpoints[0]
	plain.Causes = nil
	if protocol.DictionaryHash(sc.StudyVersion, sc.Variables, []protocol.Endpoint{plain}) == sc.DictionaryHash {
		t.Error("the dictionary hash does not cover the causes: sites declaring other causes would agree")
	}
}

// With bins of 30 days the node reports exits at the end and entries at the start of their bin,
// and the Kaplan–Meier and log-rank of its reply equal R on those coarsened times
// (survfit(Surv(floor(entry/30)·30, ceiling(exit/30)·30, status))) on mgus2 on the age scale.
func TestDelayedEntryCoarsenedEqualsR(t *testing.T) {
	d, gold := competingGolden(t, "mgus2_age")
	store := importCompeting(t, d, false, true)
	pol := ExactPolicy()
	pol.BinDays = 30
	e, err := NewEngine(context.Background(), store, Config{InsecureOpen: true, Policy: &pol})
	if err != nil {
		t.Fatal(err)
	}
	sr := survivalOf(t, e, "group")
	c := gold.EntryCase(t, "mgus2_age/bin30")
	var tables []analysis.SurvivalTable
	for i, g := range c.Groups {
		tb := tableOf(sr.Groups[i])
		tables = append(tables, tb)
		km, err := analysis.KaplanMeier(tb, analysis.KMOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if len(km.Time) != len(g.Time) {
			t.Fatalf("%s: %d rows, R %d", g.Group, len(km.Time), len(g.Time))
		}
		for j := range g.Time {
			if km.Time[j] != g.Time[j] || km.NRisk[j] != g.NRisk[j] || math.Abs(km.Surv[j]-g.Surv[j]) > 1e-12 {
				t.Fatalf("%s row %d: t %v n %d S %v; R t %v n %d S %v", g.Group, j, km.Time[j], km.NRisk[j], km.Surv[j], g.Time[j], g.NRisk[j], g.Surv[j])
			}
		}
	}
	lr, err := analysis.LogRank(tables)
	if err != nil {
		t.Fatal(err)
	}
	if math.Abs(lr.ChiSq-c.LogRank.ChiSq) > 1e-9*c.LogRank.ChiSq {
		t.Errorf("log-rank %v, R %v", lr.ChiSq, c.LogRank.ChiSq)
	}
}

// Under the default policy every released row still holds min_cell patients, its causes add
// up to its events, and every block of delayed entries holds min_cell patients and sits no
// later than any of its patients' entries.
func TestCompetingReleaseRules(t *testing.T) {
	d, _ := competingGolden(t, "lung_entry")
	for i := range d.Status { // lung: 1 = death; make every third death a second cause
		if d.Status[i] == 1 && i%3 == 0 {
			d.Status[i] = 2
		}
	}
	for i := range d.Group {
		d.Group[i] = map[string]string{"female": "F", "male": "M"}[d.Group[i]]
	}
	store := importCompeting(t, d, true, true)
	pol := DefaultPolicy()
	e, err := NewEngine(context.Background(), store, Config{InsecureOpen: true, Policy: &pol})
	if err != nil {
		t.Fatal(err)
	}
	sr := survivalOf(t, e, "group")
	for _, g := range sr.Groups {
		for k := range g.Time {
			if g.Events[k]+g.Censor[k] < pol.MinCell {
				t.Errorf("group %s row %d: %d patients", g.Group, k, g.Events[k]+g.Censor[k])
			}
		}
		if len(g.Causes) != 2 {
			t.Fatalf("group %s: %d cause columns", g.Group, len(g.Causes))
		}
		if len(g.Entries) == 0 {
			t.Fatalf("group %s: no delayed entries released", g.Group)
		}
		for k, n := range g.Entries {
			if n < pol.MinCell {
				t.Errorf("group %s entry block %d: %d patients", g.Group, k, n)
			}
		}
		if _, err := analysis.KaplanMeier(tableOf(g), analysis.KMOptions{}); err != nil {
			t.Errorf("group %s: the released table is not a valid one: %v", g.Group, err)
		}
	}
	// Block positions: each block's time is the earliest coarsened entry among its patients,
	// so the entries released at or before any time t are at least those that happened by t.
	var entries []float64
	for i := range d.Entry {
		if d.Group[i] == "F" {
			if x := coarsenEntry(d.Entry[i], pol.BinDays); x > 0 {
				entries = append(entries, x)
			}
		}
	}
	g := sr.Groups[0]
	for k, x := range g.EntryTime {
		released, happened := 0, 0
		for j := 0; j <= k; j++ {
			released += g.Entries[j]
		}
		for _, y := range entries {
			if y <= x {
				happened++
			}
		}
		if released < happened {
			t.Errorf("entry block %d at %v: %d released up to there, %d entered by then", k, x, released, happened)
		}
	}
}

// Import refuses an entry after the exit, a status that is no declared cause, and an entry
// column that is not there, each with its line and column, and stores nothing.
func TestImportCompetingErrors(t *testing.T) {
	ctx := context.Background()
	spec := ImportSpec{Study: "s", IDColumn: "pid", Endpoints: []EndpointSpec{{Name: "E", TimeColumn: "t", EventColumn: "st"}},
		Causes: map[string][]string{"E": {"relapse", "death"}}, Entry: map[string]string{"E": "ent"}}
	for _, tc := range []struct{ csv, want string }{
		{"pid,t,st,ent\n1,10,1,0\n2,20,2,25\n", `line 3: column "ent": entry time 25 is not before the exit time 20`},
		{"pid,t,st,ent\n1,10,1,0\n2,20,2,20\n", `line 3: column "ent": entry time 20 is not before the exit time 20`},
		{"pid,t,st,ent\n1,10,3,0\n", `line 2: column "st": status "3" is not 0 (censored) or a declared cause 1..2`},
		{"pid,t,st,ent\n1,10,1,-1\n", `line 2: column "ent": negative entry time -1`},
		{"pid,t,st\n1,10,1\n", `column "ent": missing column (entry of E)`},
	} {
		store := openStore(t, filepath.Join(t.TempDir(), "s.db"))
		_, err := ImportCSV(ctx, store, spec, strings.NewReader(tc.csv))
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%q: err = %v, want %q", tc.csv, err, tc.want)
		}
		var pe *protocol.Error
		if !errors.As(err, &pe) || pe.Code != protocol.CodeInvalid {
			t.Errorf("%q: error %v is not coded invalid", tc.csv, err)
		}
		if infos, _ := store.Studies(ctx); len(infos) != 0 {
			t.Errorf("%q: a refused import stored %d studies", tc.csv, len(infos))
		}
	}
	for _, s := range []string{"E", "E=1:a", "E=1:a,1:b", "E=1:a,3:b", "E=1:a,2:a", "E=0:a,1:b"} {
		if _, _, err := ParseCausesSpec(s); err == nil {
			t.Errorf("--causes %s: no error", s)
		}
	}
	if name, labels, err := ParseCausesSpec("PFS=2:death,1:progression"); err != nil || name != "PFS" || strings.Join(labels, "|") != "progression|death" {
		t.Errorf("--causes PFS=2:death,1:progression: %q %v %v", name, labels, err)
	}
}

// A stored study keeps its causes and entry times (migration 012) through a reload.
func TestCompetingStoreRoundTrip(t *testing.T) {
	d, _ := competingGolden(t, "mgus2_age")
	d.Status[0], d.Status[1] = 2, 1
	store := importCompeting(t, d, true, true)
	st, _, err := store.LoadStudy(context.Background(), "cr")
	if err != nil {
		t.Fatal(err)
	}
	ep := st.Endpoint("E")
	if strings.Join(ep.Causes, ",") != "progression,death" || len(ep.Cause) != len(d.Time) || len(ep.Entry) != len(d.Time) {
		t.Fatalf("reloaded endpoint: causes %v, %d codes, %d entries", ep.Causes, len(ep.Cause), len(ep.Entry))
	}
	for i := range d.Time {
		want := int32(d.Status[i] - 1)
		if ep.Cause[i] != want || ep.Entry[i] != d.Entry[i] || ep.Event[i] != (d.Status[i] > 0) {
			t.Fatalf("patient %d: cause %d entry %v event %v; imported status %d entry %v", i, ep.Cause[i], ep.Entry[i], ep.Event[i], d.Status[i], d.Entry[i])
		}
	}
}

// The stratified Cox form takes delayed entry: four sites of mgus2 on the age scale, each
// answering with its entries, fit R's coxph(Surv(entry, exit, status) ~ hgb + male +
// strata(site)); the pooled form is refused for a delayed-entry endpoint, from the declaration.
func TestCoxDelayedEntryBySiteEqualsR(t *testing.T) {
	d, g := competingGolden(t, "mgus2_age")
	ctx := context.Background()
	pol := ExactPolicy()
	var engines []*Engine
	for _, site := range []string{"site1", "site2", "site3", "site4"} {
		var sb strings.Builder
		sb.WriteString("pid,t,st,ent,hgb,male\n")
		for i := range d.Time {
			if d.Site[i] == site {
				fmt.Fprintf(&sb, "p%d,%v,%d,%v,%v,%v\n", i, d.Time[i], d.Status[i], d.Entry[i], d.X1[i], d.X2[i])
			}
		}
		store := openStore(t, filepath.Join(t.TempDir(), site+".db"))
		spec := ImportSpec{Study: "cr", IDColumn: "pid", Endpoints: []EndpointSpec{{Name: "E", TimeColumn: "t", EventColumn: "st"}},
			Entry: map[string]string{"E": "ent"}}
		if _, err := ImportCSV(ctx, store, spec, strings.NewReader(sb.String())); err != nil {
			t.Fatal(err)
		}
		e, err := NewEngine(ctx, store, Config{InsecureOpen: true, Policy: &pol, Site: site})
		if err != nil {
			t.Fatal(err)
		}
		engines = append(engines, e)
	}
	query := func(form protocol.CoxForm, beta []float64) protocol.Query {
		return protocol.Query{Version: protocol.Version, Kind: protocol.KindCox, ID: "c", Analyst: "alice", Study: "cr", Endpoint: "E",
			Cox: &protocol.CoxRequest{Form: form, Ties: "efron", Covariates: []string{"hgb", "male"}, Beta: beta}}
	}
	fit, err := analysis.FitCox(func(beta []float64) (analysis.CoxContribution, error) {
		var total analysis.CoxContribution
		for _, e := range engines {
			c := mustOK(t, e.Handle(ctx, query(protocol.CoxStratified, beta))).Cox
			total.Add(analysis.CoxContribution{LogLik: c.LogLik, Gradient: c.Gradient, Hessian: c.Hessian, N: c.N, Events: c.Events})
		}
		return total, nil
	}, 2, analysis.CoxOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range g.Cox {
		if c.Name != "mgus2_age/efron/site" {
			continue
		}
		for j := range 2 {
			if math.Abs(fit.Coef[j]-c.Coef[j]) > 1e-6*math.Abs(c.Coef[j]) || math.Abs(fit.SE[j]-c.SE[j]) > 1e-6*c.SE[j] {
				t.Errorf("term %d: %v (SE %v), R %v (SE %v)", j, fit.Coef[j], fit.SE[j], c.Coef[j], c.SE[j])
			}
		}
	}
	r := engines[0].Handle(ctx, query(protocol.CoxPooledSums, []float64{0, 0}))
	if r.Error == nil || !strings.Contains(r.Error.Message, "delayed entry") {
		t.Errorf("pooled form of a delayed-entry endpoint: %+v", r.Error)
	}
}
