package omop

import (
	"context"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/oncofed/oncofed/synth"
)

// Concepts of the OMOP vocabulary the synthetic CDMs use. Everything else is a local concept
// (ids from 2,000,000,000 up, the range OMOP leaves to sites), declared in the CDM's concept
// table like any.
const (
	ConceptMale               = 8507
	ConceptFemale             = 8532
	ConceptAsian              = 8515
	ConceptBlack              = 8516
	ConceptWhite              = 8527
	ConceptTreatmentRegimen   = 32531 // Episode domain (Oncology extension)
	ConceptDiseaseProgression = 32677 // Episode domain (Oncology extension)
	ConceptEHR                = 32817 // Type Concept: the record comes from an EHR
)

// localBase is a study's first local concept: its condition. Variable j's concepts are
// base+100(j+1) (the variable) and base+100(j+1)+k+1 (its level k); drugs are base+90000+d.
func localBase(s synth.Study) int64 {
	return 2_000_000_000 + 100_000*int64(slices.Index(synth.Studies, s)+1)
}

func varConcept(base int64, j int) int64 { return base + 100*int64(j+1) }

// registryConcept is the local observation concept of a registry enrolment (synth's registry
// site, Site.Registry): the day a patient entered observation of OS.
func registryConcept(base int64) int64        { return base + 99_000 }
func levelConcept(base int64, j, k int) int64 { return base + 100*int64(j+1) + int64(k) + 1 }

// mpmDrugs are the drugs of the mesothelioma regimens, written to drug_exposure: that study's
// treatment is recognised from the drugs started on one day (drug_set).
var mpmDrugs = []string{"nivolumab", "ipilimumab", "cisplatin", "pemetrexed", "bevacizumab"}

var mpmRegimens = map[string][]string{
	"nivo-ipi":  {"nivolumab", "ipilimumab"},
	"chemo":     {"cisplatin", "pemetrexed"},
	"chemo-bev": {"cisplatin", "pemetrexed", "bevacizumab"},
}

func drugConcept(base int64, name string) int64 {
	return base + 90_000 + int64(slices.Index(mpmDrugs, name)) + 1
}

// synthPlace says where a synthetic study keeps a variable in the CDM: the table and value
// kind of Variable. Stage-like variables are coded as their own concept (as the Oncology
// extension codes stage), biomarkers as a measurement's value concept, some findings as
// observations, the regimen as a Treatment Regimen episode (drug exposures for MPM).
func synthPlace(s synth.Study, v synth.Variable) (table, value string) {
	switch v.Name {
	case "age":
		return tPerson, "age"
	case "sex":
		return tPerson, "gender"
	case "race":
		return tPerson, "race"
	case "treatment":
		if s == synth.MPM {
			return tDrug, "drug_set"
		}
		return tEpisode, "object_concept"
	case "stage", "iss", "r_iss":
		return tMeasurement, "record_concept"
	case "histology", "pcr", "transplant":
		return tObservation, "concept"
	case "ecog", "dx_year":
		return tObservation, "number"
	}
	if v.Categorical() {
		return tMeasurement, "concept"
	}
	return tMeasurement, "number"
}

// personConcept is the concept a person-table level is written as.
func personConcept(base int64, j int, v synth.Variable, k int) int64 {
	switch v.Levels[k] {
	case "female":
		return ConceptFemale
	case "male":
		return ConceptMale
	case "asian":
		return ConceptAsian
	case "black":
		return ConceptBlack
	case "white":
		return ConceptWhite
	}
	return levelConcept(base, j, k)
}

// SynthDefinition is the study definition that reads g's study back from the CDM that
// WriteSynth writes: the same dictionary as the CSV files' (synth.Schema.Dictionary), so a
// site imported either way publishes the same study.
func SynthDefinition(g *synth.Generator) *Definition {
	spec, sch := g.Spec(), g.Schema()
	base := localBase(spec.Study)
	d := &Definition{Study: spec.Name, Title: sch.Title, Version: synth.DictionaryVersion, DataCut: spec.DataCut.Format(time.DateOnly),
		ID: "person_source_value", Cohort: Cohort{ConditionConcepts: []int64{base}, Index: "first_diagnosis"}}
	for _, e := range synth.Endpoints {
		ep := Endpoint{Name: e.Name, Events: []Event{{Table: tDeath}}}
		if e.Name != "OS" {
			ep.Events = append([]Event{{Table: tEpisode, Concepts: []int64{ConceptDiseaseProgression}}}, ep.Events...)
			// Competing causes as the CSV declares them (synth.PFSCauses: progression, death);
			// the progression is listed first, so it wins a tie with death on one day.
			if causes := g.ImportSpec(0).Causes[e.Name]; len(causes) == 2 {
				ep.Causes = causes
				ep.Events[0].Cause, ep.Events[1].Cause = causes[0], causes[1]
			}
		}
		// A registry's patients enter observation of OS at their enrolment (synth's registry
		// site); other sites record no enrolment, so their OS has no entry.
		if e.Name == "OS" && slices.ContainsFunc(g.Sites(), func(s synth.Site) bool { return s.Registry }) {
			ep.Entry = []Event{{Table: tObservation, Concepts: []int64{registryConcept(base)}}}
		}
		d.Endpoints = append(d.Endpoints, ep)
	}
	for j, v := range sch.Variables {
		table, value := synthPlace(spec.Study, v)
		dv := Variable{Name: v.Name, Label: v.Doc, Unit: v.Unit, Table: table, Value: value, Min: v.Min, Max: v.Max, Discrete: v.Discrete, Panel: v.Panel}
		if table == tEpisode || table == tDrug {
			dv.Value = ""
		}
		if v.Categorical() {
			dv.Categories, dv.Map = v.Levels, map[string]string{}
			for k, level := range v.Levels {
				var key int64
				switch table {
				case tPerson:
					key = personConcept(base, j, v, k)
				case tDrug:
					var ids []int64
					for _, drug := range mpmRegimens[level] {
						ids = append(ids, drugConcept(base, drug))
					}
					slices.Sort(ids)
					dv.Map[joinIDs(ids)] = level
					continue
				default:
					key = levelConcept(base, j, k)
				}
				dv.Map[strconv.FormatInt(key, 10)] = level
			}
		}
		switch {
		case table == tEpisode:
			dv.Concepts = []int64{ConceptTreatmentRegimen}
		case value == "record_concept":
			for k := range v.Levels {
				dv.Concepts = append(dv.Concepts, levelConcept(base, j, k))
			}
		case table == tMeasurement || table == tObservation:
			dv.Concepts = []int64{varConcept(base, j)}
		}
		d.Variables = append(d.Variables, dv)
	}
	return d
}

// CDMWriter receives a synthetic site's CDM rows, a block of one table at a time; columns
// name the values of each row. Dates are time.Time at midnight UTC, NULL is nil.
type CDMWriter interface {
	WriteRows(ctx context.Context, table string, columns []string, rows [][]any) error
}

// RowIDs hands out each table's next primary key, so that several studies written into one
// site's CDM never share one.
type RowIDs map[string]int64

func (ids RowIDs) next(table string) int64 {
	ids[table]++
	return ids[table]
}

// Columns of the CDM tables WriteSynth fills (a subset of CDM v5.4's; the others are NULL).
var synthColumns = map[string][]string{
	tPerson: {"person_id", "gender_concept_id", "year_of_birth", "month_of_birth", "day_of_birth", "race_concept_id",
		"ethnicity_concept_id", "person_source_value"},
	tObsPeriod:   {"observation_period_id", "person_id", "observation_period_start_date", "observation_period_end_date", "period_type_concept_id"},
	tCondition:   {"condition_occurrence_id", "person_id", "condition_concept_id", "condition_start_date", "condition_type_concept_id"},
	tDeath:       {"person_id", "death_date", "death_type_concept_id"},
	tEpisode:     {"episode_id", "person_id", "episode_concept_id", "episode_start_date", "episode_object_concept_id", "episode_type_concept_id"},
	tMeasurement: {"measurement_id", "person_id", "measurement_concept_id", "measurement_date", "measurement_type_concept_id", "value_as_number", "value_as_concept_id"},
	tObservation: {"observation_id", "person_id", "observation_concept_id", "observation_date", "observation_type_concept_id", "value_as_number", "value_as_concept_id"},
	tDrug: {"drug_exposure_id", "person_id", "drug_concept_id", "drug_exposure_start_date", "drug_exposure_end_date",
		"drug_type_concept_id"},
}

// SynthTables lists the tables WriteSynth fills, in the order it writes them.
var SynthTables = []string{tPerson, tObsPeriod, tCondition, tDeath, tEpisode, tMeasurement, tObservation, tDrug}

// SynthColumns returns the columns WriteSynth fills in table.
func SynthColumns(table string) []string { return synthColumns[table] }

// synthBlock is the number of patients generated per block.
const synthBlock = 16384

// WriteSynth writes site i of g's study to w as CDM rows: each patient's person (sex, race,
// a birth date giving the age at diagnosis), an observation period from the diagnosis to
// death or the end of follow-up, the diagnosis (and a later repeat of it, which the first
// diagnosis rule must skip), death, a Disease Progression episode when PFS ends before death,
// and the variables where synthPlace puts them, on the diagnosis day — numeric ones also
// 90 days earlier with another value, which the nearest-record rule must skip. person_id
// and every row id come from ids; person_source_value is the CSV file's id, so both paths
// give the same patients.
func WriteSynth(ctx context.Context, g *synth.Generator, site int, ids RowIDs, w CDMWriter) error {
	spec, sch := g.Spec(), g.Schema()
	base := localBase(spec.Study)
	cut := spec.DataCut
	return g.StreamSite(site, synthBlock, func(c *synth.Cohort) error {
		rows := map[string][][]any{}
		add := func(table string, vals ...any) { rows[table] = append(rows[table], vals) }
		for i := 0; i < c.Len(); i++ {
			if err := synthPatient(c, i, sch, spec.Study, base, cut, ids, add); err != nil {
				return err
			}
		}
		for _, t := range SynthTables {
			if len(rows[t]) == 0 {
				continue
			}
			if err := w.WriteRows(ctx, t, synthColumns[t], rows[t]); err != nil {
				return fmt.Errorf("%s: %w", t, err)
			}
		}
		return nil
	})
}

func synthPatient(c *synth.Cohort, i int, sch *synth.Schema, study synth.Study, base int64, cut time.Time, ids RowIDs, add func(string, ...any)) error {
	pid := ids.next(tPerson)
	index := cut.AddDate(0, 0, -int(c.FollowUpDays[i]))
	at := func(d float64) time.Time { return index.AddDate(0, 0, int(d)) }
	var gender, race int64
	var birth time.Time
	for j, v := range sch.Variables {
		col := c.Columns[j]
		table, value := synthPlace(study, v)
		if table == tPerson {
			switch value {
			case "age":
				age := col.Values[i]
				if math.IsNaN(age) || age != math.Trunc(age) {
					return fmt.Errorf("synth: %s: age %v is not a whole number of years", c.ID(i), age)
				}
				// The day before the birthday: the completed years at the index date are age.
				birth = index.AddDate(-int(age), 0, -1)
			case "gender", "race":
				if k := col.Codes[i]; k >= 0 {
					if value == "gender" {
						gender = personConcept(base, j, v, int(k))
					} else {
						race = personConcept(base, j, v, int(k))
					}
				}
			}
			continue
		}
		if err := synthValue(c, i, j, v, table, value, base, pid, index, ids, add); err != nil {
			return err
		}
	}
	if birth.IsZero() {
		return fmt.Errorf("synth: study %s has no age to write year_of_birth from", study)
	}
	add(tPerson, pid, gender, birth.Year(), int(birth.Month()), birth.Day(), race, int64(0), c.ID(i))
	end := at(c.OSDays[i])
	add(tObsPeriod, ids.next(tObsPeriod), pid, index, end, int64(ConceptEHR))
	add(tCondition, ids.next(tCondition), pid, base, index, int64(ConceptEHR))
	if c.OSDays[i] > 30 {
		add(tCondition, ids.next(tCondition), pid, base, at(30), int64(ConceptEHR))
	}
	if c.OSEvent[i] {
		add(tDeath, pid, end, int64(ConceptEHR))
	}
	// A progression is recorded when PFS ended in one: by its cause when PFS has competing
	// causes (a progression on the day of death stays a progression), else when PFS ended
	// before death.
	progressed := c.PFSEvent[i] && !(c.OSEvent[i] && c.PFSDays[i] == c.OSDays[i])
	if c.PFSCause != nil {
		progressed = c.PFSCause[i] == 1
	}
	if progressed {
		add(tEpisode, ids.next(tEpisode), pid, int64(ConceptDiseaseProgression), at(c.PFSDays[i]), base, int64(ConceptEHR))
	}
	if c.OSEntryDays != nil {
		add(tObservation, ids.next(tObservation), pid, registryConcept(base), at(c.OSEntryDays[i]), int64(ConceptEHR), nil, nil)
	}
	return nil
}

// synthValue writes variable j of patient i (nothing when missing).
func synthValue(c *synth.Cohort, i, j int, v synth.Variable, table, value string, base, pid int64, index time.Time, ids RowIDs, add func(string, ...any)) error {
	col := c.Columns[j]
	if v.Categorical() {
		k := int(col.Codes[i])
		if k < 0 {
			return nil
		}
		switch value {
		case "object_concept":
			add(tEpisode, ids.next(tEpisode), pid, int64(ConceptTreatmentRegimen), index, levelConcept(base, j, k), int64(ConceptEHR))
		case "drug_set":
			for _, drug := range mpmRegimens[v.Levels[k]] {
				add(tDrug, ids.next(tDrug), pid, drugConcept(base, drug), index, index, int64(ConceptEHR))
			}
		case "record_concept":
			add(table, ids.next(table), pid, levelConcept(base, j, k), index, int64(ConceptEHR), nil, nil)
		default:
			add(table, ids.next(table), pid, varConcept(base, j), index, int64(ConceptEHR), nil, levelConcept(base, j, k))
		}
		return nil
	}
	x := col.Values[i]
	if math.IsNaN(x) {
		return nil
	}
	// An older record with another value in range: the nearest-record rule must skip it.
	old := x + 1
	if v.Max != nil && old > *v.Max {
		old = x - 1
	}
	add(table, ids.next(table), pid, varConcept(base, j), index.AddDate(0, 0, -90), int64(ConceptEHR), old, nil)
	add(table, ids.next(table), pid, varConcept(base, j), index, int64(ConceptEHR), x, nil)
	return nil
}

// SynthConcepts returns the concept rows (concept_id, concept_name, domain_id,
// vocabulary_id, concept_class_id, standard_concept, concept_code, valid_start_date,
// valid_end_date) of every concept the definitions of studies use.
func SynthConcepts(studies []synth.Study) ([]string, [][]any, error) {
	cols := []string{"concept_id", "concept_name", "domain_id", "vocabulary_id", "concept_class_id", "standard_concept", "concept_code", "valid_start_date", "valid_end_date"}
	from, to := time.Date(1970, 1, 1, 0, 0, 0, 0, time.UTC), time.Date(2099, 12, 31, 0, 0, 0, 0, time.UTC)
	var rows [][]any
	add := func(id int64, name, domain, vocab, class, code string) {
		rows = append(rows, []any{id, name, domain, vocab, class, "S", code, from, to})
	}
	add(ConceptMale, "MALE", "Gender", "Gender", "Gender", "M")
	add(ConceptFemale, "FEMALE", "Gender", "Gender", "Gender", "F")
	add(ConceptAsian, "Asian", "Race", "Race", "Race", "2")
	add(ConceptBlack, "Black or African American", "Race", "Race", "Race", "3")
	add(ConceptWhite, "White", "Race", "Race", "Race", "5")
	add(ConceptTreatmentRegimen, "Treatment Regimen", "Episode", "Episode", "Episode", "Treatment Regimen")
	add(ConceptDiseaseProgression, "Disease Progression", "Episode", "Episode", "Episode", "Disease Progression")
	add(ConceptEHR, "EHR", "Type Concept", "Type Concept", "Type Concept", "EHR")
	local := func(id int64, name, domain, code string) { add(id, name, domain, "Oncofed synth", "Local", code) }
	for _, s := range studies {
		sch, err := synth.SchemaOf(s)
		if err != nil {
			return nil, nil, err
		}
		base := localBase(s)
		local(base, sch.Title, "Condition", string(s))
		local(registryConcept(base), "Enrolment in the registry", "Observation", string(s)+".registry")
		for j, v := range sch.Variables {
			table, value := synthPlace(s, v)
			domain := strings.ToUpper(table[:1]) + table[1:]
			if table == tPerson || table == tEpisode || table == tDrug {
				domain = "Meas Value"
			}
			if value != "record_concept" && table != tPerson && table != tEpisode && table != tDrug {
				local(varConcept(base, j), v.Doc, domain, string(s)+"."+v.Name)
			}
			for k, level := range v.Levels {
				id := levelConcept(base, j, k)
				if table == tPerson && personConcept(base, j, v, k) != id {
					continue
				}
				dom := "Meas Value"
				switch {
				case value == "record_concept":
					dom = domain
				case table == tEpisode:
					dom = "Regimen"
				}
				if table == tDrug {
					continue
				}
				local(id, v.Doc+": "+level, dom, string(s)+"."+v.Name+"."+level)
			}
		}
		if s == synth.MPM {
			for _, d := range mpmDrugs {
				local(drugConcept(base, d), d, "Drug", "mpm.drug."+d)
			}
		}
	}
	return cols, rows, nil
}
