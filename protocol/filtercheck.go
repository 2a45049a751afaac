package protocol

import (
	"fmt"
	"math"
)

// ValidateFilter checks the structure of a cohort filter, independently of any study: known
// operators with the fields each takes, string lengths, finite and ordered range bounds, and
// the depth and size limits (MaxFilterDepth, MaxFilterNodes, MaxFilterValues). Whether the
// variables and categories exist is the node's business (it knows the study). A nil filter
// (the whole study) is valid. The error is a *Error of code invalid whose message starts with
// the path of the offending node ("cohort.args[1]: ...").
func ValidateFilter(f *Filter) error {
	if f == nil {
		return nil
	}
	if p := checkFilterTree(f, "cohort"); p != nil {
		return &Error{Code: CodeInvalid, Message: p.path + ": " + p.msg}
	}
	return nil
}

// filterProblem is the first structural problem of a filter tree: the offending node (nil
// for a missing argument, then parent is set), its path and what is wrong.
type filterProblem struct {
	node, parent *Filter
	path, msg    string
}

func checkFilterTree(f *Filter, path string) *filterProblem {
	nodes := 0
	return checkFilterNode(f, nil, path, 1, &nodes)
}

func checkFilterNode(f, parent *Filter, path string, depth int, nodes *int) *filterProblem {
	bad := func(format string, args ...any) *filterProblem {
		return &filterProblem{node: f, parent: parent, path: path, msg: fmt.Sprintf(format, args...)}
	}
	if f == nil {
		return bad("empty condition")
	}
	*nodes++
	if *nodes > MaxFilterNodes {
		return bad("filter has more than %d conditions", MaxFilterNodes)
	}
	if depth > MaxFilterDepth {
		return bad("filter nested deeper than %d", MaxFilterDepth)
	}
	leafFields := f.Var != "" || f.Value != "" || f.Values != nil || f.Min != nil || f.Max != nil || f.MinOpen || f.MaxOpen
	switch f.Op {
	case OpAnd, OpOr, OpNot:
		if leafFields {
			return bad("%q takes only args", f.Op)
		}
		if f.Op == OpNot && len(f.Args) != 1 {
			return bad("\"not\" takes exactly one argument, got %d", len(f.Args))
		}
		if len(f.Args) == 0 {
			return bad("%q without arguments", f.Op)
		}
		for i, a := range f.Args {
			if p := checkFilterNode(a, f, fmt.Sprintf("%s.args[%d]", path, i), depth+1, nodes); p != nil {
				return p
			}
		}
		return nil
	case OpEq, OpIn, OpRange, OpMissing, OpPresent:
	default:
		return bad("unknown operator %q", clipName(string(f.Op)))
	}
	if len(f.Args) > 0 {
		return bad("%q takes no args", f.Op)
	}
	if f.Var == "" || len(f.Var) > MaxNameLen {
		return bad("%q needs a variable name (at most %d bytes)", f.Op, MaxNameLen)
	}
	isRange := f.Min != nil || f.Max != nil || f.MinOpen || f.MaxOpen
	switch f.Op {
	case OpEq:
		if f.Values != nil || isRange {
			return bad("\"eq\" takes var and value only")
		}
		if len(f.Value) > MaxNameLen {
			return bad("value longer than %d bytes", MaxNameLen)
		}
	case OpIn:
		if f.Value != "" || isRange {
			return bad("\"in\" takes var and values only")
		}
		if len(f.Values) == 0 || len(f.Values) > MaxFilterValues {
			return bad("\"in\" needs 1 to %d values", MaxFilterValues)
		}
		for i, v := range f.Values {
			if len(v) > MaxNameLen {
				p := bad("longer than %d bytes", MaxNameLen)
				p.path = fmt.Sprintf("%s.values[%d]", path, i)
				return p
			}
		}
	case OpRange:
		if f.Value != "" || f.Values != nil {
			return bad("\"range\" takes var, min and max only")
		}
		if f.Min == nil && f.Max == nil {
			return bad("\"range\" needs min or max")
		}
		if (f.MinOpen && f.Min == nil) || (f.MaxOpen && f.Max == nil) {
			return bad("open bound without a value")
		}
		for _, b := range []*float64{f.Min, f.Max} {
			if b != nil && (math.IsNaN(*b) || math.IsInf(*b, 0)) {
				return bad("range bound is not finite")
			}
		}
		if f.Min != nil && f.Max != nil && *f.Min > *f.Max {
			return bad("range min %v above max %v", *f.Min, *f.Max)
		}
	default: // missing, present
		if f.Value != "" || f.Values != nil || isRange {
			return bad("%q takes var only", f.Op)
		}
	}
	return nil
}

// clipName shortens untrusted strings quoted back in messages.
func clipName(s string) string {
	if len(s) > 64 {
		return s[:64] + "…"
	}
	return s
}
