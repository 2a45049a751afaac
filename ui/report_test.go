package ui

import (
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/oncofed/oncofed/app"
	"github.com/oncofed/oncofed/chart"
	"github.com/oncofed/oncofed/report/reporttest"
)

// TestSameReportAsCLI: the Survival tab shows the shared Result with the p-values, hidden
// at-risk cells and privacy line the CLI prints for it (cmd/oncofed-cli's TestSameReportAsApp
// checks the CLI against the same expectations).
func TestSameReportAsCLI(t *testing.T) {
	f := startApp(t)
	s := f.ui.survival
	s.show(reporttest.KMResult())
	if got := s.privacy.Text; got != reporttest.WantPrivacyLine {
		t.Errorf("privacy line =\n%q, want the CLI's\n%q", got, reporttest.WantPrivacyLine)
	}
	if got := s.logrank.Text; !strings.Contains(got, reporttest.WantLogRankP) || !strings.Contains(got, reporttest.WantStratifiedP) {
		t.Errorf("log-rank line %q, want %q and %q", got, reporttest.WantLogRankP, reporttest.WantStratifiedP)
	}
	fig, ok := s.figure.figure().(*chart.KMFigure)
	if !ok {
		t.Fatalf("the tab shows %T, not a KM figure", s.figure.figure())
	}
	if got := fig.RiskCells(); !reflect.DeepEqual(got, reporttest.WantRiskCells) {
		t.Errorf("risk table on screen =\n%q, want the CLI's\n%q", got, reporttest.WantRiskCells)
	}
}

// TestSameCoxTableAsCLI: the Cox tab's hazard-ratio table has the rows the CLI prints for the
// shared model (cmd/oncofed-cli's TestSameCoxTableAsApp): reference levels, units, the
// discrete covariate "as numeric", the term R reports as NA — and p = 0.0496 stays below 0.05.
func TestSameCoxTableAsCLI(t *testing.T) {
	f := startApp(t)
	a := f.ui
	a.catalog = &app.Catalog{Studies: []app.Study{*reporttest.CoxStudy()}}
	a.study = "lung"
	a.cox.show(reporttest.CoxResult())
	cells := texts(a.cox.table)
	var labels []string
	for i := 4; i < len(cells); i += 4 { // after the header: Term, HR (95% CI), p, coef (SE)
		labels = append(labels, cells[i])
	}
	if !slices.Equal(labels, reporttest.WantCoxLabels) {
		t.Errorf("rows\n%q, want the CLI's\n%q", labels, reporttest.WantCoxLabels)
	}
	if !slices.Contains(cells, "0.0496") || slices.Contains(cells, "0.05") || !slices.Contains(cells, "not estimable") {
		t.Errorf("cells %q", cells)
	}
}
