package chart

import (
	"encoding/json"
	"math"
	"os"
	"testing"

	"github.com/oncofed/oncofed/internal/lungtest"
)

// loadLung reads R's results on the exact times (lung_expected_bin0.json, gen_lung.R).
func loadLung(tb testing.TB) *lungtest.Expected { return lungtest.ReadExpected(tb, 0) }

// rCurve is group gi of a survfit table drawn as R gives it: its rows of km, censoring
// marks where rows have censorings, and its median with CI from med.
func rCurve(km lungtest.Survfit, med lungtest.Medians, gi int) KMCurve {
	g := med.Group[gi]
	c := KMCurve{Name: g, N: med.N[gi], Median: &MedianCI{med.Median[gi], med.LCL[gi], med.UCL[gi]}}
	for i := range km.Time {
		if km.Group[i] != g {
			continue
		}
		c.Time = append(c.Time, km.Time[i])
		c.Surv = append(c.Surv, km.Surv[i])
		c.Lower = append(c.Lower, km.Lower[i])
		c.Upper = append(c.Upper, km.Upper[i])
		c.NRisk = append(c.NRisk, km.NRisk[i])
		if km.NCensor[i] > 0 {
			c.CensorTimes = append(c.CensorTimes, km.Time[i])
		}
	}
	return c
}

// forestRef is testdata/forest_lung.json (gen_forest.R: coxph of sex per institution of the
// lung data, inverse-variance fixed-effect pooling).
type forestRef struct {
	Sites struct {
		Label                              []string
		N                                  []int
		Coef, SE, HR, Lower, Upper, Weight []float64
	}
	Pooled struct{ HR, Lower, Upper float64 }
	QP     float64 `json:"q_p"`
	I2     float64 `json:"i2"`
}

func loadForest(tb testing.TB) *forestRef {
	tb.Helper()
	b, err := os.ReadFile("testdata/forest_lung.json")
	if err != nil {
		tb.Fatal(err)
	}
	var r forestRef
	if err := json.Unmarshal(b, &r); err != nil {
		tb.Fatal(err)
	}
	return &r
}

var nan = math.NaN()

// lungFigure is the Kaplan–Meier figure of overall survival by sex in the NCCTG lung data,
// every number from R (survfit, survdiff, coxph; see gen_lung.R).
func lungFigure(tb testing.TB) *KMFigure {
	r := loadLung(tb)
	f := &KMFigure{
		Title:    "Overall survival by sex — NCCTG lung cancer",
		Footnote: "Cohort: advanced lung cancer, NCCTG (R survival::lung), 18 sites pooled. Data cut 2026-10-31. Privacy: exact times, no suppressed cells, 18 of 18 sites answered.",
	}
	for gi := range r.BySex.Median.Group {
		f.Curves = append(f.Curves, rCurve(r.BySex.KM, r.BySex.Median, gi))
	}
	p := r.BySex.LogRank.P
	f.LogRankP = &p
	cx := r.Cox.Efron
	f.HR = &HazardRatio{Label: "male vs female", HR: cx.HR[0], Lower: cx.Lower[0], Upper: cx.Upper[0]}
	return f
}
