package main

import (
	"fmt"
	"strconv"
	"strings"
	"unicode"

	"github.com/oncofed/oncofed/protocol"
)

// The cohort filter in words a scientist can type:
//
//	filter := or
//	or     := and { "or" and }
//	and    := unary { "and" unary }
//	unary  := "not" unary | "(" filter ")" | cond
//	cond   := VAR ("=" | "!=") VALUE
//	        | VAR ("<" | "<=" | ">" | ">=") NUMBER
//	        | VAR ["not"] "in" "(" VALUE { "," VALUE } ")"
//	        | VAR "is" ["not"] "missing"
//
// VALUE is a word, a number or a quoted string ("stage IV"); keywords are case-insensitive.
// `VAR != V` keeps the patients whose value is known and differs from V (a missing value is
// not "different"); `VAR = N` on a numeric variable is the range [N, N].

// filterError is a malformed filter, with the 1-based character position of the problem.
type filterError struct {
	Pos int
	Msg string
}

func (e *filterError) Error() string { return fmt.Sprintf("filter: position %d: %s", e.Pos, e.Msg) }

type tokKind int

const (
	tokEOF tokKind = iota
	tokWord
	tokString
	tokOp // = != < <= > >= ( ) ,
)

type token struct {
	kind tokKind
	text string
	pos  int // 1-based
}

func lexFilter(s string) ([]token, error) {
	var toks []token
	rs := []rune(s)
	for i := 0; i < len(rs); {
		r := rs[i]
		switch {
		case unicode.IsSpace(r):
			i++
		case r == '"' || r == '\'':
			j := i + 1
			for j < len(rs) && rs[j] != r {
				j++
			}
			if j == len(rs) {
				return nil, &filterError{i + 1, "unterminated quoted value"}
			}
			toks = append(toks, token{tokString, string(rs[i+1 : j]), i + 1})
			i = j + 1
		case strings.ContainsRune("()=,", r):
			toks = append(toks, token{tokOp, string(r), i + 1})
			i++
		case r == '!' || r == '<' || r == '>':
			if i+1 < len(rs) && rs[i+1] == '=' {
				toks = append(toks, token{tokOp, string(rs[i : i+2]), i + 1})
				i += 2
			} else if r == '!' {
				return nil, &filterError{i + 1, "'!' must be followed by '='"}
			} else {
				toks = append(toks, token{tokOp, string(r), i + 1})
				i++
			}
		default:
			j := i
			for j < len(rs) && !unicode.IsSpace(rs[j]) && !strings.ContainsRune("()=,!<>\"'", rs[j]) {
				j++
			}
			toks = append(toks, token{tokWord, string(rs[i:j]), i + 1})
			i = j
		}
	}
	toks = append(toks, token{tokEOF, "", len(rs) + 1})
	return toks, nil
}

// varTypes tells the parser a variable's type; ok is false for an unknown variable. A nil
// varTypes accepts every name and takes a numeric literal compared with "=" as numeric.
type varTypes func(name string) (t protocol.VariableType, ok bool)

type filterParser struct {
	toks  []token
	i     int
	types varTypes
	nodes int
}

// parseFilter parses the filter syntax above into a protocol.Filter. An empty string is the
// whole study (nil).
func parseFilter(s string, types varTypes) (*protocol.Filter, error) {
	if strings.TrimSpace(s) == "" {
		return nil, nil
	}
	toks, err := lexFilter(s)
	if err != nil {
		return nil, err
	}
	p := &filterParser{toks: toks, types: types}
	f, err := p.or(0)
	if err != nil {
		return nil, err
	}
	if t := p.peek(); t.kind != tokEOF {
		return nil, &filterError{t.pos, fmt.Sprintf("unexpected %q", t.text)}
	}
	return f, nil
}

func (p *filterParser) peek() token { return p.toks[p.i] }
func (p *filterParser) next() token { t := p.toks[p.i]; p.i++; return t }

func (p *filterParser) keyword(t token, kw string) bool {
	return t.kind == tokWord && strings.EqualFold(t.text, kw)
}

func (p *filterParser) or(depth int) (*protocol.Filter, error) {
	if depth > protocol.MaxFilterDepth {
		return nil, &filterError{p.peek().pos, fmt.Sprintf("nested deeper than %d", protocol.MaxFilterDepth)}
	}
	first, err := p.and(depth)
	if err != nil {
		return nil, err
	}
	args := []*protocol.Filter{first}
	for p.keyword(p.peek(), "or") {
		p.next()
		f, err := p.and(depth)
		if err != nil {
			return nil, err
		}
		args = append(args, f)
	}
	if len(args) == 1 {
		return first, nil
	}
	return &protocol.Filter{Op: protocol.OpOr, Args: args}, nil
}

func (p *filterParser) and(depth int) (*protocol.Filter, error) {
	first, err := p.unary(depth)
	if err != nil {
		return nil, err
	}
	args := []*protocol.Filter{first}
	for p.keyword(p.peek(), "and") {
		p.next()
		f, err := p.unary(depth)
		if err != nil {
			return nil, err
		}
		args = append(args, f)
	}
	if len(args) == 1 {
		return first, nil
	}
	return &protocol.Filter{Op: protocol.OpAnd, Args: args}, nil
}

func (p *filterParser) unary(depth int) (*protocol.Filter, error) {
	t := p.peek()
	switch {
	case p.keyword(t, "not"):
		p.next()
		f, err := p.unary(depth + 1)
		if err != nil {
			return nil, err
		}
		return &protocol.Filter{Op: protocol.OpNot, Args: []*protocol.Filter{f}}, nil
	case t.kind == tokOp && t.text == "(":
		p.next()
		f, err := p.or(depth + 1)
		if err != nil {
			return nil, err
		}
		if c := p.next(); c.kind != tokOp || c.text != ")" {
			return nil, &filterError{c.pos, fmt.Sprintf("expected ')' to close the '(' at position %d, found %s", t.pos, describe(c))}
		}
		return f, nil
	}
	return p.cond()
}

func describe(t token) string {
	if t.kind == tokEOF {
		return "the end"
	}
	return strconv.Quote(t.text)
}

func (p *filterParser) cond() (*protocol.Filter, error) {
	v := p.next()
	if v.kind != tokWord && v.kind != tokString {
		return nil, &filterError{v.pos, fmt.Sprintf("expected a variable name, found %s", describe(v))}
	}
	if p.nodes++; p.nodes > protocol.MaxFilterNodes {
		return nil, &filterError{v.pos, fmt.Sprintf("more than %d conditions", protocol.MaxFilterNodes)}
	}
	typ, known := protocol.VariableType(""), true
	if p.types != nil {
		typ, known = p.types(v.text)
		if !known {
			return nil, &filterError{v.pos, fmt.Sprintf("unknown variable %q", v.text)}
		}
	}
	op := p.next()
	switch {
	case p.keyword(op, "is"):
		negate := false
		if p.keyword(p.peek(), "not") {
			p.next()
			negate = true
		}
		if m := p.next(); !p.keyword(m, "missing") {
			return nil, &filterError{m.pos, fmt.Sprintf("expected 'missing' after 'is', found %s", describe(m))}
		}
		if negate {
			return &protocol.Filter{Op: protocol.OpPresent, Var: v.text}, nil
		}
		return &protocol.Filter{Op: protocol.OpMissing, Var: v.text}, nil
	case p.keyword(op, "in"), p.keyword(op, "not") && p.keyword(p.peek(), "in"):
		negate := p.keyword(op, "not")
		if negate {
			p.next()
		}
		if typ == protocol.Numeric {
			return nil, &filterError{op.pos, fmt.Sprintf("%q is numeric: use <, <=, >, >=", v.text)}
		}
		values, err := p.valueList()
		if err != nil {
			return nil, err
		}
		f := &protocol.Filter{Op: protocol.OpIn, Var: v.text, Values: values}
		if negate {
			return notKnown(v.text, f), nil
		}
		return f, nil
	case op.kind == tokOp && (op.text == "=" || op.text == "!="):
		val := p.next()
		if val.kind != tokWord && val.kind != tokString {
			return nil, &filterError{val.pos, fmt.Sprintf("expected a value after %q, found %s", op.text, describe(val))}
		}
		var f *protocol.Filter
		x, err := strconv.ParseFloat(val.text, 64)
		numeric := typ == protocol.Numeric || (typ == "" && err == nil && val.kind == tokWord)
		if numeric {
			if err != nil {
				return nil, &filterError{val.pos, fmt.Sprintf("%q is numeric but %q is not a number", v.text, val.text)}
			}
			f = &protocol.Filter{Op: protocol.OpRange, Var: v.text, Min: &x, Max: &x}
		} else {
			f = &protocol.Filter{Op: protocol.OpEq, Var: v.text, Value: val.text}
		}
		if op.text == "!=" {
			return notKnown(v.text, f), nil
		}
		return f, nil
	case op.kind == tokOp && (op.text == "<" || op.text == "<=" || op.text == ">" || op.text == ">="):
		if typ == protocol.Categorical {
			return nil, &filterError{op.pos, fmt.Sprintf("%q is categorical: use =, != or in", v.text)}
		}
		val := p.next()
		x, err := strconv.ParseFloat(val.text, 64)
		if val.kind != tokWord || err != nil {
			return nil, &filterError{val.pos, fmt.Sprintf("expected a number after %q, found %s", op.text, describe(val))}
		}
		f := &protocol.Filter{Op: protocol.OpRange, Var: v.text}
		switch op.text {
		case "<":
			f.Max, f.MaxOpen = &x, true
		case "<=":
			f.Max = &x
		case ">":
			f.Min, f.MinOpen = &x, true
		case ">=":
			f.Min = &x
		}
		return f, nil
	}
	return nil, &filterError{op.pos, fmt.Sprintf("expected =, !=, <, <=, >, >=, in or is after %q, found %s", v.text, describe(op))}
}

// notKnown is "value known and not f": a patient with a missing value is neither equal nor
// different.
func notKnown(variable string, f *protocol.Filter) *protocol.Filter {
	return &protocol.Filter{Op: protocol.OpAnd, Args: []*protocol.Filter{
		{Op: protocol.OpPresent, Var: variable},
		{Op: protocol.OpNot, Args: []*protocol.Filter{f}},
	}}
}

func (p *filterParser) valueList() ([]string, error) {
	open := p.next()
	if open.kind != tokOp || open.text != "(" {
		return nil, &filterError{open.pos, fmt.Sprintf("expected '(' after 'in', found %s", describe(open))}
	}
	var values []string
	for {
		val := p.next()
		if val.kind != tokWord && val.kind != tokString {
			return nil, &filterError{val.pos, fmt.Sprintf("expected a value, found %s", describe(val))}
		}
		values = append(values, val.text)
		if len(values) > protocol.MaxFilterValues {
			return nil, &filterError{val.pos, fmt.Sprintf("more than %d values", protocol.MaxFilterValues)}
		}
		sep := p.next()
		if sep.kind == tokOp && sep.text == ")" {
			return values, nil
		}
		if sep.kind != tokOp || sep.text != "," {
			return nil, &filterError{sep.pos, fmt.Sprintf("expected ',' or ')' in the value list, found %s", describe(sep))}
		}
	}
}
