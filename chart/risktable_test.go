package chart

import (
	"strings"
	"testing"
)

// weightedRiskFigure is the lung figure with a weighted number-at-risk table: each curve's
// counts from its own NRisk at the ticks, its weighted numbers 1.37 times them (non-integer),
// and one count under the minimum cell of 5.
func weightedRiskFigure(t *testing.T) *KMFigure {
	f := lungFigure(t)
	ticks := f.Ticks()
	rt := &RiskTable{Times: ticks, MinCell: 5}
	for i := range f.Curves {
		n, w := make([]int, len(ticks)), make([]float64, len(ticks))
		for j, x := range ticks {
			n[j] = f.Curves[i].riskAt(x)
			w[j] = 1.37 * float64(n[j])
		}
		rt.Counts, rt.Weighted = append(rt.Counts, n), append(rt.Weighted, w)
	}
	rt.Counts[0][len(ticks)-2] = 3 // shown as <5, its weighted number hidden with it
	f.RiskTable = rt
	return f
}

// A weighted number-at-risk table gives each curve two rows, drawn at a laptop window's size
// (1024×700): the weighted numbers (one decimal below 100) under each tick, then the patients,
// with a hidden count hiding its weighted number; nothing clipped or overlapping
// (TestNothingClippedOrOverlapping draws the same figure).
func TestWeightedRiskRows(t *testing.T) {
	f := weightedRiskFigure(t)
	items, _, _ := recordTexts(t, f, 1024, 700)
	rt := f.RiskTable
	if rt.Counts[0][len(rt.Times)-2] != 3 {
		t.Fatal("the figure lost its small count")
	}
	for i, c := range f.Curves {
		w := row(items, c.Name+", weighted", func(textItem) bool { return true })
		if len(w) != len(rt.Times)+1 {
			t.Fatalf("curve %d: weighted row %v", i, w)
		}
		for j, it := range w[1:] {
			want := formatWeighted(rt.Weighted[i][j])
			if n := rt.Counts[i][j]; n > 0 && n < 5 {
				want = "–"
			}
			if it.s != want {
				t.Errorf("curve %d, tick %d: weighted cell %q, want %q", i, j, it.s, want)
			}
		}
	}
	var patients int
	for _, it := range items {
		if it.s == "patients" {
			patients++
		}
	}
	if patients != len(f.Curves) {
		t.Errorf("%d patients rows for %d curves", patients, len(f.Curves))
	}
	if got := formatWeighted(12.345); got != "12.3" {
		t.Errorf("formatWeighted(12.345) = %q", got)
	}
	if got := formatWeighted(1234.5); !strings.HasPrefix(got, "123") || strings.Contains(got, ".") {
		t.Errorf("formatWeighted(1234.5) = %q", got)
	}
}
