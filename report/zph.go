package report

import (
	"strings"

	"github.com/oncofed/oncofed/analysis"
	"github.com/oncofed/oncofed/app"
)

// ZPHRow is one row of the proportional-hazards table under a Cox model's hazard ratios: a
// term (a covariate, all its levels together, or an interaction) or GLOBAL, with R's
// cox.zph chi-square, degrees of freedom and p-value.
type ZPHRow struct {
	Term   string // the term as the model names it ("ecog", "GLOBAL")
	Label  string // for readers: the variable's label, "All terms (global)"
	ChiSq  float64
	DF     int
	P      float64
	Global bool
}

// ZPHRows are the rows of the check z, labelled with names.
func ZPHRows(z *app.ZPHResult, names Names) []ZPHRow {
	if z == nil {
		return nil
	}
	out := make([]ZPHRow, len(z.Rows))
	for k, r := range z.Rows {
		row := ZPHRow{Term: r.Term, ChiSq: r.ChiSq, DF: r.DF, P: r.P, Global: r.Term == analysis.ZPHGlobal}
		switch {
		case row.Global:
			row.Label = "All terms (global)"
		case strings.Contains(r.Term, ":"):
			a, b, _ := strings.Cut(r.Term, ":")
			row.Label = names.Variable(a) + " × " + names.Variable(b)
		default:
			row.Label = names.Variable(r.Term)
		}
		out[k] = row
	}
	return out
}

// ZPHCaption says what the table tests and how, in words: the transform of time and what a
// small p means.
func ZPHCaption(z *app.ZPHResult) string {
	if z == nil {
		return ""
	}
	how := map[string]string{
		analysis.ZPHKM:       "time as 1 − Kaplan–Meier",
		analysis.ZPHIdentity: "time in days",
		analysis.ZPHRank:     "time as its rank",
	}[z.Transform]
	if how == "" {
		how = "transform " + z.Transform
	}
	return "Proportional hazards: score test of each term's Schoenfeld residuals against " + how +
		" (R's cox.zph); a small p says the hazard ratio changes over time"
}

// ZPHNoPlot says why no plot of the scaled Schoenfeld residuals is offered: its points are one
// per patient with an event.
const ZPHNoPlot = "No residual plot: its points are single patients' residuals, which no site releases."
