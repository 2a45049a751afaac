package cache

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"strings"
	"time"

	"github.com/oncofed/oncofed/app"
	"github.com/oncofed/oncofed/protocol"
)

// write runs fn in one write transaction: it commits only if fn returns nil.
func (db *DB) write(ctx context.Context, what string, fn func(tx *sql.Tx) error) error {
	tx, err := db.w.BeginTx(ctx, nil)
	if err != nil {
		return sqlError(err, "cannot %s", what)
	}
	if err := fn(tx); err != nil {
		tx.Rollback()
		return sqlError(err, "cannot %s", what)
	}
	if err := tx.Commit(); err != nil {
		return sqlError(err, "cannot %s", what)
	}
	return nil
}

// read runs fn in one read transaction, so multi-statement reads see one snapshot.
func (db *DB) read(ctx context.Context, what string, fn func(tx *sql.Tx) error) error {
	tx, err := db.r.BeginTx(ctx, &sql.TxOptions{ReadOnly: true})
	if err != nil {
		return sqlError(err, "cannot %s", what)
	}
	defer tx.Rollback()
	if err := fn(tx); err != nil {
		return sqlError(err, "cannot %s", what)
	}
	return nil
}

func nanos(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixNano()
}

func fromNanos(n int64) time.Time {
	if n == 0 {
		return time.Time{}
	}
	return time.Unix(0, n).UTC()
}

func mustJSON(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		panic("cache: " + err.Error())
	}
	return string(b)
}

func decode(s string, v any, what string) error {
	if err := json.Unmarshal([]byte(s), v); err != nil {
		return app.WrapError(app.EInternal, err, "the cached %s is damaged", what)
	}
	return nil
}

func notFound(format string, args ...any) error { return app.Errorf(app.ENotFound, format, args...) }

// SaveNetwork inserts or updates a network.
func (db *DB) SaveNetwork(ctx context.Context, n app.NetworkInfo) error {
	if n.ID == "" {
		return app.Errorf(app.EInvalid, "a network needs an ID")
	}
	// Credentials never go into the cache; a network may be named by its hub URL
	// (oncofed-cli does), so the name is redacted too.
	n.ID, n.Name, n.URL = app.RedactURL(n.ID), app.RedactURL(n.Name), app.RedactURL(n.URL)
	return db.write(ctx, "save network "+n.ID, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, `INSERT INTO networks (id, name, url, demo, last_connected) VALUES (?, ?, ?, ?, ?)
			ON CONFLICT (id) DO UPDATE SET name = excluded.name, url = excluded.url, demo = excluded.demo, last_connected = excluded.last_connected`,
			n.ID, n.Name, n.URL, n.Demo, nanos(n.LastConnected))
		return err
	})
}

// Networks lists the known networks, most recently connected first.
func (db *DB) Networks(ctx context.Context) ([]app.NetworkInfo, error) {
	var out []app.NetworkInfo
	err := db.read(ctx, "list networks", func(tx *sql.Tx) error {
		rows, err := tx.QueryContext(ctx, `SELECT id, name, url, demo, last_connected FROM networks ORDER BY last_connected DESC, id`)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var n app.NetworkInfo
			var last int64
			if err := rows.Scan(&n.ID, &n.Name, &n.URL, &n.Demo, &last); err != nil {
				return err
			}
			n.LastConnected = fromNanos(last)
			out = append(out, n)
		}
		return rows.Err()
	})
	return out, err
}

// ensureNetwork inserts a placeholder network row so that rows referencing it can be stored
// before the network was saved explicitly.
func ensureNetwork(ctx context.Context, tx *sql.Tx, network string) error {
	_, err := tx.ExecContext(ctx, `INSERT INTO networks (id, name) VALUES (?, ?) ON CONFLICT (id) DO NOTHING`, network, network)
	return err
}

// SaveSites replaces the site list of a network.
func (db *DB) SaveSites(ctx context.Context, network string, sites []app.SiteRecord) error {
	return db.write(ctx, "save the sites of "+network, func(tx *sql.Tx) error {
		if err := ensureNetwork(ctx, tx, network); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `DELETE FROM sites WHERE network_id = ?`, network); err != nil {
			return err
		}
		for _, s := range sites {
			var policy any
			if s.Policy != nil {
				policy = mustJSON(s.Policy)
			}
			cuts := s.DataCuts
			if cuts == nil {
				cuts = map[string]string{}
			}
			studies := s.Studies
			if studies == nil {
				studies = []string{}
			}
			if _, err := tx.ExecContext(ctx, `INSERT INTO sites (network_id, site, online, latency_ns, last_seen, studies, policy, data_cuts)
				VALUES (?, ?, ?, ?, ?, ?, ?, ?)`, network, s.Site, s.Online, int64(s.Latency), nanos(s.LastSeen),
				mustJSON(studies), policy, mustJSON(cuts)); err != nil {
				return err
			}
		}
		return nil
	})
}

// Sites returns the cached sites of a network, sorted by name.
func (db *DB) Sites(ctx context.Context, network string) ([]app.SiteRecord, error) {
	var out []app.SiteRecord
	err := db.read(ctx, "list the sites of "+network, func(tx *sql.Tx) error {
		rows, err := tx.QueryContext(ctx, `SELECT site, online, latency_ns, last_seen, studies, policy, data_cuts FROM sites WHERE network_id = ? ORDER BY site`, network)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var s app.SiteRecord
			var lat, seen int64
			var studies, cuts string
			var policy sql.NullString
			if err := rows.Scan(&s.Site, &s.Online, &lat, &seen, &studies, &policy, &cuts); err != nil {
				return err
			}
			s.Latency, s.LastSeen = time.Duration(lat), fromNanos(seen)
			if err := decode(studies, &s.Studies, "site list"); err != nil {
				return err
			}
			if err := decode(cuts, &s.DataCuts, "site list"); err != nil {
				return err
			}
			if policy.Valid {
				s.Policy = new(protocol.Policy)
				if err := decode(policy.String, s.Policy, "site policy"); err != nil {
					return err
				}
			}
			out = append(out, s)
		}
		return rows.Err()
	})
	return out, err
}

// SaveCatalog replaces the cached catalog of a network.
func (db *DB) SaveCatalog(ctx context.Context, network string, c *app.Catalog) error {
	return db.write(ctx, "save the catalog of "+network, func(tx *sql.Tx) error {
		if err := ensureNetwork(ctx, tx, network); err != nil {
			return err
		}
		// Deleting the catalogs row cascades to the site catalogs.
		if _, err := tx.ExecContext(ctx, `DELETE FROM catalogs WHERE network_id = ?`, network); err != nil {
			return err
		}
		missing := c.Missing
		if missing == nil {
			missing = []string{}
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO catalogs (network_id, fetched_at, missing) VALUES (?, ?, ?)`,
			network, nanos(c.FetchedAt), mustJSON(missing)); err != nil {
			return err
		}
		for _, sc := range c.Sites {
			if _, err := tx.ExecContext(ctx, `INSERT INTO site_catalogs (network_id, site, catalog) VALUES (?, ?, ?)`,
				network, sc.Site, mustJSON(sc)); err != nil {
				return err
			}
		}
		return nil
	})
}

// Catalog returns the cached catalog of a network, merged with app.MergeCatalogs.
func (db *DB) Catalog(ctx context.Context, network string) (*app.Catalog, error) {
	var out *app.Catalog
	err := db.read(ctx, "load the catalog of "+network, func(tx *sql.Tx) error {
		var fetched int64
		var missingJSON string
		err := tx.QueryRowContext(ctx, `SELECT fetched_at, missing FROM catalogs WHERE network_id = ?`, network).Scan(&fetched, &missingJSON)
		if errors.Is(err, sql.ErrNoRows) {
			return notFound("no catalog of network %s is cached", network)
		}
		if err != nil {
			return err
		}
		var missing []string
		if err := decode(missingJSON, &missing, "catalog"); err != nil {
			return err
		}
		rows, err := tx.QueryContext(ctx, `SELECT catalog FROM site_catalogs WHERE network_id = ? ORDER BY site`, network)
		if err != nil {
			return err
		}
		defer rows.Close()
		var cats []protocol.Catalog
		for rows.Next() {
			var s string
			if err := rows.Scan(&s); err != nil {
				return err
			}
			var c protocol.Catalog
			if err := decode(s, &c, "catalog"); err != nil {
				return err
			}
			cats = append(cats, c)
		}
		if err := rows.Err(); err != nil {
			return err
		}
		out = app.MergeCatalogs(fromNanos(fetched), cats, missing)
		return nil
	})
	return out, err
}

// SaveCohort inserts or updates a named cohort.
func (db *DB) SaveCohort(ctx context.Context, c *app.Cohort) error {
	if strings.TrimSpace(c.Name) == "" {
		return app.Errorf(app.EInvalid, "a cohort needs a name")
	}
	var filter any
	if c.Filter != nil {
		filter = mustJSON(c.Filter)
	}
	return db.write(ctx, "save cohort "+c.Name, func(tx *sql.Tx) error {
		if c.ID == 0 {
			res, err := tx.ExecContext(ctx, `INSERT INTO cohorts (network_id, study, name, endpoint, group_by, filter, created_at, updated_at)
				VALUES (?, ?, ?, ?, ?, ?, ?, ?)`, c.Network, c.Study, c.Name, c.Endpoint, c.GroupBy, filter, nanos(c.CreatedAt), nanos(c.UpdatedAt))
			if err != nil {
				return sqlError(err, "a cohort called %q already exists in study %s", c.Name, c.Study)
			}
			c.ID, err = res.LastInsertId()
			return err
		}
		res, err := tx.ExecContext(ctx, `UPDATE cohorts SET network_id = ?, study = ?, name = ?, endpoint = ?, group_by = ?, filter = ?, updated_at = ? WHERE id = ?`,
			c.Network, c.Study, c.Name, c.Endpoint, c.GroupBy, filter, nanos(c.UpdatedAt), c.ID)
		if err != nil {
			return sqlError(err, "a cohort called %q already exists in study %s", c.Name, c.Study)
		}
		return expectOne(res, "cohort %d does not exist", c.ID)
	})
}

func expectOne(res sql.Result, format string, args ...any) error {
	n, err := res.RowsAffected()
	if err != nil {
		return err
	}
	if n == 0 {
		return notFound(format, args...)
	}
	return nil
}

// Cohorts lists a network's cohorts of a study ("" = all), by study and name.
func (db *DB) Cohorts(ctx context.Context, network, study string) ([]app.Cohort, error) {
	var out []app.Cohort
	err := db.read(ctx, "list cohorts", func(tx *sql.Tx) error {
		rows, err := tx.QueryContext(ctx, `SELECT id, network_id, study, name, endpoint, group_by, filter, created_at, updated_at
			FROM cohorts WHERE network_id = ? AND (? = '' OR study = ?) ORDER BY study, name`, network, study, study)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var c app.Cohort
			var filter sql.NullString
			var created, updated int64
			if err := rows.Scan(&c.ID, &c.Network, &c.Study, &c.Name, &c.Endpoint, &c.GroupBy, &filter, &created, &updated); err != nil {
				return err
			}
			if filter.Valid {
				c.Filter = new(protocol.Filter)
				if err := decode(filter.String, c.Filter, "cohort"); err != nil {
					return err
				}
			}
			c.CreatedAt, c.UpdatedAt = fromNanos(created), fromNanos(updated)
			out = append(out, c)
		}
		return rows.Err()
	})
	return out, err
}

// DeleteCohort deletes a cohort.
func (db *DB) DeleteCohort(ctx context.Context, id int64) error {
	return db.write(ctx, "delete a cohort", func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `DELETE FROM cohorts WHERE id = ?`, id)
		if err != nil {
			return err
		}
		return expectOne(res, "cohort %d does not exist", id)
	})
}

// SaveResult stores r with its rounds in one transaction and sets r.ID. Rounds are stored as
// given; a round with two replies from one site violates the key and nothing is stored.
func (db *DB) SaveResult(ctx context.Context, r *app.Result) error {
	if r.Network == "" {
		return app.Errorf(app.EInvalid, "a result needs a network")
	}
	request, err1 := json.Marshal(r.Request)
	prov, err2 := json.Marshal(r.Provenance)
	var trace, display any
	var baseline []byte
	if r.Trace != nil {
		stored, packed, err := splitBaseline(r.Trace)
		err1 = errors.Join(err1, err)
		if err == nil {
			b, err := json.Marshal(stored)
			err1 = errors.Join(err1, err)
			trace, baseline = string(b), packed
		}
	}
	if r.ScreenTrace != nil {
		// A screen keeps its markers' fits in the same column (its kind says which it is).
		b, err := json.Marshal(r.ScreenTrace)
		err1 = errors.Join(err1, err)
		trace = string(b)
	}
	if r.Display != nil {
		b, err := json.Marshal(r.Display)
		err1 = errors.Join(err1, err)
		display = string(b)
	}
	if err := errors.Join(err1, err2); err != nil {
		return app.WrapError(app.EInvalid, err, "result %q cannot be stored", r.Name)
	}
	return db.write(ctx, "save result "+r.Name, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `INSERT INTO results (network_id, name, kind, study, pinned, ran_at, expected, answered, request_key, request, provenance, content_hash, trace)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
			r.Network, r.Name, string(r.Request.Kind), r.Request.Study, r.Pinned, nanos(r.Provenance.RanAt),
			len(r.Provenance.Expected), len(r.Provenance.Answered), r.Request.Key(), string(request), string(prov), r.Provenance.ContentHash, trace)
		if err != nil {
			return err
		}
		id, err := res.LastInsertId()
		if err != nil {
			return err
		}
		if display != nil { // a separate statement: a result without one saves as schema 4 did
			if _, err := tx.ExecContext(ctx, `UPDATE results SET display = ? WHERE id = ?`, display, id); err != nil {
				return err
			}
		}
		if baseline != nil { // likewise: a result without one saves as schema 5 did
			if _, err := tx.ExecContext(ctx, `UPDATE results SET baseline = ? WHERE id = ?`, baseline, id); err != nil {
				return err
			}
		}
		roundStmt, err := tx.PrepareContext(ctx, `INSERT INTO result_rounds (result_id, round, query, replies) VALUES (?, ?, ?, ?)`)
		if err != nil {
			return err
		}
		defer roundStmt.Close()
		replyStmt, err := tx.PrepareContext(ctx, `INSERT INTO result_replies (result_id, round, site, reply) VALUES (?, ?, ?, ?)`)
		if err != nil {
			return err
		}
		defer replyStmt.Close()
		for i, round := range r.Rounds {
			q, err := json.Marshal(round.Query)
			if err != nil {
				return app.WrapError(app.EInvalid, err, "round %d of result %q cannot be stored", i+1, r.Name)
			}
			if _, err := roundStmt.ExecContext(ctx, id, i, string(q), digestsJSON(round.Digests)); err != nil {
				return err
			}
			for j, rep := range round.Replies {
				// The reply's JSON as received when the round holds it (see app.Round).
				b, err := round.ReplyBytes(j)
				if err != nil {
					return app.WrapError(app.EInvalid, err, "the reply of site %s (round %d) cannot be stored", rep.Site, i+1)
				}
				if _, err := replyStmt.ExecContext(ctx, id, i, rep.Site, string(b)); err != nil {
					return err
				}
			}
		}
		r.ID = id
		return nil
	})
}

// digestsJSON is the replies column of a round: its reply digests, or NULL when it has none (a
// result in the form before results were kept compact).
func digestsJSON(d []app.ReplyDigest) any {
	if d == nil {
		return nil
	}
	return mustJSON(d)
}

// Result loads a result with its rounds. The payload fields are left nil.
func (db *DB) Result(ctx context.Context, id int64) (*app.Result, error) {
	var r *app.Result
	err := db.read(ctx, "load a result", func(tx *sql.Tx) error {
		var err error
		r, err = loadResult(ctx, tx, `WHERE id = ?`, id)
		if errors.Is(err, sql.ErrNoRows) {
			return notFound("result %d is not in the cache", id)
		}
		if err != nil {
			return err
		}
		return loadDisplay(ctx, tx, r)
	})
	return r, err
}

// LatestResult returns the newest result of network with the given request key.
func (db *DB) LatestResult(ctx context.Context, network, requestKey string) (*app.Result, error) {
	var r *app.Result
	err := db.read(ctx, "load a result", func(tx *sql.Tx) error {
		var err error
		r, err = loadResult(ctx, tx, `WHERE network_id = ? AND request_key = ? ORDER BY ran_at DESC, id DESC LIMIT 1`, network, requestKey)
		if errors.Is(err, sql.ErrNoRows) {
			return notFound("no result of this request is cached")
		}
		if err != nil {
			return err
		}
		return loadDisplay(ctx, tx, r)
	})
	return r, err
}

// loadDisplay sets how r was shown when pinned (schema 5; loadResult also serves migration 4,
// which runs before the column exists).
func loadDisplay(ctx context.Context, tx *sql.Tx, r *app.Result) error {
	var display sql.NullString
	if err := tx.QueryRowContext(ctx, `SELECT display FROM results WHERE id = ?`, r.ID).Scan(&display); err != nil {
		return err
	}
	if !display.Valid {
		return nil
	}
	r.Display = new(app.Display)
	return decode(display.String, r.Display, "display")
}

func loadResult(ctx context.Context, tx *sql.Tx, where string, args ...any) (*app.Result, error) {
	var r app.Result
	var request, prov string
	var trace sql.NullString
	err := tx.QueryRowContext(ctx, `SELECT id, network_id, name, pinned, request, provenance, trace FROM results `+where, args...).
		Scan(&r.ID, &r.Network, &r.Name, &r.Pinned, &request, &prov, &trace)
	if err != nil {
		return nil, err
	}
	if err := decode(request, &r.Request, "request"); err != nil {
		return nil, err
	}
	if err := decode(prov, &r.Provenance, "provenance"); err != nil {
		return nil, err
	}
	if trace.Valid && r.Request.Kind == protocol.KindScreen {
		r.ScreenTrace = new(app.ScreenTrace)
		if err := decode(trace.String, r.ScreenTrace, "screen's fits"); err != nil {
			return nil, err
		}
	} else if trace.Valid {
		r.Trace = new(app.CoxTrace)
		if err := decode(trace.String, r.Trace, "Cox fit"); err != nil {
			return nil, err
		}
		if packed(r.Trace) { // schema 6 (loadResult also serves migration 4, before the column)
			if err := joinBaseline(ctx, tx, r.ID, r.Trace); err != nil {
				return nil, err
			}
		}
	}
	rows, err := tx.QueryContext(ctx, `SELECT round, query, replies FROM result_rounds WHERE result_id = ? ORDER BY round`, r.ID)
	if err != nil {
		return nil, err
	}
	for rows.Next() {
		var i int
		var q string
		var digests sql.NullString
		if err := rows.Scan(&i, &q, &digests); err != nil {
			rows.Close()
			return nil, err
		}
		var round app.Round
		if err := decode(q, &round.Query, "query"); err != nil {
			rows.Close()
			return nil, err
		}
		if digests.Valid {
			if err := decode(digests.String, &round.Digests, "reply digests"); err != nil {
				rows.Close()
				return nil, err
			}
			if round.Digests == nil {
				round.Digests = []app.ReplyDigest{} // a round without replies is still compact
			}
		}
		if i != len(r.Rounds) {
			rows.Close()
			return nil, app.Errorf(app.EInternal, "the cached result %d is damaged: round %d is missing", r.ID, len(r.Rounds))
		}
		r.Rounds = append(r.Rounds, round)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, err
	}
	rows, err = tx.QueryContext(ctx, `SELECT round, reply FROM result_replies WHERE result_id = ? ORDER BY round, site`, r.ID)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	for rows.Next() {
		var i int
		var b []byte
		if err := rows.Scan(&i, &b); err != nil {
			return nil, err
		}
		var rep protocol.Reply
		if err := protocol.UnmarshalReply(b, &rep); err != nil { // as received: JSON, or framed
			return nil, app.WrapError(app.EInternal, err, "the cached reply is damaged")
		}
		if i < 0 || i >= len(r.Rounds) {
			return nil, app.Errorf(app.EInternal, "the cached result %d is damaged: reply of unknown round %d", r.ID, i)
		}
		// The stored bytes stay with the reply: the content hash is checked over them, and a
		// result saved again is stored as it was.
		r.Rounds[i].Replies = append(r.Rounds[i].Replies, rep)
		r.Rounds[i].ReplyJSON = append(r.Rounds[i].ReplyJSON, b)
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	// A round stored without replies keeps ReplyJSON nil like Replies, so it hashes as it did.
	return &r, nil
}

// resultsQuery is the listing of results under f (pinned first, newest first; f.Network ""
// lists every network's) selecting cols, and its arguments: one query for Results and Library.
func resultsQuery(cols string, f app.ResultFilter) (string, []any) {
	var conds []string
	var args []any
	if f.Network != "" {
		conds, args = append(conds, "network_id = ?"), append(args, f.Network)
	}
	if f.Study != "" {
		conds, args = append(conds, "study = ?"), append(args, f.Study)
	}
	if f.Kind != "" {
		conds, args = append(conds, "kind = ?"), append(args, string(f.Kind))
	}
	if f.Pinned {
		conds = append(conds, "pinned = 1")
	}
	q := "SELECT " + cols + " FROM results"
	if len(conds) > 0 {
		q += " WHERE " + strings.Join(conds, " AND ")
	}
	q += " ORDER BY pinned DESC, ran_at DESC, id DESC"
	if f.Limit > 0 || f.Offset > 0 {
		limit := f.Limit
		if limit <= 0 {
			limit = -1
		}
		q += " LIMIT ? OFFSET ?"
		args = append(args, limit, f.Offset)
	}
	return q, args
}

// Results lists results, pinned first, newest first.
func (db *DB) Results(ctx context.Context, f app.ResultFilter) ([]app.ResultSummary, error) {
	q, args := resultsQuery("id, network_id, name, kind, study, pinned, ran_at, expected, answered", f)
	var out []app.ResultSummary
	err := db.read(ctx, "list results", func(tx *sql.Tx) error {
		rows, err := tx.QueryContext(ctx, q, args...)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var s app.ResultSummary
			var kind string
			var ran int64
			if err := rows.Scan(&s.ID, &s.Network, &s.Name, &kind, &s.Study, &s.Pinned, &ran, &s.Expected, &s.Answered); err != nil {
				return err
			}
			s.Kind, s.RanAt = protocol.Kind(kind), fromNanos(ran)
			out = append(out, s)
		}
		return rows.Err()
	})
	return out, err
}

// RenameResult renames a result.
func (db *DB) RenameResult(ctx context.Context, id int64, name string) error {
	if strings.TrimSpace(name) == "" {
		return app.Errorf(app.EInvalid, "a result needs a name")
	}
	return db.update(ctx, id, "rename", `UPDATE results SET name = ? WHERE id = ?`, name, id)
}

// PinResult pins or unpins a result and, when shown is not nil, stores how it was shown.
func (db *DB) PinResult(ctx context.Context, id int64, pinned bool, shown *app.Display) error {
	if shown == nil {
		return db.update(ctx, id, "pin", `UPDATE results SET pinned = ? WHERE id = ?`, pinned, id)
	}
	d, err := json.Marshal(shown)
	if err != nil {
		return app.WrapError(app.EInvalid, err, "how result %d is shown cannot be stored", id)
	}
	return db.update(ctx, id, "pin", `UPDATE results SET pinned = ?, display = ? WHERE id = ?`, pinned, string(d), id)
}

// DeleteResult deletes a result and its aggregates.
func (db *DB) DeleteResult(ctx context.Context, id int64) error {
	return db.update(ctx, id, "delete", `DELETE FROM results WHERE id = ?`, id)
}

func (db *DB) update(ctx context.Context, id int64, verb, q string, args ...any) error {
	return db.write(ctx, verb+" a result", func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, q, args...)
		if err != nil {
			return err
		}
		return expectOne(res, "result %d is not in the cache", id)
	})
}
