package chart

import (
	"math"
	"strconv"
	"strings"
	"testing"

	"github.com/oncofed/oncofed/analysis"
	"github.com/oncofed/oncofed/internal/lungtest"
)

// TestCurveFromEstimate builds the by-sex curves from lung.csv through analysis.KaplanMeier
// and checks them against R's survfit table and print(fit) medians (lung_expected_bin0.json),
// which the golden figure draws.
func TestCurveFromEstimate(t *testing.T) {
	header, rows := lungtest.Read(t)
	sexCol, timeCol, eventCol := lungtest.Column(t, header, "sex"), lungtest.Column(t, header, "time"), lungtest.Column(t, header, "event")
	want := lungFigure(t)
	for _, wc := range want.Curves {
		var times []float64
		var events []bool
		for _, r := range rows {
			if r[sexCol] != wc.Name {
				continue
			}
			tm, err := strconv.ParseFloat(r[timeCol], 64)
			if err != nil {
				t.Fatal(err)
			}
			times = append(times, tm)
			events = append(events, r[eventCol] == "1")
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

// TestFromAggregates builds the Summary-tab charts from released aggregates: ECOG by sex
// in the lung data (counts from lung.csv; male ECOG 3 and missing, 1 each, suppressed by a
// minimum cell of 5 as a site would release them) and age in 10-year bins.
func TestFromAggregates(t *testing.T) {
	ex := analysis.ExactCount
	sup := analysis.SuppressedCount(5)
	female := analysis.VariableAggregate{Name: "ECOG", Categories: map[string]analysis.CellCount{"ecog0": ex(27), "ecog1": ex(42), "ecog2": ex(21)}}
	male := analysis.VariableAggregate{Name: "ECOG", Missing: sup,
		Categories: map[string]analysis.CellCount{"ecog0": ex(36), "ecog1": ex(71), "ecog2": ex(28), "ecog3": sup}}
	b, err := BarsFromAggregates("ECOG by sex", []string{"female", "male"}, []analysis.VariableAggregate{female, male}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(b.Categories, ","); got != "ecog0,ecog1,ecog2,ecog3,missing" {
		t.Fatalf("categories %s", got)
	}
	m := b.Groups[1]
	if m.Values[3] != 1 || m.Max[3] != 4 || m.Labels[3] != "<5" || m.Labels[4] != "<5" || b.Groups[0].Labels[3] != "0" {
		t.Errorf("male ECOG 3 drawn as %v–%v %q, missing %q; female ECOG 3 %q", m.Values[3], m.Max[3], m.Labels[3], m.Labels[4], b.Groups[0].Labels[3])
	}
	items, _, _ := recordTexts(t, b, 1200, 750)
	n := 0
	for _, it := range items {
		if it.s == "<5" {
			n++
		}
	}
	if n != 2 {
		t.Errorf("%d cells labelled <5 in the drawing, want 2", n)
	}
	if _, err := BarsFromAggregates("x", []string{"a"}, []analysis.VariableAggregate{{Name: "age", Numeric: true}}, nil); err == nil {
		t.Error("BarsFromAggregates accepted a numeric variable")
	}

	// Age: female counts per 10-year bin from lung.csv (40–49: 9, 50–59: 31, 60–69: 32,
	// 70–79: 18; below 40: 0; 80 and over: 0), one range cell to show pooling.
	edges := []float64{40, 50, 60, 70, 80}
	fa := analysis.VariableAggregate{Name: "age", Numeric: true, Edges: edges,
		Histogram: []analysis.CellCount{ex(0), ex(9), ex(31), ex(32), ex(18), ex(0)}}
	ma := analysis.VariableAggregate{Name: "age", Numeric: true, Edges: edges,
		Histogram: []analysis.CellCount{sup, ex(9), {N: 30, Suppressed: true, Max: 33}, ex(56), ex(34), ex(4)}}
	h, err := HistogramFromAggregates("Age", []string{"female", "male"}, []analysis.VariableAggregate{fa, ma})
	if err != nil {
		t.Fatal(err)
	}
	if got := h.Series[1]; got.Counts[1] != 30 || got.Max[1] != 33 || len(got.Counts) != 4 {
		t.Errorf("male series %+v", got)
	}
	if want := "Outside the axis: male <5 below 40 and 4 at or above 80."; h.Footnote != want {
		t.Errorf("footnote %q, want %q", h.Footnote, want)
	}
	if _, err := Image(h, 800, 500); err != nil {
		t.Fatal(err)
	}
	ma.Edges = []float64{40, 55, 60, 70, 80}
	if _, err := HistogramFromAggregates("Age", []string{"female", "male"}, []analysis.VariableAggregate{fa, ma}); err == nil {
		t.Error("HistogramFromAggregates accepted different edges")
	}
}

// TestForestFromMeta pools the per-site log HRs of testdata/forest_lung.json with
// analysis.MetaAnalyze and checks the plot's rows, diamond, I² and Q p against R
// (gen_forest.R: coxph per site, inverse-variance fixed effect).
func TestForestFromMeta(t *testing.T) {
	r := loadForest(t)
	var sites []analysis.SiteEstimate
	for i, l := range r.Sites.Label {
		sites = append(sites, analysis.SiteEstimate{Site: l, Estimate: r.Sites.Coef[i], SE: r.Sites.SE[i]})
	}
	sites = append(sites, analysis.SiteEstimate{Site: "inst99", Estimate: math.Inf(1), SE: 1})
	h, err := analysis.MetaAnalyze(sites, 0.95)
	if err != nil {
		t.Fatal(err)
	}
	f := ForestFromMeta("HR male vs female by site", sites, h, false)
	near := func(a, b float64) bool { return math.Abs(a-b) <= 1e-9*math.Abs(b) }
	if len(f.Rows) != len(r.Sites.Label)+1 {
		t.Fatalf("%d rows", len(f.Rows))
	}
	for i, row := range f.Rows[:len(r.Sites.Label)] {
		if row.Label != r.Sites.Label[i] || !near(row.HR, r.Sites.HR[i]) || !near(row.Lower, r.Sites.Lower[i]) ||
			!near(row.Upper, r.Sites.Upper[i]) || !near(row.Weight, 100*r.Sites.Weight[i]) {
			t.Errorf("row %d %+v; R: %s %v (%v–%v) weight %v", i, row, r.Sites.Label[i], r.Sites.HR[i], r.Sites.Lower[i], r.Sites.Upper[i], r.Sites.Weight[i])
		}
	}
	p := f.Rows[len(f.Rows)-1]
	if !p.Pooled || !near(p.HR, r.Pooled.HR) || !near(p.Lower, r.Pooled.Lower) || !near(p.Upper, r.Pooled.Upper) {
		t.Errorf("pooled %+v; R %+v", p, r.Pooled)
	}
	if math.Abs(*f.QP-r.QP) > 1e-6 || math.Abs(*f.I2-r.I2) > 1e-9 {
		t.Errorf("Q p %v, I² %v; R %v, %v", *f.QP, *f.I2, r.QP, r.I2)
	}
	if !strings.Contains(f.Footnote, "inst99") {
		t.Errorf("footnote %q does not name the excluded site", f.Footnote)
	}
	if _, err := Image(f, 800, 500); err != nil {
		t.Fatal(err)
	}
}

// TestForestFromCox maps a Cox fit (the lung sex + age model's numbers from R's coxph,
// gen_lung.R, plus a non-estimable and an infinite term) to forest rows.
func TestForestFromCox(t *testing.T) {
	cx := loadLung(t).Cox.Efron
	inf := math.Inf(1)
	fit := &analysis.CoxFit{
		Terms:        []string{"sexmale", "age", "inst_dup", "sep"},
		HR:           []float64{cx.HR[0], cx.HR[1], nan, 1e12},
		Lower:        []float64{cx.Lower[0], cx.Lower[1], nan, 0},
		Upper:        []float64{cx.Upper[0], cx.Upper[1], nan, inf},
		P:            []float64{cx.P[0], cx.P[1], nan, 0.99},
		NotEstimable: []string{"inst_dup"}, Infinite: []string{"sep"},
	}
	f := ForestFromCox("Cox", fit, map[string]string{"sexmale": "Male (vs female)"})
	if len(f.Rows) != 2 || f.Rows[0].Label != "Male (vs female)" || f.Rows[1].Label != "age" {
		t.Fatalf("rows %+v", f.Rows)
	}
	if want := "1.67 (1.20–2.32)  p = 0.0023"; f.Rows[0].Text != want {
		t.Errorf("text %q, want %q", f.Rows[0].Text, want)
	}
	for _, w := range []string{"Not estimable: inst_dup", "may be infinite: sep", "No finite interval to draw: sep"} {
		if !strings.Contains(f.Footnote, w) {
			t.Errorf("footnote %q lacks %q", f.Footnote, w)
		}
	}
}
