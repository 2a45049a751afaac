package node

import (
	"bytes"
	"cmp"
	"context"
	"flag"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/oncofed/oncofed/analysis"
	"github.com/oncofed/oncofed/app"
	"github.com/oncofed/oncofed/protocol"
	"github.com/oncofed/oncofed/synth"
)

// The end-to-end utility of the dp role's Kaplan–Meier releases: a cohort is imported into
// real site databases, a dp analyst asks the same KM query many times, every site's reply is
// merged by app.Render (what the desktop and the CLI do with replies), and the pooled curve is
// compared with the one a trusted analyst gets from exact releases (ExactPolicy) of the same
// databases. `go test ./node -run TestDPUtility -dputility -v` prints the tables of README's
// "Differential privacy: what it costs"; without the flag a smoke run of a few releases checks
// that the harness works.

var (
	dpUtilityFlag = flag.Bool("dputility", false, "measure DP Kaplan–Meier releases against exact ones end to end (a few minutes)")
	dpUtilityReps = flag.Int("dputility.reps", 200, "releases per cohort and ρ in the -dputility measurement")
)

// utilityCohort is a cohort as its sites hold it: one CSV per site.
type utilityCohort struct {
	name     string
	study    string
	endpoint string // the measured endpoint ("" = OS)
	group    string // the two-group comparison's variable
	sites    []utilitySite
}

type utilitySite struct {
	name string
	csv  []byte
	spec ImportSpec
}

// lungCohort is the NCCTG lung data as one site, or as its 18 institutions.
func lungCohort(t testing.TB, split bool) utilityCohort {
	t.Helper()
	c := utilityCohort{name: "lung, 1 site", study: "lung", group: "sex"}
	if !split {
		c.sites = []utilitySite{{name: "lung", csv: readFile(t, lungCSV), spec: lungSpec}}
		return c
	}
	c.name = "lung, 18 sites"
	sites, paths := splitLung(t, t.TempDir())
	for k, s := range sites {
		c.sites = append(c.sites, utilitySite{name: s, csv: readFile(t, paths[k]), spec: lungSpec})
	}
	return c
}

// synthCohort is a synthetic NSCLC cohort of n patients over the given number of sites (the
// generator's unequal academic and community sizes).
func synthCohort(t testing.TB, n, sites int) utilityCohort {
	t.Helper()
	return synthStudyCohort(t, synth.NSCLC, "NSCLC", n, sites)
}

// synthStudyCohort is synthCohort of another synthetic study, named label in the tables; the
// endpoints keep their competing causes (mesothelioma's and myeloma's PFS).
func synthStudyCohort(t testing.TB, study synth.Study, label string, n, sites int) utilityCohort {
	t.Helper()
	g, err := synth.New(synth.Spec{Study: study, Patients: n, Sites: sites, Seed: 1})
	if err != nil {
		t.Fatal(err)
	}
	c := utilityCohort{name: fmt.Sprintf("%s %d, %d site", label, n, sites), study: string(study), group: "sex"}
	if sites > 1 {
		c.name += "s"
	}
	// The study's declared dictionary (categories such as sex's, ranges), as synth writes it
	// beside its CSVs: import refuses undeclared categorical columns.
	dict, err := ReadDictionary(bytes.NewReader(g.Schema().Dictionary()))
	if err != nil {
		t.Fatal(err)
	}
	for i, s := range g.Sites() {
		var buf bytes.Buffer
		if err := g.WriteCSV(&buf, i); err != nil {
			t.Fatal(err)
		}
		is := g.ImportSpec(i)
		spec := ImportSpec{Study: is.Study, IDColumn: is.IDColumn, DataCut: is.DataCut.Format("2006-01-02"), Site: is.Site, Dictionary: dict, Causes: is.Causes}
		for _, ep := range is.Endpoints {
			spec.Endpoints = append(spec.Endpoints, EndpointSpec{Name: ep.Name, TimeColumn: ep.TimeColumn, EventColumn: ep.EventColumn})
		}
		c.sites = append(c.sites, utilitySite{name: s.Name, csv: buf.Bytes(), spec: spec})
	}
	return c
}

func readFile(t testing.TB, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// federation is a cohort imported into one SQLite database per site, each served by an
// engine under the dp policy (dora, role dp) and one under ExactPolicy (tom, trusted).
type federation struct {
	cohort    utilityCohort
	stores    []*SQLiteStore
	dp, exact []*Engine
	analysts  *Analysts
	clock     *fixedClock
	policy    protocol.Policy // the dp engines'

	dora, tom *protocol.Signer
}

// dpUtilityPolicy is the default policy with ρ per KM query rho and budgets (ρ and the daily
// number of queries) that never stop the measurement.
func dpUtilityPolicy(rho float64) protocol.Policy {
	pol := DefaultPolicy()
	pol.DPRhoSurvival = rho
	pol.DPRhoDaily, pol.DPRhoTotal = 1e9, 1e9
	pol.DailyQueryBudget = 0 // unlimited
	return pol
}

func newFederation(t *testing.T, c utilityCohort, rho float64) *federation {
	t.Helper()
	clock := &fixedClock{t: time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)}
	a, err := ParseAnalysts(strings.NewReader("dora " + pubText(testKey(4)) + "\ntom " + pubText(testKey(5)) + " trusted\n"))
	if err != nil {
		t.Fatal(err)
	}
	f := &federation{cohort: c, analysts: a, clock: clock,
		dora: protocol.NewSigner(testKey(4), clock.now), tom: protocol.NewSigner(testKey(5), clock.now)}
	dir := t.TempDir()
	exact := ExactPolicy()
	for _, s := range c.sites {
		store := openStore(t, filepath.Join(dir, s.name+".db"))
		if _, err := ImportCSV(context.Background(), store, s.spec, bytes.NewReader(s.csv)); err != nil {
			t.Fatalf("import %s: %v", s.name, err)
		}
		e, err := NewEngine(context.Background(), store, Config{Site: s.name, Policy: &exact, Now: clock.now, Analysts: a})
		if err != nil {
			t.Fatal(err)
		}
		f.stores, f.exact = append(f.stores, store), append(f.exact, e)
	}
	f.setRho(t, rho)
	return f
}

// setRho serves the dp analyst from new engines at ρ = rho per KM query.
func (f *federation) setRho(t *testing.T, rho float64) {
	t.Helper()
	f.setPolicy(t, dpUtilityPolicy(rho))
}

// setPolicy serves the dp analyst from new engines under pol.
func (f *federation) setPolicy(t *testing.T, pol protocol.Policy) {
	t.Helper()
	f.policy = pol
	f.dp = f.dp[:0]
	for k, s := range f.cohort.sites {
		e, err := NewEngine(context.Background(), f.stores[k], Config{Site: s.name, Policy: &pol, Now: f.clock.now, Analysts: f.analysts})
		if err != nil {
			t.Fatal(err)
		}
		f.dp = append(f.dp, e)
	}
}

// kmQuery is the measured query: the cohort's endpoint (OS unless it names another) of the
// whole study, by the cohort's group when grouped.
func (f *federation) kmQuery(grouped bool) protocol.Query {
	ep := cmp.Or(f.cohort.endpoint, "OS")
	q := protocol.Query{Version: protocol.Version, Kind: protocol.KindSurvival, ID: "q", Analyst: "x", Study: f.cohort.study, Endpoint: ep}
	if grouped {
		q.GroupBy = f.cohort.group
	}
	return q
}

// ask sends q, signed by s, to every engine and renders the answered replies as the client
// does; refused counts the sites that refused as too small (any other refusal fails the test).
func ask(t *testing.T, engines []*Engine, s *protocol.Signer, q protocol.Query) (km *app.KMResult, refused int) {
	t.Helper()
	var replies []protocol.Reply
	for _, e := range engines {
		r := handleJSON(t, e, sign(t, s, q))
		if r.Error != nil {
			if r.Error.Code != protocol.CodeRefusedByPolicy || !strings.Contains(r.Error.Message, "min_cohort") {
				t.Fatalf("site %s: %v", e.Site(), r.Error)
			}
			refused++
			continue
		}
		if err := protocol.ValidateReply(q, r); err != nil {
			t.Fatalf("site %s: the client refuses the reply: %v", e.Site(), err)
		}
		replies = append(replies, r)
	}
	if len(replies) == 0 {
		return nil, refused
	}
	res := &app.Result{Request: app.Request{Kind: protocol.KindSurvival, Study: q.Study, Endpoint: q.Endpoint, GroupBy: q.GroupBy},
		Rounds: []app.Round{{Query: q, Replies: replies}}}
	if err := app.Render(res); err != nil {
		t.Fatalf("render: %v", err)
	}
	return res.KM, refused
}

// reference is what the dp releases are compared with: the exact pooled KM (trusted role,
// exact times), the exact KM of the same patients on the dp release's public bins, and the
// grid of bin ends at which at least 50 patients are at risk.
type reference struct {
	n             int
	maxTime       float64        // the longest follow-up
	siteN         map[string]int // exact size per site
	exact, binned *analysis.KMEstimate
	grid          []float64
	exactKM       *app.KMResult // the grouped exact result, for the two-group comparison
}

func (f *federation) reference(t *testing.T) reference {
	t.Helper()
	km, refused := ask(t, f.exact, f.tom, f.kmQuery(false))
	if refused > 0 || len(km.Groups) != 1 {
		t.Fatalf("exact release: %d refused, %d groups", refused, len(km.Groups))
	}
	tab := km.Groups[0].Table
	pol := f.policy
	binned, err := analysis.KaplanMeier(binTable(tab, pol.DPBinDays, pol.DPHorizonDays), analysis.KMOptions{})
	if err != nil {
		t.Fatal(err)
	}
	ref := reference{n: tab.Total(), maxTime: tab.Time[tab.Len()-1], exact: km.Groups[0].Curve, binned: binned, siteN: map[string]int{}}
	for _, s := range km.Groups[0].PerSite {
		ref.siteN[s.Site] = s.Patients
	}
	for b := 1; float64(b)*pol.DPBinDays <= pol.DPHorizonDays+pol.DPBinDays; b++ {
		tm := float64(b) * pol.DPBinDays
		if atRiskAt(tab, tm) >= 50 {
			ref.grid = append(ref.grid, tm)
		}
	}
	if ref.exactKM, refused = ask(t, f.exact, f.tom, f.kmQuery(true)); refused > 0 {
		t.Fatalf("exact grouped release: %d refused", refused)
	}
	return ref
}

// binTable puts a table's times on the dp release's bins: time t to ⌈t/w⌉·w (at least w),
// followed past the horizon's last bin censored there — what dpSurvival does, without noise.
// The events' split by cause, if any, is binned with them.
func binTable(tab analysis.SurvivalTable, w, horizon float64) analysis.SurvivalTable {
	bins := int(math.Ceil(horizon / w))
	d, c := make([]int, bins), make([]int, bins)
	causes := make([][]int, len(tab.Causes))
	for j := range causes {
		causes[j] = make([]int, bins)
	}
	for k, tm := range tab.Time {
		b := max(int(math.Ceil(tm/w)), 1)
		if b > bins {
			c[bins-1] += tab.Events[k] + tab.Censor[k]
			continue
		}
		d[b-1] += tab.Events[k]
		c[b-1] += tab.Censor[k]
		for j := range causes {
			causes[j][b-1] += tab.Causes[j][k]
		}
	}
	out := analysis.SurvivalTable{}
	if len(causes) > 0 {
		out.Causes = make([][]int, len(causes))
	}
	for b := range bins {
		if d[b]+c[b] > 0 {
			out.Time = append(out.Time, float64(b+1)*w)
			out.Events = append(out.Events, d[b])
			out.Censor = append(out.Censor, c[b])
			for j := range causes {
				out.Causes[j] = append(out.Causes[j], causes[j][b])
			}
		}
	}
	return out
}

// atRiskAt is the number of patients whose time is at least tm.
func atRiskAt(tab analysis.SurvivalTable, tm float64) int {
	n := 0
	for k, x := range tab.Time {
		if x >= tm {
			n += tab.Events[k] + tab.Censor[k]
		}
	}
	return n
}

// survAt is the KM step function at tm (1 before the first time).
func survAt(e *analysis.KMEstimate, tm float64) float64 {
	i, _ := slices.BinarySearch(e.Time, math.Nextafter(tm, math.Inf(1)))
	if i == 0 {
		return 1
	}
	return e.Surv[i-1]
}

// maxDiff is max |a(t) − b(t)| over the grid.
func maxDiff(a, b *analysis.KMEstimate, grid []float64) float64 {
	m := 0.0
	for _, tm := range grid {
		m = max(m, math.Abs(survAt(a, tm)-survAt(b, tm)))
	}
	return m
}

// petoLogHR is the log-rank (Peto) estimate of the log hazard ratio of the second group
// against the first, (O₂ − E₂)/V₂₂, and the log-rank χ².
func petoLogHR(km *app.KMResult) (logHR, chi2 float64, ok bool) {
	lr := km.LogRank
	if lr == nil || len(lr.Observed) != 2 {
		return 0, 0, false
	}
	v := lr.Variance[3]
	if !(v > 0) {
		return 0, 0, false
	}
	return (lr.Observed[1] - lr.Expected[1]) / v, lr.ChiSq, true
}

// medianGap is the difference of the two groups' median survival (second minus first).
func medianGap(km *app.KMResult) float64 {
	if len(km.Groups) != 2 {
		return math.NaN()
	}
	return km.Groups[1].Median.Time - km.Groups[0].Median.Time
}
