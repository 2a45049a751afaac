package ui

import (
	"slices"
	"strings"
	"testing"

	"fyne.io/fyne/v2/test"

	"github.com/oncofed/oncofed/chart"
	"github.com/oncofed/oncofed/node"
	"github.com/oncofed/oncofed/report"
	"github.com/oncofed/oncofed/report/format"
)

// runKM runs the Kaplan–Meier analysis of the cohort grouped by sex and waits for it.
func runKM(t *testing.T, f *fixture) {
	t.Helper()
	a := f.ui
	before := a.cohort.feas
	a.cohort.groupBy.SetSelected("sex")
	f.loop.until(t, "feasibility by sex", func() bool { return a.cohort.feas != before })
	test.Tap(a.cohort.run)
	if len(a.cohort.refusals) > 0 {
		test.Tap(dialogButtons(t, a)["Run on the other "+format.Plural(a.cohort.willAnswer, "site", "sites")])
	}
	f.loop.until(t, "the Kaplan–Meier result", func() bool { return a.survival.result != nil || strings.HasPrefix(a.survival.status.Text, "No ") })
	if a.survival.result == nil || a.survival.result.KM == nil {
		t.Fatalf("no KM: %q", a.survival.status.Text)
	}
}

// kmCounts are the patients and events the Survival tab's table shows (columns 2 and 3 of
// each group's row), the per-site pane's cells, the legend's n and the risk table's cells.
func kmCounts(t *testing.T, f *fixture) (table, perSite, legend, risk []string) {
	t.Helper()
	s := f.ui.survival
	cells := texts(s.stats)
	cols := 4 + len(LandmarkMonths)
	for i := cols; i+2 < len(cells); i += cols {
		table = append(table, cells[i+1], cells[i+2])
	}
	perSite = texts(s.perSite)
	r, opts, style := s.shown()
	fig := s.kmFigure(r, opts, style, "")
	for _, c := range fig.Curves {
		legend = append(legend, chart.FormatCount(c.N, 0, fig.Approximate))
	}
	for _, row := range fig.RiskCells() {
		risk = append(risk, row...)
	}
	return table, perSite, legend, risk
}

// A dp analyst's Kaplan–Meier numbers are noisy estimates: patients, events, the legend's n
// and the numbers at risk are shown as "≈N"; a trusted analyst's exact ones are not.
func TestKMCountsOfADPReleaseAreApproximate(t *testing.T) {
	f := startAppAs(t, testFederation(), node.RoleDP)
	runKM(t, f)
	if rel := f.ui.survival.result.Provenance.Release(); len(rel.DPSites) == 0 {
		t.Fatalf("release %+v: not differentially private", rel)
	}
	table, perSite, legend, risk := kmCounts(t, f)
	if len(table) != 4 || len(legend) != 2 || len(risk) == 0 {
		t.Fatalf("table %q, legend %q, risk %q", table, legend, risk)
	}
	for _, s := range slices.Concat(table, legend, risk) {
		if !strings.HasPrefix(s, "≈") && !strings.HasPrefix(s, "<") {
			t.Errorf("%q is a noisy count not shown as approximate (table %q, legend %q, at risk %q)", s, table, legend, risk)
		}
	}
	cells := 0
	for _, s := range perSite {
		if strings.Contains(s, " / ") && !strings.Contains(s, "patients") {
			cells++
			if strings.Count(s, "≈") != 2 {
				t.Errorf("per-site cell %q", s)
			}
		}
	}
	if cells == 0 {
		t.Errorf("no per-site counts in %q", perSite)
	}
	// Its log-rank test holds the noise in its variance (app.DPLogRank), and says so.
	if km := f.ui.survival.result.KM; !km.LogRankWithNoise || km.LogRank == nil || !strings.Contains(f.ui.survival.logrank.Text, report.DPLogRankNote) {
		t.Errorf("dp log-rank: with noise %v, %+v, shown %q", km.LogRankWithNoise, km.LogRank, f.ui.survival.logrank.Text)
	}

	g := startApp(t)
	runKM(t, g)
	table, perSite, legend, risk = kmCounts(t, g)
	if len(table) != 4 {
		t.Fatalf("table %q", table)
	}
	for _, s := range slices.Concat(table, perSite, legend, risk) {
		if strings.Contains(s, "≈") {
			t.Errorf("%q: an exact count shown as approximate", s)
		}
	}
	if km := g.ui.survival.result.KM; km.LogRankWithNoise || km.LogRank == nil || strings.Contains(g.ui.survival.logrank.Text, report.DPLogRankNote) {
		t.Errorf("exact log-rank: with noise %v, %+v, shown %q", km.LogRankWithNoise, km.LogRank, g.ui.survival.logrank.Text)
	}
}
