package protocol

import (
	"fmt"
	"math"
)

// ValidateQuery checks the structure of a query, independently of any study and of what the
// analyst may see: the version, a known kind, string lengths, the cohort filter
// (ValidateFilter), the parameters each kind requires and those it must not carry, and the
// size limits (limits.go). Both sides call it: the client before sending, so that a malformed
// query gets a clear local error, and the node before it reads any data; the node then checks
// the names against the study and its disclosure policy. The error is a *Error of code
// invalid (unsupported_version for another version) whose message names the offending field.
func ValidateQuery(q Query) error {
	if q.Version != Version {
		return queryErrorf(CodeUnsupported, "protocol version %q not spoken here (want %q)", clipName(q.Version), Version)
	}
	known := false
	for _, k := range Kinds {
		known = known || q.Kind == k
	}
	if !known {
		return queryErrorf(CodeInvalid, "unknown query kind %q", clipName(string(q.Kind)))
	}
	for _, f := range []struct{ name, v string }{
		{"id", q.ID}, {"analyst", q.Analyst}, {"study", q.Study}, {"group_by", q.GroupBy}, {"endpoint", q.Endpoint},
	} {
		if len(f.v) > MaxNameLen {
			return queryErrorf(CodeInvalid, "%s longer than %d bytes", f.name, MaxNameLen)
		}
	}
	if err := CheckFeasibility(q); err != nil {
		return err
	}
	if err := validateMerge(q); err != nil {
		return err
	}
	if q.Kind == KindCatalog {
		if q.Cohort != nil || q.GroupBy != "" || len(q.Merge) > 0 || len(q.Variables) > 0 || len(q.Bins) > 0 || q.Cox != nil || q.IPW != nil || q.Screen != nil {
			return queryErrorf(CodeInvalid, "a catalog query takes no cohort, grouping or parameters")
		}
		return nil
	}
	if q.Study == "" {
		return queryErrorf(CodeInvalid, "no study given")
	}
	if err := ValidateFilter(q.Cohort); err != nil {
		return err
	}
	if q.Kind != KindSummary && (len(q.Variables) > 0 || len(q.Bins) > 0) {
		return queryErrorf(CodeInvalid, "variables and bins belong to summary queries, not %s", q.Kind)
	}
	if q.Kind != KindCox && q.Kind != KindFineGray && q.Cox != nil {
		return queryErrorf(CodeInvalid, "cox parameters given to a %s query", q.Kind)
	}
	if q.Kind != KindIPW && q.IPW != nil {
		return queryErrorf(CodeInvalid, "ipw parameters given to a %s query", q.Kind)
	}
	if q.Kind != KindSurvival && q.SplitCauses {
		return queryErrorf(CodeInvalid, "split_causes belongs to survival queries, not %s", q.Kind)
	}
	if q.Kind != KindScreen && q.Screen != nil {
		return queryErrorf(CodeInvalid, "screen parameters given to a %s query", q.Kind)
	}
	switch q.Kind {
	case KindSummary:
		return validateSummary(q)
	case KindSurvival:
		if q.Endpoint == "" {
			return queryErrorf(CodeInvalid, "survival needs an endpoint")
		}
	case KindCox:
		if q.Endpoint == "" {
			return queryErrorf(CodeInvalid, "cox needs an endpoint")
		}
		return validateCoxRequest(q.Cox, KindCox)
	case KindFineGray:
		if q.Endpoint == "" || q.GroupBy != "" {
			return queryErrorf(CodeInvalid, "finegray needs an endpoint and takes no group_by")
		}
		return validateCoxRequest(q.Cox, KindFineGray)
	case KindIPW:
		if q.Endpoint == "" || q.GroupBy != "" {
			return queryErrorf(CodeInvalid, "ipw needs an endpoint and takes no group_by (the treatment is the grouping)")
		}
		return validateIPWRequest(q.IPW)
	case KindScreen:
		return validateScreenRequest(q)
	}
	return nil
}

func queryErrorf(code, format string, args ...any) error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...)}
}

func validateSummary(q Query) error {
	if len(q.Variables) == 0 || len(q.Variables) > MaxVariables {
		return queryErrorf(CodeInvalid, "summary needs 1 to %d variables, got %d", MaxVariables, len(q.Variables))
	}
	seen := map[string]bool{}
	for i, v := range q.Variables {
		if v == "" || len(v) > MaxNameLen {
			return queryErrorf(CodeInvalid, "variables[%d]: empty or too long", i)
		}
		if seen[v] {
			return queryErrorf(CodeInvalid, "variables[%d]: %q requested twice", i, v)
		}
		seen[v] = true
	}
	binned := map[string]bool{}
	for i, b := range q.Bins {
		if !seen[b.Variable] {
			return queryErrorf(CodeInvalid, "bins[%d]: variable %q is not among the requested variables", i, clipName(b.Variable))
		}
		if binned[b.Variable] {
			return queryErrorf(CodeInvalid, "bins[%d]: variable %q binned twice", i, b.Variable)
		}
		binned[b.Variable] = true
		if len(b.Edges) == 0 || len(b.Edges) > MaxEdges {
			return queryErrorf(CodeInvalid, "bins[%d]: 1 to %d edges needed, got %d", i, MaxEdges, len(b.Edges))
		}
		for k, x := range b.Edges {
			if math.IsNaN(x) || math.IsInf(x, 0) || (k > 0 && x <= b.Edges[k-1]) {
				return queryErrorf(CodeInvalid, "bins[%d].edges[%d]: edges must be finite and strictly increasing", i, k)
			}
		}
	}
	return nil
}

func validateCoxRequest(c *CoxRequest, kind Kind) error {
	if c == nil {
		return queryErrorf(CodeInvalid, "%s query without cox parameters", kind)
	}
	if kind == KindFineGray {
		if err := validateFineGrayRequest(c); err != nil {
			return err
		}
	} else if c.Cause != "" || c.Form == CoxMeat {
		return queryErrorf(CodeInvalid, "cox.cause and the meat form belong to finegray queries")
	}
	switch c.Form {
	case CoxMeat:
	case CoxStratified, CoxPooledSums, CoxPooledHessian:
	case CoxDPTables:
		for _, b := range c.Beta {
			if b != 0 {
				return queryErrorf(CodeInvalid, "cox.form dp_tables is released at no β: send cox.beta as zeros")
			}
		}
		if c.Strata != "" {
			return queryErrorf(CodeInvalid, "cox.form dp_tables takes no cox.strata")
		}
	case CoxValidate:
		if err := validateLandmarks(c); err != nil {
			return err
		}
	case CoxLPHistogram:
		if !(c.LPBinWidth >= MinLPBinWidth && c.LPBinWidth <= MaxLPBinWidth) {
			return queryErrorf(CodeInvalid, "cox.lp_bin_width %v: want a width from %v to %v", c.LPBinWidth, MinLPBinWidth, MaxLPBinWidth)
		}
	case CoxZPH:
	case CoxPooled:
		return queryErrorf(CodeUnsupported, "cox.form pooled (risk-set sums S0, S1, S2 per time) is no longer served: a pooled fit asks pooled_sums and pooled_hessian (docs/cox-protocol.md); update the client")
	default:
		return queryErrorf(CodeInvalid, "cox.form %q: want stratified, pooled_sums, pooled_hessian, validate, lp_histogram, dp_tables or zph", clipName(string(c.Form)))
	}
	if c.Form != CoxLPHistogram && c.LPBinWidth != 0 {
		return queryErrorf(CodeInvalid, "cox.lp_bin_width belongs to the lp_histogram form, not %s", c.Form)
	}
	if c.Form != CoxValidate && (len(c.Landmarks) > 0 || len(c.BaselineCumHaz) > 0) {
		return queryErrorf(CodeInvalid, "cox.landmarks and cox.baseline_cumhaz belong to the validate form, not %s", c.Form)
	}
	if err := validateCoxWeights(c); err != nil {
		return err
	}
	if err := validateZPHRequest(c); err != nil {
		return err
	}
	if c.Ties != "efron" && c.Ties != "breslow" {
		return queryErrorf(CodeInvalid, "cox.ties %q: want efron or breslow", clipName(c.Ties))
	}
	if len(c.Covariates) == 0 || len(c.Covariates) > MaxCovariates {
		return queryErrorf(CodeInvalid, "cox needs 1 to %d covariates, got %d", MaxCovariates, len(c.Covariates))
	}
	seen := map[string]bool{}
	for i, v := range c.Covariates {
		if v == "" || len(v) > MaxNameLen || seen[v] {
			return queryErrorf(CodeInvalid, "cox.covariates[%d]: empty, too long or repeated", i)
		}
		seen[v] = true
	}
	if len(c.Beta) > MaxDesignCols {
		return queryErrorf(CodeInvalid, "cox.beta: more than %d coefficients", MaxDesignCols)
	}
	for i, b := range c.Beta {
		if math.IsNaN(b) || math.IsInf(b, 0) {
			return queryErrorf(CodeInvalid, "cox.beta[%d] is not finite", i)
		}
	}
	if len(c.Strata) > MaxNameLen {
		return queryErrorf(CodeInvalid, "cox.strata too long")
	}
	if len(c.Levels) > MaxCovariates {
		return queryErrorf(CodeInvalid, "cox.levels: too many variables")
	}
	for v, l := range c.Indicators {
		if !seen[v] || len(l) == 0 || len(l) > MaxNameLen {
			return queryErrorf(CodeInvalid, "cox.indicators: %q is not a covariate, or its level is empty or too long", clipName(v))
		}
		if _, both := c.Levels[v]; both {
			return queryErrorf(CodeInvalid, "cox.indicators: %q also has cox.levels", clipName(v))
		}
	}
	if len(c.Interactions) > MaxCovariates {
		return queryErrorf(CodeInvalid, "cox.interactions: more than %d", MaxCovariates)
	}
	pairs := map[CoxInteraction]bool{}
	for i, in := range c.Interactions {
		if !seen[in.A] || !seen[in.B] || in.A == in.B || pairs[in] || pairs[CoxInteraction{in.B, in.A}] {
			return queryErrorf(CodeInvalid, "cox.interactions[%d]: two different covariates of the model, once", i)
		}
		pairs[in] = true
	}
	if len(c.Origin) > 0 && c.Form != CoxPooledSums && c.Form != CoxPooledHessian {
		return queryErrorf(CodeInvalid, "cox.origin belongs to the pooled forms, not %s", c.Form)
	}
	for v, o := range c.Origin {
		if !seen[v] {
			return queryErrorf(CodeInvalid, "cox.origin: %q is not a covariate", clipName(v))
		}
		if math.IsNaN(o) || math.IsInf(o, 0) {
			return queryErrorf(CodeInvalid, "cox.origin[%q] is not finite", clipName(v))
		}
	}
	for v, lv := range c.Levels {
		if !seen[v] {
			return queryErrorf(CodeInvalid, "cox.levels: %q is not a covariate", clipName(v))
		}
		if len(lv) == 0 || len(lv) > MaxFilterValues {
			return queryErrorf(CodeInvalid, "cox.levels[%q]: 1 to %d levels needed", v, MaxFilterValues)
		}
		dup := map[string]bool{}
		for _, l := range lv {
			if len(l) > MaxNameLen || dup[l] {
				return queryErrorf(CodeInvalid, "cox.levels[%q]: level too long or repeated", v)
			}
			dup[l] = true
		}
	}
	return nil
}

// validateCoxWeights checks the shape of a phase-2 request: addressed to a site, with weights
// that are finite; A non-decreasing and ≥ 0, B ≥ 0 (the node checks them against its own
// times). Every other form carries neither.
func validateCoxWeights(c *CoxRequest) error {
	if c.Form != CoxPooledHessian && c.Form != CoxMeat {
		if c.Site != "" || c.Weights != nil {
			return queryErrorf(CodeInvalid, "cox.site and cox.weights belong to a pooled_hessian request only (or a finegray meat request)")
		}
		return nil
	}
	if c.Site == "" || len(c.Site) > MaxNameLen {
		return queryErrorf(CodeInvalid, "a %s request names its site (cox.site)", c.Form)
	}
	if c.Weights == nil {
		return queryErrorf(CodeInvalid, "a %s request carries the site's weights (cox.weights)", c.Form)
	}
	w := c.Weights
	if c.Form != CoxMeat && (w.A1 != nil || w.B1 != nil || w.XBar != nil || w.Psi != nil || w.QPi != nil) {
		return queryErrorf(CodeInvalid, "cox.weights: a1, b1, xbar, psi and qpi belong to a meat request")
	}
	for name, v := range map[string]Float64s{"a1": w.A1, "b1": w.B1, "xbar": w.XBar, "psi": w.Psi, "qpi": w.QPi} {
		for k, x := range v {
			if math.IsNaN(x) || math.IsInf(x, 0) {
				return queryErrorf(CodeInvalid, "cox.weights.%s[%d] is not finite", name, k)
			}
		}
	}
	for k, a := range c.Weights.A {
		if math.IsNaN(a) || math.IsInf(a, 0) || a < 0 || (k > 0 && a < c.Weights.A[k-1]) {
			return queryErrorf(CodeInvalid, "cox.weights.a[%d]: the weights A must be finite, non-negative and non-decreasing", k)
		}
	}
	for k, b := range c.Weights.B {
		if math.IsNaN(b) || math.IsInf(b, 0) || b < 0 {
			return queryErrorf(CodeInvalid, "cox.weights.b[%d]: the weights B must be finite and non-negative", k)
		}
	}
	return nil
}

// validateFineGrayRequest checks what a Fine–Gray round asks beyond a Cox round's parameters:
// a cause, one of its three forms, Breslow's ties (as cmprsk::crr), no strata (crr has none;
// docs/competing-risks.md).
func validateFineGrayRequest(c *CoxRequest) error {
	if c.Cause == "" || len(c.Cause) > MaxNameLen {
		return queryErrorf(CodeInvalid, "a finegray query names the cause modelled (cox.cause)")
	}
	switch c.Form {
	case CoxPooledSums, CoxPooledHessian, CoxMeat:
	default:
		return queryErrorf(CodeInvalid, "finegray: cox.form %q: want pooled_sums, pooled_hessian or meat", clipName(string(c.Form)))
	}
	if c.Ties != "breslow" {
		return queryErrorf(CodeInvalid, "finegray: cox.ties %q: the Fine–Gray model takes Breslow's ties (as cmprsk::crr)", clipName(c.Ties))
	}
	if c.Strata != "" {
		return queryErrorf(CodeInvalid, "finegray: the model is pooled over sites and takes no cox.strata")
	}
	return nil
}

// validateLandmarks checks a validation request's landmarks and the model's cumulative
// baseline hazard at them: of equal length (at most MaxLandmarks), landmarks finite, positive
// and increasing, the hazard finite, non-negative and non-decreasing; and a β to validate.
func validateLandmarks(c *CoxRequest) error {
	if len(c.Beta) == 0 {
		return queryErrorf(CodeInvalid, "cox.form validate needs the model's beta")
	}
	if len(c.Landmarks) != len(c.BaselineCumHaz) {
		return queryErrorf(CodeInvalid, "cox.landmarks has %d times, cox.baseline_cumhaz %d values", len(c.Landmarks), len(c.BaselineCumHaz))
	}
	if len(c.Landmarks) > MaxLandmarks {
		return queryErrorf(CodeInvalid, "cox.landmarks: at most %d, got %d", MaxLandmarks, len(c.Landmarks))
	}
	for k, t := range c.Landmarks {
		if math.IsNaN(t) || math.IsInf(t, 0) || t <= 0 || (k > 0 && t <= c.Landmarks[k-1]) {
			return queryErrorf(CodeInvalid, "cox.landmarks[%d]: landmarks must be finite, positive and increasing", k)
		}
		h := c.BaselineCumHaz[k]
		if math.IsNaN(h) || math.IsInf(h, 0) || h < 0 || (k > 0 && h < c.BaselineCumHaz[k-1]) {
			return queryErrorf(CodeInvalid, "cox.baseline_cumhaz[%d]: a cumulative hazard is finite, non-negative and non-decreasing", k)
		}
	}
	return nil
}
