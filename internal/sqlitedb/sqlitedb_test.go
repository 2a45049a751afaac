package sqlitedb

import (
	"context"
	"database/sql"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"testing/fstest"
	"time"
)

// A file name with the characters a URI gives meaning to is opened as that file, and each
// connection gets the pragmas asked for.
func TestDSNEscapesPathAndSetsPragmas(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "site #1 100% ?.db")
	db, err := Open(path, WAL, BusyTimeout(7*time.Second), ForeignKeys, Immediate)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if _, err := db.Exec("CREATE TABLE t (x)"); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(path); err != nil {
		entries, _ := os.ReadDir(dir)
		var names []string
		for _, e := range entries {
			names = append(names, e.Name())
		}
		t.Fatalf("the database is not at %q (directory holds %q): %v", path, names, err)
	}
	for pragma, want := range map[string]string{"busy_timeout": "7000", "foreign_keys": "1", "journal_mode": "wal"} {
		var got string
		if err := db.QueryRow("PRAGMA " + pragma).Scan(&got); err != nil || got != want {
			t.Errorf("PRAGMA %s = %q (%v), want %q", pragma, got, err, want)
		}
	}
	ro, err := Open(path, ReadOnly)
	if err != nil {
		t.Fatal(err)
	}
	defer ro.Close()
	if _, err := ro.Exec("INSERT INTO t VALUES (1)"); err == nil {
		t.Error("a read-only connection wrote")
	}
}

func TestLoadMigrationsRefusesMisnumbering(t *testing.T) {
	file := func(s string) *fstest.MapFile { return &fstest.MapFile{Data: []byte(s)} }
	good := fstest.MapFS{
		"m/002_b.sql": file("CREATE TABLE b (x);"),
		"m/001_a.sql": file("CREATE TABLE a (x);"),
		"m/README":    file("not a migration"),
	}
	ms, err := LoadMigrations(good, "m")
	if err != nil || len(ms) != 2 || ms[0].Name != "001_a.sql" || ms[1].Version != 2 {
		t.Fatalf("LoadMigrations = %+v, %v", ms, err)
	}
	for name, fsys := range map[string]fstest.MapFS{
		"gap":       {"m/001_a.sql": file(""), "m/003_c.sql": file("")},
		"repeat":    {"m/001_a.sql": file(""), "m/002_b.sql": file(""), "m/002_c.sql": file("")},
		"no number": {"m/001_a.sql": file(""), "m/init.sql": file("")},
		"zero":      {"m/000_a.sql": file("")},
	} {
		if _, err := LoadMigrations(fsys, "m"); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}

func migrations(sqls ...string) []Migration {
	ms := make([]Migration, len(sqls))
	for i, s := range sqls {
		ms[i] = Migration{Version: i + 1, Name: "m" + string(rune('1'+i)), SQL: s}
	}
	return ms
}

func version(t *testing.T, db *sql.DB) int {
	t.Helper()
	var v int
	if err := db.QueryRow("PRAGMA user_version").Scan(&v); err != nil {
		t.Fatal(err)
	}
	return v
}

func tables(t *testing.T, db *sql.DB) string {
	t.Helper()
	rows, err := db.Query("SELECT name FROM sqlite_schema WHERE type = 'table' ORDER BY name")
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var names []string
	for rows.Next() {
		var n string
		rows.Scan(&n)
		names = append(names, n)
	}
	return strings.Join(names, ",")
}

// Migrations stop at Upto, go on later, and leave the schema at a whole version when one
// fails — in its SQL or in its Go step — and a newer database is refused untouched.
func TestMigrate(t *testing.T) {
	ctx := context.Background()
	db, err := Open(filepath.Join(t.TempDir(), "m.db"), Immediate)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	db.SetMaxOpenConns(1)
	ms := migrations("CREATE TABLE a (x);", "CREATE TABLE b (x);", "CREATE TABLE c (x); CREATE TABLE c (y);")
	var first int
	m := Migrator{Migrations: ms, Upto: 1, First: func(ctx context.Context, tx *sql.Tx) error {
		first++
		_, err := tx.ExecContext(ctx, "PRAGMA application_id = 42")
		return err
	}}
	if err := m.Migrate(ctx, db); err != nil || version(t, db) != 1 || tables(t, db) != "a" {
		t.Fatalf("Upto 1: %v, version %d, tables %s", err, version(t, db), tables(t, db))
	}
	m.Upto = 0
	err = m.Migrate(ctx, db)
	var failed *MigrationError
	if !errors.As(err, &failed) || failed.Name != "m3" || version(t, db) != 2 || tables(t, db) != "a,b" {
		t.Fatalf("failing third migration: %v, version %d, tables %s", err, version(t, db), tables(t, db))
	}
	if first != 1 {
		t.Errorf("First ran %d times, want once (on the first migration only)", first)
	}
	m.Migrations[2].SQL = "CREATE TABLE c (x);"
	m.After = map[int]func(context.Context, *sql.Tx) error{3: func(context.Context, *sql.Tx) error { return errors.New("go step failed") }}
	if err := m.Migrate(ctx, db); !errors.As(err, &failed) || version(t, db) != 2 || tables(t, db) != "a,b" {
		t.Fatalf("failing Go step: %v, version %d, tables %s", err, version(t, db), tables(t, db))
	}
	m.After = nil
	if err := m.Migrate(ctx, db); err != nil || version(t, db) != 3 || tables(t, db) != "a,b,c" {
		t.Fatalf("after the fix: %v, version %d, tables %s", err, version(t, db), tables(t, db))
	}
	older := Migrator{Migrations: ms[:2]}
	var newer *NewerError
	if err := older.Migrate(ctx, db); !errors.As(err, &newer) || newer.Found != 3 || newer.Known != 2 || version(t, db) != 3 {
		t.Fatalf("older build on a newer database: %v, version %d", err, version(t, db))
	}
}

// Processes opening a new database at the same moment apply each migration once: the version
// is read again under the write lock.
func TestMigrateConcurrently(t *testing.T) {
	ms := migrations("CREATE TABLE a (x);", "CREATE TABLE b (x);", "CREATE TABLE c (x);")
	for round := 0; round < 10; round++ {
		path := filepath.Join(t.TempDir(), "m.db")
		var wg sync.WaitGroup
		errs := make([]error, 4)
		for i := range errs {
			wg.Add(1)
			go func() {
				defer wg.Done()
				db, err := Open(path, WAL, BusyTimeout(10*time.Second), Immediate)
				if err == nil {
					db.SetMaxOpenConns(1)
					err = errors.Join(Migrator{Migrations: ms}.Migrate(context.Background(), db), db.Close())
				}
				errs[i] = err
			}()
		}
		wg.Wait()
		if err := errors.Join(errs...); err != nil {
			t.Fatalf("round %d: %v", round, err)
		}
	}
}
