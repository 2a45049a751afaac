package app_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"math"
	"reflect"
	"testing"

	"github.com/oncofed/oncofed/app"
	"github.com/oncofed/oncofed/cache"
	"github.com/oncofed/oncofed/protocol"
)

// bitEqual compares two values deeply, floats by their bits (so NaN equals NaN, 0 ≠ −0).
func bitEqual(a, b reflect.Value, path string) error {
	if a.Kind() != b.Kind() || a.Type() != b.Type() {
		return fmt.Errorf("%s: type %v vs %v", path, a.Type(), b.Type())
	}
	switch a.Kind() {
	case reflect.Float64, reflect.Float32:
		if math.Float64bits(a.Float()) != math.Float64bits(b.Float()) {
			return fmt.Errorf("%s: %v vs %v", path, a.Float(), b.Float())
		}
	case reflect.Pointer, reflect.Interface:
		if a.IsNil() || b.IsNil() {
			if a.IsNil() != b.IsNil() {
				return fmt.Errorf("%s: nil vs non-nil", path)
			}
			return nil
		}
		return bitEqual(a.Elem(), b.Elem(), path)
	case reflect.Struct:
		for i := 0; i < a.NumField(); i++ {
			if err := bitEqual(a.Field(i), b.Field(i), path+"."+a.Type().Field(i).Name); err != nil {
				return err
			}
		}
	case reflect.Slice, reflect.Array:
		if a.Len() != b.Len() {
			return fmt.Errorf("%s: length %d vs %d", path, a.Len(), b.Len())
		}
		for i := 0; i < a.Len(); i++ {
			if err := bitEqual(a.Index(i), b.Index(i), fmt.Sprintf("%s[%d]", path, i)); err != nil {
				return err
			}
		}
	case reflect.Map:
		if a.Len() != b.Len() {
			return fmt.Errorf("%s: %d vs %d keys", path, a.Len(), b.Len())
		}
		for _, k := range a.MapKeys() {
			bv := b.MapIndex(k)
			if !bv.IsValid() {
				return fmt.Errorf("%s: key %v missing", path, k)
			}
			if err := bitEqual(a.MapIndex(k), bv, fmt.Sprintf("%s[%v]", path, k)); err != nil {
				return err
			}
		}
	default:
		if a.CanInterface() && !reflect.DeepEqual(a.Interface(), b.Interface()) {
			return fmt.Errorf("%s: %v vs %v", path, a.Interface(), b.Interface())
		}
	}
	return nil
}

var everyKind = []app.Request{
	{Kind: protocol.KindCount, Study: "lung", GroupBy: "sex"},
	{Kind: protocol.KindSummary, Study: "lung", GroupBy: "sex", Variables: []string{"age", "wt.loss", "ecog"},
		Bins: []protocol.HistogramSpec{{Variable: "age", Edges: []float64{50, 60, 70}}, {Variable: "wt.loss", Edges: []float64{0, 10, 20}}}},
	{Kind: protocol.KindSurvival, Study: "lung", Endpoint: "os", GroupBy: "ecog", Landmarks: []float64{180, 365, 730, 5000}},
	{Kind: protocol.KindCox, Study: "lung", Endpoint: "os", Cox: &app.CoxSpec{Covariates: []string{"sex", "age", "ecog"}}},
	{Kind: protocol.KindCox, Study: "lung", Endpoint: "os", Cox: &app.CoxSpec{Covariates: []string{"sex", "wt.loss"}, Form: protocol.CoxPooled, Ties: "breslow"}},
}

// TestOfflineOpenEveryKind: every kind of result, stored while online, opens in a new process
// with no network at all and renders to the same bits (payload, provenance, aggregates).
func TestOfflineOpenEveryKind(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	var stored []*app.Result
	for _, req := range everyKind {
		r, err := f.svc.Run(ctx, req)
		if err != nil {
			t.Fatalf("%s: %v", req.Kind, err)
		}
		stored = append(stored, r)
	}
	f.db.Close()
	db, err := cache.Open(ctx, f.path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	offline := app.NewService(nil, db, app.NetworkInfo{ID: "demo", Name: "Demo network"})
	for _, r := range stored {
		o, err := offline.Open(ctx, r.ID)
		if err != nil {
			t.Fatalf("%s: %v", r.Name, err)
		}
		if !o.Cached {
			t.Errorf("%s: not marked cached", r.Name)
		}
		o.Cached = false
		if err := bitEqual(reflect.ValueOf(*o), reflect.ValueOf(*r), "Result"); err != nil {
			t.Errorf("%s: reopened result differs: %v", r.Name, err)
		}
	}
	// Sanity of the comparison itself: a changed bit is noticed.
	o, _ := offline.Open(ctx, stored[2].ID)
	o.Cached = false
	o.KM.Groups[0].Curve.Surv[3] = math.Nextafter(o.KM.Groups[0].Curve.Surv[3], 2)
	if bitEqual(reflect.ValueOf(*o), reflect.ValueOf(*stored[2]), "Result") == nil {
		t.Error("bitEqual missed a changed bit")
	}
}

// BenchmarkOpenKM opens one cached KM result (18 sites, 4 groups) and recomputes its curves,
// medians, landmarks and log-rank tests from the stored aggregates (issue 6: under 20 ms).
func BenchmarkOpenKM(b *testing.B) {
	fx := newFixture(b)
	r, err := fx.svc.Run(context.Background(), everyKind[2])
	if err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := fx.svc.Open(context.Background(), r.ID); err != nil {
			b.Fatal(err)
		}
	}
}

// TestStoredAsReceived: a reply is stored, hashed and reopened as the JSON its site sent, not
// as the client would encode it again. The fake sites indent their JSON (bytes encoding/json
// never writes), so a re-encoded copy would differ from what was received; the result must
// still store those very bytes, hash them, and reopen to the same bits — for every kind,
// including the pooled Cox fit whose payload comes from the live fit, not a replay.
func TestStoredAsReceived(t *testing.T) {
	f := newFixture(t)
	f.net.wire = func(r protocol.Reply) ([]byte, error) { return json.MarshalIndent(r, "", "  ") }
	ctx := context.Background()
	for _, req := range everyKind {
		r, err := f.svc.Run(ctx, req)
		if err != nil {
			t.Fatalf("%s: %v", req.Kind, err)
		}
		for i, round := range r.Rounds {
			if len(round.ReplyJSON) != len(round.Replies) || len(round.Replies) == 0 {
				t.Fatalf("%s: round %d holds %d reply JSONs for %d replies", r.Name, i, len(round.ReplyJSON), len(round.Replies))
			}
			for j, b := range round.ReplyJSON {
				want, _ := json.MarshalIndent(round.Replies[j], "", "  ")
				if !bytes.Equal(b, want) || !bytes.Contains(b, []byte("\n  ")) {
					t.Fatalf("%s: round %d reply %d is not the JSON as received", r.Name, i, j)
				}
			}
		}
		// What the cache file holds is the bytes as received.
		var stored string
		raw, err := sql.Open("sqlite", f.path)
		if err != nil {
			t.Fatal(err)
		}
		err = raw.QueryRow(`SELECT reply FROM result_replies WHERE result_id = ? ORDER BY round, site LIMIT 1`, r.ID).Scan(&stored)
		raw.Close()
		if err != nil {
			t.Fatal(err)
		}
		if stored != string(r.Rounds[0].ReplyJSON[0]) {
			t.Errorf("%s: the cache holds %.60q…, not the reply as received", r.Name, stored)
		}
		// The content hash is of the stored bytes: it differs from the hash of re-encoded replies.
		if h := app.ContentHash(r.Request, stripJSON(r.Rounds)); h == r.Provenance.ContentHash {
			t.Errorf("%s: the content hash does not cover the bytes as received", r.Name)
		}
		o, err := f.svc.Open(ctx, r.ID)
		if err != nil {
			t.Fatalf("%s: %v", r.Name, err)
		}
		o.Cached = false
		if err := bitEqual(reflect.ValueOf(*o), reflect.ValueOf(*r), "Result"); err != nil {
			t.Errorf("%s: reopened result differs: %v", r.Name, err)
		}
	}
}

// TestContentHashUnchangedForCanonicalJSON: when the stored JSON is what encoding/json writes
// (as a Go node's replies are), hashing the bytes gives the hash of encoding the rounds, the
// definition results stored before the bytes were kept were hashed with; so they still open.
// Replies handed over without JSON (an in-process network) are encoded, and hash the same.
func TestContentHashUnchangedForCanonicalJSON(t *testing.T) {
	ctx := context.Background()
	for _, noJSON := range []bool{false, true} {
		f := newFixture(t)
		f.net.noJSON = noJSON
		for _, req := range everyKind {
			r, err := f.svc.Run(ctx, req)
			if err != nil {
				t.Fatalf("%s: %v", req.Kind, err)
			}
			if got := r.Rounds[0].ReplyJSON != nil; got == noJSON {
				t.Fatalf("%s (noJSON %v): ReplyJSON set %v", r.Name, noJSON, got)
			}
			var h = sha256.New()
			enc := json.NewEncoder(h)
			enc.Encode(r.Request)
			for _, round := range r.Rounds {
				enc.Encode(round)
			}
			if want := hex.EncodeToString(h.Sum(nil)); r.Provenance.ContentHash != want {
				t.Errorf("%s (noJSON %v): content hash %s, encoding the rounds gives %s", r.Name, noJSON, r.Provenance.ContentHash, want)
			}
			if _, err := f.svc.Open(ctx, r.ID); err != nil {
				t.Errorf("%s (noJSON %v): %v", r.Name, noJSON, err)
			}
		}
	}
}

// TestDamagedReplyJSONRefused: the content hash covers the stored bytes of a reply, so a
// changed byte — even one that decodes to the same reply — is noticed when the result is opened.
func TestDamagedReplyJSONRefused(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	r, err := f.svc.Run(ctx, everyKind[4])
	if err != nil {
		t.Fatal(err)
	}
	raw, err := sql.Open("sqlite", f.path)
	if err != nil {
		t.Fatal(err)
	}
	defer raw.Close()
	// A space before the closing brace: the same reply, other bytes.
	res, err := raw.Exec(`UPDATE result_replies SET reply = substr(reply, 1, length(reply) - 1) || ' }' WHERE result_id = ? AND round = 1 AND site = (SELECT min(site) FROM result_replies WHERE result_id = ?)`, r.ID, r.ID)
	if err != nil {
		t.Fatal(err)
	}
	if n, _ := res.RowsAffected(); n != 1 {
		t.Fatalf("changed %d rows", n)
	}
	if _, err := f.svc.Open(ctx, r.ID); app.ErrorCode(err) != app.EInternal {
		t.Errorf("Open of a result with a changed reply byte: %v, want code %s", err, app.EInternal)
	}
}

func stripJSON(rounds []app.Round) []app.Round {
	out := make([]app.Round, len(rounds))
	for i, r := range rounds {
		out[i] = app.Round{Query: r.Query, Replies: r.Replies}
	}
	return out
}
