package app_test

import (
	"context"
	"math"
	"slices"
	"testing"

	"github.com/oncofed/oncofed/analysis"
	"github.com/oncofed/oncofed/app"
	"github.com/oncofed/oncofed/node"
	"github.com/oncofed/oncofed/protocol"
	"github.com/oncofed/oncofed/synth"
)

// TestIPWDPOneReleasePerSite: a dp analyst's weighted comparison, over a real hub and real
// nodes that list the analyst as dp, sends exactly one query to each site (one audit record
// each, a dp_tables Cox query) and spends exactly one dp_rho_cox of each site's ρ budget (the
// catalogs' ρ left before and after); the result is a function of the released tables only
// (rendered again from the stored rounds with no network, it is the same bit for bit), and the
// noise's spread of the log hazard ratio is stated.
func TestIPWDPOneReleasePerSite(t *testing.T) {
	ctx := context.Background()
	svc, d := demoService(t, synth.Spec{Study: synth.NSCLC, SiteSizes: []int{900, 600}, Seed: 5}, node.RoleDP)
	rhoLeft := func() map[string]float64 {
		u, err := svc.RefreshCatalog(ctx)
		if err != nil {
			t.Fatal(err)
		}
		out := map[string]float64{}
		for _, sc := range u.Catalog.Sites {
			if sc.You == nil || sc.You.Role != "dp" {
				t.Fatalf("site %s lists the analyst as %+v, want dp", sc.Site, sc.You)
			}
			out[sc.Site] = sc.You.RhoLeftToday[string(synth.NSCLC)]
		}
		return out
	}
	audited := func() int {
		n, err := d.Audited(ctx)
		if err != nil {
			t.Fatal(err)
		}
		return n
	}
	before, records := rhoLeft(), audited()
	spec := &app.IPWSpec{Treatment: "treatment", Treated: "pembro-chemo", Confounders: []string{"age", "ecog"}, Estimand: "ATE"}
	r, err := svc.Run(ctx, app.Request{Kind: protocol.KindIPW, Study: string(synth.NSCLC), Endpoint: "OS", IPW: spec})
	if err != nil {
		t.Fatal(err)
	}
	if got := audited() - records; got != len(d.Sites) {
		t.Errorf("%d audit records for %d sites: want one query per site", got, len(d.Sites))
	}
	if len(r.Rounds) != 1 || r.Rounds[0].Query.Kind != protocol.KindCox || r.Rounds[0].Query.Cox.Form != protocol.CoxDPTables {
		t.Fatalf("rounds %d, first %+v: want one dp_tables release", len(r.Rounds), r.Rounds[0].Query)
	}
	after := rhoLeft()
	for _, rep := range r.Rounds[0].Replies {
		cost := rep.Policy.DP.Rho
		if cost != node.DefaultDP.DPRhoCox || math.Abs(before[rep.Site]-after[rep.Site]-cost) > 1e-12 {
			t.Errorf("site %s: ρ left %v before, %v after; the release charged %v, want one dp_rho_cox = %v", rep.Site, before[rep.Site], after[rep.Site], cost, node.DefaultDP.DPRhoCox)
		}
	}
	res := r.IPW
	if res.DP == nil || len(res.DP.NoiseSD) != 1 || !(res.DP.NoiseSD[0] > 0) || res.Cox == nil || res.Robust == nil {
		t.Fatalf("result %+v", res)
	}
	t.Logf("HR %.3f (robust 95%% CI %.3f–%.3f, SE %.3f), noise SD of log HR %.3f over %d copies; %d pseudo-patients; ESS %.0f/%.0f",
		res.Cox.HR[0], res.Robust.Lower[0], res.Robust.Upper[0], res.Robust.SE[0], res.DP.NoiseSD[0], res.DP.Copies, res.DP.Patients, res.Treated.ESS, res.Control.ESS)

	// Reopened from the cache, with the network gone: the same numbers from the stored tables.
	d.Close()
	again, err := svc.Open(ctx, r.ID)
	if err != nil {
		t.Fatal(err)
	}
	a := again.IPW
	if a == nil || a.DP == nil || !analysis.EqualBits(a.Cox.Coef, res.Cox.Coef) || !analysis.EqualBits(a.Robust.SE, res.Robust.SE) ||
		!analysis.EqualBits(a.DP.NoiseSD, res.DP.NoiseSD) || !slices.Equal(a.Sites, res.Sites) {
		t.Errorf("reopened: %+v, want %+v", a, res)
	}
}
