package pg_test

import (
	"context"
	"path/filepath"
	"strings"
	"testing"

	"github.com/oncofed/oncofed/internal/pgtest"
	"github.com/oncofed/oncofed/node"
	"github.com/oncofed/oncofed/node/omop"
	"github.com/oncofed/oncofed/node/omop/pg"
)

// A site gives the node a read-only role: the import needs nothing more, its transaction
// cannot write even where the role could, and no error shows the password.
func TestReadOnlyRoleAndPassword(t *testing.T) {
	ctx := context.Background()
	cl := pgtest.Get(t)
	gens := generators(t, small[:1])
	url := writeSynthCDM(t, gens)
	db := url[strings.LastIndex(url, "/")+1 : strings.Index(url, "?")]
	schema := pg.SchemaName(gens[0].Sites()[0].Name)
	const pw = "s3cret-Reader-pw"
	cl.Exec(t, db, "CREATE ROLE oncofed_reader_"+db+" LOGIN PASSWORD '"+pw+"'",
		"GRANT USAGE ON SCHEMA "+schema+" TO oncofed_reader_"+db,
		"GRANT SELECT ON ALL TABLES IN SCHEMA "+schema+" TO oncofed_reader_"+db)
	t.Cleanup(func() {
		cl.Exec(t, db, "DROP OWNED BY oncofed_reader_"+db)
		cl.Exec(t, "postgres", "DROP ROLE oncofed_reader_"+db)
	})
	readerURL := cl.URL("oncofed_reader_"+db, pw, db)

	cdm, err := pg.Open(ctx, readerURL, schema)
	if err != nil {
		t.Fatal(err)
	}
	defer cdm.Close(ctx)
	store, err := node.OpenSQLite(filepath.Join(t.TempDir(), "site.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	rep, err := cdm.Import(ctx, store, omop.SynthDefinition(gens[0]), omop.Options{})
	if err != nil {
		t.Fatalf("import as a read-only role: %v", err)
	}
	if rep.Patients != 40 {
		t.Errorf("%d patients, want 40", rep.Patients)
	}
	if len(rep.Rows) == 0 || rep.Rows[0].Table != "person" || rep.Rows[0].Rows != 40 {
		t.Errorf("rows read: %+v", rep.Rows)
	}

	// The snapshot is read-only whatever the role: as the superuser too.
	su, err := pg.Open(ctx, cl.URL(pgtest.Superuser, pgtest.SuperuserPassword, db), schema)
	if err != nil {
		t.Fatal(err)
	}
	defer su.Close(ctx)
	err = su.Snapshot(ctx, func(q omop.Querier) error {
		rows, err := q.Query(ctx, "DELETE FROM person")
		if err != nil {
			return err
		}
		rows.Close()
		return rows.Err()
	})
	if err == nil || !strings.Contains(err.Error(), "read-only transaction") {
		t.Errorf("a write in the snapshot: %v", err)
	}

	// A wrong password is refused, and no message repeats the one given.
	bad := cl.URL("oncofed_reader_"+db, "Wrong-"+pw, db)
	_, err = pg.Open(ctx, bad, schema)
	if err == nil || strings.Contains(err.Error(), "Wrong-"+pw) || !strings.Contains(err.Error(), "password authentication failed") {
		t.Errorf("wrong password: %v", err)
	}
	if red := pg.Redact(bad); strings.Contains(red, pw) || !strings.Contains(red, "xxxxx") {
		t.Errorf("Redact(%q) = %q", bad, red)
	}
	_, err = pg.Open(ctx, "postgres://u:"+pw+"@127.0.0.1:notaport/db", "")
	if err == nil || strings.Contains(err.Error(), pw) {
		t.Errorf("bad URL: %v", err)
	}
}
