package node

import (
	"context"
	"database/sql"
	"sync"
)

// A release transaction runs the same few statements for every query (the study's version, the
// analyst's released and feasibility sets, the budget counts, the audit chain's head and the
// audit insert), and the engine reads the study list for every query; SQLite parsed each of
// them afresh every time: in the 100-site latency benchmark, an eighth of the whole network's
// CPU was SQLite's parser (bench/NOTES.md, "The 100-site latency and the load"). stmtCache
// prepares each text once per store and runs the prepared statement (database/sql keeps it
// prepared on the store's one connection).
//
// The store has one connection, which a transaction holds until it ends, so a statement cannot
// be prepared on the database while a transaction runs: a text first met inside a transaction
// runs unprepared and is prepared after that transaction ends (prepareWanted).

// maxCachedStatements bounds the texts kept prepared (the release path has about a dozen).
const maxCachedStatements = 64

// stmtCache holds a store's prepared statements by SQL text.
type stmtCache struct {
	db     *sql.DB
	mu     sync.Mutex
	stmts  map[string]*sql.Stmt
	wanted map[string]bool // met inside a transaction, to prepare after it
}

func newStmtCache(db *sql.DB) *stmtCache {
	return &stmtCache{db: db, stmts: map[string]*sql.Stmt{}, wanted: map[string]bool{}}
}

// lookup returns the prepared statement of query, or nil (and notes query, to be prepared).
func (c *stmtCache) lookup(query string) *sql.Stmt {
	if c == nil {
		return nil
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if st := c.stmts[query]; st != nil {
		return st
	}
	if len(c.stmts)+len(c.wanted) < maxCachedStatements {
		c.wanted[query] = true
	}
	return nil
}

// prepareWanted prepares the texts met inside transactions since the last call. It must not
// run while the caller holds the connection (inside a transaction). A text that fails to
// prepare is dropped: it keeps running unprepared.
func (c *stmtCache) prepareWanted(ctx context.Context) {
	if c == nil {
		return
	}
	c.mu.Lock()
	var todo []string
	for q := range c.wanted {
		todo = append(todo, q)
	}
	clear(c.wanted)
	c.mu.Unlock()
	for _, q := range todo {
		st, err := c.db.PrepareContext(ctx, q)
		if err != nil {
			continue
		}
		c.mu.Lock()
		if c.stmts[q] == nil {
			c.stmts[q], st = st, nil
		}
		c.mu.Unlock()
		if st != nil {
			st.Close()
		}
	}
}

// close closes the prepared statements (before the database is closed).
func (c *stmtCache) close() {
	if c == nil {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	for q, st := range c.stmts {
		st.Close()
		delete(c.stmts, q)
	}
}

// query runs query on the database (outside any transaction: it needs the one connection),
// prepared once: Engine reads the study list (Store.Studies) for every query it answers.
func (c *stmtCache) query(ctx context.Context, query string, args ...any) (*sql.Rows, error) {
	st := c.lookup(query)
	if st == nil {
		c.prepareWanted(ctx)
		st = c.lookup(query)
	}
	if st == nil {
		return c.db.QueryContext(ctx, query, args...)
	}
	return st.QueryContext(ctx, args...)
}

// cachedTx is a release transaction that runs its statements prepared where it can; it has the
// methods of *sql.Tx the release path uses, with the same results.
type cachedTx struct {
	tx *sql.Tx
	c  *stmtCache
}

// QueryContext is (*sql.Tx).QueryContext.
func (t cachedTx) QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error) {
	if st := t.c.lookup(query); st != nil {
		return t.tx.StmtContext(ctx, st).QueryContext(ctx, args...)
	}
	return t.tx.QueryContext(ctx, query, args...)
}

// QueryRowContext is (*sql.Tx).QueryRowContext.
func (t cachedTx) QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row {
	if st := t.c.lookup(query); st != nil {
		return t.tx.StmtContext(ctx, st).QueryRowContext(ctx, args...)
	}
	return t.tx.QueryRowContext(ctx, query, args...)
}

// ExecContext is (*sql.Tx).ExecContext.
func (t cachedTx) ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error) {
	if st := t.c.lookup(query); st != nil {
		return t.tx.StmtContext(ctx, st).ExecContext(ctx, args...)
	}
	return t.tx.ExecContext(ctx, query, args...)
}
