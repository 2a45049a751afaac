package ui

import (
	"context"
	"fmt"
	"math"
	"strconv"
	"strings"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/theme"
	"fyne.io/fyne/v2/widget"

	"github.com/oncofed/oncofed/app"
	"github.com/oncofed/oncofed/chart"
	"github.com/oncofed/oncofed/protocol"
	"github.com/oncofed/oncofed/report"
	"github.com/oncofed/oncofed/report/format"
)

// modelTab is the prognostic model (issue 20): build and fit a Cox model, validate it leave
// one site out (forest plots of the held-out sites' C and calibration slopes with the pooled
// estimate and its prediction interval), and predict survival for one patient whose profile
// stays on this computer (docs/prediction.md).
type modelTab struct {
	host    modelHost
	svc     modelService
	content fyne.CanvasObject

	*modelBuilder // covariates, reference levels, ties, form: as the Cox tab's
	penalty       *widget.Select
	theta         *widget.Entry
	scale         *widget.Check // R's ridge(scale = TRUE)
	landmarks     *widget.Entry
	fit           *widget.Button
	validate      *widget.Button
	pin           *widget.Button
	summary       *widget.Label
	status        *widget.Label
	result        *app.Result
	ridgeFig      *figureView
	valTabs       *container.AppTabs // the validation's figures and the penalty's curve

	// Validation panel.
	losoText  *widget.Label
	cForest   *figureView
	slopeFig  *figureView
	calTable  *fyne.Container
	calFig    *figureView
	validated *app.LOSOResult

	// Patient panel.
	profileBox *fyne.Container
	fields     map[string]func() string // covariate → its value as typed or chosen
	predict    *widget.Button
	curve      *figureView
	atTable    *fyne.Container
	position   *widget.Label
	note       *widget.Label
	prediction *app.Prediction
	panels     *container.AppTabs
	lpStop     context.CancelFunc // the patient's place among the cohort, asked
}

// modelHost is what the Model tab needs from the window: the cohort and its study (the model
// builder's), runs and secondary jobs, and the means to show and pin a result.
type modelHost interface {
	builderHost
	runHost
	viewHost
}

// modelService is the part of the service the Model tab calls itself: where a patient's risk
// score lies among the cohort's.
type modelService interface {
	LPHistogram(ctx context.Context, r *app.Result, width float64) (*app.LPHistogramResult, error)
}

// Model tab names and the panels' names.
const (
	TabModel        = "Model"
	panelValidation = "Validation"
	panelPatient    = "Patient"

	penaltyNone  = "None"
	penaltyLOSO  = "Ridge, θ leave-one-site-out"
	penaltyFixed = "Ridge, θ as given"
)

func newModelTab(host modelHost, svc modelService, do func(func())) *modelTab {
	t := &modelTab{host: host, svc: svc, fields: map[string]func() string{}, modelBuilder: newModelBuilder(host, formPooled)}
	t.theta = widget.NewEntry()
	t.theta.SetText("1")
	t.theta.Disable()
	t.penalty = widget.NewSelect([]string{penaltyNone, penaltyLOSO, penaltyFixed}, func(s string) {
		if s == penaltyFixed {
			t.theta.Enable()
		} else {
			t.theta.Disable()
		}
		if t.scale == nil {
			return
		}
		if s == penaltyNone {
			t.scale.Disable()
		} else {
			t.scale.Enable()
		}
	})
	t.scale = widget.NewCheck("Scale by each column's variance", nil)
	t.penalty.SetSelected(penaltyNone)
	t.landmarks = widget.NewEntry()
	t.landmarks.SetText("365, 730, 1825")
	t.fit = widget.NewButtonWithIcon("Fit model", theme.MediaPlayIcon(), t.onFit)
	t.fit.Importance = widget.HighImportance
	t.validate = widget.NewButtonWithIcon("Validate", theme.ConfirmIcon(), t.onValidate)
	t.validate.Disable()
	t.pin = widget.NewButtonWithIcon("Pin", theme.ContentAddIcon(), t.onPin)
	t.pin.Disable()
	t.summary = wrapLabel("")
	t.status = wrapLabel("")
	t.status.Hide()

	t.losoText = wrapLabel("Fit a model, then validate it: each site evaluates the model fitted on all the others.")
	t.cForest = newFigureView(do, "The held-out sites' C will show here.")
	t.slopeFig = newFigureView(do, "The held-out sites' calibration slopes will show here.")
	t.calTable = container.New(gridTable{cols: 5})
	t.calFig = newFigureView(do, "Validated with the pooled model, each held-out site's observed and predicted survival at the landmarks shows here.")
	t.ridgeFig = newFigureView(do, "With a ridge penalty chosen leaving one site out, the held-out likelihood of each θ tried shows here.")
	t.valTabs = container.NewAppTabs(container.NewTabItem("Discrimination (C)", t.cForest),
		container.NewTabItem("Calibration slope", t.slopeFig),
		// The table scrolls both ways: its five columns of numbers are wider than a narrow screen.
		container.NewTabItem("Calibration at landmarks", container.NewVSplit(t.calFig, container.NewScroll(t.calTable))),
		container.NewTabItem("Penalty (θ)", t.ridgeFig))
	validation := container.NewBorder(t.losoText, nil, nil, nil, t.valTabs)

	t.profileBox = container.NewVBox() // a label above each field: labels are long
	t.predict = widget.NewButtonWithIcon("Predict", theme.MediaPlayIcon(), t.onPredict)
	t.predict.Disable()
	t.curve = newFigureView(do, "Fit the pooled model, enter a patient's values and press Predict.")
	t.atTable = container.New(gridTable{cols: 2})
	t.position = wrapLabel("")
	t.note = wrapLabel("The profile stays on this computer: the curve is computed here from the pooled model's baseline hazard.")
	t.note.SizeName = theme.SizeNameCaptionText
	profile := container.NewVBox(widget.NewLabelWithStyle("Patient", fyne.TextAlignLeading, fyne.TextStyle{Bold: true}),
		t.profileBox, t.predict, t.atTable, t.position)
	patient := container.NewBorder(nil, t.note, container.NewVScroll(profile), nil, t.curve)

	t.panels = container.NewAppTabs(container.NewTabItem(panelValidation, validation), container.NewTabItem(panelPatient, patient))
	left := container.NewVBox(append(t.builderObjects(),
		widget.NewLabelWithStyle("Penalty", fyne.TextAlignLeading, fyne.TextStyle{Bold: true}), t.penalty,
		container.NewBorder(nil, nil, widget.NewLabel("θ"), nil, t.theta), t.scale,
		widget.NewLabelWithStyle("Landmarks (days)", fyne.TextAlignLeading, fyne.TextStyle{Bold: true}), t.landmarks,
		t.fit, t.validate, t.pin)...)
	right := container.NewBorder(container.NewVBox(t.summary, t.status), nil, nil, nil, t.panels)
	split := container.NewHSplit(container.NewVScroll(left), right)
	split.Offset = 0.2
	t.content = split
	return t
}

func wrapLabel(s string) *widget.Label {
	l := widget.NewLabel(s)
	l.Wrapping = fyne.TextWrapWord
	return l
}

// setStudy offers the study's variables as covariates and forgets the previous model.
func (t *modelTab) setStudy(st *app.Study) {
	t.offerStudy(st)
	t.clear()
}

func (t *modelTab) clear() {
	t.result, t.validated, t.prediction = nil, nil, nil
	t.validate.Disable()
	t.predict.Disable()
	t.pin.Disable()
	t.summary.SetText("")
	t.profileBox.RemoveAll()
	t.fields = map[string]func() string{}
	t.atTable.RemoveAll()
	t.position.SetText("")
	t.calTable.RemoveAll()
	t.cForest.SetFigure(nil, "The held-out sites' C will show here.")
	t.slopeFig.SetFigure(nil, "The held-out sites' calibration slopes will show here.")
	t.curve.SetFigure(nil, "Fit the pooled model, enter a patient's values and press Predict.")
	t.ridgeFig.SetFigure(nil, "With a ridge penalty chosen leaving one site out, the held-out likelihood of each θ tried shows here.")
}

func (t *modelTab) setStatus(s string) { showStatus(t.status, s) }

// modelRequest is the model's Cox request for the cohort and the tab's choices, its penalty
// included.
func (t *modelTab) modelRequest() (app.Request, error) {
	req := t.request()
	switch t.penalty.Selected {
	case penaltyLOSO:
		req.Cox.Penalty = &app.RidgeSpec{Choose: app.ChooseLOSO, Scale: t.scale.Checked}
	case penaltyFixed:
		v, err := strconv.ParseFloat(strings.TrimSpace(t.theta.Text), 64)
		if err != nil || !(v >= 0) || math.IsInf(v, 0) {
			return req, fmt.Errorf("θ %q is not a number ≥ 0", t.theta.Text)
		}
		req.Cox.Penalty = &app.RidgeSpec{Theta: v, Scale: t.scale.Checked}
	}
	return req, nil
}

// landmarkDays parses the landmarks field: increasing positive days.
func (t *modelTab) landmarkDays() ([]float64, error) {
	var out []float64
	for i, f := range strings.Split(t.landmarks.Text, ",") {
		f = strings.TrimSpace(f)
		if f == "" {
			continue
		}
		v, err := strconv.ParseFloat(f, 64)
		if err != nil || v <= 0 || (len(out) > 0 && v <= out[len(out)-1]) {
			return nil, fmt.Errorf("landmark %d (%q) is not a day after the previous one", i+1, f)
		}
		out = append(out, v)
	}
	return out, nil
}

func (t *modelTab) onFit() {
	req, err := t.modelRequest()
	if err != nil {
		t.setStatus("Penalty: " + err.Error())
		return
	}
	fitModel(t.host, t.setStatus, "Offline: fitting a model needs the sites. Cached fits open from the Library.",
		len(t.covariates.Selected), func() app.Request { return req }, "No model. ", t.show)
}

// show displays a fitted model: its summary, and the patient's fields when it can predict.
func (t *modelTab) show(r *app.Result) {
	if r == nil || r.Cox == nil || r.Cox.Fit == nil {
		return
	}
	t.clear()
	t.result = r
	t.setStatus("")
	fit := r.Cox.Fit
	var terms []string
	for _, row := range report.CoxRows(r, t.host.names()) {
		if row.Estimable && !row.Reference {
			terms = append(terms, fmt.Sprintf("%s HR %s", row.Label, chart.FormatHR(row.HR, row.Lower, row.Upper)))
		}
	}
	if r.Cox.Validation != nil {
		defer t.showValidation(r.Cox.Validation)
	}
	penalty := ""
	if pen := app.FittedPenalty(r); pen != nil {
		penalty = ", " + pen.String()
	}
	t.summary.SetText(fmt.Sprintf("Cox model, %s, %s ties%s: %s patients, %s events over %d sites. %s.",
		formName(r), r.Cox.Ties, penalty, format.Thousands(fit.N), format.Thousands(fit.Events), len(r.Provenance.Answered), strings.Join(terms, "; ")) +
		dpSummary(r, t.host.names()))
	if report.RidgeCurveFigure(r, t.host.chartStyle()) != nil {
		style := t.host.chartStyle()
		t.ridgeFig.SetFigure(func() chart.Figure { return report.RidgeCurveFigure(r, style) }, "")
	}
	t.validate.Enable()
	t.pin.Enable()
	if r.Cox.Baseline == nil {
		_, err := app.Predict(r, nil, nil)
		t.position.SetText("No prediction: " + ErrorText(err))
		return
	}
	t.buildProfile(r)
	t.predict.Enable()
}

func formName(r *app.Result) string {
	switch {
	case r.Cox.Form == protocol.CoxPooled:
		return "pooled baseline"
	case r.Cox.Form == protocol.CoxDPTables && r.Request.Cox.DPPooled:
		return "pooled baseline, fitted on differentially private tables (no pooled opt-in: post-processing; the SEs leave out the noise, the p-values and intervals include it)"
	case r.Cox.Form == protocol.CoxDPTables:
		return "stratified by site, fitted on differentially private tables (the SEs leave out the noise, the p-values and intervals include it)"
	}
	return "stratified by site"
}

// dpSummary is, for a model fitted on differentially private tables, the ρ its release cost and
// the noise's SD per coefficient, after the summary; "" otherwise.
func dpSummary(r *app.Result, names report.Names) string {
	if !dpModel(r) {
		return ""
	}
	rho := 0.0
	for _, s := range r.Provenance.Sites {
		if d := s.Policy.DP; d != nil {
			rho = math.Max(rho, d.Rho)
		}
	}
	s := fmt.Sprintf(" Released at ρ=%s per site.", strconv.FormatFloat(rho, 'g', -1, 64))
	if line := report.DPNoiseLine(r, names); line != "" {
		s += " " + line + "."
	}
	return s
}

// dpModel reports whether r was fitted on differentially private tables: its validation, its
// prediction and its patients' risk scores are then computed here from those tables, with no
// query (docs/dp-validation.md).
func dpModel(r *app.Result) bool {
	return r != nil && r.Request.Cox != nil && r.Request.Cox.Form == protocol.CoxDPTables
}

// buildProfile offers one field per covariate, under its label: the levels of a categorical
// one, a number for a numeric one (its unit in the label).
func (t *modelTab) buildProfile(r *app.Result) {
	st := t.host.currentStudy()
	for _, v := range r.Request.Cox.Covariates {
		label := t.host.names().Variable(v) // the dictionary's label, above its field
		if st != nil {
			if vr := st.Variable(v); vr != nil && vr.Unit != "" {
				label += " (" + vr.Unit + ")"
			}
		}
		t.profileBox.Add(wrapLabel(label))
		if lv, ok := r.Request.Cox.Levels[v]; ok {
			sel := widget.NewSelect(lv, nil)
			sel.SetSelectedIndex(0)
			t.profileBox.Add(sel)
			t.fields[v] = func() string { return sel.Selected }
			continue
		}
		e := widget.NewEntry()
		e.SetPlaceHolder("value")
		t.profileBox.Add(e)
		t.fields[v] = func() string { return strings.TrimSpace(e.Text) }
	}
	t.profileBox.Refresh()
}

func (t *modelTab) onPredict() {
	if t.result == nil {
		return
	}
	profile := map[string]string{}
	for v, get := range t.fields {
		if s := get(); s != "" {
			profile[v] = s
		}
	}
	times, err := t.landmarkDays()
	if err != nil {
		t.setStatus("Landmarks: " + err.Error())
		return
	}
	p, err := app.Predict(t.result, profile, times)
	if err != nil {
		t.setStatus("No prediction. " + ErrorText(err))
		return
	}
	t.setStatus("")
	t.showPrediction(p)
	if t.host.Offline() && !dpModel(t.result) {
		t.position.SetText("Offline: where this patient lies among the cohort needs the sites.")
		return
	}
	// The one query prediction adds carries the model's β, never the profile.
	r, lp := t.result, p.Curve.LP
	if dpModel(r) {
		t.position.SetText("Computing the cohort's risk-score distribution from the released tables…")
	} else {
		t.position.SetText("Asking the sites for the cohort's risk-score distribution…")
	}
	if t.lpStop != nil {
		t.lpStop() // the previous patient's
	}
	svc := t.svc
	t.lpStop = t.host.secondaryJob(func(ctx context.Context) func() {
		h, err := svc.LPHistogram(ctx, r, 0)
		return func() {
			t.lpStop = nil
			if t.result != r {
				return
			}
			if err != nil {
				t.position.SetText("Risk score among the cohort: not shown (" + ErrorText(err) + ")")
				return
			}
			t.position.SetText(strings.ToUpper(report.LPPosition(h, lp)[:1]) + report.LPPosition(h, lp)[1:] + ".")
		}
	})
}

// showPrediction draws the curve and the table of survival at the landmarks.
func (t *modelTab) showPrediction(p *app.Prediction) {
	t.prediction = p
	line := report.ProfileLine(p, t.result.Request.Cox)
	style := t.host.chartStyle()
	t.curve.SetFigure(func() chart.Figure { return report.PredictionFigure(p, line, style, chart.Months) }, "")
	t.atTable.RemoveAll()
	for _, h := range []string{"Day", "Survival (95% CI)"} {
		t.atTable.Add(widget.NewLabelWithStyle(h, fyne.TextAlignLeading, fyne.TextStyle{Bold: true}))
	}
	for _, row := range report.PredictionRows(p) {
		t.atTable.Add(widget.NewLabel(strconv.FormatFloat(row.Time, 'g', -1, 64)))
		t.atTable.Add(widget.NewLabel(row.Survival))
	}
	t.atTable.Refresh()
	t.note.SetText(report.PredictionNote(t.result))
	t.panels.SelectIndex(1)
}

func (t *modelTab) onValidate() {
	if t.result == nil {
		return
	}
	if t.host.Offline() && !dpModel(t.result) { // DP: computed from the kept tables
		t.setStatus("Offline: validation needs the sites. Validated models open from the Library.")
		return
	}
	marks, err := t.landmarkDays()
	if err != nil {
		t.setStatus("Landmarks: " + err.Error())
		return
	}
	// The model and its validation are one result, kept in the Library; a penalty chosen
	// leaving one site out is chosen again with it.
	req := t.result.Request
	spec := *req.Cox
	spec.Validate = app.ValidateLOSO
	req.Cox = &spec
	if spec.Form == protocol.CoxPooled || spec.DPPooled {
		req.Landmarks = marks
	}
	ctx, gen := t.host.newRunContext()
	t.validate.Disable()
	if dpModel(t.result) {
		t.setStatus("Validating on the differentially private tables the model was fitted on: for each site, the model is fitted on the others' tables and evaluated on the site's (no query)…")
	} else {
		t.setStatus("Validating: for each site, the model is fitted on the others and the site evaluates it…")
	}
	t.host.runService(ctx, gen, req, func(r *app.Result, err error) {
		t.validate.Enable()
		if err != nil {
			t.setStatus("No validation. " + ErrorText(err))
			return
		}
		t.show(r) // with its validation
	})
}

// showValidation draws the forest plots and the calibration table.
func (t *modelTab) showValidation(l *app.LOSOResult) {
	t.validated = l
	style := t.host.chartStyle()
	t.losoText.SetText(strings.TrimSpace(report.LOSOSummary(l) + " " + report.DPValidationLine(l)))
	if report.ConcordanceForest(l, style) != nil {
		t.cForest.SetFigure(func() chart.Figure { return report.ConcordanceForest(l, style) }, "")
	} else {
		t.cForest.SetFigure(nil, "No site released a C.")
	}
	if report.SlopeForest(l, style) != nil {
		t.slopeFig.SetFigure(func() chart.Figure { return report.SlopeForest(l, style) }, "")
	} else {
		t.slopeFig.SetFigure(nil, "No site released a calibration slope.")
	}
	if report.CalibrationFigure(l, style) != nil {
		t.calFig.SetFigure(func() chart.Figure { return report.CalibrationFigure(l, style) }, "")
	} else {
		t.calFig.SetFigure(nil, "No site released calibration at the landmarks (the pooled model's validation does).")
	}
	t.calTable.RemoveAll()
	rows := report.CalibrationRows(l)
	if len(rows) > 0 {
		for _, h := range []string{"Held-out site", "Day", "Observed (KM)", "Predicted (mean)", "Brier"} {
			t.calTable.Add(widget.NewLabelWithStyle(h, fyne.TextAlignLeading, fyne.TextStyle{Bold: true}))
		}
		for _, r := range rows {
			for _, s := range []string{r.Site, strconv.FormatFloat(r.Time, 'g', -1, 64), r.Observed, r.Predicted, r.Brier} {
				t.calTable.Add(widget.NewLabel(s))
			}
		}
	}
	t.calTable.Refresh()
	t.panels.SelectIndex(0)
}

// onPin pins the model for the slides as the tab shows it: the patient's curve when the
// Patient panel shows a prediction (the profile is kept in this computer's cache with the
// pin), else the validation's forest of per-site C when the model was validated, else the
// model's forest plot.
func (t *modelTab) onPin() {
	if t.result == nil {
		return
	}
	d := &app.Display{}
	switch {
	case t.panels.SelectedIndex() == 1 && t.prediction != nil:
		d.View, d.Profile = app.ViewPatient, t.prediction.Profile
		for _, at := range t.prediction.At {
			d.Times = append(d.Times, at.Time)
		}
	case t.validated != nil:
		d.View = app.ViewValidation
	}
	t.host.pinResult(t.result, d)
}

// load puts an opened model's choices back on the tab: the builder's, and its penalty.
func (t *modelTab) load(spec *app.CoxSpec) {
	t.modelBuilder.load(spec)
	t.scale.SetChecked(spec.Penalty != nil && spec.Penalty.Scale)
	switch pen := spec.Penalty; {
	case pen == nil:
		t.penalty.SetSelected(penaltyNone)
	case pen.Choose == app.ChooseLOSO:
		t.penalty.SetSelected(penaltyLOSO)
	default:
		t.penalty.SetSelected(penaltyFixed)
		t.theta.SetText(strconv.FormatFloat(pen.Theta, 'g', -1, 64))
	}
}

// isPrognosticModel reports whether a stored Cox result belongs in the Model tab: validated,
// penalized, or pinned from it.
func isPrognosticModel(r *app.Result) bool {
	if r.Cox.Validation != nil || (r.Request.Cox != nil && r.Request.Cox.Penalty != nil) {
		return true
	}
	return r.Display != nil && (r.Display.View == app.ViewValidation || r.Display.View == app.ViewPatient)
}
