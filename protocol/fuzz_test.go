package protocol

import (
	"bytes"
	"crypto/ed25519"
	"encoding/base64"
	"encoding/json"
	"math"
	"testing"
	"time"
)

// FuzzValidateReply: whatever bytes a site sends back, decoding and validating them never
// panics, and a reply that passes carries nothing the client could merge wrongly: no negative
// count, no non-finite number, survival times strictly increasing with vectors of one length.
func FuzzValidateReply(f *testing.F) {
	queries := []Query{survivalQuery(), coxQuery(CoxStratified), coxQuery(CoxPooled),
		{Version: Version, Kind: KindCount, ID: "q3", Study: "lung", GroupBy: "sex"}}
	for _, r := range []Reply{survivalReply(), coxReply(CoxStratified), coxReply(CoxPooled),
		{Version: Version, QueryID: "q3", Site: "inst1", Kind: KindCount, Count: &CountReply{Total: Count{N: 12},
			Groups: map[string]Count{"female": {N: 5}, "male": {N: 7}}}},
		{Version: Version, QueryID: "q1", Site: "inst1", Kind: KindSurvival, Error: &Error{Code: CodeRefusedByPolicy, Message: "small"}}} {
		b, _ := json.Marshal(r)
		framed, _ := MarshalReply(r) // the wire form: framed when it has pooled rows
		for i := range queries {
			f.Add(b, uint8(i))
			f.Add(framed, uint8(i))
		}
	}
	f.Add([]byte(`{"version":"v1","query_id":"q1","site":"x","kind":"survival","survival":{"groups":[{"time":[1,1],"events":[-1],"censor":[]}]}}`), uint8(0))
	f.Add([]byte(`{"version":"v1","query_id":"q2","site":"x","kind":"cox","cox":{"columns":["a"],"gradient":[1e999]}}`), uint8(1))
	f.Fuzz(func(t *testing.T, data []byte, which uint8) {
		q := queries[int(which)%len(queries)]
		var r Reply
		if UnmarshalReply(data, &r) != nil {
			return
		}
		if err := ValidateReply(q, r); err != nil {
			var pe *Error
			if e, ok := err.(*Error); !ok || e.Code != CodeInvalid || e.Message == "" {
				t.Fatalf("validation error %v (%T), want a coded invalid", err, pe)
			}
			return
		}
		if r.Error != nil {
			return
		}
		switch {
		case r.Survival != nil:
			for _, g := range r.Survival.Groups {
				if len(g.Events) != len(g.Time) || len(g.Censor) != len(g.Time) {
					t.Fatalf("accepted ragged group %+v", g)
				}
				for i, tm := range g.Time {
					if math.IsNaN(tm) || math.IsInf(tm, 0) || tm < 0 || i > 0 && tm <= g.Time[i-1] || g.Events[i] < 0 || g.Censor[i] < 0 {
						t.Fatalf("accepted impossible row %d of %+v", i, g)
					}
				}
			}
		case r.Count != nil:
			if r.Count.Total.N < 0 {
				t.Fatalf("accepted count %d", r.Count.Total.N)
			}
			for _, c := range r.Count.Groups {
				if c.N < 0 {
					t.Fatalf("accepted group count %d", c.N)
				}
			}
		case r.Cox != nil:
			for _, xs := range [][]float64{{r.Cox.LogLik}, r.Cox.Gradient, r.Cox.Hessian, r.Cox.EventXSum} {
				for _, x := range xs {
					if math.IsNaN(x) || math.IsInf(x, 0) {
						t.Fatalf("accepted non-finite Cox number in %+v", r.Cox)
					}
				}
			}
		}
	})
}

// FuzzVerifyQuery: whatever becomes of a signed query's bytes on the way, it either fails to
// decode, fails verification with code unauthenticated, or means exactly what was signed.
func FuzzVerifyQuery(f *testing.F) {
	key := ed25519.NewKeyFromSeed(bytes.Repeat([]byte{9}, ed25519.SeedSize))
	pub := key.Public().(ed25519.PublicKey)
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	lo, hi := 60.0, 70.0
	q := Query{Version: Version, Kind: KindSurvival, ID: "q", Analyst: "alice", Study: "lung", Endpoint: "os",
		Cohort: &Filter{Op: OpAnd, Args: []*Filter{{Op: OpEq, Var: "sex", Value: "female"}, {Op: OpRange, Var: "age", Min: &lo, Max: &hi}}}}
	// Signed by hand with a fixed nonce: the fuzzing workers must all rebuild the same seed.
	q.Auth = &Auth{Key: EncodePublicKey(pub), Time: now.Format(time.RFC3339Nano), Nonce: "000102030405060708090a0b0c0d0e0f"}
	want, err := QuerySigningBytes(q)
	if err != nil {
		f.Fatal(err)
	}
	q.Auth.Sig = base64.StdEncoding.EncodeToString(ed25519.Sign(key, want))
	signed, _ := json.Marshal(q)
	f.Add(signed)
	f.Add(bytes.Replace(signed, []byte("female"), []byte("male\u0000"), 1))
	f.Add(bytes.Replace(signed, []byte(`"min":60`), []byte(`"min":60.0000000001`), 1))
	f.Add(bytes.Replace(signed, []byte(`"study"`), []byte(`"STUDY"`), 1))
	f.Add(bytes.Replace(signed, []byte(`"id":"q"`), []byte(`"id":"q","id":"r"`), 1))
	f.Fuzz(func(t *testing.T, data []byte) {
		var got Query
		if json.Unmarshal(data, &got) != nil {
			return
		}
		if _, err := VerifyQuery(got, pub, now); err != nil {
			if e, ok := err.(*Error); !ok || e.Code != CodeUnauthenticated {
				t.Fatalf("verification error %v, want code unauthenticated", err)
			}
			return
		}
		b, err := QuerySigningBytes(got)
		if err != nil || !bytes.Equal(b, want) {
			t.Fatalf("a query that verifies means something else than what was signed:\n%s\n%s", b, want)
		}
	})
}
