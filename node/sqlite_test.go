package node

import (
	"context"
	"database/sql"
	"path/filepath"
	"strings"
	"testing"
)

// A database written by an older node (schema version 1) is brought up to date on open, and
// the overlap guard's released sets survive the migration.
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
			if version != 3 {
				t.Fatalf("schema version %d after open, want 3", version)
			}
			var sets, after []ReleasedSet
			err = s.Release(ctx, "alice", func(tx ReleaseTx) error {
				var err error
				if sets, err = tx.ReleasedSets(ctx, "lung", 1, 0); err != nil || len(sets) != 1 {
					return err
				}
				id, err := tx.SaveReleasedSet(ctx, ReleasedSet{Analyst: "alice", Study: "lung", Version: 1, Size: 2, Bits: []uint64{3}})
				if err != nil {
					return err
				}
				if id <= sets[0].ID {
					t.Errorf("new set's ID %d is not above the migrated one's %d", id, sets[0].ID)
				}
				after, err = tx.ReleasedSets(ctx, "lung", 1, sets[0].ID)
				return err
			})
			if err != nil || len(sets) != 1 || sets[0].ID == 0 || sets[0].Size != 1 || sets[0].Bits[0] != 1 {
				t.Fatalf("released sets after migration: %+v, %v", sets, err)
			}
			if len(after) != 1 || after[0].Size != 2 {
				t.Fatalf("sets after the first: %+v", after)
			}
		})
	}
}
