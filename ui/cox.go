package ui

import (
	"fmt"
	"io"
	"math"
	"strings"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/dialog"
	"fyne.io/fyne/v2/layout"
	"fyne.io/fyne/v2/theme"
	"fyne.io/fyne/v2/widget"

	"github.com/oncofed/oncofed/app"
	"github.com/oncofed/oncofed/chart"
	"github.com/oncofed/oncofed/protocol"
)

const (
	formStratified = "Stratified by site"
	formPooled     = "Pooled (one baseline)"
)

// coxTab fits a Cox model over the sites: covariates, ties, stratified by site or pooled; it
// shows the hazard ratios as a table and a forest plot.
type coxTab struct {
	ui      *App
	content fyne.CanvasObject

	covariates *widget.CheckGroup
	ties       *widget.RadioGroup
	form       *widget.RadioGroup
	fit        *widget.Button
	export     *widget.Select
	pin        *widget.Button
	table      *fyne.Container
	model      *widget.Label
	figure     *figureView
	privacy    *widget.Label
	status     *widget.Label
	result     *app.Result
}

func newCoxTab(a *App) *coxTab {
	t := &coxTab{ui: a}
	t.covariates = widget.NewCheckGroup(nil, nil)
	t.ties = widget.NewRadioGroup([]string{"Efron", "Breslow"}, nil)
	t.ties.Horizontal = true
	t.ties.Selected = "Efron"
	t.ties.Required = true
	t.form = widget.NewRadioGroup([]string{formStratified, formPooled}, nil)
	t.form.Selected = formStratified
	t.form.Required = true
	t.fit = widget.NewButtonWithIcon("Fit model", theme.MediaPlayIcon(), t.onFit)
	t.fit.Importance = widget.HighImportance
	t.export = widget.NewSelect([]string{"PNG", "SVG", "PDF"}, func(s string) {
		if s == "" {
			return
		}
		t.export.ClearSelected()
		t.exportAs(strings.ToLower(s))
	})
	t.export.PlaceHolder = "Export…"
	t.pin = widget.NewButtonWithIcon("Pin", theme.ContentAddIcon(), func() { t.ui.pinResult(t.result) })
	t.pin.Disable()
	t.table = container.New(gridTable{cols: 4})
	t.model = widget.NewLabel("")
	t.model.Wrapping = fyne.TextWrapWord
	t.figure = newFigureView(a.opt.Do, "Choose covariates and press Fit model to see hazard ratios.")
	t.privacy = widget.NewLabel("")
	t.privacy.Wrapping = fyne.TextWrapWord
	t.privacy.SizeName = theme.SizeNameCaptionText
	t.status = widget.NewLabel("")
	t.status.Wrapping = fyne.TextWrapWord
	t.status.Hide()

	left := container.NewVBox(
		widget.NewLabelWithStyle("Covariates", fyne.TextAlignLeading, fyne.TextStyle{Bold: true}),
		t.covariates,
		widget.NewLabelWithStyle("Ties", fyne.TextAlignLeading, fyne.TextStyle{Bold: true}), t.ties,
		widget.NewLabelWithStyle("Baseline hazard", fyne.TextAlignLeading, fyne.TextStyle{Bold: true}), t.form,
		t.fit,
	)
	bar := container.NewHBox(widget.NewLabel("Cox proportional hazards model of the cohort's endpoint"), layout.NewSpacer(), t.pin, t.export)
	right := container.NewBorder(container.NewVBox(bar, t.status), container.NewVBox(t.table, t.model, t.privacy), nil, nil, t.figure)
	split := container.NewHSplit(container.NewVScroll(left), right)
	split.Offset = 0.22
	t.content = split
	return t
}

// setStudy offers the study's variables as covariates.
func (t *coxTab) setStudy(st *app.Study) {
	var opts []string
	for _, v := range st.Variables {
		if len(v.TypeConflict) == 0 {
			opts = append(opts, v.Name)
		}
	}
	t.covariates.Options = opts
	t.covariates.Selected = nil
	t.covariates.Refresh()
}

// Request is the Cox request for the cohort and the choices on the tab.
func (t *coxTab) Request() app.Request {
	req := t.ui.cohort.Request(protocol.KindCox)
	req.GroupBy = ""
	form := protocol.CoxStratified
	if t.form.Selected == formPooled {
		form = protocol.CoxPooled
	}
	req.Cox = &app.CoxSpec{Covariates: append([]string(nil), t.covariates.Selected...), Ties: strings.ToLower(t.ties.Selected), Form: form}
	return req
}

func (t *coxTab) onFit() {
	if t.ui.offline {
		t.setStatus("Offline: a Cox model needs the sites (one round per iteration). Cached fits open from the Library.")
		return
	}
	if len(t.covariates.Selected) == 0 {
		t.setStatus("Choose at least one covariate.")
		return
	}
	ctx, gen := t.ui.newRunContext()
	t.setStatus("Fitting: one round trip to every site per Newton–Raphson iteration…")
	t.ui.runService(ctx, gen, t.Request(), func(r *app.Result, err error) {
		if err != nil {
			t.setStatus("No Cox model. " + ErrorText(err))
			return
		}
		t.show(r)
	})
}

func (t *coxTab) setStatus(s string) {
	if s == "" {
		t.status.Hide()
		return
	}
	t.status.SetText(s)
	t.status.Show()
}

// show displays a Cox result.
func (t *coxTab) show(r *app.Result) {
	if r == nil || r.Cox == nil || r.Cox.Fit == nil {
		return
	}
	t.result = r
	t.setStatus("")
	if r.Cached {
		t.setStatus("Shown from the cache: " + app.AsOf(t.ui.opt.Now(), &r.Provenance) + ".")
	}
	t.pin.Enable()
	fit := r.Cox.Fit
	t.table.RemoveAll()
	for _, h := range []string{"Term", "HR (95% CI)", "p", "coef (SE)"} {
		t.table.Add(widget.NewLabelWithStyle(h, fyne.TextAlignLeading, fyne.TextStyle{Bold: true}))
	}
	for i, term := range fit.Terms {
		t.table.Add(widget.NewLabel(TermLabel(r.Request, term)))
		if math.IsNaN(fit.Coef[i]) {
			t.table.Add(widget.NewLabel("not estimable"))
			t.table.Add(widget.NewLabel(""))
			t.table.Add(widget.NewLabel(""))
			continue
		}
		t.table.Add(widget.NewLabel(chart.FormatHR(fit.HR[i], fit.Lower[i], fit.Upper[i])))
		t.table.Add(widget.NewLabel(strings.TrimPrefix(chart.FormatP(fit.P[i]), "p = ")))
		t.table.Add(widget.NewLabel(fmt.Sprintf("%.4f (%.4f)", fit.Coef[i], fit.SE[i])))
	}
	t.table.Refresh()
	form := "stratified by site"
	if r.Cox.Form == protocol.CoxPooled {
		form = "pooled baseline"
	}
	m := fmt.Sprintf("%s patients, %s events · %s ties, %s · likelihood ratio test %s on %d df · %d iterations",
		thousands(fit.N), thousands(fit.Events), r.Cox.Ties, form, chart.FormatP(fit.LRT.P), fit.LRT.DF, fit.Iterations)
	if r.Cox.Excluded > 0 {
		m += fmt.Sprintf(" · %d patients left out for a missing covariate", r.Cox.Excluded)
	}
	if r.Cox.FitError != "" {
		m += "\n⚠ " + r.Cox.FitError
	}
	for _, w := range fit.Warnings {
		m += "\n⚠ " + w
	}
	t.model.SetText(m)
	t.privacy.SetText(PrivacyLine(r, t.ui.opt.Now()))
	style := t.ui.chartStyle()
	if fig := ForestFigure(r, style, ""); fig != nil {
		t.figure.SetFigure(func() chart.Figure { return ForestFigure(r, style, "") }, "")
	} else {
		t.figure.SetFigure(nil, "No estimable term to plot.")
	}
}

// ForestFigure is the forest plot of a Cox result: one row per estimable term, squares sized
// by inverse variance; nil when no term is estimable.
func ForestFigure(r *app.Result, style chart.Style, footnote string) *chart.ForestPlot {
	fit := r.Cox.Fit
	f := &chart.ForestPlot{Title: "Cox model: " + r.Request.Endpoint, LabelHeader: "Term", Footnote: footnote, Style: style}
	for i, term := range fit.Terms {
		hr, lo, hi := fit.HR[i], fit.Lower[i], fit.Upper[i]
		if !(hr > 0) || !(lo > 0) || math.IsInf(hi, 0) || math.IsNaN(hi) || math.IsInf(hr, 0) {
			continue
		}
		// Terms are on different scales, so their inverse variances are no weights: equal squares.
		f.Rows = append(f.Rows, chart.ForestRow{Label: TermLabel(r.Request, term), HR: hr, Lower: lo, Upper: hi})
	}
	if len(f.Rows) == 0 {
		return nil
	}
	return f
}

func (t *coxTab) exportAs(format string) {
	if t.result == nil {
		dialog.ShowInformation("Export", "Fit a model first: there is no forest plot to export.", t.ui.win)
		return
	}
	r := t.result
	foot := cohortWords(r.Request) + ". " + PrivacyLine(r, t.ui.opt.Now())
	fig := ForestFigure(r, chart.PublicationStyle(), foot)
	if fig == nil {
		return
	}
	t.ui.saveFile("forest-"+r.Request.Study+"."+format, func(w io.Writer) error { return writeFigure(w, format, fig) })
}

// TermLabel names a design column for readers: "sex: male vs female" for the treatment
// contrast of level male of a categorical covariate (the first level is the reference),
// "age (per year)" for a numeric covariate with a unit known as years, the column otherwise.
func TermLabel(req app.Request, term string) string {
	if req.Cox == nil {
		return term
	}
	for v, levels := range req.Cox.Levels {
		if len(levels) < 2 || !strings.HasPrefix(term, v) {
			continue
		}
		for _, l := range levels[1:] {
			if term == v+l {
				return v + ": " + l + " vs " + levels[0]
			}
		}
	}
	return term
}

// clear empties the tab (a new study was chosen).
func (t *coxTab) clear() {
	t.result = nil
	t.table.RemoveAll()
	t.model.SetText("")
	t.privacy.SetText("")
	t.pin.Disable()
	t.figure.SetFigure(nil, "Choose covariates and press Fit model to see hazard ratios.")
	t.setStatus("")
}
