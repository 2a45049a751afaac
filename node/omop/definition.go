package omop

import (
	"encoding/json"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/oncofed/oncofed/node"
	"github.com/oncofed/oncofed/protocol"
)

// Definition is a study definition file: which patients of an OMOP CDM form the study, their
// index date, endpoints and variables, and the study's dictionary. It is the same file at
// every site of the study (only the database differs), so every site publishes the same
// dictionary. docs/omop.md has a worked example; ReadDefinition reads it.
type Definition struct {
	Study   string `json:"study"`
	Title   string `json:"title,omitempty"`
	Version string `json:"version,omitempty"`
	// DataCut (YYYY-MM-DD), when set, ends follow-up: a patient first diagnosed after it is
	// not in the cohort, and endpoints are censored at it when the observation period runs on.
	DataCut     string   `json:"data_cut,omitempty"`
	HorizonDays *float64 `json:"horizon_days,omitempty"`
	// ID names the person column that becomes the patient id: person_id (default) or
	// person_source_value (the hospital's own identifier).
	ID        string     `json:"id,omitempty"`
	Cohort    Cohort     `json:"cohort"`
	Endpoints []Endpoint `json:"endpoints"`
	Variables []Variable `json:"variables"`
}

// Cohort selects the study's patients: everyone with a condition_occurrence of one of
// ConditionConcepts, indexed at the first such diagnosis, which must lie in an
// observation_period.
type Cohort struct {
	ConditionConcepts []int64 `json:"condition_concepts"`
	// IncludeDescendants takes every descendant of ConditionConcepts in the CDM's
	// concept_ancestor as well (an OHDSI concept set with descendants).
	IncludeDescendants bool `json:"include_descendants,omitempty"`
	// Index is the index date rule; "first_diagnosis" (the default) is the only one.
	Index string `json:"index,omitempty"`
}

// Endpoint is a time-to-event outcome: the first of its Events on or after the index date,
// else censored at the end of observation (the observation period's end, or the data cut
// when earlier).
//
// Causes, when given, makes the endpoint's events competing causes (as `oncofed-node import
// --causes`): every event names its Cause, one of Causes, and the patient's cause is that of the
// first event; events of different causes on the same day go to the one listed first in Events.
// Entry, when given, is delayed entry (--entry): the first record of one of its events on or
// after the index date is the day the patient entered observation (none: from the index date).
type Endpoint struct {
	Name        string   `json:"name"`
	Label       string   `json:"label,omitempty"`
	HorizonDays *float64 `json:"horizon_days,omitempty"`
	Events      []Event  `json:"events"`
	Causes      []string `json:"causes,omitempty"`
	Entry       []Event  `json:"entry,omitempty"`
}

// Event is one kind of record that ends an endpoint: a death (table death), or a record of
// one of Concepts in episode (episode_concept_id, e.g. Disease Progression),
// condition_occurrence, observation or measurement.
type Event struct {
	Table    string  `json:"table"`
	Concepts []int64 `json:"concepts,omitempty"`
	// Cause is the label of the competing cause this event is (Endpoint.Causes).
	Cause string `json:"cause,omitempty"`
}

// Variable is one column of the study and where its value comes from.
//
//   - table person, value age (completed years at the index date), gender, race or
//     ethnicity (the *_concept_id, mapped by Map; concept 0 is missing);
//   - table measurement or observation, records of Concepts, value number
//     (value_as_number), concept (value_as_concept_id mapped by Map), string (observation's
//     value_as_string mapped by Map) or record_concept (the record's own concept mapped by
//     Map: a stage coded as its concept);
//   - table episode (Oncology extension), records of Concepts as episode_concept_id (e.g.
//     Treatment Regimen), the episode_object_concept_id mapped by Map;
//   - table drug_exposure: the set of drug_concept_ids started on the same day, mapped by
//     Map with keys like "1000+1001" (the concept ids, sorted, joined by +): a regimen
//     recognised from its drugs.
//
// The record used is the one nearest the index date within [FromDay, ToDay] (days from the
// index; default up to day 0 for measurement and observation, from day 0 for episode and
// drug_exposure; before the end of observation always). Two records on that day with
// different values are an error. Records without a value are ignored.
//
// Panel names the test that gives the variable together with others (an NGS panel's EGFR, ALK
// and KRAS G12C), as the CSV dictionary's "panel" does: they are missing together, and a
// patient with some of them and not the others is refused at import.
type Variable struct {
	Name       string            `json:"name"`
	Label      string            `json:"label,omitempty"`
	Unit       string            `json:"unit,omitempty"`
	Table      string            `json:"table"`
	Value      string            `json:"value,omitempty"`
	Concepts   []int64           `json:"concepts,omitempty"`
	Categories []string          `json:"categories,omitempty"`
	Map        map[string]string `json:"map,omitempty"`
	Min        *float64          `json:"min,omitempty"`
	Max        *float64          `json:"max,omitempty"`
	Discrete   bool              `json:"discrete,omitempty"`
	Panel      string            `json:"panel,omitempty"`
	FromDay    *int              `json:"from_day,omitempty"`
	ToDay      *int              `json:"to_day,omitempty"`
}

// The tables a definition reads.
const (
	tPerson      = "person"
	tObsPeriod   = "observation_period"
	tCondition   = "condition_occurrence"
	tDeath       = "death"
	tEpisode     = "episode"
	tMeasurement = "measurement"
	tObservation = "observation"
	tDrug        = "drug_exposure"
	tConcept     = "concept"
)

// DefinitionError is a refused definition: what is wrong and where in the file.
type DefinitionError struct {
	Where  string // "endpoint PFS, event 1", "variable stage"
	Reason string
}

func (e *DefinitionError) Error() string {
	if e.Where == "" {
		return "study definition: " + e.Reason
	}
	return "study definition: " + e.Where + ": " + e.Reason
}

// Unwrap gives the coded form (invalid).
func (e *DefinitionError) Unwrap() error {
	return &protocol.Error{Code: protocol.CodeInvalid, Message: e.Error()}
}

// ReadDefinition reads and checks a study definition (JSON; unknown fields are refused, so a
// misspelt key is not silently ignored).
func ReadDefinition(r io.Reader) (*Definition, error) {
	dec := json.NewDecoder(r)
	dec.DisallowUnknownFields()
	var d Definition
	if err := dec.Decode(&d); err != nil {
		return nil, &DefinitionError{Reason: err.Error()}
	}
	if dec.More() {
		return nil, &DefinitionError{Reason: "trailing data after the JSON object"}
	}
	if err := d.Check(); err != nil {
		return nil, err
	}
	return &d, nil
}

// Check refuses a malformed definition, naming the endpoint or variable at fault; the
// dictionary it declares is checked as the CSV import checks one.
func (d *Definition) Check() error {
	if d.Study == "" {
		return bad("", `"study" is required`)
	}
	if d.DataCut != "" {
		if _, err := time.Parse(time.DateOnly, d.DataCut); err != nil {
			return bad("", "data_cut %q is not a date YYYY-MM-DD", d.DataCut)
		}
	}
	switch d.ID {
	case "", "person_id", "person_source_value":
	default:
		return bad("", "id %q: want person_id or person_source_value", d.ID)
	}
	if len(d.Cohort.ConditionConcepts) == 0 {
		return bad("cohort", "condition_concepts: at least one concept is required")
	}
	if err := checkConcepts("cohort", d.Cohort.ConditionConcepts); err != nil {
		return err
	}
	if d.Cohort.Index != "" && d.Cohort.Index != "first_diagnosis" {
		return bad("cohort", "index %q: the only rule is first_diagnosis", d.Cohort.Index)
	}
	if len(d.Endpoints) == 0 {
		return bad("", "at least one endpoint is required")
	}
	for _, e := range d.Endpoints {
		where := "endpoint " + e.Name
		if len(e.Events) == 0 {
			return bad(where, "events: at least one is required")
		}
		if err := checkCauses(where, e); err != nil {
			return err
		}
		for k, ev := range e.Entry {
			w := fmt.Sprintf("%s, entry %d (%s)", where, k+1, ev.Table)
			if ev.Table == tDeath || ev.Cause != "" {
				return bad(w, "an entry is a record of episode, condition_occurrence, observation or measurement, without a cause")
			}
			if err := checkEventTable(w, ev); err != nil {
				return err
			}
		}
		for k, ev := range e.Events {
			w := fmt.Sprintf("%s, event %d (%s)", where, k+1, ev.Table)
			if err := checkEventTable(w, ev); err != nil {
				return err
			}
		}
	}
	for _, v := range d.Variables {
		if err := v.check(); err != nil {
			return err
		}
	}
	if _, err := d.dictionary(); err != nil {
		return err
	}
	return nil
}

// checkCauses checks an endpoint's causes: distinct non-empty labels, each event naming one,
// each cause some event's; without causes, no event names one.
func checkCauses(where string, e Endpoint) error {
	if len(e.Causes) == 0 {
		for k, ev := range e.Events {
			if ev.Cause != "" {
				return bad(fmt.Sprintf("%s, event %d", where, k+1), "cause %q, but the endpoint declares no causes", ev.Cause)
			}
		}
		return nil
	}
	used := map[string]bool{}
	for k, c := range e.Causes {
		if c == "" || used[c] || slices.Contains(e.Causes[:k], c) {
			return bad(where, "causes: labels must be non-empty and distinct")
		}
	}
	for k, ev := range e.Events {
		if !slices.Contains(e.Causes, ev.Cause) {
			return bad(fmt.Sprintf("%s, event %d", where, k+1), "cause %q is not one of the endpoint's causes %q", ev.Cause, e.Causes)
		}
		used[ev.Cause] = true
	}
	for _, c := range e.Causes {
		if !used[c] {
			return bad(where, "cause %q has no event", c)
		}
	}
	return nil
}

// checkEventTable checks one event (or entry) record's table and concepts.
func checkEventTable(w string, ev Event) error {
	switch ev.Table {
	case tDeath:
		if len(ev.Concepts) > 0 {
			return bad(w, "a death is any death: no concepts")
		}
	case tEpisode, tCondition, tObservation, tMeasurement:
		if len(ev.Concepts) == 0 {
			return bad(w, "concepts are required")
		}
		return checkConcepts(w, ev.Concepts)
	default:
		return bad(w, "table %q: want death, episode, condition_occurrence, observation or measurement", ev.Table)
	}
	return nil
}

// bad is a DefinitionError at where.
func bad(where, f string, a ...any) error {
	return &DefinitionError{Where: where, Reason: fmt.Sprintf(f, a...)}
}

func checkConcepts(where string, ids []int64) error {
	seen := map[int64]bool{}
	for _, c := range ids {
		if c <= 0 {
			return &DefinitionError{Where: where, Reason: fmt.Sprintf("concept %d: concept ids are positive", c)}
		}
		if seen[c] {
			return &DefinitionError{Where: where, Reason: fmt.Sprintf("concept %d given twice", c)}
		}
		seen[c] = true
	}
	return nil
}

// valueKinds lists the values each table offers.
var valueKinds = map[string][]string{
	tPerson:      {"age", "gender", "race", "ethnicity"},
	tMeasurement: {"number", "concept", "record_concept"},
	tObservation: {"number", "concept", "string", "record_concept"},
	tEpisode:     {"object_concept"},
	tDrug:        {"drug_set"},
}

// kind returns the variable's value kind, with the table's default.
func (v *Variable) kind() string {
	switch {
	case v.Value != "":
		return v.Value
	case v.Table == tEpisode:
		return "object_concept"
	case v.Table == tDrug:
		return "drug_set"
	}
	return ""
}

// numeric reports whether the variable's values are numbers (else categories by Map).
func (v *Variable) numeric() bool { return v.kind() == "number" || v.kind() == "age" }

func (v *Variable) check() error {
	where := "variable " + v.Name
	bad := func(f string, a ...any) error { return &DefinitionError{Where: where, Reason: fmt.Sprintf(f, a...)} }
	kinds, ok := valueKinds[v.Table]
	if !ok {
		return bad("table %q: want person, measurement, observation, episode or drug_exposure", v.Table)
	}
	if !slices.Contains(kinds, v.kind()) {
		return bad("value %q: table %s offers %s", v.Value, v.Table, strings.Join(kinds, ", "))
	}
	needConcepts := v.Table == tMeasurement || v.Table == tObservation || v.Table == tEpisode
	switch {
	case needConcepts && len(v.Concepts) == 0:
		return bad("concepts are required for table %s", v.Table)
	case !needConcepts && len(v.Concepts) > 0:
		return bad("table %s takes no concepts (the map's keys say which)", v.Table)
	}
	if err := checkConcepts(where, v.Concepts); err != nil {
		return err
	}
	if v.numeric() {
		if v.Map != nil || v.Categories != nil {
			return bad("a numeric value has no map or categories")
		}
		return nil
	}
	if v.Min != nil || v.Max != nil {
		return bad("min and max are for numeric values")
	}
	if len(v.Map) == 0 || len(v.Categories) == 0 {
		return bad("a categorical value needs its categories and a map from source values to them")
	}
	for key, cat := range v.Map {
		if !slices.Contains(v.Categories, cat) {
			return bad("map %q → %q: not one of the categories %v", key, cat, v.Categories)
		}
		if v.kind() == "string" {
			continue
		}
		if v.kind() != "drug_set" {
			if c, err := strconv.ParseInt(key, 10, 64); err != nil || c <= 0 {
				return bad("map key %q: want a concept id", key)
			}
			continue
		}
		for _, part := range strings.Split(key, "+") {
			if c, err := strconv.ParseInt(part, 10, 64); err != nil || c <= 0 {
				return bad("map key %q: want concept ids joined by +", key)
			}
		}
		if canonicalSet(key) != key {
			return bad("map key %q: write the concept ids in increasing order without repeats (%q)", key, canonicalSet(key))
		}
	}
	if v.FromDay != nil && v.ToDay != nil && *v.FromDay > *v.ToDay {
		return bad("from_day %d after to_day %d", *v.FromDay, *v.ToDay)
	}
	return nil
}

// canonicalSet writes a +-joined set of concept ids sorted and without repeats.
func canonicalSet(key string) string {
	var ids []int64
	for _, p := range strings.Split(key, "+") {
		c, _ := strconv.ParseInt(p, 10, 64)
		ids = append(ids, c)
	}
	slices.Sort(ids)
	ids = slices.Compact(ids)
	return joinIDs(ids)
}

func joinIDs(ids []int64) string {
	parts := make([]string, len(ids))
	for i, c := range ids {
		parts[i] = strconv.FormatInt(c, 10)
	}
	return strings.Join(parts, "+")
}

// drugConcepts returns the drug concepts a drug_set variable's map names.
func (v *Variable) drugConcepts() []int64 {
	var ids []int64
	for key := range v.Map {
		for _, p := range strings.Split(key, "+") {
			c, _ := strconv.ParseInt(p, 10, 64)
			ids = append(ids, c)
		}
	}
	slices.Sort(ids)
	return slices.Compact(ids)
}

// uses returns the tables the definition reads and the concepts it names, each with what
// needs it (for messages).
func (d *Definition) uses() (tables map[string]string, concepts map[int64]string) {
	tables = map[string]string{tPerson: "the cohort", tObsPeriod: "the cohort", tCondition: "the cohort", tConcept: "checking the definition's concepts"}
	concepts = map[int64]string{}
	for _, c := range d.Cohort.ConditionConcepts {
		concepts[c] = "cohort, condition_occurrence"
	}
	if d.Cohort.IncludeDescendants {
		tables["concept_ancestor"] = "the cohort's include_descendants"
	}
	for _, e := range d.Endpoints {
		for _, ev := range append(slices.Clone(e.Events), e.Entry...) {
			if _, ok := tables[ev.Table]; !ok {
				tables[ev.Table] = "endpoint " + e.Name
			}
			for _, c := range ev.Concepts {
				concepts[c] = "endpoint " + e.Name + ", " + ev.Table
			}
		}
	}
	for i := range d.Variables {
		v := &d.Variables[i]
		if _, ok := tables[v.Table]; !ok {
			tables[v.Table] = "variable " + v.Name
		}
		for _, c := range v.Concepts {
			concepts[c] = "variable " + v.Name + ", " + v.Table
		}
		if v.kind() == "string" {
			continue
		}
		for key := range v.Map {
			for _, p := range strings.Split(key, "+") {
				c, _ := strconv.ParseInt(p, 10, 64)
				concepts[c] = "variable " + v.Name + ", map of " + v.Table
			}
		}
	}
	return tables, concepts
}

// dictionary is the study's declared dictionary: each variable's type, label, unit,
// categories or range, and each endpoint's label and horizon.
func (d *Definition) dictionary() (node.Dictionary, error) {
	dict := node.Dictionary{Study: d.Study, Version: d.Version, Title: d.Title, HorizonDays: d.HorizonDays}
	for _, v := range d.Variables {
		e := node.DictionaryEntry{Name: v.Name, Label: v.Label, Unit: v.Unit, Min: v.Min, Max: v.Max, Discrete: v.Discrete, Panel: v.Panel, Type: protocol.Numeric}
		if !v.numeric() {
			e.Type, e.Categories = protocol.Categorical, v.Categories
		}
		dict.Entries = append(dict.Entries, e)
	}
	for _, e := range d.Endpoints {
		dict.Entries = append(dict.Entries, node.DictionaryEntry{Name: e.Name, Endpoint: true, Label: e.Label, HorizonDays: e.HorizonDays})
	}
	if err := dict.Check(); err != nil {
		return node.Dictionary{}, &DefinitionError{Reason: err.Error()}
	}
	return dict, nil
}
