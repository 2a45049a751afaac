package protocol

import (
	"fmt"
	"maps"
	"math"
	"slices"
)

// ValidateReply checks that r is a well-formed answer to q before the client uses it: it
// belongs to q (version, query ID, kind), names its site, carries either a coded error or
// exactly the payload q asked for, and the payload is possible: counts are non-negative,
// parts add up to their whole when nothing was suppressed, survival times are finite,
// non-negative and strictly increasing, vectors and matrices have the length the query
// implies, no number is NaN or infinite, and an answer is labelled approximate exactly when
// the query was a feasibility count (then its count is a multiple of the stated rounding).
//
// A reply that fails is never merged; the client reports the site with the returned error,
// a *Error with code invalid whose message gives the path of the offending field
// (e.g. "survival.groups[1].events[3]: -2 is negative").
func ValidateReply(q Query, r Reply) error {
	v := validator{}
	v.reply(q, r)
	if v.err == nil {
		return nil
	}
	return &Error{Code: CodeInvalid, Message: v.err.Error()}
}

// CheckFeasibility checks the Feasibility flag of a query against its kind: only an
// ungrouped count can be a feasibility count. The error is a *Error of code invalid whose
// message starts with the field path ("feasibility: ...").
func CheckFeasibility(q Query) error {
	if !q.Feasibility {
		return nil
	}
	if q.Kind != KindCount {
		return &Error{Code: CodeInvalid, Message: fmt.Sprintf("feasibility: a %s query cannot be a feasibility count; only count can", q.Kind)}
	}
	if q.GroupBy != "" {
		return &Error{Code: CodeInvalid, Message: "feasibility: a feasibility count takes no group_by (count each group as its own cohort)"}
	}
	return nil
}

// validator records the first problem found; later checks become no-ops so that the
// message names the root cause rather than its consequences.
type validator struct{ err error }

func (v *validator) failf(path, format string, args ...any) {
	if v.err != nil {
		return
	}
	if path != "" {
		format = path + ": " + format
	}
	v.err = fmt.Errorf(format, args...)
}

func (v *validator) finite(path string, x float64) {
	if math.IsNaN(x) || math.IsInf(x, 0) {
		v.failf(path, "%v is not a finite number", x)
	}
}

func (v *validator) finites(path string, xs []float64) {
	for i, x := range xs {
		if !isFinite(x) {
			// The path is formatted only on failure: replies carry millions of numbers.
			v.finite(fmt.Sprintf("%s[%d]", path, i), x)
		}
	}
}

func isFinite(x float64) bool { return !math.IsNaN(x) && !math.IsInf(x, 0) }

func (v *validator) nonNegative(path string, n int) {
	if n < 0 {
		v.failf(path, "%d is negative", n)
	}
}

func (v *validator) count(path string, c Count) {
	if c.N < 0 {
		v.failf(path, "%d is negative", c.N)
	}
}

func (v *validator) length(path string, got, want int) {
	if got != want {
		v.failf(path, "length %d, want %d", got, want)
	}
}

func (v *validator) reply(q Query, r Reply) {
	if r.Version != Version {
		v.failf("version", "%q, want %q", r.Version, Version)
	}
	if r.QueryID != q.ID {
		v.failf("query_id", "%q answers another query than %q", r.QueryID, q.ID)
	}
	if r.Kind != q.Kind {
		v.failf("kind", "%q, want %q", r.Kind, q.Kind)
	}
	if r.Site == "" {
		v.failf("site", "empty")
	}
	v.policyEffects(r.Policy)
	payloads := 0
	for _, set := range []bool{r.Catalog != nil, r.Count != nil, r.Summary != nil, r.Survival != nil, r.Cox != nil, r.IPW != nil, r.Screen != nil} {
		if set {
			payloads++
		}
	}
	if r.Error != nil {
		v.refusal(r.Error)
		if payloads != 0 {
			v.failf("", "an error reply carries %d payloads", payloads)
		}
		return
	}
	if payloads != 1 {
		v.failf("", "%d payloads, want exactly one", payloads)
		return
	}
	v.feasibility(q, r)
	switch q.Kind {
	case KindCatalog:
		if r.Catalog == nil {
			v.failf("catalog", "missing")
			return
		}
		v.catalog(r.Site, r.Catalog)
	case KindCount:
		if r.Count == nil {
			v.failf("count", "missing")
			return
		}
		v.countReply(q, r.Count)
	case KindSummary:
		if r.Summary == nil {
			v.failf("summary", "missing")
			return
		}
		v.summary(q, r.Summary, r.Policy.DP != nil)
	case KindSurvival:
		if r.Survival == nil {
			v.failf("survival", "missing")
			return
		}
		v.survival(q, r.Survival)
	case KindCox, KindFineGray:
		if r.Cox == nil {
			v.failf("cox", "missing")
			return
		}
		v.cox(q, r.Cox)
	case KindIPW:
		if r.IPW == nil {
			v.failf("ipw", "missing")
			return
		}
		v.ipw(q, r.IPW)
	case KindScreen:
		if r.Screen == nil {
			v.failf("screen", "missing")
			return
		}
		v.screenReply(q, r.Screen)
	default:
		v.failf("kind", "unknown kind %q", q.Kind)
	}
}

func (v *validator) policyEffects(p PolicyEffects) {
	v.finite("policy.bin_days", p.BinDays)
	if p.BinDays < 0 {
		v.failf("policy.bin_days", "%v is negative", p.BinDays)
	}
	v.nonNegative("policy.min_cell", p.MinCell)
	v.nonNegative("policy.min_cohort", p.MinCohort)
	v.nonNegative("policy.suppressed_cells", p.SuppressedCells)
	v.nonNegative("policy.merged_rows", p.MergedRows)
	if p.TruncatedAfter != nil {
		v.finite("policy.truncated_after", *p.TruncatedAfter)
	}
	v.nonNegative("policy.feasibility_rounding", p.FeasibilityRounding)
	v.nonNegative("policy.feasibility_noise", p.FeasibilityNoise)
	if p.Auth != "" && p.Auth != AuthOpen {
		v.failf("policy.auth", "unknown authentication mode %q", p.Auth)
	}
	if d := p.DP; d != nil {
		for _, f := range []struct {
			name string
			x    float64
		}{{"rho", d.Rho}, {"sigma2", d.Sigma2}, {"size_sd", d.SizeSD}, {"left_today", d.LeftToday}, {"left_total", d.LeftTotal}} {
			v.finite("policy.dp."+f.name, f.x)
			if f.x < 0 {
				v.failf("policy.dp."+f.name, "%v is negative", f.x)
			}
		}
		if d.Rho == 0 || d.Sigma2 == 0 || d.Mechanism == "" {
			v.failf("policy.dp", "a differentially private release names its mechanism, ρ > 0 and σ² > 0")
		}
	}
}

// feasibility checks that an answer says truthfully whether it is approximate: the answer to a
// feasibility count names its rounding (≥ 1) and its count is a non-negative multiple of it,
// never suppressed (a cohort too small is refused, as an exact count is); any other answer
// claims no rounding or noise, so the client never labels an exact number approximate or
// the reverse.
func (v *validator) feasibility(q Query, r Reply) {
	p := r.Policy
	if !q.Feasibility {
		if p.FeasibilityRounding != 0 || p.FeasibilityNoise != 0 {
			v.failf("policy.feasibility_rounding", "feasibility rounding %d and noise %d on the answer to an exact query", p.FeasibilityRounding, p.FeasibilityNoise)
		}
		return
	}
	if err := CheckFeasibility(q); err != nil {
		v.failf("", "%s", err.(*Error).Message)
		return
	}
	if p.FeasibilityRounding < 1 {
		v.failf("policy.feasibility_rounding", "%d on the answer to a feasibility count, want at least 1", p.FeasibilityRounding)
		return
	}
	if r.Count == nil {
		return
	}
	if r.Count.Total.Suppressed {
		v.failf("count.total", "suppressed in a feasibility count (a cohort too small is refused)")
	}
	if n := r.Count.Total.N; n%p.FeasibilityRounding != 0 {
		v.failf("count.total", "%d is not a multiple of the feasibility rounding %d", n, p.FeasibilityRounding)
	}
}

func (v *validator) catalog(site string, c *Catalog) {
	if c.Site != site {
		v.failf("catalog.site", "%q, but the reply comes from %q", c.Site, site)
	}
	v.nonNegative("catalog.policy.min_cohort", c.Policy.MinCohort)
	v.nonNegative("catalog.policy.min_cell", c.Policy.MinCell)
	v.finite("catalog.policy.bin_days", c.Policy.BinDays)
	if c.Policy.BinDays < 0 {
		v.failf("catalog.policy.bin_days", "%v is negative", c.Policy.BinDays)
	}
	if x := c.Policy.FeasibilityCost; !(x >= 0 && x <= 1) {
		v.failf("catalog.policy.feasibility_cost", "%v is not a share of a query (0 to 1)", x)
	}
	if y := c.You; y != nil {
		if y.Role != "trusted" && y.Role != "dp" {
			v.failf("catalog.you.role", "unknown role %q", y.Role)
		}
		if y.QueriesLeft < -1 {
			v.failf("catalog.you.queries_left", "%d", y.QueriesLeft)
		}
		for _, m := range []map[string]float64{y.RhoLeftToday, y.RhoLeftTotal} {
			for study, x := range m {
				v.finite("catalog.you.rho_left["+study+"]", x)
				if x < 0 {
					v.failf("catalog.you.rho_left["+study+"]", "%v is negative", x)
				}
			}
		}
	}
	v.finite("catalog.policy.max_cox_log_hr", c.Policy.MaxCoxLogHR)
	if c.Policy.MaxCoxLogHR < 0 {
		v.failf("catalog.policy.max_cox_log_hr", "%v is negative", c.Policy.MaxCoxLogHR)
	}
	studies := map[string]bool{}
	for i, s := range c.Studies {
		path := fmt.Sprintf("catalog.studies[%d]", i)
		if s.Name == "" {
			v.failf(path+".name", "empty")
		}
		if studies[s.Name] {
			v.failf(path+".name", "study %q listed twice", s.Name)
		}
		studies[s.Name] = true
		v.nonNegative(path+".patients", s.Patients)
		vars := map[string]bool{}
		for j, x := range s.Variables {
			vp := fmt.Sprintf("%s.variables[%d]", path, j)
			if x.Name == "" {
				v.failf(vp+".name", "empty")
			}
			if vars[x.Name] {
				v.failf(vp+".name", "variable %q listed twice", x.Name)
			}
			vars[x.Name] = true
			if x.Type != Categorical && x.Type != Numeric {
				v.failf(vp+".type", "unknown type %q", x.Type)
			}
		}
		eps := map[string]bool{}
		for j, e := range s.Endpoints {
			if e.Name == "" || eps[e.Name] {
				v.failf(fmt.Sprintf("%s.endpoints[%d].name", path, j), "empty or listed twice: %q", e.Name)
			}
			eps[e.Name] = true
			if h := e.HorizonDays; h != nil && !(*h > 0 && *h <= math.MaxFloat64) {
				v.failf(fmt.Sprintf("%s.endpoints[%d].horizon_days", path, j), "%v is not a positive number of days", *h)
			}
		}
	}
}

// countReply checks a count reply; groups plus missing add up to the total unless a
// suppressed cell hides a value.
func (v *validator) countReply(q Query, c *CountReply) {
	v.count("count.total", c.Total)
	v.count("count.missing", c.Missing)
	if q.GroupBy == "" && len(c.Groups) > 0 {
		v.failf("count.groups", "%d groups for an ungrouped query", len(c.Groups))
	}
	sum, suppressed := c.Missing.N, c.Total.Suppressed || c.Missing.Suppressed
	for _, g := range slices.Sorted(maps.Keys(c.Groups)) {
		n := c.Groups[g]
		v.count(fmt.Sprintf("count.groups[%q]", g), n)
		sum += n.N
		suppressed = suppressed || n.Suppressed
	}
	if q.GroupBy != "" && !suppressed && sum != c.Total.N {
		v.failf("count", "groups and missing add up to %d, but the total is %d", sum, c.Total.N)
	}
	if q.GroupBy == "" && c.Missing.N != 0 {
		v.failf("count.missing", "%d missing group values for an ungrouped query", c.Missing.N)
	}
}

// summary checks a summary reply; noisy (a differentially private release) allows sums that
// no data could give (Σx² < (Σx)²/n), as independent noise on Σx and Σx² may.
func (v *validator) summary(q Query, s *SummaryReply, noisy bool) {
	want := map[string]bool{}
	for _, name := range q.Variables {
		want[name] = true
	}
	edges := map[string][]float64{}
	for _, b := range q.Bins {
		edges[b.Variable] = b.Edges
	}
	groups := map[string]bool{}
	for i, g := range s.Groups {
		path := fmt.Sprintf("summary.groups[%d]", i)
		if groups[g.Group] {
			v.failf(path+".group", "group %q listed twice", g.Group)
		}
		groups[g.Group] = true
		if q.GroupBy == "" && g.Group != "" {
			v.failf(path+".group", "group %q in an ungrouped query", g.Group)
		}
		v.count(path+".n", g.N)
		seen := map[string]bool{}
		for j, x := range g.Variables {
			vp := fmt.Sprintf("%s.variables[%d]", path, j)
			if !want[x.Variable] {
				v.failf(vp+".variable", "%q was not asked for", x.Variable)
			}
			if seen[x.Variable] {
				v.failf(vp+".variable", "%q listed twice", x.Variable)
			}
			seen[x.Variable] = true
			v.variableSummary(vp, g.N, x, edges[x.Variable], noisy)
		}
	}
}

func (v *validator) variableSummary(path string, groupN Count, x VariableSummary, edges []float64, noisy bool) {
	v.count(path+".missing", x.Missing)
	v.count(path+".n", x.N)
	exact := !groupN.Suppressed && !x.Missing.Suppressed
	if x.Categories != nil {
		sum := x.Missing.N
		for _, c := range slices.Sorted(maps.Keys(x.Categories)) {
			n := x.Categories[c]
			v.count(fmt.Sprintf("%s.categories[%q]", path, c), n)
			sum += n.N
			exact = exact && !n.Suppressed
		}
		if exact && sum != groupN.N {
			v.failf(path, "categories and missing add up to %d, but the group has %d", sum, groupN.N)
		}
		return
	}
	v.finite(path+".sum", x.Sum)
	v.finite(path+".sum_sq", x.SumSq)
	if x.SumSq < 0 {
		v.failf(path+".sum_sq", "%v is negative", x.SumSq)
	}
	exact = exact && !x.N.Suppressed
	if exact && x.N.N+x.Missing.N != groupN.N {
		v.failf(path, "n %d and missing %d do not add up to the group's %d", x.N.N, x.Missing.N, groupN.N)
	}
	// Cauchy–Schwarz: (Σx)² ≤ n Σx², with room for rounding (not for noise).
	if !noisy && !x.N.Suppressed && x.Sum*x.Sum > float64(x.N.N)*x.SumSq*(1+1e-9)+1e-9 {
		v.failf(path, "sum %v and sum of squares %v are impossible for n = %d", x.Sum, x.SumSq, x.N.N)
	}
	if x.Histogram == nil {
		return
	}
	if edges != nil && !slices.Equal(edges, x.Edges) {
		v.failf(path+".edges", "%v, but the query asked for %v", x.Edges, edges)
	}
	v.finites(path+".edges", x.Edges)
	for i := 1; i < len(x.Edges); i++ {
		if x.Edges[i] <= x.Edges[i-1] {
			v.failf(fmt.Sprintf("%s.edges[%d]", path, i), "%v does not follow %v", x.Edges[i], x.Edges[i-1])
		}
	}
	v.length(path+".histogram", len(x.Histogram), len(x.Edges)+1)
	sum := 0
	for i, c := range x.Histogram {
		v.count(fmt.Sprintf("%s.histogram[%d]", path, i), c)
		sum += c.N
		exact = exact && !c.Suppressed
	}
	if exact && sum != x.N.N {
		v.failf(path+".histogram", "cells add up to %d, but n is %d", sum, x.N.N)
	}
}

func (v *validator) survival(q Query, s *SurvivalReply) {
	if s.Endpoint != q.Endpoint {
		v.failf("survival.endpoint", "%q, want %q", s.Endpoint, q.Endpoint)
	}
	v.count("survival.missing_group", s.MissingGroup)
	groups := map[string]bool{}
	for i, g := range s.Groups {
		path := fmt.Sprintf("survival.groups[%d]", i)
		if groups[g.Group] {
			v.failf(path+".group", "group %q listed twice", g.Group)
		}
		groups[g.Group] = true
		if q.GroupBy == "" && g.Group != "" {
			v.failf(path+".group", "group %q in an ungrouped query", g.Group)
		}
		v.length(path+".events", len(g.Events), len(g.Time))
		v.length(path+".censor", len(g.Censor), len(g.Time))
		if v.err != nil {
			return
		}
		for k, t := range g.Time {
			if isFinite(t) && t >= 0 && (k == 0 || t > g.Time[k-1]) && g.Events[k] >= 0 && g.Censor[k] >= 0 {
				continue // the common case, checked without formatting a path
			}
			tp := fmt.Sprintf("%s.time[%d]", path, k)
			v.finite(tp, t)
			if t < 0 {
				v.failf(tp, "%v is negative", t)
			}
			if k > 0 && t <= g.Time[k-1] {
				v.failf(tp, "%v does not follow %v", t, g.Time[k-1])
			}
			v.nonNegative(fmt.Sprintf("%s.events[%d]", path, k), g.Events[k])
			v.nonNegative(fmt.Sprintf("%s.censor[%d]", path, k), g.Censor[k])
		}
		// Without delayed entry the number at risk at t_k is Σ_{j≥k}(d_j + c_j) ≥ d_k, so
		// "events ≤ at risk" holds once counts are non-negative; guard the sum against
		// overflow from absurd counts instead.
		total := 0
		for k := range g.Time {
			total += g.Events[k] + g.Censor[k]
			if total < 0 || total > maxPatients {
				v.failf(path, "more than %d subjects", maxPatients)
				break
			}
		}
		v.survivalCauses(path, g)
		v.survivalEntries(path, g, total)
	}
}

// survivalCauses checks a group's split of its events by cause: one column per cause, the
// length of the table, non-negative counts adding up to each row's events.
func (v *validator) survivalCauses(path string, g SurvivalGroup) {
	for c, col := range g.Causes {
		v.length(fmt.Sprintf("%s.causes[%d]", path, c), len(col), len(g.Time))
	}
	if v.err != nil || len(g.Causes) == 0 {
		return
	}
	for k := range g.Time {
		sum := 0
		for c, col := range g.Causes {
			v.nonNegative(fmt.Sprintf("%s.causes[%d][%d]", path, c, k), col[k])
			sum += col[k]
		}
		if sum != g.Events[k] {
			v.failf(fmt.Sprintf("%s.causes", path), "row %d: causes add up to %d, events are %d", k, sum, g.Events[k])
			return
		}
	}
}

// survivalEntries checks a group's delayed entries: increasing positive times, non-negative
// counts, no more entries than subjects, and never more events at a time than at risk.
func (v *validator) survivalEntries(path string, g SurvivalGroup, total int) {
	v.length(path+".entries", len(g.Entries), len(g.EntryTime))
	if v.err != nil || len(g.Entries) == 0 {
		return
	}
	entered := 0
	for k, t := range g.EntryTime {
		tp := fmt.Sprintf("%s.entry_time[%d]", path, k)
		v.finite(tp, t)
		if !(t > 0) || (k > 0 && t <= g.EntryTime[k-1]) {
			v.failf(tp, "%v is not positive and after the previous entry time", t)
		}
		v.nonNegative(fmt.Sprintf("%s.entries[%d]", path, k), g.Entries[k])
		entered += g.Entries[k]
	}
	if v.err == nil && entered > total {
		v.failf(path+".entries", "%d delayed entries for %d subjects", entered, total)
	}
}

// coxRowPlausible reports whether row passes every check of the pooled-row loop in
// validator.cox (which it must mirror): the loop formats the failing field's path only when
// this says no.
//
// q2 is the length of the second-moment sums R2 and E2: p² in the retired one-phase form, 0
// in phase 1 of the two-phase form (CoxPooledSums).
func coxRowPlausible(row CoxRiskSetRow, p, q2 int, increasing bool) bool {
	if !increasing || !isFinite(row.Time) || row.D < 0 || !isFinite(row.R0) || row.R0 <= 0 ||
		len(row.R1) != p || len(row.R2) != q2 || !allFinite(row.R1) || !allFinite(row.R2) ||
		!isFinite(row.E0) || row.E0 < 0 || row.E0 > row.R0*(1+1e-12) ||
		(row.D > 0) != (row.E0 > 0) {
		return false
	}
	if row.E1 != nil || row.D > 0 {
		if len(row.E1) != p || !allFinite(row.E1) {
			return false
		}
	}
	if row.E2 != nil || (row.D > 0 && q2 > 0) {
		if len(row.E2) != q2 || !allFinite(row.E2) {
			return false
		}
	}
	return true
}

func allFinite(xs []float64) bool {
	for _, x := range xs {
		if !isFinite(x) {
			return false
		}
	}
	return true
}

// maxPatients bounds any count in a reply: no site holds more patients than this, so a
// larger number is a corrupt reply (and would overflow sums on the client).
const maxPatients = 1 << 40

func (v *validator) cox(q Query, c *CoxReply) {
	if q.Cox == nil {
		v.failf("cox", "reply to a query without a cox request")
		return
	}
	p := len(q.Cox.Beta)
	v.length("cox.columns", len(c.Columns), p)
	v.nonNegative("cox.n", c.N)
	v.nonNegative("cox.events", c.Events)
	v.nonNegative("cox.excluded", c.Excluded)
	if c.ExcludedSuppressed && c.Excluded != 0 {
		v.failf("cox.excluded", "%d released although suppressed", c.Excluded)
	}
	if c.Events > c.N {
		v.failf("cox.events", "%d events among %d subjects", c.Events, c.N)
	}
	if c.BetaLimit != nil {
		v.length("cox.beta_limit", len(c.BetaLimit), p)
		for j, b := range c.BetaLimit {
			if !isFinite(b) || b <= 0 {
				v.failf(fmt.Sprintf("cox.beta_limit[%d]", j), "%v is not a positive number", b)
			} else if j < p && math.Abs(q.Cox.Beta[j]) > b {
				v.failf(fmt.Sprintf("cox.beta_limit[%d]", j), "the site answered at |β| = %v above its own limit %v", math.Abs(q.Cox.Beta[j]), b)
			}
		}
	}
	if q.Kind == KindFineGray && q.Cox.Form != CoxPooledHessian {
		v.fineGray(q.Cox, c, p)
		return
	}
	switch q.Cox.Form {
	case CoxValidate:
		v.coxValidation(q.Cox, c)
	case CoxLPHistogram:
		v.coxLPHistogram(c)
	case CoxStratified:
		v.finite("cox.loglik", c.LogLik)
		v.length("cox.gradient", len(c.Gradient), p)
		v.length("cox.hessian", len(c.Hessian), p*p)
		v.finites("cox.gradient", c.Gradient)
		v.finites("cox.hessian", c.Hessian)
		if v.err != nil {
			return
		}
		for i := 0; i < p; i++ {
			// The Hessian of a log partial likelihood is negative semi-definite: its diagonal
			// is ≤ 0 and it is symmetric.
			if h := c.Hessian[i*p+i]; h > 1e-9*(1+math.Abs(h)) {
				v.failf(fmt.Sprintf("cox.hessian[%d,%d]", i, i), "%v is positive", h)
			}
			for j := 0; j < i; j++ {
				a, b := c.Hessian[i*p+j], c.Hessian[j*p+i]
				if math.Abs(a-b) > 1e-8*(1+math.Max(math.Abs(a), math.Abs(b))) {
					v.failf(fmt.Sprintf("cox.hessian[%d,%d]", i, j), "%v differs from its transpose %v", a, b)
				}
			}
		}
		if len(c.Rows) != 0 {
			v.failf("cox.rows", "risk-set rows in a stratified reply")
		}
	case CoxPooledHessian:
		v.length("cox.second_moment", len(c.SecondMoment), p*p)
		v.finites("cox.second_moment", c.SecondMoment)
		if v.err != nil {
			return
		}
		for i := 0; i < p; i++ {
			// A sum of w x x' times non-negative weights (A − B ≥ 0 at an event): its
			// diagonal is ≥ 0 and it is symmetric.
			if m := c.SecondMoment[i*p+i]; m < -1e-9*(1+math.Abs(m)) {
				v.failf(fmt.Sprintf("cox.second_moment[%d,%d]", i, i), "%v is negative", m)
			}
			for j := 0; j < i; j++ {
				a, b := c.SecondMoment[i*p+j], c.SecondMoment[j*p+i]
				if a != b {
					v.failf(fmt.Sprintf("cox.second_moment[%d,%d]", i, j), "%v differs from its transpose %v", a, b)
				}
			}
		}
		if len(c.Rows) != 0 || len(c.Gradient) != 0 || len(c.Hessian) != 0 || len(c.EventXSum) != 0 {
			v.failf("cox", "rows, gradient or Hessian in a pooled_hessian reply")
		}
	case CoxPooled, CoxPooledSums:
		q2 := p * p
		if q.Cox.Form == CoxPooledSums {
			q2 = 0
		}
		v.length("cox.event_x_sum", len(c.EventXSum), p)
		v.finites("cox.event_x_sum", c.EventXSum)
		events := 0
		for k, row := range c.Rows {
			events += row.D
			if coxRowPlausible(row, p, q2, k == 0 || row.Time > c.Rows[k-1].Time) {
				continue // the common case, checked without formatting a path
			}
			path := fmt.Sprintf("cox.rows[%d]", k)
			v.finite(path+".time", row.Time)
			if k > 0 && row.Time <= c.Rows[k-1].Time {
				v.failf(path+".time", "%v does not follow %v", row.Time, c.Rows[k-1].Time)
			}
			v.nonNegative(path+".d", row.D)
			v.finite(path+".r0", row.R0)
			if row.R0 <= 0 {
				// Every row holds at least one subject and exp(x'β) > 0.
				v.failf(path+".r0", "%v is not positive", row.R0)
			}
			v.length(path+".r1", len(row.R1), p)
			v.length(path+".r2", len(row.R2), q2)
			v.finites(path+".r1", row.R1)
			v.finites(path+".r2", row.R2)
			v.finite(path+".e0", row.E0)
			if row.E0 < 0 || row.E0 > row.R0*(1+1e-12) {
				v.failf(path+".e0", "%v is outside [0, r0 = %v]", row.E0, row.R0)
			}
			if row.D > 0 && row.E0 <= 0 {
				v.failf(path+".e0", "%v with %d events", row.E0, row.D)
			}
			if row.D == 0 && row.E0 != 0 {
				v.failf(path+".e0", "%v without events", row.E0)
			}
			if row.E1 != nil || row.D > 0 {
				v.length(path+".e1", len(row.E1), p)
				v.finites(path+".e1", row.E1)
			}
			if row.E2 != nil || (row.D > 0 && q2 > 0) {
				v.length(path+".e2", len(row.E2), q2)
				v.finites(path+".e2", row.E2)
			}
			if v.err != nil {
				return
			}
		}
		if events != c.Events {
			v.failf("cox.rows", "%d events in the rows, but events is %d", events, c.Events)
		}
		if len(c.Gradient) != 0 || len(c.Hessian) != 0 || len(c.SecondMoment) != 0 {
			v.failf("cox", "gradient or Hessian in a pooled reply")
		}
	case CoxDPTables:
		v.coxPatterns(p, c)
	case CoxZPH:
		v.coxZPH(c, p)
	default:
		v.failf("cox", "unknown form %q in the query", q.Cox.Form)
	}
}

// fineGray checks a Fine–Gray reply of the pooled_sums form (rows in increasing time whose
// counts add up, sums of length p, competing sums only where there are competing events) or of
// the meat form (a symmetric p×p matrix with a non-negative diagonal).
func (v *validator) fineGray(req *CoxRequest, c *CoxReply, p int) {
	if len(c.Rows) != 0 || len(c.Gradient) != 0 || len(c.Hessian) != 0 || c.Validation != nil {
		v.failf("cox", "Cox sums in a finegray reply")
	}
	if req.Form == CoxMeat {
		v.symmetricPSD("cox.meat", c.Meat, p)
		if len(c.FineGrayRows) != 0 || len(c.SecondMoment) != 0 || len(c.EventXSum) != 0 {
			v.failf("cox", "rows or moments in a meat reply")
		}
		return
	}
	v.length("cox.event_x_sum", len(c.EventXSum), p)
	v.finites("cox.event_x_sum", c.EventXSum)
	if len(c.Meat) != 0 || len(c.SecondMoment) != 0 {
		v.failf("cox", "moments in a pooled_sums reply")
	}
	events, n := 0, 0
	for k, r := range c.FineGrayRows {
		path := fmt.Sprintf("cox.fine_gray_rows[%d]", k)
		v.finite(path+".time", r.Time)
		if k > 0 && r.Time <= c.FineGrayRows[k-1].Time {
			v.failf(path+".time", "%v does not follow %v", r.Time, c.FineGrayRows[k-1].Time)
		}
		comp := r.N - r.D - r.NC
		if r.N <= 0 || r.D < 0 || r.NC < 0 || comp < 0 {
			v.failf(path, "%d patients, %d events of the cause, %d censored", r.N, r.D, r.NC)
		}
		v.finite(path+".r0", r.R0)
		v.finite(path+".c0", r.C0)
		if !(r.R0 > 0) || r.C0 < 0 || r.C0 > r.R0*(1+1e-12) || (comp > 0) != (r.C0 > 0) {
			v.failf(path+".c0", "weight sums r0 = %v, c0 = %v with %d competing events", r.R0, r.C0, comp)
		}
		v.length(path+".r1", len(r.R1), p)
		v.finites(path+".r1", r.R1)
		if comp > 0 {
			v.length(path+".c1", len(r.C1), p)
		} else {
			v.length(path+".c1", len(r.C1), 0)
		}
		v.finites(path+".c1", r.C1)
		if v.err != nil {
			return
		}
		events += r.D
		n += r.N
	}
	if events != c.Events || n != c.N {
		v.failf("cox.fine_gray_rows", "%d patients and %d events in the rows, but n is %d and events %d", n, events, c.N, c.Events)
	}
}

// symmetricPSD checks a p×p matrix that is a sum of outer products: finite, symmetric, with a
// non-negative diagonal.
func (v *validator) symmetricPSD(path string, m []float64, p int) {
	v.length(path, len(m), p*p)
	v.finites(path, m)
	if v.err != nil {
		return
	}
	for i := 0; i < p; i++ {
		if d := m[i*p+i]; d < -1e-9*(1+math.Abs(d)) {
			v.failf(fmt.Sprintf("%s[%d,%d]", path, i, i), "%v is negative", d)
		}
		for j := 0; j < i; j++ {
			if a, b := m[i*p+j], m[j*p+i]; a != b {
				v.failf(fmt.Sprintf("%s[%d,%d]", path, i, j), "%v differs from its transpose %v", a, b)
			}
		}
	}
}

// coxLPHistogram checks an lp_histogram reply: one count more than cuts, cuts increasing,
// counts non-negative and adding up to N, and no model sums.
func (v *validator) coxLPHistogram(c *CoxReply) {
	h := c.LPHistogram
	if h == nil {
		v.failf("cox.lp_histogram", "missing")
		return
	}
	if len(c.Rows) != 0 || len(c.Gradient) != 0 || len(c.Hessian) != 0 || len(c.EventXSum) != 0 || len(c.SecondMoment) != 0 || c.Validation != nil {
		v.failf("cox", "model sums in an lp_histogram reply")
	}
	v.length("cox.lp_histogram.counts", len(h.Counts), len(h.Cuts)+1)
	total := 0
	for k, n := range h.Counts {
		v.nonNegative(fmt.Sprintf("cox.lp_histogram.counts[%d]", k), n)
		total += n
	}
	for k := 1; k < len(h.Cuts); k++ {
		if h.Cuts[k] <= h.Cuts[k-1] {
			v.failf(fmt.Sprintf("cox.lp_histogram.cuts[%d]", k), "%d does not follow %d", h.Cuts[k], h.Cuts[k-1])
		}
	}
	if total != c.N {
		v.failf("cox.lp_histogram.counts", "%d patients in the bins, but n is %d", total, c.N)
	}
}

// coxPatterns checks a dp_tables reply: one design row of p finite values per pattern, and a
// survival table with increasing finite times and non-negative counts; no model sums.
func (v *validator) coxPatterns(p int, c *CoxReply) {
	if len(c.Rows) != 0 || len(c.Gradient) != 0 || len(c.Hessian) != 0 || len(c.EventXSum) != 0 || len(c.SecondMoment) != 0 || c.Validation != nil {
		v.failf("cox", "model sums in a dp_tables reply")
	}
	for k, pt := range c.Patterns {
		path := fmt.Sprintf("cox.patterns[%d]", k)
		v.length(path+".x", len(pt.X), p)
		v.finites(path+".x", pt.X)
		v.length(path+".events", len(pt.Events), len(pt.Time))
		v.length(path+".censor", len(pt.Censor), len(pt.Time))
		v.finites(path+".time", pt.Time)
		if v.err != nil {
			return
		}
		for i := range pt.Time {
			if i > 0 && pt.Time[i] <= pt.Time[i-1] {
				v.failf(path+".time", "%v does not follow %v", pt.Time[i], pt.Time[i-1])
			}
			if pt.Events[i] < 0 || pt.Censor[i] < 0 || pt.Events[i] > maxPatients || pt.Censor[i] > maxPatients {
				v.failf(path, "count out of range at row %d", i)
			}
		}
	}
}

// coxValidation checks a validate reply: C in [0, 1], standard errors finite and non-negative,
// one calibration point per requested landmark with survival probabilities in [0, 1], and no
// model sums (the form releases nothing else).
func (v *validator) coxValidation(req *CoxRequest, c *CoxReply) {
	val := c.Validation
	if val == nil {
		v.failf("cox.validation", "missing")
		return
	}
	if len(c.Rows) != 0 || len(c.Gradient) != 0 || len(c.Hessian) != 0 || len(c.EventXSum) != 0 || len(c.SecondMoment) != 0 {
		v.failf("cox", "model sums in a validate reply")
	}
	for _, f := range []struct {
		name string
		x    float64
	}{{"harrell_c", val.HarrellC}, {"uno_c", val.UnoC}} {
		if !(f.x >= 0 && f.x <= 1) {
			v.failf("cox.validation."+f.name, "%v is not in [0, 1]", f.x)
		}
	}
	for _, f := range []struct {
		name string
		x    float64
	}{{"harrell_se", val.HarrellSE}, {"uno_se", val.UnoSE}} {
		v.finite("cox.validation."+f.name, f.x)
		if f.x < 0 {
			v.failf("cox.validation."+f.name, "%v is negative", f.x)
		}
	}
	if val.CalibrationSlope != nil {
		v.finite("cox.validation.calibration_slope", *val.CalibrationSlope)
	}
	v.length("cox.validation.calibration", len(val.Calibration), len(req.Landmarks))
	for k, pt := range val.Calibration {
		if k < len(req.Landmarks) && pt.Time != req.Landmarks[k] {
			v.failf(fmt.Sprintf("cox.validation.calibration[%d].time", k), "%v is not the landmark asked, %v", pt.Time, req.Landmarks[k])
		}
		if !(pt.Observed >= 0 && pt.Observed <= 1) || !(pt.Predicted >= 0 && pt.Predicted <= 1) {
			v.failf(fmt.Sprintf("cox.validation.calibration[%d]", k), "survival %v, %v not in [0, 1]", pt.Observed, pt.Predicted)
		}
		if pt.Brier != nil && !(*pt.Brier >= 0 && !math.IsInf(*pt.Brier, 0)) {
			v.failf(fmt.Sprintf("cox.validation.calibration[%d].brier", k), "%v is not a non-negative number", *pt.Brier)
		}
	}
}
