package protocol

import (
	"encoding/binary"
	"errors"
	"math"
	"testing"
)

// FuzzParseFilter: any --where text either fails with a FilterError whose position lies in
// the text, or parses into a filter of known variables with the right operators for their
// types that passes ValidateFilter.
func FuzzParseFilter(f *testing.F) {
	for _, s := range []string{
		`sex = male`, `age >= 60 and ecog in (ecog0, ecog1)`, `(sex = male or sex = female) and not age > 60`,
		`stage = "stage IV"`, `wt.loss is not missing`, `sex != male`, `age = 1e400`, `((((age < 1))))`,
		`ecog in ()`, `age >= "x"`, `"unterminated`, `sex = male or`, `not not not age > -0`, `1 < age <= 2`,
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		flt, err := ParseFilterTyped(s, lungTypes)
		if err != nil {
			var fe *FilterError
			// Positions count characters from 1; the end of the text is one past its last.
			if !errors.As(err, &fe) || fe.Pos < 1 || fe.Pos > len([]rune(s))+1 {
				t.Fatalf("%q: error %v without a position in the text", s, err)
			}
			return
		}
		if err := ValidateFilter(flt); err != nil {
			t.Fatalf("%q: parsed into an invalid filter: %v", s, err)
		}
		var walk func(f *Filter)
		walk = func(f *Filter) {
			for _, a := range f.Args {
				walk(a)
			}
			if f.Var == "" {
				return
			}
			typ, ok := lungTypes(f.Var)
			if !ok {
				t.Fatalf("%q: unknown variable %q accepted", s, f.Var)
			}
			if (f.Op == OpEq || f.Op == OpIn) && typ != Categorical || f.Op == OpRange && typ != Numeric {
				t.Fatalf("%q: %s on %s %s", s, f.Op, typ, f.Var)
			}
		}
		if flt != nil {
			walk(flt)
		}
	})
}

// FuzzFilterRoundTrip: any text ParseFilter accepts is printed by FormatFilter to a text that
// parses to the same filter (and prints the same again), and any filter ValidateFilter accepts
// (here built from the fuzzer's bytes) prints to a text that parses back to it.
func FuzzFilterRoundTrip(f *testing.F) {
	for _, s := range []string{
		`sex = male and age >= 60`, `a = 1 or b = "1" and not (c in (x, "y z", "") or d is missing)`,
		`-0 <= x < 5e-324 and y != "say ""hi""" and z not in ('a', "and")`, `"" is not missing`,
		`(a = 1 and b = 2) and c = 3`, `a = 1 or (b = 2 or c = 3)`, `not not (x = 1 or y = 2)`,
		"\xff = \"\xfe\"", `x = 1.7976931348623157e308`, `1 < x < 1`,
	} {
		f.Add(s, []byte(s))
	}
	f.Fuzz(func(t *testing.T, s string, b []byte) {
		if flt, err := ParseFilter(s); err == nil {
			text := FormatFilter(flt)
			back, err := ParseFilter(text)
			if err != nil {
				t.Fatalf("%q: printed as %q, which does not parse: %v", s, text, err)
			}
			if !filterEqual(back, flt) {
				t.Fatalf("%q: printed as %q, which parses to another filter", s, text)
			}
			if again := FormatFilter(back); again != text {
				t.Fatalf("%q: printed as %q, then as %q", s, text, again)
			}
		}
		g := &filterGen{b: b}
		flt := g.filter(1)
		if ValidateFilter(flt) != nil {
			return
		}
		text := FormatFilter(flt)
		back, err := ParseFilter(text)
		if err != nil {
			t.Fatalf("valid filter printed as %q does not parse: %v", text, err)
		}
		if !filterEqual(back, unwrapSingle(flt)) {
			t.Fatalf("valid filter printed as %q parses to another filter", text)
		}
	})
}

// TestFormatFilter: the canonical text of a few filters.
func TestFormatFilter(t *testing.T) {
	for in, want := range map[string]string{
		`sex=male and age>=60`:             `sex = male and age >= 60`,
		`(a = 1 or b = 2) and c = x`:       `(a = 1 or b = 2) and c = x`,
		`a = 1 or b = 2 and c = x`:         `a = 1 or b = 2 and c = x`,
		`not (a = x and b = y)`:            `not (a = x and b = y)`,
		`stage in ('IV A', "1", and, x)`:   `stage in ("IV A", "1", "and", x)`,
		`s != 'say "hi"'`:                  `s != "say ""hi"""`,
		`a NOT IN (x) or b is not missing`: `a not in (x) or b is not missing`,
		`60.0 <= age < 7e1 and x > 0.1`:    `60 <= age < 70 and x > 0.1`,
		`age = 1e21 or age <= -0`:          `age = 1e+21 or age <= -0`,
		`"wt loss" = 3`:                    `"wt loss" = 3`,
		`((a = x))`:                        `a = x`,
	} {
		f, err := ParseFilter(in)
		if err != nil {
			t.Fatalf("%q: %v", in, err)
		}
		if got := FormatFilter(f); got != want {
			t.Errorf("%q printed as %q, want %q", in, got, want)
		}
	}
	if FormatFilter(nil) != "" {
		t.Error("the whole study is not the empty text")
	}
	single := &Filter{Op: OpAnd, Args: []*Filter{{Op: OpMissing, Var: "x"}}}
	if got := FormatFilter(single); got != "x is missing" {
		t.Errorf("single-argument and printed as %q", got)
	}
}

// filterEqual compares two filters field by field, numbers bit for bit.
func filterEqual(a, b *Filter) bool {
	if a == nil || b == nil {
		return a == b
	}
	if a.Op != b.Op || a.Var != b.Var || a.Value != b.Value || a.MinOpen != b.MinOpen || a.MaxOpen != b.MaxOpen ||
		len(a.Args) != len(b.Args) || len(a.Values) != len(b.Values) || (a.Values == nil) != (b.Values == nil) ||
		!sameBound(a.Min, b.Min) || !sameBound(a.Max, b.Max) {
		return false
	}
	for i := range a.Values {
		if a.Values[i] != b.Values[i] {
			return false
		}
	}
	for i := range a.Args {
		if !filterEqual(a.Args[i], b.Args[i]) {
			return false
		}
	}
	return true
}

func sameBound(a, b *float64) bool {
	if a == nil || b == nil {
		return a == b
	}
	return math.Float64bits(*a) == math.Float64bits(*b)
}

// unwrapSingle replaces each and/or of one argument by that argument, as FormatFilter writes it.
func unwrapSingle(f *Filter) *Filter {
	if f == nil {
		return nil
	}
	if (f.Op == OpAnd || f.Op == OpOr) && len(f.Args) == 1 {
		return unwrapSingle(f.Args[0])
	}
	c := *f
	c.Args = nil
	for _, a := range f.Args {
		c.Args = append(c.Args, unwrapSingle(a))
	}
	return &c
}

// filterGen builds a filter from fuzz bytes, biased towards the awkward: names and values
// that are keywords, numbers, empty, or hold quotes, spaces and operators; extreme numbers.
type filterGen struct {
	b []byte
	n int
}

func (g *filterGen) byte() byte {
	if len(g.b) == 0 {
		return 0
	}
	c := g.b[0]
	g.b = g.b[1:]
	return c
}

var genWords = []string{"age", "sex", "and", "OR", "not", "in", "is", "missing", "1", "-0", "1e5", "inf", "",
	"stage IV", `say "hi"`, "it's", "a=b", "x,y", "(", "é", "\xff", "wt.loss", "nan", "0x10"}

func (g *filterGen) word() string {
	c := g.byte()
	if c < 200 {
		return genWords[int(c)%len(genWords)]
	}
	n := int(c-200) % 8
	if n > len(g.b) {
		n = len(g.b)
	}
	s := string(g.b[:n])
	g.b = g.b[n:]
	return s
}

func (g *filterGen) number() *float64 {
	c := g.byte()
	var x float64
	switch c % 4 {
	case 0:
		x = float64(int8(g.byte()))
	case 1:
		var buf [8]byte
		for i := range buf {
			buf[i] = g.byte()
		}
		x = math.Float64frombits(binary.LittleEndian.Uint64(buf[:]))
	case 2:
		x = float64(int8(g.byte())) / 10
	default:
		x = math.Copysign(0, -1)
	}
	return &x
}

func (g *filterGen) filter(depth int) *Filter {
	g.n++
	c := g.byte()
	if depth < MaxFilterDepth+1 && g.n < 300 && len(g.b) > 0 {
		switch c % 11 {
		case 0, 1:
			op := OpAnd
			if c%11 == 1 {
				op = OpOr
			}
			f := &Filter{Op: op}
			for k := 1 + int(g.byte()%3); k > 0; k-- {
				f.Args = append(f.Args, g.filter(depth+1))
			}
			return f
		case 2:
			return &Filter{Op: OpNot, Args: []*Filter{g.filter(depth + 1)}}
		case 3: // the form != and not in parse into
			v := g.word()
			inner := &Filter{Op: OpEq, Var: v, Value: g.word()}
			if g.byte()%2 == 0 {
				inner = &Filter{Op: OpIn, Var: v, Values: []string{g.word(), g.word()}}
			}
			return &Filter{Op: OpAnd, Args: []*Filter{{Op: OpPresent, Var: v}, {Op: OpNot, Args: []*Filter{inner}}}}
		}
	}
	switch c % 5 {
	case 0:
		return &Filter{Op: OpEq, Var: g.word(), Value: g.word()}
	case 1:
		f := &Filter{Op: OpIn, Var: g.word()}
		for k := 1 + int(g.byte()%3); k > 0; k-- {
			f.Values = append(f.Values, g.word())
		}
		return f
	case 2:
		return &Filter{Op: OpMissing, Var: g.word()}
	case 3:
		return &Filter{Op: OpPresent, Var: g.word()}
	}
	f := &Filter{Op: OpRange, Var: g.word()}
	k := g.byte()
	if k&1 != 0 {
		f.Min, f.MinOpen = g.number(), k&4 != 0
	}
	if k&2 != 0 {
		f.Max, f.MaxOpen = g.number(), k&8 != 0
		if k&16 != 0 && f.Min != nil {
			f.Max = f.Min // a point
		}
	}
	return f
}
