package chart

import (
	"encoding/csv"
	"math"
	"os"
	"strconv"
	"testing"

	"github.com/oncofed/oncofed/analysis"
)

// TestCurveFromEstimate builds the by-sex curves from lung.csv through analysis.KaplanMeier
// and checks them against R's survfit table and print(fit) medians (lung_expected_bin0.json),
// which the golden figure draws.
func TestCurveFromEstimate(t *testing.T) {
	f, err := os.Open("../analysis/testdata/lung.csv")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	recs, err := csv.NewReader(f).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	col := map[string]int{}
	for i, n := range recs[0] {
		col[n] = i
	}
	want := lungFigure(t)
	for _, wc := range want.Curves {
		var times []float64
		var events []bool
		for _, r := range recs[1:] {
			if r[col["sex"]] != wc.Name {
				continue
			}
			tm, _ := strconv.ParseFloat(r[col["time"]], 64)
			times = append(times, tm)
			events = append(events, r[col["event"]] == "1")
		}
		tab, err := analysis.NewSurvivalTable(times, events)
		if err != nil {
			t.Fatal(err)
		}
		est, err := analysis.KaplanMeier(tab, analysis.KMOptions{})
		if err != nil {
			t.Fatal(err)
		}
		got := CurveFromEstimate(wc.Name, est)
		if got.N != wc.N || len(got.Time) != len(wc.Time) || len(got.CensorTimes) != len(wc.CensorTimes) {
			t.Fatalf("%s: n %d, %d times, %d censorings; R: %d, %d, %d", wc.Name, got.N, len(got.Time), len(got.CensorTimes),
				wc.N, len(wc.Time), len(wc.CensorTimes))
		}
		near := func(a, b float64) bool {
			return (math.IsNaN(a) && math.IsNaN(b)) || math.Abs(a-b) <= 1e-9*math.Max(1, math.Abs(b))
		}
		for i := range got.Time {
			if got.Time[i] != wc.Time[i] || got.NRisk[i] != wc.NRisk[i] || !near(got.Surv[i], wc.Surv[i]) ||
				!near(got.Lower[i], wc.Lower[i]) || !near(got.Upper[i], wc.Upper[i]) {
				t.Fatalf("%s row %d differs from R", wc.Name, i)
			}
		}
		if m, w := *got.Median, *wc.Median; m != w {
			t.Errorf("%s median %v, R print(survfit) %v", wc.Name, m, w)
		}
	}
}
