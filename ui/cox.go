package ui

import (
	"context"
	"fmt"
	"io"
	"math"
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
	"github.com/oncofed/oncofed/report/format"
)

// coxTab fits a Cox model over the sites: covariates, ties, stratified by site or pooled; it
// shows the hazard ratios as a table and a forest plot.
type coxTab struct {
	host    coxHost
	svc     coxService
	content fyne.CanvasObject

	*modelBuilder // covariates, reference levels, ties, form
	fit           *widget.Button
	export        *widget.Select
	pin           *widget.Button
	table         *fyne.Container
	model         *widget.Label
	figure        *figureView
	privacy       *widget.Label
	status        *widget.Label
	result        *app.Result

	// The per-site view: the model fitted at each site alone (app.Service.SiteCox), one term's
	// log hazard ratios meta-analysed into a forest plot with I² and the Q test.
	view     *widget.Select
	random   *widget.Check
	meta     *widget.Label
	sites    *app.SiteCoxResult
	sitesFor *app.Result       // the result sites was fitted for
	terms    map[string]string // view option → term
	// The per-site fits in flight (a secondary job: it leaves the Run alone) and their result.
	sitesStop    context.CancelFunc
	sitesPending *app.Result

	zph *zphPanel // the proportional-hazards check under the table (coxzph.go)
}

// coxHost is what the Cox tab needs from the window: the cohort and its study (the model
// builder's), runs and secondary jobs, and the means to show, save and pin a result.
type coxHost interface {
	builderHost
	runHost
	viewHost
}

// coxService is the part of the service the Cox tab calls itself, about the model shown (the
// fit goes through the run): the per-site fits, the proportional-hazards check and the
// patients and events per level.
type coxService interface {
	SiteCox(ctx context.Context, r *app.Result) (*app.SiteCoxResult, error)
	CoxZPH(ctx context.Context, r *app.Result, transform string) (*app.ZPHResult, error)
	CoxLevelCounts(ctx context.Context, r *app.Result) (*app.LevelCounts, error)
}

const viewAllTerms = "All terms"

func newCoxTab(host coxHost, svc coxService, do func(func())) *coxTab {
	t := &coxTab{host: host, svc: svc, modelBuilder: newModelBuilder(host, formStratified)}
	t.fit = widget.NewButtonWithIcon("Fit model", theme.MediaPlayIcon(), t.onFit)
	t.fit.Importance = widget.HighImportance
	t.export = widget.NewSelect([]string{"PNG", "SVG", "PDF", hrTableCSV}, func(s string) {
		if s == "" {
			return
		}
		t.export.ClearSelected()
		t.exportAs(strings.ToLower(s))
	})
	t.export.PlaceHolder = "Export…"
	t.pin = widget.NewButtonWithIcon("Pin", theme.ContentAddIcon(), func() { t.host.pinResult(t.result, &app.Display{}) })
	t.pin.Disable()
	t.table = container.New(gridTable{cols: 4})
	t.model = widget.NewLabel("")
	t.model.Wrapping = fyne.TextWrapWord
	t.figure = newFigureView(do, "Choose covariates and press Fit model to see hazard ratios.")
	t.privacy = widget.NewLabel("")
	t.privacy.Wrapping = fyne.TextWrapWord
	t.privacy.SizeName = theme.SizeNameCaptionText
	t.status = widget.NewLabel("")
	t.status.Wrapping = fyne.TextWrapWord
	t.status.Hide()
	t.view = widget.NewSelect([]string{viewAllTerms}, func(string) { t.onView() })
	t.view.Selected = viewAllTerms
	t.view.Disable()
	t.random = widget.NewCheck("Random effects", func(bool) { t.onView() })
	t.random.Hide()
	t.meta = widget.NewLabel("")
	t.meta.Wrapping = fyne.TextWrapWord
	t.meta.Hide()
	t.zph = newZPHPanel(t)

	left := container.NewVBox(append(t.builderObjects(), t.fit)...)
	// The view names a term ("By site: sex: male vs female"): wide enough to read it.
	view := container.NewGridWrap(fyne.NewSize(230, t.view.MinSize().Height), t.view)
	bar := newToolbar(1, widget.NewLabel("Cox model of the endpoint"), t.random, view, t.pin, t.export)
	// The tables (hazard ratios, proportional hazards) scroll under the figure, so that a
	// model of many terms keeps every control within a 1024×700 window.
	tables := container.NewScroll(container.NewVBox(t.meta, t.table, t.zph.content, t.model, t.privacy))
	body := container.NewVSplit(t.figure, tables)
	body.Offset = 0.55
	right := container.NewBorder(container.NewVBox(bar, t.status), nil, nil, nil, body)
	split := container.NewHSplit(container.NewVScroll(left), right)
	split.Offset = 0.22
	t.content = split
	return t
}

// setStudy offers the study's variables as covariates.
func (t *coxTab) setStudy(st *app.Study) { t.offerStudy(st) }

// Request is the Cox request for the cohort and the choices on the tab.
func (t *coxTab) Request() app.Request { return t.request() }

func (t *coxTab) onFit() {
	fitModel(t.host, t.setStatus, "Offline: a Cox model needs the sites (one round per iteration). Cached fits open from the Library.",
		len(t.covariates.Selected), t.Request, "No Cox model. ", t.show)
}

// fitModel is the Fit button of a tab that fits a Cox model on the sites (Cox, Model): offline
// or without a covariate it says so in the tab's status; otherwise it runs the request and
// shows the fit, or the failure after failed.
func fitModel(a runHost, setStatus func(string), offline string, covariates int, request func() app.Request, failed string, show func(*app.Result)) {
	if a.Offline() {
		setStatus(offline)
		return
	}
	if covariates == 0 {
		setStatus("Choose at least one covariate.")
		return
	}
	ctx, gen := a.newRunContext()
	setStatus("Fitting: one round trip to every site per Newton–Raphson iteration…")
	a.runService(ctx, gen, request(), func(r *app.Result, err error) {
		if err != nil {
			setStatus(failed + ErrorText(err))
			return
		}
		show(r)
	})
}

func (t *coxTab) setStatus(s string) { showStatus(t.status, s) }

// show displays a Cox result.
func (t *coxTab) show(r *app.Result) {
	if r == nil || r.Cox == nil || r.Cox.Fit == nil {
		return
	}
	t.result = r
	t.stopSiteFits()
	t.setStatus("")
	if r.Cached {
		t.setStatus("Shown from the cache: " + app.AsOf(t.host.now(), &r.Provenance) + ".")
	}
	t.pin.Enable()
	fit := r.Cox.Fit
	t.zph.counts = nil
	t.fillTable(r)
	form := "stratified by site"
	switch r.Cox.Form {
	case protocol.CoxPooled:
		form = "pooled baseline"
	case protocol.CoxDPTables:
		form = "stratified by site, fitted on differentially private tables (the SEs leave out the noise, the p-values and intervals include it)"
	}
	test, t0 := "likelihood ratio test", fit.LRT
	if r.Cox.TestsWithheld != "" {
		test, t0 = "Wald test with the noise", fit.Wald
	}
	m := fmt.Sprintf("%s patients, %s events · %s ties, %s · %s %s on %d df · %d iterations",
		format.Thousands(fit.N), format.Thousands(fit.Events), r.Cox.Ties, form, test, format.PValue(t0.P), t0.DF, fit.Iterations)
	if ex := r.Cox.Excluded; ex.N > 0 || ex.Suppressed {
		m += fmt.Sprintf(" · %s patients left out for a missing covariate", FormatCount(ex))
	}
	if r.Cox.FitError != "" {
		m += "\n⚠ " + r.Cox.FitError
	}
	if len(r.Cox.NoiseSD) > 0 { // the SD itself stands in the table, beside each SE
		m += fmt.Sprintf("\nNoise SD: each coefficient's SD over %d simulated releases of the differentially private tables, which its SE leaves out and its p-value and interval include.", app.DPCoxNoiseReleases)
	}
	if r.Cox.TestsWithheld != "" {
		m += "\n" + r.Cox.TestsWithheld
	}
	for _, w := range fit.Warnings {
		m += "\n⚠ " + w
	}
	t.model.SetText(m)
	t.zph.show(r)
	t.privacy.SetText(report.PrivacyLine(r, t.host.now()))
	t.setViews(r)
	if t.view.Selected != viewAllTerms {
		t.onView()
		return
	}
	t.showTerms(r)
}

// fillTable writes the hazard-ratio table of r, with the patients and events per level when
// they were asked (zphPanel.counts), as "N (events)". A model fitted on differentially private
// tables shows each coefficient's SE with the release's noise SD beside it, "SE (noise SD)", in
// place of "coef (SE)" (the coefficient is the HR's log; the CSV export keeps it), so that the
// table still fits a 1024×700 window.
func (t *coxTab) fillTable(r *app.Result) {
	t.table.RemoveAll()
	counts := t.zph.counts
	rows := report.CoxRows(r, t.host.names())
	noisy := slices.ContainsFunc(rows, func(row report.CoxRow) bool { return !math.IsNaN(row.NoiseSD) })
	last := "coef (SE)"
	if noisy {
		last = "SE (noise SD)"
	}
	heads := []string{"Term", "HR (95% CI)", "p", last}
	if counts != nil { // next to the term, as in R's summaries: the HR's own columns may scroll
		heads = []string{"Term", "N (events)", "HR (95% CI)", "p", last}
	}
	t.table.Layout = gridTable{cols: len(heads)}
	for _, h := range heads {
		t.table.Add(widget.NewLabelWithStyle(h, fyne.TextAlignLeading, fyne.TextStyle{Bold: true}))
	}
	for _, row := range rows {
		t.table.Add(widget.NewLabel(termCell(row.Label)))
		if counts != nil {
			cell := ""
			if n, ev := report.LevelCountCells(counts, row); n != "" {
				cell = n + " (" + ev + ")"
			}
			t.table.Add(widget.NewLabel(cell))
		}
		switch {
		case row.Reference:
			t.table.Add(widget.NewLabel("1 (reference)"))
			t.table.Add(widget.NewLabel(""))
			t.table.Add(widget.NewLabel(""))
		case !row.Estimable:
			t.table.Add(widget.NewLabel("not estimable"))
			t.table.Add(widget.NewLabel(""))
			t.table.Add(widget.NewLabel(""))
		default:
			t.table.Add(widget.NewLabel(chart.FormatHR(row.HR, row.Lower, row.Upper)))
			t.table.Add(widget.NewLabel(format.PNumber(row.P)))
			if noisy {
				t.table.Add(widget.NewLabel(fmt.Sprintf("%.3f (%.3f)", row.SE, row.NoiseSD)))
			} else {
				t.table.Add(widget.NewLabel(fmt.Sprintf("%.4f (%.4f)", row.Coef, row.SE)))
			}
		}
	}
	t.table.Refresh()
}

// termMaxWidth is the widest a line of a term's label is in the hazard-ratio table: a wider
// label ("histology: squamous vs adenocarcinoma") wraps, so that the numbers beside it fit a
// 1024×700 window without scrolling sideways.
const termMaxWidth = 190

// termCell is a term's label as the hazard-ratio table shows it: wrapped between words to
// termMaxWidth (a word wider than that stands alone on its line).
func termCell(label string) string {
	var lines []string
	for _, w := range strings.Fields(label) {
		if n := len(lines); n > 0 && fyne.MeasureText(lines[n-1]+" "+w, theme.TextSize(), fyne.TextStyle{}).Width <= termMaxWidth {
			lines[n-1] += " " + w
		} else {
			lines = append(lines, w)
		}
	}
	return strings.Join(lines, "\n")
}

// showTerms draws the forest plot of the model's terms.
func (t *coxTab) showTerms(r *app.Result) {
	t.meta.Hide()
	t.random.Hide()
	style := t.host.chartStyle()
	names := t.host.names()
	if fig := report.ForestFigure(r, names, style, ""); fig != nil {
		t.figure.SetFigure(func() chart.Figure { return report.ForestFigure(r, names, style, "") }, "")
	} else {
		t.figure.SetFigure(nil, "No estimable term to plot.")
	}
}

// hrTableCSV is the export of the hazard-ratio table.
const hrTableCSV = "HR table (CSV)"

func (t *coxTab) exportAs(format string) {
	if t.result == nil {
		dialog.ShowInformation("Export", "Fit a model first: there is no forest plot to export.", t.host.window())
		return
	}
	r := t.result
	if format == strings.ToLower(hrTableCSV) {
		rows := report.CoxRows(r, t.host.names())
		t.host.saveFile("hazard-ratios-"+r.Request.Study+".csv", func(w io.Writer) error { return report.WriteCoxCSV(w, r, rows) })
		return
	}
	foot := report.CohortNote(r.Request) + ". " + report.PrivacyLine(r, t.host.now())
	fig := report.ForestFigure(r, t.host.names(), chart.PublicationStyle(), foot)
	if term, ok := t.terms[t.view.Selected]; ok && t.sitesFor == r && t.sites != nil {
		// The per-site view on screen is what is exported.
		sites, _, err := t.siteForest(r, term, chart.PublicationStyle())
		if err != nil {
			return
		}
		fig = sites()
		fig.Footnote = report.JoinNotes(fig.Footnote, foot)
	}
	if fig == nil {
		return
	}
	t.host.saveFile("forest-"+r.Request.Study+"."+format, func(w io.Writer) error { return writeFigure(w, format, fig) })
}

// setViews offers a per-site view of each estimable term of a model stratified by site, or
// fitted on the sites' differentially private tables (the pooled form releases no per-site
// likelihood), keeping the chosen term when it is still there.
func (t *coxTab) setViews(r *app.Result) {
	opts := []string{viewAllTerms}
	t.terms = map[string]string{}
	for _, term := range app.SiteViewTerms(r) {
		o := "By site: " + report.TermLabel(r.Request, term, t.host.names())
		opts = append(opts, o)
		t.terms[o] = term
	}
	t.view.Options = opts
	if !slices.Contains(opts, t.view.Selected) {
		t.view.Selected = viewAllTerms
	}
	if len(opts) > 1 {
		t.view.Enable()
	} else {
		t.view.Disable()
	}
	t.view.Refresh()
}

// onView shows the chosen view, fitting the per-site models first when they are not yet known
// for the result shown.
func (t *coxTab) onView() {
	r := t.result
	if r == nil {
		return
	}
	term, ok := t.terms[t.view.Selected]
	if !ok {
		t.showTerms(r)
		return
	}
	t.random.Show()
	if t.sitesFor == r && t.sites != nil {
		t.showSites(r, term)
		return
	}
	if t.host.Offline() && r.Cox.Form != protocol.CoxDPTables { // DP: fitted on the stored tables
		t.setStatus("Offline: the per-site fits need the sites (a few rounds per site).")
		return
	}
	t.setStatus("Fitting the model at each site alone…")
	t.figure.SetFigure(nil, "Fitting the model at each site alone…")
	if t.sitesPending == r {
		return // the fits in flight show the chosen term when they are in
	}
	svc := t.svc
	t.sitesPending = r
	t.sitesStop = t.host.secondaryJob(func(ctx context.Context) func() {
		sc, err := svc.SiteCox(ctx, r)
		return func() {
			t.sitesStop, t.sitesPending = nil, nil
			if err != nil {
				t.setStatus("No per-site view. " + ErrorText(err))
				t.figure.SetFigure(nil, "No per-site view.")
				return
			}
			t.setStatus("")
			t.sites, t.sitesFor = sc, r
			if t.result == r {
				t.onView()
			}
		}
	})
}

// stopSiteFits drops the per-site fits in flight (another result is shown).
func (t *coxTab) stopSiteFits() {
	if t.sitesStop != nil {
		t.sitesStop()
	}
	t.sitesStop, t.sitesPending = nil, nil
}

// showSites draws the per-site forest plot of term with the pooled diamond and heterogeneity.
func (t *coxTab) showSites(r *app.Result, term string) {
	fig, h, err := t.siteForest(r, term, t.host.chartStyle())
	if err != nil {
		t.meta.SetText(ErrorText(err))
		t.meta.Show()
		t.figure.SetFigure(nil, "No site has its own estimate of this term.")
		return
	}
	t.meta.SetText(report.HeterogeneityLine(h, t.random.Checked, t.sites.DP))
	t.meta.Show()
	t.figure.SetFigure(func() chart.Figure { return fig() }, "")
}

// siteForest pools the sites' estimates of term by the model chosen on the tab and returns a
// maker of its forest plot (chart.ForestFromMeta; each call a new figure, as renders run
// concurrently) with the pooling.
func (t *coxTab) siteForest(r *app.Result, term string, style chart.Style) (func() *chart.ForestPlot, app.Heterogeneity, error) {
	used, h, err := t.sites.Meta(term, 0.95)
	if err != nil {
		return nil, h, err
	}
	title, random := "Per-site hazard ratio: "+report.TermLabel(r.Request, term, t.host.names()), t.random.Checked
	return func() *chart.ForestPlot {
		f := chart.ForestFromMeta(title, used, h, random)
		f.Style = style
		return f
	}, h, nil
}

// clear empties the tab (a new study was chosen).
func (t *coxTab) clear() {
	t.stopSiteFits()
	t.sites, t.sitesFor = nil, nil
	t.meta.Hide()
	t.random.Hide()
	t.view.Options = []string{viewAllTerms}
	t.view.Selected = viewAllTerms
	t.view.Disable()
	t.result = nil
	t.table.RemoveAll()
	t.zph.show(nil)
	t.model.SetText("")
	t.privacy.SetText("")
	t.pin.Disable()
	t.figure.SetFigure(nil, "Choose covariates and press Fit model to see hazard ratios.")
	t.setStatus("")
}
