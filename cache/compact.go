package cache

import (
	"context"
	"database/sql"
	"errors"

	"github.com/oncofed/oncofed/app"
)

// migrateCompact completes migration 4 (migrations/0004_compact_results.sql) inside its
// transaction: every stored result is converted to the compact form (app.Compact) — its rounds
// get their reply digests, a Cox result its trace, and a Cox result's replies are deleted. A
// result that cannot be read or does not check against its content hash is left as it was
// (opening it still says it is damaged). Any failure to write aborts the whole migration.
func migrateCompact(ctx context.Context, tx *sql.Tx) error {
	ids, err := resultIDs(ctx, tx)
	if err != nil {
		return err
	}
	for _, id := range ids {
		r, err := loadResult(ctx, tx, `WHERE id = ?`, id)
		var ae *app.Error
		if errors.As(err, &ae) {
			continue // damaged: left as it was
		}
		if err != nil {
			return err
		}
		if app.Compact(r) != nil {
			continue // does not check, or its fit does not replay: left as it was
		}
		if err := storeCompact(ctx, tx, r); err != nil {
			return err
		}
	}
	return nil
}

func resultIDs(ctx context.Context, tx *sql.Tx) ([]int64, error) {
	rows, err := tx.QueryContext(ctx, `SELECT id FROM results ORDER BY id`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var ids []int64
	for rows.Next() {
		var id int64
		if err := rows.Scan(&id); err != nil {
			return nil, err
		}
		ids = append(ids, id)
	}
	return ids, rows.Err()
}

// storeCompact writes the compact form of r, a stored result just converted by app.Compact.
func storeCompact(ctx context.Context, tx *sql.Tx, r *app.Result) error {
	var trace any
	if r.Trace != nil {
		trace = mustJSON(r.Trace)
	}
	if _, err := tx.ExecContext(ctx, `UPDATE results SET provenance = ?, content_hash = ?, trace = ? WHERE id = ?`,
		mustJSON(r.Provenance), r.Provenance.ContentHash, trace, r.ID); err != nil {
		return err
	}
	for i, round := range r.Rounds {
		if _, err := tx.ExecContext(ctx, `UPDATE result_rounds SET replies = ? WHERE result_id = ? AND round = ?`,
			digestsJSON(round.Digests), r.ID, i); err != nil {
			return err
		}
	}
	if r.Trace != nil {
		if _, err := tx.ExecContext(ctx, `DELETE FROM result_replies WHERE result_id = ?`, r.ID); err != nil {
			return err
		}
	}
	return nil
}
