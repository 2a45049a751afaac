package report

import (
	"io"
	"strings"
	"time"

	"github.com/oncofed/oncofed/app"
	"github.com/oncofed/oncofed/chart"
)

// MaxCensorMarks is the number of censoring times above which censor marks start hidden: a
// mark at nearly every time would hide the curves.
const MaxCensorMarks = 400

// TooManyCensorMarks reports whether r's curves have more than MaxCensorMarks censoring times.
func TooManyCensorMarks(r *app.Result) bool {
	marks := 0
	for _, g := range r.KM.Groups {
		if g.Curve != nil {
			for _, n := range g.Curve.NCensor {
				if n > 0 {
					marks++
				}
			}
		}
	}
	return marks > MaxCensorMarks
}

// KMOptionsFor are the display options of a Kaplan–Meier result as d says (nil: the defaults
// — months, bands, censor marks unless there are too many, no median lines, proportions).
func KMOptionsFor(r *app.Result, d *app.Display) KMOptions {
	if d == nil {
		return KMOptions{HideCensor: TooManyCensorMarks(r)}
	}
	u, _ := chart.ParseTimeUnit(d.Unit)
	return KMOptions{Unit: u, HideBands: d.HideBands, HideCensor: d.HideCensor, MedianLines: d.MedianLines, Percent: d.Percent}
}

// CohortNote is the cohort line under a figure: "Cohort: nsclc, PD-L1 high; by sex".
func CohortNote(req app.Request) string {
	s := "Cohort: " + req.Study
	if req.CohortName != "" {
		s += ", " + req.CohortName
	} else {
		s += ", all patients"
	}
	if req.GroupBy != "" {
		s += "; by " + req.GroupBy
	}
	return s
}

// JoinNotes joins two footnotes with a space, either of which may be empty.
func JoinNotes(a, b string) string {
	if a == "" || b == "" {
		return a + b
	}
	return a + " " + b
}

// CoxTitle titles a model's forest plot in words, as KMTitle does a curve:
// "Cox model of overall survival — Advanced NSCLC, first line: age >= 60".
func CoxTitle(r *app.Result, n Names) string {
	return "Cox model of " + lowerFirst(n.Endpoint(r.Request.Endpoint)) + " — " + n.Study(r.Request.Study) + ": " + CohortText(r.Request.Cohort)
}

// lowerFirst lower-cases the first letter of a phrase used inside a sentence ("Overall
// survival" → "overall survival"), unless it is an acronym ("PFS").
func lowerFirst(s string) string {
	if len(s) < 2 || strings.ToUpper(s[:2]) == s[:2] {
		return s
	}
	return strings.ToLower(s[:1]) + s[1:]
}

// ForestFigure is the forest plot of a Cox result (chart.ForestFromCox): one row per term with
// a finite interval, labelled as TermLabel names it, with its HR (95% CI) and p-value, in equal
// squares; the terms it cannot draw are named in the footnote, before footnote. Nil when no
// term can be drawn.
func ForestFigure(r *app.Result, names Names, style chart.Style, footnote string) *chart.ForestPlot {
	fit := r.Cox.Fit
	labels := make(map[string]string, len(fit.Terms))
	for _, term := range CoxTerms(r.Request, fit.Terms) {
		labels[term.Column] = term.Label(names)
	}
	f := chart.ForestFromCox(CoxTitle(r, names), fit, labels)
	if len(f.Rows) == 0 {
		return nil
	}
	f.Style, f.Footnote = style, JoinNotes(f.Footnote, footnote)
	return f
}

// Slide is the figure of a pinned result as the analyst showed it when pinning it (r.Display:
// the view, time unit, bands, censor marks, medians, percent), titled in words, with the
// cohort and privacy line as footnote: a Kaplan–Meier result's curves (pooled, cumulative
// incidence or one group by site), a model's forest plot (pinned from the Model tab: its
// validation's forest of per-site C with the prediction interval, or one patient's predicted
// curve, with the model's provenance and validation beneath), a treatment comparison's weighted
// curves, Love plot or overlap histogram. Nil when the result has nothing to draw, with the
// reason.
func Slide(r *app.Result, n Names, style chart.Style, now time.Time) (chart.Figure, string) {
	foot := CohortNote(r.Request) + ". " + PrivacyLine(r, now)
	view := ""
	if r.Display != nil {
		view = r.Display.View
	}
	switch {
	case r.KM != nil:
		return kmSlide(r, n, style, foot, view)
	case r.Cox != nil && r.Cox.Fit != nil:
		if f, why, ok := modelSlide(r, n, style, foot, view); ok {
			return f, why
		}
		if f := ForestFigure(r, n, style, foot); f != nil {
			return f, ""
		}
		return nil, "the model has no estimable term"
	case r.IPW != nil:
		switch view {
		case app.ViewLove:
			lp := LoveFigure(r, style)
			lp.Footnote = foot
			return lp, ""
		case app.ViewOverlap:
			h := OverlapFigure(r, style)
			h.Footnote = foot
			return h, ""
		}
		km := WeightedKMFigure(r, style)
		km.Footnote = JoinNotes(km.Footnote, foot)
		return km, ""
	case r.Screen != nil:
		return screenSlide(r.Screen, n, style, foot)
	}
	return nil, "a " + string(r.Request.Kind) + " result has no figure"
}

func kmSlide(r *app.Result, n Names, style chart.Style, foot, view string) (chart.Figure, string) {
	o := KMOptionsFor(r, r.Display)
	if r.Display != nil {
		r = app.InOrder(r, r.Display.Order)
	}
	title := KMTitle(r, n)
	if view == app.ViewCIF && r.KM.Causes > 0 && r.KM.CIFError == "" {
		f := CIFFigure(r, n.Causes(r.KM.Endpoint), o.Unit, style, foot)
		f.Title = "Cumulative incidence: " + title
		return f, ""
	}
	if g, ok := strings.CutPrefix(view, app.ViewBySite); ok {
		sv, err := app.PerSiteKM(r, g)
		if err != nil {
			return nil, err.Error()
		}
		f := KMFigure(sv, o, style, foot)
		f.Title = title + " — by site: " + GroupName(g)
		return f, ""
	}
	f := KMFigure(r, o, style, foot)
	f.Title = title
	return f, ""
}

// DeckWidth and DeckHeight are the page size of a deck in pixels (16:10, as projectors show).
const DeckWidth, DeckHeight = 1920, 1200

// WriteDeck writes one PDF page per result that has a figure, in order, in the presentation
// style: each as Slide draws it, named from names[i]. The desktop's Export deck and
// `oncofed-cli library deck` both write it.
func WriteDeck(w io.Writer, rs []*app.Result, names []Names, now time.Time) error {
	var figs []chart.Figure
	for i, r := range rs {
		if f, _ := Slide(r, names[i], chart.PresentationStyle(), now); f != nil {
			figs = append(figs, f)
		}
	}
	if len(figs) == 0 {
		return app.Errorf(app.EInvalid, "no pinned result has a figure: pin a Kaplan–Meier, Cox or treatment comparison result first")
	}
	return chart.WritePDFDeck(w, figs, DeckWidth, DeckHeight)
}
