package app_test

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"os"
	"slices"
	"strings"
	"testing"

	"github.com/oncofed/oncofed/analysis"
	"github.com/oncofed/oncofed/app"
	"github.com/oncofed/oncofed/protocol"
)

// losoDPGoldens is app/testdata/loso_dp_goldens.json (loso_dp_goldens.R).
type losoDPGoldens struct {
	BinDays   float64        `json:"bin_days"`
	AgeRange  []float64      `json:"age_range"`
	Landmarks []float64      `json:"landmarks"`
	Strat     []losoDPGolden `json:"stratified"`
	Pooled    []losoDPGolden `json:"pooled"`
	Predict   struct {
		Coef, SE                 []float64
		LP                       float64
		Time, Surv, Lower, Upper []float64
		StdErr                   []float64 `json:"std_err"`
		AtTime                   []float64 `json:"at_time"`
		AtSurv                   []float64 `json:"at_surv"`
		AtLower                  []float64 `json:"at_lower"`
		AtUpper                  []float64 `json:"at_upper"`
	}
}

type losoDPGolden struct {
	Site                string
	N, Events           int
	Coef                []float64
	SatOut              bool     `json:"sat_out"`
	HarrellC            float64  `json:"harrell_c"`
	HarrellSE           float64  `json:"harrell_se"`
	UnoC                float64  `json:"uno_c"`
	UnoSE               float64  `json:"uno_se"`
	Slope               *float64 `json:"calibration_slope"`
	SlopeSE             *float64 `json:"calibration_slope_se"`
	Landmarks           []float64
	Observed, Predicted []float64
	Brier               []float64
}

// dpLungReplies is the dp_tables release of lung by sex and age (age clipped to [lo, hi] and
// coded by the midpoint of its quarter, as node/dpcox.go codes a numeric covariate) with the
// noise drawn as zero: per site, one table per pattern of events and censorings at the ends of
// w-day bins, with the release's public parameters (ρ 0.05). ps are the patients.
func dpLungReplies(ps []patient, w, lo, hi float64) []protocol.Reply {
	horizon := 0.0
	bySite := map[string][]patient{}
	for _, p := range ps {
		bySite[p.site] = append(bySite[p.site], p)
		horizon = math.Max(horizon, w*math.Ceil(p.time/w))
	}
	bins := int(horizon / w)
	q := (hi - lo) / 4
	var replies []protocol.Reply
	for _, site := range slices.Sorted(func(yield func(string) bool) {
		for s := range bySite {
			if !yield(s) {
				return
			}
		}
	}) {
		var ev, ce [8][]int
		for k := range ev {
			ev[k], ce[k] = make([]int, bins), make([]int, bins)
		}
		events := 0
		for _, p := range bySite[site] {
			cell := min(int(math.Floor((math.Min(math.Max(p.num["age"], lo), hi)-lo)/q)), 3)
			k, b := cell, int(math.Ceil(p.time/w))-1
			if p.cat["sex"] == "male" {
				k += 4
			}
			if p.event {
				ev[k][b]++
				events++
			} else {
				ce[k][b]++
			}
		}
		c := &protocol.CoxReply{Columns: []string{"sexmale", "age"}, N: len(bySite[site]), Events: events}
		for k := range ev {
			pt := protocol.CoxPattern{X: protocol.Float64s{float64(k / 4), lo + q*(float64(k%4)+0.5)}}
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
	return replies
}

// dpLungResult is a dp_tables Cox model of lung by sex and age on replies, as stored in a
// result (not fitted: the functions under test work from the tables).
func dpLungResult(replies []protocol.Reply, pooled bool) *app.Result {
	req := app.Request{Kind: protocol.KindCox, Study: "lung", Endpoint: "os", Landmarks: []float64{180, 365},
		Cox: &app.CoxSpec{Covariates: []string{"sex", "age"}, Ties: "efron", Form: protocol.CoxDPTables, DPPooled: pooled,
			Levels: map[string][]string{"sex": {"female", "male"}}}}
	q := protocol.Query{Version: protocol.Version, Kind: protocol.KindCox, ID: "q1", Study: "lung", Endpoint: "os",
		Cox: &protocol.CoxRequest{Form: protocol.CoxDPTables, Ties: "efron", Covariates: []string{"sex", "age"}, Beta: []float64{0, 0}}}
	return &app.Result{Request: req, Rounds: []app.Round{{Query: q, Replies: replies}}}
}

func readLOSODPGoldens(t *testing.T) losoDPGoldens {
	t.Helper()
	var g losoDPGoldens
	b, err := os.ReadFile("testdata/loso_dp_goldens.json")
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, &g); err != nil {
		t.Fatal(err)
	}
	return g
}

// TestLOSODPTablesMatchesR: the leave-one-site-out validation of a model fitted on DP tables
// is computed from the tables alone (no query) and equals R on the subjects the tables
// describe — the fit on the other sites (stratified and pooled), Harrell's and Uno's C with
// their SEs, the calibration slope, calibration in the large and the Brier score at landmarks
// (pooled); each site's figures carry the noise's spread, which enters the pooling.
func TestLOSODPTablesMatchesR(t *testing.T) {
	g := readLOSODPGoldens(t)
	ctx := context.Background()
	f := newFixture(t)
	replies := dpLungReplies(loadLung(t), g.BinDays, g.AgeRange[0], g.AgeRange[1])
	for _, tc := range []struct {
		name   string
		pooled bool
		want   []losoDPGolden
	}{{"stratified", false, g.Strat}, {"pooled", true, g.Pooled}} {
		t.Run(tc.name, func(t *testing.T) {
			before := f.net.sent()
			v, err := f.svc.ValidateDP(ctx, dpLungResult(replies, tc.pooled), g.Landmarks)
			if err != nil {
				t.Fatal(err)
			}
			if got := f.net.sent() - before; got != 0 || v.DP == nil || v.DP.Queries != 0 || v.DP.Rho != 0.05 || v.DP.Releases != app.DPLOSONoiseReleases {
				t.Fatalf("%d queries sent, DP %+v: validation on DP tables is post-processing", got, v.DP)
			}
			if len(v.Sites) != len(tc.want) {
				t.Fatalf("%d sites, R %d", len(v.Sites), len(tc.want))
			}
			calibrated := 0
			for i, w := range tc.want {
				s := v.Sites[i]
				if s.Site != w.Site || s.N != w.N || s.Events != w.Events || (s.SatOut != "") != w.SatOut {
					t.Errorf("site %+v, R %+v", s, w)
					continue
				}
				if w.SatOut {
					continue
				}
				for j := range w.Coef {
					if !close(s.Coef[j], w.Coef[j], 1e-9) {
						t.Errorf("%s: coef %v, R %v", s.Site, s.Coef, w.Coef)
					}
				}
				if !close(s.HarrellC, w.HarrellC, 1e-12) || !close(s.UnoC, w.UnoC, 1e-12) || !close(s.HarrellSE, w.HarrellSE, 1e-9) || !close(s.UnoSE, w.UnoSE, 1e-9) {
					t.Errorf("%s: C %.15g (%.15g), Uno %.15g (%.15g); R %.15g (%.15g), %.15g (%.15g)", s.Site, s.HarrellC, s.HarrellSE, s.UnoC, s.UnoSE, w.HarrellC, w.HarrellSE, w.UnoC, w.UnoSE)
				}
				if w.Slope != nil && (!close(s.CalibrationSlope, *w.Slope, 1e-9) || !close(s.CalibrationSlopeSE, *w.SlopeSE, 1e-9)) {
					t.Errorf("%s: slope %.15g (%.15g), R %.15g (%.15g)", s.Site, s.CalibrationSlope, s.CalibrationSlopeSE, *w.Slope, *w.SlopeSE)
				}
				if len(w.Landmarks) > 0 {
					calibrated++
					if len(s.Calibration) != len(w.Landmarks) {
						t.Errorf("%s: calibration %+v, R at %v", s.Site, s.Calibration, w.Landmarks)
						continue
					}
					for k, c := range s.Calibration {
						if c.Time != w.Landmarks[k] || !close(c.Observed, w.Observed[k], 1e-9) || !close(c.Predicted, w.Predicted[k], 1e-9) || !close(c.Brier, w.Brier[k], 1e-9) {
							t.Errorf("%s at %v: %+v, R observed %v predicted %v Brier %v", s.Site, w.Landmarks[k], c, w.Observed[k], w.Predicted[k], w.Brier[k])
						}
					}
				} else if !tc.pooled && len(s.Calibration) > 0 {
					t.Errorf("%s: calibration without a baseline hazard", s.Site)
				}
				if s.Noise == nil || !(s.Noise.HarrellC > 0) {
					t.Errorf("%s: noise %+v, want a positive spread of C", s.Site, s.Noise)
				}
			}
			if tc.pooled && calibrated < 8 {
				t.Errorf("calibration checked at %d sites", calibrated)
			}
			// The pooling takes each site's SE with the noise in quadrature.
			var cs []analysis.SiteEstimate
			for _, s := range v.Sites {
				if s.SatOut == "" {
					cs = append(cs, analysis.SiteEstimate{Site: s.Site, Estimate: s.HarrellC, SE: math.Hypot(s.HarrellSE, s.Noise.HarrellC)})
				}
			}
			pc, err := analysis.PoolConcordance(cs, 0.95)
			if err != nil || v.PooledC == nil || pc.C != v.PooledC.C || pc.PredictionUpper != v.PooledC.PredictionUpper || !(v.DP.PooledCNoiseSD > 0) {
				t.Errorf("pooled C %+v, want %+v (%v); noise SD %v", v.PooledC, pc, err, v.DP.PooledCNoiseSD)
			}
		})
	}
}

// TestDPPooledPredictionMatchesR: the pooled model fitted on the DP tables (no pooled opt-in:
// post-processing of the release) and its prediction for a patient equal R's coxph and
// survfit(fit, newdata) on the subjects the tables describe; its linear-predictor histogram
// comes from the tables too, with no query.
func TestDPPooledPredictionMatchesR(t *testing.T) {
	g := readLOSODPGoldens(t)
	f := newFixture(t)
	stratified := dpLungResult(dpLungReplies(loadLung(t), g.BinDays, g.AgeRange[0], g.AgeRange[1]), false)
	if _, err := app.Predict(stratified, map[string]string{"sex": "male", "age": "69.25"}, nil); err == nil || !strings.Contains(err.Error(), "--strata none") {
		t.Errorf("prediction from the stratified dp model: %v", err)
	}
	r, err := app.DPPooledModel(stratified)
	if err != nil {
		t.Fatal(err)
	}
	fit := r.Cox.Fit
	for j := range g.Predict.Coef {
		if !close(fit.Coef[j], g.Predict.Coef[j], 1e-9) || !close(fit.SE[j], g.Predict.SE[j], 1e-9) {
			t.Errorf("coef %v (SE %v), R %v (%v)", fit.Coef, fit.SE, g.Predict.Coef, g.Predict.SE)
		}
	}
	if len(r.Cox.NoiseSD) != 2 || !(r.Cox.NoiseSD[0] > 0) {
		t.Errorf("noise SD %v", r.Cox.NoiseSD)
	}
	pred, err := app.Predict(r, map[string]string{"sex": "male", "age": "69.25"}, g.Predict.AtTime)
	if err != nil {
		t.Fatal(err)
	}
	c := pred.Curve
	if !close(c.LP, g.Predict.LP, 1e-9) || len(c.Time) != len(g.Predict.Time) {
		t.Fatalf("lp %v, %d times; R %v, %d", c.LP, len(c.Time), g.Predict.LP, len(g.Predict.Time))
	}
	for k := range c.Time {
		if c.Time[k] != g.Predict.Time[k] || !close(c.Surv[k], g.Predict.Surv[k], 1e-9) || !close(c.StdErr[k], g.Predict.StdErr[k], 1e-9) ||
			!close(c.Lower[k], g.Predict.Lower[k], 1e-9) || !close(c.Upper[k], g.Predict.Upper[k], 1e-9) {
			t.Errorf("at %v: S %v (%v, %v; se %v), R %v (%v, %v; se %v)", c.Time[k], c.Surv[k], c.Lower[k], c.Upper[k], c.StdErr[k],
				g.Predict.Surv[k], g.Predict.Lower[k], g.Predict.Upper[k], g.Predict.StdErr[k])
		}
	}
	for k, a := range pred.At {
		if !close(a.Surv, g.Predict.AtSurv[k], 1e-9) || !close(a.Lower, g.Predict.AtLower[k], 1e-9) || !close(a.Upper, g.Predict.AtUpper[k], 1e-9) {
			t.Errorf("at %v: %+v, R %v (%v, %v)", a.Time, a, g.Predict.AtSurv[k], g.Predict.AtLower[k], g.Predict.AtUpper[k])
		}
	}
	subjects := 0
	for _, s := range r.Cox.PerSite {
		subjects += s.Patients
	}
	before := f.net.sent()
	h, err := f.svc.LPHistogram(context.Background(), r, 0)
	if err != nil || f.net.sent() != before || h.Pooled.Total() != subjects || len(h.Sites) != 18 {
		t.Errorf("lp histogram: %v, %d queries, pooled %+v", err, f.net.sent()-before, h)
	}
}

// dumpLOSO prints every figure of a validation (NaN as NaN): equal output, equal dumps.
func dumpLOSO(v *app.LOSOResult) string {
	var b strings.Builder
	for _, s := range v.Sites {
		fmt.Fprintf(&b, "%s %q %d %d %v %v %v %v %v %v %v %v\n", s.Site, s.SatOut, s.N, s.Events, s.Coef, s.HarrellC, s.HarrellSE,
			s.UnoC, s.UnoSE, s.CalibrationSlope, s.CalibrationSlopeSE, s.Calibration)
		if s.Noise != nil {
			fmt.Fprintf(&b, "noise %v\n", *s.Noise)
		}
	}
	if v.PooledC != nil {
		fmt.Fprintf(&b, "%v %v %v %v\n", v.PooledC.C, v.PooledC.Lower, v.PooledC.Upper, v.PooledC.PredictionUpper)
	}
	if v.PooledSlope != nil {
		fmt.Fprintf(&b, "%v %v\n", v.PooledSlope.Estimate, v.PooledSlope.PredictionUpper)
	}
	fmt.Fprintf(&b, "%+v\n", *v.DP)
	return b.String()
}

// TestLOSODPOnePatientSite: a held-out site with one patient yields nothing beyond its
// released tables. Its validation is a function of the tables alone: two databases that differ
// in that patient's exact time and age but give the same tables give byte-identical output;
// and the site itself, with no comparable pair, sits out named, its one noisy subject the only
// figure shown.
func TestLOSODPOnePatientSite(t *testing.T) {
	ps := loadLung(t)
	one := func(time, age float64, event bool) []patient {
		out := slices.Clone(ps)
		return append(out, patient{site: "inst99", time: time, event: event, num: map[string]float64{"age": age}, cat: map[string]string{"sex": "male"}})
	}
	ctx := context.Background()
	f := newFixture(t)
	validate := func(ps []patient) *app.LOSOResult {
		v, err := f.svc.ValidateDP(ctx, dpLungResult(dpLungReplies(ps, 30, 18, 100), true), []float64{180, 365})
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	a, b := validate(one(281, 61, true)), validate(one(299, 75, true)) // bin 10, age quarter 3, both
	if da, db := dumpLOSO(a), dumpLOSO(b); da != db {
		t.Errorf("same tables, different validations:\n%s\n%s", da, db)
	}
	k := slices.IndexFunc(a.Sites, func(s app.LOSOSite) bool { return s.Site == "inst99" })
	if k < 0 || !strings.Contains(a.Sites[k].SatOut, "no comparable pair") || a.Sites[k].N != 1 || a.Sites[k].Noise != nil || a.Sites[k].Coef != nil {
		t.Errorf("one-patient site: %+v", a.Sites[k])
	}
	// A different bin is a different table, and may change the output (the test can fail).
	if c := validate(one(500, 61, true)); dumpLOSO(c) == dumpLOSO(a) {
		t.Errorf("moving the patient to another bin changed nothing: the dump does not see the tables")
	}
}

// TestValidateDPRefusals: a validation on DP tables needs a dp result holding its tables, two
// sites or more, and no penalty; each refusal says why.
func TestValidateDPRefusals(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t)
	replies := dpLungReplies(loadLung(t), 30, 18, 100)
	one := dpLungResult(replies[:1], false)
	if _, err := f.svc.ValidateDP(ctx, one, nil); app.ErrorCode(err) != app.ERefusedByPolicy || !strings.Contains(err.Error(), "two sites or more") {
		t.Errorf("one site: %v", err)
	}
	pen := dpLungResult(replies, false)
	pen.Request.Cox.Penalty = &app.RidgeSpec{Theta: 1}
	if _, err := f.svc.ValidateDP(ctx, pen, nil); app.ErrorCode(err) != app.EInvalid || !strings.Contains(err.Error(), "ridge") {
		t.Errorf("penalty: %v", err)
	}
	exact := dpLungResult(replies, false)
	exact.Request.Cox.Form = protocol.CoxStratified
	if _, err := f.svc.ValidateDP(ctx, exact, nil); app.ErrorCode(err) != app.EInvalid || !strings.Contains(err.Error(), "no differentially private tables") {
		t.Errorf("not a dp model: %v", err)
	}
	if _, err := app.DPPooledModel(exact); err == nil {
		t.Error("the pooled model of a result without DP tables")
	}
}
