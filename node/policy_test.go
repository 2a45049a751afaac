package node

import (
	"context"
	"fmt"
	"math"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/oncofed/oncofed/analysis"
	"github.com/oncofed/oncofed/protocol"
)

func TestParsePolicy(t *testing.T) {
	p, err := ParsePolicy([]byte(`{"min_cohort":0,"min_cell":0,"bin_days":0,"overlap_guard":false}`))
	if err != nil || p != ExactPolicy() {
		t.Errorf("the issue's exact policy parsed as %+v, %v; want everything off", p, err)
	}
	p, err = ParsePolicy([]byte(`{"min_cell":11}`))
	if want := DefaultPolicy(); err != nil || p.MinCell != 11 || p.MinCohort != want.MinCohort || !p.OverlapGuard || p.DailyQueryBudget != 500 || p.EventsPerCoxCovariate != 10 {
		t.Errorf("partial policy %+v, %v: absent fields must keep the safe defaults", p, err)
	}
	for _, bad := range []string{`{"min_cel":3}`, `{"min_cell":-1}`, `[1]`, `{"bin_days":"x"}`} {
		if _, err := ParsePolicy([]byte(bad)); err == nil {
			t.Errorf("%s accepted", bad)
		}
	}
	// allow_pooled_cox: true in the exact policy unless it says otherwise, false in any other
	// unless it says so.
	for doc, want := range map[string]bool{
		`{"min_cohort":0,"min_cell":0,"bin_days":0,"overlap_guard":false}`:                          true,
		`{"min_cohort":0,"min_cell":0,"bin_days":0,"overlap_guard":false,"allow_pooled_cox":false}`: false,
		`{"min_cell":11}`:           false,
		`{}`:                        false,
		`{"allow_pooled_cox":true}`: true,
	} {
		if p, err := ParsePolicy([]byte(doc)); err != nil || p.AllowPooledCox != want {
			t.Errorf("%s: allow_pooled_cox %v (%v), want %v", doc, p.AllowPooledCox, err, want)
		}
	}
	if DefaultPolicy().AllowPooledCox || !ExactPolicy().AllowPooledCox {
		t.Errorf("DefaultPolicy must refuse the pooled Cox form, ExactPolicy allow it")
	}
	if p, err := LoadPolicy(""); err != nil || p != DefaultPolicy() {
		t.Errorf("no policy file: %+v", p)
	}
}

// Attack: ask for the size of a cohort of 1–4 patients (ecog3 has one patient in lung).
func TestAttackSmallCohort(t *testing.T) {
	ctx := context.Background()
	e, _ := lungEngine(t, DefaultPolicy(), nil)
	for _, f := range []*protocol.Filter{
		eq("ecog", "ecog3"), // 1 patient
		and(eq("sex", "female"), rng("age", fp(76), nil)), // 2 patients (ages 76, 77)
		and(eq("sex", "female"), rng("age", fp(75), nil)), // 6 patients: below min_cohort 10 too
	} {
		for _, kind := range []protocol.Kind{protocol.KindCount, protocol.KindSummary, protocol.KindSurvival} {
			q := query(kind)
			q.Cohort = f
			q.Endpoint = "OS"
			if kind == protocol.KindSummary {
				q.Variables = []string{"age"}
			}
			r := e.Handle(ctx, q)
			wantCode(t, r, protocol.CodeRefusedByPolicy)
			// The refusal must not tell the size.
			if r.Error.Message != "cohort has fewer than min_cohort=10 patients" {
				t.Errorf("refusal %q", r.Error.Message)
			}
		}
	}
}

// Attack: read a small group's count off a grouped count, directly or as total minus the rest.
func TestAttackSmallCells(t *testing.T) {
	ctx := context.Background()
	e, _ := lungEngine(t, DefaultPolicy(), nil)
	q := query(protocol.KindCount)
	q.GroupBy = "ecog"
	r := mustOK(t, e.Handle(ctx, q))
	c := r.Count
	// ecog3 (1 patient) and missing (1) are suppressed, shown as suppressed and never as a number.
	if !c.Groups["ecog3"].Suppressed || c.Groups["ecog3"].N != 0 || !c.Missing.Suppressed {
		t.Fatalf("small cells released: %+v", c)
	}
	// Their sum, 2, would follow from the total minus the rest and give both away: the smallest
	// other cell (ecog2, 49) is suppressed too.
	if r.Policy.SuppressedCells != 3 || !c.Groups["ecog2"].Suppressed || c.Groups["ecog1"].N != 113 || c.Groups["ecog0"].N != 63 {
		t.Errorf("suppressed %d cells, %+v", r.Policy.SuppressedCells, c)
	}
	// Cohort "male": ecog3 1, missing 1 again; cohort "ecog≠ecog0 ∧ male ∧ age ≥ 50" etc.: every
	// partition must show zero or at least two suppressed cells, so no cell is total minus the rest.
	for _, f := range []*protocol.Filter{nil, eq("sex", "male"), rng("age", fp(50), nil), rng("age", fp(65), nil), rng("karno", fp(90), nil)} {
		q.Cohort = f
		r := e.Handle(ctx, q)
		if r.Error != nil {
			continue
		}
		n := 0
		for _, g := range r.Count.Groups {
			if g.Suppressed {
				n++
			}
		}
		if r.Count.Missing.Suppressed {
			n++
		}
		if n == 1 {
			t.Errorf("cohort %+v: exactly one suppressed cell can be recovered by subtraction: %+v", f, r.Count)
		}
		// The suppressed cells' sum (total minus the released cells) is not a small number.
		if n > 0 {
			rest := r.Count.Total.N - r.Count.Missing.N
			for _, g := range r.Count.Groups {
				rest -= g.N
			}
			if rest < 5 {
				t.Errorf("cohort %+v: the suppressed cells sum to %d", f, rest)
			}
		}
	}
}

func TestSuppressPartition(t *testing.T) {
	cases := []struct {
		cells []int
		want  []bool // suppressed
	}{
		{[]int{50, 3, 20}, []bool{false, true, true}},           // secondary: the smallest other non-zero
		{[]int{50, 3, 2, 20}, []bool{false, true, true, false}}, // two already: no secondary
		{[]int{50, 0, 20}, []bool{false, false, false}},         // zero is released as zero
		{[]int{5, 4, 0}, []bool{true, true, false}},
		{[]int{1, 1, 18}, []bool{true, true, true}},            // 1+1 < 5 would give both away: add more
		{[]int{1, 1, 30, 18}, []bool{true, true, false, true}}, // the smallest other cell is enough
		{[]int{3, 2, 40}, []bool{true, true, false}},           // 3+2 reaches min_cell: enough
	}
	for _, c := range cases {
		got, n := suppressPartition(c.cells, 5)
		k := 0
		for i := range got {
			if got[i].Suppressed != c.want[i] || (got[i].Suppressed && got[i].N != 0) || (!got[i].Suppressed && got[i].N != c.cells[i]) {
				t.Errorf("%v: cell %d released as %+v", c.cells, i, got[i])
			}
			if c.want[i] {
				k++
			}
		}
		if n != k {
			t.Errorf("%v: reported %d suppressed, want %d", c.cells, n, k)
		}
	}
}

// Attack: isolate one patient with fine histogram edges, or a numeric variable present for a
// handful of patients (their Σx, Σx² would give the values away).
func TestAttackFineBins(t *testing.T) {
	ctx := context.Background()
	e, _ := lungEngine(t, DefaultPolicy(), nil)
	q := query(protocol.KindSummary)
	q.Cohort = eq("sex", "female")
	q.Variables = []string{"age"}
	// The oldest woman is 77, the next 76: edges 76.5 and 78 put her alone in one cell.
	q.Bins = []protocol.HistogramSpec{{Variable: "age", Edges: []float64{76.5, 78}}}
	r := mustOK(t, e.Handle(ctx, q))
	h := r.Summary.Groups[0].Variables[0].Histogram
	if !h[1].Suppressed || h[1].N != 0 || !h[0].Suppressed && !h[2].Suppressed {
		t.Fatalf("a one-patient cell is recoverable: %+v", h)
	}
	// Σx over a cohort whose variable is present for fewer than min_cell patients is withheld.
	// Make such a variable: cohort of 12 where only 2 have wt.loss, via a study of our own.
	store := openStore(t, filepath.Join(t.TempDir(), "s.db"))
	var b strings.Builder
	b.WriteString("pid,t,e,x\n")
	for i := 0; i < 12; i++ {
		x := ""
		if i < 2 {
			x = []string{"61.5", "48"}[i]
		}
		b.WriteString(strings.Join([]string{string(rune('a' + i)), "10", "1", x}, ",") + "\n")
	}
	if _, err := ImportCSV(ctx, store, ImportSpec{Study: "s", IDColumn: "pid", Endpoints: []EndpointSpec{{"OS", "t", "e"}}}, strings.NewReader(b.String())); err != nil {
		t.Fatal(err)
	}
	pol := DefaultPolicy()
	e2, _ := NewEngine(ctx, store, Config{InsecureOpen: true, Policy: &pol})
	q = protocol.Query{Version: protocol.Version, Kind: protocol.KindSummary, Study: "s", Variables: []string{"x"}}
	v := mustOK(t, e2.Handle(ctx, q)).Summary.Groups[0].Variables[0]
	if !v.N.Suppressed || v.Sum != 0 || v.SumSq != 0 || !v.Missing.Suppressed {
		t.Errorf("two values leak through n/Σx/Σx²: %+v", v)
	}
}

// Survival under the default policy: times on the 7-day grid, every released row holds at least
// min_cell events plus censorings, no row once fewer than min_cell are at risk, and the table
// still accounts for every patient (so the pooled table stays valid).
func TestSurvivalPolicy(t *testing.T) {
	ctx := context.Background()
	e, _ := lungEngine(t, DefaultPolicy(), nil)
	q := query(protocol.KindSurvival)
	q.Endpoint = "OS"
	q.GroupBy = "sex"
	r := mustOK(t, e.Handle(ctx, q))
	if r.Policy.BinDays != 7 || r.Policy.MergedRows == 0 || r.Policy.TruncatedAfter == nil {
		t.Errorf("effects %+v: want 7-day bins, merged rows and a truncated tail", r.Policy)
	}
	total := 0
	for _, g := range r.Survival.Groups {
		tab := toTable(g)
		if err := tab.Validate(); err != nil {
			t.Fatal(err)
		}
		risk := tab.AtRisk()
		for k := range g.Time {
			if int(g.Time[k])%7 != 0 {
				t.Errorf("group %s time %v not on the 7-day grid", g.Group, g.Time[k])
			}
			if g.Events[k]+g.Censor[k] < 5 {
				t.Errorf("group %s row %d holds %d subjects", g.Group, k, g.Events[k]+g.Censor[k])
			}
			if risk[k] < 5 {
				t.Errorf("group %s row %d released with %d at risk", g.Group, k, risk[k])
			}
		}
		total += tab.Total()
	}
	if total != 227 {
		t.Errorf("tables hold %d patients, want 227", total)
	}
	// Up to the truncation time the released curve is the 7-day-binned curve with merged rows:
	// at each released time the number at risk equals the exact binned table's.
	pol := ExactPolicy()
	pol.BinDays = 7
	exact, _ := lungEngine(t, pol, nil)
	x := mustOK(t, exact.Handle(ctx, q))
	for gi, g := range r.Survival.Groups {
		xt := toTable(x.Survival.Groups[gi])
		xr := xt.AtRisk()
		risk := toTable(g).AtRisk()
		prev, j := -1.0, 0
		for k, tm := range g.Time {
			// The released row at tm gathers the bins after the previous released time, so its
			// number at risk is the exact one at the first of those bins.
			for j < len(xt.Time) && xt.Time[j] <= prev {
				j++
			}
			if risk[k] != xr[j] {
				t.Errorf("group %s row %d (t=%v): %d at risk, exact binned table %d", g.Group, k, tm, risk[k], xr[j])
			}
			prev = tm
		}
	}
}

func TestReleaseSurvivalMergeAndTruncate(t *testing.T) {
	// Hand-made table: times 1..6 with (d, c) = (1,0) (1,1) (3,0) (0,1) (2,0) (1,1); 12 subjects.
	tab := analysis.SurvivalTable{Time: []float64{1, 2, 3, 4, 5, 6}, Events: []int{1, 1, 3, 0, 2, 1}, Censor: []int{0, 1, 0, 1, 0, 1}}
	g, merged, tr := releaseSurvival(tab, 3)
	// Rows 1–2 merge into time 2 (d=2, c=1: 3 subjects); row 3 alone (3); rows 4–5 merge into 5
	// (d=2, c=1); then 2 remain at risk (< 3): truncated after 5, folded in as censorings.
	wantT, wantD, wantC := []float64{2, 3, 5}, []int{2, 3, 2}, []int{1, 0, 3}
	if len(g.Time) != 3 || tr == nil || *tr != 5 || merged != 2 {
		t.Fatalf("released %+v merged %d truncated %v", g, merged, tr)
	}
	for k := range wantT {
		if g.Time[k] != wantT[k] || g.Events[k] != wantD[k] || g.Censor[k] != wantC[k] {
			t.Errorf("row %d: (%v,%d,%d), want (%v,%d,%d)", k, g.Time[k], g.Events[k], g.Censor[k], wantT[k], wantD[k], wantC[k])
		}
	}
	// min_cell 0: released unchanged.
	g, merged, tr = releaseSurvival(tab, 0)
	if len(g.Time) != 6 || merged != 0 || tr != nil {
		t.Errorf("exact release changed the table")
	}
}

// Attack (differencing): the count of cohort A, then of A minus one patient — here the
// oldest woman removed with a numeric range — gives her away by subtraction.
func TestAttackDifferencing(t *testing.T) {
	ctx := context.Background()
	e, store := lungEngine(t, DefaultPolicy(), nil)
	a := query(protocol.KindCount)
	a.Cohort = eq("sex", "female")
	if n := mustOK(t, e.Handle(ctx, a)).Count.Total.N; n != 90 {
		t.Fatalf("A has %d patients, want 90", n)
	}
	minusOne := query(protocol.KindSurvival)
	minusOne.Endpoint = "OS"
	minusOne.Cohort = and(eq("sex", "female"), rng("age", nil, fp(76))) // all women but the 77-year-old
	wantCode(t, e.Handle(ctx, minusOne), protocol.CodeRefusedByPolicy)
	minusOne.Kind = protocol.KindCount
	minusOne.Endpoint = ""
	wantCode(t, e.Handle(ctx, minusOne), protocol.CodeRefusedByPolicy)
	// Via "not": A minus the patients aged exactly 77.
	notOld := query(protocol.KindCount)
	notOld.Cohort = and(eq("sex", "female"), &protocol.Filter{Op: protocol.OpNot, Args: []*protocol.Filter{rng("age", fp(77), fp(77))}})
	wantCode(t, e.Handle(ctx, notOld), protocol.CodeRefusedByPolicy)
	// Via a group: count everyone by sex (releases the set "female"), then is the same.
	// A minus 6 (women aged 75+) differs by ≥ min_cell: allowed.
	minusSix := query(protocol.KindCount)
	minusSix.Cohort = and(eq("sex", "female"), rng("age", nil, fp(74)))
	if n := mustOK(t, e.Handle(ctx, minusSix)).Count.Total.N; n != 84 {
		t.Fatalf("A minus six: %d", n)
	}
	// The same set again is no attack.
	mustOK(t, e.Handle(ctx, a))
	// Another analyst has not seen A: allowed for her (the guard is per analyst).
	bob := minusOne
	bob.Analyst = "bob"
	mustOK(t, e.Handle(ctx, bob))
	// The guard survives a restart of the node.
	pol := DefaultPolicy()
	e2, err := NewEngine(ctx, store, Config{InsecureOpen: true, Policy: &pol})
	if err != nil {
		t.Fatal(err)
	}
	wantCode(t, e2.Handle(ctx, minusOne), protocol.CodeRefusedByPolicy)
	// Through groups: count by sex releases the set "male"; then males minus one is refused.
	g := query(protocol.KindCount)
	g.Analyst = "carol"
	g.GroupBy = "sex"
	mustOK(t, e.Handle(ctx, g))
	m1 := query(protocol.KindCount)
	m1.Analyst = "carol"
	m1.Cohort = and(eq("sex", "male"), &protocol.Filter{Op: protocol.OpPresent, Var: "ecog"}) // drops the one male without ecog
	wantCode(t, e.Handle(ctx, m1), protocol.CodeRefusedByPolicy)
	// With the guard off the same attack is answered (the test can fail).
	off := DefaultPolicy()
	off.OverlapGuard = false
	e3, _ := lungEngine(t, off, nil)
	mustOK(t, e3.Handle(ctx, a))
	mustOK(t, e3.Handle(ctx, minusOne))
}

// Attack: exhaust the node with queries (e.g. to difference many near-identical cohorts).
func TestAttackBudget(t *testing.T) {
	ctx := context.Background()
	clock := &fixedClock{t: time.Date(2026, 3, 1, 23, 0, 0, 0, time.UTC)}
	pol := DefaultPolicy()
	pol.DailyQueryBudget = 3
	e, _ := lungEngine(t, pol, clock)
	q := query(protocol.KindCount)
	for i := 0; i < 3; i++ {
		mustOK(t, e.Handle(ctx, q))
	}
	// Catalog queries are free.
	mustOK(t, e.Handle(ctx, protocol.Query{Version: protocol.Version, Kind: protocol.KindCatalog, Analyst: "alice"}))
	wantCode(t, e.Handle(ctx, q), protocol.CodeRefusedByPolicy)
	other := q
	other.Analyst = "bob"
	mustOK(t, e.Handle(ctx, other))
	clock.t = clock.t.Add(2 * time.Hour) // next UTC day
	mustOK(t, e.Handle(ctx, q))
}

// Attack: a Cox model with as many columns as events reconstructs patients' covariates.
func TestAttackCoxCovariates(t *testing.T) {
	ctx := context.Background()
	e, _ := lungEngine(t, DefaultPolicy(), nil)
	q := query(protocol.KindCox)
	q.Endpoint = "OS"
	// ecog2 patients: 49 with 43 events; 5 columns (sex, age, karno, wt.loss, site has 18 levels
	// → 17 columns) need 220 events at 10 per column.
	q.Cohort = eq("ecog", "ecog2")
	q.Cox = &protocol.CoxRequest{Form: protocol.CoxStratified, Ties: "efron", Covariates: []string{"sex", "age", "karno", "wt.loss", "site"}}
	r := e.Handle(ctx, q)
	wantCode(t, r, protocol.CodeRefusedByPolicy)
	if !strings.Contains(r.Error.Message, "events") {
		t.Errorf("refusal %q does not say why", r.Error.Message)
	}
	// Two columns need 20 events: allowed.
	q.Cox.Covariates = []string{"sex", "age"}
	c := mustOK(t, e.Handle(ctx, q)).Cox
	if len(c.Gradient) != 2 || c.Events == 0 {
		t.Errorf("reply %+v", c)
	}
}

// Under a protective policy each pooled Cox row sums over at least min_cell subjects, and its
// events and its censorings each number zero or at least min_cell (the E sums and R−E cover
// them separately).
func TestCoxPooledRowsPolicy(t *testing.T) {
	ctx := context.Background()
	pol := DefaultPolicy()
	pol.AllowPooledCox = true
	e, _ := lungEngine(t, pol, nil)
	q := query(protocol.KindCox)
	q.Endpoint = "OS"
	q.Cox = &protocol.CoxRequest{Form: protocol.CoxPooledSums, Ties: "efron", Covariates: []string{"age"}, Beta: []float64{0}}
	r := mustOK(t, e.Handle(ctx, q))
	c := r.Cox
	subjects, events := 0, 0
	for k, row := range c.Rows {
		// β = 0: R0 counts the row's subjects, E0 its events.
		n, d := int(math.Round(row.R0)), row.D
		if n < 5 || int(row.Time)%7 != 0 || (d != 0 && d < 5) || (n-d != 0 && n-d < 5) || math.Round(row.E0) != float64(d) {
			t.Errorf("row %d at %v: %d subjects, %d events", k, row.Time, n, d)
		}
		subjects += n
		events += d
	}
	if subjects != c.N || events != c.Events || c.N != 227 || r.Policy.TruncatedAfter == nil {
		t.Errorf("rows hold %d subjects and %d events; reply N %d events %d, effects %+v", subjects, events, c.N, c.Events, r.Policy)
	}
}

func TestReleaseBlocksStrict(t *testing.T) {
	// (d, c) per time: (1,0) (1,1) (3,0) (0,1) (2,0) (1,1) (0,2); minCell 3.
	tab := analysis.SurvivalTable{Time: []float64{1, 2, 3, 4, 5, 6, 7}, Events: []int{1, 1, 3, 0, 2, 1, 0}, Censor: []int{0, 1, 0, 1, 0, 1, 2}}
	g, _, tr := releaseBlocks(tab, 3, true)
	// Rows 1–3 give (5,1): censorings 1 < 3, so row 4 joins: (5,2), row 5: (7,2), row 6: (8,3) at
	// time 6 — every component ≥ 3. Row 7 (0,2) is left: 2 censorings folded into time 6 → (8,5).
	if len(g.Time) != 1 || g.Time[0] != 6 || g.Events[0] != 8 || g.Censor[0] != 5 || tr == nil || *tr != 6 {
		t.Fatalf("strict release %+v, truncated %v", g, tr)
	}
	// A table whose tail would leave a row with 1..2 censorings folds that row back.
	tab = analysis.SurvivalTable{Time: []float64{1, 2, 3}, Events: []int{3, 3, 1}, Censor: []int{0, 0, 0}}
	g, _, tr = releaseBlocks(tab, 3, true)
	// (3,0) at 1, (3,0) at 2, then 1 event left: censored at 2 → (3,1) violates, so the row at 2
	// folds back: 4 censorings at 1 → (3,4).
	if len(g.Time) != 1 || g.Time[0] != 1 || g.Events[0] != 3 || g.Censor[0] != 4 || *tr != 1 {
		t.Fatalf("strict release %+v", g)
	}
	for _, g := range []protocol.SurvivalGroup{g} {
		for k := range g.Time {
			if d, c := g.Events[k], g.Censor[k]; (d != 0 && d < 3) || (c != 0 && c < 3) {
				t.Errorf("row %d (%d,%d)", k, d, c)
			}
		}
	}
}

// Two node processes serving one database (load-balanced by the hub) share the guard, the
// budget and one audit chain: the differencing attack split across them is still refused.
func TestAttackDifferencingAcrossProcesses(t *testing.T) {
	ctx := context.Background()
	dbPath := filepath.Join(t.TempDir(), "lung.db")
	importFile(t, dbPath, lungCSV, lungSpec)
	pol := DefaultPolicy()
	pol.DailyQueryBudget = 3
	var engines []*Engine
	for i := 0; i < 2; i++ {
		e, err := NewEngine(ctx, openStore(t, dbPath), Config{InsecureOpen: true, Policy: &pol}) // its own connection
		if err != nil {
			t.Fatal(err)
		}
		engines = append(engines, e)
	}
	a := query(protocol.KindCount)
	a.Cohort = eq("sex", "female")
	mustOK(t, engines[0].Handle(ctx, a))
	minusOne := query(protocol.KindCount)
	minusOne.Cohort = and(eq("sex", "female"), rng("age", nil, fp(76)))
	wantCode(t, engines[1].Handle(ctx, minusOne), protocol.CodeRefusedByPolicy)
	mustOK(t, engines[1].Handle(ctx, a))
	// Budget 3 spent across both processes (the refusal above counts too).
	wantCode(t, engines[0].Handle(ctx, a), protocol.CodeRefusedByPolicy)
	if _, err := VerifyAudit(ctx, engines[0].store); err != nil {
		t.Fatal(err)
	}
}

// Attack (differencing through the cells of a summary): the cells of a categorical variable
// and of a histogram are patient sets whose counts are released, like the groups of a count.
// A histogram with its edge at 67, then at 68, gives away how many women are aged exactly 67
// (one, lung.csv), as the cohorts "age < 67" and "age < 68" would; and the cell "female" of
// a summary of sex, then the cohort of all women but one, gives that woman away.
func TestAttackDifferencingThroughCells(t *testing.T) {
	ctx := context.Background()
	e, _ := lungEngine(t, DefaultPolicy(), nil)
	hist := func(edge float64) protocol.Query {
		q := query(protocol.KindSummary)
		q.Cohort = eq("sex", "female")
		q.Variables = []string{"age"}
		q.Bins = []protocol.HistogramSpec{{Variable: "age", Edges: []float64{edge}}}
		return q
	}
	r := mustOK(t, e.Handle(ctx, hist(67)))
	// lung.csv: 63 women are younger than 67, 27 are 67 or older (awk over the file).
	if h := r.Summary.Groups[0].Variables[0].Histogram; h[0].N != 63 || h[1].N != 27 {
		t.Fatalf("histogram %+v, want 63 and 27", h)
	}
	// The edge moved by one year: the women aged 67 would be 63's cell minus the new one. The
	// Table 1 is answered with those linked cells suppressed (table1.go), so neither gives
	// their number: it is no longer "total minus the rest" either.
	r68 := mustOK(t, e.Handle(ctx, hist(68)))
	if h := r68.Summary.Groups[0].Variables[0].Histogram; !h[0].Suppressed || !h[1].Suppressed || !h[0].Linked || r68.Policy.LinkedCells != 2 {
		t.Fatalf("histogram at 68 %+v (policy %+v), want both cells suppressed as linked", h, r68.Policy)
	}

	s := query(protocol.KindSummary)
	s.Analyst = "bob"
	s.Variables = []string{"sex"}
	mustOK(t, e.Handle(ctx, s))
	minusOne := query(protocol.KindCount)
	minusOne.Analyst = "bob"
	minusOne.Cohort = and(eq("sex", "female"), rng("age", nil, fp(76))) // all women but the 77-year-old
	wantCode(t, e.Handle(ctx, minusOne), protocol.CodeRefusedByPolicy)

	// With the guard off both are answered (the test can fail).
	off := DefaultPolicy()
	off.OverlapGuard = false
	e2, _ := lungEngine(t, off, nil)
	mustOK(t, e2.Handle(ctx, hist(67)))
	if h := mustOK(t, e2.Handle(ctx, hist(68))).Summary.Groups[0].Variables[0].Histogram; h[0].Suppressed {
		t.Fatalf("histogram at 68 without the guard %+v, want it released", h)
	}
}

// Attack (differencing through the missing cell): the count of patients whose grouping value
// is missing is a released patient set like the groups; the cohort of those patients minus
// one must be refused after it.
func TestAttackDifferencingThroughMissingCell(t *testing.T) {
	ctx := context.Background()
	var b strings.Builder
	b.WriteString("id,age,grp,time,event\n")
	for i := 1; i <= 39; i++ {
		grp := ""
		switch {
		case i <= 12:
			grp = "a"
		case i <= 24:
			grp = "b"
		}
		fmt.Fprintf(&b, "%d,%d,%s,%d,%d\n", i, i, grp, 10*i, i%2)
	}
	dir := t.TempDir()
	spec := ImportSpec{Study: "s", IDColumn: "id", Endpoints: []EndpointSpec{{Name: "OS", TimeColumn: "time", EventColumn: "event"}}, Dictionary: declare("grp=a,b")}
	store := importFile(t, filepath.Join(dir, "s.db"), writeFile(t, dir, "s.csv", b.String()), spec)
	pol := DefaultPolicy()
	e, err := NewEngine(ctx, store, Config{InsecureOpen: true, Policy: &pol})
	if err != nil {
		t.Fatal(err)
	}
	for _, kind := range []protocol.Kind{protocol.KindCount, protocol.KindSurvival} {
		q := protocol.Query{Version: protocol.Version, Kind: kind, ID: "q", Analyst: "alice-" + string(kind), Study: "s", GroupBy: "grp"}
		if kind == protocol.KindSurvival {
			q.Endpoint = "OS"
		}
		r := mustOK(t, e.Handle(ctx, q))
		var missing protocol.Count
		if r.Count != nil {
			missing = r.Count.Missing
		} else {
			missing = r.Survival.MissingGroup
		}
		if missing.N != 15 {
			t.Fatalf("%s: missing group %+v, want 15 (ids 25..39)", kind, missing)
		}
		minusOne := protocol.Query{Version: protocol.Version, Kind: protocol.KindCount, ID: "q", Analyst: q.Analyst, Study: "s",
			Cohort: and(&protocol.Filter{Op: protocol.OpNot, Args: []*protocol.Filter{{Op: protocol.OpPresent, Var: "grp"}}}, rng("age", nil, fp(38)))}
		wantCode(t, e.Handle(ctx, minusOne), protocol.CodeRefusedByPolicy)
	}
}

// Attack (review finding): with a large β on one covariate, a pooled reply's E1/E0 per
// released time is the covariate value of the extreme event patient of that block — on lung
// with β = 8 per year of age it reads off ages (81, 82, …). The attack works where the pooled
// form is allowed with no protection (the exact policy, for trusted networks), which shows
// the test can fail; the default policy refuses the pooled form outright, and a policy that
// opts in to it still refuses the extreme β.
func TestAttackPooledCoxExtremeBeta(t *testing.T) {
	ctx := context.Background()
	q := query(protocol.KindCox)
	q.Endpoint = "OS"
	q.Cox = &protocol.CoxRequest{Form: protocol.CoxPooledSums, Ties: "efron", Covariates: []string{"age"}, Beta: []float64{8}}

	// Under the exact policy each row is one exact time, so a single-event row's E1/E0 is that
	// patient's age at any β (β = 4, as 8·82 overflows exp); a protective policy's blocks of
	// at least min_cell events need the extreme β to single out their oldest patient.
	exact, _ := lungEngine(t, ExactPolicy(), nil)
	qe := q
	qe.Cox = &protocol.CoxRequest{Form: protocol.CoxPooledSums, Ties: "efron", Covariates: []string{"age"}, Beta: []float64{4}}
	c := mustOK(t, exact.Handle(ctx, qe)).Cox
	integral := 0
	for _, row := range c.Rows {
		if row.D == 1 {
			// One event at this time: E1/E0 is exactly that patient's age.
			if v := row.E1[0] / row.E0; math.Abs(v-math.Round(v)) < 1e-9 && v >= 39 && v <= 82 {
				integral++
			}
		}
	}
	if integral < 50 {
		t.Fatalf("exact policy: only %d single-event rows gave an age; the attack this test guards against did not reproduce", integral)
	}

	def, _ := lungEngine(t, DefaultPolicy(), nil)
	r := def.Handle(ctx, q)
	wantCode(t, r, protocol.CodeRefusedByPolicy)
	if r.Cox != nil || !strings.Contains(r.Error.Message, "pooled") || !strings.Contains(r.Error.Message, "stratified by site") {
		t.Errorf("default policy, pooled form: %+v; want a refusal that names the stratified-by-site form", r.Error)
	}

	optIn := DefaultPolicy()
	optIn.AllowPooledCox = true
	opted, _ := lungEngine(t, optIn, nil)
	r = opted.Handle(ctx, q)
	wantCode(t, r, protocol.CodeRefusedByPolicy)
	if r.Cox != nil || !strings.Contains(r.Error.Message, "max_cox_log_hr=5") {
		t.Errorf("pooled form allowed, β = 8 per year of age: %+v; want the β cap's refusal", r.Error)
	}
	// At β = 0 the opted-in site answers (TestCoxPooledRowsPolicy checks its blocks).
	q.Cox.Beta = []float64{0}
	mustOK(t, opted.Handle(ctx, q))
}

// Attack (review finding): a Cox reply released "1 patient lacks a covariate" as a plain int.
// In lung one patient lacks karno and 14 lack wt.loss (analysis/testdata/lung.csv): under the
// default policy the first count is suppressed like any small cell, the second released; the
// exact policy releases both. A count of the whole cohort after the karno fit (N + that count
// would give the suppressed 1 back) is refused by the overlap guard.
func TestAttackCoxExcludedSuppressed(t *testing.T) {
	ctx := context.Background()
	pol := DefaultPolicy()
	pol.DailyQueryBudget = 0
	e, _ := lungEngine(t, pol, nil)
	exact, _ := lungEngine(t, ExactPolicy(), nil)
	cox := func(e *Engine, cov string) protocol.Reply {
		q := query(protocol.KindCox)
		q.Endpoint = "OS"
		q.Cox = &protocol.CoxRequest{Form: protocol.CoxStratified, Ties: "efron", Covariates: []string{cov}}
		return mustOK(t, e.Handle(ctx, q))
	}
	r := cox(e, "karno")
	if c := r.Cox; c.Excluded != 0 || !c.ExcludedSuppressed || c.ExcludedCount() != (protocol.Count{Suppressed: true}) || r.Policy.SuppressedCells != 1 {
		t.Errorf("karno, default policy: excluded %d suppressed %v, suppressed cells %d; want the 1 suppressed", c.Excluded, c.ExcludedSuppressed, r.Policy.SuppressedCells)
	}
	if c := cox(e, "wt.loss").Cox; c.Excluded != 14 || c.ExcludedSuppressed {
		t.Errorf("wt.loss, default policy: excluded %d suppressed %v; want 14", c.Excluded, c.ExcludedSuppressed)
	}
	if c := cox(exact, "karno").Cox; c.Excluded != 1 || c.ExcludedSuppressed {
		t.Errorf("karno, exact policy: excluded %d suppressed %v; want 1", c.Excluded, c.ExcludedSuppressed)
	}
	wantCode(t, e.Handle(ctx, query(protocol.KindCount)), protocol.CodeRefusedByPolicy)
}
