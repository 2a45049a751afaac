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
	"strings"
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

// TestStoredAsReceived: a reply is kept, hashed and reopened as the JSON its site sent, not as
// the client would encode it again. The fake sites indent their JSON (bytes encoding/json never
// writes), so a re-encoded copy would differ from what was received; a result must still store
// (count, summary, Kaplan–Meier) or name by digest (every kind, Cox included) those very bytes,
// and reopen to the same bits — including the Cox fits, whose payload comes from the live fit.
func TestStoredAsReceived(t *testing.T) {
	f := newFixture(t)
	f.net.wire = func(r protocol.Reply) ([]byte, error) { return json.MarshalIndent(r, "", "  ") }
	ctx := context.Background()
	raw, err := sql.Open("sqlite", f.path)
	if err != nil {
		t.Fatal(err)
	}
	defer raw.Close()
	for _, req := range everyKind {
		r, err := f.svc.Run(ctx, req)
		if err != nil {
			t.Fatalf("%s: %v", req.Kind, err)
		}
		for i, round := range r.Rounds {
			if len(round.Digests) == 0 {
				t.Fatalf("%s: round %d names no reply", r.Name, i)
			}
			if req.Kind == protocol.KindCox {
				if round.Replies != nil || round.ReplyJSON != nil {
					t.Fatalf("%s: round %d keeps its replies", r.Name, i)
				}
				continue
			}
			if len(round.ReplyJSON) != len(round.Replies) || len(round.Digests) != len(round.Replies) {
				t.Fatalf("%s: round %d holds %d reply JSONs and %d digests for %d replies", r.Name, i, len(round.ReplyJSON), len(round.Digests), len(round.Replies))
			}
			for j, b := range round.ReplyJSON {
				want, _ := json.MarshalIndent(round.Replies[j], "", "  ")
				sum := sha256.Sum256(want)
				if !bytes.Equal(b, want) || !bytes.Contains(b, []byte("\n  ")) {
					t.Fatalf("%s: round %d reply %d is not the JSON as received", r.Name, i, j)
				}
				if d := round.Digests[j]; d.SHA256 != hex.EncodeToString(sum[:]) || d.Bytes != len(want) || d.Site != round.Replies[j].Site {
					t.Fatalf("%s: round %d reply %d: digest %+v is not of the JSON as received", r.Name, i, j, d)
				}
			}
		}
		// What the cache file holds is the bytes as received, and no Cox reply.
		var stored string
		var n int
		err = raw.QueryRow(`SELECT count(*), coalesce(min(reply), '') FROM result_replies WHERE result_id = ? AND site = (SELECT min(site) FROM result_replies WHERE result_id = ?)`, r.ID, r.ID).Scan(&n, &stored)
		if err != nil {
			t.Fatal(err)
		}
		if req.Kind == protocol.KindCox {
			if n != 0 {
				t.Errorf("%s: the cache holds %d Cox replies", r.Name, n)
			}
		} else if stored != string(r.Rounds[0].ReplyJSON[0]) {
			t.Errorf("%s: the cache holds %.60q…, not the reply as received", r.Name, stored)
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

// TestContentHashUnchangedForCanonicalJSON: when a reply's JSON is what encoding/json writes
// (as a Go node's replies are), its digest is that of the encoded reply, so a result computed
// from replies handed over without JSON (an in-process network) has the same content hash, and
// the hash is ResultHash's.
func TestContentHashUnchangedForCanonicalJSON(t *testing.T) {
	ctx := context.Background()
	hashes := map[bool][]string{}
	for _, noJSON := range []bool{false, true} {
		f := newFixture(t)
		f.net.noJSON = noJSON
		for _, req := range everyKind {
			r, err := f.svc.Run(ctx, req)
			if err != nil {
				t.Fatalf("%s: %v", req.Kind, err)
			}
			if r.Provenance.ContentHash != app.ResultHash(r) {
				t.Errorf("%s (noJSON %v): content hash %s, ResultHash %s", r.Name, noJSON, r.Provenance.ContentHash, app.ResultHash(r))
			}
			hashes[noJSON] = append(hashes[noJSON], r.Provenance.ContentHash)
			if _, err := f.svc.Open(ctx, r.ID); err != nil {
				t.Errorf("%s (noJSON %v): %v", r.Name, noJSON, err)
			}
		}
	}
	for i := range everyKind {
		if hashes[false][i] != hashes[true][i] {
			t.Errorf("%s: content hash %s with the replies' JSON, %s without", everyKind[i].Kind, hashes[false][i], hashes[true][i])
		}
	}
}

// TestDamagedResultRefused: the content hash covers the digests of the replies a result names,
// the bytes of the replies it keeps and a Cox result's trace, so a changed byte in any of them —
// even one that decodes to the same reply — is noticed when the result is opened.
func TestDamagedResultRefused(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	km, err := f.svc.Run(ctx, everyKind[2])
	if err != nil {
		t.Fatal(err)
	}
	var cox []*app.Result
	for _, req := range everyKind[3:] {
		r, err := f.svc.Run(ctx, req)
		if err != nil {
			t.Fatal(err)
		}
		cox = append(cox, r)
	}
	raw, err := sql.Open("sqlite", f.path)
	if err != nil {
		t.Fatal(err)
	}
	defer raw.Close()
	damage := func(what, stmt string, id int64) {
		t.Helper()
		res, err := raw.Exec(stmt, id, id)
		if err != nil {
			t.Fatal(err)
		}
		if n, _ := res.RowsAffected(); n != 1 {
			t.Fatalf("%s: changed %d rows", what, n)
		}
		if _, err := f.svc.Open(ctx, id); app.ErrorCode(err) != app.EInternal {
			t.Errorf("Open of a result with %s: %v, want code %s", what, err, app.EInternal)
		}
	}
	// A space before the closing brace: the same reply, other bytes.
	damage("a changed reply byte", `UPDATE result_replies SET reply = substr(reply, 1, length(reply) - 1) || ' }' WHERE result_id = ? AND round = 0 AND site = (SELECT min(site) FROM result_replies WHERE result_id = ?)`, km.ID)
	// Another digest for one reply of the stratified fit's second round.
	damage("a changed reply digest", `UPDATE result_rounds SET replies = replace(replies, '"sha256":"', '"sha256":"0') WHERE result_id = ? AND round = 1 AND ? > 0`, cox[0].ID)
	// One event fewer at the first site of the pooled fit: its summary, not its steps.
	damage("a changed trace", `UPDATE results SET trace = json_set(trace, '$.sites[0].events', json_extract(trace, '$.sites[0].events') - 1) WHERE id = ? AND ? > 0`, cox[1].ID)
}

// TestTraceChecksItself: rendering a Cox result from its trace checks the trace beyond its
// content hash: the refit must ask for the very β of every stored step and use every step, and
// in the stratified form each step's total must be what the sites' own contributions add up
// to. A trace that breaks any of these (as a bug writing it would) renders nothing.
func TestTraceChecksItself(t *testing.T) {
	f := newFixture(t)
	r, err := f.svc.Run(context.Background(), everyKind[3])
	if err != nil {
		t.Fatal(err)
	}
	if r.Trace == nil || len(r.Trace.Steps) < 3 || len(r.Trace.Steps[1].Sites) < 2 {
		t.Fatalf("stratified trace %+v", r.Trace)
	}
	for _, c := range []struct {
		what, want string
		change     func(tr *app.CoxTrace)
	}{
		{"nothing", "", func(*app.CoxTrace) {}},
		{"a site's gradient", "do not add up", func(tr *app.CoxTrace) {
			g := tr.Steps[1].Sites[1].Gradient
			g[0] += 1e-6 * (math.Abs(g[0]) + 1)
		}},
		{"a step's β", "diverges", func(tr *app.CoxTrace) { tr.Steps[2].Beta[0] += 1e-9 }},
		{"the last step dropped", "more steps", func(tr *app.CoxTrace) { tr.Steps = tr.Steps[:len(tr.Steps)-1] }},
		{"a step added", "used", func(tr *app.CoxTrace) { tr.Steps = append(tr.Steps, tr.Steps[len(tr.Steps)-1]) }},
	} {
		var tr app.CoxTrace
		b, _ := json.Marshal(r.Trace)
		if err := json.Unmarshal(b, &tr); err != nil {
			t.Fatal(err)
		}
		c.change(&tr)
		x := *r
		x.Trace = &tr
		err := app.Render(&x)
		switch {
		case c.want == "" && err != nil:
			t.Errorf("%s changed: %v", c.what, err)
		case c.want == "" && x.Cox.Fit.Coef[0] != r.Cox.Fit.Coef[0]:
			t.Errorf("the trace through JSON renders coefficient %v, live %v", x.Cox.Fit.Coef[0], r.Cox.Fit.Coef[0])
		case c.want != "" && (app.ErrorCode(err) != app.EInternal || !strings.Contains(err.Error(), c.want)):
			t.Errorf("%s changed: %v, want an internal error saying %q", c.what, err, c.want)
		}
	}
}
