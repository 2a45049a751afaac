package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/oncofed/oncofed/internal/pgtest"
	"github.com/oncofed/oncofed/node"
)

func TestMain(m *testing.M) { pgtest.Main(m) }

// synth --omop writes the hospitals as CDM schemas and definitions; import --omop snapshots
// each into a site database that holds the same study as import --csv of the same hospital.
// A definition naming a concept the CDM lacks is refused with the concept and the table, the
// store untouched, and the password (given in PGPASSWORD) appears nowhere.
func TestSynthAndImportOMOP(t *testing.T) {
	cl := pgtest.Get(t)
	full := cl.NewDatabase(t)
	t.Setenv("PGPASSWORD", pgtest.SuperuserPassword)
	dbURL := strings.Replace(full, ":"+pgtest.SuperuserPassword+"@", "@", 1)
	dir := t.TempDir()
	var out, errb bytes.Buffer
	if code := run([]string{"synth", "--out", dir, "--study", "mpm", "--sites", "2", "--patients", "150", "--omop", dbURL}, &out, &errb); code != 0 {
		t.Fatalf("synth --omop: exit %d: %s", code, errb.String())
	}
	script, err := os.ReadFile(filepath.Join(dir, "import-omop.sh"))
	if err != nil || !strings.Contains(string(script), "--definition mpm/omop-definition.json") {
		t.Fatalf("import-omop.sh: %v\n%s", err, script)
	}
	for _, site := range []string{"north-academic", "riverside-general"} {
		db := filepath.Join(dir, site+"-omop.db")
		args := []string{"import", "--db", db, "--omop", dbURL, "--schema", strings.ReplaceAll(site, "-", "_"),
			"--definition", filepath.Join(dir, "mpm", "omop-definition.json"), "--site", site}
		if code := run(args, &out, &errb); code != 0 {
			t.Fatalf("import --omop %s: exit %d: %s", site, code, errb.String())
		}
		a := loadStudy(t, filepath.Join(dir, site+".db"), "mpm") // synth imported the CSV
		b := loadStudy(t, db, "mpm")
		// The definition declares PFS's competing causes as the CSV does (progression, death),
		// so the endpoints are the same with their causes.
		if a.Endpoints[1].Causes == nil || len(a.Endpoints[1].Cause) == 0 {
			t.Fatalf("%s: the CSV import has no PFS causes", site)
		}
		if !reflect.DeepEqual(a.IDs, b.IDs) || !reflect.DeepEqual(a.Endpoints, b.Endpoints) || a.DictionaryHash() != b.DictionaryHash() || a.Title != b.Title {
			t.Errorf("%s: the CSV and OMOP imports differ", site)
		}
	}

	bad := filepath.Join(dir, "bad.json")
	def, _ := os.ReadFile(filepath.Join(dir, "mpm", "omop-definition.json"))
	os.WriteFile(bad, bytes.Replace(def, []byte("32677"), []byte("32678"), 1), 0o644)
	db := filepath.Join(dir, "north-academic-omop.db")
	before := loadStudy(t, db, "mpm")
	errb.Reset()
	code := run([]string{"import", "--db", db, "--omop", dbURL, "--schema", "north_academic", "--definition", bad}, &out, &errb)
	msg := errb.String()
	if code != 1 || !strings.Contains(msg, "concept 32678 (endpoint PFS, episode) is not in the CDM's vocabulary") || !strings.Contains(msg, "nothing was changed") {
		t.Errorf("unknown concept: exit %d: %s", code, msg)
	}
	if strings.Contains(msg+out.String(), pgtest.SuperuserPassword) {
		t.Error("the password was printed")
	}
	if after := loadStudy(t, db, "mpm"); !reflect.DeepEqual(before.IDs, after.IDs) {
		t.Error("the refused import changed the store")
	}
	errb.Reset()
	if code := run([]string{"import", "--db", db, "--omop", dbURL, "--definition", bad, "--csv", "x.csv"}, &out, &errb); code != 1 || !strings.Contains(errb.String(), "no --csv") {
		t.Errorf("--omop with --csv: exit %d: %s", code, errb.String())
	}
}

func loadStudy(t *testing.T, path, study string) *node.StudyData {
	t.Helper()
	store, err := node.OpenSQLite(path)
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	st, _, err := store.LoadStudy(context.Background(), study)
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	return st
}
