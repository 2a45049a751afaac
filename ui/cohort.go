package ui

import (
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
