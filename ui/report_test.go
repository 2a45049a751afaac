package ui

import (
	"reflect"
	"strings"
	"testing"

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
