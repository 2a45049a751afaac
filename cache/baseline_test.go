package cache

import (
	"bytes"
	"compress/flate"
	"context"
	"encoding/json"
	"fmt"
	"math"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/oncofed/oncofed/analysis"
	"github.com/oncofed/oncofed/app"
	"github.com/oncofed/oncofed/protocol"
)

// testBaseline is a baseline hazard of n times and p columns shaped as PooledCoxBaseline makes
// them (increasing times, running sums), with the values a packing must keep exactly: NaN with
// a payload, ±0, ±Inf, the smallest subnormal, the largest double.
func testBaseline(n, p int, seed uint64) *app.CoxBaselineRecord {
	rng := rand.New(rand.NewPCG(seed, 14))
	b := &app.CoxBaselineRecord{Ties: "efron", P: p, LastTime: float64(n) + 0.5, Origin: protocol.Float64s{63.2, 0}}
	var cum, v float64
	x := make([]float64, p)
	for k := 0; k < n; k++ {
		d := 1 + rng.IntN(4)
		cum += float64(d) / (1e4 - float64(k))
		v += float64(d) / ((1e4 - float64(k)) * (1e4 - float64(k)))
		b.Time = append(b.Time, float64(k+1+rng.IntN(2)*k))
		b.Events = append(b.Events, d)
		b.CumHaz = append(b.CumHaz, cum)
		b.VarHaz = append(b.VarHaz, v)
		for j := range x {
			x[j] += rng.NormFloat64() * cum
		}
		b.XBar = append(b.XBar, x...)
	}
	special := []float64{math.Float64frombits(0x7ff8_dead_beef_0001), math.Copysign(0, -1), 0, math.Inf(1), math.Inf(-1),
		math.SmallestNonzeroFloat64, math.MaxFloat64}
	for i, s := range special {
		b.XBar[(i*7)%len(b.XBar)] = s
		b.CumHaz[i%n] = s
	}
	b.Events[0] = -3 // counts are kept whatever they are
	b.Events[n-1] = 1 << 40
	return b
}

// storedAndLoaded packs tr as SaveResult does and reads it back as loadResult does.
func storedAndLoaded(t *testing.T, tr *app.CoxTrace) (*app.CoxTrace, []byte) {
	t.Helper()
	stored, blob, err := splitBaseline(tr)
	if err != nil {
		t.Fatal(err)
	}
	js, err := json.Marshal(stored)
	if err != nil {
		t.Fatal(err)
	}
	var got app.CoxTrace
	if err := json.Unmarshal(js, &got); err != nil {
		t.Fatal(err)
	}
	if blob != nil {
		if !packed(&got) {
			t.Fatal("a packed baseline's JSON does not read as packed")
		}
		if err := unpackBaseline(blob, got.Baseline); err != nil {
			t.Fatal(err)
		}
	}
	return &got, blob
}

// TestBaselinePackedExactly: a baseline hazard packed and unpacked is the same record bit for
// bit — its trace marshals to the very JSON it marshalled to before, so the content hash over
// it is unchanged — whatever its values and shape, and packing leaves the caller's trace as it
// was.
func TestBaselinePackedExactly(t *testing.T) {
	for _, shape := range []struct{ n, p, xbar int }{{2527, 5, -1}, {1, 1, -1}, {40, 20, -1}, {30, 0, 7}, {30, 4, 13}} {
		t.Run(fmt.Sprintf("n%d_p%d", shape.n, shape.p), func(t *testing.T) {
			b := testBaseline(shape.n, max(shape.p, 1), uint64(shape.n))
			b.P = shape.p
			if shape.xbar >= 0 {
				b.XBar = b.XBar[:shape.xbar] // stride 1: the rows do not divide
			}
			tr := &app.CoxTrace{Columns: []string{"age"}, Baseline: b, NoiseSD: protocol.Float64s{0.5}}
			want, err := json.Marshal(tr)
			if err != nil {
				t.Fatal(err)
			}
			got, blob := storedAndLoaded(t, tr)
			if blob == nil {
				t.Fatal("not packed")
			}
			again, err := json.Marshal(got)
			if err != nil {
				t.Fatal(err)
			}
			if string(again) != string(want) {
				t.Fatal("the trace read back marshals differently")
			}
			gb := got.Baseline
			if !analysis.EqualBits(gb.XBar, b.XBar) || !analysis.EqualBits(gb.CumHaz, b.CumHaz) || !analysis.EqualBits(gb.Time, b.Time) ||
				!analysis.EqualBits(gb.VarHaz, b.VarHaz) || fmt.Sprint(gb.Events) != fmt.Sprint(b.Events) {
				t.Fatal("the arrays read back differ")
			}
			if after, _ := json.Marshal(tr); string(after) != string(want) {
				t.Fatal("packing changed the caller's trace")
			}
			t.Logf("%d numbers: %d bytes packed, %d as JSON", 4*len(b.Time)+len(b.XBar), len(blob), len(want))
		})
	}
	// Nothing to pack: kept whole.
	for _, tr := range []*app.CoxTrace{nil, {Columns: []string{"age"}}, {Baseline: &app.CoxBaselineRecord{P: 1}}} {
		if stored, blob, err := splitBaseline(tr); err != nil || blob != nil || stored != tr {
			t.Errorf("%+v: packed %d bytes, %v", tr, len(blob), err)
		}
	}
}

// TestDamagedBaselineRefused: a packed baseline with a byte changed, cut short, with bytes
// after it, of another format or claiming more numbers than it could hold is an error, never a
// panic or a huge allocation.
func TestDamagedBaselineRefused(t *testing.T) {
	orig := testBaseline(300, 3, 1)
	blob, err := packBaseline(orig)
	if err != nil {
		t.Fatal(err)
	}
	for name, b := range map[string][]byte{
		"empty":          nil,
		"format":         append([]byte{9}, blob[1:]...),
		"cut short":      blob[:len(blob)/2],
		"trailing bytes": append(append([]byte{}, blob...), 0, 1, 2),
		"not deflate":    {baselineFormat, 0xff, 0xff, 0xff},
		"2^40 times":     packRaw(t, []byte{0x80, 0x80, 0x80, 0x80, 0x80, 0x20}),
		"no stride":      packRaw(t, []byte{1, 1, 1, 1, 1, 0, 2, 0, 0, 0, 0, 0, 0, 0, 0}),
	} {
		var rec app.CoxBaselineRecord
		if err := unpackBaseline(b, &rec); err == nil {
			t.Errorf("%s: read without error", name)
		}
	}
	same := func(rec *app.CoxBaselineRecord) bool {
		return analysis.EqualBits(rec.XBar, orig.XBar) && analysis.EqualBits(rec.CumHaz, orig.CumHaz) &&
			analysis.EqualBits(rec.Time, orig.Time) && analysis.EqualBits(rec.VarHaz, orig.VarHaz) && fmt.Sprint(rec.Events) == fmt.Sprint(orig.Events)
	}
	var rec app.CoxBaselineRecord
	if err := unpackBaseline(blob, &rec); err != nil || !same(&rec) {
		t.Fatalf("the undamaged blob: %v", err)
	}
	for i := 1; i < len(blob); i += 7 {
		b := append([]byte{}, blob...)
		b[i] ^= 0x55
		var rec app.CoxBaselineRecord
		if err := unpackBaseline(b, &rec); err == nil && same(&rec) {
			t.Errorf("byte %d changed: read back unchanged", i)
		}
	}
}

// packRaw is a blob of format 1 whose payload is raw.
func packRaw(t *testing.T, raw []byte) []byte {
	t.Helper()
	var out bytes.Buffer
	out.WriteByte(baselineFormat)
	w, err := flate.NewWriter(&out, flate.BestSpeed)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.Write(raw); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return out.Bytes()
}

// coxResultWithBaseline is a compact pooled Cox result whose trace holds a baseline hazard,
// with its content hash.
func coxResultWithBaseline() *app.Result {
	req := app.Request{Kind: protocol.KindCox, Study: "nsclc", Endpoint: "os",
		Cox: &app.CoxSpec{Covariates: []string{"age", "sex"}, Form: protocol.CoxPooled, Ties: "efron"}}
	q := protocol.Query{Version: protocol.Version, Kind: protocol.KindCox, ID: "q0", Study: "nsclc", Endpoint: "os",
		Cox: &protocol.CoxRequest{Form: protocol.CoxPooledSums, Covariates: []string{"age", "sex"}, Beta: []float64{0, 0}}}
	r := &app.Result{Name: "pooled cox", Network: "demo", Request: req,
		Rounds: []app.Round{{Query: q, Digests: []app.ReplyDigest{{Site: "a", SHA256: strings.Repeat("0", 64), Bytes: 10}}}},
		Trace: &app.CoxTrace{Columns: []string{"age", "sexmale"}, Sites: []app.CoxSiteSummary{{Site: "a", N: 900, Events: 600}},
			Steps:    []app.CoxStep{{Beta: protocol.Float64s{0, 0}, CoxValues: app.CoxValues{LogLik: protocol.Float64s{-1}, Gradient: protocol.Float64s{1, 2}, N: 900, Events: 600}}},
			Baseline: testBaseline(800, 2, 7)}}
	r.Provenance = app.Provenance{RanAt: t0, Expected: []string{"a"}, Answered: []string{"a"}, AppVersion: app.Version, ProtocolVersion: protocol.Version}
	r.Provenance.ContentHash = app.ResultHash(r)
	return r
}

// TestSaveResultPacksBaseline: SaveResult keeps a Cox trace's baseline hazard packed (its JSON
// smaller by the arrays), and Result reads back the trace that was saved: same JSON, same
// content hash.
func TestSaveResultPacksBaseline(t *testing.T) {
	ctx := context.Background()
	db, path := openTemp(t)
	r := coxResultWithBaseline()
	want, _ := json.Marshal(r.Trace)
	if err := db.SaveResult(ctx, r); err != nil {
		t.Fatal(err)
	}
	if n := rawInt(t, path, "SELECT count(*) FROM results WHERE baseline IS NOT NULL"); n != 1 {
		t.Fatalf("%d results with a packed baseline", n)
	}
	if n := rawInt(t, path, "SELECT length(trace) FROM results"); n*4 > len(want) {
		t.Errorf("the trace's JSON is %d bytes of %d: the baseline is not out of it", n, len(want))
	}
	got, err := db.Result(ctx, r.ID)
	if err != nil {
		t.Fatal(err)
	}
	if js, _ := json.Marshal(got.Trace); string(js) != string(want) {
		t.Fatal("the trace read back differs from the one saved")
	}
	if app.ResultHash(got) != r.Provenance.ContentHash {
		t.Fatal("the content hash does not match the result read back")
	}
}

// TestMigrateBaselinePacked: a cache of schema 5, whose pooled Cox result keeps its baseline
// hazard in the trace's JSON, is migrated to schema 6: the baseline is packed, and the result
// reads back as it was, content hash included. A trace that does not decode is left as it was.
func TestMigrateBaselinePacked(t *testing.T) {
	ctx := context.Background()
	db, path := openTemp(t, WithSchemaVersion(5))
	r := coxResultWithBaseline()
	whole := mustJSON(r.Trace)
	bare := *r
	tr := *r.Trace
	tr.Baseline = nil
	bare.Trace = &tr
	if err := db.SaveResult(ctx, &bare); err != nil {
		t.Fatal(err)
	}
	damaged := testResult("damaged", t0, 1)
	if err := db.SaveResult(ctx, damaged); err != nil {
		t.Fatal(err)
	}
	db.Close()
	// As schema 5 stored it: the whole trace as JSON.
	rawExec(t, path, fmt.Sprintf("UPDATE results SET trace = '%s' WHERE id = %d", whole, bare.ID))
	rawExec(t, path, fmt.Sprintf(`UPDATE results SET kind = 'cox', trace = '{"baseline": 3}' WHERE id = %d`, damaged.ID))
	before := rawInt(t, path, fmt.Sprintf("SELECT length(trace) FROM results WHERE id = %d", bare.ID))

	db, err := Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if v := rawInt(t, path, "PRAGMA user_version"); v != SchemaVersion() || v < 6 {
		t.Fatalf("schema %d after the upgrade", v)
	}
	after := rawInt(t, path, fmt.Sprintf("SELECT length(trace) + length(baseline) FROM results WHERE id = %d", bare.ID))
	t.Logf("trace %d bytes before, %d after (JSON and packed baseline)", before, after)
	if after*3 > before*2 {
		t.Errorf("%d bytes after the migration, %d before", after, before)
	}
	got, err := db.Result(ctx, bare.ID)
	if err != nil {
		t.Fatal(err)
	}
	if mustJSON(got.Trace) != whole || app.ResultHash(got) != r.Provenance.ContentHash {
		t.Fatal("the migrated result reads back differently")
	}
	if n := rawInt(t, path, fmt.Sprintf(`SELECT count(*) FROM results WHERE id = %d AND trace = '{"baseline": 3}' AND baseline IS NULL`, damaged.ID)); n != 1 {
		t.Error("the trace that does not decode was changed")
	}
}

// FuzzUnpackBaseline: whatever the stored bytes, reading them is an error or a baseline that
// packs to a blob reading back the same (no panic, no allocation beyond the bound).
func FuzzUnpackBaseline(f *testing.F) {
	for _, b := range []*app.CoxBaselineRecord{testBaseline(20, 2, 3), testBaseline(1, 1, 4)} {
		blob, err := packBaseline(b)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(blob)
	}
	f.Fuzz(func(t *testing.T, blob []byte) {
		var rec app.CoxBaselineRecord
		if unpackBaseline(blob, &rec) != nil {
			return
		}
		again, err := packBaseline(&rec)
		if err != nil {
			t.Fatal(err)
		}
		var rec2 app.CoxBaselineRecord
		if err := unpackBaseline(again, &rec2); err != nil || mustJSON(rec) != mustJSON(rec2) {
			t.Fatalf("repacked baseline reads back differently: %v", err)
		}
	})
}
