package chart

import (
	"encoding/json"
	"math"
	"os"
	"testing"
)

// lungRef is the part of R's reference results for the NCCTG lung data
// (analysis/testdata/lung_expected_bin{0,30}.json, made by gen_lung.R with R's survival
// package) that the figures show.
type lungRef struct {
	Overall struct {
		KM     rKM     `json:"km"`
		Median rMedian `json:"median"`
	} `json:"overall"`
	BySex struct {
		KM      rKM     `json:"km"`
		Median  rMedian `json:"median"`
		LogRank struct {
			P float64 `json:"p"`
		} `json:"logrank"`
	} `json:"by_sex"`
	Cox struct {
		Efron struct {
			Term  []string  `json:"term"`
			HR    []float64 `json:"hr"`
			Lower []float64 `json:"lower"`
			Upper []float64 `json:"upper"`
			P     []float64 `json:"p"`
		} `json:"efron"`
	} `json:"cox_sex_age"`
}

// rKM is a survfit table, one row per group and time; a null limit is R's NA.
type rKM struct {
	Group   []string   `json:"group"`
	Time    []float64  `json:"time"`
	NRisk   []int      `json:"n_risk"`
	NCensor []int      `json:"n_censor"`
	Surv    []float64  `json:"surv"`
	Lower   []*float64 `json:"lower"`
	Upper   []*float64 `json:"upper"`
}

// rMedian is print(survfit)'s table, one row per group.
type rMedian struct {
	Group  []string  `json:"group"`
	N      []int     `json:"n"`
	Median []float64 `json:"median"`
	LCL    []float64 `json:"lcl"`
	UCL    []float64 `json:"ucl"`
}

// loadLung reads R's results on the exact times (lung_expected_bin0.json).
func loadLung(tb testing.TB) *lungRef { return loadLungFile(tb, "lung_expected_bin0.json") }

func loadLungFile(tb testing.TB, name string) *lungRef {
	tb.Helper()
	b, err := os.ReadFile("../analysis/testdata/" + name)
	if err != nil {
		tb.Fatal(err)
	}
	var r lungRef
	if err := json.Unmarshal(b, &r); err != nil {
		tb.Fatal(err)
	}
	return &r
}

// rCurve is group gi of a survfit table drawn as R gives it: its rows of km, censoring
// marks where rows have censorings, and its median with CI from med.
func rCurve(km rKM, med rMedian, gi int) KMCurve {
	g := med.Group[gi]
	c := KMCurve{Name: g, N: med.N[gi], Median: &MedianCI{med.Median[gi], med.LCL[gi], med.UCL[gi]}}
	for i := range km.Time {
		if km.Group[i] != g {
			continue
		}
		c.Time = append(c.Time, km.Time[i])
		c.Surv = append(c.Surv, km.Surv[i])
		c.Lower = append(c.Lower, nan2(km.Lower[i]))
		c.Upper = append(c.Upper, nan2(km.Upper[i]))
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

func nan2(p *float64) float64 {
	if p == nil {
		return nan
	}
	return *p
}

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
