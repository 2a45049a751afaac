// Package pg connects node/omop to an OMOP CDM on PostgreSQL through pgx: it opens the
// database (the CDM's schema as the search path), runs a study's reads in one read-only
// REPEATABLE READ transaction, and writes synthetic hospitals as CDM v5.4 tables (WriteSynth).
package pg

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"strings"

	"github.com/jackc/pgx/v5"

	"github.com/oncofed/oncofed/node"
	"github.com/oncofed/oncofed/node/omop"
)

// CDM is a connection to an OMOP CDM.
type CDM struct {
	conn     *pgx.Conn
	password string
}

// Open connects to the database at dbURL (postgres://user:password@host:port/db?...). When
// schema is not empty it is the search path, so the CDM's tables are found there (else
// search_path=... in the URL, or the server's default). The password is never part of an
// error: Open's and the CDM's errors have it replaced by "xxxxx".
func Open(ctx context.Context, dbURL, schema string) (*CDM, error) {
	pw := password(dbURL)
	cfg, err := pgx.ParseConfig(dbURL)
	if err != nil {
		return nil, redact(fmt.Errorf("database URL %s: %w", Redact(dbURL), err), pw)
	}
	if schema != "" {
		cfg.RuntimeParams["search_path"] = schema
	}
	conn, err := pgx.ConnectConfig(ctx, cfg)
	if err != nil {
		return nil, redact(fmt.Errorf("connect to %s: %w", Redact(dbURL), err), pw)
	}
	return &CDM{conn: conn, password: pw}, nil
}

// Conn is the underlying connection (for WriteSynth and tests).
func (c *CDM) Conn() *pgx.Conn { return c.conn }

// Close closes the connection.
func (c *CDM) Close(ctx context.Context) error { return c.conn.Close(ctx) }

// Snapshot runs fn in one REPEATABLE READ READ ONLY transaction: every query fn makes sees the
// same snapshot of the database, and none can change it (whatever the role may do). The
// transaction is rolled back at the end: a snapshot writes nothing.
func (c *CDM) Snapshot(ctx context.Context, fn func(omop.Querier) error) error {
	tx, err := c.conn.BeginTx(ctx, pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly})
	if err != nil {
		return redact(err, c.password)
	}
	defer tx.Rollback(context.WithoutCancel(ctx))
	// The cohort's aggregate and the facts' hash joins of a million patients fit in 64 MB
	// instead of spilling to disk at the default 4 MB; for this transaction only.
	if _, err := tx.Exec(ctx, "SET LOCAL work_mem = '64MB'"); err != nil {
		return redact(err, c.password)
	}
	return redact(fn(querier{tx}), c.password)
}

type querier struct{ tx pgx.Tx }

func (q querier) Query(ctx context.Context, sql string, args ...any) (omop.Rows, error) {
	rows, err := q.tx.Query(ctx, sql, args...)
	if err != nil {
		return nil, err
	}
	return rows, nil
}

// Import snapshots def's study from the CDM into store (omop.Import in one read-only
// transaction).
func (c *CDM) Import(ctx context.Context, store node.Store, def *omop.Definition, opt omop.Options) (omop.Report, error) {
	var rep omop.Report
	err := c.Snapshot(ctx, func(q omop.Querier) error {
		var err error
		rep, err = omop.Import(ctx, store, q, def, opt)
		return err
	})
	return rep, err
}

// Redact returns dbURL with its password replaced by xxxxx, for messages and logs.
func Redact(dbURL string) string {
	u, err := url.Parse(dbURL)
	if err != nil {
		return "(unparsable database URL)"
	}
	if _, has := u.User.Password(); has {
		u.User = url.UserPassword(u.User.Username(), "xxxxx")
	}
	q := u.Query()
	if q.Has("password") {
		q.Set("password", "xxxxx")
		u.RawQuery = q.Encode()
	}
	return u.String()
}

func password(dbURL string) string {
	u, err := url.Parse(dbURL)
	if err != nil {
		return ""
	}
	if pw, ok := u.User.Password(); ok {
		return pw
	}
	return u.Query().Get("password")
}

// redact replaces the password in err's message, keeping the coded errors of node/omop
// (which never hold it) as they are.
func redact(err error, pw string) error {
	if err == nil || pw == "" || !strings.Contains(err.Error(), pw) {
		return err
	}
	return errors.New(strings.ReplaceAll(err.Error(), pw, "xxxxx"))
}
