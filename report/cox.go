package report

import (
	"fmt"
	"io"
	"math"
	"strconv"
	"strings"

	"github.com/oncofed/oncofed/app"
)

// CoxTerm is a design column of a Cox model traced back to its covariate: a categorical
// covariate's level (R's "sexmale" is sex, level male, reference female) or a numeric one.
type CoxTerm struct {
	Column    string // the design column ("sexmale", "age")
	Variable  string
	Level     string // "" for a numeric covariate
	Reference string // the categorical covariate's reference level
}

// CoxTerms traces a model's design columns to their covariates (the request's levels: the
// first is the reference); a column it cannot trace stands for itself.
func CoxTerms(req app.Request, columns []string) []CoxTerm {
	origins := map[string]CoxTerm{}
	if req.Cox != nil {
		for _, v := range req.Cox.Covariates {
			if lv := req.Cox.Levels[v]; len(lv) >= 2 {
				for _, l := range lv[1:] {
					origins[v+l] = CoxTerm{Column: v + l, Variable: v, Level: l, Reference: lv[0]}
				}
			}
		}
	}
	out := make([]CoxTerm, len(columns))
	for i, c := range columns {
		t, ok := origins[c]
		if !ok {
			t = CoxTerm{Column: c, Variable: c}
		}
		out[i] = t
	}
	return out
}

// Label names the term for readers: "sex: male vs female"; a numeric covariate with a unit
// says what its hazard ratio is per ("age, per year"), and a discrete one that the model
// treats it as numeric, one hazard ratio per step ("ecog, per point (as numeric)").
func (t CoxTerm) Label(n Names) string {
	if t.Level != "" {
		return t.Variable + ": " + t.Level + " vs " + t.Reference
	}
	s := t.Variable
	if u := n.unit(t.Variable); u != "" {
		s += ", per " + singular(u)
	}
	if n.discrete(t.Variable) {
		s += " (as numeric)"
	}
	return s
}

// discrete reports whether the study declares the variable discrete.
func (n Names) discrete(name string) bool {
	if n.From == nil {
		return false
	}
	v := n.From.Variable(name)
	return v != nil && v.Discrete
}

// TermLabel is the label of one design column of req's model.
func TermLabel(req app.Request, column string, n Names) string {
	return CoxTerms(req, []string{column})[0].Label(n)
}

// CoxRow is one row of a hazard-ratio table: a term's estimates, or the reference level of a
// categorical covariate (HR 1, no estimates), which tables show above its contrasts.
type CoxRow struct {
	Label                         string
	Term                          CoxTerm
	Reference                     bool
	Estimable                     bool
	Coef, SE, HR, Lower, Upper, P float64
	// NoiseSD is, for a model fitted on differentially private tables, the coefficient's SD
	// over simulated releases (app.DPCoxNoiseSD), which SE leaves out; NaN otherwise.
	NoiseSD float64
}

// CoxRows is the hazard-ratio table of a Cox result: each categorical covariate's reference
// level first ("stage: IIIB (reference)"), then its contrasts, and each numeric covariate,
// in the order of the model's design columns.
func CoxRows(r *app.Result, n Names) []CoxRow {
	fit := r.Cox.Fit
	var out []CoxRow
	seen := map[string]bool{}
	for j, t := range CoxTerms(r.Request, fit.Terms) {
		if t.Level != "" && !seen[t.Variable] {
			seen[t.Variable] = true
			out = append(out, CoxRow{Label: t.Variable + ": " + t.Reference + " (reference)", Term: CoxTerm{Variable: t.Variable, Level: t.Reference, Reference: t.Reference},
				Reference: true, HR: 1, Coef: 0, SE: math.NaN(), Lower: math.NaN(), Upper: math.NaN(), P: math.NaN(), NoiseSD: math.NaN()})
		}
		noise := math.NaN()
		if len(r.Cox.NoiseSD) == len(fit.Terms) {
			noise = r.Cox.NoiseSD[j]
		}
		out = append(out, CoxRow{Label: t.Label(n), Term: t, Estimable: !math.IsNaN(fit.Coef[j]),
			Coef: fit.Coef[j], SE: fit.SE[j], HR: fit.HR[j], Lower: fit.Lower[j], Upper: fit.Upper[j], P: fit.P[j], NoiseSD: noise})
	}
	return out
}

// WriteCoxCSV writes a hazard-ratio table as CSV: term, variable, level, reference, then the
// estimates with full precision ("" where there is none: reference rows, non-estimable terms),
// the noise SD of a fit on differentially private tables ("" otherwise) and the release kind
// (ReleaseColumn) of r, the result rows come from.
func WriteCoxCSV(w io.Writer, r *app.Result, rows []CoxRow) error {
	num := func(x float64) string {
		if math.IsNaN(x) {
			return ""
		}
		return strconv.FormatFloat(x, 'g', -1, 64)
	}
	recs := [][]string{{"term", "variable", "level", "reference", "hr", "lower", "upper", "p", "coef", "se", "noise_sd"}}
	for _, row := range rows {
		rec := []string{row.Label, row.Term.Variable, row.Term.Level, row.Term.Reference}
		switch {
		case row.Reference:
			rec = append(rec, "1", "", "", "", "0", "", "")
		case !row.Estimable:
			rec = append(rec, "", "", "", "", "", "", "")
		default:
			rec = append(rec, num(row.HR), num(row.Lower), num(row.Upper), num(row.P), num(row.Coef), num(row.SE), num(row.NoiseSD))
		}
		recs = append(recs, rec)
	}
	return WriteCSV(w, WithRelease(recs, ReleaseKind(r)))
}

// unit is a numeric variable's unit as the dictionary declares it ("" when none is known).
func (n Names) unit(name string) string {
	if n.From == nil {
		return ""
	}
	if v := n.From.Variable(name); v != nil {
		return v.Unit
	}
	return ""
}

// singular turns a plural unit into the singular a rate is "per": years → year.
func singular(u string) string {
	switch u {
	case "years", "months", "weeks", "days", "points":
		return strings.TrimSuffix(u, "s")
	}
	return u
}

// DPNoiseLine is, for a model fitted on differentially private tables, the noise's own standard
// deviation of each coefficient (app.DPCoxNoiseSD, which the fit's standard errors leave out and
// its p-values and intervals hold: app.CoxResult.WithNoise);
// "" for other models.
func DPNoiseLine(r *app.Result, n Names) string {
	fit := r.Cox.Fit
	sd := r.Cox.NoiseSD
	if fit == nil || len(sd) != len(fit.Terms) {
		return ""
	}
	parts := make([]string, len(sd))
	for j, v := range sd {
		parts[j] = fmt.Sprintf("%s %.4f", TermLabel(r.Request, fit.Terms[j], n), v)
	}
	return fmt.Sprintf("Noise of the differentially private release (not in the SE; in the p-values and intervals, which use √(SE² + SD²)), SD of each coefficient over %d simulated releases: %s",
		app.DPCoxNoiseReleases, strings.Join(parts, ", "))
}
