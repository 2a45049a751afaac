package ui

import (
	"context"
	"io"
	"strings"
	"time"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/dialog"
	"fyne.io/fyne/v2/theme"
	"fyne.io/fyne/v2/widget"

	"github.com/oncofed/oncofed/app"
	"github.com/oncofed/oncofed/chart"
	"github.com/oncofed/oncofed/protocol"
	"github.com/oncofed/oncofed/report"
)

// summaryTab shows the cohort's Table 1: baseline characteristics by group, pooled or per
// site, with export to CSV and Markdown.
type summaryTab struct {
	host    resultHost
	content fyne.CanvasObject

	view    *widget.RadioGroup
	export  *widget.Select
	table   *widget.Table
	notes   *widget.Label
	privacy *widget.Label
	status  *widget.Label
	chartOn *widget.Check // the chart under the table, or the table alone

	chartVar *widget.Select
	figure   *figureView

	result  *app.Result
	perSite bool
	shown   table1View
	widths  []float32 // the columns' widths as set
}

func newSummaryTab(host resultHost, do func(func())) *summaryTab {
	t := &summaryTab{host: host}
	t.view = widget.NewRadioGroup([]string{"Pooled", "Per site"}, func(string) { t.refresh() })
	t.view.Horizontal = true
	t.view.Selected = "Pooled"
	t.export = widget.NewSelect([]string{"CSV", "Markdown", table1Word}, func(s string) {
		if s == "" {
			return
		}
		t.export.ClearSelected()
		t.exportAs(s)
	})
	t.export.PlaceHolder = "Export…"
	t.table = widget.NewTableWithHeaders(t.size, func() fyne.CanvasObject {
		l := widget.NewLabel("")
		l.Truncation = fyne.TextTruncateEllipsis
		return l
	}, t.cell)
	t.table.ShowHeaderColumn = false
	t.table.CreateHeader = func() fyne.CanvasObject {
		return widget.NewLabelWithStyle("", fyne.TextAlignLeading, fyne.TextStyle{Bold: true})
	}
	t.table.UpdateHeader = func(id widget.TableCellID, o fyne.CanvasObject) {
		o.(*widget.Label).SetText(t.header(id.Col))
	}
	t.table.StickyColumnCount = 1
	t.notes = widget.NewLabel("")
	t.notes.Wrapping = fyne.TextWrapWord
	t.notes.SizeName = theme.SizeNameCaptionText
	t.privacy = widget.NewLabel("")
	t.privacy.Wrapping = fyne.TextWrapWord
	t.privacy.SizeName = theme.SizeNameCaptionText
	t.status = widget.NewLabel("Build a cohort on the left and press Run to see its Table 1.")
	t.status.Wrapping = fyne.TextWrapWord
	t.chartVar = widget.NewSelect(nil, func(string) { t.redrawChart() })
	t.chartVar.PlaceHolder = "(variable)"
	t.figure = newFigureView(do, "Bars and histograms of the cohort's variables appear here after a run.")
	split := container.NewVSplit(t.table, t.figure)
	split.Offset = 0.55
	body := container.NewStack(split)
	// The chart can be put away so that the table has the whole tab (a long Table 1).
	t.chartOn = widget.NewCheck("Chart of", func(on bool) {
		if on {
			body.Objects = []fyne.CanvasObject{split}
			t.chartVar.Enable()
		} else {
			body.Objects = []fyne.CanvasObject{t.table}
			t.chartVar.Disable()
		}
		split.Refresh()
		body.Refresh()
	})
	t.chartOn.Checked = true
	bar := newToolbar(1, container.NewHBox(widget.NewLabel("Table 1"), t.view), container.NewHBox(t.chartOn, t.chartVar), t.export)
	t.content = container.NewBorder(container.NewVBox(bar, t.status), container.NewVBox(t.notes, t.privacy), nil, nil, body)
	return t
}

// summaryRequest is the Table 1 request for the cohort: every variable of the study but the
// grouping one, numeric ones binned on fixed edges (report.SummaryBins, as the CLI) so medians
// and quartiles can be estimated.
func (a *App) summaryRequest() app.Request {
	req := a.cohort.Request(protocol.KindSummary)
	req.Endpoint = ""
	st := a.currentStudy()
	if st == nil {
		return req
	}
	for _, v := range st.Variables {
		if v.Name == req.GroupBy || len(v.TypeConflict) > 0 {
			continue
		}
		req.Variables = append(req.Variables, v.Name)
	}
	req.Bins = report.SummaryBins(st, req.Variables, nil)
	req.Discrete = report.Discrete(st, req.Bins)
	return req
}

func (t *summaryTab) run(ctx context.Context, gen int, req app.Request) {
	if len(req.Variables) == 0 {
		t.status.SetText("This study has no variables to summarize.")
		return
	}
	t.status.SetText("Computing Table 1 from the sites' summaries…")
	t.status.Show()
	t.host.runService(ctx, gen, req, func(r *app.Result, err error) {
		if err != nil {
			t.status.SetText("No Table 1. " + ErrorText(err))
			t.status.Show()
			return
		}
		t.show(r)
		t.host.onRunPart(gen, r)
	})
}

// show displays a summary result.
func (t *summaryTab) show(r *app.Result) {
	if r == nil || r.Summary == nil {
		return
	}
	t.result = r
	if r.Cached {
		t.status.SetText("Shown from the cache: " + app.AsOf(t.host.now(), &r.Provenance) + ".")
		t.status.Show()
	} else {
		t.status.Hide()
	}
	t.privacy.SetText(report.PrivacyLine(r, t.host.now()))
	var names []string
	first := ""
	for _, v := range r.Summary.Table.Variables {
		names = append(names, v.Name)
		if first == "" && !v.Numeric {
			first = v.Name
		}
	}
	t.chartVar.Options = names
	if t.chartVar.Selected == "" || !containsExact(names, t.chartVar.Selected) {
		t.chartVar.Selected = first
	}
	t.chartVar.Refresh()
	t.refresh()
	t.redrawChart()
}

// redrawChart draws the chosen variable as bars or a histogram per group.
func (t *summaryTab) redrawChart() {
	if t.result == nil || t.chartVar.Selected == "" {
		return
	}
	r, name, style := t.result, t.chartVar.Selected, t.host.chartStyle()
	if SummaryFigure(r, name, style, "") == nil {
		t.figure.SetFigure(nil, "No chart for "+name+": it has no histogram edges.")
		return
	}
	t.figure.SetFigure(func() chart.Figure { return SummaryFigure(r, name, style, "") }, "")
}

func containsExact(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

func (t *summaryTab) refresh() {
	if t.result == nil {
		return
	}
	t.perSite = t.view.Selected == "Per site"
	t.shown = t.makeView()
	tb := t.shown
	t.notes.SetText(strings.Join(tb.Notes, "\n"))
	// Each column as wide as its widest text (within bounds), so that no cell is cut off.
	_, cols := t.size()
	t.widths = t.widths[:0]
	for c := 0; c < cols; c++ {
		w := measureCell(t.header(c), true)
		for r := range tb.Rows {
			w = max(w, measureCell(t.Cell(r, c), c == 0))
		}
		t.widths = append(t.widths, min(max(w, 60), maxColumnWidth))
		t.table.SetColumnWidth(c, t.widths[c])
	}
	t.table.Refresh()
}

// maxColumnWidth caps a Table 1 column; a longer cell ends in "…".
const maxColumnWidth = 360

// measureCell is the width a table cell needs to show s in full: a label's own minimum (text
// and inner padding) and the table's padding around it.
func measureCell(s string, bold bool) float32 {
	size := fyne.MeasureText(s, theme.TextSize(), fyne.TextStyle{Bold: bold})
	return size.Width + 2*theme.InnerPadding() + 4*theme.Padding()
}

// table1View is the Table 1 on show, pooled or per site, as text.
type table1View struct {
	Columns []string
	Rows    []table1Row
	Notes   []string
	SMD     bool // an SMD column (two groups or more)
}

type table1Row struct {
	Label, SMD string
	Cells      []string
}

// shownTable is the Table 1 on show (pooled or per site); the zero table before a result.
func (t *summaryTab) shownTable() table1View { return t.shown }

func (t *summaryTab) makeView() table1View {
	var tb table1View
	if t.result == nil || t.result.Summary == nil {
		return tb
	}
	src := t.result.Summary.Table
	if t.perSite {
		src = t.result.Summary.BySite
	}
	src, tb.SMD = report.Table1(src)
	tb.Columns, tb.Notes = src.Columns, src.Notes
	for _, r := range src.Rows {
		tb.Rows = append(tb.Rows, table1Row{r.Label, r.SMD, r.Cells})
	}
	return tb
}

func (t *summaryTab) size() (int, int) {
	if t.result == nil {
		return 0, 0
	}
	tb := t.shownTable()
	if tb.SMD {
		return len(tb.Rows), len(tb.Columns) + 2
	}
	return len(tb.Rows), len(tb.Columns) + 1
}

func (t *summaryTab) header(col int) string {
	if t.result == nil {
		return ""
	}
	tb := t.shownTable()
	switch {
	case col == 0:
		return "Variable"
	case col <= len(tb.Columns):
		return tb.Columns[col-1] // report.Table1 names an ungrouped column
	}
	return "SMD"
}

// Cell returns the text of a body cell (tests).
func (t *summaryTab) Cell(row, col int) string {
	tb := t.shownTable()
	if row >= len(tb.Rows) {
		return ""
	}
	r := tb.Rows[row]
	switch {
	case col == 0:
		return r.Label
	case col <= len(r.Cells):
		return r.Cells[col-1]
	}
	return r.SMD
}

func (t *summaryTab) cell(id widget.TableCellID, o fyne.CanvasObject) {
	l := o.(*widget.Label)
	// The style first: SetText redraws, and a recycled cell would keep another row's weight.
	l.TextStyle.Bold = id.Col == 0 && !strings.HasPrefix(t.Cell(id.Row, 0), " ")
	l.SetText(t.Cell(id.Row, id.Col))
}

func (t *summaryTab) exportAs(format string) {
	if t.result == nil || t.result.Summary == nil {
		dialog.ShowInformation("Export", "Run an analysis first: there is no Table 1 to export.", t.host.window())
		return
	}
	r, perSite, now := t.result, t.perSite, t.host.now()
	ext := ".csv"
	switch format {
	case "Markdown":
		ext = ".md"
	case table1Word:
		ext = ".docx"
	}
	t.host.saveFile("table1-"+r.Request.Study+ext, func(w io.Writer) error { return WriteTable1(w, r, perSite, format, now) })
}

// table1Word is the export format of a Word document.
const table1Word = "Word (.docx)"

// WriteTable1 writes the Table 1 of r (pooled, or per site) in the export format chosen
// ("CSV", "Markdown" or table1Word): report.WriteTable1.
func WriteTable1(w io.Writer, r *app.Result, perSite bool, format string, now time.Time) error {
	tb := r.Summary.Table
	if perSite {
		tb = r.Summary.BySite
	}
	return report.WriteTable1(w, r, tb, map[string]string{"Markdown": report.Table1Markdown, table1Word: report.Table1Docx}[format], now)
}

// clear empties the tab (a new study was chosen).
func (t *summaryTab) clear() {
	t.result = nil
	t.shown = table1View{}
	t.table.Refresh()
	t.notes.SetText("")
	t.privacy.SetText("")
	t.chartVar.Options, t.chartVar.Selected = nil, ""
	t.chartVar.Refresh()
	t.figure.SetFigure(nil, "Bars and histograms of the cohort's variables appear here after a run.")
	t.status.SetText("Build a cohort on the left and press Run to see its Table 1.")
	t.status.Show()
}
