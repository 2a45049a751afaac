package ui

import (
	"encoding/json"
	"errors"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/driver/desktop"
	"fyne.io/fyne/v2/storage"
	"fyne.io/fyne/v2/test"
	"fyne.io/fyne/v2/widget"

	"github.com/oncofed/oncofed/app"
	"github.com/oncofed/oncofed/chart"
	"github.com/oncofed/oncofed/protocol"
	"github.com/oncofed/oncofed/report"
)

// oneSiteSummary is a site's summary of 100 patients, min cell 5, whose suppressed cells are
// not all primary: the histogram's exact cells add up to 90, so its two suppressed cells hold
// 10 between them, each 1..9; ecog's suppressed level (0..9: it may be empty) and missing
// (1..10) likewise.
const oneSiteSummary = `{"groups":[{"group":"","n":{"n":100},"variables":[
{"variable":"age","missing":{"n":0},"n":{"n":100},"sum":5900,"sum_sq":352000,"edges":[40,50,60,70],
 "histogram":[{"n":0},{"n":0,"suppressed":true},{"n":40},{"n":50},{"n":0,"suppressed":true}]},
{"variable":"ecog","missing":{"n":0,"suppressed":true},"categories":{"0":{"n":30},"1":{"n":60},"2":{"n":0,"suppressed":true}}}]}]}`

// TestSummaryFigureBounds: the Summary tab's bars and histogram show a suppressed cell with the
// bounds Table 1 gives it (here 1..9, from the site's total), not as "<5": a secondarily
// suppressed cell can hold more than min cell − 1 patients.
func TestSummaryFigureBounds(t *testing.T) {
	var s protocol.SummaryReply
	if err := json.Unmarshal([]byte(oneSiteSummary), &s); err != nil {
		t.Fatal(err)
	}
	r := &app.Result{Request: app.Request{Kind: protocol.KindSummary, Study: "nsclc", Variables: []string{"age", "ecog"}},
		Rounds: []app.Round{{Replies: []protocol.Reply{{Site: "a", Summary: &s, Policy: protocol.PolicyEffects{MinCell: 5, MinCohort: 10}}}}}}
	if err := app.Render(r); err != nil {
		t.Fatal(err)
	}

	h, ok := SummaryFigure(r, "age", chart.PresentationStyle(), "Cohort: all.").(*chart.Histogram)
	if !ok {
		t.Fatal("age: no histogram")
	}
	if sr := h.Series[0]; sr.Name != "All patients" || !slices.Equal(sr.Counts, []float64{1, 40, 50}) || !slices.Equal(sr.Max, []float64{9, 40, 50}) ||
		!slices.Equal(sr.Labels, []string{"<10", "", ""}) {
		t.Errorf("age series %+v, want [1–9, 40, 50], the first labelled <10", sr)
	}
	if want := "Outside the axis: All patients 0 below 40 and <10 at or above 70. Cohort: all."; h.Footnote != want {
		t.Errorf("footnote %q, want %q", h.Footnote, want)
	}

	b, ok := SummaryFigure(r, "ecog", chart.PresentationStyle(), "").(*chart.BarChart)
	if !ok {
		t.Fatal("ecog: no bars")
	}
	g := b.Groups[0]
	// A suppressed category may be empty (a node hides an absent category's zero like a rare
	// count): "2" is 0..9, and missing, at least 1, holds what "2" may leave, 1..10.
	if !slices.Equal(b.Categories, []string{"0", "1", "2", "missing"}) || !slices.Equal(g.Values, []float64{30, 60, 0, 1}) ||
		!slices.Equal(g.Max, []float64{30, 60, 9, 10}) || !slices.Equal(g.Labels, []string{"30", "60", "<10", "<11"}) {
		t.Errorf("ecog bars %q: %+v", b.Categories, g)
	}
	for _, fig := range []chart.Figure{h, b} {
		if _, err := chart.Image(fig, 800, 500); err != nil {
			t.Error(err)
		}
	}
	if SummaryFigure(r, "karno", chart.PresentationStyle(), "") != nil {
		t.Error("a variable not in the summary has a figure")
	}
}

// TestPinnedActionsWithoutPins: Present and Export deck with nothing pinned say what to pin,
// each in its own words, and open no presentation.
func TestPinnedActionsWithoutPins(t *testing.T) {
	f := startApp(t)
	a := f.ui
	for _, c := range []struct {
		do   func()
		want string
	}{
		{a.library.onPresent, "each pinned figure is a slide"},
		{a.library.onExportDeck, "each pinned figure is a page"},
	} {
		c.do()
		var shown []string
		f.loop.until(t, "the dialog", func() bool {
			shown = nil
			if top := a.win.Canvas().Overlays().Top(); top != nil {
				for _, o := range test.LaidOutObjects(top) {
					if l, ok := o.(*widget.Label); ok {
						shown = append(shown, l.Text)
					}
				}
			}
			return contains(shown, c.want)
		})
		a.win.Canvas().Overlays().Remove(a.win.Canvas().Overlays().Top())
	}
}

// An export is confirmed in the header with the file's name once it is written, and the
// confirmation goes away by itself (walkthrough: nothing said the export had worked).
func TestExportIsConfirmed(t *testing.T) {
	f := startApp(t)
	a := f.ui
	path := filepath.Join(t.TempDir(), "kaplan-meier-nsclc.png")
	wc, err := storage.Writer(storage.NewFileURI(path))
	if err != nil {
		t.Fatal(err)
	}
	a.writeExport(wc, func(w io.Writer) error { _, err := io.WriteString(w, "figure"); return err })
	f.loop.until(t, "the confirmation", func() bool { return a.header.notice.Text != "" })
	if got := a.header.notice.Text; got != "✓ Saved kaplan-meier-nsclc.png" {
		t.Errorf("confirmation %q", got)
	}
	if b, err := os.ReadFile(path); err != nil || string(b) != "figure" {
		t.Errorf("file holds %q (%v)", b, err)
	}
	// A failed write is an error, not a confirmation.
	a.header.notice.SetText("")
	wc, err = storage.Writer(storage.NewFileURI(filepath.Join(t.TempDir(), "x.png")))
	if err != nil {
		t.Fatal(err)
	}
	a.writeExport(wc, func(io.Writer) error { return errors.New("disk full") })
	f.loop.until(t, "the error", func() bool { return a.win.Canvas().Overlays().Top() != nil })
	if a.header.notice.Text != "" {
		t.Errorf("a failed export was confirmed: %q", a.header.notice.Text)
	}
}

// Table 1 of an ungrouped cohort has one value column and no SMD column; every column is
// wide enough for its cells; the chart can be put away so the table has the whole tab.
func TestTable1Readable(t *testing.T) {
	f := startApp(t)
	a := f.ui
	a.runAnalyses()
	f.loop.until(t, "Table 1", func() bool { return a.summary.result != nil })
	s := a.summary
	rows, cols := s.size()
	if cols != 2 || s.header(1) != "All patients" {
		t.Errorf("ungrouped Table 1 has %d columns (%q, %q)", cols, s.header(1), s.header(2))
	}
	if len(s.widths) != cols {
		t.Fatalf("%d column widths for %d columns", len(s.widths), cols)
	}
	for c := 0; c < cols; c++ {
		for r := 0; r < rows; r++ {
			if need := measureCell(s.Cell(r, c), c == 0); need > s.widths[c] && s.widths[c] < maxColumnWidth {
				t.Errorf("cell %q needs %.0f px, its column has %.0f", s.Cell(r, c), need, s.widths[c])
			}
		}
	}
	s.chartOn.SetChecked(false)
	if !s.chartVar.Disabled() {
		t.Error("the chart's variable stays selectable with the chart put away")
	}
	s.chartOn.SetChecked(true)
	if s.chartVar.Disabled() {
		t.Error("the chart did not come back")
	}
}

// Grouped, Table 1 has the groups, the overall column and the SMD.
func TestTable1GroupedHasSMD(t *testing.T) {
	f := startApp(t)
	a := f.ui
	before := a.cohort.feas
	a.cohort.groupBy.SetSelected("sex")
	f.loop.until(t, "feasibility by sex", func() bool { return a.cohort.feas != before })
	a.runAnalyses()
	f.loop.until(t, "Table 1 by sex", func() bool { return a.summary.result != nil })
	if _, cols := a.summary.size(); cols != 5 || a.summary.header(4) != "SMD" {
		t.Errorf("Table 1 by sex has %d columns, last %q", cols, a.summary.header(cols-1))
	}
}

// The Kaplan–Meier figure, on screen and exported, is titled in words: the endpoint's label,
// the grouping variable's label and the study's title, then the cohort.
func TestKMFigureTitledInWords(t *testing.T) {
	f := startApp(t)
	a := f.ui
	before := a.cohort.feas
	a.cohort.groupBy.SetSelected("sex")
	f.loop.until(t, "feasibility by sex", func() bool { return a.cohort.feas != before })
	a.runAnalyses()
	f.loop.until(t, "the Kaplan–Meier result", func() bool { return a.survival.result != nil })
	r, opts, style := a.survival.shown()
	st := a.currentStudy()
	want := report.KMTitle(r, report.Names{From: st})
	if got := a.survival.kmFigure(r, opts, style, "").Title; got != want || !strings.Contains(got, st.Title) {
		t.Errorf("title %q, want %q (with the study's title %q)", got, want, st.Title)
	}
}

// Moving the pointer over the Kaplan–Meier figure reads each group's S(t) with its CI at the
// time under it; leaving the figure (or pointing at the margin) hides the readout.
func TestKMHoverReadsSurvival(t *testing.T) {
	f := startApp(t)
	a := f.ui
	a.cohort.groupBy.SetSelected("sex")
	test.Tap(a.cohort.run)
	fv := a.survival.figure
	f.loop.until(t, "the KM figure", func() bool { return fv.Image() != nil && fv.drawn != nil })
	box := fv.imageBox()
	fv.MouseMoved(&desktop.MouseEvent{PointEvent: fyne.PointEvent{Position: fyne.NewPos(box.X+box.Width*0.45, box.Y+box.Height*0.3)}})
	got := fv.read.Text
	if !fv.readPanel.Visible() || !strings.Contains(got, " months · female ") || !strings.Contains(got, " · male ") || !strings.Contains(got, "% (") {
		t.Fatalf("readout %q (shown %v)", got, fv.readPanel.Visible())
	}
	fv.MouseMoved(&desktop.MouseEvent{PointEvent: fyne.PointEvent{Position: fyne.NewPos(box.X+2, box.Y+2)}})
	if fv.readPanel.Visible() {
		t.Errorf("the readout stays in the figure's margin: %q", fv.read.Text)
	}
	fv.MouseIn(&desktop.MouseEvent{PointEvent: fyne.PointEvent{Position: fyne.NewPos(box.X+box.Width*0.45, box.Y+box.Height*0.3)}})
	fv.MouseOut()
	if fv.readPanel.Visible() {
		t.Error("the readout stays after the pointer left")
	}
}
