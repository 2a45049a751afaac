package report_test

import (
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/oncofed/oncofed/chart"
	"github.com/oncofed/oncofed/report"
	"github.com/oncofed/oncofed/report/reporttest"
)

// The shared fixture's expectations hold for report itself; ui and the CLI test against the
// same expectations (TestSameReportAsCLI, TestSameReportAsApp).
func TestKMFigureHidesSmallCells(t *testing.T) {
	r := reporttest.KMResult()
	if got := report.RiskMinCell(r); got != 10 {
		t.Errorf("RiskMinCell = %d, want the largest site min_cell 10", got)
	}
	f := report.KMFigure(r, report.KMOptions{}, chart.PublicationStyle(), "")
	if got := f.RiskCells(); !reflect.DeepEqual(got, reporttest.WantRiskCells) {
		t.Errorf("RiskCells =\n%q, want\n%q", got, reporttest.WantRiskCells)
	}
	if f.LogRankP == nil || *f.LogRankP != 0.0496 || len(f.Notes) != 1 || !strings.HasSuffix(f.Notes[0], reporttest.WantStratifiedP) {
		t.Errorf("log-rank p %v, notes %q", f.LogRankP, f.Notes)
	}
	if got := report.PrivacyLine(r, time.Now()); got != reporttest.WantPrivacyLine {
		t.Errorf("PrivacyLine =\n%q, want\n%q", got, reporttest.WantPrivacyLine)
	}
}
