package protocol

import (
	"encoding/base64"
	"encoding/json"
	"math"
	"reflect"
	"strings"
	"testing"
)

func sampleCoxRows() CoxRows {
	return CoxRows{
		{Time: 5, D: 2, R0: 3.5, R1: Float64s{1, -2}, R2: Float64s{1, 2, 2, 4}, E0: 1.25, E1: Float64s{0.5, 0}, E2: Float64s{0.25, 0, 0, 0}},
		{Time: 11.5, D: 0, R0: math.Nextafter(1, 2), R1: Float64s{0.1 + 0.2, math.Copysign(0, -1)}, R2: Float64s{1e-300, 0, 0, math.MaxFloat64}},
		{Time: 30, D: 1, R0: 2, R1: Float64s{}, R2: Float64s{}, E0: 2, E1: Float64s{}, E2: Float64s{}},
	}
}

func TestCoxRowsRoundTrip(t *testing.T) {
	in := CoxReply{Columns: []string{"age", "sexmale"}, N: 6, Events: 3, Rows: sampleCoxRows(), EventXSum: []float64{1, 2}}
	b, err := json.Marshal(in)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(b), `"r1"`) {
		t.Fatalf("rows were written as JSON objects: %s", b)
	}
	var out CoxReply
	if err := json.Unmarshal(b, &out); err != nil {
		t.Fatal(err)
	}
	// DeepEqual distinguishes nil from empty vectors and compares floats with ==, so -0 and
	// the values' bits are checked too (no NaN in the sample).
	if !reflect.DeepEqual(in, out) {
		t.Errorf("round trip changed the reply:\n in  %+v\n out %+v", in.Rows, out.Rows)
	}
	if math.Signbit(out.Rows[1].R1[1]) != true {
		t.Error("-0 lost its sign")
	}
	// An empty row set is omitted, like any empty slice.
	b, _ = json.Marshal(CoxReply{})
	if strings.Contains(string(b), "rows") {
		t.Errorf("empty rows written: %s", b)
	}
}

func TestCoxRowsDecodePlainArray(t *testing.T) {
	var c CoxReply
	err := json.Unmarshal([]byte(`{"rows":[{"time":5,"d":1,"r0":2,"r1":[1],"r2":[1],"e0":1,"e1":[1],"e2":[1]}]}`), &c)
	if err != nil || len(c.Rows) != 1 || c.Rows[0].R0 != 2 || len(c.Rows[0].E2) != 1 {
		t.Errorf("plain rows: %+v, %v", c.Rows, err)
	}
}

func TestCoxRowsRefuseMalformed(t *testing.T) {
	good, _ := sampleCoxRows().MarshalText()
	raw, _ := base64.StdEncoding.DecodeString(string(good))
	enc := func(b []byte) string { return `"` + base64.StdEncoding.EncodeToString(b) + `"` }
	cases := map[string]string{
		"truncated":      enc(raw[:len(raw)-3]),
		"trailing bytes": enc(append(append([]byte{}, raw...), 0)),
		"unknown format": enc(append([]byte{9}, raw[1:]...)),
		"huge row count": enc([]byte{coxRowsFormat, 0xff, 0xff, 0xff, 0xff, 0x0f}),
		"empty block":    `""`,
		"not base64":     `"**"`,
	}
	for name, in := range cases {
		var rs CoxRows
		if err := json.Unmarshal([]byte(in), &rs); err == nil {
			t.Errorf("%s: accepted as %d rows", name, len(rs))
		}
	}
}
