package app_test

import (
	"context"
	"errors"
	"fmt"
	"math"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"gonum.org/v1/gonum/floats/scalar"

	"github.com/oncofed/oncofed/app"
	"github.com/oncofed/oncofed/cache"
	"github.com/oncofed/oncofed/internal/lungtest"
	"github.com/oncofed/oncofed/protocol"
)

// close reports whether a and b agree within tol, relative or absolute; NaN (R's NA) agrees
// only with NaN.
func close(a, b, tol float64) bool {
	if math.IsNaN(a) || math.IsNaN(b) {
		return math.IsNaN(a) && math.IsNaN(b)
	}
	return scalar.EqualWithinAbsOrRel(a, b, tol, tol)
}

type clock struct{ t time.Time }

func (c *clock) now() time.Time { return c.t }

type fixture struct {
	net   *fakeNetwork
	db    *cache.DB
	svc   *app.Service
	clock *clock
	notes []app.Notice
	path  string
}

func newFixture(t testing.TB) *fixture {
	t.Helper()
	f := &fixture{net: newFakeNetwork(loadLung(t)), clock: &clock{time.Date(2026, 11, 20, 14, 2, 0, 0, time.UTC)}}
	f.path = filepath.Join(t.TempDir(), "cache.db")
	var err error
	if f.db, err = cache.Open(context.Background(), f.path); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.db.Close() })
	var n atomic.Int64
	var mu sync.Mutex
	f.svc = app.NewService(f.net, f.db, app.NetworkInfo{ID: "demo", Name: "Demo network", Demo: true},
		app.WithClock(f.clock.now),
		app.WithNotify(func(n app.Notice) { mu.Lock(); f.notes = append(f.notes, n); mu.Unlock() }),
		app.WithQueryIDs(func() string { return fmt.Sprint("q", n.Add(1)) }))
	if _, err := f.svc.RefreshCatalog(context.Background()); err != nil {
		t.Fatal(err)
	}
	return f
}

var kmBySex = app.Request{Kind: protocol.KindSurvival, Study: "lung", Endpoint: "os", GroupBy: "sex", Landmarks: []float64{90, 365}}

// TestKMThroughServiceMatchesR: per-site tables from 18 sites, merged by the service, give R's
// survfit(Surv(time, event) ~ sex, lung) row by row, its medians and survdiff's log-rank test.
func TestKMThroughServiceMatchesR(t *testing.T) {
	for _, bin := range []int{0, 30} {
		t.Run(map[int]string{0: "exact", 30: "30-day bins"}[bin], func(t *testing.T) {
			f := newFixture(t)
			f.net.binDays = float64(bin)
			g := lungtest.ReadExpected(t, bin)
			r, err := f.svc.Run(context.Background(), kmBySex)
			if err != nil {
				t.Fatal(err)
			}
			km := r.KM
			if km == nil || len(km.Groups) != 2 {
				t.Fatalf("KM payload %+v", km)
			}
			if km.BinDays != float64(bin) {
				t.Errorf("BinDays %v", km.BinDays)
			}
			// R: by_sex$km, summary(survfit(Surv(t, event) ~ sex, d), censored = TRUE).
			w := g.BySex.KM
			groups := w.Group
			row := 0
			for _, grp := range km.Groups {
				c := grp.Curve
				for k := range c.Time {
					for row < len(groups) && groups[row] != grp.Group {
						row++
					}
					if row >= len(groups) {
						t.Fatalf("group %s: more rows than R", grp.Group)
					}
					got := []float64{c.Time[k], float64(c.NRisk[k]), float64(c.NEvent[k]), float64(c.NCensor[k]), c.Surv[k], c.StdErr[k], c.Lower[k], c.Upper[k]}
					want := []float64{w.Time[row], float64(w.NRisk[row]), float64(w.NEvent[row]), float64(w.NCensor[row]), w.Surv[row], w.StdErr[row], w.Lower[row], w.Upper[row]}
					for i, name := range []string{"time", "n_risk", "n_event", "n_censor", "surv", "std_err", "lower", "upper"} {
						if !close(got[i], want[i], 1e-9) {
							t.Errorf("%s row %d %s = %v, R %v", grp.Group, k, name, got[i], want[i])
						}
					}
					row++
				}
			}
			if row != len(groups) {
				t.Errorf("compared %d rows, R has %d", row, len(groups))
			}
			// R: by_sex$median (print(survfit) table: median, 0.95LCL, 0.95UCL).
			med, lcl, ucl := g.BySex.Median.Median, g.BySex.Median.LCL, g.BySex.Median.UCL
			for i, grp := range km.Groups {
				m := grp.Median
				if !close(m.Time, med[i], 1e-9) || !close(m.Lower, lcl[i], 1e-9) || !close(m.Upper, ucl[i], 1e-9) {
					t.Errorf("%s median %v (%v, %v), R %v (%v, %v)", grp.Group, m.Time, m.Lower, m.Upper, med[i], lcl[i], ucl[i])
				}
				if len(grp.Landmarks) != 2 || grp.Landmarks[0].Time != 90 {
					t.Errorf("%s landmarks %+v", grp.Group, grp.Landmarks)
				}
			}
			// R: survdiff(Surv(t, event) ~ sex) and ~ sex + strata(site).
			lr := km.LogRank
			if lr == nil {
				t.Fatalf("no log-rank: %s", km.LogRankError)
			}
			if wlr := g.BySex.LogRank; !close(lr.ChiSq, wlr.ChiSq, 1e-9) || !close(lr.P, wlr.P, 1e-6) || lr.DF != wlr.DF {
				t.Errorf("log-rank χ² %v p %v df %d, R %+v", lr.ChiSq, lr.P, lr.DF, wlr)
			}
			slr := km.StratifiedLogRank
			if wslr := g.BySex.LogRankSiteStrata; slr == nil || !close(slr.ChiSq, wslr.ChiSq, 1e-9) || !close(slr.P, wslr.P, 1e-6) {
				t.Errorf("stratified log-rank %+v, R %+v", slr, wslr)
			}
			// Provenance.
			p := r.Provenance
			if len(p.Expected) != 18 || len(p.Answered) != 18 || p.Partial() || len(p.Sites) != 18 || p.Sites[0].DataCut != "2026-10-31" {
				t.Errorf("provenance %+v", p)
			}
			if p.AppVersion != app.Version || p.ProtocolVersion != protocol.Version || len(p.ContentHash) != 64 || !p.RanAt.Equal(f.clock.t) {
				t.Errorf("provenance versions/hash/time %+v", p)
			}
		})
	}
}

// coxGoldenCheck compares r's Cox fit with R's coxph fit want (gen_lung.R's cox_sex_age[[key]]).
func coxGoldenCheck(t *testing.T, want lungtest.CoxTable, key string, r *app.Result) {
	t.Helper()
	if r.Cox == nil || r.Cox.Fit == nil {
		t.Fatalf("no Cox fit: %+v", r.Cox)
	}
	fit := r.Cox.Fit
	if !reflect.DeepEqual(fit.Terms, want.Term) {
		t.Fatalf("terms %v", fit.Terms)
	}
	for _, c := range []struct {
		name string
		got  []float64
		tol  float64
		want []float64
	}{{"coef", fit.Coef, 1e-9, want.Coef}, {"se", fit.SE, 1e-9, want.SE}, {"hr", fit.HR, 1e-9, want.HR}, {"lower", fit.Lower, 1e-9, want.Lower},
		{"upper", fit.Upper, 1e-9, want.Upper}, {"p", fit.P, 1e-6, want.P}} {
		for i := range c.want {
			if !close(c.got[i], c.want[i], c.tol) {
				t.Errorf("%s %s[%s] = %v, R %v", key, c.name, fit.Terms[i], c.got[i], c.want[i])
			}
		}
	}
}

// TestCoxThroughService: a federated Newton–Raphson with one network round per iteration gives
// R's coxph(Surv(time, event) ~ sex + age + strata(site)) (stratified) and ~ sex + age (pooled).
func TestCoxThroughService(t *testing.T) {
	for _, c := range []struct {
		form protocol.CoxForm
		ties string
		key  string
		bin  int
	}{{protocol.CoxStratified, "efron", "efron_site_strata", 0}, {protocol.CoxPooled, "efron", "efron", 0}, {protocol.CoxPooled, "breslow", "breslow", 0},
		{protocol.CoxStratified, "efron", "efron_site_strata", 30}, {protocol.CoxPooled, "efron", "efron", 30}, {protocol.CoxPooled, "breslow", "breslow", 30}} {
		t.Run(fmt.Sprintf("%s/%s/bin%d", c.form, c.ties, c.bin), func(t *testing.T) {
			want := lungtest.ReadExpected(t, c.bin).Cox.Model(c.key)
			f := newFixture(t)
			f.net.binDays = float64(c.bin)
			req := app.Request{Kind: protocol.KindCox, Study: "lung", Endpoint: "os", Cox: &app.CoxSpec{Covariates: []string{"sex", "age"}, Ties: c.ties, Form: c.form}}
			r, err := f.svc.Run(context.Background(), req)
			if err != nil {
				t.Fatal(err)
			}
			coxGoldenCheck(t, want, c.key, r)
			// One scatter-gather per evaluation; a pooled fit adds a phase-2 round (each site
			// its own weights) after each evaluation whose Hessian it uses, right after it.
			evals, hessians := 0, 0
			for k, round := range r.Rounds {
				// A pooled fit asks the sites to centre age on the midpoint of its declared
				// range (18–100 in the lung dictionary); the stratified form centres itself.
				if o := round.Query.Cox.Origin; (c.form == protocol.CoxPooled) != (len(o) == 1 && o["age"] == 59) {
					t.Errorf("round %d (%s): origin %v", k, round.Query.Cox.Form, o)
				}
				if round.Query.Cox.Form == protocol.CoxPooledHessian {
					hessians++
					if k == 0 || r.Rounds[k-1].Query.Cox.Form != protocol.CoxPooledSums || !sameBits(round.Query.Cox.Beta, r.Rounds[k-1].Query.Cox.Beta) {
						t.Errorf("round %d: a phase-2 round that does not follow its phase 1", k)
					}
					if round.Query.Cox.Weights != nil || round.Query.Cox.Site != "" {
						t.Errorf("round %d: the stored phase-2 query keeps weights or a site", k)
					}
					continue
				}
				evals++
			}
			if evals < 3 || evals != r.Cox.Fit.Iterations+1 || (c.form == protocol.CoxPooled) != (hessians > 0) || hessians > evals {
				t.Errorf("%d evaluations and %d phase-2 rounds for %d iterations", evals, hessians, r.Cox.Fit.Iterations)
			}
			if r.Request.Cox.Levels["sex"][0] != "female" {
				t.Errorf("levels from the catalog: %v", r.Request.Cox.Levels)
			}
			// Reopening refits from the stored rounds, with no network, to the same bits.
			f.net.down = true
			o, err := f.svc.Open(context.Background(), r.ID)
			if err != nil {
				t.Fatal(err)
			}
			if !sameBits(o.Cox.Fit.Coef, r.Cox.Fit.Coef) || !sameBits(o.Cox.Fit.Vcov, r.Cox.Fit.Vcov) || o.Cox.Fit.LogLik != r.Cox.Fit.LogLik {
				t.Errorf("reopened fit differs: %v vs %v", o.Cox.Fit.Coef, r.Cox.Fit.Coef)
			}
		})
	}
}

func sameBits(a, b []float64) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if math.Float64bits(a[i]) != math.Float64bits(b[i]) {
			return false
		}
	}
	return true
}

// TestCoxSiteDropsOutMidFit: a site that answers the first rounds and then goes silent aborts
// the fit with an error naming it; nothing is stored.
func TestCoxSiteDropsOutMidFit(t *testing.T) {
	f := newFixture(t)
	f.net.dropSite, f.net.dropAfter = "inst11", 2
	req := app.Request{Kind: protocol.KindCox, Study: "lung", Endpoint: "os", Cox: &app.CoxSpec{Covariates: []string{"sex", "age"}}}
	_, err := f.svc.Run(context.Background(), req)
	if err == nil || app.ErrorCode(err) != app.EUnavailable || !strings.Contains(err.Error(), "inst11 stopped answering in round 3") {
		t.Fatalf("drop-out: %v", err)
	}
	if list, _ := f.svc.Results(context.Background(), app.ResultFilter{}); len(list) != 0 {
		t.Errorf("%d results stored after an aborted fit", len(list))
	}
}

// A site that refuses a later round aborts the fit as a refusal by its policy, with its
// reason — not as a lost network (which would tell the analyst to check the connection).
func TestCoxSiteRefusesMidFit(t *testing.T) {
	f := newFixture(t)
	f.net.dropSite, f.net.dropAfter, f.net.dropRefuses = "inst11", 2, true
	req := app.Request{Kind: protocol.KindCox, Study: "lung", Endpoint: "os", Cox: &app.CoxSpec{Covariates: []string{"sex", "age"}}}
	_, err := f.svc.Run(context.Background(), req)
	var e *app.Error
	if !errors.As(err, &e) || e.Code != app.ERefusedByPolicy || len(e.Refused) != 1 || e.Refused[0].Site != "inst11" ||
		!strings.Contains(e.Message, "site inst11 refused round 3 of the fit (this analyst's daily budget is spent)") {
		t.Fatalf("refusal mid-fit: %v", err)
	}
}

// TestOpenRendersExactlyAsBefore: a stored KM result reopened after the network went away
// renders the same numbers to the bit, from the stored aggregates.
func TestOpenRendersExactlyAsBefore(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	r, err := f.svc.Run(ctx, kmBySex)
	if err != nil {
		t.Fatal(err)
	}
	f.net.down = true
	// A fresh process: new cache handle, new service with no network at all.
	db2, err := cache.Open(ctx, f.path)
	if err != nil {
		t.Fatal(err)
	}
	defer db2.Close()
	svc := app.NewService(nil, db2, app.NetworkInfo{ID: "demo", Name: "Demo network"})
	if !svc.Offline() {
		t.Error("a service without a network is not offline")
	}
	// Without a network (oncofed-cli --offline), Run answers the request from the cache.
	if c, err := svc.Run(ctx, kmBySex); err != nil || !c.Cached || c.ID != r.ID {
		t.Errorf("offline Run: %v", err)
	}
	o, err := svc.Open(ctx, r.ID)
	if err != nil {
		t.Fatal(err)
	}
	if !o.Cached || o.Name != r.Name || !reflect.DeepEqual(o.Request, r.Request) || !reflect.DeepEqual(o.Rounds, r.Rounds) {
		t.Errorf("reopened result differs in request or aggregates")
	}
	if !o.Provenance.RanAt.Equal(r.Provenance.RanAt) || o.Provenance.ContentHash != r.Provenance.ContentHash {
		t.Errorf("provenance differs: %+v vs %+v", o.Provenance, r.Provenance)
	}
	for i := range r.KM.Groups {
		a, b := r.KM.Groups[i].Curve, o.KM.Groups[i].Curve
		for _, pair := range [][2][]float64{{a.Time, b.Time}, {a.Surv, b.Surv}, {a.StdErr, b.StdErr}, {a.Lower, b.Lower}, {a.Upper, b.Upper}} {
			if !sameBits(pair[0], pair[1]) {
				t.Errorf("group %d curve differs after reopening", i)
			}
		}
		if !sameBits([]float64{r.KM.Groups[i].Median.Time}, []float64{o.KM.Groups[i].Median.Time}) {
			t.Error("median differs")
		}
	}
	if math.Float64bits(r.KM.LogRank.P) != math.Float64bits(o.KM.LogRank.P) {
		t.Error("log-rank p differs")
	}
}

// TestOffline: when the hub is unreachable the service says so once, answers a cached request
// with its age and fails clearly for one that was never run.
func TestOffline(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	f.net.silent["inst33"] = true
	r, err := f.svc.Run(ctx, kmBySex)
	if err != nil {
		t.Fatal(err)
	}
	f.net.down = true
	f.clock.t = f.clock.t.Add(3*24*time.Hour + time.Hour)
	for i := 0; i < 3; i++ {
		c, err := f.svc.Run(ctx, kmBySex)
		if err != nil {
			t.Fatal(err)
		}
		if !c.Cached || c.ID != r.ID || c.KM == nil {
			t.Fatalf("offline answer %+v", c)
		}
		if got := app.AsOf(f.clock.t, &c.Provenance); got != "as of 3 days ago, 17 of 18 sites" {
			t.Errorf("AsOf = %q", got)
		}
	}
	if len(f.notes) != 1 || !f.notes[0].Offline || !strings.Contains(f.notes[0].Message, "Offline") {
		t.Errorf("notices %+v; want exactly one offline notice", f.notes)
	}
	if !f.svc.Offline() {
		t.Error("service does not report offline")
	}
	_, err = f.svc.Run(ctx, app.Request{Kind: protocol.KindCount, Study: "lung"})
	if app.ErrorCode(err) != app.EUnavailable || !strings.Contains(app.ErrorMessage(err), "never run before") {
		t.Errorf("offline uncached: %v", err)
	}
	// Offline, sites and the catalog come from the cache.
	sites, err := f.svc.Sites(ctx)
	if err != nil || len(sites) != 18 || sites[0].Online {
		t.Errorf("offline sites: %d, %v", len(sites), err)
	}
	cat, updates, err := f.svc.LoadCatalog(ctx)
	if err != nil || cat.Study("lung") == nil {
		t.Fatalf("offline catalog: %v", err)
	}
	if u := <-updates; u.Err == nil || app.ErrorCode(u.Err) != app.EUnavailable {
		t.Errorf("refresh while offline: %+v", u)
	}
	// Back online: one notice, and a re-run is live again.
	f.net.down = false
	if _, _, err := f.svc.Rerun(ctx, r.ID); err != nil {
		t.Fatal(err)
	}
	if len(f.notes) != 2 || f.notes[1].Offline {
		t.Errorf("notices %+v; want one back-online notice", f.notes)
	}
	// Rerun refuses to pass the cached result off as new.
	f.net.down = true
	if _, _, err := f.svc.Rerun(ctx, r.ID); app.ErrorCode(err) != app.EUnavailable {
		t.Errorf("offline rerun: %v", err)
	}
}

// TestRerunWhatChanged: a site that was missing answers now and the data cut moved: the re-run
// reports the added patients, the moved medians and p-value.
func TestRerunWhatChanged(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	f.net.silent["inst1"] = true // 36 patients
	old, err := f.svc.Run(ctx, kmBySex)
	if err != nil {
		t.Fatal(err)
	}
	f.net.silent["inst1"] = false
	f.net.dataCut = "2026-11-27"
	if _, err := f.svc.RefreshCatalog(ctx); err != nil {
		t.Fatal(err)
	}
	f.clock.t = f.clock.t.Add(7 * 24 * time.Hour)
	cur, ch, err := f.svc.Rerun(ctx, old.ID)
	if err != nil {
		t.Fatal(err)
	}
	if cur.ID == old.ID || cur.Name != old.Name {
		t.Errorf("rerun stored as %d %q", cur.ID, cur.Name)
	}
	if ch.PatientsBefore != 227-36 || ch.PatientsAfter != 227 || !reflect.DeepEqual(ch.SitesAdded, []string{"inst1"}) {
		t.Errorf("changes %+v", ch)
	}
	// R: median by sex on all of lung (gen_lung.R, by_sex$median): female 426, male 269.
	if ch.Groups[0].MedianAfter != 426 || ch.Groups[1].MedianAfter != 269 {
		t.Errorf("medians after %+v", ch.Groups)
	}
	if ch.PBefore == ch.PAfter || math.IsNaN(ch.PBefore) {
		t.Errorf("p before %v after %v", ch.PBefore, ch.PAfter)
	}
	if len(ch.DataCuts) != 17 || !strings.Contains(strings.Join(ch.Lines, "\n"), "+36 patients (191 → 227)") || !strings.Contains(strings.Join(ch.Lines, "\n"), "data cut 2026-10-31 → 2026-11-27 at 17 sites") {
		t.Errorf("lines %q, data cuts %v", ch.Lines, ch.DataCuts)
	}
	t.Logf("what changed:\n%s", strings.Join(ch.Lines, "\n"))
}

func TestCatalogCacheFirst(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	// A site joins and another gains a category: the cached catalog comes at once, the refresh
	// reports what changed.
	cat, updates, err := f.svc.LoadCatalog(ctx)
	if err != nil || cat == nil {
		t.Fatal(err)
	}
	st := cat.Study("lung")
	if st == nil || len(st.Sites) != 18 || st.Patients != 227 {
		t.Fatalf("cached study %+v", st)
	}
	if v := st.Variable("ecog"); v == nil || !reflect.DeepEqual(v.Categories, []string{"ecog0", "ecog1", "ecog2", "ecog3"}) {
		t.Errorf("ecog categories %+v", v)
	}
	if u := <-updates; u.Err != nil || u.First || len(u.Changes) != 0 {
		t.Errorf("refresh without change: %+v", u)
	}
	f.net.bySite["inst99"] = []patient{{site: "inst99", time: 10, event: true, num: map[string]float64{"age": 50}, cat: map[string]string{"sex": "female", "ecog": "ecog4"}}}
	_, updates, err = f.svc.LoadCatalog(ctx)
	if err != nil {
		t.Fatal(err)
	}
	u := <-updates
	// inst99 holds an undeclared category: it publishes a dictionary of its own, which the
	// changes warn of.
	want := []string{"site inst99 answered (new)", "warning: the sites of lung publish 2 different dictionaries", "study lung: patients 227 → 228 (+1)", "study lung: variable ecog: category ecog4 added"}
	if u.Err != nil || len(u.Changes) != len(want) {
		t.Fatalf("changes %q, %v; want %q", u.Changes, u.Err, want)
	}
	for i, w := range want {
		if !strings.HasPrefix(u.Changes[i], w) {
			t.Errorf("change %d %q, want %q…", i, u.Changes[i], w)
		}
	}
	if !strings.Contains(u.Changes[1], "version 1 (dictionary ") || !strings.HasSuffix(u.Changes[1], ": inst99") {
		t.Errorf("warning %q should name the sites and their dictionaries", u.Changes[1])
	}
}

func TestCountAndSummary(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	min := 60.0
	c, err := f.svc.Run(ctx, app.Request{Kind: protocol.KindCount, Study: "lung", GroupBy: "ecog",
		Cohort: &protocol.Filter{Op: protocol.OpRange, Var: "age", Min: &min}})
	if err != nil {
		t.Fatal(err)
	}
	// Expected: counted directly from lung.csv (age ≥ 60, by ecog; missing ecog apart).
	want := map[string]int{}
	wantTotal, wantMissing := 0, 0
	for _, p := range loadLung(t) {
		if age, ok := p.num["age"]; !ok || age < 60 {
			continue
		}
		wantTotal++
		if e, ok := p.cat["ecog"]; ok {
			want[e]++
		} else {
			wantMissing++
		}
	}
	got := map[string]int{}
	for _, g := range c.Count.Groups {
		got[g.Group] = g.N.N
	}
	if c.Count.Total.N != wantTotal || c.Count.Missing.N != wantMissing || !reflect.DeepEqual(got, want) || len(c.Count.PerSite) != 18 {
		t.Errorf("count %+v; want total %d, missing %d, groups %v", c.Count, wantTotal, wantMissing, want)
	}
	s, err := f.svc.Run(ctx, app.Request{Kind: protocol.KindSummary, Study: "lung", GroupBy: "sex", Variables: []string{"age", "ecog"},
		Bins: []protocol.HistogramSpec{{Variable: "age", Edges: []float64{40, 50, 60, 70, 80}}}})
	if err != nil {
		t.Fatal(err)
	}
	tab := s.Summary.Table
	if len(tab.Columns) != 3 || tab.N[2].N != 227 || len(tab.Variables) != 2 {
		t.Fatalf("table 1 %+v", tab)
	}
	o, err := f.svc.Open(ctx, s.ID)
	if err != nil || !reflect.DeepEqual(o.Summary.Table.Rows, tab.Rows) {
		t.Errorf("reopened summary differs: %v", err)
	}
}

func TestRefusedAndInvalid(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	for _, req := range []app.Request{{Kind: protocol.KindSurvival, Study: "lung"}, {Kind: "plot", Study: "lung"}, {Kind: protocol.KindCount},
		{Kind: protocol.KindCox, Study: "lung", Endpoint: "os", Cox: &app.CoxSpec{Covariates: []string{"stage"}}},
		{Kind: protocol.KindSurvival, Study: "lung", Endpoint: "os", Landmarks: []float64{math.NaN()}}} {
		if _, err := f.svc.Run(ctx, req); app.ErrorCode(err) != app.EInvalid {
			t.Errorf("%+v: %v, want invalid", req, err)
		}
	}
	for _, s := range f.net.sites() {
		f.net.refuse[s] = "cohort below 10"
	}
	_, err := f.svc.Run(ctx, kmBySex)
	if app.ErrorCode(err) != app.ERefusedByPolicy || !strings.Contains(err.Error(), "all 18 sites (inst1, inst10, ") || !strings.HasSuffix(err.Error(), "inst7): cohort below 10") {
		t.Errorf("all refused: %v", err)
	}
}

func TestLibraryThroughService(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	r, err := f.svc.Run(ctx, kmBySex)
	if err != nil {
		t.Fatal(err)
	}
	if r.Name != "Kaplan–Meier of os by sex (lung)" {
		t.Errorf("name %q", r.Name)
	}
	if err := f.svc.Rename(ctx, r.ID, "Tumor board 2026-11"); err != nil {
		t.Fatal(err)
	}
	if err := f.svc.Pin(ctx, r.ID, true, nil); err != nil {
		t.Fatal(err)
	}
	list, err := f.svc.Results(ctx, app.ResultFilter{})
	if err != nil || len(list) != 1 || list[0].Name != "Tumor board 2026-11" || !list[0].Pinned || list[0].Answered != 18 {
		t.Fatalf("library %+v, %v", list, err)
	}
	if err := f.svc.Delete(ctx, r.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := f.svc.Open(ctx, r.ID); app.ErrorCode(err) != app.ENotFound {
		t.Errorf("open deleted: %v", err)
	}
	c := &app.Cohort{Study: "lung", Name: "ECOG 0–1", Endpoint: "os", GroupBy: "sex", Filter: &protocol.Filter{Op: protocol.OpIn, Var: "ecog", Values: []string{"ecog0", "ecog1"}}}
	if err := f.svc.SaveCohort(ctx, c); err != nil {
		t.Fatal(err)
	}
	cs, err := f.svc.Cohorts(ctx, "lung")
	if err != nil || len(cs) != 1 || cs[0].Network != "demo" || !cs[0].CreatedAt.Equal(f.clock.t) {
		t.Errorf("cohorts %+v, %v", cs, err)
	}
}

// TestCatalogKeepsSilentSites: a site that misses one catalog refresh keeps its last known
// catalog (and is listed as missing); a refresh nobody answers leaves the cache alone.
func TestCatalogKeepsSilentSites(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	f.net.silent["inst1"] = true
	u, err := f.svc.RefreshCatalog(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if st := u.Catalog.Study("lung"); st == nil || len(st.Sites) != 18 || st.Patients != 227 || !reflect.DeepEqual(u.Catalog.Missing, []string{"inst1"}) {
		t.Errorf("catalog with a silent site: %+v, missing %v", st, u.Catalog.Missing)
	}
	if len(u.Changes) != 0 {
		t.Errorf("changes %q", u.Changes)
	}
	for _, s := range f.net.sites() {
		f.net.silent[s] = true
	}
	if _, err := f.svc.RefreshCatalog(ctx); app.ErrorCode(err) != app.EUnavailable {
		t.Errorf("refresh nobody answers: %v", err)
	}
	cat, _, err := f.svc.LoadCatalog(ctx)
	if err != nil || cat.Study("lung") == nil || len(cat.Sites) != 18 {
		t.Errorf("cached catalog after an empty refresh: %v", err)
	}
}

func TestSitesStatus(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	f.net.silent["inst5"] = true
	sites, err := f.svc.Sites(ctx)
	if err != nil || len(sites) != 18 {
		t.Fatalf("sites %d, %v", len(sites), err)
	}
	for _, s := range sites {
		if s.Online == (s.Site == "inst5") || s.Policy == nil || s.DataCuts["lung"] != "2026-10-31" {
			t.Errorf("site %+v", s)
		}
	}
	cached, err := f.db.Sites(ctx, "demo")
	if err != nil || !reflect.DeepEqual(cached, sites) {
		t.Errorf("cached sites differ: %v", err)
	}
}

// TestRunDuringBackgroundRefresh: analyses run and are stored while the catalog refreshes in
// the background (the UI and the refresh write to the cache at once).
func TestRunDuringBackgroundRefresh(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	var updates []<-chan app.CatalogUpdate
	for i := 0; i < 5; i++ {
		_, u, err := f.svc.LoadCatalog(ctx)
		if err != nil {
			t.Fatal(err)
		}
		updates = append(updates, u)
		if _, err := f.svc.Run(ctx, app.Request{Kind: protocol.KindCount, Study: "lung", GroupBy: "sex"}); err != nil {
			t.Fatal(err)
		}
	}
	for _, u := range updates {
		if got := <-u; got.Err != nil {
			t.Error(got.Err)
		}
	}
	if list, err := f.svc.Results(ctx, app.ResultFilter{}); err != nil || len(list) != 5 {
		t.Errorf("%d results, %v", len(list), err)
	}
}

// A fit whose likelihood keeps rising beyond the sites' β limit (here no woman has an event,
// so the coefficient of sexmale is infinite) never asks a site beyond it and is reported as a
// diverging coefficient, not returned as an ordinary estimate; without a limit it runs on as
// R's coxph does.
func TestCoxDivergingBeyondSitesLimit(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t)
	for site, ps := range f.net.bySite {
		for i := range ps {
			if ps[i].cat["sex"] == "female" {
				ps[i].event = false
			}
		}
		f.net.bySite[site] = ps
	}
	f.net.betaLimit = 5
	req := app.Request{Kind: protocol.KindCox, Study: "lung", Endpoint: "os", Cox: &app.CoxSpec{Covariates: []string{"sex"}, Ties: "efron", Form: protocol.CoxStratified}}
	r, err := f.svc.Run(ctx, req)
	if err != nil {
		t.Fatal(err)
	}
	if f.net.overLimit != 0 {
		t.Errorf("%d Cox queries asked beyond the sites' limit", f.net.overLimit)
	}
	fit := r.Cox.Fit
	if fit.Converged || !slices.Contains(fit.Infinite, "sexmale") || math.Abs(fit.Coef[0]) > 5 {
		t.Errorf("fit: converged %v, infinite %v, coef %v", fit.Converged, fit.Infinite, fit.Coef)
	}
	if !strings.Contains(r.Cox.FitError, "sexmale") || !strings.Contains(r.Cox.FitError, "infinite") {
		t.Errorf("fit error %q; want it to say sexmale's coefficient is infinite", r.Cox.FitError)
	}
	// The stored result replays to the same fit.
	back, err := f.svc.Open(ctx, r.ID)
	if err != nil || back.Cox.FitError != r.Cox.FitError || back.Cox.Fit.Coef[0] != fit.Coef[0] {
		t.Errorf("reopened: %v, %+v", err, back.Cox)
	}

	f.net.betaLimit = 0
	r, err = f.svc.Run(ctx, req)
	if err != nil {
		t.Fatal(err)
	}
	if r.Cox.Fit.Coef[0] < 5 {
		t.Errorf("without a limit: coef %v, want it far beyond 5", r.Cox.Fit.Coef)
	}
}
