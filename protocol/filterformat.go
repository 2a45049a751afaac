package protocol

import (
	"errors"
	"strconv"
	"strings"
	"unicode"
)

// FormatFilter writes f in the filter text ParseFilter reads, so that ParseFilter gives back
// a filter equal to f, field for field, for every f that ValidateFilter accepts: names and
// values are quoted when they hold spaces or operator characters, are keywords or look like
// numbers; numbers are written in the shortest form that reads back bit for bit; parentheses
// appear where precedence (and binds tighter than or) or the nesting of f needs them; and the
// forms the parser builds for `!=` and `not in` are written that way. A nil filter (the whole
// study) is "". The one thing the text cannot tell is an and/or of a single argument, which
// means its argument and is written as it (the parser never builds one; neither does the app).
//
// The text is the cohort as the analyst reads it in the desktop app and in the CLI's output
// headers, and as they type it after --where.
func FormatFilter(f *Filter) string {
	if f == nil {
		return ""
	}
	var b strings.Builder
	writeFilter(&b, f, ctxTop)
	return b.String()
}

// filterContext is where a node is written: it decides whether and/or need parentheses.
type filterContext int

const (
	ctxTop filterContext = iota
	ctxOrArg
	ctxAndArg
	ctxNotArg
)

func writeFilter(b *strings.Builder, f *Filter, ctx filterContext) {
	if f == nil {
		b.WriteString("()") // invalid, and written so that it does not parse
		return
	}
	if v, inner, ok := knownAndNot(f); ok {
		writeName(b, v)
		switch inner.Op {
		case OpIn:
			b.WriteString(" not in ")
			writeValues(b, inner.Values)
		case OpEq:
			b.WriteString(" != ")
			writeValue(b, inner.Value)
		default: // a point range
			b.WriteString(" != ")
			b.WriteString(formatNumber(*inner.Min))
		}
		return
	}
	switch f.Op {
	case OpAnd, OpOr:
		if len(f.Args) == 1 {
			writeFilter(b, f.Args[0], ctx)
			return
		}
		sep := " and "
		paren := ctx == ctxAndArg || ctx == ctxNotArg
		argCtx := ctxAndArg
		if f.Op == OpOr {
			sep, paren, argCtx = " or ", ctx != ctxTop, ctxOrArg
		}
		if paren {
			b.WriteByte('(')
		}
		for i, a := range f.Args {
			if i > 0 {
				b.WriteString(sep)
			}
			writeFilter(b, a, argCtx)
		}
		if paren {
			b.WriteByte(')')
		}
	case OpNot:
		b.WriteString("not ")
		if len(f.Args) == 1 {
			writeFilter(b, f.Args[0], ctxNotArg)
		} else {
			b.WriteString("()")
		}
	case OpEq:
		writeName(b, f.Var)
		b.WriteString(" = ")
		writeValue(b, f.Value)
	case OpIn:
		writeName(b, f.Var)
		b.WriteString(" in ")
		writeValues(b, f.Values)
	case OpMissing:
		writeName(b, f.Var)
		b.WriteString(" is missing")
	case OpPresent:
		writeName(b, f.Var)
		b.WriteString(" is not missing")
	case OpRange:
		writeRange(b, f)
	default:
		b.WriteString(string(f.Op) + "?") // invalid; kept visible rather than dropped
	}
}

func writeRange(b *strings.Builder, f *Filter) {
	lt := func(open bool) string {
		if open {
			return " < "
		}
		return " <= "
	}
	switch {
	case isPoint(f):
		writeName(b, f.Var)
		b.WriteString(" = ")
		b.WriteString(formatNumber(*f.Min))
	case f.Min != nil && f.Max != nil:
		b.WriteString(formatNumber(*f.Min))
		b.WriteString(lt(f.MinOpen))
		writeName(b, f.Var)
		b.WriteString(lt(f.MaxOpen))
		b.WriteString(formatNumber(*f.Max))
	case f.Min != nil:
		writeName(b, f.Var)
		if f.MinOpen {
			b.WriteString(" > ")
		} else {
			b.WriteString(" >= ")
		}
		b.WriteString(formatNumber(*f.Min))
	case f.Max != nil:
		writeName(b, f.Var)
		b.WriteString(lt(f.MaxOpen))
		b.WriteString(formatNumber(*f.Max))
	default:
		writeName(b, f.Var)
		b.WriteString(" in range ?") // invalid: no bound
	}
}

// isPoint reports whether f is the closed range [x, x] that `VAR = x` means.
func isPoint(f *Filter) bool {
	return f.Op == OpRange && f.Min != nil && f.Max != nil && !f.MinOpen && !f.MaxOpen &&
		sameNumber(*f.Min, *f.Max)
}

func sameNumber(a, b float64) bool { return formatNumber(a) == formatNumber(b) }

// knownAndNot recognises the filter `VAR != V` and `VAR not in (…)` parse into:
// and(present VAR, not(eq / point range / in on VAR)).
func knownAndNot(f *Filter) (variable string, inner *Filter, ok bool) {
	if f.Op != OpAnd || len(f.Args) != 2 || f.Var != "" || f.Value != "" || f.Values != nil || f.Min != nil || f.Max != nil || f.MinOpen || f.MaxOpen {
		return "", nil, false
	}
	pres, not := f.Args[0], f.Args[1]
	if pres == nil || not == nil || pres.Op != OpPresent || !leafOnly(pres) || not.Op != OpNot ||
		len(not.Args) != 1 || not.Args[0] == nil || not.Var != "" || not.Value != "" || not.Values != nil ||
		not.Min != nil || not.Max != nil || not.MinOpen || not.MaxOpen {
		return "", nil, false
	}
	in := not.Args[0]
	if in.Var != pres.Var || len(in.Args) != 0 {
		return "", nil, false
	}
	switch {
	case in.Op == OpEq && in.Values == nil && in.Min == nil && in.Max == nil && !in.MinOpen && !in.MaxOpen:
	case in.Op == OpIn && len(in.Values) > 0 && in.Value == "" && in.Min == nil && in.Max == nil && !in.MinOpen && !in.MaxOpen:
	case isPoint(in) && in.Value == "" && in.Values == nil:
	default:
		return "", nil, false
	}
	return pres.Var, in, true
}

// leafOnly reports whether a missing/present node carries nothing but its variable.
func leafOnly(f *Filter) bool {
	return f.Var != "" && len(f.Args) == 0 && f.Value == "" && f.Values == nil && f.Min == nil && f.Max == nil && !f.MinOpen && !f.MaxOpen
}

func writeValues(b *strings.Builder, values []string) {
	b.WriteByte('(')
	for i, v := range values {
		if i > 0 {
			b.WriteString(", ")
		}
		writeValue(b, v)
	}
	b.WriteByte(')')
}

// writeName writes a variable name, quoted when it would not read back as one word.
func writeName(b *strings.Builder, s string) {
	if needsQuotes(s) {
		writeQuoted(b, s)
	} else {
		b.WriteString(s)
	}
}

// writeValue writes a category, quoted also when it looks like a number (which `VAR = 1`
// would read as the range [1, 1]).
func writeValue(b *strings.Builder, s string) {
	if _, err := strconv.ParseFloat(s, 64); needsQuotes(s) || err == nil || errors.Is(err, strconv.ErrRange) {
		writeQuoted(b, s)
	} else {
		b.WriteString(s)
	}
}

var filterKeywords = []string{"and", "or", "not", "in", "is", "missing"}

func needsQuotes(s string) bool {
	if s == "" || strings.ContainsAny(s, filterSpecial) || strings.IndexFunc(s, unicode.IsSpace) >= 0 {
		return true
	}
	for _, kw := range filterKeywords {
		if strings.EqualFold(s, kw) {
			return true
		}
	}
	return false
}

func writeQuoted(b *strings.Builder, s string) {
	b.WriteByte('"')
	b.WriteString(strings.ReplaceAll(s, `"`, `""`))
	b.WriteByte('"')
}

// formatNumber is the shortest decimal that strconv.ParseFloat reads back to x exactly.
func formatNumber(x float64) string { return strconv.FormatFloat(x, 'g', -1, 64) }
