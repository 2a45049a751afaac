package report

import (
	"fmt"
	"io"
	"slices"

	"github.com/oncofed/oncofed/analysis"
	"github.com/oncofed/oncofed/app"
	"github.com/oncofed/oncofed/chart"
	"github.com/oncofed/oncofed/report/format"
)

// SMDNote says how the balance table's standardised mean differences are computed; both front
// ends print it with the table.
const SMDNote = "SMD: difference of (weighted) means over the unweighted pooled SD of the arms before weighting; |SMD| ≤ 0.1 counts as balanced."

// LoveFigure is the Love plot of a weighted comparison's balance.
func LoveFigure(r *app.Result, style chart.Style) *chart.LovePlot {
	res := r.IPW
	treatment, _ := r.Request.IPW.TreatmentNames()
	l := &chart.LovePlot{Title: "Balance of " + treatment + " arms", Footnote: SMDNote, Style: style}
	for _, b := range res.Balance {
		l.Rows = append(l.Rows, chart.LoveRow{Label: b.Column, Before: b.SMDBefore, After: b.SMDAfter})
	}
	return l
}

// OverlapFigure is the propensity-score histogram of the two arms, on the sites' bins; a bin a
// site suppressed (fewer than min_cell patients) is drawn as its known range.
func OverlapFigure(r *app.Result, style chart.Style) *chart.Histogram {
	res := r.IPW
	treatment, treated := r.Request.IPW.TreatmentNames()
	h := &chart.Histogram{Title: "Propensity of " + treatment + " = " + treated, XLabel: "propensity score",
		Edges: res.Edges, MinCell: RiskMinCell(r), Style: style,
		Footnote: fmt.Sprintf("Counts per bin of width %.2g from each site; cells under a site's min_cell are shown as ranges.", res.Edges[1]-res.Edges[0])}
	for _, a := range []struct {
		name string
		arm  app.IPWArm
	}{{"treated", res.Treated}, {"control", res.Control}} {
		s := chart.HistSeries{Name: a.name}
		for _, c := range a.arm.Histogram {
			lo, hi := float64(c.N), float64(c.N)
			lbl := ""
			if !c.Exact() {
				hi = float64(c.Max)
				lbl = c.String()
			}
			s.Counts, s.Max, s.Labels = append(s.Counts, lo), append(s.Max, hi), append(s.Labels, lbl)
		}
		h.Series = append(h.Series, s)
	}
	return h
}

// WeightedKMFigure is the weighted Kaplan–Meier figure of the two arms, with the number at risk
// per arm under it twice: weighted (the sum of the weights at risk, what the curve divides by)
// and in patients (hidden below the sites' min_cell, the weighted number with it).
func WeightedKMFigure(r *app.Result, style chart.Style) *chart.KMFigure {
	res := r.IPW
	f := &chart.KMFigure{Title: fmt.Sprintf("Weighted Kaplan–Meier (%s weights)", res.Estimand), Style: style,
		RiskMinCell: RiskMinCell(r),
		Footnote:    "Number at risk: weighted, then patients; each arm's effective sample size (ESS) is in its name."}
	arms := []app.IPWArm{res.Control, res.Treated}
	for k, name := range []string{"control", "treated"} {
		f.Curves = append(f.Curves, chart.CurveFromEstimate(fmt.Sprintf("%s (ESS %.0f)", name, arms[k].ESS), &arms[k].KM.KMEstimate))
	}
	ticks := f.Ticks()
	rt := &chart.RiskTable{Times: ticks, MinCell: f.RiskMinCell}
	for _, a := range arms {
		n, w := WeightedAtRisk(a.KM, ticks)
		rt.Counts, rt.Weighted = append(rt.Counts, n), append(rt.Weighted, w)
	}
	f.RiskTable = rt
	return f
}

// WeightedAtRisk returns a weighted curve's number at risk at each of times, in patients and
// weighted: those of its first row at or after the time (nobody after the last row).
func WeightedAtRisk(km *analysis.WeightedKMEstimate, times []float64) (n []int, w []float64) {
	n, w = make([]int, len(times)), make([]float64, len(times))
	for j, t := range times {
		if k, _ := slices.BinarySearch(km.Time, t); k < len(km.Time) {
			n[j], w[j] = km.NRisk[k], km.WRisk[k]
		}
	}
	return n, w
}

// WriteBalanceCSV writes the balance table of a weighted comparison: column, SMD before and
// after weighting (NA where undefined), and the release kind (ReleaseColumn).
func WriteBalanceCSV(w io.Writer, r *app.Result) error {
	recs := [][]string{{"column", "smd_before", "smd_after"}}
	for _, b := range r.IPW.Balance {
		recs = append(recs, []string{b.Column, format.Exact(b.SMDBefore), format.Exact(b.SMDAfter)})
	}
	return WriteCSV(w, WithRelease(recs, ReleaseKind(r)))
}
