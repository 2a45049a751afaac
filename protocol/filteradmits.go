package protocol

import "slices"

// Admits reports whether the filter can hold for a patient whose categorical variable v has
// the given level, judging from the filter's text alone: false when every such patient is
// ruled out whatever their other variables are ("stage in (IVA, IVB)" rules out stage IIIB).
// It decides from public information only — the query, never a site's rows — so clients
// may use it to know that a group the filter removed is empty rather than small. A nil
// filter admits every level.
func (f *Filter) Admits(v, level string) bool {
	return f == nil || f.holds(v, level) != kleeneFalse
}

// kleene is a truth value of three-valued logic: a condition on another variable is unknown.
type kleene int8

const (
	kleeneFalse kleene = iota
	kleeneUnknown
	kleeneTrue
)

func truth(b bool) kleene {
	if b {
		return kleeneTrue
	}
	return kleeneFalse
}

func (f *Filter) holds(v, level string) kleene {
	switch f.Op {
	case OpAnd:
		out := kleeneTrue
		for _, a := range f.Args {
			out = min(out, a.holds(v, level))
		}
		return out
	case OpOr:
		out := kleeneFalse
		for _, a := range f.Args {
			out = max(out, a.holds(v, level))
		}
		return out
	case OpNot:
		if len(f.Args) != 1 {
			return kleeneUnknown
		}
		return kleeneTrue - f.Args[0].holds(v, level)
	}
	if f.Var != v {
		return kleeneUnknown
	}
	switch f.Op {
	case OpEq:
		return truth(f.Value == level)
	case OpIn:
		return truth(slices.Contains(f.Values, level))
	case OpMissing:
		return kleeneFalse // the patient has a level
	case OpPresent:
		return kleeneTrue
	}
	return kleeneUnknown
}
