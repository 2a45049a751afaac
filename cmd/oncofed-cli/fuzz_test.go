package main

import (
	"encoding/json"
	"errors"
	"testing"

	"github.com/oncofed/oncofed/protocol"
)

// FuzzParseFilter: any --where text either fails with a filterError whose position lies in
// the text, or parses into a filter of known variables with the right operators for their
// types, within the protocol's depth and size limits, that survives the JSON trip to a node.
func FuzzParseFilter(f *testing.F) {
	for _, s := range []string{
		`sex = male`, `age >= 60 and ecog in (ecog0, ecog1)`, `(sex = male or sex = female) and not age > 60`,
		`stage = "stage IV"`, `wt.loss is not missing`, `sex != male`, `age = 1e400`, `((((age < 1))))`,
		`ecog in ()`, `age >= "x"`, `"unterminated`, `sex = male or`, `not not not age > -0`,
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		flt, err := parseFilter(s, lungTypes)
		if err != nil {
			var fe *filterError
			// Positions count characters from 1; the end of the text is one past its last.
			if !errors.As(err, &fe) || fe.Pos < 1 || fe.Pos > len([]rune(s))+1 {
				t.Fatalf("%q: error %v without a position in the text", s, err)
			}
			return
		}
		if flt == nil {
			return // blank: the whole study
		}
		nodes := 0
		var walk func(f *protocol.Filter, depth int)
		walk = func(f *protocol.Filter, depth int) {
			nodes++
			if depth > protocol.MaxFilterDepth+2 {
				t.Fatalf("%q: nested %d deep", s, depth)
			}
			switch f.Op {
			case protocol.OpAnd, protocol.OpOr, protocol.OpNot:
				if len(f.Args) == 0 || f.Op == protocol.OpNot && len(f.Args) != 1 {
					t.Fatalf("%q: %s with %d args", s, f.Op, len(f.Args))
				}
				for _, a := range f.Args {
					walk(a, depth+1)
				}
				return
			}
			typ, ok := lungTypes(f.Var)
			if !ok {
				t.Fatalf("%q: unknown variable %q accepted", s, f.Var)
			}
			switch f.Op {
			case protocol.OpEq, protocol.OpIn:
				if typ != protocol.Categorical {
					t.Fatalf("%q: %s on numeric %s", s, f.Op, f.Var)
				}
			case protocol.OpRange:
				if typ != protocol.Numeric {
					t.Fatalf("%q: range on categorical %s", s, f.Var)
				}
			case protocol.OpMissing, protocol.OpPresent:
			default:
				t.Fatalf("%q: operator %q", s, f.Op)
			}
		}
		walk(flt, 1)
		b, err := json.Marshal(flt)
		if err != nil {
			t.Fatalf("%q: filter does not encode: %v", s, err)
		}
		var back protocol.Filter
		if err := json.Unmarshal(b, &back); err != nil {
			t.Fatalf("%q: %v", s, err)
		}
	})
}
