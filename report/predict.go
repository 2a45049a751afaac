package report

import (
	"fmt"
	"math"
	"strings"

	"github.com/oncofed/oncofed/analysis"
	"github.com/oncofed/oncofed/app"
	"github.com/oncofed/oncofed/chart"
)

// PredictionRow is the predicted survival of a profile at one landmark, as the CLI's table and
// the desktop's patient panel show it.
type PredictionRow struct {
	Time float64 // days
	// Survival is "67.3% (60.6–74.8)" (chart.FormatSurvivalCI), "beyond follow-up" past the
	// last released time.
	Survival           string
	Surv, Lower, Upper float64 // NaN beyond follow-up
	BeyondFollowUp     bool
}

// PredictionRows reads a prediction at its landmarks.
func PredictionRows(p *app.Prediction) []PredictionRow {
	out := make([]PredictionRow, len(p.At))
	for i, a := range p.At {
		r := PredictionRow{Time: a.Time, Surv: a.Surv, Lower: a.Lower, Upper: a.Upper, BeyondFollowUp: a.Beyond}
		if a.Beyond {
			r.Survival = "beyond follow-up"
		} else {
			r.Survival = chart.FormatSurvivalCI(a.Surv, a.Lower, a.Upper)
		}
		out[i] = r
	}
	return out
}

// ProfileLine names the profile in the model's covariate order: "sex male, age 63".
func ProfileLine(p *app.Prediction, spec *app.CoxSpec) string {
	var parts []string
	for _, v := range spec.Covariates {
		parts = append(parts, v+" "+p.Profile[v])
	}
	return strings.Join(parts, ", ")
}

// LPPosition says where the profile's linear predictor lies among the cohort's, from the
// pooled histogram the sites released: the share of patients with a lower one, as the range
// its bin allows ("between the 62nd and the 70th percentile of 7,800 patients"), and the
// sites that did not contribute.
func LPPosition(h *app.LPHistogramResult, lp float64) string {
	below, in, above := h.Locate(lp)
	n := below + in + above
	if n == 0 {
		return "the cohort's linear predictors were not released"
	}
	lo, hi := 100*float64(below)/float64(n), 100*float64(below+in)/float64(n)
	var s string
	switch {
	case below == 0 && above == 0:
		s = fmt.Sprintf("the sites released one bin of %d patients: the profile's risk score cannot be placed among them", n)
	case below == 0:
		s = fmt.Sprintf("the profile's risk score is among the lowest %s of the cohort's %d patients", ordinalPercent(hi), n)
	case above == 0:
		s = fmt.Sprintf("the profile's risk score is among the highest %s of the cohort's %d patients", ordinalPercent(100-lo), n)
	default:
		s = fmt.Sprintf("the profile's risk score lies between the %s and the %s percentile of the cohort's %d patients", ordinal(lo), ordinal(hi), n)
	}
	if len(h.Refused)+len(h.Missing) > 0 {
		var out []string
		for _, p := range h.Refused {
			out = append(out, p.Site+" refused")
		}
		for _, m := range h.Missing {
			out = append(out, m+" did not answer")
		}
		s += " (" + strings.Join(out, ", ") + ")"
	}
	return s
}

func ordinalPercent(p float64) string { return fmt.Sprintf("%.0f%%", math.Ceil(p)) }

// ordinal writes a percentile rounded to the nearest integer: "62nd".
func ordinal(p float64) string {
	n := int(math.Round(p))
	suffix := "th"
	if n%100 < 11 || n%100 > 13 {
		switch n % 10 {
		case 1:
			suffix = "st"
		case 2:
			suffix = "nd"
		case 3:
			suffix = "rd"
		}
	}
	return fmt.Sprintf("%d%s", n, suffix)
}

// LPBin is a histogram bin with its bounds (±Inf at the open ends), for a figure or JSON.
type LPBin struct {
	Lower, Upper float64
	N            int
}

// LPBins lists the bins of a histogram.
func LPBins(h analysis.LPHistogram) []LPBin {
	out := make([]LPBin, len(h.Counts))
	for i, n := range h.Counts {
		lo, hi := h.Edges(i)
		out[i] = LPBin{Lower: lo, Upper: hi, N: n}
	}
	return out
}

// PredictionNote is the line under a predicted curve: what it is and what it rests on.
func PredictionNote(r *app.Result) string {
	sites := len(r.Provenance.Answered)
	return fmt.Sprintf("Predicted by the pooled Cox model (%s ties) fitted over %d sites; pointwise 95%% log intervals, as R's survfit(fit, newdata). "+
		"The profile stays on this computer: the curve is computed here from the model's baseline hazard.", r.Cox.Ties, sites) + dpModelNote(r)
}
