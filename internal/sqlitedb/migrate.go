package sqlitedb

import (
	"context"
	"database/sql"
	"fmt"
	"io/fs"
	"path"
	"sort"
	"strconv"
	"strings"
)

// Migration is one numbered schema step: the file NNN_what.sql, applied to a database whose
// PRAGMA user_version is Version-1 and leaving it at Version.
type Migration struct {
	Version int
	Name    string // file name, for messages
	SQL     string
}

// LoadMigrations reads every *.sql file of dir in fsys. Each name starts with its number and
// '_' (leading zeros allowed), and the numbers are 1, 2, 3, … without gap or repeat: the
// runner applies the steps above a database's user_version, so a migration merged in below an
// existing number, or beside one, would be skipped silently on every database already past it.
func LoadMigrations(fsys fs.FS, dir string) ([]Migration, error) {
	names, err := fs.Glob(fsys, path.Join(dir, "*.sql"))
	if err != nil {
		return nil, err
	}
	ms := make([]Migration, 0, len(names))
	for _, name := range names {
		base := path.Base(name)
		num, _, ok := strings.Cut(base, "_")
		v, err := strconv.Atoi(num)
		if !ok || err != nil || v < 1 {
			return nil, fmt.Errorf("migration file %s does not start with a number from 1 and '_'", base)
		}
		b, err := fs.ReadFile(fsys, name)
		if err != nil {
			return nil, err
		}
		ms = append(ms, Migration{Version: v, Name: base, SQL: string(b)})
	}
	sort.SliceStable(ms, func(i, j int) bool { return ms[i].Version < ms[j].Version })
	for i, m := range ms {
		if m.Version != i+1 {
			return nil, fmt.Errorf("migration %s is numbered %d; expected %d (its place in order) — numbers must run 1, 2, 3, … without a gap or repeat", m.Name, m.Version, i+1)
		}
	}
	return ms, nil
}

// MustLoadMigrations is LoadMigrations for a package's embedded files: a misnumbered
// migration is a programming error, caught when the package is first loaded (by any test).
func MustLoadMigrations(fsys fs.FS, dir string) []Migration {
	ms, err := LoadMigrations(fsys, dir)
	if err != nil {
		panic("sqlitedb: " + err.Error())
	}
	return ms
}

// NewerError says a database was written by a newer program: its schema version is above the
// last migration this build knows. It is left untouched.
type NewerError struct {
	Found, Known int
}

func (e *NewerError) Error() string {
	return fmt.Sprintf("schema version %d is newer than this build knows (%d)", e.Found, e.Known)
}

// MigrationError says which migration failed; the database stays at the version before it.
type MigrationError struct {
	Name string
	Err  error
}

func (e *MigrationError) Error() string { return fmt.Sprintf("migration %s: %v", e.Name, e.Err) }
func (e *MigrationError) Unwrap() error { return e.Err }

// Migrator applies migrations to a database.
type Migrator struct {
	Migrations []Migration
	// Upto stops after this version (building older schemas in upgrade tests); 0 means all.
	Upto int
	// First runs in the transaction of the first migration, before its SQL (e.g. setting
	// PRAGMA application_id on a new file).
	First func(ctx context.Context, tx *sql.Tx) error
	// After completes a migration's SQL with work in Go, in the same transaction.
	After map[int]func(ctx context.Context, tx *sql.Tx) error
}

// Migrate brings db up to date. Each missing migration runs in its own transaction together
// with the new user_version, so a crash leaves the schema at a whole version. The version is
// read inside the transaction: with db opened Immediate, processes opening the same file at
// once queue on the write lock, and each migration is applied exactly once. A database newer
// than the migrations is refused with *NewerError before anything is written.
func (m Migrator) Migrate(ctx context.Context, db *sql.DB) error {
	want := len(m.Migrations)
	if m.Upto > 0 && m.Upto < want {
		want = m.Upto
	}
	for {
		done, err := m.step(ctx, db, want)
		if err != nil || done {
			return err
		}
	}
}

// step applies the next migration, or reports that there is none to apply.
func (m Migrator) step(ctx context.Context, db *sql.DB, want int) (done bool, err error) {
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return false, err
	}
	defer func() {
		if err != nil || done {
			tx.Rollback()
		}
	}()
	var v int
	if err := tx.QueryRowContext(ctx, "PRAGMA user_version").Scan(&v); err != nil {
		return false, err
	}
	if v > len(m.Migrations) {
		return false, &NewerError{Found: v, Known: len(m.Migrations)}
	}
	if v >= want {
		return true, nil
	}
	mig := m.Migrations[v]
	fail := func(err error) (bool, error) { return false, &MigrationError{Name: mig.Name, Err: err} }
	if v == 0 && m.First != nil {
		if err := m.First(ctx, tx); err != nil {
			return fail(err)
		}
	}
	if _, err := tx.ExecContext(ctx, mig.SQL); err != nil {
		return fail(err)
	}
	if after := m.After[mig.Version]; after != nil {
		if err := after(ctx, tx); err != nil {
			return fail(err)
		}
	}
	if _, err := tx.ExecContext(ctx, fmt.Sprintf("PRAGMA user_version = %d", mig.Version)); err != nil {
		return fail(err)
	}
	if err := tx.Commit(); err != nil {
		return fail(err)
	}
	return false, nil
}
