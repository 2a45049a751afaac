package report

import (
	"math"
	"strings"
	"testing"

	"github.com/oncofed/oncofed/analysis"
	"github.com/oncofed/oncofed/app"
)

func TestPredictionRowsAndPosition(t *testing.T) {
	nan := math.NaN()
	p := &app.Prediction{Profile: map[string]string{"age": "63", "sex": "male"}, At: []analysis.SurvivalPoint{
		{Time: 365, Surv: 0.6731, Lower: 0.6061, Upper: 0.7476},
		{Time: 5000, Surv: nan, Lower: nan, Upper: nan, Beyond: true}}}
	rows := PredictionRows(p)
	if rows[0].Survival != "67.3% (60.6–74.8)" || rows[1].Survival != "beyond follow-up" {
		t.Errorf("rows %+v", rows)
	}
	if got := ProfileLine(p, &app.CoxSpec{Covariates: []string{"sex", "age"}}); got != "sex male, age 63" {
		t.Errorf("profile line %q", got)
	}
	h := &app.LPHistogramResult{PerSite: []analysis.LPHistogram{
		{Width: 0.1, Cuts: []int{5, 8}, Counts: []int{20, 50, 30}},
		{Width: 0.1, Cuts: []int{6}, Counts: []int{40, 60}}},
		Refused: []app.SiteProblem{{Site: "inst9"}}, Missing: []string{"inst4"}}
	for _, tc := range []struct {
		lp   float64
		want string
	}{
		{0.55, "between the 10th and the 55th percentile of the cohort's 200 patients (inst9 refused, inst4 did not answer)"},
		{0.1, "among the lowest 30% of the cohort's 200 patients"},
		{2, "among the highest 45% of the cohort's 200 patients"},
	} {
		if got := LPPosition(h, tc.lp); !strings.Contains(got, tc.want) {
			t.Errorf("lp %v: %q, want %q", tc.lp, got, tc.want)
		}
	}
	for n, want := range map[float64]string{1: "1st", 2: "2nd", 3: "3rd", 11: "11th", 12: "12th", 22: "22nd", 73: "73rd", 100: "100th"} {
		if got := ordinal(n); got != want {
			t.Errorf("ordinal(%v) = %q", n, got)
		}
	}
}
