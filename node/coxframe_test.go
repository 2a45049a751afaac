package node

import (
	"context"
	"encoding/json"
	"reflect"
	"strings"
	"testing"

	"github.com/oncofed/oncofed/protocol"
)

// TestCoxPooledSumsReplyIsFramed: a phase-1 reply leaves HandleJSON framed (its JSON, then
// the rows' binary block), decodes to the reply Handle computes at the same β bit for bit, and
// the audit record holds the SHA-256 of those framed bytes: the digest the client keeps.
func TestCoxPooledSumsReplyIsFramed(t *testing.T) {
	ctx := context.Background()
	pol := ExactPolicy()
	pol.AllowPooledCox = true
	e, store := lungEngine(t, pol, nil)
	q := pooledQuery(protocol.CoxPooledSums, "efron", []float64{0.01, -0.2}, "age", "sex")
	q.ID = "framed"
	msg, err := json.Marshal(q)
	if err != nil {
		t.Fatal(err)
	}
	out := e.HandleJSON(ctx, msg)
	if !protocol.IsFramedReply(out) {
		t.Fatalf("phase-1 reply not framed: %.200s", out)
	}
	var got protocol.Reply
	if err := protocol.UnmarshalReply(out, &got); err != nil {
		t.Fatal(err)
	}
	if err := protocol.ValidateReply(q, got); err != nil {
		t.Fatal(err)
	}
	want := mustOK(t, e.Handle(ctx, q))
	if len(got.Cox.Rows) < 10 || !reflect.DeepEqual(got.Cox, want.Cox) {
		t.Errorf("framed reply's Cox payload differs from Handle's (%d rows vs %d)", len(got.Cox.Rows), len(want.Cox.Rows))
	}
	recs, err := store.AuditRecords(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var rec *AuditRecord
	for i := range recs {
		if recs[i].QueryID == "framed" {
			rec = &recs[i]
			break
		}
	}
	if rec == nil || !strings.Contains(rec.Released, "reply_sha256="+HashQuery(string(out))) {
		t.Errorf("audit record %+v does not hold the hash of the framed bytes", rec)
	}

	// The stratified form has no rows: plain JSON, as before.
	q = pooledQuery(protocol.CoxStratified, "efron", []float64{0, 0}, "age", "sex")
	msg, _ = json.Marshal(q)
	if out := e.HandleJSON(ctx, msg); protocol.IsFramedReply(out) || !json.Valid(out) {
		t.Errorf("stratified reply is not plain JSON: %.200s", out)
	}
}
