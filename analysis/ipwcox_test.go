package analysis

import "testing"

// checkTwoArmCox fits the pooled weighted Cox model of treatment from the arms' merged tables
// alone and compares it with R's coxph(Surv(time, status) ~ trt, weights = w, robust = TRUE)
// on the pooled patients.
func checkTwoArmCox(t *testing.T, control, treated WeightedSurvivalTable, want ipwCoxGolden) {
	t.Helper()
	ties, err := ParseTies(want.Ties)
	if err != nil {
		t.Fatal(err)
	}
	fit, rob, err := FitTwoArmWeightedCox(control, treated, ties, CoxOptions{})
	if err != nil {
		t.Fatal(err)
	}
	what := "two-arm pooled " + want.Ties
	closeAll(t, what+" coef", fit.Coef, want.Coef, 1e-9)
	closeAll(t, what+" loglik", []float64{fit.LogLik0, fit.LogLik}, want.Loglik, 1e-10)
	closeAll(t, what+" naive se", fit.SE, want.SENaive, 1e-9)
	closeAll(t, what+" robust se", rob.SE, want.SERobust, 1e-9)
	closeTo(t, what+" score test", fit.Score.Stat, want.Score[0], 1e-9)
	closeTo(t, what+" robust score test", rob.Score.Stat, want.RScore[0], 1e-9)
}
