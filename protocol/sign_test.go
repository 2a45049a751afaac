package protocol

import (
	"crypto/ed25519"
	"crypto/rand"
	"encoding/json"
	"math"
	"strings"
	"testing"
	"time"
)

// TestSignVerify: a signed query verifies after a JSON round trip (what the node receives),
// and not once any signed part changed; the key file round-trips.
func TestSignVerify(t *testing.T) {
	pub, key, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Date(2026, 3, 1, 12, 0, 0, 123456789, time.UTC)
	s := NewSigner(key, func() time.Time { return now })
	beta := []float64{0.1, 1.0 / 3}
	q := Query{Version: Version, Kind: KindCox, ID: "q", Study: "lung", Endpoint: "os",
		Cox: &CoxRequest{Form: CoxPooledSums, Ties: "efron", Covariates: []string{"sex", "age"}, Beta: beta,
			Levels: map[string][]string{"sex": {"female", "male"}, "ecog": {"0", "1"}}}}
	if err := s.Sign(&q); err != nil {
		t.Fatal(err)
	}
	body, _ := json.Marshal(q)
	var got Query
	if err := json.Unmarshal(body, &got); err != nil {
		t.Fatal(err)
	}
	if at, err := VerifyQuery(got, pub, now.Add(time.Minute)); err != nil || !at.Equal(now) {
		t.Fatalf("verify: %v, %v", at, err)
	}
	got.Cox.Beta[1] = math.Nextafter(1.0/3, 1) // one ulp away
	if _, err := VerifyQuery(got, pub, now); err == nil {
		t.Error("a β changed by one ulp verifies")
	}
	got.Cox.Beta[1] = 1.0 / 3
	other, _, _ := ed25519.GenerateKey(rand.Reader)
	if _, err := VerifyQuery(got, other, now); err == nil || !strings.Contains(err.Error(), "does not verify") {
		t.Errorf("verified against another key: %v", err)
	}
	pemKey, err := MarshalPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	back, err := ParsePrivateKey(pemKey)
	if err != nil || !back.Equal(key) {
		t.Fatalf("key file round trip: %v", err)
	}
	if _, err := ParsePrivateKey([]byte("-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n")); err == nil {
		t.Error("garbage key parsed")
	}
	if p, err := ParsePublicKey(s.PublicKey()); err != nil || !p.Equal(pub) {
		t.Errorf("public key text round trip: %v", err)
	}
}

// TestSignatureCoversFeasibility: a signed query cannot be turned into a feasibility count or
// out of one (an approximate, unremembered count into an exact one, or back) after signing.
func TestSignatureCoversFeasibility(t *testing.T) {
	pub, key, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	s := NewSigner(key, func() time.Time { return now })
	for _, feas := range []bool{true, false} {
		q := Query{Version: Version, Kind: KindCount, ID: "q", Study: "lung", Feasibility: feas,
			Cohort: &Filter{Op: OpEq, Var: "sex", Value: "female"}}
		if err := s.Sign(&q); err != nil {
			t.Fatal(err)
		}
		body, _ := json.Marshal(q)
		var got Query
		if err := json.Unmarshal(body, &got); err != nil {
			t.Fatal(err)
		}
		if _, err := VerifyQuery(got, pub, now); err != nil {
			t.Fatalf("feasibility=%v: the signed query does not verify: %v", feas, err)
		}
		if strings.Contains(string(body), `"feasibility":true`) != feas {
			t.Fatalf("feasibility=%v: encoded as %s", feas, body)
		}
		got.Feasibility = !feas
		if _, err := VerifyQuery(got, pub, now); err == nil || !strings.Contains(err.Error(), "does not verify") {
			t.Errorf("feasibility flipped from %v after signing still verifies: %v", feas, err)
		}
	}
}
