package node

import (
	"strconv"

	"github.com/oncofed/oncofed/protocol"
)

// A study's categories are declared (Dictionary), so a category may hold no patient at a site.
// Whether it does is private: a group, cell or cohort that is empty must be released exactly
// like one holding 1..min-1 patients (refused below min_cohort, suppressed below min_cell),
// unless the query itself empties it — "sex = female, grouped by sex" has no men, whatever the
// site holds — which is public. excludedByQuery decides the latter from the filter alone.

// tri is a three-valued truth: what a filter says of a patient known only by an assumption.
type tri int8

const (
	triFalse tri = iota
	triTrue
	triUnknown
)

// assumption is "variable name has value category" (a category of a categorical variable, or
// an integer group of a numeric one, named by its value).
type assumption struct {
	name, category string
}

// excludedByQuery reports whether the filter f selects no patient having every assumed
// value, decided from f alone (conditions on other variables are unknown).
func excludedByQuery(f *protocol.Filter, assume ...assumption) bool {
	return f != nil && decide(f, assume) == triFalse
}

func decide(f *protocol.Filter, assume []assumption) tri {
	switch f.Op {
	case protocol.OpAnd:
		out := triTrue
		for _, a := range f.Args {
			switch decide(a, assume) {
			case triFalse:
				return triFalse
			case triUnknown:
				out = triUnknown
			}
		}
		return out
	case protocol.OpOr:
		out := triFalse
		for _, a := range f.Args {
			switch decide(a, assume) {
			case triTrue:
				return triTrue
			case triUnknown:
				out = triUnknown
			}
		}
		return out
	case protocol.OpNot:
		switch decide(f.Args[0], assume) {
		case triTrue:
			return triFalse
		case triFalse:
			return triTrue
		}
		return triUnknown
	}
	var cat string
	found := false
	for _, a := range assume {
		if a.name == f.Var {
			cat, found = a.category, true
		}
	}
	if !found {
		return triUnknown
	}
	truth := func(b bool) tri {
		if b {
			return triTrue
		}
		return triFalse
	}
	switch f.Op {
	case protocol.OpEq:
		return truth(f.Value == cat)
	case protocol.OpIn:
		for _, v := range f.Values {
			if v == cat {
				return triTrue
			}
		}
		return triFalse
	case protocol.OpMissing:
		return triFalse // the assumed value is present
	case protocol.OpPresent:
		return triTrue
	case protocol.OpRange:
		x, err := strconv.ParseFloat(cat, 64)
		if err != nil {
			return triUnknown
		}
		ok := true
		if f.Min != nil {
			ok = ok && (x > *f.Min || (!f.MinOpen && x == *f.Min))
		}
		if f.Max != nil {
			ok = ok && (x < *f.Max || (!f.MaxOpen && x == *f.Max))
		}
		return truth(ok)
	}
	return triUnknown
}

// queryEmptied lists, per category of v, whether the query's filter (with the assumptions
// already made, e.g. the group) excludes it by itself.
func queryEmptied(f *protocol.Filter, v *VariableData, assume ...assumption) []bool {
	out := make([]bool, len(v.Categories))
	if f == nil {
		return out
	}
	for k, c := range v.Categories {
		out[k] = excludedByQuery(f, append(assume[:len(assume):len(assume)], assumption{v.Name, c})...)
	}
	return out
}
