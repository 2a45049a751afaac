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

// LandmarkMonths are the landmark times (in months) the Survival tab reports per group.
var LandmarkMonths = []float64{12, 24, 60}

const daysPerMonth = 365.25 / 12

// survivalTab shows the Kaplan–Meier figure of the cohort with its number-at-risk table,
// medians and landmarks per group, the log-rank tests and the privacy line.
type survivalTab struct {
	host    resultHost
	content fyne.CanvasObject

	unit    *widget.Select
	bands   *widget.Check
	censor  *widget.Check
	percent *widget.Check
	medians *widget.Check
	export  *widget.Select
	pin     *widget.Button
	figure  *figureView
	stats   *fyne.Container
	perSite *fyne.Container
	numbers *container.Scroll
	view    *widget.Select
	// siteView is the per-site view of result for the group chosen in view (nil: pooled).
	siteView *app.Result
	logrank  *widget.Label
	privacy  *widget.Label
	status   *widget.Label
	opts     report.KMOptions
	result   *app.Result
	// order is the analyst's order of the groups (nil: the study's), kept while the grouping
	// stays orderFor; orderBtn opens the dialog that sets it.
	order    []string
	orderFor string
	orderBtn *widget.Button
	// censorSet is true once the analyst chose whether to see censor marks; until then they
	// are hidden for large cohorts, where a mark at nearly every time would hide the curves.
	censorSet bool
	// splitStop cancels the request of the split by cause in flight (askSplit).
	splitStop context.CancelFunc
	footnote  string
}

func newSurvivalTab(host resultHost, do func(func())) *survivalTab {
	t := &survivalTab{host: host}
	t.unit = widget.NewSelect([]string{"months", "years", "days"}, func(s string) {
		switch s {
		case "years":
			t.opts.Unit = chart.Years
		case "days":
			t.opts.Unit = chart.Days
		default:
			t.opts.Unit = chart.Months
		}
		t.redraw()
	})
	t.unit.Selected = "months"
	t.bands = widget.NewCheck("CI bands", func(on bool) { t.opts.HideBands = !on; t.redraw() })
	t.bands.Checked = true
	t.censor = widget.NewCheck("Censored +", func(on bool) {
		t.opts.HideCensor = !on
		t.censorSet = true
		t.redraw()
	})
	t.censor.Checked = true
	t.medians = widget.NewCheck("Medians", func(on bool) { t.opts.MedianLines = on; t.redraw() })
	t.percent = widget.NewCheck("%", func(on bool) { t.opts.Percent = on; t.redraw() })
	t.export = widget.NewSelect([]string{"PNG", "SVG", "PDF"}, func(s string) {
		if s == "" {
			return
		}
		t.export.ClearSelected()
		t.exportAs(strings.ToLower(s))
	})
	t.export.PlaceHolder = "Export…"
	t.pin = widget.NewButtonWithIcon("Pin", theme.ContentAddIcon(), func() { t.host.pinResult(t.result, t.displayed()) })
	t.pin.Disable()
	t.figure = newFigureView(do, "Build a cohort on the left and press Run to see Kaplan–Meier curves.")
	t.stats = container.New(gridTable{cols: 7})
	t.logrank = widget.NewLabel("")
	t.logrank.Wrapping = fyne.TextWrapWord
	t.privacy = widget.NewLabel("")
	t.privacy.Wrapping = fyne.TextWrapWord
	t.privacy.SizeName = theme.SizeNameCaptionText
	t.status = widget.NewLabel("")
	t.status.Wrapping = fyne.TextWrapWord
	t.status.Hide()
	t.view = widget.NewSelect([]string{viewPooled}, func(string) { t.onView() })
	t.view.Selected = viewPooled
	t.orderBtn = widget.NewButton("Order…", t.onOrder)
	t.orderBtn.Disable()
	bar := newToolbar(6, container.NewGridWrap(fyne.NewSize(200, t.view.MinSize().Height), t.view), t.orderBtn,
		container.NewHBox(widget.NewLabel("Time in"), t.unit), t.bands, t.censor, t.medians, t.percent, t.pin, t.export)
	t.perSite = container.New(gridTable{cols: 3})
	bySite := widget.NewAccordion(widget.NewAccordionItem("Per site: patients and events each site contributed", container.NewHScroll(t.perSite)))
	// The numbers scroll under the figure, so many groups or sites never squeeze it.
	t.numbers = container.NewVScroll(container.NewVBox(container.NewHScroll(t.stats), t.logrank, bySite))
	split := container.NewVSplit(t.figure, t.numbers)
	split.Offset = 0.7
	t.content = container.NewBorder(container.NewVBox(bar, t.status), t.privacy, nil, nil, split)
	return t
}

// runHR fits the two-group Cox model req and puts its hazard ratio into the figure.
func (t *survivalTab) runHR(ctx context.Context, gen int, req app.Request) {
	t.host.runService(ctx, gen, req, func(r *app.Result, err error) {
		if err != nil {
			return // the figure simply has no HR; the Cox tab explains failures
		}
		t.opts.HR = hazardRatio(r)
		t.redraw()
	})
}

// hazardRatio is the HR of a one-term Cox result for the Kaplan–Meier figure; nil when there
// is none to draw.
func hazardRatio(r *app.Result) *chart.HazardRatio {
	if r == nil || r.Cox == nil || r.Cox.Fit == nil || len(r.Cox.Fit.Terms) != 1 {
		return nil
	}
	fit := r.Cox.Fit
	if !(fit.HR[0] > 0) || math.IsInf(fit.Upper[0], 0) {
		return nil
	}
	label := report.TermLabel(r.Request, fit.Terms[0], report.Names{})
	if i := strings.Index(label, ": "); i >= 0 {
		label = label[i+2:]
	}
	return &chart.HazardRatio{Label: label + ", stratified by site", HR: fit.HR[0], Lower: fit.Lower[0], Upper: fit.Upper[0]}
}

// KMHazardRatioRequest is the Cox request whose HR goes with a two-group Kaplan–Meier request
// (the same one the run sends alongside, App.twoGroupCox).
func KMHazardRatioRequest(km app.Request) app.Request {
	return app.Request{Kind: protocol.KindCox, Study: km.Study, CohortName: km.CohortName, Cohort: km.Cohort, Endpoint: km.Endpoint,
		Cox: &app.CoxSpec{Covariates: []string{km.GroupBy}, Ties: "efron", Form: protocol.CoxStratified}}
}

// run asks the service for the Kaplan–Meier analysis of req.
func (t *survivalTab) run(ctx context.Context, gen int, req app.Request) {
	t.opts.HR = nil
	for _, m := range LandmarkMonths {
		req.Landmarks = append(req.Landmarks, m*daysPerMonth)
	}
	t.setStatus("Computing Kaplan–Meier curves from the sites' survival tables…")
	t.host.runService(ctx, gen, req, func(r *app.Result, err error) {
		if err != nil {
			t.setStatus("No Kaplan–Meier result. " + ErrorText(err))
			return
		}
		t.show(r)
		t.host.onRunPart(gen, r)
	})
}

func (t *survivalTab) setStatus(s string) { showStatus(t.status, s) }

// showStatus puts s in a tab's status label, hiding the label when s is empty so that it
// takes no room above the figure.
func showStatus(l *widget.Label, s string) {
	if s == "" {
		l.Hide()
		return
	}
	l.SetText(s)
	l.Show()
}

// show displays a Kaplan–Meier result (live or from the cache).
func (t *survivalTab) show(r *app.Result) {
	if r == nil || r.KM == nil {
		return
	}
	t.result = r
	t.setStatus("")
	if r.Cached {
		t.setStatus("Shown from the cache: " + app.AsOf(t.host.now(), &r.Provenance) + ".")
	}
	t.pin.Enable()
	if !t.censorSet {
		t.opts.HideCensor = report.TooManyCensorMarks(r)
		t.censor.Checked = !t.opts.HideCensor
		t.censor.Refresh()
	}
	switch {
	case r.Display != nil && len(r.Display.Order) > 0:
		t.order, t.orderFor = slices.Clone(r.Display.Order), r.Request.GroupBy
	case r.Request.GroupBy != t.orderFor:
		t.order = nil
	}
	t.view.Selected, t.siteView = viewPooled, nil
	t.refreshViews()
	t.privacy.SetText(report.PrivacyLine(r, t.host.now()))
	t.footnote = report.CohortNote(r.Request) + ". " + t.privacy.Text
	t.fillStats()
	t.redraw()
}

// refreshViews lists the views of the result, one group by site in the groups' order, and
// offers Order… when there are groups to order.
func (t *survivalTab) refreshViews() {
	r := t.result
	opts := []string{viewPooled}
	if (r.KM.Causes > 0 && r.KM.CIFError == "") || t.splitAskable(r) {
		opts = append(opts, viewCIF)
	}
	for _, g := range t.orderedGroups() {
		opts = append(opts, viewBySite+report.GroupName(g))
	}
	t.view.Options = opts
	t.view.Refresh()
	if len(r.KM.Groups) > 1 {
		t.orderBtn.Enable()
	} else {
		t.orderBtn.Disable()
	}
}

// Result returns the result on show (nil before the first).
func (t *survivalTab) Result() *app.Result { return t.result }

func (t *survivalTab) redraw() {
	if t.result == nil || t.result.KM == nil {
		return
	}
	// On screen the privacy line stands under the figure as text; exports carry it as footnote.
	r, opts, style := t.shown()
	t.figure.SetFigure(func() chart.Figure { return t.kmFigure(r, opts, style, "") }, "")
	t.fillStats()
}

// kmFigure is the figure of r, on screen and exported alike, titled in words: the endpoint,
// grouping and study by their labels and title (the per-site view says which group it is).
func (t *survivalTab) kmFigure(r *app.Result, opts report.KMOptions, style chart.Style, foot string) *chart.KMFigure {
	names := report.Names{From: t.host.currentStudy()}
	if t.view.Selected == viewCIF && t.siteView == nil {
		f := report.CIFFigure(r, names.Causes(r.KM.Endpoint), opts.Unit, style, foot)
		f.Title = "Cumulative incidence: " + report.KMTitle(t.result, names)
		return f
	}
	f := report.KMFigure(r, opts, style, foot)
	f.Title = report.KMTitle(t.result, names)
	if t.siteView != nil {
		f.Title += " — " + t.view.Selected
	}
	return f
}

// The choices of the view select: the pooled curves per group, the cumulative incidence of
// each competing cause per group (endpoints with causes), or one group's curve per site.
const (
	viewPooled = "Pooled curves"
	viewCIF    = "Cumulative incidence"
	viewBySite = "By site: "
)

// shown is the result on show (pooled, or the per-site view) with its display options.
func (t *survivalTab) shown() (*app.Result, report.KMOptions, chart.Style) {
	if t.siteView != nil {
		o := t.opts
		o.HR = nil // the hazard ratio compares the groups, not the sites
		return t.siteView, o, t.host.chartStyle()
	}
	return app.InOrder(t.result, t.order), t.opts, t.host.chartStyle()
}

// displayed is how the result is on show: the view and the display options, which its slide
// keeps when it is pinned.
func (t *survivalTab) displayed() *app.Display {
	d := &app.Display{Unit: t.opts.Unit.String(), HideBands: t.opts.HideBands, HideCensor: t.opts.HideCensor,
		MedianLines: t.opts.MedianLines, Percent: t.opts.Percent, Order: slices.Clone(t.order)}
	switch g, bySite := strings.CutPrefix(t.view.Selected, viewBySite); {
	case t.view.Selected == viewCIF:
		d.View = app.ViewCIF
	case bySite:
		if g == report.GroupName("") {
			g = ""
		}
		d.View = app.ViewBySite + g
	}
	return d
}

// splitAskable reports whether r is a Kaplan–Meier of an endpoint with causes released with
// differential privacy without the split by cause (the sites split it only when asked): its
// cumulative incidence is then one more release away (askSplit).
func (t *survivalTab) splitAskable(r *app.Result) bool {
	return r.KM.Causes == 0 && !r.Request.CIF && report.NoisyCounts(r) &&
		report.Names{From: t.host.currentStudy()}.Causes(r.KM.Endpoint) != nil
}

// askSplit asks the sites for the shown Kaplan–Meier's tables again, split by cause
// (app.Request.CIF), and shows their cumulative incidence: a dp analyst's release of its own,
// charged like the first, so it is asked only when the view is chosen.
func (t *survivalTab) askSplit() {
	req := t.result.Request
	req.CIF = true
	t.setStatus("Asking the sites for the events split by cause: a differentially private release of its own, charged like the Kaplan–Meier's…")
	if t.splitStop != nil {
		t.splitStop()
	}
	t.splitStop = t.host.secondaryJob(func(ctx context.Context) func() {
		r, err := t.host.service().Run(ctx, req)
		return func() {
			if err != nil {
				t.setStatus("No cumulative incidence. " + ErrorText(err))
				return
			}
			t.show(r)
			if r.KM.Causes == 0 {
				// An older node: never ask again from here (onView asks for a result without CIF).
				t.setStatus("No cumulative incidence: the sites' replies do not split the events by cause (a site without the causes, or one older than the request of the split).")
				return
			}
			t.view.SetSelected(viewCIF)
		}
	})
}

// onView switches between the pooled curves and one group's curve per site.
func (t *survivalTab) onView() {
	if t.result == nil {
		return
	}
	t.siteView = nil
	if t.view.Selected == viewCIF && t.splitAskable(t.result) {
		t.askSplit()
		return
	}
	if g, ok := strings.CutPrefix(t.view.Selected, viewBySite); ok {
		if g == report.GroupName("") {
			g = ""
		}
		sv, err := app.PerSiteKM(t.result, g)
		if err != nil {
			t.setStatus("No per-site view: " + ErrorText(err))
		} else {
			t.siteView = sv
		}
	}
	t.redraw()
}

// fillStats writes the per-group table: n, events, median (95% CI) and landmark survival.
func (t *survivalTab) fillStats() {
	r, _, _ := t.shown()
	t.stats.RemoveAll()
	u := t.opts.Unit
	head := func(s string) {
		t.stats.Add(widget.NewLabelWithStyle(s, fyne.TextAlignLeading, fyne.TextStyle{Bold: true}))
	}
	if t.siteView != nil {
		head("Site")
	} else {
		head("Group")
	}
	head("Patients")
	head("Events")
	head("Median, " + u.String() + " (95% CI)")
	for _, m := range LandmarkMonths {
		head(landmarkHeader(m, u))
	}
	noisy := report.NoisyCounts(r)
	for _, g := range r.KM.Groups {
		t.stats.Add(widget.NewLabel(report.GroupName(g.Group)))
		t.stats.Add(widget.NewLabel(FormatFeasibility(app.Count{N: g.Table.Total()}, noisy)))
		t.stats.Add(widget.NewLabel(FormatFeasibility(app.Count{N: g.Table.TotalEvents()}, noisy)))
		t.stats.Add(widget.NewLabel(chart.FormatMedianCI(u.FromDays(g.Median.Time), u.FromDays(g.Median.Lower), u.FromDays(g.Median.Upper))))
		for i := range LandmarkMonths {
			s := "–" // beyond the last follow-up
			if i < len(g.Landmarks) && !g.Landmarks[i].Beyond {
				lm := g.Landmarks[i]
				s = chart.FormatSurvivalCI(lm.Surv, lm.Lower, lm.Upper)
			}
			t.stats.Add(widget.NewLabel(s))
		}
	}
	t.stats.Refresh()
	if t.siteView != nil {
		t.logrank.SetText(strings.Replace(logRankText(r.KM), "Log-rank", "Log-rank across sites", 1))
	} else {
		t.logrank.SetText(logRankText(r.KM))
	}
	t.fillPerSite()
	// The scrolled content changed size: lay it out again (and its inner horizontal scroll).
	t.numbers.Content.Refresh()
	t.numbers.Refresh()
}

func landmarkHeader(months float64, u chart.TimeUnit) string {
	switch u {
	case chart.Years:
		return fmt.Sprintf("S at %s y", fmtNum(months/12))
	case chart.Days:
		return fmt.Sprintf("S at %.0f d", months*daysPerMonth)
	}
	return fmt.Sprintf("S at %s mo", fmtNum(months))
}

func logRankText(k *app.KMResult) string {
	if len(k.Groups) < 2 {
		return "One group: no log-rank test."
	}
	if k.LogRank == nil {
		if k.LogRankError != "" {
			return "Log-rank test not available: " + k.LogRankError
		}
		return "Log-rank test not available."
	}
	s := fmt.Sprintf("Log-rank %s (χ² = %.2f on %d df)", format.PValue(k.LogRank.P), k.LogRank.ChiSq, k.LogRank.DF)
	if k.StratifiedLogRank != nil {
		s += fmt.Sprintf(" · stratified by site %s", format.PValue(k.StratifiedLogRank.P))
	}
	if k.LogRankWithNoise {
		s += " · " + report.DPLogRankNote
	}
	if k.MissingGroup.N > 0 {
		s += " · " + FormatCount(k.MissingGroup) + " patients without a group value left out"
	}
	return s
}

// onExport exports the figure as PNG (the keyboard shortcut).
func (t *survivalTab) onExport() { t.exportAs("png") }

// exportAs saves the figure on show as a PNG, SVG or PDF file.
func (t *survivalTab) exportAs(format string) {
	if t.result == nil {
		dialog.ShowInformation("Export", "Run an analysis first: there is no figure to export.", t.host.window())
		return
	}
	r, opts, _ := t.shown()
	style, foot := chart.PublicationStyle(), t.footnote
	name := "kaplan-meier-" + r.Request.Study + "." + format
	t.host.saveFile(name, func(w io.Writer) error {
		return writeFigure(w, format, t.kmFigure(r, opts, style, foot))
	})
}

// writeFigure writes fig in format at the size of a publication figure (1600×1000 pixels).
func writeFigure(w io.Writer, format string, fig chart.Figure) error {
	switch format {
	case "svg":
		return chart.WriteSVG(w, fig, 1600, 1000)
	case "pdf":
		return chart.WritePDF(w, fig, 1600, 1000)
	}
	return chart.WritePNG(w, fig, 1600, 1000)
}

// fillPerSite writes what each site contributed to each group: patients and events.
func (t *survivalTab) fillPerSite() {
	r := app.InOrder(t.result, t.order)
	t.perSite.RemoveAll()
	groups := r.KM.Groups
	t.perSite.Layout = gridTable{cols: len(groups) + 1}
	t.perSite.Add(widget.NewLabelWithStyle("Site", fyne.TextAlignLeading, fyne.TextStyle{Bold: true}))
	for _, g := range groups {
		t.perSite.Add(widget.NewLabelWithStyle(report.GroupName(g.Group)+": patients / events", fyne.TextAlignLeading, fyne.TextStyle{Bold: true}))
	}
	for _, site := range r.Provenance.Answered {
		t.perSite.Add(widget.NewLabel(site))
		noisy := report.NoisySite(r, site)
		for _, g := range groups {
			cell := "–"
			for _, s := range g.PerSite {
				if s.Site == site {
					cell = FormatFeasibility(app.Count{N: s.Patients}, noisy) + " / " + FormatFeasibility(app.Count{N: s.Events}, noisy)
				}
			}
			t.perSite.Add(widget.NewLabel(cell))
		}
	}
	t.perSite.Refresh()
}

// clear empties the tab (a new study was chosen).
func (t *survivalTab) clear() {
	t.result, t.opts.HR, t.siteView = nil, nil, nil
	t.orderBtn.Disable()
	t.view.Options, t.view.Selected = []string{viewPooled}, viewPooled
	t.view.Refresh()
	t.figure.SetFigure(nil, "Build a cohort on the left and press Run to see Kaplan–Meier curves.")
	t.stats.RemoveAll()
	t.perSite.RemoveAll()
	t.logrank.SetText("")
	t.privacy.SetText("")
	t.pin.Disable()
	t.setStatus("")
}
