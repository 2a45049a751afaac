package protocol

import (
	"crypto/ed25519"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"
)

// Signed queries. An analyst holds an Ed25519 key pair; the client signs every query and a
// node that keeps a list of authorised analyst keys verifies the signature, refuses a stale
// or replayed query, and takes the analyst's identity from the key (never from the
// self-declared Query.Analyst field).
//
// The signed bytes of a query q with q.Auth = {Key, Time, Nonce, Sig} are
//
//	SigningContext || json.Marshal(q with Auth.Sig = "")
//
// that is, the query's JSON encoding as produced by encoding/json from the Query type
// (fields in declaration order, map keys sorted, floats in their shortest round-trip form)
// with the signature field empty and the key, time and nonce in place, after a fixed
// domain-separation prefix. A node recomputes the bytes from the query it decoded (unknown
// fields are refused before), so the signature covers exactly what the node acts on: no
// field can be added, dropped or altered after signing.
const SigningContext = "oncofed query signature v1\x00"

// Signature windows. A node refuses a query signed more than MaxQueryAge ago or more than
// MaxClockSkew in the future; nonces are remembered for the whole window, so a replay is
// caught either as a seen nonce or as stale.
const (
	MaxQueryAge  = 5 * time.Minute
	MaxClockSkew = 1 * time.Minute
)

// CodeUnauthenticated is the code of a query refused for its signature: missing where the
// node requires one, forged, altered after signing, by a key the node does not know, stale,
// from the future or replayed.
const CodeUnauthenticated = "unauthenticated"

// Auth is a query's signature block.
type Auth struct {
	// Key is the analyst's Ed25519 public key, standard base64 (as in the node's analysts file).
	Key string `json:"key"`
	// Time is when the query was signed, RFC 3339 with nanoseconds, UTC.
	Time string `json:"time"`
	// Nonce is 128 random bits in hex, unique per signed query.
	Nonce string `json:"nonce"`
	// Sig is the Ed25519 signature of QuerySigningBytes, standard base64.
	Sig string `json:"sig"`
}

// QuerySigningBytes returns the bytes an analyst signs for q (see SigningContext): q's JSON
// with Auth.Sig emptied. q.Auth must be set.
func QuerySigningBytes(q Query) ([]byte, error) {
	if q.Auth == nil {
		return nil, errors.New("protocol: query has no auth block")
	}
	a := *q.Auth
	a.Sig = ""
	q.Auth = &a
	body, err := json.Marshal(q)
	if err != nil {
		return nil, fmt.Errorf("protocol: encode query for signing: %w", err)
	}
	return append([]byte(SigningContext), body...), nil
}

// EncodePublicKey is the text form of an Ed25519 public key: standard base64 of its 32 bytes.
func EncodePublicKey(pub ed25519.PublicKey) string {
	return base64.StdEncoding.EncodeToString(pub)
}

// ParsePublicKey reads the text form of an Ed25519 public key (EncodePublicKey).
func ParsePublicKey(s string) (ed25519.PublicKey, error) {
	b, err := base64.StdEncoding.DecodeString(strings.TrimSpace(s))
	if err != nil || len(b) != ed25519.PublicKeySize {
		return nil, fmt.Errorf("protocol: %q is not a base64 Ed25519 public key of %d bytes", clipText(s), ed25519.PublicKeySize)
	}
	return ed25519.PublicKey(b), nil
}

// Signer signs queries with an analyst's private key. It is safe for concurrent use.
type Signer struct {
	key ed25519.PrivateKey
	pub string
	now func() time.Time
}

// NewSigner returns a signer for key; now is the clock (nil: time.Now).
func NewSigner(key ed25519.PrivateKey, now func() time.Time) *Signer {
	if len(key) != ed25519.PrivateKeySize {
		panic("protocol: NewSigner: not an Ed25519 private key")
	}
	if now == nil {
		now = time.Now
	}
	return &Signer{key: key, pub: EncodePublicKey(key.Public().(ed25519.PublicKey)), now: now}
}

// PublicKey returns the text form of the signer's public key.
func (s *Signer) PublicKey() string { return s.pub }

// Sign sets q.Auth to a fresh signature (new time and nonce) over q as it is now; any later
// change to q invalidates it.
func (s *Signer) Sign(q *Query) error {
	var nonce [16]byte
	if _, err := rand.Read(nonce[:]); err != nil {
		return fmt.Errorf("protocol: nonce: %w", err)
	}
	q.Auth = &Auth{Key: s.pub, Time: s.now().UTC().Format(time.RFC3339Nano), Nonce: hex.EncodeToString(nonce[:])}
	msg, err := QuerySigningBytes(*q)
	if err != nil {
		q.Auth = nil
		return err
	}
	q.Auth.Sig = base64.StdEncoding.EncodeToString(ed25519.Sign(s.key, msg))
	return nil
}

// VerifyQuery checks q's signature against pub and its time against now: it returns the
// signing time, or a *Error of code CodeUnauthenticated saying what is wrong (no signature,
// a malformed block, a signature that does not verify, a signing time more than MaxQueryAge
// before now or more than MaxClockSkew after it). Whether pub is authorised, and whether the
// nonce was seen before, is the verifier's business (node.Authenticator).
func VerifyQuery(q Query, pub ed25519.PublicKey, now time.Time) (time.Time, error) {
	fail := func(format string, args ...any) (time.Time, error) {
		return time.Time{}, &Error{Code: CodeUnauthenticated, Message: fmt.Sprintf(format, args...)}
	}
	if q.Auth == nil {
		return fail("the query is not signed")
	}
	a := q.Auth
	if len(pub) != ed25519.PublicKeySize {
		return fail("no usable public key")
	}
	if n, err := hex.DecodeString(a.Nonce); err != nil || len(n) < 16 || len(n) > 64 {
		return fail("auth.nonce: want 16 to 64 random bytes in hex")
	}
	at, err := time.Parse(time.RFC3339Nano, a.Time)
	if err != nil {
		return fail("auth.time: %q is not an RFC 3339 time", clipText(a.Time))
	}
	sig, err := base64.StdEncoding.DecodeString(a.Sig)
	if err != nil || len(sig) != ed25519.SignatureSize {
		return fail("auth.sig: not a base64 Ed25519 signature")
	}
	msg, err := QuerySigningBytes(q)
	if err != nil {
		return fail("the query cannot be encoded for verification")
	}
	if !ed25519.Verify(pub, msg, sig) {
		return fail("the signature does not verify: forged, or the query was altered after signing")
	}
	// Times are checked after the signature so that a forged time is reported as a forgery.
	switch age := now.Sub(at); {
	case age > MaxQueryAge:
		return fail("stale: signed %s ago, more than %s", age.Round(time.Second), MaxQueryAge)
	case -age > MaxClockSkew:
		return fail("signed %s in the future, more than the allowed clock skew of %s", (-age).Round(time.Second), MaxClockSkew)
	}
	return at, nil
}

// clipText shortens s for an error message.
func clipText(s string) string {
	const n = 80
	if len(s) > n {
		return s[:n] + "…"
	}
	return s
}
