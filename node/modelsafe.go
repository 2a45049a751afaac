package node

import (
	"fmt"
	"math"
	"slices"

	"github.com/oncofed/oncofed/analysis"
	"github.com/oncofed/oncofed/protocol"
)

// The rules every model release (Cox today; a biomarker screen, propensity weighting and
// competing risks later) passes under a protective policy, whatever its form:
//
//  1. Each design column must hold min_cell patients and min_cell events (and not only events)
//     among the site's complete cases (checkDesignColumns): a model's reply is a smooth function
//     of its columns' patients, and a column of one patient makes it a function of that one.
//  2. Each coefficient is capped by a bound that does not depend on the data (modelBetaLimits):
//     |β_j|·w_j ≤ max_cox_log_hr, w_j = 1 for an indicator and the declared range's width for a
//     numeric column.
//  3. The columns together may not single out a patient either (checkWeightSpread): at the
//     requested β the min_cell heaviest patients of each stratum lie within e^2 of the
//     heaviest (and the lightest likewise).
//
// Within-site strata (cox.strata) are cohorts of their own: rule 1 holds in each as well.
//
// Why both. The review's locator attack took the cohort "patients of the other sex ∪ {x}" with
// covariate sex: the sex column held x alone, the old bound (|β·sd| ≤ 10, sd of that column ≈
// 1/√n) let β reach 60, and the stratified log-likelihood, gradient and Hessian then read off
// when x left the risk set and whether x died (11 of 11 targets, 13–82 queries each). Rule 1
// refuses that cohort outright; rule 2 keeps a column of min_cell or more patients from being
// turned into a hard maximum over them (at β = 60 the largest of five values is all a risk-set
// mean shows).

// DefaultMaxCoxLogHR is the default max_cox_log_hr: |β_j|·w_j ≤ 5, a hazard ratio of at most
// e^5 ≈ 148 between the two ends of a column (an indicator's level and its reference; the
// declared minimum and maximum of a numeric covariate).
//
// Why 5. Real effects are far inside it: the strongest prognostic factors and treatment effects
// in oncology have hazard ratios of 0.1–10 (|β| ≤ 2.3); a numeric covariate's effect across a
// realistic declared range is of the same order (age at 0.03 per year over 18–100 is 2.5). The
// NCCTG lung models (sex, age, Karnofsky score, weight loss) ask at most 0.36 of the cap along
// their whole Newton–Raphson path (Karnofsky's first step, |β·w| = 1.8) and converge in 3 to
// 5 rounds (TestCoxFitsStayWithinCap). A fit that wants more is diverging (monotone
// likelihood: a level without events, or separation), and the client reports it so. On the
// privacy side, e^5 is the most one patient can weigh against another in a risk set through
// one column: in a risk set of 50 one extreme patient holds at most 148/(148+49) ≈ 75% of the
// weight, not the ≈ 100% (a read-out of that patient) that β = 60 gave. A smaller cap (3:
// e^3 ≈ 20) would refuse real fits on wide declared ranges (an ECOG score taken as a number
// over 0–5 at β = 0.7 is 3.5); a larger one (10: e^10 ≈ 22 000, the old per-sd bound) brings
// the hard maximum back for risk sets of thousands. Sites can set their own
// (max_cox_log_hr).
const DefaultMaxCoxLogHR = 5

// modelBetaLimits returns, for each design column of a model on the given covariates, the
// largest |β_j| the policy answers: max_cox_log_hr / w_j. It reads only public information (the
// study's declared dictionary and the query), so a refusal says nothing about the rows. It
// returns nil under an exact policy (no cap). A numeric covariate without a declared range (or
// with an empty one) is refused: its β cannot be bounded without reading the data.
func (e *Engine) modelBetaLimits(ls *loadedStudy, covariates []string, levels map[string][]string) ([]float64, error) {
	if IsExact(e.policy) {
		return nil, nil
	}
	limit := e.policy.MaxCoxLogHR
	var out []float64
	for _, name := range covariates {
		v := ls.vars[name]
		if v.Type == protocol.Categorical {
			lv, ok := levels[name]
			if !ok {
				lv = v.Categories
			}
			for k := 1; k < len(lv); k++ {
				out = append(out, limit)
			}
			continue
		}
		if v.Min == nil || v.Max == nil {
			return nil, errorf(protocol.CodeRefusedByPolicy, "covariate %s is numeric without a declared range: declare its range (min and max in the study's dictionary) so that its coefficient can be capped (max_cox_log_hr=%g per the range's width); this site's policy does not model a numeric covariate without one", name, limit)
		}
		w := *v.Max - *v.Min
		if !(w > 0) || math.IsInf(w, 0) {
			return nil, errorf(protocol.CodeRefusedByPolicy, "covariate %s has an empty or unbounded declared range [%g, %g]; declare a finite range", name, *v.Min, *v.Max)
		}
		out = append(out, limit/w)
	}
	return out, nil
}

// checkBeta refuses a β outside the limits of modelBetaLimits.
func checkBeta(beta, limits []float64, names []string, capLogHR float64) error {
	for j, b := range beta {
		if j < len(limits) && math.Abs(b) > limits[j] {
			return errorf(protocol.CodeRefusedByPolicy, "cox.beta[%d] for %s is %g, beyond this site's limit of %g (max_cox_log_hr=%g: a hazard ratio of at most e^%g across the column's declared range): at such a β a reply approaches single patients' values; a fit that gets there is diverging (its coefficient is infinite)", j, names[j], b, limits[j], capLogHR, capLogHR)
		}
	}
	return nil
}

// designNames returns the design column names a model on these covariates has (as
// analysis.BuildDesign names them: a numeric covariate under its name, a categorical one as
// name+level for each level after the reference), from public information only.
func designNames(ls *loadedStudy, covariates []string, levels map[string][]string) []string {
	var names []string
	for _, name := range covariates {
		v := ls.vars[name]
		if v.Type != protocol.Categorical {
			names = append(names, name)
			continue
		}
		lv, ok := levels[name]
		if !ok {
			lv = v.Categories
		}
		for k := 1; k < len(lv); k++ {
			names = append(names, name+lv[k])
		}
	}
	return names
}

// designBlock says how the design columns of one covariate were built: a numeric column, or
// the k−1 indicator columns of a categorical covariate whose reference level is Reference.
type designBlock struct {
	Covariate string
	Numeric   bool
	Reference string // categorical: the reference level (all indicators 0)
	Columns   int    // 1 for numeric, k−1 for categorical
}

// designBlocks describes the design of covariates with levels (as BuildDesign is given them).
func designBlocks(ls *loadedStudy, covariates []string, levels map[string][]string) []designBlock {
	var out []designBlock
	for _, name := range covariates {
		v := ls.vars[name]
		if v.Type != protocol.Categorical {
			out = append(out, designBlock{Covariate: name, Numeric: true, Columns: 1})
			continue
		}
		lv, ok := levels[name]
		if !ok {
			lv = v.Categories
		}
		b := designBlock{Covariate: name, Columns: len(lv) - 1}
		if len(lv) > 0 {
			b.Reference = lv[0]
		}
		out = append(out, b)
	}
	return out
}

// checkDesignColumns is the design-column rule of every model release: over the complete
// cases (x, row-major n×p, with names; event the released event flags), each group a column
// distinguishes must hold at least minCell patients, at least minCell events, and at least one
// patient without an event:
//
//   - an indicator column of a categorical covariate: the patients at that level;
//   - the reference level of a categorical covariate: the patients with all its indicators 0;
//   - a numeric column: the patients off its most common value (every most common value, when
//     several tie).
//
// Why also one patient without an event: with min_cell patients and min_cell events alone, a
// column of exactly min_cell patients is answered only when every one of them had an event,
// so the answer by itself tells an attacker who built the column (x plus min_cell−1 patients
// whose outcomes it does not know) that x died; a group all of whose members share the outcome
// discloses it for each (TestAttackCoxLocator plays it). A column where everyone had the
// event is refused; one censored patient among them is enough not to single out anyone.
//
// The refusal names the column (and where, e.g. the within-site stratum), never a count.
// With minCell ≤ 0 it checks nothing. With event nil the release carries no outcome (the
// propensity model of an ipw query whose treatment is membership in a site, known to the
// analyst for every patient of the site): each group must then hold minCell patients only.
func checkDesignColumns(x []float64, p int, names []string, blocks []designBlock, event []bool, minCell int, where string) error {
	if minCell <= 0 {
		return nil
	}
	n := len(event)
	if event == nil && p > 0 {
		n = len(x) / p
	}
	count := func(i int) (int, int) { return 1, boolInt(event[i]) }
	if event == nil {
		count = func(int) (int, int) { return 1, 0 }
	}
	return checkDesignTally(x[:n*p], p, names, blocks, count, event != nil, minCell, where)
}

// checkKeyedDesignColumns is checkDesignColumns for a keyed design (coxkeyed.go): the same
// groups and counts, tallied once per distinct row.
func checkKeyedDesignColumns(kd *keyedDesign, p int, names []string, blocks []designBlock, event []bool, minCell int, where string) error {
	if minCell <= 0 {
		return nil
	}
	m := len(kd.rows) / max(p, 1)
	patients, events := make([]int, m), make([]int, m)
	for k, r := range kd.rowOf {
		patients[r]++
		events[r] += boolInt(event[k])
	}
	count := func(r int) (int, int) { return patients[r], events[r] }
	return checkDesignTally(kd.rows, p, names, blocks, count, true, minCell, where)
}

// checkDesignTally is the design-column rule over the rows of x (m×p), row r standing for
// count(r) = (patients, events) patients; without outcome, patients only.
func checkDesignTally(x []float64, p int, names []string, blocks []designBlock, count func(r int) (patients, events int), outcome bool, minCell int, where string) error {
	m := len(x) / max(p, 1)
	enough := func(in func(r int) bool) bool {
		pat, ev := 0, 0
		for r := 0; r < m; r++ {
			if in(r) {
				np, ne := count(r)
				pat, ev = pat+np, ev+ne
			}
		}
		if !outcome {
			return pat >= minCell
		}
		return pat >= minCell && ev >= minCell && pat-ev >= 1
	}
	refuse := func(what string) error {
		if !outcome {
			return errorf(protocol.CodeRefusedByPolicy, "design column %s holds too few patients in this cohort%s: every column of a model needs at least min_cell=%d patients (a smaller column would disclose single patients); merge levels, choose another reference level or widen the cohort", what, where, minCell)
		}
		return errorf(protocol.CodeRefusedByPolicy, "design column %s holds too few patients in this cohort%s: every column of a model needs at least min_cell=%d patients, %d events and a patient without an event (a smaller column would disclose single patients); merge levels, choose another reference level or widen the cohort", what, where, minCell, minCell)
	}
	j := 0
	for _, b := range blocks {
		if b.Numeric {
			col := j
			// Numbered without a map lookup a row (this runs for every model of a screen);
			// −0 counts as 0.
			codes, values := analysis.ColumnValues(x, p, col)
			counts := make([]int, len(values))
			for r, k := range codes {
				np, _ := count(r)
				counts[k] += np
			}
			pos := slices.IndexFunc(values, func(v float64) bool { return v == 0 && !math.Signbit(v) })
			neg := slices.IndexFunc(values, func(v float64) bool { return v == 0 && math.Signbit(v) })
			if pos >= 0 && neg >= 0 {
				counts[pos], counts[neg] = counts[pos]+counts[neg], 0
			}
			best := 0
			for _, c := range counts {
				best = max(best, c)
			}
			for k, c := range counts {
				if c != best {
					continue
				}
				mode := values[k]
				if !enough(func(r int) bool { return x[r*p+col] != mode }) {
					return refuse(names[col] + " (the patients off its most common value)")
				}
			}
			j++
			continue
		}
		first := j
		for k := 0; k < b.Columns; k++ {
			col := first + k
			if !enough(func(r int) bool { return x[r*p+col] != 0 }) {
				return refuse(names[col])
			}
		}
		if !enough(func(r int) bool {
			for k := 0; k < b.Columns; k++ {
				if x[r*p+first+k] != 0 {
					return false
				}
			}
			return true
		}) {
			return refuse(fmt.Sprintf("%s (the reference level %s)", b.Covariate, b.Reference))
		}
		j += b.Columns
	}
	return nil
}

// maxWeightSpread bounds how far the min_cell-th largest linear predictor of a stratum may lie
// below the largest (and the min_cell-th smallest above the smallest) at a requested β:
// e^2 ≈ 7.4, so the heaviest patient holds at most 7.4/(7.4 + min_cell − 1) ≈ 65% of the
// weight of the min_cell heaviest (min_cell 5), never the ≈ 100% of the locator's read-out.
// Real fits are far inside it (their heaviest patients are alike: measured at most 0.22 on the
// lung models and 0.30 on the demo's, along their whole Newton path, in TestCoxFitsStayWithinCap
// and TestDemoCoxFitsWithinCap); the combined-columns attack needs 10.
const maxWeightSpread = 2

// checkWeightSpread is the rule for the columns together: at the requested β, in every stratum,
// the minCell subjects with the largest linear predictor η = x'β lie within maxWeightSpread of
// the largest, and the minCell with the smallest within it of the smallest. It reads the
// covariates and β only, never an outcome, so a refusal says nothing about times or events.
//
// Why: the per-column cap bounds each column on its own, and the design-column rule each
// column's margin; neither bounds a combination. With covariates a, b, c and a cohort of
// patients having exactly one of them plus x having all three, every column passes and
// β = (5, 5, 5) gives x a weight e^10 ≈ 22 000 times any other patient's: the hard maximum of
// the locator attack again; at β = (2.5, 2.5, 2.5) x still holds over 80% of every risk set
// it is in (TestAttackCoxCombinedColumns). Requiring min_cell patients within e^2 of the
// heaviest means no one patient outweighs the min_cell−1 next ones, however many columns make
// up the difference.
func checkWeightSpread(strata []*analysis.CoxStratum, beta []float64, minCell int) error {
	if minCell <= 0 || !slices.ContainsFunc(beta, func(b float64) bool { return b != 0 }) {
		return nil // at β = 0 every patient weighs the same
	}
	for _, st := range strata {
		top, bottom := st.ExtremeGaps(beta, minCell)
		if top > maxWeightSpread || bottom > maxWeightSpread {
			return errorf(protocol.CodeRefusedByPolicy, "at this β the model's columns together single out fewer than min_cell=%d patients: the %d with the largest (or smallest) linear predictor x'β do not lie within %d of it, so one patient would outweigh the others in a risk set; a fit that gets there is diverging", minCell, minCell, maxWeightSpread)
		}
	}
	return nil
}
