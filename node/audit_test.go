package node

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/oncofed/oncofed/protocol"
)

func TestAuditLogsEveryQuery(t *testing.T) {
	ctx := context.Background()
	clock := &fixedClock{t: time.Date(2026, 5, 4, 10, 0, 0, 123456789, time.UTC)}
	e, store := lungEngine(t, DefaultPolicy(), clock)
	mustOK(t, e.Handle(ctx, query(protocol.KindCount)))
	small := query(protocol.KindCount)
	small.Cohort = eq("ecog", "ecog3")
	wantCode(t, e.Handle(ctx, small), protocol.CodeRefusedByPolicy)
	e.HandleJSON(ctx, []byte(`{"version":"v1","kind":"count","study":"lung","analyst":"mallory","sql":"DROP TABLE"}`))
	recs, err := VerifyAudit(ctx, store)
	if err != nil {
		t.Fatal(err)
	}
	if len(recs) != 3 {
		t.Fatalf("%d audit records, want 3", len(recs))
	}
	r := recs[0]
	if r.Analyst != "alice" || r.Kind != "count" || r.Study != "lung" || r.Outcome != OutcomeReleased || !r.At.Equal(clock.t) ||
		r.QueryHash != HashQuery(r.Query) || r.PrevHash != GenesisHash || !strings.Contains(r.Released, "n=227") {
		t.Errorf("record 1: %+v", r)
	}
	var q protocol.Query
	if err := json.Unmarshal([]byte(r.Query), &q); err != nil || q.Kind != protocol.KindCount {
		t.Errorf("stored query %q", r.Query)
	}
	if r := recs[1]; r.Outcome != OutcomeRefused || r.Code != protocol.CodeRefusedByPolicy || !strings.Contains(r.Reason, "min_cohort") || r.PrevHash != recs[0].Hash {
		t.Errorf("record 2: %+v", r)
	}
	if r := recs[2]; r.Outcome != OutcomeRefused || r.Code != protocol.CodeInvalid || !strings.Contains(r.Query, "DROP TABLE") {
		t.Errorf("record 3: %+v", r)
	}
}

// Tampering with any stored field or deleting a record is detected by VerifyAudit (the
// check behind "oncofed-node audit"), and so is a forged record whose own hash is recomputed.
func TestAuditTampering(t *testing.T) {
	ctx := context.Background()
	setup := func(t *testing.T) (*SQLiteStore, *sql.DB) {
		dbPath := filepath.Join(t.TempDir(), "lung.db")
		store := importFile(t, dbPath, lungCSV, lungSpec)
		pol := DefaultPolicy()
		e, _ := NewEngine(ctx, store, Config{InsecureOpen: true, Policy: &pol})
		for i := 0; i < 4; i++ {
			q := query(protocol.KindCount)
			q.ID = string(rune('a' + i))
			mustOK(t, e.Handle(ctx, q))
		}
		if _, err := VerifyAudit(ctx, store); err != nil {
			t.Fatal(err)
		}
		raw, err := sql.Open("sqlite", "file:"+dbPath)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { raw.Close() })
		return store, raw
	}
	tamper := []struct {
		name, stmt string
		seq        int64
	}{
		{"outcome", "UPDATE audit_log SET outcome = 'refused' WHERE seq = 2", 2},
		{"analyst", "UPDATE audit_log SET analyst = 'bob' WHERE seq = 3", 3},
		{"query", `UPDATE audit_log SET query = replace(query, '"count"', '"survival"') WHERE seq = 1`, 1},
		{"query and its hash", `UPDATE audit_log SET query = '{}', query_hash = '` + HashQuery("{}") + `' WHERE seq = 1`, 1},
		{"time", "UPDATE audit_log SET at = '2020-01-01T00:00:00.000000000Z' WHERE seq = 4", 4},
		{"delete", "DELETE FROM audit_log WHERE seq = 2", 3},
		{"truncate head", "DELETE FROM audit_log WHERE seq = 1", 2},
	}
	for _, c := range tamper {
		t.Run(c.name, func(t *testing.T) {
			store, raw := setup(t)
			if _, err := raw.Exec(c.stmt); err != nil {
				t.Fatal(err)
			}
			_, err := VerifyAudit(ctx, store)
			recs, _ := store.AuditRecords(ctx)
			seq, _ := VerifyChain(recs)
			if err == nil || seq != c.seq {
				t.Fatalf("tampering not detected at record %d: seq %d, %v", c.seq, seq, err)
			}
		})
	}
	t.Run("rehashed forgery", func(t *testing.T) {
		store, raw := setup(t)
		recs, _ := store.AuditRecords(ctx)
		r := recs[1]
		r.Outcome = OutcomeRefused
		if _, err := raw.Exec("UPDATE audit_log SET outcome = ?, row_hash = ? WHERE seq = 2", r.Outcome, ChainHash(r)); err != nil {
			t.Fatal(err)
		}
		recs, _ = store.AuditRecords(ctx)
		if seq, err := VerifyChain(recs); err == nil || seq != 3 {
			t.Fatalf("re-hashed forgery not detected at the next record: seq %d, %v", seq, err)
		}
	})
}

// TestAuditHashesTheReplySent: the reply_sha256 an audit record holds is the SHA-256 of the
// very bytes HandleJSON sent (encoded once), so an analyst's copy of a payload can be checked
// against the site's log byte for byte — for an exact answer and a feasibility count.
func TestAuditHashesTheReplySent(t *testing.T) {
	ctx := context.Background()
	e, store := lungEngine(t, DefaultPolicy(), nil)
	for i, q := range []protocol.Query{query(protocol.KindSurvival), query(protocol.KindCount)} {
		q.ID = fmt.Sprintf("q%d", i)
		if q.Kind == protocol.KindSurvival {
			q.Endpoint = "OS"
		} else {
			q.Feasibility = true
		}
		msg, err := json.Marshal(q)
		if err != nil {
			t.Fatal(err)
		}
		out := e.HandleJSON(ctx, msg)
		var r protocol.Reply
		if err := json.Unmarshal(out, &r); err != nil || r.Error != nil {
			t.Fatalf("%s: %v %+v", q.Kind, err, r.Error)
		}
		recs, err := store.AuditRecords(ctx)
		if err != nil {
			t.Fatal(err)
		}
		last := recs[len(recs)-1]
		want := "reply_sha256=" + HashQuery(string(out))
		if last.QueryID != q.ID || !strings.Contains(last.Released, want) {
			t.Errorf("%s: audit record %q (query %q) does not hold %s", q.Kind, last.Released, last.QueryID, want)
		}
	}
}
