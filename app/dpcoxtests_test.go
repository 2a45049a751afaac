package app_test

import (
	"math"
	"slices"
	"testing"

	"gonum.org/v1/gonum/stat/distuv"

	"github.com/oncofed/oncofed/analysis"
	"github.com/oncofed/oncofed/app"
	"github.com/oncofed/oncofed/protocol"
)

// A model fitted on differentially private tables carries the release's noise in its tests:
// each term's p-value is 2Φ(−|β|/√(SE² + noise SD²)) and its interval exp(β ± 1.96 √(…)), the
// global Wald test is β'(V + V_noise)⁻¹β, the likelihood ratio and score tests are withheld
// with the reason, and SE stays the fit's own. The same tables fitted as exact keep R's tests.
func TestDPCoxTestsHoldTheNoise(t *testing.T) {
	replies := dpLungReplies(loadLung(t), 30, 18, 100)
	r := &app.Result{Request: app.Request{Kind: protocol.KindCox, Study: "lung", Endpoint: "OS",
		Cox: &app.CoxSpec{Form: protocol.CoxDPTables, Covariates: []string{"sex", "age"}, Ties: "efron"}},
		Rounds: []app.Round{{Query: protocol.Query{Cox: &protocol.CoxRequest{Form: protocol.CoxDPTables, Beta: make([]float64, 2)}}, Replies: replies}}}
	dp, err := app.DPPooledModel(r)
	if err != nil {
		t.Fatal(err)
	}
	c := dp.Cox
	f, sd, cov := c.Fit, c.NoiseSD, c.NoiseCov
	if !c.WithNoise || len(sd) != 2 || len(cov) != 4 || c.TestsWithheld != app.ErrCoxTestsNoisy {
		t.Fatalf("with noise %v, noise SD %v, covariance %v, withheld %q", c.WithNoise, sd, cov, c.TestsWithheld)
	}
	// The exact fit of the same subjects (one pooled stratum): the dp fit's β, SE and V are its.
	var all []analysis.CoxPatternTable
	for _, rep := range replies {
		for _, pt := range rep.Cox.Patterns {
			all = append(all, analysis.CoxPatternTable{X: pt.X, Time: pt.Time, Events: pt.Events, Censor: pt.Censor})
		}
	}
	exact, err := analysis.FitCoxPatterns([][]analysis.CoxPatternTable{all}, 2, analysis.Efron, nil, analysis.CoxOptions{})
	if err != nil {
		t.Fatal(err)
	}
	near := func(a, b float64) bool { return math.Abs(a-b) <= 1e-9*math.Max(1, math.Abs(b)) }
	z := distuv.UnitNormal.Quantile(0.975)
	for j := range 2 {
		if !near(f.Coef[j], exact.Coef[j]) || !near(f.SE[j], exact.SE[j]) || !near(cov[j*2+j], sd[j]*sd[j]) {
			t.Errorf("term %d: β %g SE %g (exact %g, %g); noise var %g, SD² %g", j, f.Coef[j], f.SE[j], exact.Coef[j], exact.SE[j], cov[j*2+j], sd[j]*sd[j])
		}
		if !near(exact.P[j], 2*distuv.UnitNormal.CDF(-math.Abs(exact.Coef[j])/exact.SE[j])) ||
			!near(exact.Lower[j], math.Exp(exact.Coef[j]-z*exact.SE[j])) {
			t.Errorf("term %d: the exact fit's p %g, lower %g changed", j, exact.P[j], exact.Lower[j])
		}
		s := math.Hypot(f.SE[j], sd[j])
		p, lo, hi := 2*distuv.UnitNormal.CDF(-math.Abs(f.Coef[j])/s), math.Exp(f.Coef[j]-z*s), math.Exp(f.Coef[j]+z*s)
		if !near(f.P[j], p) || !near(f.Lower[j], lo) || !near(f.Upper[j], hi) || !(f.P[j] > exact.P[j]) {
			t.Errorf("term %d: p %g (%g), interval %g–%g (%g–%g); exact p %g", j, f.P[j], p, f.Lower[j], f.Upper[j], lo, hi, exact.P[j])
		}
	}
	// β'(V + V_noise)⁻¹β by hand (2×2).
	v := slices.Clone(f.Vcov)
	for i := range v {
		v[i] += cov[i]
	}
	det := v[0]*v[3] - v[1]*v[2]
	b := f.Coef
	w := (b[0]*b[0]*v[3] - 2*b[0]*b[1]*v[1] + b[1]*b[1]*v[0]) / det
	if !near(f.Wald.Stat, w) || f.Wald.DF != 2 || !near(f.Wald.P, math.Exp(-w/2)) || !(f.Wald.Stat < exact.Wald.Stat) {
		t.Errorf("Wald %+v, want %g on 2 df (exact %g)", f.Wald, w, exact.Wald.Stat)
	}
	if !math.IsNaN(f.LRT.Stat) || !math.IsNaN(f.LRT.P) || !math.IsNaN(f.Score.P) || math.IsNaN(exact.LRT.P) || math.IsNaN(exact.Score.P) {
		t.Errorf("LRT %+v, score %+v: want NaN (exact %+v, %+v)", f.LRT, f.Score, exact.LRT, exact.Score)
	}
}
