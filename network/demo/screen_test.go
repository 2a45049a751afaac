package demo_test

import (
	"context"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/oncofed/oncofed/analysis"
	"github.com/oncofed/oncofed/app"
	"github.com/oncofed/oncofed/protocol"
	"github.com/oncofed/oncofed/synth"
)

// screenFed is NSCLC with candidate markers at four hospitals under policy pol.
func screenFed(pol synth.SitePolicy, sizes ...int) synth.Federation {
	fed := synth.Federation{Name: "screen", Policies: map[string]synth.SitePolicy{},
		Studies: []synth.Spec{{Study: synth.NSCLC, SiteSizes: sizes, Seed: 15, Markers: true}}}
	for _, s := range fed.SiteNames() {
		fed.Policies[s] = pol
	}
	return fed
}

// screenService starts fed and returns a service on it for analyst, its catalog loaded.
func screenService(t *testing.T, fed synth.Federation, analyst string) *app.Service {
	t.Helper()
	c, db := startDemo(t, fed)
	svc := app.NewService(c, db, app.NetworkInfo{ID: fed.Name, Name: fed.Name}, app.WithAnalyst(analyst))
	if _, err := svc.RefreshCatalog(context.Background()); err != nil {
		t.Fatal(err)
	}
	return svc
}

// markerNames returns the candidate markers of NSCLC (the variables after the study's own).
func markerNames(t *testing.T) []string {
	t.Helper()
	g, err := synth.New(synth.Spec{Study: synth.NSCLC, Sites: 1, Patients: 1, Markers: true})
	if err != nil {
		t.Fatal(err)
	}
	base, _ := synth.SchemaOf(synth.NSCLC)
	var out []string
	for _, v := range g.Schema().Variables[len(base.Variables):] {
		out = append(out, v.Name)
	}
	return out
}

// TestDemoScreenEqualsLocalFits: on exact (trusted) sites, the federated screen of every NSCLC
// candidate marker — one Cox model per marker through app.Service.FitCoxModel, stratified by
// site — gives the fits analysis gives on the pooled patient-level data (which equal R's
// coxph: analysis/testdata/r/screen_goldens.R), finds the simulated effects, and reports the
// markers of the extended panel without the sites that do not run it.
func TestDemoScreenEqualsLocalFits(t *testing.T) {
	ctx := context.Background()
	fed := screenFed(synth.SitePolicy{}, 1500, 1000, 700, 400)
	svc := screenService(t, fed, "screen")
	markers := markerNames(t)
	calls := 0
	res, err := svc.Screen(ctx, app.ScreenRequest{Study: "nsclc", Endpoint: "OS", Markers: markers, Adjust: []string{"age"}},
		func(done, total int, _ string) {
			calls++
			if done != calls || total != len(markers) {
				t.Errorf("progress %d/%d at call %d", done, total, calls)
			}
		})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Markers) != len(markers) || calls != len(markers) {
		t.Fatalf("%d markers reported, %d progress calls, want %d", len(res.Markers), calls, len(markers))
	}
	local := localScreen(t, fed, markers, "")
	byName := map[string]app.MarkerResult{}
	for _, m := range res.Markers {
		byName[m.Marker] = m
		want, ok := local[m.Marker]
		if !ok || !m.Estimable {
			if m.Estimable || ok {
				t.Errorf("%s: estimable %v over the network (%s), locally %v", m.Marker, m.Estimable, m.Reason, ok)
			}
			continue
		}
		if m.N != want.N || m.Events != want.Events {
			t.Errorf("%s: n %d events %d, locally %d %d", m.Marker, m.N, m.Events, want.N, want.Events)
		}
		if math.Abs(m.Terms[0].Coef-want.coef) > 1e-8 || math.Abs(m.Chisq-want.chisq) > 1e-6*want.chisq {
			t.Errorf("%s: coef %.10g χ² %.10g, locally %.10g %.10g", m.Marker, m.Terms[0].Coef, m.Chisq, want.coef, want.chisq)
		}
	}
	// The simulated effects are found (q < 0.05), nothing is found among the nulls beyond
	// what BH allows (at most two at this size).
	real := map[string]bool{"tp53": true, "stk11": true, "keap1": true, "smarca4": true, "tmb_high": true}
	falsePos := 0
	for _, m := range res.Markers {
		if m.Estimable && m.Q < 0.05 && !real[m.Marker] {
			falsePos++
		}
	}
	for _, name := range []string{"tp53", "smarca4", "stk11"} {
		if m := byName[name]; !(m.Q < 0.05) {
			t.Errorf("%s: q %g, the simulated effect is not found", name, m.Q)
		}
	}
	if falsePos > 2 {
		t.Errorf("%d null markers with q < 0.05", falsePos)
	}
	// Heterogeneity from every site's one-step estimate (all four have ≥10 events).
	if m := byName["tp53"]; math.IsNaN(m.I2) || math.IsNaN(m.Tau2) || len(m.HetSites) != 4 || len(m.SiteTerms) != 4 {
		t.Errorf("tp53: I² %g τ² %g over sites %v", m.I2, m.Tau2, m.HetSites)
	}
	// An extended-panel marker is missing at every other community hospital: those sites sit
	// it out and are named.
	lr := byName["lrp1b"]
	if len(lr.SitesOut) == 0 || len(lr.SitesUsed) == 0 {
		t.Errorf("lrp1b: sites used %v, out %+v; want the sites without the extended panel out", lr.SitesUsed, lr.SitesOut)
	}
	// Batched: one screen query per Newton round carries every marker still fitting, so the
	// screen takes as many scatter-gathers as its slowest marker takes rounds.
	rounds := 0
	for _, m := range res.Markers {
		rounds = max(rounds, m.Rounds)
	}
	if res.Tests == 0 || res.Queries != rounds || rounds >= len(markers) {
		t.Errorf("%d tests in %d queries, the slowest marker in %d rounds", res.Tests, res.Queries, rounds)
	}
	t.Logf("%d markers, %d tests, %d scatter-gathers, sites %v", len(res.Markers), res.Tests, res.Queries, res.Sites)
}

type localFit struct {
	N, Events   int
	coef, chisq float64
}

// localScreen fits every marker on the generated patient-level data: Cox(OS ~ marker + age +
// strata(site)), or with treated Cox(OS ~ (treatment == treated) * marker + age +
// strata(site)), Efron, with the dictionary's levels, as analysis does against R. coef is the
// marker's first term (the first interaction term in predictive mode).
func localScreen(t *testing.T, fed synth.Federation, markers []string, treated string) map[string]localFit {
	t.Helper()
	g, err := synth.New(fed.Studies[0])
	if err != nil {
		t.Fatal(err)
	}
	var sites []*synth.Cohort
	for i := range g.Sites() {
		sites = append(sites, g.Site(i))
	}
	out := map[string]localFit{}
	for _, m := range markers {
		v := g.Schema().Variables[g.Schema().Index(m)]
		var strata []*analysis.CoxStratum
		p := 0
		var names []string
		for _, c := range sites {
			cols := []analysis.CovariateColumn{{Name: m}, {Name: "age", Numeric: c.Column("age").Values}}
			levels := map[string][]string{}
			var inter []analysis.Interaction
			if treated != "" {
				trt := analysis.CovariateColumn{Name: "treatment", Categorical: make([]string, c.Len())}
				for i := range trt.Categorical {
					trt.Categorical[i] = "not " + treated
					if c.Level("treatment", i) == treated {
						trt.Categorical[i] = treated
					}
				}
				cols = append([]analysis.CovariateColumn{trt}, cols...)
				levels["treatment"] = []string{"not " + treated, treated}
				inter = []analysis.Interaction{{A: "treatment", B: m}}
			}
			mc := &cols[len(cols)-2]
			if v.Categorical() {
				mc.Categorical = make([]string, c.Len())
				for i := range mc.Categorical {
					mc.Categorical[i] = c.Level(m, i)
				}
				levels[m] = v.Levels
			} else {
				mc.Numeric = c.Column(m).Values
			}
			x, pp, nn, keep, err := analysis.BuildDesignInteractions(cols, levels, inter)
			if err != nil {
				t.Fatal(err)
			}
			p, names = pp, nn
			var tm []float64
			var ev []bool
			for i, k := range keep {
				if k {
					tm = append(tm, c.OSDays[i])
					ev = append(ev, c.OSEvent[i])
				}
			}
			if len(tm) == 0 {
				continue
			}
			st, err := analysis.NewCoxStratum(tm, ev, x, p)
			if err != nil {
				t.Fatal(err)
			}
			strata = append(strata, st)
		}
		fit, err := analysis.FitCox(func(beta []float64) (analysis.CoxContribution, error) {
			var sum analysis.CoxContribution
			for _, st := range strata {
				ct, err := st.Contribution(beta, analysis.Efron)
				if err != nil {
					return ct, err
				}
				sum.Add(ct)
			}
			return sum, nil
		}, p, analysis.CoxOptions{Terms: names})
		if err != nil || len(fit.NotEstimable) > 0 || len(fit.Infinite) > 0 {
			continue
		}
		idx := []int{}
		for k, n := range names {
			if treated == "" && n != "age" || treated != "" && strings.Contains(n, ":") {
				idx = append(idx, k)
			}
		}
		w, err := analysis.JointWald(fit, idx)
		if err != nil {
			continue
		}
		out[m] = localFit{N: fit.N, Events: fit.Events, coef: fit.Coef[idx[0]], chisq: w.Stat}
	}
	return out
}

// TestAttackScreenHeldByFewPatients: a marker that a site's patients hold fewer than min_cell
// times (NTRK1 fusions, 0.3%) is refused there by the design-column rule — the site sits the
// marker out and is named — so no coefficient ever describes one or two patients; a marker
// no site can estimate is not a test (no p, not counted in the q-values).
func TestAttackScreenHeldByFewPatients(t *testing.T) {
	ctx := context.Background()
	fed := screenFed(synth.DemoPolicy, 1500, 1000, 700, 400)
	svc := screenService(t, fed, "attacker")
	res, err := svc.Screen(ctx, app.ScreenRequest{Study: "nsclc", Endpoint: "OS", Markers: []string{"ntrk1", "ros1", "tp53"}, Adjust: []string{"age"}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	g, err := synth.New(fed.Studies[0])
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range res.Markers[:2] {
		for i, s := range g.Sites() {
			co := g.Site(i)
			held, events := 0, 0
			for k, code := range co.Column(m.Marker).Codes {
				if code == 1 && co.Column("age").Values[k] == co.Column("age").Values[k] {
					held++
					if co.OSEvent[k] {
						events++
					}
				}
			}
			used := false
			for _, u := range m.SitesUsed {
				used = used || u == s.Name
			}
			if used && (held < 5 || events < 5) {
				t.Errorf("%s: %s answered with %d carriers (%d events), fewer than min_cell", m.Marker, s.Name, held, events)
			}
			if !used {
				named := false
				for _, o := range m.SitesOut {
					named = named || o.Site == s.Name && strings.Contains(o.Reason, "design column")
				}
				if !named && m.Estimable {
					t.Errorf("%s: %s neither used nor named with the design-column rule: %+v", m.Marker, s.Name, m.SitesOut)
				}
			}
		}
		if !m.Estimable && !math.IsNaN(m.P) {
			t.Errorf("%s: not estimable but p = %g", m.Marker, m.P)
		}
	}
	nt := res.Markers[0]
	if nt.Estimable || !math.IsNaN(nt.Q) || len(nt.SitesOut) != 4 {
		t.Errorf("ntrk1 (≈0.3%%): estimable %v, q %g, sites out %+v; want every site to refuse it", nt.Estimable, nt.Q, nt.SitesOut)
	}
	if res.Tests != 2 && res.Tests != 1 {
		t.Errorf("%d tests", res.Tests)
	}
	var ps []float64
	for _, m := range res.Markers {
		ps = append(ps, m.P)
	}
	for i, q := range analysis.BenjaminiHochberg(ps) {
		if m := res.Markers[i]; !(q == m.Q || math.IsNaN(q) && math.IsNaN(m.Q)) {
			t.Errorf("%s: q %g, BH over the tests %g", m.Marker, m.Q, q)
		}
	}
	if tp := res.Markers[2]; !tp.Estimable || !(tp.Q >= tp.P) {
		t.Errorf("tp53: estimable %v, q %g p %g", tp.Estimable, tp.Q, tp.P)
	}
}

// TestAttackScreenCohortsOneApart: the attacker screens the same markers twice, over two
// cohorts that differ by one patient (the oldest of one site), hoping that the difference of
// the two screens' models isolates that patient's marker values and outcome. Every model of
// the second screen either uses complete cases identical to the first's at that site (the
// patient lacks the marker: nothing differs, nothing is learned) or is refused there by the
// overlap guard: a screen is no cheaper a differencing attack than single Cox queries.
func TestAttackScreenCohortsOneApart(t *testing.T) {
	ctx := context.Background()
	fed := screenFed(synth.DemoPolicy, 900, 600, 400)
	g, err := synth.New(fed.Studies[0])
	if err != nil {
		t.Fatal(err)
	}
	// The oldest age held by exactly one patient in the federation.
	count := map[float64]int{}
	site := map[float64]string{}
	for i := range g.Sites() {
		co := g.Site(i)
		for _, a := range co.Column("age").Values {
			count[a]++
			site[a] = co.Site.Name
		}
	}
	oldest := -1.0
	for a, n := range count {
		if n == 1 && a > oldest {
			oldest = a
		}
	}
	if oldest < 0 {
		t.Skip("no unique age")
	}
	svc := screenService(t, fed, "attacker")
	markers := []string{"tp53", "stk11", "keap1", "kras", "nf1", "score_ifng"}
	all, err := svc.Screen(ctx, app.ScreenRequest{Study: "nsclc", Endpoint: "OS", Markers: markers, Adjust: []string{"age"}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	minus, err := protocol.ParseFilter("age != " + formatAge(oldest))
	if err != nil {
		t.Fatal(err)
	}
	less, err := svc.Screen(ctx, app.ScreenRequest{Study: "nsclc", Endpoint: "OS", Markers: markers, Adjust: []string{"age"}, Cohort: minus}, nil)
	if err != nil {
		t.Fatal(err)
	}
	target := site[oldest]
	differs := 0
	for k, m := range less.Markers {
		a := all.Markers[k]
		if !m.Estimable {
			continue
		}
		usedBefore, usedNow := contains(a.SitesUsed, target), contains(m.SitesUsed, target)
		if !usedNow {
			continue
		}
		// Used both times: it must be the same complete cases at the target site, so the
		// model is the same, bit for bit (other sites are unchanged).
		if !usedBefore || m.N != a.N || m.Events != a.Events || m.Terms[0].Coef != a.Terms[0].Coef {
			t.Errorf("%s: %s answered both screens with different complete cases (n %d vs %d, coef %v vs %v)", m.Marker, target, a.N, m.N, a.Terms[0].Coef, m.Terms[0].Coef)
		}
	}
	for _, m := range less.Markers {
		for _, o := range m.SitesOut {
			if o.Site == target {
				differs++
			}
		}
	}
	if differs == 0 {
		t.Errorf("no marker of the second screen was refused at %s: the patient is complete for some marker, so some refusal is expected", target)
	}
}

func contains(xs []string, x string) bool {
	for _, y := range xs {
		if y == x {
			return true
		}
	}
	return false
}

func formatAge(a float64) string { return strings.TrimRight(strings.TrimRight(fmtFloat(a), "0"), ".") }

func fmtFloat(a float64) string { return strconv.FormatFloat(a, 'f', -1, 64) }

// TestDemoPredictiveScreen: in predictive mode each marker's model is Cox(OS ~ treated *
// marker + age + strata(site)) and its test is the interaction; over exact sites it equals
// the local fits (and so R's coxph with trt * marker: screen_goldens.R), and it finds that
// STK11 and KEAP1 worsen outcome under pembrolizumab-chemotherapy (simulated HR 1.7, 1.6)
// while a null marker shows no interaction.
func TestDemoPredictiveScreen(t *testing.T) {
	ctx := context.Background()
	fed := screenFed(synth.SitePolicy{}, 1500, 1000, 700, 400)
	svc := screenService(t, fed, "screen")
	markers := []string{"stk11", "keap1", "nf1", "tmb", "pdl1_tps", "tp53"}
	res, err := svc.Screen(ctx, app.ScreenRequest{Study: "nsclc", Endpoint: "OS", Markers: markers, Adjust: []string{"age"},
		Treatment: "treatment", Treated: "pembro-chemo"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if res.Mode != app.ScreenPredictive {
		t.Fatalf("mode %q", res.Mode)
	}
	local := localScreen(t, fed, markers, "pembro-chemo")
	for _, m := range res.Markers {
		want, ok := local[m.Marker]
		if !ok || !m.Estimable {
			t.Errorf("%s: estimable %v (%s), locally %v", m.Marker, m.Estimable, m.Reason, ok)
			continue
		}
		if !strings.HasPrefix(m.Terms[0].Column, "treatmentpembro-chemo:"+m.Marker) {
			t.Errorf("%s: first term %q, want the interaction", m.Marker, m.Terms[0].Column)
		}
		if math.Abs(m.Terms[0].Coef-want.coef) > 1e-8 || math.Abs(m.Chisq-want.chisq) > 1e-6*want.chisq || m.N != want.N {
			t.Errorf("%s: coef %.10g χ² %.10g n %d, locally %.10g %.10g %d", m.Marker, m.Terms[0].Coef, m.Chisq, m.N, want.coef, want.chisq, want.N)
		}
		t.Logf("%s: %s HR %.2f p %.2g q %.2g", m.Marker, m.Terms[0].Column, m.Terms[0].HR, m.P, m.Q)
	}
	if m := res.Markers[0]; !(m.Q < 0.05) || m.Terms[0].HR < 1 {
		t.Errorf("stk11 × pembro-chemo: HR %.2f q %g, want a harmful interaction found", m.Terms[0].HR, m.Q)
	}
	if pd := res.Markers[4]; len(pd.Terms) != 2 || pd.DF != 2 {
		t.Errorf("pdl1_tps: %d interaction terms, df %d; want 2", len(pd.Terms), pd.DF)
	}
}

// TestAttackPredictiveScreenSmallInteractionCell: the interaction column of a predictive
// model holds the treated marker-positive patients; where they are fewer than min_cell (or
// have fewer events) the site refuses the marker and is named, so an interaction coefficient
// never describes a handful of treated carriers.
func TestAttackPredictiveScreenSmallInteractionCell(t *testing.T) {
	ctx := context.Background()
	fed := screenFed(synth.DemoPolicy, 1500, 1000, 700, 400)
	svc := screenService(t, fed, "attacker")
	res, err := svc.Screen(ctx, app.ScreenRequest{Study: "nsclc", Endpoint: "OS", Markers: []string{"ros1", "met_ex14", "smarca4"},
		Adjust: []string{"age"}, Treatment: "treatment", Treated: "pembro-chemo"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	g, err := synth.New(fed.Studies[0])
	if err != nil {
		t.Fatal(err)
	}
	refused := 0
	for _, m := range res.Markers {
		for i, s := range g.Sites() {
			co := g.Site(i)
			held, events := 0, 0
			for k, code := range co.Column(m.Marker).Codes {
				if code == 1 && co.Level("treatment", k) == "pembro-chemo" {
					held++
					if co.OSEvent[k] {
						events++
					}
				}
			}
			if contains(m.SitesUsed, s.Name) && (held < 5 || events < 5) {
				t.Errorf("%s: %s answered with %d treated carriers (%d events)", m.Marker, s.Name, held, events)
			}
			for _, o := range m.SitesOut {
				if o.Site == s.Name {
					refused++
					if !strings.Contains(o.Reason, "design column") && !strings.Contains(o.Reason, "min_cohort") {
						t.Errorf("%s at %s: reason %q", m.Marker, s.Name, o.Reason)
					}
				}
			}
		}
	}
	if refused == 0 {
		t.Error("no site refused a rare marker's interaction column")
	}
}

// TestDemoPredictiveNotEstimable: germline BRCA × olaparib in TNBC. Only carriers get
// olaparib, so the treated arm has no non-carrier and the interaction is collinear with the
// treatment: the marker is reported not estimable, with no p, and does not count among the
// tests, as happens in real data; the other marker of the screen is a test.
func TestDemoPredictiveNotEstimable(t *testing.T) {
	ctx := context.Background()
	fed := synth.Federation{Name: "tnbc", Policies: map[string]synth.SitePolicy{},
		Studies: []synth.Spec{{Study: synth.TNBC, SiteSizes: []int{3000, 2000}, Seed: 15, Markers: true}}}
	for _, s := range fed.SiteNames() {
		fed.Policies[s] = synth.SitePolicy{}
	}
	svc := screenService(t, fed, "screen")
	res, err := svc.Screen(ctx, app.ScreenRequest{Study: "tnbc", Endpoint: "OS", Markers: []string{"brca", "tils"}, Adjust: []string{"age"},
		Treatment: "treatment", Treated: "olaparib"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	brca, tils := res.Markers[0], res.Markers[1]
	if brca.Estimable || !math.IsNaN(brca.P) || !math.IsNaN(brca.Q) || !strings.Contains(brca.Reason, "not estimable") {
		t.Errorf("brca × olaparib: estimable %v, p %g, reason %q", brca.Estimable, brca.P, brca.Reason)
	}
	if !tils.Estimable || res.Tests != 1 || tils.Q != tils.P {
		t.Errorf("tils: estimable %v (%s), %d tests, q %g p %g", tils.Estimable, tils.Reason, res.Tests, tils.Q, tils.P)
	}
	t.Logf("brca: %s; tils: %s HR %.3f p %.3g", brca.Reason, tils.Terms[0].Column, tils.Terms[0].HR, tils.P)
}

// TestDemoScreenCancel: cancelling a screen (the desktop's Cancel) stops it with the
// context's error: no partial result is returned as if complete.
func TestDemoScreenCancel(t *testing.T) {
	fed := screenFed(synth.SitePolicy{}, 600, 400)
	svc := screenService(t, fed, "cancel")
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	res, err := svc.Screen(ctx, app.ScreenRequest{Study: "nsclc", Endpoint: "OS", Markers: markerNames(t)},
		func(done, _ int, _ string) {
			if done == 2 {
				cancel()
			}
		})
	if err == nil || res != nil || ctx.Err() == nil {
		t.Fatalf("cancelled screen: result %v, error %v", res != nil, err)
	}
}

// TestDemoPooledScreen: the pooled form (one baseline hazard, the two-phase risk-set
// protocol) screens the same markers over exact sites; each marker's fit is that of a single
// stratum on the pooled rows; no per-site heterogeneity is claimed.
func TestDemoPooledScreen(t *testing.T) {
	fed := screenFed(synth.SitePolicy{}, 900, 600)
	svc := screenService(t, fed, "pooled")
	markers := []string{"tp53", "smarca4", "nf1", "tmb", "pdl1_tps"}
	res, err := svc.Screen(context.Background(), app.ScreenRequest{Study: "nsclc", Endpoint: "OS", Markers: markers,
		Adjust: []string{"age"}, Form: protocol.CoxPooled}, nil)
	if err != nil {
		t.Fatal(err)
	}
	g, err := synth.New(fed.Studies[0])
	if err != nil {
		t.Fatal(err)
	}
	for i, m := range res.Markers {
		if !m.Estimable {
			t.Fatalf("%s: %s", m.Marker, m.Reason)
		}
		// The same model on the pooled rows, one stratum.
		var cols []analysis.CovariateColumn
		var tm []float64
		var ev []bool
		v := g.Schema().Variables[g.Schema().Index(markers[i])]
		mc := analysis.CovariateColumn{Name: markers[i]}
		age := analysis.CovariateColumn{Name: "age"}
		for s := range g.Sites() {
			co := g.Site(s)
			for k := 0; k < co.Len(); k++ {
				if v.Categorical() {
					mc.Categorical = append(mc.Categorical, co.Level(markers[i], k))
				} else {
					mc.Numeric = append(mc.Numeric, co.Column(markers[i]).Values[k])
				}
				age.Numeric = append(age.Numeric, co.Column("age").Values[k])
			}
			tm = append(tm, co.OSDays...)
			ev = append(ev, co.OSEvent...)
		}
		cols = []analysis.CovariateColumn{mc, age}
		levels := map[string][]string{}
		if v.Categorical() {
			levels[markers[i]] = v.Levels
		}
		x, p, names, keep, err := analysis.BuildDesign(cols, levels)
		if err != nil {
			t.Fatal(err)
		}
		var tk []float64
		var ek []bool
		for r, k := range keep {
			if k {
				tk, ek = append(tk, tm[r]), append(ek, ev[r])
			}
		}
		st, err := analysis.NewCoxStratum(tk, ek, x, p)
		if err != nil {
			t.Fatal(err)
		}
		fit, err := analysis.FitCox(func(b []float64) (analysis.CoxContribution, error) { return st.Contribution(b, analysis.Efron) }, p, analysis.CoxOptions{Terms: names})
		if err != nil {
			t.Fatal(err)
		}
		if math.Abs(m.Terms[0].Coef-fit.Coef[0]) > 1e-8 || math.Abs(m.Terms[0].SE-fit.SE[0]) > 1e-8 {
			t.Errorf("%s: coef %.10g se %.10g, pooled rows %.10g %.10g", m.Marker, m.Terms[0].Coef, m.Terms[0].SE, fit.Coef[0], fit.SE[0])
		}
		if !math.IsNaN(m.I2) || len(m.SiteTerms) > 0 {
			t.Errorf("%s: heterogeneity I² %v from %d sites in the pooled form, which releases no per-site information", m.Marker, m.I2, len(m.SiteTerms))
		}
	}
}

// TestDemoScreenReopensOffline: a screen is stored in the library as it runs; reopened without
// the network (Service.Open, and Service.Screen answering from the cache when the hub cannot be
// reached) it renders the same markers, every number the same bits, from its stored fits —
// stratified with its per-site heterogeneity, and pooled.
func TestDemoScreenReopensOffline(t *testing.T) {
	ctx := context.Background()
	fed := screenFed(synth.SitePolicy{}, 500, 400, 300)
	c, db := startDemo(t, fed)
	info := app.NetworkInfo{ID: fed.Name, Name: fed.Name}
	svc := app.NewService(c, db, info, app.WithAnalyst("library"))
	if _, err := svc.RefreshCatalog(ctx); err != nil {
		t.Fatal(err)
	}
	offline := app.NewService(nil, db, info)
	for _, form := range []protocol.CoxForm{protocol.CoxStratified, protocol.CoxPooled} {
		req := app.ScreenRequest{Study: "nsclc", Endpoint: "OS", Markers: []string{"tp53", "smarca4", "lrp1b", "tmb"}, Adjust: []string{"age"}, Form: form}
		live, err := svc.Screen(ctx, req, nil)
		if err != nil {
			t.Fatal(err)
		}
		if live.ResultID == 0 {
			t.Fatalf("%s: the screen was not stored", form)
		}
		r, err := offline.Open(ctx, live.ResultID)
		if err != nil {
			t.Fatalf("%s: reopening: %v", form, err)
		}
		if r.Request.Kind != protocol.KindScreen || r.Screen == nil || !strings.Contains(r.Name, "Biomarker screen of OS, 4 markers") {
			t.Fatalf("%s: reopened %q as %s, screen %v", form, r.Name, r.Request.Kind, r.Screen != nil)
		}
		if got, want := fmt.Sprintf("%#v", r.Screen.Markers), fmt.Sprintf("%#v", live.Markers); got != want {
			t.Errorf("%s: reopened markers differ:\n%s\nlive:\n%s", form, got, want)
		}
		if r.Screen.Tests != live.Tests || r.Screen.Queries != live.Queries || !slices.Equal(r.Screen.Sites, live.Sites) {
			t.Errorf("%s: reopened %d tests, %d queries, sites %v; live %d, %d, %v", form, r.Screen.Tests, r.Screen.Queries, r.Screen.Sites,
				live.Tests, live.Queries, live.Sites)
		}
		if form == protocol.CoxStratified && math.IsNaN(r.Screen.Markers[0].I2) {
			t.Errorf("stratified: no heterogeneity reopened for %s", r.Screen.Markers[0].Marker)
		}
		cached, err := offline.Screen(ctx, req, nil)
		if err != nil || !cached.Cached || cached.ResultID != live.ResultID {
			t.Fatalf("%s: offline screen: %+v, %v", form, cached, err)
		}
	}
	list, err := svc.Results(ctx, app.ResultFilter{})
	if err != nil || len(list) != 2 || list[0].Kind != protocol.KindScreen {
		t.Errorf("library: %+v %v", list, err)
	}
}
