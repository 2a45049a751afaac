package ui

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/dialog"
	"fyne.io/fyne/v2/theme"
	"fyne.io/fyne/v2/widget"

	"github.com/oncofed/oncofed/app"
	"github.com/oncofed/oncofed/protocol"
	"github.com/oncofed/oncofed/report"
)

// noGroup is the group-by choice for an ungrouped analysis.
const noGroup = "(none)"

// cohortFilter is one condition of the cohort: a categorical variable in a set of values, or a
// numeric variable in a range.
type cohortFilter struct {
	Var         string
	Categorical bool
	Values      []string
	Min, Max    *float64
}

// Filter returns the condition in the wire form.
func (f cohortFilter) Filter() *protocol.Filter {
	if f.Categorical {
		return &protocol.Filter{Op: protocol.OpIn, Var: f.Var, Values: append([]string(nil), f.Values...)}
	}
	return &protocol.Filter{Op: protocol.OpRange, Var: f.Var, Min: f.Min, Max: f.Max}
}

// String says the condition in words: "stage in IIIB, IVA", "age ≥ 18", "age 18–65".
func (f cohortFilter) String() string {
	if f.Categorical {
		return f.Var + " in " + strings.Join(f.Values, ", ")
	}
	switch {
	case f.Min != nil && f.Max != nil:
		return f.Var + " " + fmtNum(*f.Min) + "–" + fmtNum(*f.Max)
	case f.Min != nil:
		return f.Var + " ≥ " + fmtNum(*f.Min)
	case f.Max != nil:
		return f.Var + " ≤ " + fmtNum(*f.Max)
	}
	return f.Var + " (any)"
}

func fmtNum(x float64) string { return strconv.FormatFloat(x, 'g', -1, 64) }

// cohortPanel is the always visible left panel: study endpoint, filters from the variable
// dictionary, group-by, live feasibility per site and pooled, and Run.
type cohortPanel struct {
	ui      *App
	content fyne.CanvasObject

	scroll    *container.Scroll
	endpoint  *widget.Select
	filterBox *fyne.Container
	where     *widget.Label // the cohort in the CLI's --where syntax, under the filters
	addFilter *widget.Select
	groupBy   *widget.Select
	// merge joins levels of the grouping variable (mergebox.go); mergeRow shows it.
	merge     []protocol.LevelGroup
	mergeBtn  *widget.Button
	mergeRow  *fyne.Container
	feasBox   *fyne.Container
	feasState *widget.Label
	// feasLegend explains the feasibility numbers in full; the info button beside the
	// heading shows it, so that the panel itself has room for every site.
	feasLegend string
	warning    *widget.Label
	note       *widget.Label
	run        *widget.Button
	cancel     *widget.Button
	sites      *siteProgress // live per-site state of the run
	progress   *widget.ProgressBarInfinite
	runState   *widget.Label

	study   *app.Study
	filters []cohortFilter

	// Saved cohorts of the study; savedName is the one opened or saved last, savedFilter its
	// conditions in words (the name stands for the cohort only while they are unchanged).
	open        *widget.Select
	saved       []app.Cohort
	savedName   string
	savedFilter string

	feasGen   int
	feasTimer *time.Timer
	feas      *feasibility
	refusals  []app.SiteProblem
	// willAnswer counts the sites predicted to answer the cohort despite the refusals;
	// runDialog is the last warning Run showed (the tests press its buttons).
	willAnswer int
	runDialog  *dialog.CustomDialog
}

func newCohortPanel(a *App) *cohortPanel {
	c := &cohortPanel{ui: a}
	c.endpoint = widget.NewSelect(nil, func(string) { c.onChanged() })
	c.endpoint.PlaceHolder = "(endpoint)"
	c.filterBox = container.NewVBox()
	c.where = newWhereLabel()
	c.addFilter = widget.NewSelect(nil, func(v string) {
		if v == "" {
			return
		}
		c.addFilter.ClearSelected()
		c.onAddFilter(v)
	})
	c.addFilter.PlaceHolder = "+ filter on…"
	c.groupBy = widget.NewSelect(nil, func(string) { c.setMerge(nil); c.onChanged() })
	c.groupBy.PlaceHolder = noGroup
	c.newMergeRow()
	c.feasBox = container.NewVBox()
	c.feasState = widget.NewLabel("Choose a study.")
	c.feasState.Wrapping = fyne.TextWrapWord
	c.warning = widget.NewLabel("")
	c.warning.Wrapping = fyne.TextWrapWord
	c.warning.Importance = widget.WarningImportance
	c.warning.Hide()
	c.note = widget.NewLabel("")
	c.note.Wrapping = fyne.TextWrapWord
	c.note.Hide()
	c.run = widget.NewButtonWithIcon("Run (Ctrl+↵)", theme.MediaPlayIcon(), c.onRun)
	c.run.Importance = widget.HighImportance
	c.cancel = widget.NewButtonWithIcon("Cancel", theme.CancelIcon(), c.onCancel)
	c.cancel.Hide()
	c.progress = widget.NewProgressBarInfinite()
	c.progress.Stop()
	c.progress.Hide()
	c.runState = widget.NewLabel("")
	c.runState.Wrapping = fyne.TextWrapWord
	c.runState.Hide()

	c.open = widget.NewSelect(nil, func(name string) {
		if name != "" {
			c.onOpen(name)
		}
	})
	c.open.PlaceHolder = "Open saved…"
	save := widget.NewButtonWithIcon("Save", theme.DocumentSaveIcon(), c.onSave)
	heading := func(s string) fyne.CanvasObject {
		return widget.NewLabelWithStyle(s, fyne.TextAlignLeading, fyne.TextStyle{Bold: true})
	}
	body := container.NewVBox(
		heading("Cohort"),
		container.NewBorder(nil, nil, nil, save, c.open),
		labelled("Endpoint", c.endpoint),
		widget.NewLabel("Filters"), c.filterBox, c.addFilter,
		labelled("Group by", container.NewBorder(nil, nil, nil, c.mergeBtn, c.groupBy)), c.mergeRow,
		widget.NewSeparator(),
		container.NewBorder(nil, nil, nil, c.newFeasInfo(), heading("Feasibility")), c.feasState, c.feasBox, c.warning,
		c.note,
	)
	c.sites = newSiteProgress()
	bottom := container.NewVBox(widget.NewSeparator(), c.runState, c.progress, c.sites.label, c.run, c.cancel)
	c.scroll = container.NewVScroll(body)
	c.content = container.NewBorder(nil, bottom, nil, nil, c.scroll)
	c.updateRunState()
	return c
}

// labelled puts a control on one row after its name (a label above it would take a row of
// its own: the feasibility numbers then no longer fit beside a six-site network).
func labelled(name string, control fyne.CanvasObject) fyne.CanvasObject {
	l := widget.NewLabel(name)
	return container.NewBorder(nil, nil, container.NewGridWrap(fyne.NewSize(80, l.MinSize().Height), l), nil, control)
}

// setStudy resets the panel for a study.
func (c *cohortPanel) setStudy(st *app.Study) {
	c.study = st
	c.filters = nil
	c.savedName, c.savedFilter, c.saved = "", "", nil
	c.open.Options = nil
	c.open.ClearSelected()
	c.loadSaved()
	var eps []string
	for _, e := range st.Endpoints {
		eps = append(eps, e.Name)
	}
	c.endpoint.SetOptions(eps)
	c.endpoint.Selected = ""
	if len(eps) > 0 {
		c.endpoint.Selected = eps[0]
		for _, e := range eps {
			if e == "os" {
				c.endpoint.Selected = e
			}
		}
	}
	c.endpoint.Refresh()
	vars, cats := studyVariables(st)
	c.addFilter.SetOptions(vars)
	c.groupBy.SetOptions(append([]string{noGroup}, cats...))
	c.groupBy.Selected = noGroup
	c.groupBy.Refresh()
	c.setMerge(nil)
	c.renderFilters()
	c.onChanged()
}

func (c *cohortPanel) setNote(s string) {
	c.note.SetText(s)
	c.note.Show()
}

func (c *cohortPanel) renderFilters() {
	c.filterBox.RemoveAll()
	if len(c.filters) == 0 {
		c.filterBox.Add(widget.NewLabelWithStyle("all patients", fyne.TextAlignLeading, fyne.TextStyle{Italic: true}))
	}
	for i, f := range c.filters {
		i := i
		l := widget.NewLabel(f.String())
		l.Wrapping = fyne.TextWrapWord
		rm := widget.NewButtonWithIcon("", theme.CancelIcon(), func() { c.onRemoveFilter(i) })
		rm.Importance = widget.LowImportance
		c.filterBox.Add(container.NewBorder(nil, nil, nil, rm, l))
	}
	c.where.SetText(whereText(c.Cohort()))
	if len(c.filters) > 0 {
		c.filterBox.Add(c.where)
	}
	c.filterBox.Refresh()
	if c.scroll != nil {
		c.scroll.Refresh()
	}
}

// AddFilter adds a condition to the cohort (replacing one on the same variable).
func (c *cohortPanel) AddFilter(f cohortFilter) {
	for i := range c.filters {
		if c.filters[i].Var == f.Var {
			c.filters[i] = f
			c.renderFilters()
			c.onChanged()
			return
		}
	}
	c.filters = append(c.filters, f)
	c.renderFilters()
	c.onChanged()
}

func (c *cohortPanel) onRemoveFilter(i int) {
	if i < 0 || i >= len(c.filters) {
		return
	}
	c.filters = append(c.filters[:i:i], c.filters[i+1:]...)
	c.renderFilters()
	c.onChanged()
}

// Cohort returns the cohort filter (nil: every patient of the study).
func (c *cohortPanel) Cohort() *protocol.Filter {
	switch len(c.filters) {
	case 0:
		return nil
	case 1:
		return c.filters[0].Filter()
	}
	f := &protocol.Filter{Op: protocol.OpAnd}
	for _, x := range c.filters {
		f.Args = append(f.Args, x.Filter())
	}
	return f
}

// Describe says the cohort in words, for names and footnotes.
func (c *cohortPanel) Describe() string {
	if len(c.filters) == 0 {
		return "all patients"
	}
	var parts []string
	for _, f := range c.filters {
		parts = append(parts, f.String())
	}
	return strings.Join(parts, "; ")
}

// GroupBy returns the grouping variable, "" for none.
func (c *cohortPanel) GroupBy() string {
	if c.groupBy.Selected == noGroup {
		return ""
	}
	return c.groupBy.Selected
}

// Request returns the request of kind for the cohort as built.
func (c *cohortPanel) Request(kind protocol.Kind) app.Request {
	r := app.Request{Kind: kind, Study: c.ui.study, Cohort: c.Cohort(), GroupBy: c.GroupBy(), Endpoint: c.endpoint.Selected}
	if r.GroupBy != "" && len(c.merge) > 0 {
		r.Merge = slices.Clone(c.merge)
	}
	if len(c.filters) > 0 {
		r.CohortName = c.Describe()
		if c.savedName != "" && c.savedFilter == r.CohortName {
			r.CohortName = c.savedName
		}
	}
	return r
}

// onChanged reacts to any edit of the cohort: results in flight are dropped and the
// feasibility count is asked again once the cohort stays unchanged for the debounce time.
func (c *cohortPanel) onChanged() {
	c.ui.dropRuns()
	c.feasGen++
	gen := c.feasGen
	if c.feasTimer != nil {
		c.feasTimer.Stop()
	}
	if c.ui.study == "" {
		return
	}
	if c.ui.opt.Network == nil {
		c.feasState.SetText("Live feasibility is not available on this connection.")
		return
	}
	c.feasState.SetText("counting…")
	do := c.ui.opt.Do
	c.feasTimer = time.AfterFunc(c.ui.opt.Debounce, func() { do(func() { c.startFeasibility(gen) }) })
}

// feasibility is the outcome of one live count.
type feasibility struct {
	count     *app.CountResult
	refused   []app.SiteProblem
	missing   []string
	invalid   []app.SiteProblem
	minCell   map[string]int
	minCohort map[string]int
}

// startFeasibility sends the count for generation gen, unless the cohort changed since.
func (c *cohortPanel) startFeasibility(gen int) {
	if gen != c.feasGen || c.ui.opt.Network == nil {
		return
	}
	if c.ui.offline {
		c.feasState.SetText("Offline: feasibility needs the network.")
		return
	}
	req := c.Request(protocol.KindCount)
	svc := c.ui.svc
	parent := c.ui.ctx
	c.ui.goWork(func() func() {
		ctx, cancel := context.WithTimeout(parent, 15*time.Second)
		defer cancel()
		// Through the service: approximate counts the sites do not remember (so editing does
		// not make them refuse the final analysis), not stored in the library, and a cohort
		// counted a moment ago is answered from memory instead of being charged to the
		// sites' budgets again.
		r, err := svc.Count(ctx, req)
		if err != nil {
			return func() {
				if gen == c.feasGen {
					c.feasState.SetText("Feasibility unavailable: " + app.ErrorMessage(err))
				}
			}
		}
		p := r.Provenance
		f := &feasibility{count: r.Count, refused: p.Refused, missing: p.Missing, invalid: p.Invalid, minCell: map[string]int{}, minCohort: map[string]int{}}
		for _, rep := range r.Rounds[0].Replies {
			f.minCell[rep.Site], f.minCohort[rep.Site] = rep.Policy.MinCell, rep.Policy.MinCohort
		}
		return func() {
			if gen == c.feasGen {
				c.showFeasibility(f)
			}
		}
	})
}

// FormatFeasibility renders a count of the feasibility panel: "≈1,230" when the sites
// released it approximately (rounded, with noise), "<10" for a count known only to be below
// a site's minimum, "≈121–129" for a sum of approximate counts with such a part; exact counts
// as FormatCount.
func FormatFeasibility(n app.Count, approximate bool) string {
	s := FormatCount(n)
	if !approximate || (n.Suppressed && n.N <= 1 && n.Max > 0) {
		return s
	}
	return "≈" + s
}

// feasibilityLegend explains the numbers of the feasibility panel.
func feasibilityLegend(f *feasibility) string {
	below := 0 // the largest minimum cohort among the sites: counts below it show as "<n"
	for _, m := range f.minCohort {
		below = max(below, m)
	}
	for _, p := range f.refused {
		if m, ok := app.SmallCohort(p); ok {
			below = max(below, m)
		}
	}
	small := ""
	if below > 1 {
		small = fmt.Sprintf(" A cohort below a site's minimum shows as \"<%d\".", below)
	}
	if f.count != nil && f.count.Approximate {
		noise := ""
		if f.count.Noise > 0 {
			noise = fmt.Sprintf("add random noise of up to ±%d and ", f.count.Noise)
		}
		return fmt.Sprintf("Approximate patients per site: sites %sround to the nearest %d, so that editing filters reveals no single patient.%s Exact numbers come with Run.",
			noise, f.count.Rounding, small)
	}
	mc := 0
	if f.count != nil {
		for _, s := range f.count.PerSite {
			mc = max(mc, f.minCell[s.Site])
		}
	}
	if mc > 1 {
		return fmt.Sprintf("Patients per site as released: hidden small counts show as \"<%d\" (or a wider \"<n\"), never as 0.%s", mc, small)
	}
	return "Patients per site as released." + small
}

// feasibilityShort is the one line the panel shows above the numbers; the info button
// beside the heading gives the whole legend.
func feasibilityShort(f *feasibility) string {
	if f.count != nil && f.count.Approximate {
		return "≈ approximate per site; exact with Run."
	}
	return "Patients per site, as released."
}

// newFeasInfo is the ⓘ button that explains the feasibility numbers.
func (c *cohortPanel) newFeasInfo() *widget.Button {
	b := widget.NewButtonWithIcon("", theme.InfoIcon(), func() {
		msg := c.feasLegend
		if msg == "" {
			msg = "Feasibility counts appear once a study is chosen."
		}
		dialog.ShowInformation("Feasibility numbers", msg, c.ui.win)
	})
	b.Importance = widget.LowImportance
	return b
}

// showFeasibility fills the feasibility grid: pooled (and per group), then each site.
func (c *cohortPanel) showFeasibility(f *feasibility) {
	c.feas = f
	c.feasBox.RemoveAll()
	row := func(name, value string, bold bool) {
		l := widget.NewLabelWithStyle(name, fyne.TextAlignLeading, fyne.TextStyle{Bold: bold})
		l.Truncation = fyne.TextTruncateEllipsis
		v := widget.NewLabelWithStyle(value, fyne.TextAlignTrailing, fyne.TextStyle{Bold: bold, Monospace: !bold})
		c.feasBox.Add(container.NewBorder(nil, nil, nil, v, l))
	}
	caption := func(s string) {
		l := widget.NewLabelWithStyle(s, fyne.TextAlignLeading, fyne.TextStyle{Italic: true})
		l.Wrapping = fyne.TextWrapWord
		l.SizeName = theme.SizeNameCaptionText
		c.feasBox.Add(l)
	}
	if f.count != nil {
		approx := f.count.Approximate
		row("pooled", FormatFeasibility(f.count.Total, approx), true)
		for _, g := range f.count.Groups {
			row("   "+g.Group, FormatFeasibility(g.N, approx), false)
		}
		if f.count.Missing.N > 0 || f.count.Missing.Suppressed {
			row("   (missing group)", FormatFeasibility(f.count.Missing, approx), false)
		}
		for _, s := range f.count.PerSite {
			row(s.Site, FormatFeasibility(s.Total, s.Rounding > 0), false)
			if len(s.Groups) > 0 {
				var parts []string
				for _, g := range f.count.SiteGroups(s) {
					parts = append(parts, g+" "+FormatFeasibility(s.Groups[g], s.Rounding > 0))
				}
				caption(strings.Join(parts, " · "))
			}
		}
	}
	for _, p := range f.refused {
		if m, ok := app.SmallCohort(p); ok {
			// Below the site's minimum: the site says no more, and neither does the panel.
			row(p.Site, fmt.Sprintf("<%d", m), false)
			continue
		}
		row(p.Site, "refused", false)
		caption(p.Message)
	}
	for _, s := range f.missing {
		row(s, "no answer", false)
	}
	for _, p := range f.invalid {
		row(p.Site, "invalid reply", false)
	}
	c.feasBox.Refresh()
	defer c.scroll.Refresh()
	legend := feasibilityLegend(f)
	if s := c.ui.catalog.StandingText(c.ui.study); s != "" {
		legend += " " + s + " (as of the last catalog)."
	}
	c.feasLegend = legend
	c.feasState.SetText(feasibilityShort(f))
	c.refusals = PredictRefusals(f.count, f.refused, f.minCohort)
	c.willAnswer = answeringSites(f.count, c.refusals)
	if len(c.refusals) > 0 {
		var lines []string
		for _, p := range c.refusals {
			lines = append(lines, p.Site+": "+p.Message)
		}
		hint := ""
		if !c.mergeBtn.Disabled() {
			hint = " Merging the small levels of " + c.GroupBy() + " (Merge…) can bring them back."
		}
		c.warning.SetText(fmt.Sprintf("⚠ %s would refuse an analysis of this cohort under their privacy policy, and a run leaves them out — %s.%s",
			plural(len(c.refusals), "site", "sites"), strings.Join(lines, "; "), hint))
		c.warning.Show()
	} else {
		c.warning.SetText("")
		c.warning.Hide()
	}
}

// answeringSites counts the sites that counted the cohort and are not predicted to refuse it.
func answeringSites(count *app.CountResult, refusals []app.SiteProblem) int {
	if count == nil {
		return 0
	}
	n := 0
	for _, s := range count.PerSite {
		if !slices.ContainsFunc(refusals, func(p app.SiteProblem) bool { return p.Site == s.Site }) {
			n++
		}
	}
	return n
}

// PredictRefusals lists the sites whose policy would refuse a grouped analysis of the cohort:
// those that refused the count itself (but not for the optional cap on feasibility counts,
// which an analysis does not use; a refusal for the shared daily budget does predict one), and those with a non-empty group smaller than their minimum cohort
// (a suppressed group always is), which survival and summary queries refuse. With
// approximate counts the prediction is approximate too.
func PredictRefusals(count *app.CountResult, refused []app.SiteProblem, minCohort map[string]int) []app.SiteProblem {
	var out []app.SiteProblem
	for _, p := range refused {
		if p.Reason != protocol.ReasonFeasibilityBudget {
			out = append(out, p)
		}
	}
	if count == nil {
		return out
	}
	for _, s := range count.PerSite {
		mc := minCohort[s.Site]
		var small []string
		for _, g := range count.SiteGroups(s) {
			n := s.Groups[g]
			if n.Suppressed || (n.N > 0 && n.N < mc) {
				small = append(small, g+" ("+FormatFeasibility(n, s.Rounding > 0)+")")
			}
		}
		if len(small) > 0 {
			out = append(out, app.SiteProblem{Site: s.Site, Code: protocol.CodeRefusedByPolicy,
				Message: fmt.Sprintf("group %s below its minimum of %d patients", strings.Join(small, ", "), mc)})
		}
	}
	return out
}

// updateRunState enables Run only when an analysis can run, and says why not.
func (c *cohortPanel) updateRunState() {
	if c.run == nil {
		return
	}
	reason := ""
	switch {
	case c.ui.offline:
		reason = "Offline: new analyses cannot run until the network is back. Cached results stay available in the Library."
	case c.ui.study == "":
		reason = "Choose a study to run an analysis."
	case c.endpoint != nil && c.endpoint.Selected == "":
		reason = "Choose an endpoint."
	}
	if c.ui.running > 0 {
		c.run.Disable()
		c.cancel.Show()
		c.progress.Show()
		c.progress.Start()
		c.runState.SetText("Asking the sites…")
		c.runState.Show()
		return
	}
	c.cancel.Hide()
	c.progress.Stop()
	c.progress.Hide()
	c.sites.done()
	if reason != "" {
		c.run.Disable()
		c.runState.SetText(reason)
		c.runState.Show()
		return
	}
	c.run.Enable()
	c.runState.Hide()
}

// onRun runs the Kaplan–Meier analysis and the Table 1 of the cohort, after a warning when
// sites' policies would refuse it.
func (c *cohortPanel) onRun() {
	if c.run.Disabled() {
		return
	}
	if len(c.refusals) == 0 {
		c.ui.runAnalyses()
		return
	}
	text := widget.NewLabel(c.warning.Text)
	text.Wrapping = fyne.TextWrapWord
	if c.willAnswer == 0 {
		text.SetText(c.warning.Text + "\n\nNo site would answer: change the cohort or the grouping (a filter can leave out a rare group).")
		c.runDialog = dialog.NewCustom("No site would answer", "OK", text, c.ui.win)
	} else {
		// The safe choice is the prominent one: running without some sites changes the cohort.
		d := dialog.NewCustomWithoutButtons("Some sites will refuse", text, c.ui.win)
		cancel := widget.NewButton("Cancel", d.Hide)
		cancel.Importance = widget.HighImportance
		run := widget.NewButton("Run on the other "+plural(c.willAnswer, "site", "sites"), func() {
			d.Hide()
			c.ui.runAnalyses()
		})
		d.SetButtons([]fyne.CanvasObject{run, cancel})
		c.runDialog = d
	}
	c.runDialog.Resize(fyne.NewSize(520, 0))
	c.runDialog.Show()
}

func (c *cohortPanel) onCancel() {
	c.ui.dropRuns()
	c.runState.SetText("Cancelled.")
	c.runState.Show()
}

// runParts are the results of one Run (generation gen) as they arrive.
type runParts struct {
	gen         int
	km, summary *app.Result
}

// onRunPart records a result of Run gen and, once both are in, says on both tabs when they
// come from different sites (one refused the second query), and why.
func (a *App) onRunPart(gen int, r *app.Result) {
	p := &a.runParts
	if gen != p.gen {
		return
	}
	switch r.Request.Kind {
	case protocol.KindSurvival:
		p.km = r
	case protocol.KindSummary:
		p.summary = r
	}
	note := report.SitesDiffer(report.Part{Name: "Table 1", Result: p.summary}, report.Part{Name: "the Kaplan–Meier curves", Result: p.km})
	if note != "" {
		a.survival.setStatus("⚠ " + note)
		showStatus(a.summary.status, "⚠ "+note)
	}
}

// runAnalyses runs Kaplan–Meier and Table 1 of the cohort and shows the Survival tab.
func (a *App) runAnalyses() {
	ctx, gen := a.newRunContext()
	a.runParts = runParts{gen: gen}
	a.survival.run(ctx, gen, a.cohort.Request(protocol.KindSurvival))
	a.summary.run(ctx, gen, a.summaryRequest())
	if req, ok := a.twoGroupCox(); ok {
		a.survival.runHR(ctx, gen, req)
	}
	a.selectTab(TabSurvival)
}

// twoGroupCox is the Cox model of the endpoint on the grouping variable when it has exactly
// two categories: its hazard ratio (stratified by site) goes into the Kaplan–Meier figure.
func (a *App) twoGroupCox() (app.Request, bool) {
	st := a.currentStudy()
	g := a.cohort.GroupBy()
	if st == nil || g == "" {
		return app.Request{}, false
	}
	v := st.Variable(g)
	if v == nil || v.Type != protocol.Categorical || len(v.Categories) != 2 {
		return app.Request{}, false
	}
	return KMHazardRatioRequest(a.cohort.Request(protocol.KindSurvival)), true
}

// runService runs req on the service off the UI goroutine and hands the result (or error)
// to done on the UI goroutine, unless the run was superseded meanwhile.
func (a *App) runService(ctx context.Context, gen int, req app.Request, done func(*app.Result, error)) {
	a.running++
	a.cohort.updateRunState()
	a.goWork(func() func() {
		r, err := a.svc.Run(ctx, req)
		if err == nil && !r.Cached && req.Kind == protocol.KindSummary {
			// The default name lists every variable; "Table 1 by …" says it in the library.
			name := strings.TrimSuffix("Table 1 by "+req.GroupBy, " by ")
			if req.CohortName != "" {
				name += ", " + req.CohortName
			}
			name += " (" + req.Study + ")"
			if a.svc.Rename(ctx, r.ID, name) == nil {
				r.Name = name
			}
		}
		return func() {
			if gen != a.runGen {
				return
			}
			a.running--
			a.cohort.updateRunState()
			if err != nil && ctx.Err() == context.Canceled {
				return
			}
			done(r, err)
			a.library.onRefresh()
		}
	})
}

// studyVariables lists a study's variables that every site declares alike (all), and the
// categorical ones among them (cats), in catalog order.
func studyVariables(st *app.Study) (all, cats []string) {
	for _, v := range st.Variables {
		if len(v.TypeConflict) > 0 {
			continue
		}
		all = append(all, v.Name)
		if v.Type == protocol.Categorical {
			cats = append(cats, v.Name)
		}
	}
	return all, cats
}
