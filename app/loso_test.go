package app_test

import (
	"context"
	"testing"

	"github.com/oncofed/oncofed/analysis"
	"github.com/oncofed/oncofed/app"
	"github.com/oncofed/oncofed/protocol"
)

// lungStratum is one lung site's (age, male) design as a Cox stratum.
func lungStratum(t *testing.T, ps []patient, site string) *analysis.CoxStratum {
	t.Helper()
	return lungPatients(t, ps, map[string]bool{site: true})
}

// ValidateLOSO: for every site, the site-stratified model fitted on the other sites (one
// query to each per round) and evaluated by the site, equal to the same computation done
// directly on the patients (analysis.FitCox over the other sites' strata, then
// CoxStratum.Validate at the site; both checked against R in analysis); sites that cannot
// evaluate it sit out with the reason; the pooled C and slope are those of the answering sites.
func TestValidateLOSO(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t)
	ps := loadLung(t)
	req := app.Request{Kind: protocol.KindCox, Study: "lung", Endpoint: "os", Cox: &app.CoxSpec{Covariates: []string{"age", "sex"},
		Ties: "efron", Form: protocol.CoxStratified, Levels: map[string][]string{"sex": {"female", "male"}}}}
	r, err := f.svc.ValidateLOSO(ctx, req)
	if err != nil {
		t.Fatal(err)
	}
	if len(r.Sites) != len(f.net.sites()) {
		t.Fatalf("%d sites validated, network has %d", len(r.Sites), len(f.net.sites()))
	}
	var cs, slopes []analysis.SiteEstimate
	answered := 0
	for _, s := range r.Sites {
		if s.SatOut != "" {
			if s.HarrellC != 0 {
				t.Errorf("%s sat out (%s) with a C", s.Site, s.SatOut)
			}
			continue
		}
		answered++
		var others []*analysis.CoxStratum
		for _, o := range f.net.sites() {
			if o != s.Site {
				others = append(others, lungStratum(t, ps, o))
			}
		}
		fit, err := analysis.FitCox(analysis.StrataEvaluator(others, analysis.Efron), 2, analysis.CoxOptions{})
		if err != nil {
			t.Fatal(err)
		}
		want, err := lungStratum(t, ps, s.Site).Validate(fit.Coef, analysis.Efron, nil, nil)
		if err != nil {
			t.Fatal(err)
		}
		for _, c := range []struct {
			what      string
			got, want float64
		}{{"coef age", s.Coef[0], fit.Coef[0]}, {"coef male", s.Coef[1], fit.Coef[1]},
			{"C", s.HarrellC, want.Harrell.C}, {"C SE", s.HarrellSE, want.Harrell.SE}, {"Uno", s.UnoC, want.Uno.C},
			{"slope", s.CalibrationSlope, want.Slope}, {"slope SE", s.CalibrationSlopeSE, want.SlopeSE}} {
			if !close(c.got, c.want, 1e-9) {
				t.Errorf("%s %s = %.12g, directly %.12g", s.Site, c.what, c.got, c.want)
			}
		}
		cs = append(cs, analysis.SiteEstimate{Site: s.Site, Estimate: s.HarrellC, SE: s.HarrellSE})
		slopes = append(slopes, analysis.SiteEstimate{Site: s.Site, Estimate: s.CalibrationSlope, SE: s.CalibrationSlopeSE})
	}
	if answered < 5 || answered == len(r.Sites) {
		t.Errorf("%d of %d sites answered: lung's tiny institutions should sit out, the large ones answer", answered, len(r.Sites))
	}
	pc, err := analysis.PoolConcordance(cs, 0.95)
	if err != nil || r.PooledC == nil || !close(r.PooledC.C, pc.C, 1e-12) || !close(r.PooledC.PredictionLower, pc.PredictionLower, 1e-12) {
		t.Errorf("pooled C %+v, want %+v (%v)", r.PooledC, pc, err)
	}
	ps2, err := analysis.MetaAnalyzeREML(slopes, 0.95)
	if err != nil || r.PooledSlope == nil || !close(r.PooledSlope.Estimate, ps2.Estimate, 1e-12) {
		t.Errorf("pooled slope %+v, want %+v (%v)", r.PooledSlope, ps2, err)
	}
	if _, err := f.svc.ValidateLOSO(ctx, app.Request{Kind: protocol.KindCox, Study: "lung", Endpoint: "os",
		Cox: &app.CoxSpec{Covariates: []string{"age"}, Ties: "efron", Form: protocol.CoxStratified, Strata: "sex"}}); err == nil {
		t.Error("a model stratified within sites was validated")
	}
}

// lungPatients returns the (age, male) design of the lung patients of the given sites, as one
// stratum: the pooled model's data.
func lungPatients(t *testing.T, ps []patient, sites map[string]bool) *analysis.CoxStratum {
	t.Helper()
	var time, x []float64
	var event []bool
	for _, p := range ps {
		if !sites[p.site] {
			continue
		}
		male := 0.0
		if p.cat["sex"] == "male" {
			male = 1
		}
		time, event, x = append(time, p.time), append(event, p.event), append(x, p.num["age"], male)
	}
	st, err := analysis.NewCoxStratum(time, event, x, 2)
	if err != nil {
		t.Fatal(err)
	}
	return st
}

// ValidateLOSO of the pooled model: for every site, the pooled model fitted on the others with
// the two-phase round, its baseline hazard at the landmarks, and the site's C, slope,
// calibration in the large and Brier score equal the same computation done directly on the
// patients (one stratum of the other sites' patients; analysis checks each piece against R).
func TestValidateLOSOPooled(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t)
	ps := loadLung(t)
	landmarks := []float64{180, 365}
	req := app.Request{Kind: protocol.KindCox, Study: "lung", Endpoint: "os", Landmarks: landmarks, Cox: &app.CoxSpec{Covariates: []string{"age", "sex"},
		Ties: "efron", Form: protocol.CoxPooled, Levels: map[string][]string{"sex": {"female", "male"}}}}
	r, err := f.svc.ValidateLOSO(ctx, req)
	if err != nil {
		t.Fatal(err)
	}
	answered := 0
	for _, s := range r.Sites {
		if s.SatOut != "" {
			continue
		}
		answered++
		others := map[string]bool{}
		for _, o := range f.net.sites() {
			others[o] = o != s.Site
		}
		train := lungPatients(t, ps, others)
		fit, err := analysis.FitCox(analysis.StrataEvaluator([]*analysis.CoxStratum{train}, analysis.Efron), 2, analysis.CoxOptions{})
		if err != nil {
			t.Fatal(err)
		}
		rows, _, err := train.TimeSums(fit.Coef)
		if err != nil {
			t.Fatal(err)
		}
		base, err := analysis.PooledCoxBaseline([][]analysis.RiskSetRow{rows}, 2, analysis.Efron)
		if err != nil {
			t.Fatal(err)
		}
		h, err := base.CumHazAt(landmarks)
		if err != nil {
			t.Fatal(err)
		}
		want, err := lungStratum(t, ps, s.Site).Validate(fit.Coef, analysis.Efron, landmarks, h)
		if err != nil {
			t.Fatal(err)
		}
		if len(s.Calibration) != 2 {
			t.Fatalf("%s: %d calibration points", s.Site, len(s.Calibration))
		}
		for _, c := range []struct {
			what      string
			got, want float64
		}{{"coef age", s.Coef[0], fit.Coef[0]}, {"coef male", s.Coef[1], fit.Coef[1]},
			{"C", s.HarrellC, want.Harrell.C}, {"slope", s.CalibrationSlope, want.Slope},
			{"observed 365", s.Calibration[1].Observed, want.Calibration[1].Observed},
			{"predicted 180", s.Calibration[0].Predicted, want.Calibration[0].Predicted},
			{"predicted 365", s.Calibration[1].Predicted, want.Calibration[1].Predicted},
			{"Brier 180", s.Calibration[0].Brier, want.Calibration[0].Brier},
			{"Brier 365", s.Calibration[1].Brier, want.Calibration[1].Brier}} {
			if !close(c.got, c.want, 1e-9) {
				t.Errorf("%s %s = %.12g, directly %.12g", s.Site, c.what, c.got, c.want)
			}
		}
	}
	if answered < 5 {
		t.Errorf("%d sites answered", answered)
	}
}

// A model run with Validate "loso" keeps its validation with the result: reopened offline, the
// sites' figures and the pooled C and slope are the same bits, and the request differs from
// the model's without validation (its own cached answer).
func TestValidationCached(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t)
	req := app.Request{Kind: protocol.KindCox, Study: "lung", Endpoint: "os", Landmarks: []float64{180, 365},
		Cox: &app.CoxSpec{Covariates: []string{"age", "sex"}, Ties: "efron", Form: protocol.CoxPooled, Validate: app.ValidateLOSO}}
	r, err := f.svc.Run(ctx, req)
	if err != nil {
		t.Fatal(err)
	}
	l := r.Cox.Validation
	if l == nil || l.PooledC == nil || len(l.Sites) == 0 {
		t.Fatalf("no validation: %+v", l)
	}
	plain := req
	plain.Cox = &app.CoxSpec{Covariates: []string{"age", "sex"}, Ties: "efron", Form: protocol.CoxPooled}
	if plain.Key() == req.Key() {
		t.Error("the validated model has the plain model's key")
	}
	f.net.down = true
	o, err := f.svc.Open(ctx, r.ID)
	if err != nil {
		t.Fatal(err)
	}
	ol := o.Cox.Validation
	if ol == nil || len(ol.Sites) != len(l.Sites) || ol.PooledC.C != l.PooledC.C || ol.PooledSlope.Estimate != l.PooledSlope.Estimate {
		t.Fatalf("reopened validation %+v, was %+v", ol, l)
	}
	withCal := 0
	for i, s := range l.Sites {
		os := ol.Sites[i]
		if os.Site != s.Site || os.SatOut != s.SatOut || !sameBits([]float64{os.HarrellC, os.UnoSE, os.CalibrationSlope}, []float64{s.HarrellC, s.UnoSE, s.CalibrationSlope}) ||
			len(os.Calibration) != len(s.Calibration) {
			t.Errorf("site %s reopened as %+v, was %+v", s.Site, os, s)
		}
		for k, c := range s.Calibration {
			if !sameBits([]float64{os.Calibration[k].Brier, os.Calibration[k].Predicted}, []float64{c.Brier, c.Predicted}) {
				t.Errorf("site %s calibration %d reopened as %+v, was %+v", s.Site, k, os.Calibration[k], c)
			}
		}
		if len(s.Calibration) == 2 {
			withCal++
		}
	}
	if withCal == 0 {
		t.Error("no site kept calibration at the landmarks")
	}
	if _, err := f.svc.Run(ctx, app.Request{Kind: protocol.KindCox, Study: "lung", Endpoint: "os",
		Cox: &app.CoxSpec{Covariates: []string{"age"}, Validate: "bootstrap"}}); app.ErrorCode(err) != app.EInvalid {
		t.Errorf("an unknown validation: %v", err)
	}
}
