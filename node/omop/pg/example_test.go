package pg_test

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/oncofed/oncofed/internal/pgtest"
	"github.com/oncofed/oncofed/node"
	"github.com/oncofed/oncofed/node/omop"
	"github.com/oncofed/oncofed/node/omop/pg"
)

// TestWorkedExample imports docs/omop.md's worked example — node/omop/testdata/example.json
// over the six people of testdata/example_cdm.sql — and checks every value against the
// answer worked out by hand in the SQL's comments and the doc: the first diagnosis as index,
// the data cut, censoring at the end of observation, events before the index ignored, the
// nearest record within a window, and a regimen from the drugs of its first day.
func TestWorkedExample(t *testing.T) {
	ctx := context.Background()
	url := pgtest.Get(t).NewDatabase(t)
	cdm, err := pg.Open(ctx, url, "cdm")
	if err != nil {
		t.Fatal(err)
	}
	defer cdm.Close(ctx)
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
	f, err := os.Open("../testdata/example.json")
	if err != nil {
		t.Fatal(err)
	}
	def, err := omop.ReadDefinition(f)
	f.Close()
	if err != nil {
		t.Fatal(err)
	}
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
