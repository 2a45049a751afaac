package node

import (
	"fmt"
	"math"

	"github.com/oncofed/oncofed/protocol"
)

// checkQuery validates the shape of a query before any data is read: version, kind, string
// lengths, the filter tree and the kind's parameters. Names are checked against the study
// later (checkAgainstStudy).
func checkQuery(q *protocol.Query) error {
	if q.Version != protocol.Version {
		return errorf(protocol.CodeUnsupported, "protocol version %q not spoken here (want %q)", clip(q.Version), protocol.Version)
	}
	known := false
	for _, k := range protocol.Kinds {
		known = known || q.Kind == k
	}
	if !known {
		return errorf(protocol.CodeInvalid, "unknown query kind %q", clip(string(q.Kind)))
	}
	for _, f := range []struct{ name, v string }{
		{"id", q.ID}, {"analyst", q.Analyst}, {"study", q.Study}, {"group_by", q.GroupBy}, {"endpoint", q.Endpoint},
	} {
		if len(f.v) > protocol.MaxNameLen {
			return errorf(protocol.CodeInvalid, "%s longer than %d bytes", f.name, protocol.MaxNameLen)
		}
	}
	if err := protocol.CheckFeasibility(*q); err != nil {
		return err
	}
	if q.Kind == protocol.KindCatalog {
		if q.Cohort != nil || q.GroupBy != "" || len(q.Variables) > 0 || len(q.Bins) > 0 || q.Cox != nil {
			return errorf(protocol.CodeInvalid, "a catalog query takes no cohort, grouping or parameters")
		}
		return nil
	}
	if q.Study == "" {
		return errorf(protocol.CodeInvalid, "no study given")
	}
	if q.Cohort != nil {
		nodes := 0
		if err := checkFilter(q.Cohort, "cohort", 1, &nodes); err != nil {
			return err
		}
	}
	if q.Kind != protocol.KindSummary && (len(q.Variables) > 0 || len(q.Bins) > 0) {
		return errorf(protocol.CodeInvalid, "variables and bins belong to summary queries, not %s", q.Kind)
	}
	if q.Kind != protocol.KindCox && q.Cox != nil {
		return errorf(protocol.CodeInvalid, "cox parameters given to a %s query", q.Kind)
	}
	switch q.Kind {
	case protocol.KindSummary:
		if len(q.Variables) == 0 || len(q.Variables) > protocol.MaxVariables {
			return errorf(protocol.CodeInvalid, "summary needs 1 to %d variables, got %d", protocol.MaxVariables, len(q.Variables))
		}
		seen := map[string]bool{}
		for i, v := range q.Variables {
			if v == "" || len(v) > protocol.MaxNameLen {
				return errorf(protocol.CodeInvalid, "variables[%d]: empty or too long", i)
			}
			if seen[v] {
				return errorf(protocol.CodeInvalid, "variables[%d]: %q requested twice", i, v)
			}
			seen[v] = true
		}
		binned := map[string]bool{}
		for i, b := range q.Bins {
			if !seen[b.Variable] {
				return errorf(protocol.CodeInvalid, "bins[%d]: variable %q is not among the requested variables", i, clip(b.Variable))
			}
			if binned[b.Variable] {
				return errorf(protocol.CodeInvalid, "bins[%d]: variable %q binned twice", i, b.Variable)
			}
			binned[b.Variable] = true
			if len(b.Edges) == 0 || len(b.Edges) > protocol.MaxEdges {
				return errorf(protocol.CodeInvalid, "bins[%d]: 1 to %d edges needed, got %d", i, protocol.MaxEdges, len(b.Edges))
			}
			for k, x := range b.Edges {
				if math.IsNaN(x) || math.IsInf(x, 0) || (k > 0 && x <= b.Edges[k-1]) {
					return errorf(protocol.CodeInvalid, "bins[%d].edges[%d]: edges must be finite and strictly increasing", i, k)
				}
			}
		}
	case protocol.KindSurvival:
		if q.Endpoint == "" {
			return errorf(protocol.CodeInvalid, "survival needs an endpoint")
		}
	case protocol.KindCox:
		if q.Endpoint == "" {
			return errorf(protocol.CodeInvalid, "cox needs an endpoint")
		}
		c := q.Cox
		if c == nil {
			return errorf(protocol.CodeInvalid, "cox query without cox parameters")
		}
		if c.Form != protocol.CoxStratified && c.Form != protocol.CoxPooled {
			return errorf(protocol.CodeInvalid, "cox.form %q: want stratified or pooled", clip(string(c.Form)))
		}
		if c.Ties != "efron" && c.Ties != "breslow" {
			return errorf(protocol.CodeInvalid, "cox.ties %q: want efron or breslow", clip(c.Ties))
		}
		if len(c.Covariates) == 0 || len(c.Covariates) > protocol.MaxCovariates {
			return errorf(protocol.CodeInvalid, "cox needs 1 to %d covariates, got %d", protocol.MaxCovariates, len(c.Covariates))
		}
		seen := map[string]bool{}
		for i, v := range c.Covariates {
			if v == "" || len(v) > protocol.MaxNameLen || seen[v] {
				return errorf(protocol.CodeInvalid, "cox.covariates[%d]: empty, too long or repeated", i)
			}
			seen[v] = true
		}
		if len(c.Beta) > protocol.MaxDesignCols {
			return errorf(protocol.CodeInvalid, "cox.beta: more than %d coefficients", protocol.MaxDesignCols)
		}
		for i, b := range c.Beta {
			if math.IsNaN(b) || math.IsInf(b, 0) {
				return errorf(protocol.CodeInvalid, "cox.beta[%d] is not finite", i)
			}
		}
		if len(c.Strata) > protocol.MaxNameLen {
			return errorf(protocol.CodeInvalid, "cox.strata too long")
		}
		if len(c.Levels) > protocol.MaxCovariates {
			return errorf(protocol.CodeInvalid, "cox.levels: too many variables")
		}
		for v, lv := range c.Levels {
			if !seen[v] {
				return errorf(protocol.CodeInvalid, "cox.levels: %q is not a covariate", clip(v))
			}
			if len(lv) == 0 || len(lv) > protocol.MaxFilterValues {
				return errorf(protocol.CodeInvalid, "cox.levels[%q]: 1 to %d levels needed", v, protocol.MaxFilterValues)
			}
			dup := map[string]bool{}
			for _, l := range lv {
				if len(l) > protocol.MaxNameLen || dup[l] {
					return errorf(protocol.CodeInvalid, "cox.levels[%q]: level too long or repeated", v)
				}
				dup[l] = true
			}
		}
	}
	return nil
}

// checkFilter validates one filter node at path (e.g. "cohort.args[1]") and its children.
func checkFilter(f *protocol.Filter, path string, depth int, nodes *int) error {
	if f == nil {
		return errorf(protocol.CodeInvalid, "%s: empty condition", path)
	}
	*nodes++
	if *nodes > protocol.MaxFilterNodes {
		return errorf(protocol.CodeInvalid, "%s: filter has more than %d conditions", path, protocol.MaxFilterNodes)
	}
	if depth > protocol.MaxFilterDepth {
		return errorf(protocol.CodeInvalid, "%s: filter nested deeper than %d", path, protocol.MaxFilterDepth)
	}
	leafFields := f.Var != "" || f.Value != "" || f.Values != nil || f.Min != nil || f.Max != nil || f.MinOpen || f.MaxOpen
	switch f.Op {
	case protocol.OpAnd, protocol.OpOr, protocol.OpNot:
		if leafFields {
			return errorf(protocol.CodeInvalid, "%s: %q takes only args", path, f.Op)
		}
		if f.Op == protocol.OpNot && len(f.Args) != 1 {
			return errorf(protocol.CodeInvalid, "%s: \"not\" takes exactly one argument, got %d", path, len(f.Args))
		}
		if len(f.Args) == 0 {
			return errorf(protocol.CodeInvalid, "%s: %q without arguments", path, f.Op)
		}
		for i, a := range f.Args {
			if err := checkFilter(a, fmt.Sprintf("%s.args[%d]", path, i), depth+1, nodes); err != nil {
				return err
			}
		}
		return nil
	case protocol.OpEq, protocol.OpIn, protocol.OpRange, protocol.OpMissing, protocol.OpPresent:
	default:
		return errorf(protocol.CodeInvalid, "%s: unknown operator %q", path, clip(string(f.Op)))
	}
	if len(f.Args) > 0 {
		return errorf(protocol.CodeInvalid, "%s: %q takes no args", path, f.Op)
	}
	if f.Var == "" || len(f.Var) > protocol.MaxNameLen {
		return errorf(protocol.CodeInvalid, "%s: %q needs a variable name (at most %d bytes)", path, f.Op, protocol.MaxNameLen)
	}
	isRange := f.Min != nil || f.Max != nil || f.MinOpen || f.MaxOpen
	switch f.Op {
	case protocol.OpEq:
		if f.Values != nil || isRange {
			return errorf(protocol.CodeInvalid, "%s: \"eq\" takes var and value only", path)
		}
		if len(f.Value) > protocol.MaxNameLen {
			return errorf(protocol.CodeInvalid, "%s: value longer than %d bytes", path, protocol.MaxNameLen)
		}
	case protocol.OpIn:
		if f.Value != "" || isRange {
			return errorf(protocol.CodeInvalid, "%s: \"in\" takes var and values only", path)
		}
		if len(f.Values) == 0 || len(f.Values) > protocol.MaxFilterValues {
			return errorf(protocol.CodeInvalid, "%s: \"in\" needs 1 to %d values", path, protocol.MaxFilterValues)
		}
		for i, v := range f.Values {
			if len(v) > protocol.MaxNameLen {
				return errorf(protocol.CodeInvalid, "%s.values[%d]: longer than %d bytes", path, i, protocol.MaxNameLen)
			}
		}
	case protocol.OpRange:
		if f.Value != "" || f.Values != nil {
			return errorf(protocol.CodeInvalid, "%s: \"range\" takes var, min and max only", path)
		}
		if f.Min == nil && f.Max == nil {
			return errorf(protocol.CodeInvalid, "%s: \"range\" needs min or max", path)
		}
		if (f.MinOpen && f.Min == nil) || (f.MaxOpen && f.Max == nil) {
			return errorf(protocol.CodeInvalid, "%s: open bound without a value", path)
		}
		for _, b := range []*float64{f.Min, f.Max} {
			if b != nil && (math.IsNaN(*b) || math.IsInf(*b, 0)) {
				return errorf(protocol.CodeInvalid, "%s: range bound is not finite", path)
			}
		}
		if f.Min != nil && f.Max != nil && *f.Min > *f.Max {
			return errorf(protocol.CodeInvalid, "%s: range min %v above max %v", path, *f.Min, *f.Max)
		}
	default: // missing, present
		if f.Value != "" || f.Values != nil || isRange {
			return errorf(protocol.CodeInvalid, "%s: %q takes var only", path, f.Op)
		}
	}
	return nil
}

// clip shortens untrusted strings quoted back in messages.
func clip(s string) string {
	if len(s) > 64 {
		return s[:64] + "…"
	}
	return s
}
