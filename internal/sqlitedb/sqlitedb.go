// Package sqlitedb is the one home of how Oncofed opens SQLite files and brings their schema up
// to date: the DSN (a file: URI with the path escaped and the connection pragmas), and the
// embedded, numbered migrations applied each in its own transaction with PRAGMA user_version.
// The node's store and the desktop's results cache both use it, so they share one numbering
// rule (1, 2, 3, … without gap or repeat) and one concurrency rule (the version is read again
// under the write lock, so processes opening a file at the same moment apply each migration
// once).
package sqlitedb

import (
	"database/sql"
	"errors"
	"slices"
	"strconv"
	"strings"
	"time"

	"modernc.org/sqlite" // registers the "sqlite" driver
	sqlite3 "modernc.org/sqlite/lib"
)

// Param is one parameter of a DSN: a connection pragma, the transaction lock mode or the open
// mode.
type Param string

// Pragma sets PRAGMA name(value) on every connection the pool opens.
func Pragma(name, value string) Param { return Param("_pragma=" + name + "(" + value + ")") }

// BusyTimeout makes a connection wait up to d for another process's lock instead of failing
// with SQLITE_BUSY.
func BusyTimeout(d time.Duration) Param {
	return Pragma("busy_timeout", strconv.FormatInt(d.Milliseconds(), 10))
}

// Connection settings shared by the node and the cache.
var (
	// WAL lets readers go on while one writer writes, across processes.
	WAL = Pragma("journal_mode", "WAL")
	// ForeignKeys enforces the schemas' REFERENCES clauses (deleting a result deletes its
	// aggregates; a column belongs to a study).
	ForeignKeys = Pragma("foreign_keys", "1")
	// QueryOnly refuses writes on the connection (a reader pool next to a writer).
	QueryOnly = Pragma("query_only", "1")
)

const (
	// Immediate makes write transactions take the write lock at BEGIN, so two processes that
	// read then write (a release deciding a budget; a cache save) serialise instead of both
	// reading the same state and one failing on upgrade.
	Immediate Param = "_txlock=immediate"
	// ReadOnly opens the file without writing to it, not even to change its journal mode.
	ReadOnly Param = "mode=ro"
)

// DSN returns the driver's file: URI for path with the given parameters. Characters that mean
// something in a URI ('%', '?', '#') are escaped, so any file name works. The driver applies
// pragmas in order, so a busy timeout goes first: switching a new file to WAL takes a lock,
// and without the timeout in force a second process doing the same fails with SQLITE_BUSY.
func DSN(path string, params ...Param) string {
	r := strings.NewReplacer("%", "%25", "?", "%3f", "#", "%23")
	var first, rest []string
	for _, p := range params {
		if strings.HasPrefix(string(p), "_pragma=busy_timeout(") {
			first = append(first, string(p))
		} else {
			rest = append(rest, string(p))
		}
	}
	return "file:" + r.Replace(path) + "?" + strings.Join(append(first, rest...), "&")
}

// Open opens a connection pool on path with the given parameters (see DSN). Without WAL, like
// sql.Open, it does not touch the file until the first use. With WAL it connects once: SQLite
// does not wait on its busy handler while switching a new file to WAL, so processes creating
// the same database at the same moment (replicas started together) get SQLITE_BUSY at once;
// Open retries that for up to walWait, after which the file is in WAL and the pragma is a
// no-op for every later connection.
func Open(path string, params ...Param) (*sql.DB, error) {
	db, err := sql.Open("sqlite", DSN(path, params...))
	if err != nil || !slices.Contains(params, WAL) {
		return db, err
	}
	deadline := time.Now().Add(walWait)
	for pause := time.Millisecond; ; pause = min(2*pause, 50*time.Millisecond) {
		err := db.Ping()
		if err == nil {
			return db, nil
		}
		var se *sqlite.Error
		if !errors.As(err, &se) || se.Code()&0xff != sqlite3.SQLITE_BUSY || time.Now().After(deadline) {
			db.Close()
			return nil, err
		}
		time.Sleep(pause)
	}
}

// walWait bounds how long Open retries switching a new file to WAL.
const walWait = 10 * time.Second
