package demo_test

import (
	"context"
	"testing"

	"github.com/oncofed/oncofed/analysis"
	"github.com/oncofed/oncofed/app"
	"github.com/oncofed/oncofed/cache"
	"github.com/oncofed/oncofed/internal/sqlitedb"
	"github.com/oncofed/oncofed/protocol"
	"github.com/oncofed/oncofed/synth"
)

// TestPooledCoxCacheBytes: a pooled Cox fit with 5 design columns (stage, age, sex) over
// three exact sites of 12,000 NSCLC patients, run through app.Service on a real cache, takes at
// most 16 KiB plus 7 bytes per number of its baseline hazard (n distinct event times × (p + 2)
// doubles, plus n times and n counts) in the cache. That is less than the 8 bytes each of
// those doubles takes in binary: the baseline kept as base64 text inside the trace's JSON (as
// before schema 6) took 10.5 bytes a number here and fails the bound. Reopened offline, the result
// shows the very fit and baseline hazard it was computed with, bit for bit, and predicts the
// same curve.
func TestPooledCoxCacheBytes(t *testing.T) {
	ctx := context.Background()
	fed := synth.Federation{Name: "size", Policies: map[string]synth.SitePolicy{},
		Studies: []synth.Spec{{Study: synth.NSCLC, SiteSizes: []int{6000, 4000, 2000}, Seed: 14}}}
	for _, s := range fed.SiteNames() {
		fed.Policies[s] = synth.SitePolicy{} // exact: the pooled form is answered
	}
	d, c, db, path := startDemoCache(t, fed)
	svc := app.NewService(c, db, app.NetworkInfo{ID: "size", Name: "size"}, app.WithAnalyst("test"))
	if _, err := svc.RefreshCatalog(ctx); err != nil {
		t.Fatal(err)
	}
	req := app.Request{Kind: protocol.KindCox, Study: "nsclc", Endpoint: "OS",
		Cox: &app.CoxSpec{Form: protocol.CoxPooled, Ties: "efron", Covariates: []string{"stage", "age", "sex"}}}
	live, err := svc.Run(ctx, req)
	if err != nil {
		t.Fatal(err)
	}
	if live.Cox == nil || live.Cox.Fit == nil || !live.Cox.Fit.Converged || live.Cox.Baseline == nil || len(live.Provenance.Answered) != 3 {
		t.Fatalf("pooled fit: %+v (answered %v)", live.Cox, live.Provenance.Answered)
	}
	b := live.Cox.Baseline
	n, p := len(b.Time), b.P
	if p != 5 || n < 1000 {
		t.Fatalf("%d design columns and %d distinct event times: not the model this test is about", p, n)
	}

	raw, err := sqlitedb.Open(path, sqlitedb.ReadOnly)
	if err != nil {
		t.Fatal(err)
	}
	stored, err := cache.StoredResultBytes(ctx, raw)
	raw.Close()
	if err != nil {
		t.Fatal(err)
	}
	numbers := n * (p + 4)
	bound := 16<<10 + 7*numbers
	t.Logf("%d distinct event times, p = %d: %d bytes stored (%.2f a baseline number), bound %d", n, p, stored, float64(stored)/float64(numbers), bound)
	if stored > int64(bound) {
		t.Errorf("the pooled Cox result takes %d bytes in the cache, more than %d (16 KiB + 7 bytes for each of its baseline hazard's %d numbers)", stored, bound, numbers)
	}

	// Offline: the hub is gone; the result opens from the cache alone, checked against its
	// content hash.
	d.Close()
	o, err := svc.Open(ctx, live.ID)
	if err != nil {
		t.Fatal(err)
	}
	if o.Provenance.ContentHash != live.Provenance.ContentHash || o.Provenance.ContentHash != app.ResultHash(o) {
		t.Errorf("content hash: reopened %s, live %s", o.Provenance.ContentHash, live.Provenance.ContentHash)
	}
	lf, of := live.Cox.Fit, o.Cox.Fit
	ob := o.Cox.Baseline
	if ob == nil {
		t.Fatal("reopened without its baseline hazard")
	}
	for what, pair := range map[string][2][]float64{
		"coefficients": {lf.Coef, of.Coef}, "variance": {lf.Vcov, of.Vcov}, "log-likelihood": {{lf.LogLik}, {of.LogLik}},
		"times": {b.Time, ob.Time}, "cumulative hazard": {b.CumHaz, ob.CumHaz}, "its variance": {b.VarHaz, ob.VarHaz},
		"x̄": {b.XBar, ob.XBar}, "origin": {b.Origin, ob.Origin}, "last time": {{b.LastTime}, {ob.LastTime}},
	} {
		if !analysis.EqualBits(pair[0], pair[1]) {
			t.Errorf("reopened %s differs from the live fit's", what)
		}
	}
	if len(b.Events) != len(ob.Events) {
		t.Fatalf("events at %d times reopened, %d live", len(ob.Events), len(b.Events))
	}
	for i := range b.Events {
		if b.Events[i] != ob.Events[i] {
			t.Fatalf("events at time %v: %d reopened, %d live", b.Time[i], ob.Events[i], b.Events[i])
		}
	}
	profile := map[string]string{"stage": "IVA", "age": "67", "sex": "female"}
	lp, err := app.Predict(live, profile, []float64{180, 365, 730})
	if err != nil {
		t.Fatal(err)
	}
	op, err := app.Predict(o, profile, []float64{180, 365, 730})
	if err != nil {
		t.Fatal(err)
	}
	for _, pair := range [][2][]float64{{lp.Curve.Surv, op.Curve.Surv}, {lp.Curve.Lower, op.Curve.Lower}, {lp.Curve.Upper, op.Curve.Upper}} {
		if len(pair[0]) != n || !analysis.EqualBits(pair[0], pair[1]) {
			t.Fatal("the reopened result predicts another curve for the same profile")
		}
	}
}
