package protocol

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"
)

func lungTypes(name string) (VariableType, bool) {
	switch name {
	case "age", "karno", "wt.loss":
		return Numeric, true
	case "sex", "ecog", "site", "stage":
		return Categorical, true
	}
	return "", false
}

func TestParseFilter(t *testing.T) {
	cases := []struct {
		in   string
		want string // JSON of the Filter
	}{
		{`sex = male`, `{"op":"eq","var":"sex","value":"male"}`},
		{`age >= 60`, `{"op":"range","var":"age","min":60}`},
		{`age < 70.5`, `{"op":"range","var":"age","max":70.5,"max_open":true}`},
		{`age = 60`, `{"op":"range","var":"age","min":60,"max":60}`},
		{`60 <= age < 70`, `{"op":"range","var":"age","min":60,"max":70,"max_open":true}`},
		{`60 < age <= 70`, `{"op":"range","var":"age","min":60,"max":70,"min_open":true}`},
		{`ecog in (ecog0, ecog1)`, `{"op":"in","var":"ecog","values":["ecog0","ecog1"]}`},
		{`stage = "stage IV"`, `{"op":"eq","var":"stage","value":"stage IV"}`},
		{`stage = 'say "IV"'`, `{"op":"eq","var":"stage","value":"say \"IV\""}`},
		{`stage = "say ""IV"""`, `{"op":"eq","var":"stage","value":"say \"IV\""}`},
		{`wt.loss is missing`, `{"op":"missing","var":"wt.loss"}`},
		{`ecog IS NOT missing`, `{"op":"present","var":"ecog"}`},
		{`sex != male`, `{"op":"and","args":[{"op":"present","var":"sex"},{"op":"not","args":[{"op":"eq","var":"sex","value":"male"}]}]}`},
		{`sex not in (male)`, `{"op":"and","args":[{"op":"present","var":"sex"},{"op":"not","args":[{"op":"in","var":"sex","values":["male"]}]}]}`},
		{`sex=male and age>=60 and ecog in (ecog0,ecog1)`,
			`{"op":"and","args":[{"op":"eq","var":"sex","value":"male"},{"op":"range","var":"age","min":60},{"op":"in","var":"ecog","values":["ecog0","ecog1"]}]}`},
		// and binds tighter than or; parentheses override.
		{`sex = male or sex = female and age > 60`,
			`{"op":"or","args":[{"op":"eq","var":"sex","value":"male"},{"op":"and","args":[{"op":"eq","var":"sex","value":"female"},{"op":"range","var":"age","min":60,"min_open":true}]}]}`},
		{`(sex = male or sex = female) and not age > 60`,
			`{"op":"and","args":[{"op":"or","args":[{"op":"eq","var":"sex","value":"male"},{"op":"eq","var":"sex","value":"female"}]},{"op":"not","args":[{"op":"range","var":"age","min":60,"min_open":true}]}]}`},
	}
	for _, c := range cases {
		f, err := ParseFilterTyped(c.in, lungTypes)
		if err != nil {
			t.Errorf("%q: %v", c.in, err)
			continue
		}
		got, _ := json.Marshal(f)
		if string(got) != c.want {
			t.Errorf("%q:\n got %s\nwant %s", c.in, got, c.want)
		}
	}
	if f, err := ParseFilterTyped("  ", lungTypes); f != nil || err != nil {
		t.Errorf("empty filter: %v, %v; want nil, nil", f, err)
	}
}

// TestParseFilterUntyped: without the study, a bare number after = is a point range and a
// quoted one a category.
func TestParseFilterUntyped(t *testing.T) {
	for in, want := range map[string]string{
		`ecog = 1`:          `{"op":"range","var":"ecog","min":1,"max":1}`,
		`ecog = "1"`:        `{"op":"eq","var":"ecog","value":"1"}`,
		`colour = red`:      `{"op":"eq","var":"colour","value":"red"}`,
		`x = inf`:           `{"op":"eq","var":"x","value":"inf"}`,
		`"and" = "or"`:      `{"op":"eq","var":"and","value":"or"}`,
		`-1e-3 < x < 0x1p4`: `{"op":"range","var":"x","min":-0.001,"max":16,"min_open":true,"max_open":true}`,
	} {
		f, err := ParseFilter(in)
		if err != nil {
			t.Errorf("%q: %v", in, err)
			continue
		}
		if got, _ := json.Marshal(f); string(got) != want {
			t.Errorf("%q:\n got %s\nwant %s", in, got, want)
		}
	}
}

// TestParseFilterErrors: each malformed filter is refused with the position of the problem.
func TestParseFilterErrors(t *testing.T) {
	deep := strings.Repeat("not ", MaxFilterDepth+1) + "age > 1"
	wide := "age > 1" + strings.Repeat(" or age > 1", MaxFilterNodes)
	cases := []struct {
		in  string
		pos int
		msg string
	}{
		{`sex = `, 7, "expected a value"},
		{`age >= old`, 8, "expected a number"},
		{`age >= 1e400`, 8, "expected a number"},
		{`sex male`, 5, "expected =, !=, <, <=, >, >=, in or is"},
		{`(sex = male`, 12, "expected ')'"},
		{`sex = male)`, 11, `unexpected ")"`},
		{`ecog in ecog0`, 9, "expected '('"},
		{`ecog in (ecog0 ecog1)`, 16, "expected ',' or ')'"},
		{`colour = red`, 1, `unknown variable "colour"`},
		{`sex > 3`, 5, "categorical"},
		{`1 < sex < 3`, 3, "categorical"},
		{`x < age < 3`, 1, "expected a number before"},
		{`1 < age < y`, 11, "expected a number after"},
		{`age in (1, 2)`, 5, "numeric"},
		{`age = x`, 7, "not a number"},
		{`wt.loss is there`, 12, "expected 'missing'"},
		{`sex = "male`, 7, "unterminated"},
		{`sex = "ma""le`, 7, "unterminated"},
		{`sex ! male`, 5, "'!' must be followed by '='"},
		{`sex = male and`, 15, "expected a variable name"},
		{`age > 1 and 5 < age < 4`, 13, "above max"},
		{`sex = ` + strings.Repeat("x", MaxNameLen+1), 1, "longer than"},
		{deep, 4*MaxFilterDepth + 1, "nested deeper"},
		{wide, 1 + 255*len(" or age > 1"), "more than 256"}, // at the 256th condition
		{`é = "é" and é in x`, 18, "expected '('"},          // positions count characters
	}
	for _, c := range cases {
		_, err := ParseFilterTyped(c.in, func(n string) (VariableType, bool) {
			if n == "é" {
				return Categorical, true
			}
			return lungTypes(n)
		})
		var fe *FilterError
		if !errors.As(err, &fe) {
			t.Errorf("%q: error %v, want a filter error", c.in, err)
			continue
		}
		if fe.Pos != c.pos || !strings.Contains(fe.Msg, c.msg) {
			t.Errorf("%q: %v; want position %d and %q", c.in, err, c.pos, c.msg)
		}
	}
}
