package protocol

import (
	"bytes"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"math"
)

// Float64s is a vector of numbers that travels as base64 of little-endian IEEE-754 binary64
// values. It is exact (bit for bit, like Go's shortest decimal form, but including NaN and
// ±Inf, which the validator then refuses), a third smaller than decimal text, and an order of
// magnitude cheaper to encode and decode: survival tables and Cox risk-set rows run to
// megabytes per site, and decimal JSON dominated a federated fit's time. A plain JSON array of
// numbers also decodes, so hand-written queries, tests and older caches still read.
type Float64s []float64

// MarshalText encodes f as base64; encoding/json writes it as a JSON string. (MarshalText
// rather than MarshalJSON: encoding/json re-scans a MarshalJSON result, which made encoding
// slower than decimal text; a text result is only quoted.) A nil vector encodes as "".
func (f Float64s) MarshalText() ([]byte, error) {
	raw := make([]byte, 8*len(f))
	for i, x := range f {
		binary.LittleEndian.PutUint64(raw[8*i:], math.Float64bits(x))
	}
	return encodeBase64(raw), nil
}

// UnmarshalJSON decodes a base64 string written by MarshalText or a JSON array of numbers.
func (f *Float64s) UnmarshalJSON(b []byte) error {
	raw, isString, err := unquoteBase64(b)
	if err != nil {
		return fmt.Errorf("protocol: number vector: %w", err)
	}
	if !isString {
		var xs []float64
		if err := json.Unmarshal(b, &xs); err != nil {
			return err
		}
		*f = xs
		return nil
	}
	if len(raw)%8 != 0 {
		return fmt.Errorf("protocol: number vector: %d bytes is not a whole number of 8-byte values", len(raw))
	}
	out := make(Float64s, len(raw)/8)
	for i := range out {
		out[i] = math.Float64frombits(binary.LittleEndian.Uint64(raw[8*i:]))
	}
	*f = out
	return nil
}

// Ints is a vector of counts that travels as base64 of zig-zag varints (one or two bytes for
// the counts of a survival table). A plain JSON array of integers also decodes.
type Ints []int

// MarshalText encodes n as base64 of zig-zag varints (see Float64s.MarshalText).
func (n Ints) MarshalText() ([]byte, error) {
	raw := make([]byte, 0, 2*len(n))
	for _, x := range n {
		raw = binary.AppendVarint(raw, int64(x))
	}
	return encodeBase64(raw), nil
}

// UnmarshalJSON decodes a base64 string written by MarshalText or a JSON array of integers.
func (n *Ints) UnmarshalJSON(b []byte) error {
	raw, isString, err := unquoteBase64(b)
	if err != nil {
		return fmt.Errorf("protocol: count vector: %w", err)
	}
	if !isString {
		var xs []int
		if err := json.Unmarshal(b, &xs); err != nil {
			return err
		}
		*n = xs
		return nil
	}
	out := make(Ints, 0, len(raw))
	for len(raw) > 0 {
		x, k := binary.Varint(raw)
		if k <= 0 || x < math.MinInt || x > math.MaxInt {
			return fmt.Errorf("protocol: count vector: malformed varint at value %d", len(out))
		}
		out = append(out, int(x))
		raw = raw[k:]
	}
	*n = out
	return nil
}

func encodeBase64(raw []byte) []byte {
	out := make([]byte, base64.StdEncoding.EncodedLen(len(raw)))
	base64.StdEncoding.Encode(out, raw)
	return out
}

// unquoteBase64 decodes b when it is a JSON string of base64; isString is false (and err nil)
// for any other JSON value, which the caller then decodes as an array.
func unquoteBase64(b []byte) (raw []byte, isString bool, err error) {
	if len(b) == 0 || b[0] != '"' {
		return nil, false, nil
	}
	var text []byte
	if len(b) >= 2 && b[len(b)-1] == '"' {
		text = b[1 : len(b)-1]
	}
	if text == nil || bytes.IndexByte(text, '\\') >= 0 {
		// Unusual form (a producer escaping '/' as "\/", say): let encoding/json unquote it.
		var s string
		if err := json.Unmarshal(b, &s); err != nil {
			return nil, true, err
		}
		text = []byte(s)
	}
	raw = make([]byte, base64.StdEncoding.DecodedLen(len(text)))
	n, err := base64.StdEncoding.Decode(raw, text)
	return raw[:n], true, err
}
