// Package reporttest holds one Result that the desktop app's and the CLI's tests both
// render, and what each must show for it: the same p-values, the same hidden at-risk
// cells and the same privacy line (issue 18: one report layer for app and CLI).
package reporttest

import (
	"math"
	"time"

	"github.com/oncofed/oncofed/analysis"
	"github.com/oncofed/oncofed/app"
	"github.com/oncofed/oncofed/protocol"
)

// The texts both front ends must show for KMResult.
const (
	// WantLogRankP: 0.0496 must never print as 0.050 (nor "0.05").
	WantLogRankP = "p = 0.0496"
	// WantStratifiedP: 0.00996 must never print as 0.010.
	WantStratifiedP = "p = 0.00996"
	// WantPrivacyLine is report.PrivacyLine(KMResult(), any time after 2026-11-28).
	WantPrivacyLine = "privacy: coarsened release · 30-day bins at a · 2 cells suppressed (<10) · " +
		"2 of 3 sites (c: refused: fewer than min_cohort=10 patients) · data cut 2026-10-31 · computed 2026-11-28 14:02 (live)"
)

// WantRiskCells are the number-at-risk cells of KMResult's figure in the publication style
// (months, ticks 0, 6, …, 42): counts 1–9 (group b's 8 and 4 at 6 and 12 months, group
// a's 4 at 36) are below the sites' largest min_cell, 10, and show as "<10".
var WantRiskCells = [][]string{
	{"40", "34", "28", "22", "16", "10", "<10", "0"},
	{"12", "<10", "<10", "0", "0", "0", "0", "0"},
}

// KMResult is a two-group Kaplan–Meier result from two sites (a third refused): group a has
// 40 patients with an event every 30 days, group b 12 with an event every 45 days; site a
// binned times to 30 days and suppressed 2 cells under min_cell 10, site b has min_cell 5.
func KMResult() *app.Result {
	group := func(name string, n int, every float64) app.KMGroup {
		var tb analysis.SurvivalTable
		for k := 1; k <= n; k++ {
			tb.Time = append(tb.Time, every*float64(k))
			tb.Events = append(tb.Events, 1)
			tb.Censor = append(tb.Censor, 0)
		}
		est, err := analysis.KaplanMeier(tb, analysis.KMOptions{})
		if err != nil {
			panic("reporttest: " + err.Error())
		}
		return app.KMGroup{Group: name, Table: tb, Curve: est, Median: est.TableMedian()}
	}
	return &app.Result{
		Request: app.Request{Kind: protocol.KindSurvival, Study: "lung", GroupBy: "arm", Endpoint: "os"},
		KM: &app.KMResult{
			Endpoint:          "os",
			Groups:            []app.KMGroup{group("a", 40, 30), group("b", 12, 45)},
			LogRank:           &analysis.LogRankResult{ChiSq: 3.85, DF: 1, P: 0.0496},
			StratifiedLogRank: &analysis.LogRankResult{ChiSq: 6.64, DF: 1, P: 0.00996},
		},
		Provenance: app.Provenance{
			RanAt:    time.Date(2026, 11, 28, 14, 2, 0, 0, time.Local),
			Expected: []string{"a", "b", "c"},
			Answered: []string{"a", "b"},
			Refused: []app.SiteProblem{{Site: "c", Code: "refused_by_policy", Reason: "small_cohort", Limit: 10,
				Message: "fewer than min_cohort=10 patients"}},
			Sites: []app.SiteProvenance{
				{Site: "a", DataCut: "2026-10-31", Policy: protocol.PolicyEffects{MinCell: 10, BinDays: 30, SuppressedCells: 2}},
				{Site: "b", DataCut: "2026-10-31", Policy: protocol.PolicyEffects{MinCell: 5}},
			},
		},
	}
}

// CoxStudy is the study CoxResult's labels come from: age in years, ECOG declared discrete.
func CoxStudy() *app.Study {
	lo, hi := 0.0, 3.0
	return &app.Study{Name: "lung", Variables: []app.Variable{
		{Name: "age", Type: protocol.Numeric, Unit: "years"},
		{Name: "sex", Type: protocol.Categorical, Categories: []string{"female", "male"}},
		{Name: "stage", Type: protocol.Categorical, Categories: []string{"I", "II", "III"}},
		{Name: "ecog", Type: protocol.Numeric, Unit: "points", Min: &lo, Max: &hi, Discrete: true},
	}}
}

// WantCoxLabels are the rows of CoxResult's hazard-ratio table in the desktop's table and the
// CLI's text alike: reference levels first, units, "as numeric", a term R reports as NA.
var WantCoxLabels = []string{
	"age, per year", "sex: female (reference)", "sex: male vs female",
	"stage: I (reference)", "stage: II vs I", "stage: III vs I", "ecog, per point (as numeric)",
}

// CoxResult is a site-stratified Cox model of os ~ age + sex + stage + ecog in which stage III
// is not estimable (no patient at any site); sex's p-value, 0.0496, must never print as 0.05.
func CoxResult() *app.Result {
	nan := math.NaN()
	fit := &analysis.CoxFit{
		Terms: []string{"age", "sexmale", "stageII", "stageIII", "ecog"},
		Coef:  []float64{0.017, -0.2, 0.3, nan, 0.45}, SE: []float64{0.009, 0.1016, 0.2, nan, 0.11},
		HR: []float64{1.017, 0.8187, 1.35, nan, 1.568}, Lower: []float64{0.9993, 0.6709, 0.9122, nan, 1.264},
		Upper: []float64{1.035, 0.9992, 1.998, nan, 1.946}, P: []float64{0.0588, 0.0496, 0.1336, nan, 0.0000426},
		Converged: true, N: 220, Events: 160, NotEstimable: []string{"stageIII"}, Iterations: 4,
	}
	return &app.Result{
		Request: app.Request{Kind: protocol.KindCox, Study: "lung", Endpoint: "os",
			Cox: &app.CoxSpec{Covariates: []string{"age", "sex", "stage", "ecog"}, Ties: "efron", Form: protocol.CoxStratified,
				Levels: map[string][]string{"sex": {"female", "male"}, "stage": {"I", "II", "III"}}}},
		Cox:        &app.CoxResult{Form: protocol.CoxStratified, Ties: "efron", Fit: fit},
		Provenance: KMResult().Provenance,
	}
}
