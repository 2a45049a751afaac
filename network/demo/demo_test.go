package demo_test

import (
	"context"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/oncofed/oncofed/app"
	"github.com/oncofed/oncofed/cache"
	"github.com/oncofed/oncofed/network"
	"github.com/oncofed/oncofed/network/demo"
	"github.com/oncofed/oncofed/node"
	"github.com/oncofed/oncofed/protocol"
	"github.com/oncofed/oncofed/synth"
)

// TestDemoFederation starts the default demo network, checks every hospital is discovered
// and answers, then restarts it on the same directory (reusing the generated databases) and
// gets the same counts.
func TestDemoFederation(t *testing.T) {
	dir := t.TempDir()
	ctx := context.Background()
	want := synth.DemoFederation().SiteNames()
	counts := func() map[string]int {
		start := time.Now()
		d, err := demo.Start(ctx, dir, demo.Options{})
		if err != nil {
			t.Fatal(err)
		}
		defer d.Close()
		t.Logf("demo started in %v", time.Since(start))
		c, err := network.Dial(ctx, d.URL(), network.WithSigner(d.Signer()))
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		sites, err := c.Sites(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if len(sites) != len(want) {
			t.Fatalf("%d sites discovered, want %d", len(sites), len(want))
		}
		for _, s := range sites {
			if len(s.Studies) != 4 {
				t.Errorf("%s serves %v, want the four studies", s.Site, s.Studies)
			}
		}
		g, err := c.Query(ctx, protocol.Query{Kind: protocol.KindCount, Study: "nsclc"})
		if err != nil {
			t.Fatal(err)
		}
		if len(g.Replies) != len(want) {
			t.Fatalf("%d of %d sites answered: missing %v refused %v invalid %v", len(g.Replies), len(want), g.Missing, g.Refused, g.Invalid)
		}
		out := map[string]int{}
		for _, r := range g.Replies {
			out[r.Site] = r.Count.Total.N
		}
		return out
	}
	first := counts()
	// synth.DemoFederation: NSCLC site sizes 3000, 2100, 1300, 800, 450, 150.
	total := 0
	for _, n := range first {
		total += n
	}
	if total != 3000+2100+1300+800+450+150 {
		t.Errorf("NSCLC total %d, want 7800", total)
	}
	second := counts()
	for s, n := range first {
		if second[s] != n {
			t.Errorf("%s: %d patients after restart, %d before", s, second[s], n)
		}
	}
}

// TestDemoPooledCoxWhereAllowed: in a federation whose one site runs the exact (trusted)
// policy and the others the demo policy, a pooled Cox fit uses the exact site and lists the
// others as refused with the reason, and the stratified fit uses every site.
func TestDemoPooledCoxWhereAllowed(t *testing.T) {
	ctx := context.Background()
	fed := synth.Federation{Name: "mixed", Policies: map[string]synth.SitePolicy{},
		Studies: []synth.Spec{{Study: synth.NSCLC, SiteSizes: []int{300, 120, 60}, Seed: 11}}}
	names := fed.SiteNames()
	for _, s := range names {
		fed.Policies[s] = synth.DemoPolicy
	}
	fed.Policies[names[0]] = synth.SitePolicy{}
	// The Cox path of oncofed-cli and the desktop app: app.Service with a real SQLite cache.
	c, db := startDemo(t, fed)
	svc := app.NewService(c, db, app.NetworkInfo{ID: "mixed", Name: "mixed"}, app.WithAnalyst("test"))
	if _, err := svc.RefreshCatalog(ctx); err != nil {
		t.Fatal(err)
	}
	req := app.Request{Kind: protocol.KindCox, Study: "nsclc", Endpoint: "OS",
		Cox: &app.CoxSpec{Form: protocol.CoxPooled, Ties: "efron", Covariates: []string{"age"}}}
	res, err := svc.Run(ctx, req)
	if err != nil {
		t.Fatal(err)
	}
	if p := res.Provenance; len(p.Answered) != 1 || p.Answered[0] != names[0] || res.Cox.Fit == nil || !res.Cox.Fit.Converged {
		t.Fatalf("pooled fit used %v (fit %v), want only the exact site %s", p.Answered, res.Cox.Fit, names[0])
	}
	if len(res.Provenance.Refused) != len(names)-1 {
		t.Fatalf("refused %+v, want the %d demo-policy sites", res.Provenance.Refused, len(names)-1)
	}
	for _, p := range res.Provenance.Refused {
		if p.Code != protocol.CodeRefusedByPolicy || !strings.Contains(p.Message, "pooled Cox form") {
			t.Errorf("%s: %s: %s", p.Site, p.Code, p.Message)
		}
	}
	req.Cox.Form = protocol.CoxStratified
	res, err = svc.Run(ctx, req)
	if err != nil {
		t.Fatalf("stratified fit: %v", err)
	}
	if len(res.Provenance.Answered) != len(names) || res.Provenance.Partial() || res.Cox.Fit == nil || !res.Cox.Fit.Converged {
		t.Fatalf("stratified fit: sites %v of %v, fit %v", res.Provenance.Answered, names, res.Cox.Fit)
	}
}

// TestDemoSitesImportedAsSpecified: what Start imports at each hospital — through
// NodeImportSpec, the conversion oncofed-node synth uses too — is the synthetic spec's study,
// site name, data cut, endpoints and patient count, read back from the site databases.
func TestDemoSitesImportedAsSpecified(t *testing.T) {
	ctx := context.Background()
	cut := time.Date(2025, 3, 31, 0, 0, 0, 0, time.UTC)
	fed := synth.Federation{Name: "spec", Policies: map[string]synth.SitePolicy{},
		Studies: []synth.Spec{{Study: synth.TNBC, SiteSizes: []int{80, 40}, Seed: 5, DataCut: cut}}}
	dir := t.TempDir()
	d, err := demo.Start(ctx, dir, demo.Options{Federation: &fed})
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	g, err := synth.New(fed.Studies[0])
	if err != nil {
		t.Fatal(err)
	}
	for i, s := range g.Sites() {
		is := g.ImportSpec(i)
		st, err := node.OpenSQLite(filepath.Join(dir, s.Name+".db"))
		if err != nil {
			t.Fatal(err)
		}
		defer st.Close()
		name, err := st.SiteName(ctx)
		if err != nil || name != s.Name {
			t.Errorf("site %d stored as %q (%v), want %q", i, name, err, s.Name)
		}
		data, info, err := st.LoadStudy(ctx, is.Study)
		if err != nil {
			t.Fatalf("%s: %v", s.Name, err)
		}
		if info.DataCut != "2025-03-31" || info.Patients != fed.Studies[0].SiteSizes[i] {
			t.Errorf("%s: data cut %q, %d patients; want 2025-03-31, %d", s.Name, info.DataCut, info.Patients, fed.Studies[0].SiteSizes[i])
		}
		var eps []string
		for _, e := range data.Endpoints {
			eps = append(eps, e.Name)
		}
		var want []string
		for _, e := range is.Endpoints {
			want = append(want, e.Name)
		}
		if strings.Join(eps, ",") != strings.Join(want, ",") || len(want) == 0 {
			t.Errorf("%s: endpoints %v, want %v", s.Name, eps, want)
		}
	}
}

// TestDemoCoxFitsWithinCap: the demo's Cox models (NSCLC overall survival, stratified by
// site, on six protective sites of 150–3,000 patients) converge without an iterate near the
// sites' β cap: the largest |β_j| asked over the limit each site states is logged with the
// rounds each fit takes.
func TestDemoCoxFitsWithinCap(t *testing.T) {
	ctx := context.Background()
	fed := synth.DemoFederation()
	fed.Studies = fed.Studies[:1] // NSCLC
	c, db := startDemo(t, fed)
	for _, cov := range [][]string{{"age"}, {"sex"}, {"ecog"}, {"age", "sex", "ecog"}, {"age", "sex", "ecog", "stage", "weight_loss_kg"}, {"pdl1_tps", "histology", "egfr", "dx_year"}} {
		// One analyst per model: the overlap guard would refuse complete cases a few
		// patients apart (weight loss is missing for some).
		svc := app.NewService(c, db, app.NetworkInfo{ID: "demo", Name: "demo"}, app.WithAnalyst(strings.Join(cov, "+")))
		if _, err := svc.RefreshCatalog(ctx); err != nil {
			t.Fatal(err)
		}
		res, err := svc.Run(ctx, app.Request{Kind: protocol.KindCox, Study: "nsclc", Endpoint: "OS", Cox: &app.CoxSpec{Covariates: cov, Ties: "efron", Form: protocol.CoxStratified}})
		if err != nil {
			t.Fatalf("%v: %v", cov, err)
		}
		if res.Cox.Fit == nil || !res.Cox.Fit.Converged || res.Cox.FitError != "" {
			t.Fatalf("%v: fit %+v, error %q", cov, res.Cox.Fit, res.Cox.FitError)
		}
		worst, worstSum := 0.0, 0.0
		for _, r := range res.Rounds {
			for _, rep := range r.Replies {
				if rep.Cox == nil || rep.Cox.BetaLimit == nil {
					t.Fatalf("%v: %s states no β limit", cov, rep.Site)
				}
				sum := 0.0
				for j, b := range r.Query.Cox.Beta {
					worst = max(worst, abs(b)/rep.Cox.BetaLimit[j])
					sum += abs(b) / rep.Cox.BetaLimit[j]
				}
				worstSum = max(worstSum, sum)
			}
		}
		if worst > 0.7 {
			t.Errorf("%v: an iterate reached %.2f of a site's cap", cov, worst)
		}
		t.Logf("%v: %d sites, %d rounds, largest |β|/limit asked %.3f, largest Σ|β|/limit %.3f, final coef %.3g", cov, len(res.Provenance.Answered), len(res.Rounds), worst, worstSum, res.Cox.Fit.Coef)
	}
}

func abs(x float64) float64 {
	if x < 0 {
		return -x
	}
	return x
}

// startDemo starts fed on an embedded hub and returns a client signing as the demo analyst
// and a real SQLite cache, all closed when the test ends.
func startDemo(t *testing.T, fed synth.Federation) (*network.Client, *cache.DB) {
	t.Helper()
	_, c, db, _ := startDemoCache(t, fed)
	return c, db
}

// startDemoCache is startDemo returning the federation too (to stop it) and the cache's path.
func startDemoCache(t *testing.T, fed synth.Federation) (*demo.Demo, *network.Client, *cache.DB, string) {
	t.Helper()
	ctx := context.Background()
	d, err := demo.Start(ctx, t.TempDir(), demo.Options{Federation: &fed})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(d.Close)
	c, err := network.Dial(ctx, d.URL(), network.WithSigner(d.Signer()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	path := filepath.Join(t.TempDir(), "cache.db")
	db, err := cache.Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return d, c, db, path
}
