package main

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/oncofed/oncofed/protocol"
)

func lungTypes(name string) (protocol.VariableType, bool) {
	switch name {
	case "age", "karno", "wt.loss":
		return protocol.Numeric, true
	case "sex", "ecog", "site", "stage":
		return protocol.Categorical, true
	}
	return "", false
}

func TestParseFilter(t *testing.T) {
	cases := []struct {
		in   string
		want string // JSON of the protocol.Filter
	}{
		{`sex = male`, `{"op":"eq","var":"sex","value":"male"}`},
		{`age >= 60`, `{"op":"range","var":"age","min":60}`},
		{`age < 70.5`, `{"op":"range","var":"age","max":70.5,"max_open":true}`},
		{`age = 60`, `{"op":"range","var":"age","min":60,"max":60}`},
		{`ecog in (ecog0, ecog1)`, `{"op":"in","var":"ecog","values":["ecog0","ecog1"]}`},
		{`stage = "stage IV"`, `{"op":"eq","var":"stage","value":"stage IV"}`},
		{`wt.loss is missing`, `{"op":"missing","var":"wt.loss"}`},
		{`ecog IS NOT missing`, `{"op":"present","var":"ecog"}`},
		{`sex != male`, `{"op":"and","args":[{"op":"present","var":"sex"},{"op":"not","args":[{"op":"eq","var":"sex","value":"male"}]}]}`},
		{`sex=male and age>=60 and ecog in (ecog0,ecog1)`,
			`{"op":"and","args":[{"op":"eq","var":"sex","value":"male"},{"op":"range","var":"age","min":60},{"op":"in","var":"ecog","values":["ecog0","ecog1"]}]}`},
		// and binds tighter than or; parentheses override.
		{`sex = male or sex = female and age > 60`,
			`{"op":"or","args":[{"op":"eq","var":"sex","value":"male"},{"op":"and","args":[{"op":"eq","var":"sex","value":"female"},{"op":"range","var":"age","min":60,"min_open":true}]}]}`},
		{`(sex = male or sex = female) and not age > 60`,
			`{"op":"and","args":[{"op":"or","args":[{"op":"eq","var":"sex","value":"male"},{"op":"eq","var":"sex","value":"female"}]},{"op":"not","args":[{"op":"range","var":"age","min":60,"min_open":true}]}]}`},
	}
	for _, c := range cases {
		f, err := parseFilter(c.in, lungTypes)
		if err != nil {
			t.Errorf("%q: %v", c.in, err)
			continue
		}
		got, _ := json.Marshal(f)
		if string(got) != c.want {
			t.Errorf("%q:\n got %s\nwant %s", c.in, got, c.want)
		}
	}
	if f, err := parseFilter("  ", lungTypes); f != nil || err != nil {
		t.Errorf("empty filter: %v, %v; want nil, nil", f, err)
	}
}

// TestParseFilterErrors: each malformed filter is refused with the position of the problem.
func TestParseFilterErrors(t *testing.T) {
	cases := []struct {
		in  string
		pos int
		msg string
	}{
		{`sex = `, 7, "expected a value"},
		{`age >= old`, 8, "expected a number"},
		{`sex male`, 5, "expected =, !=, <, <=, >, >=, in or is"},
		{`(sex = male`, 12, "expected ')'"},
		{`sex = male)`, 11, `unexpected ")"`},
		{`ecog in ecog0`, 9, "expected '('"},
		{`ecog in (ecog0 ecog1)`, 16, "expected ',' or ')'"},
		{`colour = red`, 1, `unknown variable "colour"`},
		{`sex > 3`, 5, "categorical"},
		{`age in (1, 2)`, 5, "numeric"},
		{`age = x`, 7, "not a number"},
		{`wt.loss is there`, 12, "expected 'missing'"},
		{`sex = "male`, 7, "unterminated"},
		{`sex ! male`, 5, "'!' must be followed by '='"},
		{`sex = male and`, 15, "expected a variable name"},
	}
	for _, c := range cases {
		_, err := parseFilter(c.in, lungTypes)
		fe, ok := err.(*filterError)
		if !ok {
			t.Errorf("%q: error %v, want a filter error", c.in, err)
			continue
		}
		if fe.Pos != c.pos || !strings.Contains(fe.Msg, c.msg) {
			t.Errorf("%q: %v; want position %d and %q", c.in, err, c.pos, c.msg)
		}
	}
}
