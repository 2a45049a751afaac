package ui

import (
	"context"
	"fmt"
	"io"
	"slices"
	"strings"

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

const (
	modePrognostic = "Prognostic"
	modePredictive = "Predictive (× treatment)"
	sortP          = "p"
	sortQ          = "q"
	sortEffect     = "effect"
	sortMarker     = "marker"
)

// screenTab is the biomarker screen: one Cox model per candidate marker over the cohort,
// drawn as a volcano plot over a sortable table with p and q side by side; choosing a marker
// shows its per-site forest plot and offers its Kaplan–Meier curves.
type screenTab struct {
	host    screenHost
	svc     screenService
	do      func(func()) // posts the screen's progress to the UI goroutine
	content fyne.CanvasObject

	markers   *covariateList // by their labels
	adjust    *covariateList
	mode      *widget.RadioGroup
	treatment *variableSelect
	treated   *widget.Select
	ties      *widget.RadioGroup
	run       *widget.Button
	cancel    *widget.Button
	progress  *widget.ProgressBar
	status    *widget.Label
	sortBy    *widget.Select
	export    *widget.Select
	km        *widget.Button
	table     *widget.Table
	volcano   *figureView
	forest    *figureView
	figures   *container.AppTabs
	detail    *widget.Label

	result *app.ScreenResult
	rows   []report.ScreenRow
	chosen string // the marker drilled into
	stop   context.CancelFunc
}

// screenHost is what the Biomarkers tab needs from the window: the cohort and its study, work
// off the UI goroutine (a screen has its own progress and cancel, not the Run's), the means to
// show and save, and the window's other tabs: the Library's re-run puts its cohort back on the
// panel and says what changed, and a marker's Kaplan–Meier curves are a Run grouped by it.
type screenHost interface {
	Offline() bool
	currentStudy() *app.Study
	cohortRequest(kind protocol.Kind) app.Request
	context() context.Context
	goWork(work func() func())
	chartStyle() chart.Style
	names() report.Names
	window() fyne.Window
	saveFile(name string, write func(io.Writer) error)
	selectTab(name string)
	loadRequest(req app.Request)
	libraryChanged()
	showChanges(r *app.Result, ch *app.Changes)
	runGroupedBy(variable string)
}

// screenService is the part of the service the Biomarkers tab calls: a screen, and the re-run
// of a stored one.
type screenService interface {
	Screen(ctx context.Context, req app.ScreenRequest, progress app.ScreenProgress) (*app.ScreenResult, error)
	RerunScreen(ctx context.Context, id int64, progress app.ScreenProgress) (*app.Result, *app.Changes, error)
}

func newScreenTab(host screenHost, svc screenService, do func(func())) *screenTab {
	t := &screenTab{host: host, svc: svc, do: do}
	label := func(v string) string { return host.names().Variable(v) }
	t.markers = newCovariateList(label, nil)
	t.adjust = newCovariateList(label, nil)
	t.treatment = newVariableSelect("treatment variable", func(string) { t.onTreatment() })
	t.treated = widget.NewSelect(nil, nil)
	t.treated.PlaceHolder = "treated level"
	t.mode = widget.NewRadioGroup([]string{modePrognostic, modePredictive}, func(string) { t.onMode() })
	t.mode.Selected = modePrognostic
	t.mode.Required = true
	t.ties = widget.NewRadioGroup([]string{"Efron", "Breslow"}, nil)
	t.ties.Horizontal = true
	t.ties.Selected = "Efron"
	t.ties.Required = true
	t.run = widget.NewButtonWithIcon("Run screen", theme.MediaPlayIcon(), t.onRun)
	t.run.Importance = widget.HighImportance
	t.cancel = widget.NewButtonWithIcon("Cancel", theme.CancelIcon(), t.onCancel)
	t.cancel.Hide()
	t.progress = widget.NewProgressBar()
	t.progress.Hide()
	t.status = widget.NewLabel("")
	t.status.Wrapping = fyne.TextWrapWord
	t.status.Hide()
	t.sortBy = widget.NewSelect([]string{sortP, sortQ, sortEffect, sortMarker}, func(string) { t.showTable() })
	t.sortBy.Selected = sortP
	t.export = widget.NewSelect([]string{"CSV", "Volcano PNG", "Volcano SVG", "Volcano PDF", "Forest PNG"}, func(s string) {
		if s == "" {
			return
		}
		t.export.ClearSelected()
		t.exportAs(s)
	})
	t.export.PlaceHolder = "Export…"
	t.km = widget.NewButtonWithIcon("Kaplan–Meier", theme.NavigateNextIcon(), t.onKM)
	t.km.Disable()
	t.volcano = newFigureView(do, "Choose markers and press Run screen: one Cox model per marker, over every site.")
	t.forest = newFigureView(do, "Choose a marker in the table to see its effect at each site.")
	t.detail = widget.NewLabel("")
	t.detail.Wrapping = fyne.TextWrapWord
	t.table = t.newTable()

	selectAll := widget.NewButton("All", func() { t.markers.SetSelected(t.markers.Options) })
	selectNone := widget.NewButton("None", func() { t.markers.SetSelected(nil) })
	// The markers and the adjusters are long lists (a panel has dozens): one open at a time.
	lists := widget.NewAccordion(
		widget.NewAccordionItem("Markers", container.NewVBox(container.NewHBox(selectAll, selectNone), t.markers)),
		widget.NewAccordionItem("Adjust for", t.adjust))
	lists.Open(0)
	left := container.NewVBox(
		widget.NewLabelWithStyle("Mode", fyne.TextAlignLeading, fyne.TextStyle{Bold: true}), t.mode,
		t.treatment.Select, t.treated,
		widget.NewLabelWithStyle("Ties", fyne.TextAlignLeading, fyne.TextStyle{Bold: true}), t.ties,
		lists,
	)
	run := container.NewVBox(t.run, t.cancel, t.progress)
	sortBox := container.NewHBox(widget.NewLabel("Sort by"), t.sortBy)
	bar := newToolbar(1, widget.NewLabel("Biomarker screen (stratified by site)"), sortBox, t.km, t.export)
	t.figures = container.NewAppTabs(
		container.NewTabItem("Volcano", t.volcano),
		container.NewTabItem("Marker by site", container.NewBorder(nil, t.detail, nil, nil, t.forest)))
	body := container.NewVSplit(t.figures, t.table)
	body.Offset = 0.55
	right := container.NewBorder(container.NewVBox(bar, capHeight(t.status, 3)), nil, nil, nil, body)
	split := container.NewHSplit(container.NewBorder(nil, run, nil, nil, container.NewVScroll(left)), right)
	split.Offset = 0.24
	t.content = split
	t.onMode()
	return t
}

// newTable is the screen's table: a row per marker with p and q side by side; a click on a row
// drills into its marker.
func (t *screenTab) newTable() *widget.Table {
	table := widget.NewTable(t.tableSize, t.newCell, t.updateCell)
	table.ShowHeaderRow = true
	table.CreateHeader = func() fyne.CanvasObject {
		return widget.NewLabelWithStyle("", fyne.TextAlignLeading, fyne.TextStyle{Bold: true})
	}
	table.UpdateHeader = func(id widget.TableCellID, o fyne.CanvasObject) {
		if id.Col >= 0 && id.Col < len(report.ScreenColumns) {
			o.(*widget.Label).SetText(report.ScreenColumns[id.Col])
		}
	}
	for col, w := range []float32{110, 170, 200, 60, 35, 70, 70, 60, 60, 50, 55, 320} {
		table.SetColumnWidth(col, w)
	}
	table.OnSelected = func(id widget.TableCellID) {
		if id.Row >= 0 && id.Row < len(t.rows) {
			t.choose(t.rows[id.Row].Marker)
			t.figures.SelectIndex(1) // a click asks for the marker's detail
		}
	}
	return table
}

// setStudy offers the study's variables as markers, adjusters and the treatment.
func (t *screenTab) setStudy(st *app.Study) {
	all, cats := studyVariables(st)
	t.markers.Options, t.markers.Selected = all, nil
	t.markers.Refresh()
	t.adjust.Options, t.adjust.Selected = all, nil
	t.adjust.Refresh()
	t.treatment.SetNames(cats, report.Names{From: st}.Variable)
	if slices.Contains(cats, "treatment") {
		t.treatment.SetName("treatment") // the usual name: its levels are then offered
	}
	t.clear()
}

// clear forgets the shown screen (the study changed).
func (t *screenTab) clear() {
	t.result, t.rows, t.chosen = nil, nil, ""
	t.table.Refresh()
	t.volcano.SetFigure(nil, "Choose markers and press Run screen: one Cox model per marker, over every site.")
	t.forest.SetFigure(nil, "Choose a marker in the table to see its effect at each site.")
	t.detail.SetText("")
	t.km.Disable()
}

func (t *screenTab) onMode() {
	if t.mode.Selected == modePredictive {
		t.treatment.Enable()
		t.treated.Enable()
	} else {
		t.treatment.Disable()
		t.treated.Disable()
	}
}

func (t *screenTab) onTreatment() {
	st := t.host.currentStudy()
	if st == nil {
		return
	}
	if v := st.Variable(t.treatment.Name()); v != nil {
		t.treated.SetOptions(v.Categories)
		t.treated.ClearSelected()
	}
}

// load sets the tab's choices to the screen req (its cohort and endpoint are the panel's).
func (t *screenTab) load(req app.ScreenRequest) {
	t.markers.SetSelected(slices.Clone(req.Markers))
	t.adjust.SetSelected(slices.Clone(req.Adjust))
	if req.Treatment != "" {
		t.mode.SetSelected(modePredictive)
		t.treatment.SetName(req.Treatment)
		t.treated.SetSelected(req.Treated)
	} else {
		t.mode.SetSelected(modePrognostic)
	}
	if req.Ties == "breslow" {
		t.ties.SetSelected("Breslow")
	} else {
		t.ties.SetSelected("Efron")
	}
}

// Request is the screen the tab's choices ask for, on the cohort panel's cohort.
func (t *screenTab) Request() app.ScreenRequest {
	cr := t.host.cohortRequest(protocol.KindCox)
	req := app.ScreenRequest{Study: cr.Study, CohortName: cr.CohortName, Cohort: cr.Cohort, Endpoint: cr.Endpoint,
		Ties: strings.ToLower(t.ties.Selected), Form: protocol.CoxStratified}
	for _, m := range t.markers.Selected {
		if !slices.Contains(t.adjust.Selected, m) && !(t.mode.Selected == modePredictive && m == t.treatment.Name()) {
			req.Markers = append(req.Markers, m)
		}
	}
	req.Adjust = append(req.Adjust, t.adjust.Selected...)
	if t.mode.Selected == modePredictive {
		req.Treatment, req.Treated = t.treatment.Name(), t.treated.Selected
	}
	return req
}

func (t *screenTab) setStatus(s string) { showStatus(t.status, s) }

func (t *screenTab) onRun() {
	if t.host.Offline() {
		t.setStatus("Offline: a screen needs the sites (one Cox model per marker).")
		return
	}
	req := t.Request()
	switch {
	case len(req.Markers) == 0:
		t.setStatus("Choose at least one marker (not also an adjuster or the treatment).")
		return
	case t.mode.Selected == modePredictive && (req.Treatment == "" || req.Treated == ""):
		t.setStatus("Predictive mode: choose the treatment variable and its treated level.")
		return
	}
	t.start(len(req.Markers), fmt.Sprintf("Screening %d markers: one Cox model each, every site answering every round…", len(req.Markers)), func(ctx context.Context, progress app.ScreenProgress) (*app.ScreenResult, func(), error) {
		res, err := t.svc.Screen(ctx, req, progress)
		return res, nil, err
	})
}

// start runs a screen of total markers (0: not known yet) off the UI goroutine with progress
// and cancel, saying status meanwhile: run screens (telling progress), its result is shown,
// then then (when not nil) is called on the UI goroutine.
func (t *screenTab) start(total int, status string, run func(ctx context.Context, progress app.ScreenProgress) (res *app.ScreenResult, then func(), err error)) {
	ctx, cancel := context.WithCancel(t.host.context())
	t.stop = cancel
	t.run.Disable()
	t.cancel.Show()
	t.progress.Max = float64(total)
	t.progress.SetValue(0)
	t.progress.Show()
	t.setStatus(status)
	do := t.do
	t.host.goWork(func() func() {
		res, then, err := run(ctx, func(done, total int, marker string) {
			do(func() {
				t.progress.Max = float64(total)
				t.progress.SetValue(float64(done))
				t.setStatus(fmt.Sprintf("Screened %d of %d markers (last: %s)…", done, total, marker))
			})
		})
		return func() {
			cancel()
			t.run.Enable()
			t.cancel.Hide()
			t.progress.Hide()
			switch {
			case err != nil && ctx.Err() != nil:
				t.setStatus("Screen cancelled.")
			case err != nil:
				t.setStatus("No screen. " + ErrorText(err))
			default:
				if then != nil {
					then() // before show: it may load another study, which clears the tab
				}
				t.show(res)
			}
		}
	})
}

// rerun runs the stored screen id again with its stored definition (the Library's re-run):
// on this tab, with progress and cancel; the new screen is stored under the old one's name
// and shown with what changed since.
func (t *screenTab) rerun(id int64, name string) {
	t.host.selectTab(TabScreen)
	if t.host.Offline() {
		t.setStatus("Offline: a stored screen is re-run once the network is back (every site fits every marker's model again); the stored screen still opens from the Library.")
		return
	}
	t.start(0, "Re-running “"+name+"” with its stored definition…", func(ctx context.Context, progress app.ScreenProgress) (*app.ScreenResult, func(), error) {
		r, ch, err := t.svc.RerunScreen(ctx, id, progress)
		if err != nil {
			return nil, nil, err
		}
		return r.Screen, func() {
			t.host.loadRequest(r.Request)
			t.load(r.Screen.Request)
			t.host.libraryChanged()
			t.host.showChanges(r, ch)
		}, nil
	})
}

func (t *screenTab) onCancel() {
	if t.stop != nil {
		t.stop()
	}
}

// show displays a screen: the volcano, the table, and the first significant marker.
func (t *screenTab) show(r *app.ScreenResult) {
	t.result = r
	from := ""
	if r.Cached {
		from = " Offline: the stored screen."
	}
	t.setStatus(report.ScreenLine(r) + from + dpNote(report.ScreenDPLine(r)))
	style := t.host.chartStyle()
	if v := report.VolcanoFigure(r); v != nil {
		t.volcano.SetFigure(func() chart.Figure { v := report.VolcanoFigure(r); v.Style = style; return v }, "")
	} else {
		t.volcano.SetFigure(nil, "No marker could be estimated: see the table for why.")
	}
	t.showTable()
	if len(t.rows) > 0 {
		t.choose(t.rows[0].Marker)
	}
	t.figures.SelectIndex(0)
}

func (t *screenTab) showTable() {
	if t.result == nil {
		return
	}
	t.rows = report.ScreenTable(t.result)
	report.SortScreen(t.rows, t.sortBy.Selected)
	t.table.Refresh()
}

func (t *screenTab) tableSize() (int, int) { return len(t.rows), len(report.ScreenColumns) }

// newCell is a table cell: a multi-level marker's terms and estimates run longer than their
// column, so a cell ends in an ellipsis instead of running into the next (the marker's whole
// model is in the detail below when it is chosen).
func (t *screenTab) newCell() fyne.CanvasObject {
	l := widget.NewLabel("")
	l.Truncation = fyne.TextTruncateEllipsis
	return l
}

func (t *screenTab) updateCell(id widget.TableCellID, o fyne.CanvasObject) {
	l := o.(*widget.Label)
	if id.Row < len(t.rows) && id.Col < len(t.rows[id.Row].Cells) {
		l.TextStyle.Bold = t.rows[id.Row].Marker == t.chosen && id.Col == 0
		l.Text = t.rows[id.Row].Cells[id.Col]
		l.Refresh()
	}
}

// marker returns the screened marker called name.
func (t *screenTab) marker(name string) *app.MarkerResult {
	if t.result == nil {
		return nil
	}
	for i := range t.result.Markers {
		if t.result.Markers[i].Marker == name {
			return &t.result.Markers[i]
		}
	}
	return nil
}

// choose drills into a marker: its forest plot across the sites and its model in words.
func (t *screenTab) choose(name string) {
	m := t.marker(name)
	if m == nil {
		return
	}
	t.chosen = name
	t.table.Refresh()
	t.km.Enable()
	t.km.SetText("Kaplan–Meier by " + name)
	style := t.host.chartStyle()
	if f := report.MarkerForest(*m, 0); f != nil {
		t.forest.SetFigure(func() chart.Figure { f := report.MarkerForest(*m, 0); f.Style = style; return f }, "")
	} else {
		why := "fewer than two sites could estimate it alone"
		if !m.Estimable {
			why = "not estimable: " + m.Reason
		}
		t.forest.SetFigure(nil, name+": no per-site view ("+why+").")
	}
	t.detail.SetText(report.MarkerSites(*m))
}

// onKM shows the chosen marker's Kaplan–Meier curves: the cohort grouped by the marker on
// the Survival tab (in predictive mode, within the cohort as chosen: all arms together).
func (t *screenTab) onKM() {
	m := t.marker(t.chosen)
	st := t.host.currentStudy()
	if m == nil || st == nil {
		return
	}
	if v := st.Variable(m.Marker); v == nil || v.Type != protocol.Categorical {
		dialog.ShowInformation("Kaplan–Meier", m.Marker+" is numeric: Kaplan–Meier curves need groups (a categorical marker).", t.host.window())
		return
	}
	t.host.runGroupedBy(m.Marker)
}

func (t *screenTab) exportAs(what string) {
	r := t.result
	if r == nil {
		dialog.ShowInformation("Export", "Run a screen first.", t.host.window())
		return
	}
	switch what {
	case "CSV":
		t.host.saveFile("screen-"+r.Request.Study+".csv", func(w io.Writer) error {
			return report.WriteScreenCSV(w, report.ScreenTable(r), r.Release)
		})
	case "Forest PNG":
		m := t.marker(t.chosen)
		if m == nil {
			return
		}
		if f := report.MarkerForest(*m, 0); f != nil {
			t.host.saveFile("forest-"+m.Marker+".png", func(w io.Writer) error { return writeFigure(w, "png", f) })
		}
	default:
		format := strings.ToLower(strings.TrimPrefix(what, "Volcano "))
		if v := report.VolcanoFigure(r); v != nil {
			t.host.saveFile("volcano-"+r.Request.Study+"."+format, func(w io.Writer) error { return writeFigure(w, format, v) })
		}
	}
}

// dpNote is a differentially private screen's label after the status line ("" for an exact one).
func dpNote(line string) string {
	if line == "" {
		return ""
	}
	return " " + line
}
