package app_test

import (
	"reflect"
	"strings"
	"testing"

	"github.com/oncofed/oncofed/app"
	"github.com/oncofed/oncofed/protocol"
)

// TestIPWMerge: merges are read (VAR=LEVEL,LEVEL;…, each group named LEVEL+LEVEL) and checked
// against the study's declarations in one place for the CLI and the desktop: categorical
// levels and a discrete numeric confounder's whole values may be merged, a continuous
// confounder, a variable that is not a confounder, an undeclared level and a group of one may
// not; the merged categorical levels take their first level's place.
func TestIPWMerge(t *testing.T) {
	lo, hi, ageLo, ageHi := 0.0, 5.0, 18.0, 100.0
	st := &app.Study{Name: "s", Variables: []app.Variable{
		{Name: "stage", Type: protocol.Categorical, Categories: []string{"I", "II", "III", "IV"}},
		{Name: "ecog", Type: protocol.Numeric, Min: &lo, Max: &hi, Discrete: true},
		{Name: "age", Type: protocol.Numeric, Min: &ageLo, Max: &ageHi},
	}}
	conf := []string{"stage", "ecog", "age"}
	levels := map[string][]string{"stage": {"II", "I", "III", "IV"}}
	m, err := app.ParseIPWMerge("stage=III,IV; ecog = 2,3,4,5")
	if err != nil {
		t.Fatal(err)
	}
	want := map[string][]protocol.LevelGroup{"stage": {{Name: "III+IV", Levels: []string{"III", "IV"}}}, "ecog": {{Name: "2+3+4+5", Levels: []string{"2", "3", "4", "5"}}}}
	if !reflect.DeepEqual(m, want) {
		t.Fatalf("parsed %+v, want %+v", m, want)
	}
	got, err := app.CheckIPWMerge(st, conf, m, levels)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, map[string][]string{"stage": {"II", "I", "III+IV"}}) || len(levels["stage"]) != 4 {
		t.Errorf("merged levels %v (given %v, which must not change)", got, levels)
	}
	if lv, err := app.IPWMergeLevels(st, "ecog"); err != nil || strings.Join(lv, ",") != "0,1,2,3,4,5" {
		t.Errorf("ecog's levels %v, %v", lv, err)
	}
	for _, c := range []struct{ text, want string }{
		{"age=50,60", "age is continuous"},
		{"sex=a,b", "sex is merged but is not among the confounders"},
		{"stage=III,V", `"V" is not a level`},
		{"stage=III", "merges 2 to 256 levels"},
		{"stage", "is not VAR=LEVEL,LEVEL"},
	} {
		m, err := app.ParseIPWMerge(c.text)
		if err == nil {
			_, err = app.CheckIPWMerge(st, conf, m, levels)
		}
		if app.ErrorCode(err) != app.EInvalid || !strings.Contains(app.ErrorMessage(err), c.want) {
			t.Errorf("%s: %v, want %q", c.text, err, c.want)
		}
	}
}
