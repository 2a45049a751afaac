package report

import (
	"fmt"
	"strings"

	"github.com/oncofed/oncofed/app"
	"github.com/oncofed/oncofed/chart"
	"github.com/oncofed/oncofed/protocol"
)

// RidgeCurveFigure is the leave-one-site-out choice of a ridge penalty's θ: the summed
// held-out partial log-likelihood at each θ tried, the chosen θ marked; nil when θ was not
// chosen that way.
func RidgeCurveFigure(r *app.Result, style chart.Style) *chart.TuningCurve {
	if r.Cox == nil || r.Cox.RidgeChoice == nil {
		return nil
	}
	c := r.Cox.RidgeChoice
	f := &chart.TuningCurve{Title: "Choice of the ridge penalty, leaving one site out",
		XLabel: "θ (penalty θ/2 Σβ²)", YLabel: "Held-out partial log-likelihood, summed over sites",
		Chosen: c.Best, ChosenLabel: "chosen θ = " + fmt.Sprint(c.Theta()), Style: style,
		Footnote: RidgeChoiceNote(c)}
	for _, pt := range c.Points {
		f.X, f.Y = append(f.X, pt.Theta), append(f.Y, pt.Total)
	}
	return f
}

// RidgeChoiceNote says what the curve of a leave-one-site-out choice rests on.
func RidgeChoiceNote(c *app.RidgeChoice) string {
	s := fmt.Sprintf("Each of %d sites evaluated, on its own patients, the model fitted on all the others at each θ.", len(c.Points[0].Sites))
	var out []string
	for _, p := range c.SatOut {
		out = append(out, p.Site+" ("+p.Message+")")
	}
	if len(out) > 0 {
		s += " Left out: " + strings.Join(out, "; ") + "."
	}
	return s
}

// ModelProvenance is the line beneath a model's slide: the model, its sites, its penalty and
// its validation's verdict.
func ModelProvenance(r *app.Result) string {
	fit := r.Cox.Fit
	s := fmt.Sprintf("Cox model on %s (%s, %s ties), %d patients and %d events over %d sites",
		strings.Join(r.Request.Cox.Covariates, " + "), formWords(r.Cox), r.Cox.Ties, fit.N, fit.Events, len(r.Provenance.Answered))
	if pen := app.FittedPenalty(r); pen != nil {
		s += ", " + pen.String()
	}
	s += "."
	if l := r.Cox.Validation; l != nil {
		s += " Validation leaving one site out: " + LOSOSummary(l)
	}
	return s
}

func formWords(c *app.CoxResult) string {
	if c.Form == protocol.CoxPooled {
		return "pooled baseline"
	}
	return "stratified by site"
}

// modelSlide is a model's slide in one of its views (app.ViewValidation, app.ViewPatient);
// ok is false for another view (the model's forest plot is then drawn).
func modelSlide(r *app.Result, n Names, style chart.Style, foot, view string) (fig chart.Figure, why string, ok bool) {
	title := "Prognostic model of " + lowerFirst(n.Endpoint(r.Request.Endpoint)) + " — " + n.Study(r.Request.Study)
	switch view {
	case app.ViewValidation:
		if r.Cox.Validation == nil {
			return nil, "the model was not validated", true
		}
		f := ConcordanceForest(r.Cox.Validation, style)
		if f == nil {
			return nil, "no held-out site released a C", true
		}
		f.Title = title + ": discrimination at each held-out site"
		f.Footnote = JoinNotes(f.Footnote, ModelProvenance(r)+" "+foot)
		return f, "", true
	case app.ViewPatient:
		d := r.Display
		p, err := app.Predict(r, d.Profile, d.Times)
		if err != nil {
			return nil, err.Error(), true
		}
		f := PredictionFigure(p, ProfileLine(p, r.Request.Cox), style, KMOptionsFor(r, d).Unit)
		f.Title = title + ": predicted survival for one patient"
		f.Footnote = JoinNotes(PredictionNote(r), ModelProvenance(r)+" "+foot)
		return f, "", true
	}
	return nil, "", false
}
