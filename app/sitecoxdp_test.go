package app_test

import (
	"context"
	"encoding/json"
	"math"
	"os"
	"slices"
	"testing"

	"github.com/oncofed/oncofed/analysis"
	"github.com/oncofed/oncofed/app"
	"github.com/oncofed/oncofed/protocol"
)

// dpTablesCase is app/testdata/sitecox_dp_goldens.json: R's coxph of each lung site on its
// times moved to the ends of 30-day bins.
type dpTablesCase struct {
	BinDays float64   `json:"bin_days"`
	Site    []string  `json:"site"`
	Coef    []float64 `json:"coef"`
	SE      []float64 `json:"se"`
}

// dpTablesResult builds the result of a dp_tables Cox model of lung by sex as the sites would
// release it with the noise drawn as zero: per site, one table per sex of events and
// censorings at the ends of w-day bins, with the release's public parameters.
func dpTablesResult(t *testing.T, w float64) *app.Result {
	t.Helper()
	horizon := 0.0
	bySite := map[string][]patient{}
	for _, p := range loadLung(t) {
		bySite[p.site] = append(bySite[p.site], p)
		horizon = math.Max(horizon, w*math.Ceil(p.time/w))
	}
	bins := int(horizon / w)
	var replies []protocol.Reply
	for site, ps := range bySite {
		var ev, ce [2][]int
		for k := range ev {
			ev[k], ce[k] = make([]int, bins), make([]int, bins)
		}
		events := 0
		for _, p := range ps {
			k, b := 0, int(math.Ceil(p.time/w))-1
			if p.cat["sex"] == "male" {
				k = 1
			}
			if p.event {
				ev[k][b]++
				events++
			} else {
				ce[k][b]++
			}
		}
		c := &protocol.CoxReply{Columns: []string{"sexmale"}, N: len(ps), Events: events}
		for k := range ev {
			pt := protocol.CoxPattern{X: protocol.Float64s{float64(k)}}
			for b := range bins {
				if ev[k][b]+ce[k][b] > 0 {
					pt.Time = append(pt.Time, float64(b+1)*w)
					pt.Events, pt.Censor = append(pt.Events, ev[k][b]), append(pt.Censor, ce[k][b])
				}
			}
			c.Patterns = append(c.Patterns, pt)
		}
		replies = append(replies, protocol.Reply{Version: protocol.Version, Site: site, Kind: protocol.KindCox, Cox: c,
			Policy: protocol.PolicyEffects{BinDays: w, TruncatedAfter: &horizon, DP: &protocol.DPEffects{Mechanism: "survival-sqrt", Rho: 0.05}}})
	}
	req := app.Request{Kind: protocol.KindCox, Study: "lung", Endpoint: "os", Cox: &app.CoxSpec{Covariates: []string{"sex"}, Ties: "efron", Form: protocol.CoxDPTables}}
	q := protocol.Query{Version: protocol.Version, Kind: protocol.KindCox, ID: "q1", Study: "lung", Endpoint: "os",
		Cox: &protocol.CoxRequest{Form: protocol.CoxDPTables, Ties: "efron", Covariates: []string{"sex"}, Beta: []float64{0}}}
	r := &app.Result{Request: req, Rounds: []app.Round{{Query: q, Replies: replies}}}
	r.Provenance.ContentHash = app.ContentHash(r.Request, r.Rounds)
	return r
}

// TestSiteCoxDPTablesMatchesR: the per-site view of a model fitted on differentially private
// tables fits each site's released tables alone, sends no query, and equals R's coxph of the
// site's binned data; each site's standard error in the meta-analysis adds the release's noise
// in quadrature, and the view survives storing (the compact trace keeps the tables).
func TestSiteCoxDPTablesMatchesR(t *testing.T) {
	var g dpTablesCase
	b, err := os.ReadFile("testdata/sitecox_dp_goldens.json")
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, &g); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	f := newFixture(t)
	r := dpTablesResult(t, g.BinDays)
	before := f.net.sent()
	sc, err := f.svc.SiteCox(ctx, r)
	if err != nil {
		t.Fatal(err)
	}
	if got := f.net.sent() - before; got != 0 || sc.Queries != 0 || !sc.DP {
		t.Fatalf("%d queries sent (%d reported), DP %v: the per-site view of dp tables is post-processing", got, sc.Queries, sc.DP)
	}
	used, h, err := sc.Meta("sexmale", 0.95)
	if err != nil {
		t.Fatal(err)
	}
	// Every site R fitted has the same fit here; it is used unless its estimate does not
	// survive the noise (the small sites: the simulation's seed is fixed, so which ones is too).
	for i, site := range g.Site {
		k := slices.IndexFunc(sc.Sites, func(s app.SiteCoxFit) bool { return s.Site == site })
		if k < 0 || sc.Sites[k].Fit == nil {
			t.Errorf("%s: no fit; R has one", site)
			continue
		}
		fit, noise := sc.Sites[k].Fit, sc.Sites[k].NoiseSD
		if !close(fit.Coef[0], g.Coef[i], 1e-9) || !close(fit.SE[0], g.SE[i], 1e-9) {
			t.Errorf("%s: log HR %.15g (SE %.15g), R %.15g (%.15g)", site, fit.Coef[0], fit.SE[0], g.Coef[i], g.SE[i])
		}
		u := slices.IndexFunc(used, func(e analysis.SiteEstimate) bool { return e.Site == site })
		if u < 0 {
			if !slices.Contains(h.Excluded, analysis.ExcludedSite{Site: site, Reason: app.NoNoiseEstimate}) || noise != nil {
				t.Errorf("%s: left out (%+v), noise SD %v", site, h.Excluded, noise)
			}
			continue
		}
		if len(noise) != 1 || !(noise[0] > 0) {
			t.Errorf("%s: noise SD %v, want one positive value", site, noise)
			continue
		}
		if e := used[u]; e.Estimate != fit.Coef[0] || e.SE != math.Hypot(fit.SE[0], noise[0]) || !(e.SE > fit.SE[0]) {
			t.Errorf("%s: meta input %+v, want the fit's estimate and SE %v ⊕ noise %v", site, e, fit.SE[0], noise[0])
		}
	}
	if len(used) < len(g.Site)/2 {
		t.Errorf("only %d of R's %d sites survive the noise", len(used), len(g.Site))
	}
	if len(h.Excluded)+len(used) != len(r.Rounds[0].Replies) {
		t.Errorf("%d excluded + %d used of %d sites", len(h.Excluded), len(used), len(r.Rounds[0].Replies))
	}

	// Stored: the compact result holds no replies, its trace the tables; reopened from JSON,
	// the per-site view is the same, bit for bit.
	if err := app.Compact(r); err != nil {
		t.Fatal(err)
	}
	if len(r.Rounds[0].Replies) != 0 || r.Trace == nil || len(r.Trace.DPReplies) != len(h.Excluded)+len(used) {
		t.Fatalf("compact result: %d replies, trace %v", len(r.Rounds[0].Replies), r.Trace != nil)
	}
	raw, err := json.Marshal(r)
	if err != nil {
		t.Fatal(err)
	}
	var reopened app.Result
	if err := json.Unmarshal(raw, &reopened); err != nil {
		t.Fatal(err)
	}
	again, err := f.svc.SiteCox(ctx, &reopened)
	if err != nil {
		t.Fatal(err)
	}
	used2, _, err := again.Meta("sexmale", 0.95)
	if err != nil || !slices.Equal(used, used2) {
		t.Errorf("reopened: %v, %v; want %v", used2, err, used)
	}
}
