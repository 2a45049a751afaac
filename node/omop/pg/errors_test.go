package pg_test

import (
	"context"
	"encoding/json"
	"fmt"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/oncofed/oncofed/internal/pgtest"
	"github.com/oncofed/oncofed/node"
	"github.com/oncofed/oncofed/node/omop"
	"github.com/oncofed/oncofed/node/omop/pg"
	"github.com/oncofed/oncofed/protocol"
	"github.com/oncofed/oncofed/synth"
)

// small is a federation small enough to rewrite for every case.
var small = []synth.Spec{
	{Study: synth.NSCLC, SiteSizes: []int{40}, Seed: 3},
	{Study: synth.MPM, SiteSizes: []int{30}, Seed: 3},
}

// conceptOf returns the concept the synthetic definition reads variable name from.
func variableOf(def *omop.Definition, name string) *omop.Variable {
	for i := range def.Variables {
		if def.Variables[i].Name == name {
			return &def.Variables[i]
		}
	}
	panic("no variable " + name)
}

// TestBadCDMRefused breaks a synthetic CDM (or its definition) one way per case and requires
// a refusal naming the table and the concept, person or row count at fault — and a store left
// exactly as it was (the previous load, same version).
func TestBadCDMRefused(t *testing.T) {
	ctx := context.Background()
	cl := pgtest.Get(t)
	url := cl.NewDatabase(t)
	db := url[strings.LastIndex(url, "/")+1 : strings.Index(url, "?")]
	gens := generators(t, small)
	nsclc, mpm := omop.SynthDefinition(gens[0]), omop.SynthDefinition(gens[1])
	egfr := variableOf(nsclc, "egfr").Concepts[0]
	cases := []struct {
		name  string
		def   *omop.Definition
		edit  func(d *omop.Definition)
		sql   []string
		wants []string
	}{
		{name: "unknown concept", def: nsclc, edit: func(d *omop.Definition) { variableOf(d, "egfr").Concepts = []int64{987654321} },
			wants: []string{"concept: concept 987654321 (variable egfr, measurement) is not in the CDM's vocabulary"}},
		{name: "unknown map concept", def: nsclc, edit: func(d *omop.Definition) {
			v := variableOf(d, "sex")
			v.Map = map[string]string{"8507": "male", "12345": "female"}
		}, wants: []string{"concept 12345 (variable sex, map of person)"}},
		{name: "missing table", def: nsclc, sql: []string{"DROP TABLE episode"},
			wants: []string{"episode: no such table in the CDM", "needed by endpoint PFS"}},
		{name: "unmapped value", def: nsclc,
			sql: []string{fmt.Sprintf(`UPDATE measurement SET value_as_concept_id = %d WHERE measurement_id IN
(SELECT measurement_id FROM measurement WHERE measurement_concept_id = %d ORDER BY person_id LIMIT 2)`, omop.ConceptWhite, egfr)},
			wants: []string{"measurement: variable egfr: value 8527 (2 patients, first person ", ") is not in the definition's map"}},
		{name: "unmapped gender", def: nsclc, sql: []string{fmt.Sprintf("UPDATE person SET gender_concept_id = %d WHERE person_id = 7", omop.ConceptWhite)},
			wants: []string{"person: variable sex: person 7: gender_concept_id 8527 is not in the definition's map"}},
		{name: "unmapped drug combination", def: mpm,
			sql: []string{`INSERT INTO drug_exposure (drug_exposure_id, person_id, drug_concept_id, drug_exposure_start_date, drug_exposure_end_date, drug_type_concept_id)
SELECT 100000 + person_id, person_id, 2000390002, drug_exposure_start_date, drug_exposure_end_date, drug_type_concept_id FROM drug_exposure
WHERE drug_concept_id = 2000390003 ORDER BY person_id LIMIT 1`},
			wants: []string{"drug_exposure: variable treatment: value 2000390002+2000390003+2000390004", "not in the definition's map"}},
		{name: "no observation period", def: nsclc, sql: []string{"DELETE FROM observation_period WHERE person_id = 5"},
			wants: []string{"observation_period: person 5 (first diagnosis on ", ") has no observation period"}},
		{name: "diagnosis outside the observation period", def: nsclc,
			sql:   []string{"UPDATE observation_period SET observation_period_start_date = observation_period_start_date + 1 WHERE person_id = 6"},
			wants: []string{"observation_period: person 6: the first diagnosis on", "lies in none of the person's 1 observation periods"}},
		{name: "two values on one day", def: nsclc,
			sql: []string{fmt.Sprintf(`INSERT INTO measurement (measurement_id, person_id, measurement_concept_id, measurement_date, measurement_type_concept_id, value_as_concept_id)
SELECT 900000, person_id, measurement_concept_id, measurement_date, measurement_type_concept_id, CASE WHEN value_as_concept_id = %[1]d + 1 THEN %[1]d + 2 ELSE %[1]d + 1 END
FROM measurement WHERE measurement_concept_id = %[1]d ORDER BY person_id LIMIT 1`, egfr)},
			wants: []string{"measurement: variable egfr: person ", " has two records on", "with different values"}},
		{name: "death before diagnosis", def: nsclc,
			sql:   []string{"INSERT INTO death (person_id, death_date) SELECT person_id, observation_period_start_date - 3 FROM observation_period WHERE person_id = 11 AND NOT EXISTS (SELECT 1 FROM death WHERE person_id = 11)", "UPDATE death SET death_date = (SELECT observation_period_start_date - 3 FROM observation_period WHERE person_id = 11) WHERE person_id = 11"},
			wants: []string{"death: person 11 died on", "before the first diagnosis on"}},
		{name: "no cohort", def: nsclc, sql: []string{"DELETE FROM condition_occurrence"},
			wants: []string{"condition_occurrence: no person has a condition of the cohort's concepts [2000100000] on or before the data cut 2026-06-30 (0 rows)"}},
		{name: "person row missing", def: nsclc, sql: []string{"DELETE FROM person WHERE person_id = 12"},
			wants: []string{"person: person 12 has a condition_occurrence of the cohort but no person row"}},
		{name: "duplicate source id", def: nsclc, sql: []string{"UPDATE person SET person_source_value = (SELECT person_source_value FROM person WHERE person_id = 1) WHERE person_id = 2"},
			wants: []string{"person: persons 1 and 2 share the person_source_value"}},
		{name: "value outside the declared range", def: nsclc, sql: []string{fmt.Sprintf(`UPDATE observation SET value_as_number = 7 WHERE person_id =
(SELECT MIN(person_id) FROM observation WHERE observation_concept_id = %[1]d) AND observation_concept_id = %[1]d`, variableOf(nsclc, "ecog").Concepts[0])},
			wants: []string{"observation: variable ecog: person ", ": value 7 outside the declared range [0, 5]"}},
	}
	dir := t.TempDir()
	for n, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			schema := fmt.Sprintf("bad%d", n)
			cdm, err := pg.Open(ctx, url, schema)
			if err != nil {
				t.Fatal(err)
			}
			defer cdm.Close(ctx)
			if err := pg.WriteSynthSite(ctx, cdm.Conn(), schema, gens, 0); err != nil {
				t.Fatal(err)
			}
			store, err := node.OpenSQLite(filepath.Join(dir, schema+".db"))
			if err != nil {
				t.Fatal(err)
			}
			defer store.Close()
			// A good load first: the refused one must leave it as it is.
			if _, err := cdm.Import(ctx, store, c.def, omop.Options{}); err != nil {
				t.Fatalf("good import: %v", err)
			}
			before, infoBefore, err := store.LoadStudy(ctx, c.def.Study)
			if err != nil {
				t.Fatal(err)
			}
			def := clone(t, c.def)
			if c.edit != nil {
				c.edit(def)
			}
			for _, s := range c.sql {
				cl.Exec(t, db, "SET search_path = "+schema+"; "+s)
			}
			_, err = cdm.Import(ctx, store, def, omop.Options{})
			if err == nil {
				t.Fatal("import succeeded")
			}
			t.Log(err)
			for _, w := range c.wants {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not say %q", err, w)
				}
			}
			if node.ErrorCode(err) != protocol.CodeInvalid {
				t.Errorf("code %s, want invalid", node.ErrorCode(err))
			}
			after, infoAfter, err := store.LoadStudy(ctx, c.def.Study)
			if err != nil {
				t.Fatal(err)
			}
			if infoAfter.Version != infoBefore.Version || !reflect.DeepEqual(nanFree(before), nanFree(after)) {
				t.Error("the refused import changed the store")
			}
		})
	}
}

func jsonMarshal(v any) ([]byte, error) { return json.Marshal(v) }

func clone(t *testing.T, d *omop.Definition) *omop.Definition {
	js, err := jsonMarshal(d)
	if err != nil {
		t.Fatal(err)
	}
	c, err := omop.ReadDefinition(bytesReader(js))
	if err != nil {
		t.Fatal(err)
	}
	return c
}
