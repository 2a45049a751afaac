package cache

import (
	"context"
	"database/sql"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/oncofed/oncofed/app"
	"github.com/oncofed/oncofed/protocol"
)

// saveLegacy stores r as the cache of schemas 1–3 did: every reply of every round, no digest
// and no trace, in the columns those schemas have.
func saveLegacy(t *testing.T, db *DB, r *app.Result) {
	t.Helper()
	ctx := context.Background()
	err := db.write(ctx, "save a legacy result", func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `INSERT INTO results (network_id, name, kind, study, pinned, ran_at, expected, answered, request_key, request, provenance, content_hash)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
			r.Network, r.Name, string(r.Request.Kind), r.Request.Study, r.Pinned, nanos(r.Provenance.RanAt),
			len(r.Provenance.Expected), len(r.Provenance.Answered), r.Request.Key(), mustJSON(r.Request), mustJSON(r.Provenance), r.Provenance.ContentHash)
		if err != nil {
			return err
		}
		if r.ID, err = res.LastInsertId(); err != nil {
			return err
		}
		for i, round := range r.Rounds {
			if _, err := tx.ExecContext(ctx, `INSERT INTO result_rounds (result_id, round, query) VALUES (?, ?, ?)`, r.ID, i, mustJSON(round.Query)); err != nil {
				return err
			}
			for _, rep := range round.Replies {
				b, _ := json.Marshal(rep)
				if _, err := tx.ExecContext(ctx, `INSERT INTO result_replies (result_id, round, site, reply) VALUES (?, ?, ?, ?)`, r.ID, i, rep.Site, string(b)); err != nil {
					return err
				}
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// legacyV3 is a cache file written by Oncofed before results were kept compact (schema 3,
// commit 0fb0afb): six results of the synthetic demo network served with the exact policy —
// a count, a summary, a Kaplan–Meier analysis, a Cox model stratified by site and two pooled
// ones (Efron; Breslow on a filtered cohort) — with every reply of every round.
// app/testdata/legacy-cache-v3/README.md says how it was made.
const legacyV3 = "../app/testdata/legacy-cache-v3.db"

func copyLegacy(t *testing.T) string {
	t.Helper()
	b, err := os.ReadFile(legacyV3)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "cache.db")
	if err := os.WriteFile(path, b, 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// TestLegacyCacheMigratesCompact: opening the schema-3 file migrates every result to the compact
// form — digests on every round, a trace and no replies for each Cox result, the per-site
// tables kept for the others — and every result then opens (checked against its new content
// hash) and renders offline. (cmd/oncofed-cli's TestLegacyCacheShowsAsBefore checks that they
// print exactly what the Oncofed that stored them printed.)
func TestLegacyCacheMigratesCompact(t *testing.T) {
	ctx := context.Background()
	path := copyLegacy(t)
	if v := rawInt(t, path, "PRAGMA user_version"); v != 3 {
		t.Fatalf("the fixture is schema %d, want 3", v)
	}
	coxBefore := rawInt(t, path, `SELECT sum(length(reply)) FROM result_replies WHERE result_id IN (SELECT id FROM results WHERE kind = 'cox')`)
	otherBefore := rawInt(t, path, `SELECT sum(length(reply)) FROM result_replies WHERE result_id IN (SELECT id FROM results WHERE kind <> 'cox')`)
	db, err := Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var free int
	if err := db.w.QueryRow("PRAGMA freelist_count").Scan(&free); err != nil || free > 0 {
		t.Errorf("%d free pages after the migration (%v): the space of the Cox replies was not reclaimed", free, err)
	}
	if v := rawInt(t, path, "PRAGMA user_version"); v != SchemaVersion() {
		t.Errorf("user_version %d after opening, want %d", v, SchemaVersion())
	}
	if n := rawInt(t, path, `SELECT count(*) FROM result_replies WHERE result_id IN (SELECT id FROM results WHERE kind = 'cox')`); n != 0 || coxBefore < 500_000 {
		t.Errorf("%d Cox replies left after the migration (%d bytes of them before)", n, coxBefore)
	}
	if after := rawInt(t, path, `SELECT sum(length(reply)) FROM result_replies`); after != otherBefore {
		t.Errorf("the per-site tables of the other results: %d bytes after, %d before", after, otherBefore)
	}
	if n := rawInt(t, path, `SELECT count(*) FROM result_rounds WHERE replies IS NULL`); n != 0 {
		t.Errorf("%d rounds without digests", n)
	}
	svc := app.NewService(nil, db, app.NetworkInfo{ID: "nats://127.0.0.1:14333"})
	list, err := db.Results(ctx, app.ResultFilter{})
	if err != nil || len(list) != 6 {
		t.Fatalf("%d results listed, %v", len(list), err)
	}
	for _, s := range list {
		r, err := svc.Open(ctx, s.ID)
		if err != nil {
			t.Errorf("result %d (%s): %v", s.ID, s.Name, err)
			continue
		}
		if (r.Trace != nil) != (s.Kind == protocol.KindCox) || r.Provenance.ContentHash != app.ResultHash(r) {
			t.Errorf("result %d (%s): trace %v, hash %s", s.ID, s.Name, r.Trace != nil, r.Provenance.ContentHash)
		}
		if s.Kind == protocol.KindCox && (r.Cox == nil || r.Cox.Fit == nil || !r.Cox.Fit.Converged || len(r.Cox.PerSite) != 6) {
			t.Errorf("result %d (%s): Cox payload %+v", s.ID, s.Name, r.Cox)
		}
	}
}

// TestCompactMigrationAllOrNothing: when a write of the migration fails half way (here a
// trigger refuses to update the rounds of the last result, as a full disk would), nothing of it
// lands: the file stays at schema 3 with every reply, without the new columns; once the cause
// is gone the migration runs whole.
func TestCompactMigrationAllOrNothing(t *testing.T) {
	ctx := context.Background()
	path := copyLegacy(t)
	replies := rawInt(t, path, `SELECT count(*) FROM result_replies`)
	rawExec(t, path, `CREATE TRIGGER full_disk BEFORE UPDATE ON result_rounds WHEN NEW.result_id = (SELECT max(id) FROM results)
		BEGIN SELECT RAISE(ABORT, 'database or disk is full'); END`)
	if db, err := Open(ctx, path); err == nil || !strings.Contains(err.Error(), "0004_compact_results.sql") {
		if db != nil {
			db.Close()
		}
		t.Fatalf("Open with a failing migration: %v", err)
	}
	if v := rawInt(t, path, "PRAGMA user_version"); v != 3 {
		t.Errorf("user_version %d after a failed migration, want 3", v)
	}
	if n := rawInt(t, path, `SELECT count(*) FROM result_replies`); n != replies {
		t.Errorf("%d replies after a failed migration, %d before", n, replies)
	}
	if n := rawInt(t, path, `SELECT count(*) FROM pragma_table_info('results') WHERE name = 'trace'`); n != 0 {
		t.Error("the failed migration left its new column")
	}
	rawExec(t, path, `DROP TRIGGER full_disk`)
	db, err := Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	db.Close()
	if n := rawInt(t, path, `SELECT count(*) FROM result_rounds WHERE replies IS NULL`); n != 0 {
		t.Errorf("%d rounds without digests after the migration", n)
	}
}
