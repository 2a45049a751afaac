package main

import (
	"bytes"
	"encoding/json"
	"reflect"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/oncofed/oncofed/chart"
	"github.com/oncofed/oncofed/protocol"
	"github.com/oncofed/oncofed/report"
	"github.com/oncofed/oncofed/report/reporttest"
)

// TestSameReportAsApp: the CLI renders the shared Result with the p-values, hidden at-risk
// cells and privacy line the desktop app shows for it (ui's TestSameReportAsCLI checks the
// app against the same expectations).
func TestSameReportAsApp(t *testing.T) {
	r := reporttest.KMResult()
	fig, err := figureOf(r, report.Names{}, timeUnit{})
	if err != nil {
		t.Fatal(err)
	}
	if got := fig.(*chart.KMFigure).RiskCells(); !reflect.DeepEqual(got, reporttest.WantRiskCells) {
		t.Errorf("--plot risk table =\n%q, want the app's\n%q", got, reporttest.WantRiskCells)
	}
	doc, err := kmDocument(r, kmOptions{})
	if err != nil {
		t.Fatal(err)
	}
	var text bytes.Buffer
	if err := writeKM(&text, "text", doc); err != nil {
		t.Fatal(err)
	}
	out := text.String()
	for _, want := range []string{reporttest.WantLogRankP, reporttest.WantStratifiedP, reporttest.WantPrivacyLine + "\n"} {
		if !strings.Contains(out, want) {
			t.Errorf("text output lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "0.050") || strings.Contains(out, "0.010") {
		t.Errorf("a p-value rounded across a significance boundary:\n%s", out)
	}
	var js bytes.Buffer
	if err := writeKM(&js, "json", doc); err != nil {
		t.Fatal(err)
	}
	var parsed struct {
		Privacy struct {
			Release         string `json:"release"`
			MinCell         int    `json:"min_cell"`
			SuppressedCells int    `json:"suppressed_cells"`
			Refused         []struct {
				Site, Rule string
			} `json:"refused"`
		} `json:"privacy"`
	}
	if err := json.Unmarshal(js.Bytes(), &parsed); err != nil {
		t.Fatal(err)
	}
	if p := parsed.Privacy; p.Release != "coarsened" || p.MinCell != 10 || p.SuppressedCells != 2 || len(p.Refused) != 1 || p.Refused[0].Rule != "small_cohort" {
		t.Errorf("JSON privacy = %+v", p)
	}
}

// Without --bins, summary bins numeric variables on the desktop app's default edges
// (report.SummaryBins), so both show the same Table 1 with medians and quartiles.
func TestSummaryDefaultBins(t *testing.T) {
	url := startLung(t, protocol.Policy{})
	code, out, errOut := cli(t, "--hub", url, "summary", "--study", "lung", "--vars", "age")
	if code != exitOK || !strings.Contains(out, "age, median [Q1, Q3]") {
		t.Errorf("summary without --bins: exit %d\n%s%s", code, out, errOut)
	}
}

// TestSameCoxTableAsApp: the cox text output lists the shared model's rows as the desktop's
// hazard-ratio table does (ui's TestSameCoxTableAsCLI), with p = 0.0496 kept below 0.05.
func TestSameCoxTableAsApp(t *testing.T) {
	r := reporttest.CoxResult()
	var out bytes.Buffer
	if err := writeCox(&out, "text", r, r.Request.Cox, "site", report.Names{From: reporttest.CoxStudy()}, modelExtras{}); err != nil {
		t.Fatal(err)
	}
	var labels []string
	rows := false
	for _, line := range strings.Split(out.String(), "\n") {
		switch {
		case strings.HasPrefix(line, "TERM"):
			rows = true
		case rows && (line == "" || strings.HasPrefix(line, "likelihood ratio")):
			rows = false
		case rows:
			labels = append(labels, strings.TrimSpace(regexp.MustCompile(`\s{2,}.*$`).ReplaceAllString(line, "")))
		}
	}
	if !slices.Equal(labels, reporttest.WantCoxLabels) {
		t.Errorf("rows\n%q, want the app's\n%q\n%s", labels, reporttest.WantCoxLabels, out.String())
	}
	if !strings.Contains(out.String(), "0.0496") || strings.Contains(out.String(), " 0.05\n") {
		t.Errorf("p-values:\n%s", out.String())
	}
}
