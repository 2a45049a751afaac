package cache

import (
	"context"
	"database/sql"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"time"

	"github.com/oncofed/oncofed/app"
	"github.com/oncofed/oncofed/internal/sqlitedb"
	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"
)

//go:embed migrations/*.sql
var migrationFS embed.FS

// ApplicationID marks an SQLite file as an Oncofed cache (PRAGMA application_id, "ONCF").
const ApplicationID = 0x4F4E4346

// connection holds the settings of every connection: WAL so readers never block the writer, a
// busy timeout so a second process (the CLI next to the desktop app) waits instead of failing,
// and foreign keys so deleting a result deletes its aggregates.
var connection = []sqlitedb.Param{sqlitedb.BusyTimeout(5 * time.Second), sqlitedb.ForeignKeys, sqlitedb.WAL}

// DB is the SQLite cache. It implements app.Cache. All writes go through one connection (so
// writers in one process queue instead of meeting SQLITE_BUSY) and take the write lock at
// BEGIN (so writers in two processes wait on busy_timeout instead of failing on upgrade).
type DB struct {
	path string
	w    *sql.DB // the writer: one connection, BEGIN IMMEDIATE
	r    *sql.DB // readers, query_only

	// MovedAside is the path a corrupt cache file was renamed to when Open rebuilt it, or "".
	// The caller should tell the analyst (their cached results are in that file).
	MovedAside string
}

var _ app.Cache = (*DB)(nil)

// Option configures Open.
type Option func(*options)

type options struct {
	now        func() time.Time
	migrations int // apply only the first n migrations (tests of upgrades); 0 = all
}

// WithClock sets the clock used to timestamp a moved-aside corrupt file.
func WithClock(now func() time.Time) Option { return func(o *options) { o.now = now } }

// WithSchemaVersion applies migrations only up to version v instead of all of them. It exists
// to build caches of earlier versions in upgrade tests.
func WithSchemaVersion(v int) Option { return func(o *options) { o.migrations = v } }

// migrations is the cache's schema (migrations/NNNN_what.sql).
var migrations = sqlitedb.MustLoadMigrations(migrationFS, "migrations")

// SchemaVersion is the schema version this build writes (the number of the last migration).
func SchemaVersion() int { return len(migrations) }

// DefaultPath returns where the cache lives when --cache is not given: oncofed/cache.db under
// the OS user cache directory.
func DefaultPath() (string, error) {
	dir, err := os.UserCacheDir()
	if err != nil {
		return "", err
	}
	return filepath.Join(dir, "oncofed", "cache.db"), nil
}

// Open opens (creating it if needed) the cache at path and brings its schema up to date.
//
// A cache written by a newer Oncofed (a higher user_version) or a file that is some other
// SQLite database is refused with an *app.Error of code EConflict and left untouched. A file
// that is not a database or fails SQLite's quick_check is moved aside to
// path.corrupt-<UTC timestamp> (with its -wal and -shm) and a new cache is built; db.MovedAside
// then says where the old file went.
func Open(ctx context.Context, path string, opts ...Option) (*DB, error) {
	o := options{now: time.Now}
	for _, f := range opts {
		f(&o)
	}
	want := len(migrations)
	if o.migrations > 0 && o.migrations < want {
		want = o.migrations
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, app.WrapError(app.EInternal, err, "cannot create the cache directory")
	}
	db := &DB{path: path}
	if _, err := os.Stat(path); err == nil {
		switch err := inspect(ctx, path, len(migrations)); {
		case err == nil:
		case errors.Is(err, errCorrupt):
			aside, merr := moveAside(path, o.now())
			if merr != nil {
				return nil, app.WrapError(app.EInternal, merr, "the cache %s is damaged and could not be moved aside", path)
			}
			db.MovedAside = aside
		default:
			return nil, err
		}
	}

	if !exists(path) {
		if err := create(ctx, path); err != nil {
			return nil, err
		}
	}
	var err error
	db.w, err = sqlitedb.Open(path, append(connection, sqlitedb.Immediate)...)
	if err != nil {
		return nil, app.WrapError(app.EInternal, err, "cannot open the cache %s", path)
	}
	db.w.SetMaxOpenConns(1)
	db.w.SetConnMaxIdleTime(0)
	if err := db.migrate(ctx, want); err != nil {
		db.w.Close()
		return nil, err
	}
	db.reclaim(ctx)
	db.r, err = sqlitedb.Open(path, append(connection, sqlitedb.QueryOnly)...)
	if err != nil {
		db.w.Close()
		return nil, app.WrapError(app.EInternal, err, "cannot open the cache %s", path)
	}
	db.r.SetMaxOpenConns(4)
	return db, nil
}

// pageSize is the page size of a new cache file. A stored pooled Cox result is tens of MiB of
// replies of about 600 KB each; SQLite writes and checkpoints them a page per system call, and
// with 64 KiB pages (SQLite's largest) storing one took 103 ms against 161 ms with the default
// 4 KiB (BenchmarkSaveCoxResult, medians of 3 interleaved runs; BenchmarkList10000 unchanged
// within noise, 36 vs 39 ms). An existing file keeps its page size.
const pageSize = 65536

func exists(path string) bool {
	_, err := os.Stat(path)
	return err == nil
}

// create makes a new, empty cache file with the page size set: the DSN's pragmas cannot do it,
// since the driver applies journal_mode (which fixes the page size) first. A file another
// process created meanwhile is left as it is (page_size is then a no-op).
func create(ctx context.Context, path string) error {
	db, err := sqlitedb.Open(path, sqlitedb.BusyTimeout(5*time.Second))
	if err != nil {
		return app.WrapError(app.EInternal, err, "cannot create the cache %s", path)
	}
	defer db.Close()
	db.SetMaxOpenConns(1)
	for _, q := range []string{fmt.Sprintf("PRAGMA page_size = %d", pageSize), "PRAGMA journal_mode = WAL"} {
		if _, err := db.ExecContext(ctx, q); err != nil {
			return app.WrapError(app.EInternal, err, "cannot create the cache %s", path)
		}
	}
	return db.Close()
}

// Path returns the file the cache lives in.
func (db *DB) Path() string { return db.path }

// Close closes both connection pools.
func (db *DB) Close() error {
	return errors.Join(db.r.Close(), db.w.Close())
}

var errCorrupt = errors.New("cache: file is corrupt")

// inspect opens an existing file read-only, without changing its journal mode, and decides
// whether it is a usable cache (nil), corrupt (errCorrupt) or must be left alone (*app.Error).
func inspect(ctx context.Context, path string, known int) error {
	ro, err := sqlitedb.Open(path, sqlitedb.ReadOnly, sqlitedb.BusyTimeout(5*time.Second))
	if err != nil {
		return app.WrapError(app.EInternal, err, "cannot open the cache %s", path)
	}
	defer ro.Close()
	var version, appID int
	var tables int
	err = ro.QueryRowContext(ctx, "PRAGMA user_version").Scan(&version)
	if err == nil {
		err = ro.QueryRowContext(ctx, "PRAGMA application_id").Scan(&appID)
	}
	if err == nil {
		err = ro.QueryRowContext(ctx, "SELECT count(*) FROM sqlite_schema").Scan(&tables)
	}
	if err != nil {
		if isCorruption(err) {
			return errCorrupt
		}
		return app.WrapError(app.EInternal, err, "cannot read the cache %s", path)
	}
	if appID != ApplicationID && (version != 0 || tables != 0 || appID != 0) {
		return app.Errorf(app.EConflict, "%s is not an Oncofed cache (application id %#x); it was left untouched — choose another file with --cache", path, appID)
	}
	if version > known {
		return newerCache(path, version)
	}
	rows, err := ro.QueryContext(ctx, "PRAGMA quick_check")
	if err != nil {
		if isCorruption(err) {
			return errCorrupt
		}
		return app.WrapError(app.EInternal, err, "cannot check the cache %s", path)
	}
	defer rows.Close()
	for rows.Next() {
		var s string
		if err := rows.Scan(&s); err != nil {
			return app.WrapError(app.EInternal, err, "cannot check the cache %s", path)
		}
		if s != "ok" {
			return errCorrupt
		}
	}
	if err := rows.Err(); err != nil {
		if isCorruption(err) {
			return errCorrupt
		}
		return app.WrapError(app.EInternal, err, "cannot check the cache %s", path)
	}
	return nil
}

func isCorruption(err error) bool {
	var se *sqlite.Error
	if !errors.As(err, &se) {
		return false
	}
	switch se.Code() & 0xff {
	case sqlite3.SQLITE_CORRUPT, sqlite3.SQLITE_NOTADB:
		return true
	}
	return false
}

// moveAside renames path and its WAL and shared-memory files to path.corrupt-<timestamp>….
func moveAside(path string, now time.Time) (string, error) {
	aside := path + ".corrupt-" + now.UTC().Format("20060102T150405Z")
	if err := os.Rename(path, aside); err != nil {
		return "", err
	}
	for _, suffix := range []string{"-wal", "-shm"} {
		if err := os.Rename(path+suffix, aside+suffix); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return aside, err
		}
	}
	return aside, nil
}

// reclaim gives the space of deleted rows back to the file system when most of the file is
// free pages: after migration 4 deleted the replies of the Cox results (a cache of three
// pooled fits at 1M patients was 470 MB), or after the analyst deleted most results. VACUUM
// rewrites the file; it is skipped, with no error, when another process is reading it.
func (db *DB) reclaim(ctx context.Context) {
	var free, pages, size int64
	if db.w.QueryRowContext(ctx, "PRAGMA freelist_count").Scan(&free) != nil ||
		db.w.QueryRowContext(ctx, "PRAGMA page_count").Scan(&pages) != nil ||
		db.w.QueryRowContext(ctx, "PRAGMA page_size").Scan(&size) != nil {
		return
	}
	if free*2 > pages && free*size > 1<<20 {
		_, _ = db.w.ExecContext(ctx, "VACUUM")
	}
}

// afterMigration holds, by schema version, the work in Go that completes a migration's SQL in
// the same transaction.
var afterMigration = map[int]func(context.Context, *sql.Tx) error{4: migrateCompact, 6: migrateBaseline}

// migrate applies the missing migrations up to want, each in its own transaction together
// with the new user_version, so a crash leaves the schema at a whole version.
func (db *DB) migrate(ctx context.Context, want int) error {
	m := sqlitedb.Migrator{
		Migrations: migrations,
		Upto:       want,
		First: func(ctx context.Context, tx *sql.Tx) error {
			_, err := tx.ExecContext(ctx, fmt.Sprintf("PRAGMA application_id = %d", ApplicationID))
			return err
		},
		After: afterMigration,
	}
	err := m.Migrate(ctx, db.w)
	var newer *sqlitedb.NewerError
	var failed *sqlitedb.MigrationError
	switch {
	case err == nil:
		return nil
	case errors.As(err, &newer):
		// Another, newer process upgraded the file since inspect looked at it.
		return newerCache(db.path, newer.Found)
	case errors.As(err, &failed):
		return app.WrapError(app.EInternal, failed.Err, "cache migration %s failed", failed.Name)
	case isCorruption(err):
		return app.WrapError(app.EInternal, err, "the cache %s is damaged", db.path)
	default:
		return app.WrapError(app.EInternal, err, "cannot open the cache %s", db.path)
	}
}

// newerCache is the refusal of a cache file a newer Oncofed wrote: it is left untouched.
func newerCache(path string, version int) error {
	return app.Errorf(app.EConflict, "the cache %s was written by a newer version of Oncofed (cache schema %d; this version knows up to %d). It was left untouched: update Oncofed, or use another cache file with --cache", path, version, len(migrations))
}

// sqlError converts a driver error to an *app.Error: constraint violations of a unique key
// become EConflict, everything else EInternal.
func sqlError(err error, format string, args ...any) error {
	if err == nil {
		return nil
	}
	var ae *app.Error
	if errors.As(err, &ae) {
		return err
	}
	var se *sqlite.Error
	if errors.As(err, &se) {
		switch se.Code() {
		case sqlite3.SQLITE_CONSTRAINT_UNIQUE, sqlite3.SQLITE_CONSTRAINT_PRIMARYKEY:
			return app.WrapError(app.EConflict, err, format, args...)
		}
	}
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return app.WrapError(app.EUnavailable, err, format, args...)
	}
	return app.WrapError(app.EInternal, err, format, args...)
}
