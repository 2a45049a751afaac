package protocol

import (
	"fmt"
	"math"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"
)

// The cohort filter in words a scientist can type (the CLI's --where; the desktop shows a
// cohort in the same words, FormatFilter):
//
//	filter := or
//	or     := and { "or" and }
//	and    := unary { "and" unary }
//	unary  := "not" unary | "(" filter ")" | cond
//	cond   := VAR ("=" | "!=") VALUE
//	        | VAR ("<" | "<=" | ">" | ">=") NUMBER
//	        | NUMBER ("<" | "<=") VAR ("<" | "<=") NUMBER
//	        | VAR ["not"] "in" "(" VALUE { "," VALUE } ")"
//	        | VAR "is" ["not"] "missing"
//
// VAR and VALUE are words or quoted strings ("stage IV", 'stage IV'; a quote character is
// written twice inside a string of its own quotes: "say ""hi"""); keywords are
// case-insensitive; NUMBER is a finite decimal number. `VAR != V` keeps the patients whose
// value is known and differs from V (a missing value is not "different"); `VAR = N` on a
// numeric variable is the range [N, N]; `60 <= age < 70` is the range [60, 70).

// FilterError is a malformed filter: Pos is the 1-based column (in characters) of the
// problem, Msg what is wrong there.
type FilterError struct {
	Pos int
	Msg string
}

func (e *FilterError) Error() string { return fmt.Sprintf("filter: position %d: %s", e.Pos, e.Msg) }

// VariableTypes tells the parser a variable's type; ok is false for an unknown variable.
type VariableTypes func(name string) (t VariableType, ok bool)

// ParseFilter parses the filter text above without knowing the study: every name is
// accepted, and `VAR = V` is the range [V, V] when V is an unquoted finite number and the
// category V otherwise (write `ecog = "1"` for a category that looks like a number). An
// empty text is the whole study (nil). The filter returned is structurally valid
// (ValidateFilter); the error is a *FilterError.
func ParseFilter(s string) (*Filter, error) { return ParseFilterTyped(s, nil) }

// ParseFilterTyped is ParseFilter against a study's variables: an unknown variable is an
// error, `VAR = V` follows VAR's type, and the operators must suit it (<, <=, >, >= and
// ranges for numeric variables; in for categorical ones). A nil types is ParseFilter.
func ParseFilterTyped(s string, types VariableTypes) (*Filter, error) {
	if strings.TrimSpace(s) == "" {
		return nil, nil
	}
	toks, err := lexFilter(s)
	if err != nil {
		return nil, err
	}
	p := &filterParser{toks: toks, types: types, pos: map[*Filter]int{}}
	f, err := p.or(0)
	if err != nil {
		return nil, err
	}
	if t := p.peek(); t.kind != tokEOF {
		return nil, &FilterError{t.pos, fmt.Sprintf("unexpected %q", t.text)}
	}
	// The limits the node applies (depth, size, lengths), reported where the text breaks them.
	if prob := checkFilterTree(f, "cohort"); prob != nil {
		n := prob.node
		if n == nil {
			n = prob.parent
		}
		return nil, &FilterError{p.pos[n], prob.msg}
	}
	return f, nil
}

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
	pos  int // 1-based, in characters
}

// filterSpecial are the characters that end a word.
const filterSpecial = "()=,!<>\"'"

// lexFilter splits s into tokens. It slices s by bytes (so a string is kept byte for byte,
// even where it is not UTF-8) and counts positions in characters.
func lexFilter(s string) ([]token, error) {
	var toks []token
	col := 1
	for i := 0; i < len(s); {
		r, size := utf8.DecodeRuneInString(s[i:])
		switch {
		case unicode.IsSpace(r):
			i += size
			col++
		case r == '"' || r == '\'':
			var b strings.Builder
			start, j, c := col, i+1, col+1
			for {
				if j >= len(s) {
					return nil, &FilterError{start, "unterminated quoted value"}
				}
				if s[j] == byte(r) {
					if j+1 < len(s) && s[j+1] == byte(r) { // a doubled quote stands for one
						b.WriteByte(byte(r))
						j, c = j+2, c+2
						continue
					}
					break
				}
				_, sz := utf8.DecodeRuneInString(s[j:])
				b.WriteString(s[j : j+sz])
				j, c = j+sz, c+1
			}
			toks = append(toks, token{tokString, b.String(), start})
			i, col = j+1, c+1
		case strings.ContainsRune("()=,", r):
			toks = append(toks, token{tokOp, string(r), col})
			i++
			col++
		case r == '!' || r == '<' || r == '>':
			if i+1 < len(s) && s[i+1] == '=' {
				toks = append(toks, token{tokOp, s[i : i+2], col})
				i, col = i+2, col+2
			} else if r == '!' {
				return nil, &FilterError{col, "'!' must be followed by '='"}
			} else {
				toks = append(toks, token{tokOp, string(r), col})
				i++
				col++
			}
		default:
			j, c := i, col
			for j < len(s) {
				r, sz := utf8.DecodeRuneInString(s[j:])
				if unicode.IsSpace(r) || strings.ContainsRune(filterSpecial, r) {
					break
				}
				j, c = j+sz, c+1
			}
			toks = append(toks, token{tokWord, s[i:j], col})
			i, col = j, c
		}
	}
	toks = append(toks, token{tokEOF, "", col})
	return toks, nil
}

// filterNumber parses an unquoted number: finite, in Go's decimal or hexadecimal float
// syntax (what FormatFilter writes, strconv 'g', reads back bit for bit).
func filterNumber(t token) (float64, bool) {
	if t.kind != tokWord {
		return 0, false
	}
	x, err := strconv.ParseFloat(t.text, 64)
	if err != nil || math.IsNaN(x) || math.IsInf(x, 0) {
		return 0, false
	}
	return x, true
}

type filterParser struct {
	toks  []token
	i     int
	types VariableTypes
	pos   map[*Filter]int // where each node starts, for the errors of checkFilterTree
}

func (p *filterParser) peek() token { return p.toks[p.i] }
func (p *filterParser) next() token {
	t := p.toks[p.i]
	if t.kind != tokEOF {
		p.i++
	}
	return t
}

func (p *filterParser) node(f *Filter, pos int) *Filter {
	p.pos[f] = pos
	return f
}

func isKeyword(t token, kw string) bool {
	return t.kind == tokWord && strings.EqualFold(t.text, kw)
}

func isOp(t token, ops ...string) bool {
	if t.kind != tokOp {
		return false
	}
	for _, o := range ops {
		if t.text == o {
			return true
		}
	}
	return false
}

// or parses at a nesting of depth parentheses and nots; the tree is never shallower than
// that, so a nesting beyond MaxFilterDepth is refused at once (and bounds the recursion).
func (p *filterParser) or(depth int) (*Filter, error) {
	if depth > MaxFilterDepth {
		return nil, &FilterError{p.peek().pos, fmt.Sprintf("nested deeper than %d", MaxFilterDepth)}
	}
	start := p.peek().pos
	first, err := p.and(depth)
	if err != nil {
		return nil, err
	}
	args := []*Filter{first}
	for isKeyword(p.peek(), "or") {
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
	return p.node(&Filter{Op: OpOr, Args: args}, start), nil
}

func (p *filterParser) and(depth int) (*Filter, error) {
	start := p.peek().pos
	first, err := p.unary(depth)
	if err != nil {
		return nil, err
	}
	args := []*Filter{first}
	for isKeyword(p.peek(), "and") {
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
	return p.node(&Filter{Op: OpAnd, Args: args}, start), nil
}

func (p *filterParser) unary(depth int) (*Filter, error) {
	t := p.peek()
	switch {
	case isKeyword(t, "not"):
		p.next()
		if depth+1 > MaxFilterDepth {
			return nil, &FilterError{t.pos, fmt.Sprintf("nested deeper than %d", MaxFilterDepth)}
		}
		f, err := p.unary(depth + 1)
		if err != nil {
			return nil, err
		}
		return p.node(&Filter{Op: OpNot, Args: []*Filter{f}}, t.pos), nil
	case isOp(t, "("):
		p.next()
		f, err := p.or(depth + 1)
		if err != nil {
			return nil, err
		}
		if c := p.next(); !isOp(c, ")") {
			return nil, &FilterError{c.pos, fmt.Sprintf("expected ')' to close the '(' at position %d, found %s", t.pos, describe(c))}
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
