package app_test

import (
	"context"
	"math"
	"slices"
	"testing"
	"time"

	"github.com/oncofed/oncofed/app"
	"github.com/oncofed/oncofed/protocol"
)

func (n *fakeNetwork) sent() int {
	n.mu.Lock()
	defer n.mu.Unlock()
	return len(n.queries)
}

// feasibilityTotals is what the fake network's sites answer to a feasibility count of f: each
// site's count rounded to the nearest 10 (the fake's feasibility rounding, no noise), and
// their sum.
func (n *fakeNetwork) feasibilityTotals(f *protocol.Filter) (perSite map[string]int, pooled int) {
	perSite = map[string]int{}
	for site, ps := range n.bySite {
		k := 0
		for _, p := range ps {
			if match(f, p) {
				k++
			}
		}
		perSite[site] = (k + 5) / 10 * 10
		pooled += perSite[site]
	}
	return perSite, pooled
}

// TestCountForFeasibility: Count sends feasibility counts (approximate, not remembered by the
// sites), one for the cohort and, grouped, one per group; it answers without storing anything
// in the library, and a cohort counted in the last two minutes is answered from memory (no
// query reaches the sites' feasibility budgets); a changed cohort, an expired answer or a
// partial one is asked again. Run of a count stays exact.
func TestCountForFeasibility(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t)
	before := f.net.sent()
	ge := func(x float64) *protocol.Filter { return &protocol.Filter{Op: protocol.OpRange, Var: "age", Min: &x} }
	old := ge(65)
	req := app.Request{Study: "lung", GroupBy: "sex", Cohort: old, CohortName: "elderly"}
	r, err := f.svc.Count(ctx, req)
	if err != nil {
		t.Fatal(err)
	}
	// One query for the cohort and one per sex, every one a feasibility count without group_by.
	if got := f.net.sent() - before; got != 3 {
		t.Fatalf("%d queries for one count by sex, want 3", got)
	}
	for _, q := range f.net.queries[before:] {
		if !q.Feasibility || q.GroupBy != "" || q.Kind != protocol.KindCount {
			t.Errorf("sent %+v, want an ungrouped feasibility count", q)
		}
	}
	// R: l <- lung[!is.na(lung$inst), ]; sum(l$age >= 65) = 99 (66 male, 33 female); each
	// site answers its share rounded to 10.
	perSite, pooled := f.net.feasibilityTotals(old)
	_, women := f.net.feasibilityTotals(&protocol.Filter{Op: protocol.OpAnd, Args: []*protocol.Filter{old, {Op: protocol.OpEq, Var: "sex", Value: "female"}}})
	_, men := f.net.feasibilityTotals(&protocol.Filter{Op: protocol.OpAnd, Args: []*protocol.Filter{old, {Op: protocol.OpEq, Var: "sex", Value: "male"}}})
	c := r.Count
	if c == nil || !c.Approximate || c.Rounding != 10 || c.Total != (app.Count{N: pooled}) || len(c.Groups) != 2 ||
		c.Groups[0] != (app.GroupCount{Group: "female", N: app.Count{N: women}}) || c.Groups[1] != (app.GroupCount{Group: "male", N: app.Count{N: men}}) {
		t.Fatalf("count: %+v, want ≈%d (female ≈%d, male ≈%d) rounded to 10", c, pooled, women, men)
	}
	if math.Abs(float64(pooled-99)) > 5*float64(len(perSite)) {
		t.Fatalf("the fixture's pooled approximation %d is not within rounding of 99", pooled)
	}
	for _, s := range c.PerSite {
		if s.Total != (app.Count{N: perSite[s.Site]}) || s.Rounding != 10 {
			t.Errorf("site %s: %+v, want ≈%d", s.Site, s, perSite[s.Site])
		}
	}
	// The same cohort under another name and a few seconds later: from memory.
	f.clock.t = f.clock.t.Add(30 * time.Second)
	req2 := req
	req2.CohortName = "65+"
	r2, err := f.svc.Count(ctx, req2)
	if err != nil {
		t.Fatal(err)
	}
	if got := f.net.sent() - before; got != 3 || r2.Count.Total != r.Count.Total {
		t.Errorf("the same cohort again sent %d queries in all (want 3), count %v vs %v", got, r2.Count.Total, r.Count.Total)
	}
	// Another cohort is asked (ungrouped: one query).
	other := req
	other.Cohort, other.GroupBy = ge(70), ""
	if _, err := f.svc.Count(ctx, other); err != nil {
		t.Fatal(err)
	}
	if got := f.net.sent() - before; got != 4 {
		t.Errorf("another cohort: %d queries in all, want 4", got)
	}
	// Two minutes on, the first cohort is asked again.
	f.clock.t = f.clock.t.Add(2 * time.Minute)
	if _, err := f.svc.Count(ctx, req); err != nil {
		t.Fatal(err)
	}
	if got := f.net.sent() - before; got != 7 {
		t.Errorf("after the memory expired: %d queries in all, want 7", got)
	}
	// Nothing went into the library.
	list, err := f.svc.Results(ctx, app.ResultFilter{})
	if err != nil {
		t.Fatal(err)
	}
	if len(list) != 0 {
		t.Errorf("Count stored %d results", len(list))
	}
	// A partial answer (a site silent) is not remembered.
	f.net.silent[f.net.sites()[0]] = true
	third := other
	third.Cohort = ge(60)
	ctx2, cancel := context.WithTimeout(ctx, time.Second)
	defer cancel()
	p, err := f.svc.Count(ctx2, third)
	if err != nil {
		t.Fatal(err)
	}
	if len(p.Provenance.Missing) != 1 {
		t.Errorf("missing %v", p.Provenance.Missing)
	}
	if _, err := f.svc.Count(ctx2, third); err != nil {
		t.Fatal(err)
	}
	if got := f.net.sent() - before; got != 9 {
		t.Errorf("a partial count was answered from memory: %d queries in all, want 9", got)
	}
	f.net.silent = map[string]bool{}
	// Run of a count is exact: no feasibility flag, the true 99.
	run, err := f.svc.Run(ctx, app.Request{Kind: protocol.KindCount, Study: "lung", Cohort: old})
	if err != nil {
		t.Fatal(err)
	}
	if q := f.net.queries[len(f.net.queries)-1]; q.Feasibility {
		t.Error("Run sent a feasibility count")
	}
	if run.Count.Approximate || run.Count.Total != (app.Count{N: 99}) {
		t.Errorf("Run of a count: %+v, want exactly 99", run.Count)
	}
}

// TestCountFeasibilityBelowMinimum: sites refuse feasibility counts below their min_cohort (10
// here) with the reason small_cohort; SmallCohort recognises the refusal by that reason and
// never by its words, and a group refused as too
// small at a site counts there as "<10", which the pooled group carries as a bound.
func TestCountFeasibilityBelowMinimum(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t)
	f.net.feasMinCohort = 10
	ecog := &protocol.Filter{Op: protocol.OpIn, Var: "ecog", Values: []string{"ecog0", "ecog1"}}
	r, err := f.svc.Count(ctx, app.Request{Study: "lung", Cohort: ecog, GroupBy: "sex"})
	if err != nil {
		t.Fatal(err)
	}
	small, suppressed := 0, 0
	for _, p := range r.Provenance.Refused {
		if m, ok := app.SmallCohort(p); !ok || m != 10 {
			t.Errorf("refusal %+v not recognised as min_cohort 10", p)
		}
		small++
	}
	for _, s := range r.Count.PerSite {
		for g, n := range s.Groups {
			if n.Suppressed {
				suppressed++
				if n.String() != "<10" {
					t.Errorf("site %s group %s: %s, want <10", s.Site, g, n)
				}
			}
		}
	}
	// lung's institutions hold 1 to 55 patients: some are below 10 for the cohort, more for a sex.
	if small == 0 || suppressed == 0 {
		t.Fatalf("%d sites refused the cohort, %d groups suppressed: the fixture must exercise both", small, suppressed)
	}
	for _, g := range r.Count.Groups {
		if !g.N.Suppressed || g.N.Max <= g.N.N {
			t.Errorf("pooled group %s = %+v: a sum with suppressed sites must be a range", g.Group, g.N)
		}
	}
	for _, p := range []app.SiteProblem{
		{Code: protocol.CodeRefusedByPolicy, Message: "overlap guard: …", Reason: protocol.ReasonOverlapGuard, Limit: 10},
		{Code: protocol.CodeInvalid, Message: "cohort has fewer than min_cohort=10 patients", Reason: protocol.ReasonSmallCohort, Limit: 10},
		{Code: protocol.CodeRefusedByPolicy, Message: "cohort has fewer than min_cohort=10 patients"}, // the words alone
		{Code: protocol.CodeRefusedByPolicy, Reason: protocol.ReasonSmallCohort, Limit: 0},
	} {
		if _, ok := app.SmallCohort(p); ok {
			t.Errorf("%+v recognised as a small cohort", p)
		}
	}
}

// TestCountAllRefused: when every site refuses (cohort below their minimum), Count returns the
// refusals for the feasibility panel rather than an error.
func TestCountAllRefused(t *testing.T) {
	f := newFixture(t)
	for _, s := range f.net.sites() {
		f.net.refuse[s] = "cohort below the minimum of 10 patients"
	}
	r, err := f.svc.Count(context.Background(), app.Request{Study: "lung"})
	if err != nil {
		t.Fatal(err)
	}
	if r.Count != nil || len(r.Provenance.Refused) != len(f.net.sites()) {
		t.Errorf("count %+v, refused %d of %d", r.Count, len(r.Provenance.Refused), len(f.net.sites()))
	}
}

// TestLatestFindsTheStoredRun: the newest stored result of a request comes back from the
// library with no network; a request never run is not found.
func TestLatestFindsTheStoredRun(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t)
	req := app.Request{Kind: protocol.KindCox, Study: "lung", Endpoint: "os", Cox: &app.CoxSpec{Covariates: []string{"sex"}, Ties: "efron", Form: protocol.CoxStratified}}
	if _, err := f.svc.Latest(ctx, req); app.ErrorCode(err) != app.ENotFound {
		t.Fatalf("before any run: %v", err)
	}
	r, err := f.svc.Run(ctx, req)
	if err != nil {
		t.Fatal(err)
	}
	f.net.down = true
	got, err := f.svc.Latest(ctx, req)
	if err != nil {
		t.Fatal(err)
	}
	if got.ID != r.ID || !got.Cached || !sameBits(got.Cox.Fit.Coef, r.Cox.Fit.Coef) {
		t.Errorf("latest %d (cached %v) %v, ran %d %v", got.ID, got.Cached, got.Cox.Fit.Coef, r.ID, r.Cox.Fit.Coef)
	}
}

// Groups come in the study's declared order as the sites list it, not by name ("<1" < "1-49"
// < ">=50", which sorts as "1-49", "<1", ">=50"); a site that does not list an order (older
// than the field) adds its groups after, by name. SiteGroups follows the same order.
func TestCountGroupsInDeclaredOrder(t *testing.T) {
	c := func(n int) protocol.Count { return protocol.Count{N: n} }
	r := &app.Result{Request: app.Request{Kind: protocol.KindCount, Study: "nsclc", GroupBy: "pdl1"},
		Rounds: []app.Round{{Replies: []protocol.Reply{
			{Site: "a", Count: &protocol.CountReply{Total: c(60), Order: []string{"<1", "1-49", ">=50"},
				Groups: map[string]protocol.Count{"<1": c(20), "1-49": c(20), ">=50": c(20)}}},
			{Site: "b", Count: &protocol.CountReply{Total: c(60),
				Groups: map[string]protocol.Count{"<1": c(20), "1-49": c(20), "unknown": c(20)}}},
		}}}}
	if err := app.Render(r); err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, g := range r.Count.Groups {
		got = append(got, g.Group)
	}
	if want := []string{"<1", "1-49", ">=50", "unknown"}; !slices.Equal(got, want) {
		t.Errorf("groups %v, want %v", got, want)
	}
	if got, want := r.Count.SiteGroups(r.Count.PerSite[1]), []string{"<1", "1-49", "unknown"}; !slices.Equal(got, want) {
		t.Errorf("site b's groups %v, want %v", got, want)
	}
}
