package pg_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/oncofed/oncofed/internal/pgtest"
	"github.com/oncofed/oncofed/node"
	"github.com/oncofed/oncofed/node/omop"
	"github.com/oncofed/oncofed/node/omop/pg"
)

// loadExample writes testdata/example_cdm.sql into schema cdm of the database at url and
// returns a connection to it.
func loadExample(t *testing.T, url string) *pg.CDM {
	ctx := context.Background()
	cdm, err := pg.Open(ctx, url, "cdm")
	if err != nil {
		t.Fatal(err)
	}
	tx, err := cdm.Conn().Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := pg.CreateCDM(ctx, tx, "cdm"); err != nil {
		t.Fatal(err)
	}
	sql, err := os.ReadFile("testdata/example_cdm.sql")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tx.Exec(ctx, string(sql)); err != nil {
		t.Fatal(err)
	}
	if err := tx.Commit(ctx); err != nil {
		t.Fatal(err)
	}
	return cdm
}

// readExample reads node/omop/testdata/example.json.
func readExample(t *testing.T) *omop.Definition {
	f, err := os.Open("../testdata/example.json")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	def, err := omop.ReadDefinition(f)
	if err != nil {
		t.Fatal(err)
	}
	return def
}

// TestWorkedExample imports docs/omop.md's worked example — node/omop/testdata/example.json
// over the six people of testdata/example_cdm.sql — and checks every value against the
// answer worked out by hand in the SQL's comments and the doc: the first diagnosis as index,
// the data cut, censoring at the end of observation, events before the index ignored, the
// nearest record within a window, and a regimen from the drugs of its first day.
func TestWorkedExample(t *testing.T) {
	ctx := context.Background()
	cdm := loadExample(t, pgtest.Get(t).NewDatabase(t))
	defer cdm.Close(ctx)
	def := readExample(t)
	store, err := node.OpenSQLite(filepath.Join(t.TempDir(), "site.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	rep, err := cdm.Import(ctx, store, def, omop.Options{Site: "example-hospital"})
	if err != nil {
		t.Fatal(err)
	}
	if rep.Study != "nsclc-1l" || rep.Title != "Advanced NSCLC, first line" || rep.StudyVersion != "2026-1" || rep.DataCut != "2024-12-31" {
		t.Errorf("report %+v", rep.ImportReport)
	}
	st, _, err := store.LoadStudy(ctx, "nsclc-1l")
	if err != nil {
		t.Fatal(err)
	}
	type row struct {
		id               string
		os               float64
		osEvent          bool
		pfs              float64
		pfsEvent         bool
		age              float64
		sex, egfr, regim string
		ecog             float64 // -1: missing
	}
	want := []row{
		{"1", 702, true, 320, true, 61, "female", "mutant", "chemo", 1},
		{"2", 184, false, 184, false, 73, "male", "wild-type", "egfr-tki", -1},
		{"3", 356, false, 356, false, 54, "female", "", "chemo-io", 0},
		{"6", 41, true, 41, true, 41, "male", "", "", -1},
	}
	if len(st.IDs) != len(want) {
		t.Fatalf("%d patients %v, want persons 1, 2, 3 and 6", len(st.IDs), st.IDs)
	}
	cat := func(name string, i int) string {
		v := st.Variable(name)
		if v.Codes[i] < 0 {
			return ""
		}
		return v.Categories[v.Codes[i]]
	}
	for i, w := range want {
		os, pfs := st.Endpoint("OS"), st.Endpoint("PFS")
		ecog := st.Variable("ecog").Numeric[i]
		if ecog != ecog {
			ecog = -1
		}
		got := row{st.IDs[i], os.Time[i], os.Event[i], pfs.Time[i], pfs.Event[i], st.Variable("age").Numeric[i],
			cat("sex", i), cat("egfr", i), cat("regimen", i), ecog}
		if got != w {
			t.Errorf("person %s:\n got %+v\nwant %+v", w.id, got, w)
		}
	}
}

// include_descendants takes the conditions below the cohort's concepts in concept_ancestor:
// a person diagnosed with a descendant joins the cohort; without the table the import is
// refused naming it.
func TestIncludeDescendants(t *testing.T) {
	ctx := context.Background()
	cl := pgtest.Get(t)
	url := cl.NewDatabase(t)
	db := url[strings.LastIndex(url, "/")+1 : strings.Index(url, "?")]
	cdm := loadExample(t, url)
	defer cdm.Close(ctx)
	def := readExample(t)
	def.Cohort.IncludeDescendants = true
	cl.Exec(t, db, `SET search_path = cdm;
INSERT INTO concept VALUES (2000000601, 'Adenocarcinoma of lung (local)', 'Condition', 'Local', 'Local', 'S', 'luad', '1970-01-01', '2099-12-31', NULL);
INSERT INTO concept_ancestor VALUES (4115276, 4115276, 0, 0), (4115276, 2000000601, 1, 1), (2000000601, 2000000601, 0, 0);
INSERT INTO condition_occurrence (condition_occurrence_id, person_id, condition_concept_id, condition_start_date, condition_type_concept_id)
  VALUES (8, 5, 2000000601, '2023-02-02', 32817)`)
	store, err := node.OpenSQLite(filepath.Join(t.TempDir(), "site.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	rep, err := cdm.Import(ctx, store, def, omop.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if rep.Patients != 5 {
		t.Errorf("%d patients with descendants, want 5 (persons 1, 2, 3, 5 and 6)", rep.Patients)
	}
	def.Cohort.IncludeDescendants = false
	if rep, err := cdm.Import(ctx, store, def, omop.Options{}); err != nil || rep.Patients != 4 {
		t.Errorf("without descendants: %d patients, %v; want 4", rep.Patients, err)
	}
	cl.Exec(t, db, "DROP TABLE cdm.concept_ancestor")
	def.Cohort.IncludeDescendants = true
	_, err = cdm.Import(ctx, store, def, omop.Options{})
	if err == nil || !strings.Contains(err.Error(), "concept_ancestor: no such table in the CDM") || !strings.Contains(err.Error(), "include_descendants") {
		t.Errorf("without concept_ancestor: %v", err)
	}
}
