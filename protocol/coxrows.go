package protocol

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"slices"
)

// CoxRows are a site's pooled-Cox risk-set rows. On the wire they are one base64 string of a
// compact binary block rather than an array of JSON objects: a site of 100,000 patients sends
// thousands of rows of 2 + 2p + 2p² numbers at every Newton–Raphson round, and encoding and
// decoding them as JSON objects took two thirds of a federated fit's CPU. The block is
//
//	uvarint n
//	n × ( float64 time | varint d | float64 r0 | float64 e0 | vec r1 | vec r2 | vec e1 | vec e2 )
//
// with float64 little-endian IEEE-754 (exact, bit for bit) and vec = uvarint (len+1) followed
// by len float64s, where 0 stands for a nil vector (omitted e1/e2 of a row without events).
// A JSON array of row objects also decodes, so hand-written replies and tests still read.
type CoxRows []CoxRiskSetRow

const coxRowsFormat = 1 // first byte of the block: bump it if the layout ever changes

// MarshalText encodes the rows as base64 of the binary block (see CoxRows): their form inside
// a JSON document (a reply kept as JSON, a hand-written one). On the wire a reply carries the
// block itself after its JSON (MarshalReply).
func (rs CoxRows) MarshalText() ([]byte, error) {
	b, _ := rs.AppendBinary(nil)
	return encodeBase64(b), nil
}

// AppendBinary appends the binary block of the rows (see CoxRows) to b.
func (rs CoxRows) AppendBinary(b []byte) ([]byte, error) {
	size := 1 + binary.MaxVarintLen64
	for _, r := range rs {
		size += 8*(3+len(r.R1)+len(r.R2)+len(r.E1)+len(r.E2)) + 5*binary.MaxVarintLen64
	}
	b = slices.Grow(b, size)
	b = append(b, coxRowsFormat)
	b = binary.AppendUvarint(b, uint64(len(rs)))
	for _, r := range rs {
		b = binary.LittleEndian.AppendUint64(b, math.Float64bits(r.Time))
		b = binary.AppendVarint(b, int64(r.D))
		b = binary.LittleEndian.AppendUint64(b, math.Float64bits(r.R0))
		b = binary.LittleEndian.AppendUint64(b, math.Float64bits(r.E0))
		for _, v := range [4][]float64{r.R1, r.R2, r.E1, r.E2} {
			b = appendVec(b, v)
		}
	}
	return b, nil
}

// UnmarshalBinary decodes a binary block written by AppendBinary.
func (rs *CoxRows) UnmarshalBinary(data []byte) error {
	rows, err := decodeCoxRows(data)
	if err != nil {
		return fmt.Errorf("protocol: cox rows: %w", err)
	}
	*rs = rows
	return nil
}

func appendVec(b []byte, v []float64) []byte {
	if v == nil {
		return binary.AppendUvarint(b, 0)
	}
	b = binary.AppendUvarint(b, uint64(len(v))+1)
	for _, x := range v {
		b = binary.LittleEndian.AppendUint64(b, math.Float64bits(x))
	}
	return b
}

// UnmarshalJSON decodes the base64 block written by MarshalText, or a JSON array of rows.
func (rs *CoxRows) UnmarshalJSON(data []byte) error {
	raw, isString, err := unquoteBase64(data)
	if err != nil {
		return fmt.Errorf("protocol: cox rows: %w", err)
	}
	if !isString {
		var rows []CoxRiskSetRow
		if err := json.Unmarshal(data, &rows); err != nil {
			return err
		}
		*rs = rows
		return nil
	}
	rows, err := decodeCoxRows(raw)
	if err != nil {
		return fmt.Errorf("protocol: cox rows: %w", err)
	}
	*rs = rows
	return nil
}

var errCoxRowsShort = errors.New("block ends early")

func decodeCoxRows(b []byte) (CoxRows, error) {
	if len(b) == 0 || b[0] != coxRowsFormat {
		return nil, fmt.Errorf("unknown block format")
	}
	b = b[1:]
	n, k := binary.Uvarint(b)
	// Every row takes at least 3 float64s and 5 one-byte varints: a count beyond that is a lie
	// (and must not drive an allocation).
	if k <= 0 || n > uint64(len(b))/29 {
		return nil, fmt.Errorf("bad row count")
	}
	b = b[k:]
	rows := make(CoxRows, n)
	// Every vector of every row is a slice of one array (capped at its own length, so that an
	// append never runs into the next): one allocation per block instead of one per vector, the
	// decode's main cost with thousands of rows. No block holds more than len(b)/8 numbers.
	backing := make([]float64, 0, len(b)/8)
	f64 := func() (float64, error) {
		if len(b) < 8 {
			return 0, errCoxRowsShort
		}
		x := math.Float64frombits(binary.LittleEndian.Uint64(b))
		b = b[8:]
		return x, nil
	}
	vec := func() ([]float64, error) {
		m, k := binary.Uvarint(b)
		if k <= 0 {
			return nil, errCoxRowsShort
		}
		b = b[k:]
		if m == 0 {
			return nil, nil
		}
		m--
		if m > uint64(len(b))/8 {
			return nil, errCoxRowsShort
		}
		start := len(backing)
		for i := range int(m) {
			backing = append(backing, math.Float64frombits(binary.LittleEndian.Uint64(b[8*i:])))
		}
		b = b[8*m:]
		return backing[start:len(backing):len(backing)], nil
	}
	for i := range rows {
		r := &rows[i]
		var err error
		if r.Time, err = f64(); err != nil {
			return nil, fmt.Errorf("row %d: %w", i, err)
		}
		d, k := binary.Varint(b)
		if k <= 0 || d < math.MinInt32 || d > math.MaxInt32 {
			return nil, fmt.Errorf("row %d: bad event count", i)
		}
		b = b[k:]
		r.D = int(d)
		if r.R0, err = f64(); err != nil {
			return nil, fmt.Errorf("row %d: %w", i, err)
		}
		if r.E0, err = f64(); err != nil {
			return nil, fmt.Errorf("row %d: %w", i, err)
		}
		for _, dst := range []*Float64s{&r.R1, &r.R2, &r.E1, &r.E2} {
			v, err := vec()
			if err != nil {
				return nil, fmt.Errorf("row %d: %w", i, err)
			}
			*dst = v
		}
	}
	if len(b) != 0 {
		return nil, fmt.Errorf("%d bytes after the last row", len(b))
	}
	return rows, nil
}
