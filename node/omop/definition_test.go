package omop

import (
	"bytes"
	"encoding/json"
	"reflect"
	"strings"
	"testing"
)

const goodDefinition = `{
  "study": "nsclc", "title": "Advanced NSCLC", "version": "1", "data_cut": "2026-06-30",
  "cohort": {"condition_concepts": [4115276], "index": "first_diagnosis"},
  "endpoints": [
    {"name": "OS", "label": "Overall survival", "events": [{"table": "death"}]},
    {"name": "PFS", "events": [{"table": "episode", "concepts": [32677]}, {"table": "death"}]}],
  "variables": [
    {"name": "age", "table": "person", "value": "age", "unit": "years", "min": 18, "max": 100},
    {"name": "sex", "table": "person", "value": "gender", "categories": ["female", "male"], "map": {"8532": "female", "8507": "male"}},
    {"name": "egfr", "table": "measurement", "value": "concept", "concepts": [3011], "categories": ["mutant", "wild-type"],
     "map": {"101": "mutant", "102": "wild-type"}, "from_day": -365, "to_day": 30},
    {"name": "regimen", "table": "drug_exposure", "categories": ["chemo", "io"], "map": {"1+2": "chemo", "3": "io"}}]
}`

func TestReadDefinition(t *testing.T) {
	d, err := ReadDefinition(strings.NewReader(goodDefinition))
	if err != nil {
		t.Fatal(err)
	}
	dict, err := d.dictionary()
	if err != nil {
		t.Fatal(err)
	}
	if dict.Title != "Advanced NSCLC" || dict.Version != "1" || len(dict.Entries) != 6 || dict.Entries[1].Categories[1] != "male" {
		t.Errorf("dictionary %+v", dict)
	}
	if got := d.Variables[3].drugConcepts(); len(got) != 3 {
		t.Errorf("drug concepts %v", got)
	}
}

// Each broken definition is refused with the place and the reason.
func TestDefinitionErrors(t *testing.T) {
	for _, c := range []struct{ from, to, want string }{
		{`"study": "nsclc"`, `"study": ""`, `"study" is required`},
		{`"data_cut": "2026-06-30"`, `"data_cut": "30/06/2026"`, `data_cut "30/06/2026" is not a date`},
		{`"index": "first_diagnosis"`, `"index": "last_visit"`, `cohort: index "last_visit"`},
		{`[4115276]`, `[]`, `cohort: condition_concepts: at least one`},
		{`[4115276]`, `[4115276, 4115276]`, `concept 4115276 given twice`},
		{`{"table": "episode", "concepts": [32677]}`, `{"table": "episode"}`, `endpoint PFS, event 1 (episode): concepts are required`},
		{`{"table": "episode", "concepts": [32677]}`, `{"table": "visit", "concepts": [1]}`, `table "visit"`},
		{`"value": "gender"`, `"value": "number"`, `variable sex: value "number": table person offers age, gender, race, ethnicity`},
		{`"8507": "male"`, `"8507": "man"`, `variable sex: map "8507" → "man": not one of the categories`},
		{`"8507": "male"`, `"M": "male"`, `variable sex: map key "M": want a concept id`},
		{`"1+2": "chemo"`, `"2+1": "chemo"`, `map key "2+1": write the concept ids in increasing order`},
		{`"concepts": [3011], `, ``, `variable egfr: concepts are required for table measurement`},
		{`"from_day": -365, "to_day": 30`, `"from_day": 30, "to_day": -365`, `from_day 30 after to_day -365`},
		{`"unit": "years", "min": 18`, `"unit": "years", "categories": ["old"], "min": 18`, `variable age: a numeric value has no map or categories`},
		{`"label": "Overall survival"`, `"lable": "Overall survival"`, `unknown field "lable"`},
		{`{"name": "OS"`, `{"name": "sex"`, `declared twice`},
		{`{"table": "episode", "concepts": [32677]}, {"table": "death"}]}`, `{"table": "episode", "concepts": [32677], "cause": "progression"}, {"table": "death"}], "causes": ["progression", "death"]}`,
			`endpoint PFS, event 2: cause "" is not one of the endpoint's causes`},
		{`{"table": "episode", "concepts": [32677]}, {"table": "death"}]}`, `{"table": "episode", "concepts": [32677], "cause": "progression"}, {"table": "death", "cause": "progression"}], "causes": ["progression", "death"]}`,
			`endpoint PFS: cause "death" has no event`},
		{`{"table": "episode", "concepts": [32677]}, {"table": "death"}]}`, `{"table": "episode", "concepts": [32677], "cause": "progression"}, {"table": "death"}]}`,
			`cause "progression", but the endpoint declares no causes`},
		{`{"table": "episode", "concepts": [32677]}, {"table": "death"}]}`, `{"table": "episode", "concepts": [32677]}, {"table": "death"}], "entry": [{"table": "death"}]}`,
			`endpoint PFS, entry 1 (death): an entry is a record of episode`},
	} {
		src := strings.Replace(goodDefinition, c.from, c.to, 1)
		if src == goodDefinition {
			t.Fatalf("case %q does not apply", c.from)
		}
		_, err := ReadDefinition(strings.NewReader(src))
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s → %s: %v, want %q", c.from, c.to, err, c.want)
		}
	}
}

// FuzzReadDefinition: any input is refused with an error or read into a definition whose
// dictionary checks and whose JSON form reads back to the same definition.
func FuzzReadDefinition(f *testing.F) {
	f.Add(goodDefinition)
	f.Add(`{"study": "s", "cohort": {"condition_concepts": [1]}, "endpoints": [{"name": "OS", "events": [{"table": "death"}]}]}`)
	f.Add(`{"study": "s", "cohort": {"condition_concepts": [1]}, "endpoints": [{"name": "OS", "events": [{"table": "death"}]}],
	 "variables": [{"name": "r", "table": "drug_exposure", "categories": ["a"], "map": {"1+2": "a"}}]}`)
	f.Fuzz(func(t *testing.T, src string) {
		d, err := ReadDefinition(strings.NewReader(src))
		if err != nil {
			return
		}
		if _, err := d.dictionary(); err != nil {
			t.Fatalf("accepted, but its dictionary is refused: %v", err)
		}
		js, err := json.Marshal(d)
		if err != nil {
			t.Fatal(err)
		}
		d2, err := ReadDefinition(bytes.NewReader(js))
		if err != nil {
			t.Fatalf("its JSON form is refused: %v\n%s", err, js)
		}
		if !reflect.DeepEqual(d, d2) {
			t.Fatalf("round trip changed it:\n%+v\n%+v", d, d2)
		}
	})
}

// A definition with competing causes and entry records reads, and keeps them.
func TestDefinitionCausesAndEntry(t *testing.T) {
	src := strings.Replace(goodDefinition, `{"table": "episode", "concepts": [32677]}, {"table": "death"}]}`,
		`{"table": "episode", "concepts": [32677], "cause": "progression"}, {"table": "death", "cause": "death"}], "causes": ["progression", "death"], "entry": [{"table": "observation", "concepts": [4000000]}]}`, 1)
	d, err := ReadDefinition(strings.NewReader(src))
	if err != nil {
		t.Fatal(err)
	}
	ep := d.Endpoints[1]
	if !reflect.DeepEqual(ep.Causes, []string{"progression", "death"}) || ep.Events[1].Cause != "death" || len(ep.Entry) != 1 {
		t.Errorf("endpoint %+v", ep)
	}
}
