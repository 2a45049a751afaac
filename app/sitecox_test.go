package app_test

import (
	"context"
	"math"
	"slices"
	"testing"

	"github.com/oncofed/oncofed/analysis"
	"github.com/oncofed/oncofed/app"
	"github.com/oncofed/oncofed/internal/lungtest"
	"github.com/oncofed/oncofed/protocol"
)

// TestSiteCoxMatchesR: the per-site fits of the stratified model on sex give R's per-site
// coxph estimates and standard errors, the sites R left out are left out and named, and the
// meta-analysis gives metafor's pooled estimates, Q, its p-value, τ² and I².
func TestSiteCoxMatchesR(t *testing.T) {
	ctx := context.Background()
	g := lungtest.ReadMetaCase(t, "lung_sex_by_site")
	f := newFixture(t)
	req := app.Request{Kind: protocol.KindCox, Study: "lung", Endpoint: "os", Cox: &app.CoxSpec{Covariates: []string{"sex"}, Ties: "efron", Form: protocol.CoxStratified}}
	r, err := f.svc.Run(ctx, req)
	if err != nil {
		t.Fatal(err)
	}
	before := f.net.sent()
	sc, err := f.svc.SiteCox(ctx, r)
	if err != nil {
		t.Fatal(err)
	}
	if got := f.net.sent() - before; got != sc.Queries || got == 0 {
		t.Errorf("%d queries sent, %d reported", got, sc.Queries)
	}
	term := sc.Terms[0]
	used, h, err := sc.Meta(term, 0.95)
	if err != nil {
		t.Fatal(err)
	}
	var sites []string
	for _, u := range used {
		sites = append(sites, u.Site)
	}
	if !slices.Equal(sites, g.Site) {
		t.Fatalf("sites used %v, R used %v", sites, g.Site)
	}
	for i, u := range used {
		if !close(u.Estimate, g.Yi[i], 1e-9) || !close(u.SE, g.Sei[i], 1e-9) {
			t.Errorf("%s: log HR %.15g (SE %.15g), R %.15g (%.15g)", u.Site, u.Estimate, u.SE, g.Yi[i], g.Sei[i])
		}
	}
	// Every other site is named with a reason.
	if len(h.Excluded)+len(used) != len(f.net.sites()) {
		t.Errorf("%d excluded + %d used of %d sites: %+v", len(h.Excluded), len(used), len(f.net.sites()), h.Excluded)
	}
	for _, e := range h.Excluded {
		if e.Reason == "" {
			t.Errorf("site %s excluded without a reason", e.Site)
		}
	}
	for _, c := range []struct {
		name      string
		got, want float64
		tol       float64
	}{
		{"fixed", h.Fixed.Estimate, g.Fixed.Estimate[0], 1e-9}, {"fixed SE", h.Fixed.SE, g.Fixed.SE[0], 1e-9},
		{"fixed p", h.Fixed.P, g.Fixed.P[0], 1e-6},
		{"random", h.Random.Estimate, g.Random.Estimate[0], 1e-9}, {"random SE", h.Random.SE, g.Random.SE[0], 1e-9},
		{"Q", h.Q, g.Q[0], 1e-9}, {"Q p", h.QP, g.QP[0], 1e-6}, {"I2", h.I2, g.I2[0], 1e-9}, {"tau2", h.Tau2, g.Tau2[0], 1e-9},
	} {
		if !close(c.got, c.want, c.tol) && !(c.want == 0 && c.got == 0) {
			t.Errorf("%s = %.15g, metafor %.15g", c.name, c.got, c.want)
		}
	}
}

// TestSiteCoxNeedsStratified: the pooled form releases no per-site likelihood.
func TestSiteCoxNeedsStratified(t *testing.T) {
	f := newFixture(t)
	req := app.Request{Kind: protocol.KindCox, Study: "lung", Endpoint: "os", Cox: &app.CoxSpec{Covariates: []string{"sex"}, Form: protocol.CoxPooled}}
	r, err := f.svc.Run(context.Background(), req)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.svc.SiteCox(context.Background(), r); app.ErrorCode(err) != app.EInvalid {
		t.Errorf("pooled form: %v", err)
	}
}

// TestSiteCoxOffline: with the hub gone, the per-site view fails with code unavailable
// instead of listing every site as left out.
func TestSiteCoxOffline(t *testing.T) {
	f := newFixture(t)
	req := app.Request{Kind: protocol.KindCox, Study: "lung", Endpoint: "os", Cox: &app.CoxSpec{Covariates: []string{"sex"}}}
	r, err := f.svc.Run(context.Background(), req)
	if err != nil {
		t.Fatal(err)
	}
	f.net.down = true
	if _, err := f.svc.SiteCox(context.Background(), r); app.ErrorCode(err) != app.EUnavailable {
		t.Errorf("offline: %v", err)
	}
}

// SiteViewTerms offers the estimable terms of a model stratified by site or fitted on DP
// tables, and nothing for the pooled form (no per-site likelihood is released).
func TestSiteViewTerms(t *testing.T) {
	fit := &analysis.CoxFit{Terms: []string{"age", "sexfemale", "ecog3"}, Coef: []float64{0.01, -0.4, math.NaN()}}
	for _, c := range []struct {
		form protocol.CoxForm
		want []string
	}{
		{"", []string{"age", "sexfemale"}},
		{protocol.CoxStratified, []string{"age", "sexfemale"}},
		{protocol.CoxDPTables, []string{"age", "sexfemale"}},
		{protocol.CoxPooled, nil},
	} {
		r := &app.Result{Cox: &app.CoxResult{Form: c.form, Fit: fit}}
		if got := app.SiteViewTerms(r); !slices.Equal(got, c.want) {
			t.Errorf("form %q: %v, want %v", c.form, got, c.want)
		}
	}
	if got := app.SiteViewTerms(&app.Result{}); got != nil {
		t.Errorf("no Cox result: %v", got)
	}
}
