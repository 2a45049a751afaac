package node

import (
	"context"
	"crypto/rand"
	"database/sql"
	"embed"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/oncofed/oncofed/internal/sqlitedb"
	"github.com/oncofed/oncofed/protocol"
)

//go:embed migrations/*.sql
var migrations embed.FS

// timeLayout stores times with a fixed width so that they sort as text.
const timeLayout = "2006-01-02T15:04:05.000000000Z"

// SQLiteStore is the default Store: one SQLite file (WAL journal, foreign keys on) with a
// single connection, so there is exactly one writer per process and a transaction never waits
// on itself. Several processes may open the same file: their write transactions take the
// write lock at BEGIN and wait for one another up to the busy timeout (10 s).
type SQLiteStore struct {
	db    *sql.DB
	path  string
	stmts *stmtCache // the release transaction's statements, prepared once (stmtcache.go)
}

var _ Store = (*SQLiteStore)(nil)

// schema is the node database's migrations (migrations/NNN_what.sql).
var schema = sqlitedb.MustLoadMigrations(migrations, "migrations")

// OpenSQLite opens (creating if needed) the node database at path and brings its schema up
// to date. A database written by a newer node is refused and left untouched.
func OpenSQLite(path string) (*SQLiteStore, error) {
	// Write transactions take the write lock at BEGIN (Immediate), so that two processes
	// deciding a release (Release: budget, overlap guard, audit chain head) serialise instead
	// of both reading the same state.
	db, err := sqlitedb.Open(path, sqlitedb.WAL, sqlitedb.BusyTimeout(10*time.Second),
		sqlitedb.ForeignKeys, sqlitedb.Pragma("synchronous", "NORMAL"), sqlitedb.Immediate)
	if err != nil {
		return nil, fmt.Errorf("node: open %s: %w", path, err)
	}
	db.SetMaxOpenConns(1)
	s := &SQLiteStore{db: db, path: path, stmts: newStmtCache(db)}
	if err := (sqlitedb.Migrator{Migrations: schema}).Migrate(context.Background(), db); err != nil {
		db.Close()
		var newer *sqlitedb.NewerError
		if errors.As(err, &newer) {
			return nil, fmt.Errorf("node: %s was written by a newer oncofed-node (database schema %d; this one knows up to %d); it was left untouched: update oncofed-node", path, newer.Found, newer.Known)
		}
		return nil, fmt.Errorf("node: %s: %w", path, err)
	}
	return s, nil
}

// Path returns the database file's path.
func (s *SQLiteStore) Path() string { return s.path }

// DefaultSiteName is the site name a database file gets when none was set: its base name
// without extension (inst3.db → inst3).
func DefaultSiteName(dbPath string) string {
	b := filepath.Base(dbPath)
	return strings.TrimSuffix(b, filepath.Ext(b))
}

// Close closes the database.
func (s *SQLiteStore) Close() error {
	s.stmts.close()
	return s.db.Close()
}

// Column roles in study_columns.
const (
	roleID       = "id"
	roleVariable = "variable"
	roleTime     = "time"
	roleEvent    = "event"
	roleCause    = "cause" // an endpoint's cause codes (migration 012)
	roleEntry    = "entry" // an endpoint's entry times (migration 012)
)

// ReplaceStudy implements Store.
func (s *SQLiteStore) ReplaceStudy(ctx context.Context, st *StudyData) (StudyInfo, error) {
	if err := checkStudyShape(st); err != nil {
		return StudyInfo{}, err
	}
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return StudyInfo{}, err
	}
	defer tx.Rollback()
	version, err := nextVersion(ctx, tx)
	if err != nil {
		return StudyInfo{}, err
	}
	hash := st.DictionaryHash()
	var oldVersion, oldHash string
	err = tx.QueryRowContext(ctx, "SELECT study_version, dictionary_hash FROM studies WHERE name = ?", st.Name).Scan(&oldVersion, &oldHash)
	switch {
	case errors.Is(err, sql.ErrNoRows):
	case err != nil:
		return StudyInfo{}, err
	case oldHash != "" && oldVersion == st.StudyVersion && oldHash != hash:
		return StudyInfo{}, &DictionaryChangedError{Study: st.Name, Version: st.StudyVersion, Old: oldHash, New: hash}
	}
	prev, err := findPreviousLoad(ctx, tx, st.Name)
	if err != nil {
		return StudyInfo{}, err
	}
	if _, err := tx.ExecContext(ctx, "DELETE FROM studies WHERE name = ?", st.Name); err != nil {
		return StudyInfo{}, err
	}
	now := time.Now().UTC()
	res, err := tx.ExecContext(ctx, "INSERT INTO studies (name, data_cut, patients, version, imported_at, study_version, dictionary_hash, title) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
		st.Name, st.DataCut, st.Len(), version, now.Format(timeLayout), st.StudyVersion, hash, st.Title)
	if err != nil {
		return StudyInfo{}, err
	}
	id, err := res.LastInsertId()
	if err != nil {
		return StudyInfo{}, err
	}
	stmt, err := tx.PrepareContext(ctx, "INSERT INTO study_columns (study_id, position, role, name, type, label, unit, categories, data, min, max, horizon_days, causes, discrete, panel) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)")
	if err != nil {
		return StudyInfo{}, err
	}
	defer stmt.Close()
	pos := 0
	var horizon *float64 // of the endpoint's time column
	causes := []string{} // of the endpoint's time column
	discrete := false    // of a variable's column
	panel := ""          // of a variable's column
	insert := func(role, name, typ, label, unit string, cats []string, data []byte, lo, hi *float64) error {
		if cats == nil {
			cats = []string{}
		}
		cj, _ := json.Marshal(cats)
		causesJSON, _ := json.Marshal(causes)
		_, err := stmt.ExecContext(ctx, id, pos, role, name, typ, label, unit, string(cj), data, nullFloat(lo), nullFloat(hi), nullFloat(horizon), string(causesJSON), discrete, panel)
		pos++
		return err
	}
	if err := insert(roleID, "", "", "", "", nil, encodeStrings(st.IDs), nil, nil); err != nil {
		return StudyInfo{}, err
	}
	for _, v := range st.Variables {
		var data []byte
		if v.Type == protocol.Numeric {
			data = encodeFloats(v.Numeric)
		} else {
			data = encodeCodes(v.Codes)
		}
		discrete, panel = v.Discrete, v.Panel
		err := insert(roleVariable, v.Name, string(v.Type), v.Label, v.Unit, v.Categories, data, v.Min, v.Max)
		discrete, panel = false, ""
		if err != nil {
			return StudyInfo{}, err
		}
	}
	for _, e := range st.Endpoints {
		horizon = e.HorizonDays
		if e.Causes != nil {
			causes = e.Causes
		}
		err := insert(roleTime, e.Name, "", e.Label, "days", nil, encodeFloats(e.Time), nil, nil)
		horizon, causes = nil, []string{}
		if err != nil {
			return StudyInfo{}, err
		}
		if err := insert(roleEvent, e.Name, "", "", "", nil, encodeBools(e.Event), nil, nil); err != nil {
			return StudyInfo{}, err
		}
		if e.Cause != nil {
			if err := insert(roleCause, e.Name, "", "", "", nil, encodeCodes(e.Cause), nil, nil); err != nil {
				return StudyInfo{}, err
			}
		}
		if e.Entry != nil {
			if err := insert(roleEntry, e.Name, "", "", "", nil, encodeFloats(e.Entry), nil, nil); err != nil {
				return StudyInfo{}, err
			}
		}
	}
	if prev != nil {
		if err := carryGuardState(ctx, tx, st.Name, prev, version, st.IDs); err != nil {
			return StudyInfo{}, err
		}
	}
	if err := tx.Commit(); err != nil {
		return StudyInfo{}, err
	}
	return StudyInfo{Name: st.Name, DataCut: st.DataCut, Patients: st.Len(), Version: version, ImportedAt: now,
		StudyVersion: st.StudyVersion, DictionaryHash: hash}, nil
}

// DictionaryChangedError refuses a re-import that changes a study's dictionary under the same
// declared version. Its code is invalid.
type DictionaryChangedError struct {
	Study, Version string
	Old, New       string // dictionary hashes
}

func (e *DictionaryChangedError) Error() string {
	v := "no declared version"
	if e.Version != "" {
		v = fmt.Sprintf("version %q", e.Version)
	}
	return fmt.Sprintf("study %q (%s) is already published with another dictionary (hash %.12s…, this import %.12s…): "+
		"every site of a study publishes the same dictionary, so change it only with a new study version "+
		"(--study-version, or \"version\" in the dictionary) agreed across the study's sites", e.Study, v, e.Old, e.New)
}

// Unwrap gives the coded form.
func (e *DictionaryChangedError) Unwrap() error {
	return &protocol.Error{Code: protocol.CodeInvalid, Message: e.Error()}
}

func nullFloat(p *float64) any {
	if p == nil {
		return nil
	}
	return *p
}

// nextVersion hands out study versions from a counter that never goes back, so that guard
// state keyed by version never applies to a different load.
func nextVersion(ctx context.Context, tx *sql.Tx) (int64, error) {
	var v int64
	err := tx.QueryRowContext(ctx, "SELECT value FROM meta WHERE key = 'study_version'").Scan(&v)
	if err != nil && !errors.Is(err, sql.ErrNoRows) {
		return 0, err
	}
	v++
	_, err = tx.ExecContext(ctx, "INSERT INTO meta (key, value) VALUES ('study_version', ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value", strconv.FormatInt(v, 10))
	return v, err
}

// checkStudyShape panics on programmer misuse (columns of different lengths) and returns an
// error for data that cannot be stored.
func checkStudyShape(st *StudyData) error {
	if st.Name == "" {
		return errorf(protocol.CodeInvalid, "study has no name")
	}
	n := st.Len()
	for _, v := range st.Variables {
		if (v.Type == protocol.Numeric && len(v.Numeric) != n) || (v.Type == protocol.Categorical && len(v.Codes) != n) {
			panic(fmt.Sprintf("node: variable %q has a column of the wrong length", v.Name))
		}
	}
	for _, e := range st.Endpoints {
		if len(e.Time) != n || len(e.Event) != n || (e.Cause != nil && len(e.Cause) != n) || (e.Entry != nil && len(e.Entry) != n) {
			panic(fmt.Sprintf("node: endpoint %q has columns of the wrong length", e.Name))
		}
		if (e.Cause != nil) != (len(e.Causes) > 0) {
			panic(fmt.Sprintf("node: endpoint %q has cause labels without codes or codes without labels", e.Name))
		}
	}
	return nil
}

// Studies implements Store.
func (s *SQLiteStore) Studies(ctx context.Context) ([]StudyInfo, error) {
	rows, err := s.stmts.query(ctx, "SELECT name, data_cut, patients, version, imported_at, study_version, dictionary_hash, title FROM studies ORDER BY name")
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []StudyInfo
	for rows.Next() {
		var si StudyInfo
		var at string
		if err := rows.Scan(&si.Name, &si.DataCut, &si.Patients, &si.Version, &at, &si.StudyVersion, &si.DictionaryHash, &si.Title); err != nil {
			return nil, err
		}
		si.ImportedAt, _ = time.Parse(timeLayout, at)
		out = append(out, si)
	}
	return out, rows.Err()
}

// LoadStudy implements Store.
func (s *SQLiteStore) LoadStudy(ctx context.Context, name string) (*StudyData, StudyInfo, error) {
	tx, err := s.db.BeginTx(ctx, &sql.TxOptions{ReadOnly: true})
	if err != nil {
		return nil, StudyInfo{}, err
	}
	defer tx.Rollback()
	var si StudyInfo
	var id int64
	var at string
	err = tx.QueryRowContext(ctx, "SELECT id, name, data_cut, patients, version, imported_at, study_version, dictionary_hash, title FROM studies WHERE name = ?", name).
		Scan(&id, &si.Name, &si.DataCut, &si.Patients, &si.Version, &at, &si.StudyVersion, &si.DictionaryHash, &si.Title)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, StudyInfo{}, errorf(protocol.CodeNotFound, "no study %q", name)
	}
	if err != nil {
		return nil, StudyInfo{}, err
	}
	si.ImportedAt, _ = time.Parse(timeLayout, at)
	rows, err := tx.QueryContext(ctx, "SELECT role, name, type, label, unit, categories, data, min, max, horizon_days, causes, discrete, panel FROM study_columns WHERE study_id = ? ORDER BY position", id)
	if err != nil {
		return nil, StudyInfo{}, err
	}
	defer rows.Close()
	st := &StudyData{Name: si.Name, DataCut: si.DataCut, StudyVersion: si.StudyVersion, Title: si.Title}
	n := si.Patients
	for rows.Next() {
		var role, cname, typ, label, unit, cats, causes, panel string
		var data []byte
		var lo, hi, horizon sql.NullFloat64
		var discrete bool
		if err := rows.Scan(&role, &cname, &typ, &label, &unit, &cats, &data, &lo, &hi, &horizon, &causes, &discrete, &panel); err != nil {
			return nil, StudyInfo{}, err
		}
		bad := func() error { return fmt.Errorf("node: study %q column %q (%s) is corrupt", name, cname, role) }
		switch role {
		case roleID:
			if st.IDs, err = decodeStrings(data, n); err != nil {
				return nil, StudyInfo{}, bad()
			}
		case roleVariable:
			v := VariableData{Variable: protocol.Variable{Name: cname, Type: protocol.VariableType(typ), Label: label, Unit: unit, Discrete: discrete, Panel: panel}}
			if lo.Valid {
				v.Min = &lo.Float64
			}
			if hi.Valid {
				v.Max = &hi.Float64
			}
			if err := json.Unmarshal([]byte(cats), &v.Categories); err != nil {
				return nil, StudyInfo{}, bad()
			}
			if len(v.Categories) == 0 {
				v.Categories = nil
			}
			if v.Type == protocol.Numeric {
				v.Numeric, err = decodeFloats(data, n)
			} else {
				v.Codes, err = decodeCodes(data, n, len(v.Categories))
			}
			if err != nil {
				return nil, StudyInfo{}, bad()
			}
			st.Variables = append(st.Variables, v)
		case roleTime:
			t, err := decodeFloats(data, n)
			if err != nil {
				return nil, StudyInfo{}, bad()
			}
			ep := EndpointData{Name: cname, Label: label, Time: t}
			if horizon.Valid {
				ep.HorizonDays = &horizon.Float64
			}
			if err := json.Unmarshal([]byte(causes), &ep.Causes); err != nil {
				return nil, StudyInfo{}, bad()
			}
			if len(ep.Causes) == 0 {
				ep.Causes = nil
			}
			st.Endpoints = append(st.Endpoints, ep)
		case roleEvent:
			e, err := decodeBools(data, n)
			if err != nil || len(st.Endpoints) == 0 || st.Endpoints[len(st.Endpoints)-1].Name != cname {
				return nil, StudyInfo{}, bad()
			}
			st.Endpoints[len(st.Endpoints)-1].Event = e
		case roleCause, roleEntry:
			last := len(st.Endpoints) - 1
			if last < 0 || st.Endpoints[last].Name != cname {
				return nil, StudyInfo{}, bad()
			}
			ep := &st.Endpoints[last]
			if role == roleCause {
				ep.Cause, err = decodeCodes(data, n, len(ep.Causes))
			} else {
				ep.Entry, err = decodeFloats(data, n)
			}
			if err != nil {
				return nil, StudyInfo{}, bad()
			}
		default:
			return nil, StudyInfo{}, bad()
		}
	}
	if err := rows.Err(); err != nil {
		return nil, StudyInfo{}, err
	}
	if len(st.IDs) != n {
		return nil, StudyInfo{}, fmt.Errorf("node: study %q has no id column", name)
	}
	return st, si, nil
}

// DeleteStudy implements Store.
// The deleted load's patient ids are kept (retired_loads), so that the next import of the name
// carries the guard's sets over (carryover.go).
func (s *SQLiteStore) DeleteStudy(ctx context.Context, name string) error {
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	var id, version int64
	var n int
	err = tx.QueryRowContext(ctx, "SELECT id, version, patients FROM studies WHERE name = ?", name).Scan(&id, &version, &n)
	if errors.Is(err, sql.ErrNoRows) {
		return errorf(protocol.CodeNotFound, "no study %q", name)
	}
	if err != nil {
		return err
	}
	if err := retireLoad(ctx, tx, name, id, version, n); err != nil {
		return err
	}
	if _, err := tx.ExecContext(ctx, "DELETE FROM studies WHERE id = ?", id); err != nil {
		return err
	}
	return tx.Commit()
}

// SiteName implements Store.
func (s *SQLiteStore) SiteName(ctx context.Context) (string, error) {
	var v string
	err := s.db.QueryRowContext(ctx, "SELECT value FROM meta WHERE key = 'site'").Scan(&v)
	if errors.Is(err, sql.ErrNoRows) {
		return "", nil
	}
	return v, err
}

// SetSiteName implements Store.
func (s *SQLiteStore) SetSiteName(ctx context.Context, name string) error {
	_, err := s.db.ExecContext(ctx, "INSERT INTO meta (key, value) VALUES ('site', ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value", name)
	return err
}

// Release implements Store. The transaction begins with BEGIN IMMEDIATE (the _txlock DSN
// parameter), so it holds the database's write lock before its first read: another process's
// Release waits (busy_timeout) instead of reading the same budget, released sets and chain
// head. Within the process the single connection serialises Releases too.
func (s *SQLiteStore) Release(ctx context.Context, analyst string, fn func(tx ReleaseTx) error) error {
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	rt := &sqliteReleaseTx{tx: tx, stmts: s.stmts, analyst: analyst}
	err = fn(rt)
	rt.tx = nil
	if err == nil {
		err = tx.Commit()
	}
	tx.Rollback() // after a failure (a no-op after Commit): prepareWanted needs the one connection
	s.stmts.prepareWanted(ctx)
	return err
}

// sqliteReleaseTx is SQLiteStore's ReleaseTx.
type sqliteReleaseTx struct {
	tx      *sql.Tx // nil once Release returned
	stmts   *stmtCache
	analyst string
}

func (t *sqliteReleaseTx) use(analyst string) cachedTx {
	if t.tx == nil {
		panic("node: ReleaseTx used after its Release returned")
	}
	if analyst != t.analyst && analyst != studyGuardOwner { // the study-wide guard's sets (guardscope.go)
		panic(fmt.Sprintf("node: ReleaseTx of analyst %q used for analyst %q", t.analyst, analyst))
	}
	return cachedTx{tx: t.tx, c: t.stmts}
}

// AppendAudit implements ReleaseTx. The chain's head is read and the record inserted under
// the write lock, so concurrent appends cannot fork the chain.
func (t *sqliteReleaseTx) AppendAudit(ctx context.Context, e AuditEntry) (AuditRecord, error) {
	tx := t.use(e.Analyst)
	r := AuditRecord{AuditEntry: e, PrevHash: GenesisHash, Seq: 1}
	r.At = e.At.UTC()
	var last int64
	var lastHash string
	err := tx.QueryRowContext(ctx, "SELECT seq, row_hash FROM audit_log ORDER BY seq DESC LIMIT 1").Scan(&last, &lastHash)
	switch {
	case errors.Is(err, sql.ErrNoRows):
	case err != nil:
		return AuditRecord{}, err
	default:
		r.Seq, r.PrevHash = last+1, lastHash
	}
	r.QueryHash = HashQuery(e.Query)
	r.Hash = ChainHash(r)
	_, err = tx.ExecContext(ctx, `INSERT INTO audit_log (seq, at, analyst, kind, study, query_id, query, query_hash, outcome, code, reason, released, budgeted, feasibility, rho, prev_hash, row_hash)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		r.Seq, r.At.Format(timeLayout), r.Analyst, r.Kind, r.Study, r.QueryID, r.Query, r.QueryHash, r.Outcome, r.Code, r.Reason, r.Released, boolInt(r.Budgeted), boolInt(r.Feasibility), r.Rho, r.PrevHash, r.Hash)
	if err != nil {
		return AuditRecord{}, err
	}
	return r, nil
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}

// AuditRecords implements Store.
func (s *SQLiteStore) AuditRecords(ctx context.Context) ([]AuditRecord, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT seq, at, analyst, kind, study, query_id, query, query_hash, outcome, code, reason, released, budgeted, feasibility, rho, prev_hash, row_hash
		FROM audit_log ORDER BY seq`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []AuditRecord
	for rows.Next() {
		var r AuditRecord
		var at string
		var budgeted, feasibility int
		if err := rows.Scan(&r.Seq, &at, &r.Analyst, &r.Kind, &r.Study, &r.QueryID, &r.Query, &r.QueryHash, &r.Outcome, &r.Code, &r.Reason, &r.Released, &budgeted, &feasibility, &r.Rho, &r.PrevHash, &r.Hash); err != nil {
			return nil, err
		}
		r.At, err = time.Parse(timeLayout, at)
		if err != nil {
			// A malformed time is tampering too; keep the record so verification reports it.
			r.At = time.Time{}
		}
		r.Budgeted = budgeted != 0
		r.Feasibility = feasibility != 0
		out = append(out, r)
	}
	return out, rows.Err()
}

// CountQueries implements ReleaseTx.
func (t *sqliteReleaseTx) CountQueries(ctx context.Context, since time.Time) (int, error) {
	var n int
	err := t.use(t.analyst).QueryRowContext(ctx, "SELECT COUNT(*) FROM audit_log WHERE analyst = ? AND budgeted = 1 AND at >= ?",
		t.analyst, since.UTC().Format(timeLayout)).Scan(&n)
	return n, err
}

// CountFeasibility implements ReleaseTx.
func (t *sqliteReleaseTx) CountFeasibility(ctx context.Context, since time.Time) (int, error) {
	var n int
	err := t.use(t.analyst).QueryRowContext(ctx, "SELECT COUNT(*) FROM audit_log WHERE analyst = ? AND feasibility = 1 AND at >= ?",
		t.analyst, since.UTC().Format(timeLayout)).Scan(&n)
	return n, err
}

// SpentRho implements ReleaseTx.
func (t *sqliteReleaseTx) SpentRho(ctx context.Context, study string, since time.Time) (float64, error) {
	var rho float64
	err := t.use(t.analyst).QueryRowContext(ctx, "SELECT COALESCE(SUM(rho), 0) FROM audit_log WHERE analyst = ? AND study = ? AND rho > 0 AND at >= ?",
		t.analyst, study, since.UTC().Format(timeLayout)).Scan(&rho)
	return rho, err
}

// SiteSecret implements Store. Replicas creating the key at the same moment agree on it: the
// insert keeps the first row (the transaction holds the write lock) and every caller reads
// the row that is stored.
func (s *SQLiteStore) SiteSecret(ctx context.Context) ([]byte, error) {
	var key []byte
	err := s.db.QueryRowContext(ctx, "SELECT secret FROM site_secret WHERE id = 1").Scan(&key)
	if err == nil && len(key) == siteSecretSize {
		return key, nil
	}
	if err != nil && !errors.Is(err, sql.ErrNoRows) {
		return nil, err
	}
	fresh := make([]byte, siteSecretSize)
	if _, err := rand.Read(fresh); err != nil {
		return nil, fmt.Errorf("node: site secret: %w", err)
	}
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return nil, err
	}
	defer tx.Rollback()
	if _, err := tx.ExecContext(ctx, "INSERT INTO site_secret (id, secret) VALUES (1, ?) ON CONFLICT (id) DO NOTHING", fresh); err != nil {
		return nil, err
	}
	if err := tx.QueryRowContext(ctx, "SELECT secret FROM site_secret WHERE id = 1").Scan(&key); err != nil {
		return nil, err
	}
	if len(key) != siteSecretSize {
		return nil, fmt.Errorf("node: site secret is corrupt (%d bytes)", len(key))
	}
	return key, tx.Commit()
}

// siteSecretSize is the length of the site's secret key in bytes.
const siteSecretSize = 32

// SaveReleasedSet implements ReleaseTx.
func (t *sqliteReleaseTx) SaveReleasedSet(ctx context.Context, r ReleasedSet) (int64, error) {
	tx := t.use(r.Analyst)
	digest := bitsDigest(r.Bits)
	var id int64
	err := tx.QueryRowContext(ctx, "INSERT INTO released_sets (analyst, study, version, digest, region, definition, size, bits) VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (analyst, study, version, digest, region) DO NOTHING RETURNING id",
		r.Analyst, r.Study, r.Version, digest, r.Region, r.Definition, r.Size, encodeWords(r.Bits)).Scan(&id)
	if errors.Is(err, sql.ErrNoRows) { // stored before
		err = tx.QueryRowContext(ctx, "SELECT id FROM released_sets WHERE analyst = ? AND study = ? AND version = ? AND digest = ? AND region = ?",
			r.Analyst, r.Study, r.Version, digest, r.Region).Scan(&id)
	}
	return id, err
}

// StudyVersion implements ReleaseTx.
func (t *sqliteReleaseTx) StudyVersion(ctx context.Context, study string) (int64, error) {
	var v int64
	err := t.use(t.analyst).QueryRowContext(ctx, "SELECT version FROM studies WHERE name = ?", study).Scan(&v)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, nil
	}
	return v, err
}

// ReleasedSets implements ReleaseTx.
func (t *sqliteReleaseTx) ReleasedSets(ctx context.Context, owner, study string, version, after int64) ([]ReleasedSet, error) {
	rows, err := t.use(owner).QueryContext(ctx, "SELECT id, region, definition, size, bits FROM released_sets WHERE analyst = ? AND study = ? AND version = ? AND id > ? ORDER BY id",
		owner, study, version, after)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []ReleasedSet
	for rows.Next() {
		r := ReleasedSet{Analyst: owner, Study: study, Version: version}
		var data []byte
		if err := rows.Scan(&r.ID, &r.Region, &r.Definition, &r.Size, &data); err != nil {
			return nil, err
		}
		if len(data)%8 != 0 {
			return nil, fmt.Errorf("node: released set of %q is corrupt", owner)
		}
		r.Bits = decodeWords(data)
		out = append(out, r)
	}
	return out, rows.Err()
}

// SaveFeasibilitySet implements ReleaseTx.
func (t *sqliteReleaseTx) SaveFeasibilitySet(ctx context.Context, f FeasibilitySet) (FeasibilitySet, error) {
	tx := t.use(t.analyst)
	digest := bitsDigest(f.Bits)
	err := tx.QueryRowContext(ctx, "INSERT INTO feasibility_sets (study, version, digest, size, bits, answer, region) VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (study, version, digest) DO NOTHING RETURNING id",
		f.Study, f.Version, digest, f.Size, encodeWords(f.Bits), f.Answer, f.Region).Scan(&f.ID)
	if errors.Is(err, sql.ErrNoRows) { // stored before
		err = tx.QueryRowContext(ctx, "SELECT id, answer, region FROM feasibility_sets WHERE study = ? AND version = ? AND digest = ?",
			f.Study, f.Version, digest).Scan(&f.ID, &f.Answer, &f.Region)
	}
	return f, err
}

// FeasibilitySets implements ReleaseTx.
func (t *sqliteReleaseTx) FeasibilitySets(ctx context.Context, study string, version, after int64) ([]FeasibilitySet, error) {
	rows, err := t.use(t.analyst).QueryContext(ctx, "SELECT id, size, bits, answer, region FROM feasibility_sets WHERE study = ? AND version = ? AND id > ? ORDER BY id",
		study, version, after)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []FeasibilitySet
	for rows.Next() {
		f := FeasibilitySet{Study: study, Version: version}
		var data []byte
		if err := rows.Scan(&f.ID, &f.Size, &data, &f.Answer, &f.Region); err != nil {
			return nil, err
		}
		if len(data)%8 != 0 {
			return nil, fmt.Errorf("node: feasibility set %d of %q is corrupt", f.ID, study)
		}
		f.Bits = decodeWords(data)
		out = append(out, f)
	}
	return out, rows.Err()
}

// Column encodings: little-endian fixed width for numbers, length-prefixed strings.

func encodeFloats(x []float64) []byte {
	b := make([]byte, 8*len(x))
	for i, v := range x {
		binary.LittleEndian.PutUint64(b[8*i:], math.Float64bits(v))
	}
	return b
}

func decodeFloats(b []byte, n int) ([]float64, error) {
	if len(b) != 8*n {
		return nil, errors.New("length")
	}
	x := make([]float64, n)
	for i := range x {
		x[i] = math.Float64frombits(binary.LittleEndian.Uint64(b[8*i:]))
	}
	return x, nil
}

func encodeWords(x []uint64) []byte {
	b := make([]byte, 8*len(x))
	for i, v := range x {
		binary.LittleEndian.PutUint64(b[8*i:], v)
	}
	return b
}

// decodeWords is encodeWords' inverse; len(b) must be a multiple of 8 (checked by callers,
// which name what is corrupt).
func decodeWords(b []byte) []uint64 {
	x := make([]uint64, len(b)/8)
	for i := range x {
		x[i] = binary.LittleEndian.Uint64(b[8*i:])
	}
	return x
}

func encodeCodes(x []int32) []byte {
	b := make([]byte, 4*len(x))
	for i, v := range x {
		binary.LittleEndian.PutUint32(b[4*i:], uint32(v))
	}
	return b
}

func decodeCodes(b []byte, n, levels int) ([]int32, error) {
	if len(b) != 4*n {
		return nil, errors.New("length")
	}
	x := make([]int32, n)
	for i := range x {
		x[i] = int32(binary.LittleEndian.Uint32(b[4*i:]))
		if x[i] < -1 || int(x[i]) >= levels {
			return nil, errors.New("code out of range")
		}
	}
	return x, nil
}

func encodeBools(x []bool) []byte {
	b := make([]byte, len(x))
	for i, v := range x {
		if v {
			b[i] = 1
		}
	}
	return b
}

func decodeBools(b []byte, n int) ([]bool, error) {
	if len(b) != n {
		return nil, errors.New("length")
	}
	x := make([]bool, n)
	for i, v := range b {
		x[i] = v != 0
	}
	return x, nil
}

func encodeStrings(x []string) []byte {
	var b []byte
	for _, s := range x {
		b = binary.AppendUvarint(b, uint64(len(s)))
		b = append(b, s...)
	}
	return b
}

func decodeStrings(b []byte, n int) ([]string, error) {
	out := make([]string, 0, n)
	for len(b) > 0 {
		l, k := binary.Uvarint(b)
		if k <= 0 || uint64(len(b)-k) < l {
			return nil, errors.New("truncated")
		}
		out = append(out, string(b[k:k+int(l)]))
		b = b[k+int(l):]
	}
	if len(out) != n {
		return nil, errors.New("count")
	}
	return out, nil
}

// UseNonce implements NonceStore: it records (key, nonce) until expires and reports whether
// it was new. Expired nonces are deleted on the way.
func (s *SQLiteStore) UseNonce(ctx context.Context, key, nonce string, now, expires time.Time) (bool, error) {
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return false, err
	}
	defer tx.Rollback()
	if _, err := tx.ExecContext(ctx, "DELETE FROM seen_nonces WHERE expires < ?", now.UTC().Format(timeLayout)); err != nil {
		return false, err
	}
	res, err := tx.ExecContext(ctx, "INSERT INTO seen_nonces (key_id, nonce, expires) VALUES (?, ?, ?) ON CONFLICT (key_id, nonce) DO NOTHING",
		key, nonce, expires.UTC().Format(timeLayout))
	if err != nil {
		return false, err
	}
	n, err := res.RowsAffected()
	if err != nil {
		return false, err
	}
	return n == 1, tx.Commit()
}
