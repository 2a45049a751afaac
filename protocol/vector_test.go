package protocol

import (
	"encoding/json"
	"math"
	"strings"
	"testing"
)

func TestFloat64sRoundTrip(t *testing.T) {
	cases := []Float64s{
		nil,
		{},
		{0, math.Copysign(0, -1), 1, -2.5, 1e-300, math.MaxFloat64, 0.1 + 0.2, math.NaN(), math.Inf(1), math.Inf(-1)},
	}
	for _, in := range cases {
		b, err := json.Marshal(in)
		if err != nil {
			t.Fatal(err)
		}
		var out Float64s
		if err := json.Unmarshal(b, &out); err != nil {
			t.Fatalf("%s: %v", b, err)
		}
		if len(in) != len(out) {
			t.Fatalf("%v → %s → %v: length changed", in, b, out)
		}
		for i := range in {
			if math.Float64bits(in[i]) != math.Float64bits(out[i]) {
				t.Errorf("value %d: %v → %v, not bit for bit", i, in[i], out[i])
			}
		}
	}
}

func TestIntsRoundTrip(t *testing.T) {
	for _, in := range []Ints{nil, {}, {0, 1, -1, 63, 64, -65, 1 << 40, math.MaxInt, math.MinInt}} {
		b, err := json.Marshal(in)
		if err != nil {
			t.Fatal(err)
		}
		var out Ints
		if err := json.Unmarshal(b, &out); err != nil {
			t.Fatalf("%s: %v", b, err)
		}
		if len(in) != len(out) {
			t.Fatalf("%v → %s → %v: length changed", in, b, out)
		}
		for i := range in {
			if in[i] != out[i] {
				t.Errorf("value %d: %d → %d", i, in[i], out[i])
			}
		}
	}
}

func TestVectorsDecodePlainArraysAndEscapes(t *testing.T) {
	var f Float64s
	if err := json.Unmarshal([]byte(`[1, 2.5, -3]`), &f); err != nil || len(f) != 3 || f[1] != 2.5 {
		t.Errorf("plain array: %v, %v", f, err)
	}
	var n Ints
	if err := json.Unmarshal([]byte(`[4, 0, 7]`), &n); err != nil || len(n) != 3 || n[2] != 7 {
		t.Errorf("plain array: %v, %v", n, err)
	}
	// A JSON producer may escape the '/' of base64 as "\/"; the value below encodes with one.
	var plain, escaped Float64s
	b, _ := json.Marshal(Float64s{math.Float64frombits(0x3ff0fffffffffe00)})
	if !strings.ContainsAny(string(b), "/+") {
		t.Fatalf("test value %s has no '/' or '+' to escape", b)
	}
	if err := json.Unmarshal(b, &plain); err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal([]byte(strings.ReplaceAll(string(b), "/", `\/`)), &escaped); err != nil {
		t.Fatal(err)
	}
	if len(escaped) != 1 || math.Float64bits(escaped[0]) != math.Float64bits(plain[0]) {
		t.Errorf("escaped form decodes to %v, want %v", escaped, plain)
	}
}

func TestVectorsRefuseMalformed(t *testing.T) {
	for _, in := range []string{`"!!!!"`, `"AAAA"` /* 3 bytes: not whole float64s */, `"AA=="`, `{"a":1}`, `[1,"x"]`} {
		var f Float64s
		if err := json.Unmarshal([]byte(in), &f); err == nil {
			t.Errorf("Float64s accepted %s as %v", in, f)
		}
	}
	for _, in := range []string{`"!!!!"`, `"/w=="` /* 0xff: a varint that never ends */, `[1.5]`} {
		var n Ints
		if err := json.Unmarshal([]byte(in), &n); err == nil {
			t.Errorf("Ints accepted %s as %v", in, n)
		}
	}
}

func BenchmarkDecodeSurvivalGroup(b *testing.B) {
	g := SurvivalGroup{Group: "male"}
	for k := range 3000 {
		g.Time = append(g.Time, float64(k+1))
		g.Events = append(g.Events, k%7)
		g.Censor = append(g.Censor, k%3)
	}
	data, _ := json.Marshal(g)
	b.SetBytes(int64(len(data)))
	for b.Loop() {
		var out SurvivalGroup
		if err := json.Unmarshal(data, &out); err != nil {
			b.Fatal(err)
		}
	}
}
