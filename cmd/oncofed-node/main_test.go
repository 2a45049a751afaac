package main

import (
	"bytes"
	"database/sql"
	"os"
	"path/filepath"
	"strings"
	"testing"

	_ "modernc.org/sqlite"
)

func TestUsage(t *testing.T) {
	var out, errb bytes.Buffer
	if code := run(nil, &out, &errb); code != 2 || !strings.Contains(out.String(), "import") || !strings.Contains(out.String(), "audit") {
		t.Errorf("no args: exit %d, usage %q", code, out.String())
	}
	out.Reset()
	if code := run([]string{"-h"}, &out, &errb); code != 0 || !strings.Contains(out.String(), "usage: oncofed-node") {
		t.Errorf("-h: exit %d", code)
	}
	if code := run([]string{"frobnicate"}, &out, &errb); code != 2 || !strings.Contains(errb.String(), "unknown command") {
		t.Errorf("unknown command: exit %d, %q", code, errb.String())
	}
}

func TestImportAndAuditCommands(t *testing.T) {
	dir := t.TempDir()
	db := filepath.Join(dir, "inst3.db")
	csvPath := filepath.Join(dir, "a.csv")
	os.WriteFile(csvPath, []byte("pid,t,e,sex\n1,10,1,m\n2,20,0,f\n"), 0o644)
	var out, errb bytes.Buffer
	args := []string{"import", "--db", db, "--study", "s", "--csv", csvPath, "--id", "pid", "--endpoint", "OS=t:e", "--data-cut", "2024-02-29"}
	// A categorical column needs its declared categories.
	if code := run(args, &out, &errb); code != 1 || !strings.Contains(errb.String(), `column "sex"`) || !strings.Contains(errb.String(), "--categories sex=") {
		t.Fatalf("import without declared categories: exit %d: %s", code, errb.String())
	}
	args = append(args, "--categories", "sex=m,f", "--study-version", "1")
	errb.Reset()
	if code := run(args, &out, &errb); code != 0 {
		t.Fatalf("import: exit %d: %s", code, errb.String())
	}
	// The same version with another dictionary (a JSON file declaring the other order and a
	// range) is refused; under version 2 it is accepted.
	dict := filepath.Join(dir, "dict.json")
	os.WriteFile(dict, []byte(`{"version": "1", "variables": [{"name": "sex", "categories": ["f", "m"]}], "endpoints": [{"name": "OS", "label": "Overall survival"}]}`), 0o644)
	base := []string{"import", "--db", db, "--study", "s", "--csv", csvPath, "--id", "pid", "--endpoint", "OS=t:e", "--data-cut", "2024-02-29", "--dictionary", dict}
	errb.Reset()
	if code := run(base, &out, &errb); code != 1 || !strings.Contains(errb.String(), "new study version") {
		t.Fatalf("changed dictionary under the same version: exit %d: %s", code, errb.String())
	}
	errb.Reset()
	if code := run(append(base, "--study-version", "2"), &out, &errb); code != 1 || !strings.Contains(errb.String(), `declares version "1"`) {
		t.Fatalf("--study-version disagreeing with the dictionary: exit %d: %s", code, errb.String())
	}
	os.WriteFile(dict, []byte(`{"version": "2", "variables": [{"name": "sex", "categories": ["f", "m"]}], "endpoints": [{"name": "OS", "label": "Overall survival"}]}`), 0o644)
	if code := run(base, &out, &errb); code != 0 {
		t.Fatalf("new version: exit %d: %s", code, errb.String())
	}
	args = base
	// A bad file names its line and changes nothing.
	os.WriteFile(csvPath, []byte("pid,t,e,sex\n1,10,1,m\n2,-20,0,f\n"), 0o644)
	errb.Reset()
	if code := run(args, &out, &errb); code != 1 || !strings.Contains(errb.String(), "line 3") || !strings.Contains(errb.String(), "nothing was changed") {
		t.Fatalf("bad import: exit %d: %s", code, errb.String())
	}
	if code := run([]string{"import", "--db", db}, &out, &errb); code != 1 {
		t.Errorf("import without flags: exit %d", code)
	}
	if code := run([]string{"audit", "--db", db}, &out, &errb); code != 0 {
		t.Fatalf("audit: exit %d: %s", code, errb.String())
	}
	// Forge an audit record: the audit command must fail.
	raw, err := sql.Open("sqlite", "file:"+db)
	if err != nil {
		t.Fatal(err)
	}
	defer raw.Close()
	if _, err := raw.Exec(`INSERT INTO audit_log (seq, at, analyst, kind, study, query_id, query, query_hash, outcome, code, reason, released, budgeted, prev_hash, row_hash)
		VALUES (1, '2024-01-01T00:00:00.000000000Z', 'x', 'count', 's', '', '{}', 'bad', 'released', '', '', '', 1, 'bad', 'bad')`); err != nil {
		t.Fatal(err)
	}
	errb.Reset()
	if code := run([]string{"audit", "--db", db}, &out, &errb); code != 1 || !strings.Contains(errb.String(), "BROKEN") {
		t.Errorf("tampered audit: exit %d: %s", code, errb.String())
	}
	if code := run([]string{"audit", "--db", filepath.Join(dir, "none.db")}, &out, &errb); code != 1 {
		t.Errorf("audit of a missing database: exit %d", code)
	}
	if code := run([]string{"policy"}, &out, &errb); code != 0 {
		t.Errorf("policy: exit %d", code)
	}
}

func TestStudiesAndQueryCommands(t *testing.T) {
	dir := t.TempDir()
	db := filepath.Join(dir, "inst3.db")
	csvPath := filepath.Join(dir, "a.csv")
	os.WriteFile(csvPath, []byte("pid,t,e,sex\n1,10,1,m\n2,20,0,f\n"), 0o644)
	var out, errb bytes.Buffer
	if code := run([]string{"import", "--db", db, "--study", "s", "--csv", csvPath, "--id", "pid", "--endpoint", "OS=t:e", "--categories", "sex=f,m"}, &out, &errb); code != 0 {
		t.Fatalf("import: %s", errb.String())
	}
	if code := run([]string{"studies", "--db", db}, &out, &errb); code != 0 {
		t.Errorf("studies: exit %d: %s", code, errb.String())
	}
	qf := filepath.Join(dir, "q.json")
	os.WriteFile(qf, []byte(`{"version":"v1","kind":"count","study":"s"}`), 0o644)
	if code := run([]string{"query", "--db", db, "--query", qf}, &out, &errb); code != 0 {
		t.Errorf("query: exit %d: %s", code, errb.String())
	}
	if code := run([]string{"query", "--db", filepath.Join(dir, "typo.db"), "--query", qf}, &out, &errb); code != 1 {
		t.Errorf("query on a missing database: exit %d", code)
	}
	if _, err := os.Stat(filepath.Join(dir, "typo.db")); err == nil {
		t.Error("a mistyped --db created a database")
	}
}
