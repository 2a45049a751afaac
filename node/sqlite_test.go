package node

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/oncofed/oncofed/protocol"
)

// latestSchema is the number of the last embedded migration: the schema version of an
// up-to-date database.
func latestSchema(t *testing.T) int { return len(schema) }

// A database written by an older node (schema version 1) is brought up to date on open, and
// the overlap guard's released sets survive the migration (with no region: migration 007).
func TestMigrateFromVersion1(t *testing.T) {
	ctx := context.Background()
	v1, err := migrations.ReadFile("migrations/001_init.sql")
	if err != nil {
		t.Fatal(err)
	}
	// The released_sets layout briefly shipped inside version 1 by an interim build.
	interim := strings.Replace(string(v1), "CREATE TABLE released_sets (\n", "CREATE TABLE released_sets (\n    id      INTEGER PRIMARY KEY,\n", 1)
	interim = strings.Replace(interim, "PRIMARY KEY (analyst, study, version, digest)", "UNIQUE (analyst, study, version, digest)", 1)
	for name, schema := range map[string]string{"001": string(v1), "interim": interim} {
		t.Run(name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "old.db")
			raw, err := sql.Open("sqlite", "file:"+path)
			if err != nil {
				t.Fatal(err)
			}
			for _, stmt := range []string{schema, "PRAGMA user_version = 1",
				"INSERT INTO released_sets (analyst, study, version, digest, size, bits) VALUES ('alice', 'lung', 1, 'd', 1, x'0100000000000000')"} {
				if _, err := raw.Exec(stmt); err != nil {
					t.Fatal(err)
				}
			}
			raw.Close()
			s := openStore(t, path)
			var version int
			s.db.QueryRow("PRAGMA user_version").Scan(&version)
			if want := latestSchema(t); version != want {
				t.Fatalf("schema version %d after open, want %d", version, want)
			}
			var sets, after []ReleasedSet
			err = s.Release(ctx, "alice", func(tx ReleaseTx) error {
				var err error
				if sets, err = tx.ReleasedSets(ctx, "alice", "lung", 1, 0); err != nil || len(sets) != 1 {
					return err
				}
				id, err := tx.SaveReleasedSet(ctx, ReleasedSet{Analyst: "alice", Study: "lung", Version: 1, Size: 2, Bits: []uint64{3}})
				if err != nil {
					return err
				}
				if id <= sets[0].ID {
					t.Errorf("new set's ID %d is not above the migrated one's %d", id, sets[0].ID)
				}
				after, err = tx.ReleasedSets(ctx, "alice", "lung", 1, sets[0].ID)
				return err
			})
			if err != nil || len(sets) != 1 || sets[0].ID == 0 || sets[0].Size != 1 || sets[0].Bits[0] != 1 || sets[0].Region != "" {
				t.Fatalf("released sets after migration: %+v, %v", sets, err)
			}
			if len(after) != 1 || after[0].Size != 2 {
				t.Fatalf("sets after the first: %+v", after)
			}
		})
	}
}

// Store.Release is all or nothing: when fn fails, neither the sets it saved nor the audit
// record it appended are stored.
func TestReleaseAllOrNothing(t *testing.T) {
	ctx := context.Background()
	s := openStore(t, filepath.Join(t.TempDir(), "n.db"))
	failed := errors.New("fn failed")
	err := s.Release(ctx, "alice", func(tx ReleaseTx) error {
		if _, err := tx.SaveReleasedSet(ctx, ReleasedSet{Analyst: "alice", Study: "lung", Version: 1, Size: 1, Bits: []uint64{1}}); err != nil {
			return err
		}
		if _, err := tx.AppendAudit(ctx, AuditEntry{Analyst: "alice", Outcome: OutcomeReleased, Budgeted: true}); err != nil {
			return err
		}
		return failed
	})
	if err != failed {
		t.Fatalf("Release returned %v, want fn's error", err)
	}
	err = s.Release(ctx, "alice", func(tx ReleaseTx) error {
		sets, err := tx.ReleasedSets(ctx, "alice", "lung", 1, 0)
		if err != nil || len(sets) != 0 {
			t.Errorf("sets of a rolled-back release: %+v, %v", sets, err)
		}
		n, err := tx.CountQueries(ctx, time.Time{})
		if err != nil || n != 0 {
			t.Errorf("budgeted queries of a rolled-back release: %d, %v", n, err)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if recs, err := s.AuditRecords(ctx); err != nil || len(recs) != 0 {
		t.Fatalf("audit records of a rolled-back release: %d, %v", len(recs), err)
	}
	// Another analyst's records through alice's transaction: programmer misuse.
	defer func() {
		if r := recover(); r == nil || !strings.HasPrefix(fmt.Sprint(r), "node: ") {
			t.Errorf("bob's audit record through alice's ReleaseTx: recovered %v, want a node: panic", r)
		}
	}()
	s.Release(ctx, "alice", func(tx ReleaseTx) error {
		_, err := tx.AppendAudit(ctx, AuditEntry{Analyst: "bob"})
		return err
	})
}

// When the released sets cannot be saved, the query is refused (internal), the refusal is
// audited on its own, and nothing of the failed release reaches the store or the engine's
// guard cache: A, refused so, was never released, so A minus one is answered afterwards, and
// then A is refused by the guard.
func TestReleaseGuardSaveFails(t *testing.T) {
	ctx := context.Background()
	e, s := lungEngine(t, DefaultPolicy(), nil)
	a, minusOne := raceQueries("alice")
	if _, err := s.db.Exec("CREATE TRIGGER fail_sets BEFORE INSERT ON released_sets BEGIN SELECT RAISE(ABORT, 'disk full'); END"); err != nil {
		t.Fatal(err)
	}
	r := e.Handle(ctx, a)
	wantCode(t, r, protocol.CodeInternal)
	if r.Error.Message != "overlap guard state unavailable" {
		t.Fatalf("refusal %q", r.Error.Message)
	}
	if _, err := s.db.Exec("DROP TRIGGER fail_sets"); err != nil {
		t.Fatal(err)
	}
	mustOK(t, e.Handle(ctx, minusOne))
	wantCode(t, e.Handle(ctx, a), protocol.CodeRefusedByPolicy)
	recs, err := VerifyAudit(ctx, s)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, r := range recs {
		got = append(got, r.Outcome+" "+r.Code)
	}
	if want := []string{"refused internal", "released ", "refused refused_by_policy"}; !slices.Equal(got, want) {
		t.Fatalf("audit log %q, want %q", got, want)
	}
}

// Replicas upgraded together open a database written by an older node (schema version 1, WAL
// journal) at the same moment: every open succeeds and each migration is applied once. Before
// the schema version was read again under the write lock, a replica that waited for another's
// migration re-ran it ("table seen_nonces already exists").
func TestOpenConcurrently(t *testing.T) {
	v1, err := migrations.ReadFile("migrations/001_init.sql")
	if err != nil {
		t.Fatal(err)
	}
	for round := 0; round < 20; round++ {
		path := filepath.Join(t.TempDir(), "old.db")
		raw, err := sql.Open("sqlite", "file:"+path+"?_pragma=journal_mode(WAL)")
		if err != nil {
			t.Fatal(err)
		}
		for _, stmt := range []string{string(v1), "PRAGMA user_version = 1"} {
			if _, err := raw.Exec(stmt); err != nil {
				t.Fatal(err)
			}
		}
		raw.Close()
		errs := make([]error, 4)
		var fns []func()
		for i := range errs {
			fns = append(fns, func() {
				s, err := OpenSQLite(path)
				if err == nil {
					err = s.Close()
				}
				errs[i] = err
			})
		}
		together(fns...)
		for i, err := range errs {
			if err != nil {
				t.Fatalf("round %d: opener %d: %v", round, i, err)
			}
		}
		var version int
		if err := openStore(t, path).db.QueryRow("PRAGMA user_version").Scan(&version); err != nil || version != latestSchema(t) {
			t.Fatalf("round %d: schema version %d, %v", round, version, err)
		}
	}
}

// A database written by a newer oncofed-node (a schema version above the last migration) is
// refused with a message saying so, and left as it was; a file name with URI characters
// opens as itself.
func TestOpenRefusesNewerDatabase(t *testing.T) {
	path := filepath.Join(t.TempDir(), "site #1?.db")
	s := openStore(t, path)
	if _, err := s.db.Exec(fmt.Sprintf("PRAGMA user_version = %d", latestSchema(t)+1)); err != nil {
		t.Fatal(err)
	}
	s.Close()
	_, err := OpenSQLite(path)
	if err == nil || !strings.Contains(err.Error(), "newer oncofed-node") || !strings.Contains(err.Error(), "left untouched") {
		t.Fatalf("OpenSQLite on a newer database: %v", err)
	}
	raw, err := sql.Open("sqlite", "file:"+strings.NewReplacer("#", "%23", "?", "%3f").Replace(path)+"?mode=ro")
	if err != nil {
		t.Fatal(err)
	}
	defer raw.Close()
	var v int
	if err := raw.QueryRow("PRAGMA user_version").Scan(&v); err != nil || v != latestSchema(t)+1 {
		t.Fatalf("user_version after the refused open: %d, %v", v, err)
	}
}
