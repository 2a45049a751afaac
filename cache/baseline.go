package cache

import (
	"bufio"
	"bytes"
	"compress/flate"
	"context"
	"database/sql"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"

	"github.com/oncofed/oncofed/app"
)

// A pooled Cox result keeps the model's baseline hazard for prediction (app.CoxTrace.Baseline):
// at each of the model's distinct event times T, the time, its events, Λ₀, its variance and
// X̄ (p values), as IEEE-754 doubles. At 1M patients on 10 sites that is 2,527 times and, for
// 5 design columns, 17,689 numbers: as the trace's JSON (base64 of every double, counts as
// decimal text) 225 KiB of the result's 240 KiB.
//
// The cache keeps those five arrays in the results.baseline column instead (schema 6), packed:
// every double XOR-ed with the one before it in its array (with X̄'s previous row for X̄, whose
// rows are times), the bytes of the array grouped by significance (the sign, exponent and top
// of the mantissa of neighbouring values mostly agree), the counts as varints, and the whole
// DEFLATE-compressed. It holds the same bits: the trace loaded from the cache is the trace that
// was stored, so its content hash and a reopened prediction are unchanged. The trace's JSON
// keeps the baseline's other fields with the five arrays empty, which marks it as packed.

// baselineFormat is the first byte of a packed baseline.
const baselineFormat = 1

// maxInflation bounds the bytes a packed baseline may claim per byte stored, before they are
// read (DEFLATE expands at most 1032-fold), so a damaged header allocates no more than that.
const maxInflation = 1100

// splitBaseline returns the trace as its JSON is stored and the packed baseline (nil when the
// trace has no baseline to pack: it is then stored whole). tr is not modified.
func splitBaseline(tr *app.CoxTrace) (*app.CoxTrace, []byte, error) {
	if tr == nil || tr.Baseline == nil {
		return tr, nil, nil
	}
	b := *tr.Baseline
	if len(b.Time) == 0 || len(b.Events) == 0 || len(b.CumHaz) == 0 || len(b.VarHaz) == 0 || len(b.XBar) == 0 {
		return tr, nil, nil // not a baseline that renders: kept as it was, to be refused on opening
	}
	blob, err := packBaseline(&b)
	if err != nil {
		return nil, nil, err
	}
	b.Time, b.Events, b.CumHaz, b.VarHaz, b.XBar = nil, nil, nil, nil, nil
	out := *tr
	out.Baseline = &b
	return &out, blob, nil
}

// packed reports whether a trace loaded from its JSON has its baseline's arrays in the
// baseline column.
func packed(tr *app.CoxTrace) bool {
	return tr != nil && tr.Baseline != nil && len(tr.Baseline.Time) == 0
}

// joinBaseline reads result id's packed baseline into tr, whose JSON left its arrays empty.
func joinBaseline(ctx context.Context, tx *sql.Tx, id int64, tr *app.CoxTrace) error {
	var blob []byte
	if err := tx.QueryRowContext(ctx, `SELECT baseline FROM results WHERE id = ?`, id).Scan(&blob); err != nil {
		return err
	}
	if blob == nil {
		return nil // stored with empty arrays: opening refuses it as incomplete
	}
	if err := unpackBaseline(blob, tr.Baseline); err != nil {
		return app.WrapError(app.EInternal, err, "the cached Cox fit's baseline hazard is damaged")
	}
	return nil
}

// packBaseline encodes b's five arrays (see the comment at the top of this file).
func packBaseline(b *app.CoxBaselineRecord) ([]byte, error) {
	stride := 1
	if b.P > 0 && len(b.XBar)%b.P == 0 {
		stride = b.P
	}
	var raw []byte
	for _, n := range []int{len(b.Time), len(b.Events), len(b.CumHaz), len(b.VarHaz), len(b.XBar), stride} {
		raw = binary.AppendUvarint(raw, uint64(n))
	}
	for _, e := range b.Events {
		raw = binary.AppendVarint(raw, int64(e))
	}
	raw = appendPlanes(raw, b.Time, 1)
	raw = appendPlanes(raw, b.CumHaz, 1)
	raw = appendPlanes(raw, b.VarHaz, 1)
	raw = appendPlanes(raw, b.XBar, stride)
	var out bytes.Buffer
	out.WriteByte(baselineFormat)
	w, err := flate.NewWriter(&out, flate.DefaultCompression)
	if err != nil {
		return nil, err
	}
	if _, err := w.Write(raw); err != nil {
		return nil, err
	}
	if err := w.Close(); err != nil {
		return nil, err
	}
	return out.Bytes(), nil
}

// appendPlanes appends xs XOR-ed with the value stride places before (0 for the first
// stride), as 8 planes: the lowest byte of every value, then the next byte of every value, ….
func appendPlanes(dst []byte, xs []float64, stride int) []byte {
	n := len(xs)
	start := len(dst)
	dst = append(dst, make([]byte, 8*n)...)
	planes := dst[start:]
	for i, x := range xs {
		u := math.Float64bits(x)
		if i >= stride {
			u ^= math.Float64bits(xs[i-stride])
		}
		for k := 0; k < 8; k++ {
			planes[k*n+i] = byte(u >> (8 * k))
		}
	}
	return dst
}

// unpackBaseline decodes a packed baseline into b's five arrays.
func unpackBaseline(blob []byte, b *app.CoxBaselineRecord) error {
	if len(blob) == 0 || blob[0] != baselineFormat {
		return errors.New("unknown format")
	}
	body := bytes.NewReader(blob[1:]) // an io.ByteReader: flate reads no further than its end
	r := bufio.NewReader(flate.NewReader(body))
	limit := uint64(maxInflation * len(blob))
	var sizes [6]int
	var total uint64
	for i := range sizes {
		n, err := binary.ReadUvarint(r)
		if err != nil || n > limit {
			return fmt.Errorf("bad header")
		}
		sizes[i] = int(n)
		if i < 5 {
			total += n
		}
	}
	nTime, nEvents, nCum, nVar, nX, stride := sizes[0], sizes[1], sizes[2], sizes[3], sizes[4], sizes[5]
	if total > limit || stride < 1 {
		return fmt.Errorf("bad header")
	}
	events := make([]int, nEvents)
	for i := range events {
		e, err := binary.ReadVarint(r)
		if err != nil || e < math.MinInt || e > math.MaxInt {
			return fmt.Errorf("event count %d: bad varint", i)
		}
		events[i] = int(e)
	}
	var arrays [4][]float64
	for k, n := range []int{nTime, nCum, nVar, nX} {
		s := 1
		if k == 3 {
			s = stride
		}
		var err error
		if arrays[k], err = readPlanes(r, n, s); err != nil {
			return err
		}
	}
	if _, err := r.ReadByte(); err != io.EOF || body.Len() > 0 {
		return fmt.Errorf("trailing bytes")
	}
	b.Time, b.Events, b.CumHaz, b.VarHaz, b.XBar = arrays[0], events, arrays[1], arrays[2], arrays[3]
	return nil
}

// readPlanes reads n values written by appendPlanes with the same stride.
func readPlanes(r io.Reader, n, stride int) ([]float64, error) {
	planes := make([]byte, 8*n)
	if _, err := io.ReadFull(r, planes); err != nil {
		return nil, fmt.Errorf("%d values: %w", n, err)
	}
	out := make([]float64, n)
	for i := range out {
		var u uint64
		for k := 0; k < 8; k++ {
			u |= uint64(planes[k*n+i]) << (8 * k)
		}
		if i >= stride {
			u ^= math.Float64bits(out[i-stride])
		}
		out[i] = math.Float64frombits(u)
	}
	return out, nil
}

// migrateBaseline completes migration 6 (migrations/0006_packed_baseline.sql) inside its
// transaction: every stored Cox trace with a baseline gets it packed. A trace that does not
// decode is left as it was (opening it still says it is damaged); the content hash is not
// touched, as the trace read back is the same.
func migrateBaseline(ctx context.Context, tx *sql.Tx) error {
	rows, err := tx.QueryContext(ctx, `SELECT id, trace FROM results WHERE kind = 'cox' AND trace IS NOT NULL`)
	if err != nil {
		return err
	}
	type update struct {
		id    int64
		trace string
		blob  []byte
	}
	var updates []update
	for rows.Next() {
		var id int64
		var js string
		if err := rows.Scan(&id, &js); err != nil {
			rows.Close()
			return err
		}
		var tr app.CoxTrace
		if decode(js, &tr, "Cox fit") != nil || packed(&tr) {
			continue
		}
		stored, blob, err := splitBaseline(&tr)
		if err != nil {
			rows.Close()
			return err
		}
		if blob != nil {
			updates = append(updates, update{id, mustJSON(stored), blob})
		}
	}
	if err := rows.Close(); err != nil {
		return err
	}
	for _, u := range updates {
		if _, err := tx.ExecContext(ctx, `UPDATE results SET trace = ?, baseline = ? WHERE id = ?`, u.trace, u.blob, u.id); err != nil {
			return err
		}
	}
	return nil
}
