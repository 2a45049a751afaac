package analysis

import (
	"math"
	"testing"
)

// checkWeightedPooledRounds checks the network form of the pooled weighted Cox model (sites'
// strata, three phases) against R's coxph(weights = w, robust = TRUE) on the pooled data.
func checkWeightedPooledRounds(t *testing.T, what string, strata []*WeightedCoxStratum, q int, want ipwCoxGolden) {
	t.Helper()
	ties, err := ParseTies(want.Ties)
	if err != nil {
		t.Fatal(err)
	}
	fit, rob, err := FitWeightedPooledCox(strata, ties, CoxOptions{})
	if err != nil {
		t.Fatal(err)
	}
	closeAll(t, what+" coef", fit.Coef, want.Coef, 1e-9)
	closeAll(t, what+" loglik", []float64{fit.LogLik0, fit.LogLik}, want.Loglik, 1e-10)
	closeAll(t, what+" naive se", fit.SE, want.SENaive, 1e-9)
	closeAll(t, what+" robust se", rob.SE, want.SERobust, 1e-9)
	closeTo(t, what+" score test", fit.Score.Stat, want.Score[0], 1e-9)
	closeTo(t, what+" robust score test", rob.Score.Stat, want.RScore[0], 1e-9)
	worst := 0.0
	for _, pair := range [][2][]float64{{fit.Coef, want.Coef}, {fit.SE, want.SENaive}, {rob.SE, want.SERobust}} {
		for j := range pair[0] {
			worst = max(worst, math.Abs(pair[0][j]-pair[1][j])/math.Abs(pair[1][j]))
		}
	}
	t.Logf("%s: q = %d, worst relative difference to R (coef, naive SE, robust SE) %.2g", what, q, worst)
}

// Malformed meat weights are refused by the site with an error, never used.
func TestPooledScoreMeatRefusesMalformedWeights(t *testing.T) {
	st, err := NewWeightedCoxStratum([]float64{1, 2, 2, 3}, []bool{true, false, true, false}, []float64{0, 1, 0, 1}, 1, []float64{1, 2, 3, 4})
	if err != nil {
		t.Fatal(err)
	}
	good := PooledMeatWeights{H: []float64{0.1, 0.3, 0.3}, A: []float64{0, 0.1, 0.1}, HD: []float64{0.05, 0.2}, AD: []float64{0, 0.05}, XBarD: []float64{0.5, 0.5}}
	if _, _, err := st.PooledScoreMeat([]float64{0}, good); err != nil {
		t.Fatal(err)
	}
	for name, w := range map[string]PooledMeatWeights{
		"short":      {H: []float64{0.1, 0.3}, A: good.A, HD: good.HD, AD: good.AD, XBarD: good.XBarD},
		"decreasing": {H: []float64{0.3, 0.1, 0.3}, A: good.A, HD: good.HD, AD: good.AD, XBarD: good.XBarD},
		"negative":   {H: good.H, A: good.A, HD: []float64{-1, 0.2}, AD: good.AD, XBarD: good.XBarD},
		"HD above H": {H: good.H, A: good.A, HD: []float64{0.05, 0.4}, AD: good.AD, XBarD: good.XBarD},
		"HD below":   {H: good.H, A: good.A, HD: []float64{0.05, 0.05}, AD: good.AD, XBarD: good.XBarD},
	} {
		if _, _, err := st.PooledScoreMeat([]float64{0}, w); err == nil {
			t.Errorf("%s weights accepted", name)
		}
	}
}
