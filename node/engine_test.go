package node

import (
	"context"
	"fmt"
	"math"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/oncofed/oncofed/analysis"
	"github.com/oncofed/oncofed/internal/lungtest"
	"github.com/oncofed/oncofed/protocol"
)

func TestCatalog(t *testing.T) {
	ctx := context.Background()
	e, _ := lungEngine(t, DefaultPolicy(), nil)
	r := mustOK(t, e.Handle(ctx, protocol.Query{Version: protocol.Version, Kind: protocol.KindCatalog, ID: "c"}))
	c := r.Catalog
	if c.Site != "lung" || len(c.Studies) != 1 || c.Policy != DefaultPolicy() {
		t.Fatalf("catalog %+v", c)
	}
	s := c.Studies[0]
	// 227 patients, rounded up to a multiple of 10 under the default policy.
	if s.Name != "lung" || s.Patients != 230 || s.Suppressed || s.DataCut != "2020-01-01" || len(s.Variables) != 6 || len(s.Endpoints) != 1 || s.Endpoints[0].Name != "OS" {
		t.Fatalf("study %+v", s)
	}
	exact, _ := lungEngine(t, ExactPolicy(), nil)
	if n := mustOK(t, exact.Handle(ctx, protocol.Query{Version: protocol.Version, Kind: protocol.KindCatalog})).Catalog.Studies[0].Patients; n != 227 {
		t.Errorf("exact policy catalog count %d, want 227", n)
	}
	// A site smaller than min_cohort shows its size as suppressed.
	small := lungSites(t, DefaultPolicy())
	for _, se := range small {
		if se.Site() == "inst33" { // 2 patients
			s := mustOK(t, se.Handle(ctx, protocol.Query{Version: protocol.Version, Kind: protocol.KindCatalog})).Catalog.Studies[0]
			if !s.Suppressed || s.Patients != 0 {
				t.Errorf("inst33 catalog count %+v, want suppressed", s)
			}
		}
	}
	wantCode(t, e.Handle(ctx, protocol.Query{Version: protocol.Version, Kind: protocol.KindCatalog, Study: "nope"}), protocol.CodeNotFound)
}

func TestCount(t *testing.T) {
	ctx := context.Background()
	e, _ := lungEngine(t, ExactPolicy(), nil)
	q := query(protocol.KindCount)
	q.GroupBy = "ecog"
	r := mustOK(t, e.Handle(ctx, q)).Count
	// python: collections.Counter(r['ecog'] for r in lung.csv) → ecog1 113, ecog0 63, ecog2 49,
	// ecog3 1, missing 1.
	if r.Total.N != 227 || r.Groups["ecog0"].N != 63 || r.Groups["ecog1"].N != 113 || r.Groups["ecog2"].N != 49 ||
		r.Groups["ecog3"].N != 1 || r.Missing.N != 1 {
		t.Fatalf("count %+v", r)
	}
	// male and age ≥ 60: 94 (python over lung.csv).
	q = query(protocol.KindCount)
	q.Cohort = and(eq("sex", "male"), rng("age", fp(60), nil))
	if n := mustOK(t, e.Handle(ctx, q)).Count.Total.N; n != 94 {
		t.Errorf("male ∧ age≥60: %d, want 94", n)
	}
	// female ∧ ecog ∈ {0,1} ∧ karno ≥ 80: 67 (python).
	q.Cohort = and(eq("sex", "female"), &protocol.Filter{Op: protocol.OpIn, Var: "ecog", Values: []string{"ecog0", "ecog1"}}, rng("karno", fp(80), nil))
	if n := mustOK(t, e.Handle(ctx, q)).Count.Total.N; n != 67 {
		t.Errorf("female ∧ ecog01 ∧ karno≥80: %d, want 67", n)
	}
	// not, or, missing, present, open bounds: each against a direct count over the columns.
	st, _, _ := e.store.LoadStudy(ctx, "lung")
	age, wl := st.Variable("age").Numeric, st.Variable("wt.loss").Numeric
	cases := []struct {
		f    *protocol.Filter
		pred func(i int) bool
	}{
		{&protocol.Filter{Op: protocol.OpNot, Args: []*protocol.Filter{eq("sex", "male")}}, func(i int) bool { return age[i] == age[i] && st.Variable("sex").Codes[i] == 0 }},
		{&protocol.Filter{Op: protocol.OpMissing, Var: "wt.loss"}, func(i int) bool { return math.IsNaN(wl[i]) }},
		{&protocol.Filter{Op: protocol.OpPresent, Var: "wt.loss"}, func(i int) bool { return !math.IsNaN(wl[i]) }},
		{&protocol.Filter{Op: protocol.OpRange, Var: "age", Min: fp(60), Max: fp(70), MinOpen: true, MaxOpen: true}, func(i int) bool { return age[i] > 60 && age[i] < 70 }},
		{&protocol.Filter{Op: protocol.OpOr, Args: []*protocol.Filter{rng("age", nil, fp(50)), rng("wt.loss", fp(20), nil)}}, func(i int) bool { return age[i] <= 50 || wl[i] >= 20 }},
	}
	for k, c := range cases {
		want := 0
		for i := 0; i < st.Len(); i++ {
			if c.pred(i) {
				want++
			}
		}
		q.Cohort = c.f
		if n := mustOK(t, e.Handle(ctx, q)).Count.Total.N; n != want {
			t.Errorf("case %d: count %d, want %d", k, n, want)
		}
	}
}

func TestSummary(t *testing.T) {
	ctx := context.Background()
	sites := lungSites(t, ExactPolicy())
	var inst1 *Engine
	for _, e := range sites {
		if e.Site() == "inst1" {
			inst1 = e
		}
	}
	q := query(protocol.KindSummary)
	q.Variables = []string{"age", "wt.loss", "ecog"}
	q.Bins = []protocol.HistogramSpec{{Variable: "age", Edges: []float64{50, 60, 70}}}
	r := mustOK(t, inst1.Handle(ctx, q)).Summary
	if len(r.Groups) != 1 || r.Groups[0].N.N != 36 {
		t.Fatalf("summary %+v", r)
	}
	v := r.Groups[0].Variables
	// python over the inst1 rows of lung.csv: age n 36, Σ 2261, Σ² 145145; histogram cells
	// (<50, [50,60), [60,70), ≥70) = 2, 11, 13, 10; wt.loss n 33, Σ 356, Σ² 7846, 3 missing;
	// ecog0 13, ecog1 14, ecog2 9.
	age := v[0]
	if age.N.N != 36 || age.Sum != 2261 || age.SumSq != 145145 || age.Missing.N != 0 {
		t.Errorf("age %+v", age)
	}
	wantHist := []int{2, 11, 13, 10}
	for k, c := range age.Histogram {
		if c.N != wantHist[k] || c.Suppressed {
			t.Errorf("age histogram cell %d: %+v, want %d", k, c, wantHist[k])
		}
	}
	if w := v[1]; w.N.N != 33 || w.Sum != 356 || w.SumSq != 7846 || w.Missing.N != 3 || w.Histogram != nil {
		t.Errorf("wt.loss %+v", w)
	}
	if c := v[2].Categories; c["ecog0"].N != 13 || c["ecog1"].N != 14 || c["ecog2"].N != 9 || c["ecog3"].N != 0 {
		t.Errorf("ecog %+v", c)
	}
	// Grouped: the groups add up to the ungrouped summary.
	q.GroupBy = "sex"
	g := mustOK(t, inst1.Handle(ctx, q)).Summary
	if len(g.Groups) != 2 || g.Groups[0].Group != "female" || g.Groups[0].N.N != 12 || g.Groups[1].N.N != 24 {
		t.Fatalf("grouped %+v", g.Groups)
	}
	if s := g.Groups[0].Variables[0].Sum + g.Groups[1].Variables[0].Sum; s != 2261 {
		t.Errorf("group age sums add to %v, want 2261", s)
	}
}

func toTable(g protocol.SurvivalGroup) analysis.SurvivalTable {
	return analysis.SurvivalTable{Time: g.Time, Events: g.Events, Censor: g.Censor}
}

// The survival tables of the 18 lung sites, merged, equal R's survfit on the pooled data:
// n.risk, n.event and n.censor at every time, exact and with 30-day bins.
func TestSurvivalMergedEqualsR(t *testing.T) {
	ctx := context.Background()
	for _, bin := range []int{0, 30} {
		ref := lungtest.ReadExpected(t, bin)
		pol := ExactPolicy()
		pol.BinDays = float64(bin)
		sites := lungSites(t, pol)
		check := func(group string, km lungtest.Survfit, tables []analysis.SurvivalTable) {
			t.Helper()
			m := analysis.MergeTables(tables...)
			if err := m.Validate(); err != nil {
				t.Fatal(err)
			}
			risk := m.AtRisk()
			k := 0
			for i, g := range km.Group {
				if g != group {
					continue
				}
				if k >= m.Len() || m.Time[k] != km.Time[i] || risk[k] != km.NRisk[i] || m.Events[k] != km.NEvent[i] || m.Censor[k] != km.NCensor[i] {
					t.Fatalf("bin %d group %s row %d: node (t=%v risk=%d d=%d c=%d), R (t=%v risk=%d d=%d c=%d)", bin, group, k,
						m.Time[k], risk[k], m.Events[k], m.Censor[k], km.Time[i], km.NRisk[i], km.NEvent[i], km.NCensor[i])
				}
				k++
			}
			if k != m.Len() || k == 0 {
				t.Fatalf("bin %d group %s: %d merged rows, R has %d", bin, group, m.Len(), k)
			}
		}
		var all []analysis.SurvivalTable
		bySex := map[string][]analysis.SurvivalTable{}
		for _, e := range sites {
			q := query(protocol.KindSurvival)
			q.Endpoint = "OS"
			r := mustOK(t, e.Handle(ctx, q))
			if r.Policy.BinDays != float64(bin) {
				t.Fatalf("reply says bin_days %v", r.Policy.BinDays)
			}
			all = append(all, toTable(r.Survival.Groups[0]))
			q.GroupBy = "sex"
			for _, g := range mustOK(t, e.Handle(ctx, q)).Survival.Groups {
				bySex[g.Group] = append(bySex[g.Group], toTable(g))
			}
		}
		check("all", ref.Overall.KM, all)
		check("female", ref.BySex.KM, bySex["female"])
		check("male", ref.BySex.KM, bySex["male"])
	}
}

// The node's one-pass tabulation equals analysis.NewSurvivalTable + Coarsen on the same rows.
func TestSurvivalEqualsNewSurvivalTable(t *testing.T) {
	ctx := context.Background()
	pol := ExactPolicy()
	pol.BinDays = 7
	e, store := lungEngine(t, pol, nil)
	st, _, _ := store.LoadStudy(ctx, "lung")
	var tm []float64
	var ev []bool
	for i := 0; i < st.Len(); i++ {
		if st.Variable("age").Numeric[i] >= 60 {
			tm = append(tm, st.Endpoints[0].Time[i])
			ev = append(ev, st.Endpoints[0].Event[i])
		}
	}
	want, err := analysis.NewSurvivalTable(tm, ev)
	if err != nil {
		t.Fatal(err)
	}
	want = want.Coarsen(7)
	q := query(protocol.KindSurvival)
	q.Endpoint = "OS"
	q.Cohort = rng("age", fp(60), nil)
	got := toTable(mustOK(t, e.Handle(ctx, q)).Survival.Groups[0])
	if got.Len() != want.Len() {
		t.Fatalf("%d rows, want %d", got.Len(), want.Len())
	}
	for k := range got.Time {
		if got.Time[k] != want.Time[k] || got.Events[k] != want.Events[k] || got.Censor[k] != want.Censor[k] {
			t.Fatalf("row %d differs", k)
		}
	}
}

// Federated Cox through the node's cox queries equals R's coxph on the pooled lung data:
// stratified form == coxph(... + strata(site)), pooled form == coxph(...), exact and 30-day bins.
func TestCoxMatchesR(t *testing.T) {
	ctx := context.Background()
	for _, bin := range []int{0, 30} {
		ref := lungtest.ReadExpected(t, bin)
		pol := ExactPolicy()
		pol.BinDays = float64(bin)
		sites := lungSites(t, pol)
		for _, c := range []struct {
			golden string
			form   protocol.CoxForm
			ties   string
		}{
			{"efron", protocol.CoxPooledSums, "efron"},
			{"breslow", protocol.CoxPooledSums, "breslow"},
			{"efron_site_strata", protocol.CoxStratified, "efron"},
		} {
			var names []string
			if c.form == protocol.CoxPooledSums {
				// The two-phase pooled round through the engines' Handle.
				base := query(protocol.KindCox)
				base.Endpoint = "OS"
				base.Cox = &protocol.CoxRequest{Ties: c.ties, Covariates: []string{"sex", "age"}, Levels: map[string][]string{"sex": {"female", "male"}}}
				fit, err := analysis.FitCoxSteps(twoPhaseEvaluator(t, sites, base, 2), 2, analysis.CoxOptions{Terms: []string{"sexmale", "age"}})
				if err != nil {
					t.Fatalf("bin %d %s: %v", bin, c.golden, err)
				}
				checkAgainstR(t, fmt.Sprintf("bin %d %s", bin, c.golden), fit, ref.Cox.Model(c.golden))
				continue
			}
			eval := func(beta []float64) (analysis.CoxContribution, error) {
				var sum analysis.CoxContribution
				var bound []float64 // the sites' β limits, as the app passes them (none when exact)
				for _, e := range sites {
					q := query(protocol.KindCox)
					q.Endpoint = "OS"
					q.Cox = &protocol.CoxRequest{Form: c.form, Ties: c.ties, Covariates: []string{"sex", "age"},
						Levels: map[string][]string{"sex": {"female", "male"}}, Beta: beta}
					r := e.Handle(ctx, q)
					if r.Error != nil {
						return sum, r.Error
					}
					names = r.Cox.Columns
					bound = analysis.MinBound(bound, r.Cox.BetaLimit)
					if (bin > 0) != (r.Cox.BetaLimit != nil) {
						t.Fatalf("bin %d: β limits %v", bin, r.Cox.BetaLimit)
					}
					sum.Add(analysis.CoxContribution{LogLik: r.Cox.LogLik, Gradient: r.Cox.Gradient, Hessian: r.Cox.Hessian, N: r.Cox.N, Events: r.Cox.Events})
				}
				sum.CoefBound = bound
				return sum, nil
			}
			fit, err := analysis.FitCox(eval, 2, analysis.CoxOptions{})
			if err != nil {
				t.Fatalf("bin %d %s: %v", bin, c.golden, err)
			}
			want := ref.Cox.Model(c.golden)
			for j := range want.Coef {
				if names[j] != want.Term[j] {
					t.Errorf("column %d is %q, R's %q", j, names[j], want.Term[j])
				}
				if rel(fit.Coef[j], want.Coef[j]) > 1e-9 || rel(fit.SE[j], want.SE[j]) > 1e-9 {
					t.Errorf("bin %d %s %s: coef %v se %v, R %v %v", bin, c.golden, want.Term[j], fit.Coef[j], fit.SE[j], want.Coef[j], want.SE[j])
				}
			}
		}
	}
}

func rel(a, b float64) float64 { return math.Abs(a-b) / math.Max(math.Abs(b), 1e-300) }

// The counting tabulation and the ordered walk (the fallback for very many distinct times)
// give the same tables and patient sets.
func TestSurvivalTabulationsAgree(t *testing.T) {
	ctx := context.Background()
	e, _ := lungEngine(t, ExactPolicy(), nil)
	ls, err := e.study(ctx, "lung")
	if err != nil {
		t.Fatal(err)
	}
	for _, bin := range []float64{0, 7, 30} {
		for _, group := range []string{"", "ecog", "sex"} {
			c := &cohort{study: ls, rows: ls.evalFilter(rng("age", fp(55), nil))}
			if group != "" {
				c.group = ls.vars[group]
			}
			a, as, am := survivalTables(c, ls.eps["OS"], bin)
			b, bs, bm := survivalTablesOrdered(c, ls.eps["OS"], bin)
			if am != bm || len(a) != len(b) {
				t.Fatalf("bin %v group %q: missing %d/%d, %d/%d tables", bin, group, am, bm, len(a), len(b))
			}
			for g := range a {
				if a[g].Len() != b[g].Len() || bitsDigest(as[g]) != bitsDigest(bs[g]) {
					t.Fatalf("bin %v group %q %d: tables or sets differ", bin, group, g)
				}
				for k := range a[g].Time {
					if a[g].Time[k] != b[g].Time[k] || a[g].Events[k] != b[g].Events[k] || a[g].Censor[k] != b[g].Censor[k] {
						t.Fatalf("bin %v group %q %d row %d differs", bin, group, g, k)
					}
				}
			}
		}
	}
}

// Concurrent queries (the transport serves requests in parallel, and several processes may
// serve one database) keep the audit chain intact and answer consistently.
func TestConcurrentQueries(t *testing.T) {
	ctx := context.Background()
	e, store := lungEngine(t, DefaultPolicy(), nil)
	// A second process on the same database file, with its own connection.
	pol := DefaultPolicy()
	e2, err := NewEngine(ctx, openStore(t, store.Path()), Config{InsecureOpen: true, Policy: &pol})
	if err != nil {
		t.Fatal(err)
	}
	const workers, each = 4, 10
	errs := make(chan error, workers)
	for w := 0; w < workers; w++ {
		go func(w int) {
			for i := 0; i < each; i++ {
				q := query(protocol.KindSurvival)
				q.Endpoint = "OS"
				q.GroupBy = "sex"
				q.Analyst = string(rune('a' + w))
				eng := e
				if w%2 == 1 {
					eng = e2
				}
				r := eng.Handle(ctx, q)
				if r.Error != nil || len(r.Survival.Groups) != 2 {
					errs <- r.Error
					return
				}
			}
			errs <- nil
		}(w)
	}
	for w := 0; w < workers; w++ {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
	recs, err := VerifyAudit(ctx, store)
	if err != nil || len(recs) != workers*each {
		t.Fatalf("%d records, %v", len(recs), err)
	}
}

// Within-site strata: one node holding all of lung, asked for the stratified form with
// cox.strata = "site", gives R's coxph(Surv(time, event) ~ sex + age + strata(site)).
func TestCoxWithinSiteStrataMatchesR(t *testing.T) {
	ctx := context.Background()
	ref := lungtest.ReadExpected(t, 0).Cox.EfronSiteStrata
	e, _ := lungEngine(t, ExactPolicy(), nil)
	eval := func(beta []float64) (analysis.CoxContribution, error) {
		q := query(protocol.KindCox)
		q.Endpoint = "OS"
		q.Cox = &protocol.CoxRequest{Form: protocol.CoxStratified, Ties: "efron", Covariates: []string{"sex", "age"}, Strata: "site", Beta: beta}
		r := e.Handle(ctx, q)
		if r.Error != nil {
			return analysis.CoxContribution{}, r.Error
		}
		if r.Cox.N != 227 || r.Cox.Excluded != 0 || r.Cox.Columns[0] != "sexmale" {
			t.Fatalf("reply %+v", r.Cox)
		}
		return analysis.CoxContribution{LogLik: r.Cox.LogLik, Gradient: r.Cox.Gradient, Hessian: r.Cox.Hessian, N: r.Cox.N, Events: r.Cox.Events}, nil
	}
	fit, err := analysis.FitCox(eval, 2, analysis.CoxOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for j := range ref.Coef {
		if rel(fit.Coef[j], ref.Coef[j]) > 1e-9 || rel(fit.SE[j], ref.SE[j]) > 1e-9 {
			t.Errorf("%s: coef %v se %v, R %v %v", ref.Term[j], fit.Coef[j], fit.SE[j], ref.Coef[j], ref.SE[j])
		}
	}
	// Missing covariates are excluded and counted: wt.loss is missing for 14 patients (python).
	q := query(protocol.KindCox)
	q.Endpoint = "OS"
	q.Cox = &protocol.CoxRequest{Form: protocol.CoxStratified, Ties: "efron", Covariates: []string{"wt.loss"}}
	c := mustOK(t, e.Handle(ctx, q)).Cox
	if c.Excluded != 14 || c.N != 213 {
		t.Errorf("wt.loss: N %d excluded %d, want 213 and 14", c.N, c.Excluded)
	}
}

// The prepared Cox design is kept between rounds but never outlives a re-import.
func TestCoxCacheFollowsReimport(t *testing.T) {
	ctx := context.Background()
	store := openStore(t, t.TempDir()+"/s.db")
	spec := ImportSpec{Study: "s", IDColumn: "pid", Endpoints: []EndpointSpec{{"OS", "t", "e"}}}
	if _, err := ImportCSV(ctx, store, spec, strings.NewReader("pid,t,e,x\n1,1,1,0\n2,2,0,1\n3,3,1,2\n")); err != nil {
		t.Fatal(err)
	}
	pol := ExactPolicy()
	e, _ := NewEngine(ctx, store, Config{InsecureOpen: true, Policy: &pol})
	q := protocol.Query{Version: protocol.Version, Kind: protocol.KindCox, Study: "s", Endpoint: "OS",
		Cox: &protocol.CoxRequest{Form: protocol.CoxStratified, Ties: "breslow", Covariates: []string{"x"}, Beta: []float64{0}}}
	if n := mustOK(t, e.Handle(ctx, q)).Cox.N; n != 3 {
		t.Fatalf("N %d", n)
	}
	if _, err := ImportCSV(ctx, store, spec, strings.NewReader("pid,t,e,x\n1,1,1,0\n2,2,0,1\n3,3,1,2\n4,4,1,3\n")); err != nil {
		t.Fatal(err)
	}
	if n := mustOK(t, e.Handle(ctx, q)).Cox.N; n != 4 {
		t.Fatalf("after re-import N %d, want 4", n)
	}
}

// An integer-coded numeric variable whose declared range holds few integers (ECOG 0–3) can be
// a grouping variable: its groups are the range's integers, in order, also those no patient of
// the site holds (here 3); a numeric variable without a declared range, or with a wide one
// (karno 0–100), is refused whatever the site's values.
func TestGroupByIntegerCodedNumeric(t *testing.T) {
	ctx := context.Background()
	var b strings.Builder
	b.WriteString("pid,t,e,ecog,karno,score\n")
	want := map[string]int{"0": 0, "1": 0, "2": 0, "3": 0}
	for i := 0; i < 60; i++ {
		ecog := strconv.Itoa(i % 3)
		if i%10 == 9 {
			ecog = ""
		} else {
			want[ecog]++
		}
		fmt.Fprintf(&b, "%d,%d,%d,%s,%d,%d\n", i, 10+i, i%2, ecog, 50+10*(i%6), i%4)
	}
	dict := Dictionary{Entries: []DictionaryEntry{
		{Name: "ecog", Type: protocol.Numeric, Min: fp(0), Max: fp(3)},
		{Name: "karno", Type: protocol.Numeric, Min: fp(0), Max: fp(100)},
	}}
	store := openStore(t, filepath.Join(t.TempDir(), "s.db"))
	spec := ImportSpec{Study: "s", IDColumn: "pid", Endpoints: []EndpointSpec{{"OS", "t", "e"}}, Dictionary: dict}
	if _, err := ImportCSV(ctx, store, spec, strings.NewReader(b.String())); err != nil {
		t.Fatal(err)
	}
	pol := ExactPolicy()
	e, err := NewEngine(ctx, store, Config{InsecureOpen: true, Policy: &pol})
	if err != nil {
		t.Fatal(err)
	}
	q := protocol.Query{Version: protocol.Version, Kind: protocol.KindCount, Study: "s", GroupBy: "ecog"}
	c := mustOK(t, e.Handle(ctx, q)).Count
	if len(c.Groups) != len(want) || c.Missing.N != 6 {
		t.Fatalf("groups %+v missing %+v, want %v and 6 missing", c.Groups, c.Missing, want)
	}
	for k, n := range want {
		if g, ok := c.Groups[k]; !ok || g.N != n {
			t.Errorf("ecog %s: %+v, want %d", k, g, n)
		}
	}
	q.Kind = protocol.KindSurvival
	q.Endpoint = "OS"
	var order []string
	for _, g := range mustOK(t, e.Handle(ctx, q)).Survival.Groups {
		order = append(order, g.Group)
	}
	if strings.Join(order, ",") != "0,1,2" {
		t.Errorf("survival groups %v, want 0,1,2 (3 is empty and the policy exact)", order)
	}
	q.Kind, q.Endpoint = protocol.KindCount, ""
	for _, v := range []string{"karno", "score"} {
		q.GroupBy = v
		wantCode(t, e.Handle(ctx, q), protocol.CodeInvalid)
	}
}
