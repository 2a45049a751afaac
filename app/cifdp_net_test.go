package app_test

import (
	"context"
	"math"
	"path/filepath"
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

// demoService is a client of a demo federation of spec's synthetic sites (demo policy) that
// list the analyst under role, on a real hub, with its own cache.
func demoService(t *testing.T, spec synth.Spec, role node.Role) (*app.Service, *demo.Demo) {
	t.Helper()
	ctx := context.Background()
	fed := synth.Federation{Name: string(spec.Study), Policies: map[string]synth.SitePolicy{}, Studies: []synth.Spec{spec}}
	g, err := synth.New(spec)
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range g.Sites() {
		fed.Policies[s.Name] = synth.DemoPolicy
	}
	dir := t.TempDir()
	d, err := demo.Start(ctx, filepath.Join(dir, "sites"), demo.Options{Federation: &fed, AnalystRole: role})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(d.Close)
	client, err := network.Dial(ctx, d.URL(), network.WithTimeout(20*time.Second), network.WithSigner(d.Signer()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { client.Close() })
	db, err := cache.Open(ctx, filepath.Join(dir, "cache.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return app.NewService(client, db, app.NetworkInfo{ID: "demo", Name: fed.Name, Demo: true}, app.WithAnalyst(demo.DemoAnalyst)), d
}

// cifService is a client of a demo federation of synthetic mesothelioma sites (PFS ends in
// progression or death, two competing causes) that list the analyst under role, its catalog
// fetched; rhoLeft reads each site's ρ left today for the study.
func cifService(t *testing.T, role node.Role) (svc *app.Service, rhoLeft func() map[string]float64) {
	t.Helper()
	ctx := context.Background()
	svc, _ = demoService(t, synth.Spec{Study: synth.MPM, SiteSizes: []int{700, 500}, Seed: 9}, role)
	rhoLeft = func() map[string]float64 {
		u, err := svc.RefreshCatalog(ctx)
		if err != nil {
			t.Fatal(err)
		}
		out := map[string]float64{}
		for _, sc := range u.Catalog.Sites {
			if sc.You != nil {
				out[sc.Site] = sc.You.RhoLeftToday[string(synth.MPM)]
			}
		}
		return out
	}
	rhoLeft()
	return svc, rhoLeft
}

// A dp analyst's Kaplan–Meier of an endpoint with causes does not ask for the split (the sites
// release the unsplit KM table, no cumulative incidence comes with it); its cumulative
// incidence (Request.CIF) asks for it (split_causes) and gets both causes. The two are two
// releases: each site's ρ left today falls by two dp_rho_survival. A trusted analyst's
// cumulative incidence does not send the field (a node older than it would refuse the query)
// and gets the split, as every rule-based release.
func TestCIFAsksForTheSplit(t *testing.T) {
	ctx := context.Background()
	svc, rhoLeft := cifService(t, node.RoleDP)
	before := rhoLeft()
	km, err := svc.Run(ctx, app.Request{Kind: protocol.KindSurvival, Study: string(synth.MPM), Endpoint: "PFS"})
	if err != nil {
		t.Fatal(err)
	}
	if km.Rounds[0].Query.SplitCauses || km.KM.Causes != 0 || km.KM.Groups[0].CIF != nil {
		t.Errorf("dp KM: split_causes %v, %d causes", km.Rounds[0].Query.SplitCauses, km.KM.Causes)
	}
	cif, err := svc.Run(ctx, app.Request{Kind: protocol.KindSurvival, Study: string(synth.MPM), Endpoint: "PFS", CIF: true})
	if err != nil {
		t.Fatal(err)
	}
	if !cif.Rounds[0].Query.SplitCauses || cif.KM.Causes != 2 || cif.KM.CIFError != "" || cif.KM.Groups[0].CIF == nil {
		t.Errorf("dp CIF: split_causes %v, %d causes (%q)", cif.Rounds[0].Query.SplitCauses, cif.KM.Causes, cif.KM.CIFError)
	}
	after := rhoLeft()
	if len(after) != 2 {
		t.Fatalf("ρ left at %d sites", len(after))
	}
	rho := node.DefaultPolicy().DPRhoSurvival
	for _, r := range []*app.Result{km, cif} {
		for _, rep := range r.Rounds[0].Replies {
			if rep.Policy.DP == nil || rep.Policy.DP.Rho != rho {
				t.Errorf("site %s: dp effects %+v, want ρ %v", rep.Site, rep.Policy.DP, rho)
			}
		}
	}
	for site, left := range after {
		if math.Abs(before[site]-left-2*rho) > 1e-9 {
			t.Errorf("site %s: ρ left %v → %v, want two releases of %v", site, before[site], left, rho)
		}
	}
	if _, err := svc.Run(ctx, app.Request{Kind: protocol.KindCount, Study: string(synth.MPM), CIF: true}); app.ErrorCode(err) != app.EInvalid {
		t.Errorf("a count asked as a cumulative incidence: %v", err)
	}

	trusted, _ := cifService(t, node.RoleTrusted)
	r, err := trusted.Run(ctx, app.Request{Kind: protocol.KindSurvival, Study: string(synth.MPM), Endpoint: "PFS", CIF: true})
	if err != nil {
		t.Fatal(err)
	}
	if r.Rounds[0].Query.SplitCauses || r.KM.Causes != 2 {
		t.Errorf("trusted CIF: split_causes %v, %d causes", r.Rounds[0].Query.SplitCauses, r.KM.Causes)
	}
}
