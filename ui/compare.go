package ui

import (
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
	"github.com/oncofed/oncofed/report/format"
)

// The figures of the compare tab.
const (
	figureLove    = "Balance (Love plot)"
	figureOverlap = "Propensity overlap"
	figureKM      = "Weighted Kaplan–Meier"
)

// compareBySite is the treatment choice that makes the treated arm one site's patients (a
// single-arm trial) and the controls every other site's (app.IPWSpec.TreatedSite).
const compareBySite = "Site (single-arm trial)"

// The Cox forms of the compare tab (app.IPWSpec.Strata).
const (
	coxBySite  = "Cox stratified by site"
	coxPooledB = "Cox with one baseline"
)

// compareTab compares two treatments with propensity weights (app.IPWSpec): the treatment, its
// treated level and the confounders on the left; the Love plot, the overlap histogram or the
// weighted Kaplan–Meier curves on the right, with the hazard ratio (robust CI), the effective
// sample sizes and warnings when balance is not reached or a few weights dominate.
type compareTab struct {
	host    compareHost
	content fyne.CanvasObject

	treatment   *variableSelect
	treated     *widget.Select
	confounders *covariateList // by their labels
	estimand    *widget.RadioGroup
	trim        *widget.Select
	coxForm     *widget.RadioGroup
	adjust      *covariateList // the outcome model's covariates, among the confounders
	adjustNote  *widget.Label  // why the adjustment is not offered
	mergeBtn    *widget.Button // coarsening the confounders (comparemerge.go)
	mergeRow    *fyne.Container
	merge       map[string][]protocol.LevelGroup
	run         *widget.Button
	view        *widget.Select
	export      *widget.Select
	pin         *widget.Button
	figure      *figureView
	summary     *linesLabel
	warnings    *widget.Label
	privacy     *widget.Label
	status      *widget.Label
	result      *app.Result
	study       *app.Study
}

const comparePlaceholder = "Choose a treatment, its treated level and the confounders, then press Compare."

// compareHost is what the Compare treatments tab needs from the window: the cohort, its study
// and the sites' policies, the run, and the means to show, save and pin a result.
type compareHost interface {
	cohortHost
	runHost
	viewHost
	// dpAnalyst reports whether the analyst has the dp role at a site holding st: the
	// comparison is then one differentially private release per site (docs/dp-compare.md),
	// which takes no merge.
	dpAnalyst(st *app.Study) bool
}

func newCompareTab(host compareHost, do func(func())) *compareTab {
	t := &compareTab{host: host}
	t.treatment = newVariableSelect("Treatment…", t.onTreatment)
	t.treated = widget.NewSelect(nil, nil)
	t.treated.PlaceHolder = "Treated level…"
	label := func(v string) string { return host.names().Variable(v) }
	t.newMergeRow()
	t.confounders = newCovariateList(label, func([]string) { t.offerAdjust(); t.setMerge(t.merge) })
	t.estimand = widget.NewRadioGroup([]string{"ATE", "ATT", "overlap"}, nil)
	t.estimand.Horizontal = true
	t.estimand.Selected = "ATE"
	t.estimand.Required = true
	t.trim = widget.NewSelect([]string{"no trimming", "0.01", "0.05"}, nil)
	t.trim.Selected = "no trimming"
	t.adjust = newCovariateList(label, nil)
	t.adjust.Disable()
	t.adjustNote = widget.NewLabel("")
	t.adjustNote.Wrapping = fyne.TextWrapWord
	t.adjustNote.SizeName = theme.SizeNameCaptionText
	t.adjustNote.Hide()
	t.coxForm = widget.NewRadioGroup([]string{coxBySite, coxPooledB}, func(string) { t.offerAdjust() })
	t.coxForm.Selected = coxBySite
	t.coxForm.Required = true
	t.run = widget.NewButtonWithIcon("Compare", theme.MediaPlayIcon(), t.onRun)
	t.run.Importance = widget.HighImportance
	t.view = widget.NewSelect([]string{figureLove, figureOverlap, figureKM}, func(string) { t.redraw() })
	t.view.Selected = figureKM
	t.export = widget.NewSelect([]string{"PNG", "SVG", "PDF", "CSV (balance)"}, func(s string) {
		if s == "" {
			return
		}
		t.export.ClearSelected()
		t.exportAs(s)
	})
	t.export.PlaceHolder = "Export…"
	t.pin = widget.NewButtonWithIcon("Pin", theme.ContentAddIcon(), func() { t.host.pinResult(t.result, t.displayed()) })
	t.pin.Disable()
	t.figure = newFigureView(do, comparePlaceholder)
	t.summary = newLinesLabel() // three lines, each its own label (see linesLabel)
	t.warnings = widget.NewLabel("")
	t.warnings.Wrapping = fyne.TextWrapWord
	t.warnings.Importance = widget.WarningImportance
	t.warnings.Hide()
	t.privacy = widget.NewLabel("")
	t.privacy.Wrapping = fyne.TextWrapWord
	t.privacy.SizeName = theme.SizeNameCaptionText
	t.status = widget.NewLabel("")
	t.status.Wrapping = fyne.TextWrapWord
	t.status.Hide()
	bold := func(s string) *widget.Label {
		return widget.NewLabelWithStyle(s, fyne.TextAlignLeading, fyne.TextStyle{Bold: true})
	}
	left := container.NewVBox(
		bold("Treatment"), t.treatment.Select, t.treated,
		bold("Confounders"), t.confounders, t.mergeBtn, t.mergeRow,
		bold("Weights"), t.estimand, t.trim,
		bold("Outcome model"), t.coxForm,
		widget.NewLabel("Adjusted for:"), t.adjust, t.adjustNote,
		t.run,
	)
	bar := newToolbar(1, widget.NewLabel("Compare treatments"), t.view, t.pin, t.export)
	right := container.NewBorder(container.NewVBox(bar, t.status), container.NewVBox(t.summary.content, t.warnings, t.privacy), nil, nil, t.figure)
	split := container.NewHSplit(container.NewVScroll(left), right)
	split.Offset = 0.22
	t.content = split
	return t
}

// setStudy offers the study's categorical variables as treatments and every variable as a
// confounder.
func (t *compareTab) setStudy(st *app.Study) {
	t.study = st
	var cats, all []string
	for _, v := range st.Variables {
		if len(v.TypeConflict) > 0 {
			continue
		}
		all = append(all, v.Name)
		if v.Type == protocol.Categorical && len(v.Categories) >= 2 {
			cats = append(cats, v.Name)
		}
	}
	t.treatment.SetNames(append(cats, compareBySite), report.Names{From: st}.Variable)
	t.treated.Options = nil
	t.treated.ClearSelected()
	t.confounders.Options = all
	t.confounders.Selected = nil
	t.confounders.Refresh()
	t.offerAdjust()
	t.setMerge(nil)
}

func (t *compareTab) onTreatment(name string) {
	if t.study == nil {
		return
	}
	t.treated.Options = nil
	t.coxForm.Enable()
	if name == compareBySite {
		// Each site then holds one arm: a model stratified by site would compare nothing.
		t.treated.Options = append([]string(nil), t.study.Sites...)
		t.treated.PlaceHolder = "Trial site…"
		t.coxForm.SetSelected(coxPooledB)
		t.coxForm.Disable()
	} else if v := t.study.Variable(name); v != nil {
		t.treated.Options = append([]string(nil), v.Categories...)
		t.treated.PlaceHolder = "Treated level…"
	}
	t.treated.ClearSelected()
	t.treated.Refresh()
	t.offerAdjust()
	t.setMerge(t.merge)
}

// offerAdjust offers the chosen confounders as the outcome model's covariates, keeping those
// still offered: stratified by site under every policy, pooled only where every site allows
// pooled models (allow_pooled_cox; docs/ipw.md).
func (t *compareTab) offerAdjust() {
	var opts, kept []string
	for _, c := range t.confounders.Selected {
		if c != t.treatment.Name() {
			opts = append(opts, c)
		}
	}
	for _, c := range t.adjust.Selected {
		if slices.Contains(opts, c) {
			kept = append(kept, c)
		}
	}
	var refuse []string
	if t.study != nil && t.coxForm.Selected == coxPooledB {
		refuse = t.host.pooledRefusers(t.study)
	}
	if len(refuse) > 0 {
		// One refusing site aborts the adjusted model's rounds: not offered, and why.
		opts, kept = nil, nil
		who := "no site's policy allows it"
		if len(refuse) < len(t.study.Sites) {
			who = "the policies of " + strings.Join(refuse, ", ") + " do not allow it"
		}
		t.adjustNote.SetText("Adjusting the pooled model is not offered: " + who + " (allow_pooled_cox: its sums per time disclose covariate values). Stratified by site, it is.")
		t.adjustNote.Show()
	} else {
		t.adjustNote.Hide()
	}
	t.adjust.Options, t.adjust.Selected = opts, kept
	if len(refuse) == 0 {
		t.adjust.Enable()
	} else {
		t.adjust.Disable()
	}
	t.adjust.Refresh()
}

// Request is the weighted comparison of the cohort with the choices on the tab.
func (t *compareTab) Request() app.Request {
	req := t.host.cohortRequest(protocol.KindIPW)
	req.GroupBy = ""
	var conf []string
	for _, c := range t.confounders.Selected {
		if c != t.treatment.Name() {
			conf = append(conf, c)
		}
	}
	spec := &app.IPWSpec{Treatment: t.treatment.Name(), Treated: t.treated.Selected, Confounders: conf, Estimand: t.estimand.Selected, Strata: "site"}
	if t.coxForm.Selected == coxPooledB {
		spec.Strata = "none"
	}
	for _, c := range t.adjust.Selected {
		if slices.Contains(conf, c) {
			spec.Adjust = append(spec.Adjust, c)
		}
	}
	if spec.Treatment == compareBySite {
		spec.Treatment, spec.Treated, spec.TreatedSite = "", "", t.treated.Selected
	}
	fmt.Sscan(t.trim.Selected, &spec.Trim)
	spec.Merge = t.Merge()
	req.IPW = spec
	return req
}

func (t *compareTab) onRun() {
	if t.host.Offline() {
		t.setStatus("Offline: a weighted comparison needs the sites. Cached comparisons open from the Library.")
		return
	}
	req := t.Request()
	switch {
	case req.IPW.TreatedSite == "" && (req.IPW.Treatment == "" || req.IPW.Treated == ""):
		t.setStatus("Choose the treatment and its treated level (or, for a single-arm trial, the trial site).")
		return
	case len(req.IPW.Confounders) == 0:
		t.setStatus("Choose at least one confounder.")
		return
	}
	ctx, gen := t.host.newRunContext()
	if t.host.dpAnalyst(t.study) {
		t.setStatus("Comparing: one differentially private release from every site, then the propensity model, the weights and the outcomes on this computer…")
	} else {
		t.setStatus("Comparing: the propensity model, then the weighted outcomes — one round trip to every site per step…")
	}
	t.host.runService(ctx, gen, req, func(r *app.Result, err error) {
		if err != nil {
			t.setStatus("No comparison. " + ErrorText(err))
			return
		}
		t.show(r)
	})
}

func (t *compareTab) setStatus(s string) { showStatus(t.status, s) }

// show displays a weighted comparison.
func (t *compareTab) show(r *app.Result) {
	if r == nil || r.IPW == nil {
		return
	}
	t.result = r
	t.setStatus("")
	if r.Cached {
		t.setStatus("Shown from the cache: " + app.AsOf(t.host.now(), &r.Provenance) + ".")
	}
	t.pin.Enable()
	t.summary.SetText(CompareSummary(r))
	if w := r.IPW.Warnings(); len(w) > 0 {
		t.warnings.SetText("⚠ " + strings.Join(w, "\n⚠ "))
		t.warnings.Show()
	} else {
		t.warnings.Hide()
	}
	privacy := report.PrivacyLine(r, t.host.now())
	if line := report.IPWDPLine(r); line != "" {
		privacy = line + "\n" + privacy
	}
	t.privacy.SetText(privacy)
	t.redraw()
}

// CompareSummary is the text under the figure, three short lines: the hazard ratio with its
// robust CI, the Cox form, the weighted log-rank test and both SEs, the effective sample sizes.
func CompareSummary(r *app.Result) string {
	res := r.IPW
	cox, rob := res.Cox, res.Robust
	treatment, treated := r.Request.IPW.TreatmentNames()
	form := "stratified by site"
	if res.Strata == "none" {
		form = "one baseline hazard"
	}
	if len(cox.Terms) > 1 {
		form += ", adjusted for " + strings.Join(cox.Terms[1:], ", ")
	}
	return fmt.Sprintf("%s = %s vs the rest (%s weights): HR %s, robust 95%% CI, p %s\n"+
		"Cox %s · weighted log-rank p %s · SE robust %.4f, naive %.4f\n"+
		"Effective sample size: treated %.1f of %s, control %.1f of %s",
		treatment, treated, res.Estimand,
		chart.FormatHR(cox.HR[0], rob.Lower[0], rob.Upper[0]), format.PNumber(rob.P[0]),
		form, format.PNumber(rob.Score.P), rob.SE[0], cox.SE[0],
		res.Treated.ESS, format.Thousands(res.Treated.Kept), res.Control.ESS, format.Thousands(res.Control.Kept))
}

// displayed is the figure on show, which the result's slide keeps when it is pinned.
func (t *compareTab) displayed() *app.Display {
	switch t.view.Selected {
	case figureLove:
		return &app.Display{View: app.ViewLove}
	case figureOverlap:
		return &app.Display{View: app.ViewOverlap}
	}
	return &app.Display{}
}

// figureFor builds the chosen figure of r in style.
func (t *compareTab) figureFor(r *app.Result, view string, style chart.Style) chart.Figure {
	switch view {
	case figureLove:
		return report.LoveFigure(r, style)
	case figureOverlap:
		return report.OverlapFigure(r, style)
	}
	return report.WeightedKMFigure(r, style)
}

func (t *compareTab) redraw() {
	r := t.result
	if r == nil {
		return
	}
	view, style := t.view.Selected, t.host.chartStyle()
	t.figure.SetFigure(func() chart.Figure { return t.figureFor(r, view, style) }, "")
}

func (t *compareTab) exportAs(kind string) {
	if t.result == nil {
		dialog.ShowInformation("Export", "Compare first: there is nothing to export.", t.host.window())
		return
	}
	r := t.result
	if strings.HasPrefix(kind, "CSV") {
		t.host.saveFile("balance-"+r.Request.Study+".csv", func(w io.Writer) error { return report.WriteBalanceCSV(w, r) })
		return
	}
	ext := strings.ToLower(kind)
	fig := t.figureFor(r, t.view.Selected, chart.PublicationStyle())
	t.host.saveFile("compare-"+r.Request.Study+"."+ext, func(w io.Writer) error { return writeFigure(w, ext, fig) })
}

func (t *compareTab) clear() {
	t.result = nil
	t.summary.SetText("")
	t.warnings.Hide()
	t.privacy.SetText("")
	t.pin.Disable()
	t.figure.SetFigure(nil, comparePlaceholder)
	t.setStatus("")
}
