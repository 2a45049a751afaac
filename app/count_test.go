package app_test

import (
	"context"
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

// TestCountForFeasibility: Count answers without storing anything in the library, and a
// cohort counted in the last two minutes is answered from memory (no query reaches the sites'
// budgets or overlap guards); a changed cohort, an expired answer or a partial one is asked
// again.
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
	// R: l <- lung[!is.na(lung$inst), ]; sum(l$age >= 65) = 99 (66 male, 33 female).
	if r.Count == nil || r.Count.Total != (app.Count{N: 99}) || len(r.Count.Groups) != 2 || r.Count.Groups[0].N.N != 33 || r.Count.Groups[1].N.N != 66 {
		t.Fatalf("count: %+v", r.Count)
	}
	if got := f.net.sent() - before; got != 1 {
		t.Fatalf("%d queries for one count", got)
	}
	// The same cohort under another name and a few seconds later: from memory.
	f.clock.t = f.clock.t.Add(30 * time.Second)
	req2 := req
	req2.CohortName = "65+"
	r2, err := f.svc.Count(ctx, req2)
	if err != nil {
		t.Fatal(err)
	}
	if got := f.net.sent() - before; got != 1 || r2.Count.Total != r.Count.Total {
		t.Errorf("the same cohort again sent %d queries in all (want 1), count %v vs %v", got, r2.Count.Total, r.Count.Total)
	}
	// Another cohort is asked.
	other := req
	other.Cohort = ge(70)
	if _, err := f.svc.Count(ctx, other); err != nil {
		t.Fatal(err)
	}
	if got := f.net.sent() - before; got != 2 {
		t.Errorf("another cohort: %d queries in all, want 2", got)
	}
	// Two minutes on, the first cohort is asked again.
	f.clock.t = f.clock.t.Add(2 * time.Minute)
	if _, err := f.svc.Count(ctx, req); err != nil {
		t.Fatal(err)
	}
	if got := f.net.sent() - before; got != 3 {
		t.Errorf("after the memory expired: %d queries in all, want 3", got)
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
	third := req
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
	if got := f.net.sent() - before; got != 5 {
		t.Errorf("a partial count was answered from memory: %d queries in all, want 5", got)
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
