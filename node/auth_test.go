package node

import (
	"context"
	"crypto/ed25519"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/oncofed/oncofed/protocol"
)

// testKey is a deterministic analyst key (seed byte b repeated).
func testKey(b byte) ed25519.PrivateKey {
	seed := make([]byte, ed25519.SeedSize)
	for i := range seed {
		seed[i] = b
	}
	return ed25519.NewKeyFromSeed(seed)
}

func pubText(k ed25519.PrivateKey) string {
	return protocol.EncodePublicKey(k.Public().(ed25519.PublicKey))
}

// signedLung is the whole lung study behind an engine that answers analysts alice and bob
// only, on a fixed clock, with signers for alice, bob and mallory (not listed).
type signedLung struct {
	e                   *Engine
	store               *SQLiteStore
	clock               *fixedClock
	alice, bob, mallory *protocol.Signer
	analysts            *Analysts
}

func newSignedLung(t *testing.T, pol protocol.Policy) *signedLung {
	t.Helper()
	clock := &fixedClock{t: time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)}
	a, err := ParseAnalysts(strings.NewReader(fmt.Sprintf("# analysts of the lung site\nalice %s trusted\n\nbob   %s trusted\n", pubText(testKey(1)), pubText(testKey(2)))))
	if err != nil {
		t.Fatal(err)
	}
	store := importFile(t, filepath.Join(t.TempDir(), "lung.db"), lungCSV, lungSpec)
	e, err := NewEngine(context.Background(), store, Config{Policy: &pol, Now: clock.now, Analysts: a})
	if err != nil {
		t.Fatal(err)
	}
	return &signedLung{e: e, store: store, clock: clock, analysts: a,
		alice: protocol.NewSigner(testKey(1), clock.now), bob: protocol.NewSigner(testKey(2), clock.now),
		mallory: protocol.NewSigner(testKey(3), clock.now)}
}

func sign(t *testing.T, s *protocol.Signer, q protocol.Query) protocol.Query {
	t.Helper()
	if err := s.Sign(&q); err != nil {
		t.Fatal(err)
	}
	return q
}

// handleJSON sends q through the JSON path, as the network does.
func handleJSON(t *testing.T, e *Engine, q protocol.Query) protocol.Reply {
	t.Helper()
	body, err := json.Marshal(q)
	if err != nil {
		t.Fatal(err)
	}
	var r protocol.Reply
	if err := json.Unmarshal(e.HandleJSON(context.Background(), body), &r); err != nil {
		t.Fatal(err)
	}
	return r
}

// lastAudit returns the newest audit record.
func lastAudit(t *testing.T, s *SQLiteStore) AuditRecord {
	t.Helper()
	recs, err := s.AuditRecords(context.Background())
	if err != nil || len(recs) == 0 {
		t.Fatalf("audit: %d records, %v", len(recs), err)
	}
	return recs[len(recs)-1]
}

func wantUnauthenticated(t *testing.T, sl *signedLung, r protocol.Reply, why string) {
	t.Helper()
	wantCode(t, r, protocol.CodeUnauthenticated)
	if !strings.Contains(r.Error.Message, why) {
		t.Errorf("refusal %q does not say %q", r.Error.Message, why)
	}
	// Logged, attributed to nobody, and not charged to anybody's budget.
	rec := lastAudit(t, sl.store)
	if rec.Outcome != OutcomeRefused || rec.Code != protocol.CodeUnauthenticated || rec.Analyst != "" || rec.Budgeted {
		t.Errorf("audit of the refusal: outcome %s code %s analyst %q budgeted %v", rec.Outcome, rec.Code, rec.Analyst, rec.Budgeted)
	}
}

// The honest path: a signed query by a listed analyst is answered, through the JSON path, and
// audited under the listed name; the catalog says the site requires signatures.
func TestSignedQueryAnswered(t *testing.T) {
	sl := newSignedLung(t, DefaultPolicy())
	r := mustOK(t, handleJSON(t, sl.e, sign(t, sl.alice, query(protocol.KindCount))))
	if r.Count.Total.N != 227 {
		t.Errorf("count %d, want 227 (the data rows of lung.csv)", r.Count.Total.N)
	}
	if rec := lastAudit(t, sl.store); rec.Analyst != "alice" || !rec.Budgeted || rec.Outcome != OutcomeReleased {
		t.Errorf("audit: %+v", rec.AuditEntry)
	}
	cat := mustOK(t, handleJSON(t, sl.e, sign(t, sl.bob, protocol.Query{Version: protocol.Version, Kind: protocol.KindCatalog, ID: "c"})))
	if cat.Catalog.Auth != AuthSigned {
		t.Errorf("catalog auth %q, want %q", cat.Catalog.Auth, AuthSigned)
	}
	open, _ := lungEngine(t, DefaultPolicy(), nil)
	if c := mustOK(t, open.Handle(context.Background(), protocol.Query{Version: protocol.Version, Kind: protocol.KindCatalog})); c.Catalog.Auth != AuthOpen || open.Auth() != AuthOpen {
		t.Errorf("open node's catalog auth %q", c.Catalog.Auth)
	}
}

// Attack: an unsigned query to a node that requires signatures, claiming to be alice.
func TestAttackUnsignedQuery(t *testing.T) {
	sl := newSignedLung(t, DefaultPolicy())
	for _, kind := range []protocol.Kind{protocol.KindCount, protocol.KindCatalog} {
		q := query(kind)
		if kind == protocol.KindCatalog {
			q.Study = ""
		}
		wantUnauthenticated(t, sl, handleJSON(t, sl.e, q), "signed queries only")
		if rec := lastAudit(t, sl.store); !strings.Contains(rec.Reason, `declared analyst "alice", not verified`) {
			t.Errorf("audit reason %q does not record the unverified claim", rec.Reason)
		}
	}
}

// Attack: a signature forged by mallory over alice's key, and signatures that are not
// signatures at all.
func TestAttackForgedSignature(t *testing.T) {
	sl := newSignedLung(t, DefaultPolicy())
	q := sign(t, sl.mallory, query(protocol.KindCount))
	q.Auth.Key = pubText(testKey(1)) // claims alice's key, signed with mallory's
	wantUnauthenticated(t, sl, handleJSON(t, sl.e, q), "does not verify")
	for name, sig := range map[string]string{
		"zero":      base64.StdEncoding.EncodeToString(make([]byte, ed25519.SignatureSize)),
		"short":     base64.StdEncoding.EncodeToString([]byte("sig")),
		"not b64":   "!!!",
		"empty":     "",
		"truncated": sign(t, sl.alice, query(protocol.KindCount)).Auth.Sig[:40],
	} {
		q := sign(t, sl.alice, query(protocol.KindCount))
		q.Auth.Sig = sig
		r := handleJSON(t, sl.e, q)
		if r.Error == nil || r.Error.Code != protocol.CodeUnauthenticated {
			t.Errorf("%s signature: %+v", name, r.Error)
		}
	}
}

// Attack: a genuine signed query altered in flight (or by its author, to escape a limit).
func TestAttackQueryAlteredAfterSigning(t *testing.T) {
	sl := newSignedLung(t, DefaultPolicy())
	base := query(protocol.KindCount)
	base.Cohort = eq("sex", "female")
	for name, alter := range map[string]func(q *protocol.Query){
		"cohort":    func(q *protocol.Query) { q.Cohort = eq("sex", "male") },
		"no cohort": func(q *protocol.Query) { q.Cohort = nil },
		"kind":      func(q *protocol.Query) { q.Kind = protocol.KindSurvival; q.Endpoint = "OS" },
		"group_by":  func(q *protocol.Query) { q.GroupBy = "ecog" },
		"study":     func(q *protocol.Query) { q.Study = "other" },
		"id":        func(q *protocol.Query) { q.ID = "another" },
		"analyst":   func(q *protocol.Query) { q.Analyst = "bob" },
		"time":      func(q *protocol.Query) { q.Auth.Time = sl.clock.t.Add(time.Second).Format(time.RFC3339Nano) },
		"nonce":     func(q *protocol.Query) { q.Auth.Nonce = strings.Repeat("ab", 16) },
		"key":       func(q *protocol.Query) { q.Auth.Key = pubText(testKey(2)) },
	} {
		q := sign(t, sl.alice, base)
		alter(&q)
		r := handleJSON(t, sl.e, q)
		if r.Error == nil || r.Error.Code != protocol.CodeUnauthenticated || !strings.Contains(r.Error.Message, "does not verify") {
			t.Errorf("altered %s: %+v", name, r.Error)
		}
	}
	// Unaltered, it is answered (the test can fail).
	mustOK(t, handleJSON(t, sl.e, sign(t, sl.alice, base)))
}

// Attack: replay a captured signed query, to the same node process and to a second process
// serving the same database.
func TestAttackReplay(t *testing.T) {
	sl := newSignedLung(t, DefaultPolicy())
	q := sign(t, sl.alice, query(protocol.KindCount))
	mustOK(t, handleJSON(t, sl.e, q))
	wantUnauthenticated(t, sl, handleJSON(t, sl.e, q), "replayed")
	pol := DefaultPolicy()
	second, err := NewEngine(context.Background(), sl.store, Config{Policy: &pol, Now: sl.clock.now, Analysts: sl.analysts})
	if err != nil {
		t.Fatal(err)
	}
	wantUnauthenticated(t, sl, handleJSON(t, second, q), "replayed")
	// A nonce is spent even when its query is refused by policy: the refused query cannot be
	// retried as is either.
	small := query(protocol.KindCount)
	small.Cohort = eq("ecog", "ecog3")
	s := sign(t, sl.alice, small)
	wantCode(t, handleJSON(t, sl.e, s), protocol.CodeRefusedByPolicy)
	wantUnauthenticated(t, sl, handleJSON(t, sl.e, s), "replayed")
	// Past the window a replay is stale (the nonce may then be forgotten).
	sl.clock.t = sl.clock.t.Add(protocol.MaxQueryAge + time.Second)
	wantUnauthenticated(t, sl, handleJSON(t, sl.e, q), "stale")
}

// Attack: a query signed long ago (or with a clock set far ahead) is refused; within the
// window and the skew it is answered.
func TestAttackStaleAndFutureQueries(t *testing.T) {
	sl := newSignedLung(t, DefaultPolicy())
	at := func(d time.Duration) protocol.Query {
		s := protocol.NewSigner(testKey(1), func() time.Time { return sl.clock.t.Add(d) })
		return sign(t, s, query(protocol.KindCount))
	}
	wantUnauthenticated(t, sl, handleJSON(t, sl.e, at(-protocol.MaxQueryAge-time.Second)), "stale")
	wantUnauthenticated(t, sl, handleJSON(t, sl.e, at(-24*time.Hour)), "stale")
	wantUnauthenticated(t, sl, handleJSON(t, sl.e, at(protocol.MaxClockSkew+time.Second)), "future")
	mustOK(t, handleJSON(t, sl.e, at(-protocol.MaxQueryAge+time.Second)))
	mustOK(t, handleJSON(t, sl.e, at(protocol.MaxClockSkew-time.Second)))
}

// Attack: a perfectly signed query by a key the site has not authorised.
func TestAttackUnknownKey(t *testing.T) {
	sl := newSignedLung(t, DefaultPolicy())
	q := query(protocol.KindCount)
	q.Analyst = "alice" // claims a listed name; the key decides
	wantUnauthenticated(t, sl, handleJSON(t, sl.e, sign(t, sl.mallory, q)), "not among this site's authorised analysts")
	q = sign(t, sl.alice, query(protocol.KindCount))
	q.Auth.Key = "not a key"
	wantUnauthenticated(t, sl, handleJSON(t, sl.e, q), "not an Ed25519 public key")
}

// Attack: alice declares herself bob (or nobody) in signed queries to escape her daily
// budget; and an impostor spends alice's budget with unsigned queries in her name.
func TestAttackIdentitySpoofingBudget(t *testing.T) {
	pol := DefaultPolicy()
	pol.DailyQueryBudget = 3
	sl := newSignedLung(t, pol)
	for _, claim := range []string{"alice", "bob", ""} {
		q := query(protocol.KindCount)
		q.Analyst = claim
		mustOK(t, handleJSON(t, sl.e, sign(t, sl.alice, q)))
		if rec := lastAudit(t, sl.store); rec.Analyst != "alice" {
			t.Errorf("query declaring %q audited as %q, want the key's name alice", claim, rec.Analyst)
		}
	}
	q := query(protocol.KindCount)
	q.Analyst = "bob"
	r := handleJSON(t, sl.e, sign(t, sl.alice, q))
	wantCode(t, r, protocol.CodeRefusedByPolicy)
	if !strings.Contains(r.Error.Message, `analyst "alice"`) {
		t.Errorf("budget refusal %q does not name the verified analyst", r.Error.Message)
	}
	// Bob's budget is untouched by alice's claims.
	mustOK(t, handleJSON(t, sl.e, sign(t, sl.bob, query(protocol.KindCount))))

	// Unsigned queries in bob's name do not spend his budget.
	for i := 0; i < 5; i++ {
		q := query(protocol.KindCount)
		q.Analyst = "bob"
		wantCode(t, handleJSON(t, sl.e, q), protocol.CodeUnauthenticated)
	}
	mustOK(t, handleJSON(t, sl.e, sign(t, sl.bob, query(protocol.KindCount))))
}

// Attack: alice gets cohort A, then A minus one patient declaring another analyst, to
// difference it past the overlap guard.
func TestAttackIdentitySpoofingOverlapGuard(t *testing.T) {
	sl := newSignedLung(t, DefaultPolicy())
	a := query(protocol.KindCount)
	a.Cohort = eq("sex", "female")
	mustOK(t, handleJSON(t, sl.e, sign(t, sl.alice, a)))
	minusOne := query(protocol.KindCount)
	minusOne.Cohort = and(eq("sex", "female"), rng("age", nil, fp(76))) // all 90 women but the 77-year-old
	for _, claim := range []string{"carol", "bob", ""} {
		minusOne.Analyst = claim
		r := handleJSON(t, sl.e, sign(t, sl.alice, minusOne))
		wantCode(t, r, protocol.CodeRefusedByPolicy)
		if !strings.Contains(r.Error.Message, "overlap guard") {
			t.Errorf("declaring %q: %v", claim, r.Error)
		}
	}
	// Bob, who holds his own key and has not seen A, may ask (the guard is per verified analyst).
	mustOK(t, handleJSON(t, sl.e, sign(t, sl.bob, minusOne)))
}

func TestParseAnalysts(t *testing.T) {
	k1, k2 := pubText(testKey(1)), pubText(testKey(2))
	for _, tc := range []struct{ in, err string }{
		{"alice " + k1 + "\nbob " + k1 + "\n", "line 2: this key is already listed"},
		{"alice " + k1 + "\nalice " + k2 + "\n", `line 2: "alice" already listed on line 1`},
		{"alice\n", "line 1: want NAME PUBLIC-KEY"},
		{"# only a comment\n", "no analyst listed"},
		{"alice " + k1 + " extra\n", `line 1: unknown role "extra"`},
		{"alice " + k1 + " trusted x\n", "line 1: want NAME PUBLIC-KEY [ROLE], got 4"},
		{"\n\nalice AAAA\n", "line 3:"},
	} {
		if _, err := ParseAnalysts(strings.NewReader(tc.in)); err == nil || !strings.Contains(err.Error(), tc.err) {
			t.Errorf("%q: %v, want %q", tc.in, err, tc.err)
		}
	}
	a, err := ParseAnalysts(strings.NewReader("alice " + k1 + "\n  bob\t" + k2 + "  trusted\n"))
	if err != nil || a.Len() != 2 {
		t.Fatalf("%v, %v", a, err)
	}
	// Trusted only when the file says so.
	for name, want := range map[string]Role{"alice": RoleDP, "bob": RoleTrusted} {
		if got, ok := a.Role(name); !ok || got != want {
			t.Errorf("role of %s: %q, %v; want %q", name, got, ok, want)
		}
	}
}

// Attack class 1 of the privacy review (declared identity): on a node that trusted the name a
// query declares, the attacker got A and A minus one patient (the 77-year-old woman) by
// switching names, and read her age off the sums. Now a node has no such mode by default:
// the engine refuses to run without an analysts list unless told insecure-open, every reply of
// an insecure-open node says so, and a signed node keys the guard on the key, whatever name
// the query declares. The attacker recovers nothing.
func TestAttackDeclaredIdentity(t *testing.T) {
	store := importFile(t, filepath.Join(t.TempDir(), "lung.db"), lungCSV, lungSpec)
	pol := DefaultPolicy()
	if _, err := NewEngine(context.Background(), store, Config{Policy: &pol}); err != ErrNoAnalysts {
		t.Fatalf("an engine without analysts or insecure-open: %v, want ErrNoAnalysts", err)
	}

	// An insecure-open node labels its catalog and every reply, answered or refused.
	open, _ := lungEngine(t, pol, nil)
	for _, q := range []protocol.Query{query(protocol.KindCatalog), query(protocol.KindCount), {Version: protocol.Version, Kind: "nonsense"}} {
		if r := open.Handle(context.Background(), q); r.Policy.Auth != protocol.AuthOpen {
			t.Errorf("open node's reply to %q not labelled open: %+v", q.Kind, r.Policy)
		}
	}

	sl := newSignedLung(t, pol)
	a := query(protocol.KindSummary)
	a.Cohort = eq("sex", "female")
	a.Variables = []string{"age"}
	minusOne := a
	minusOne.Cohort = and(eq("sex", "female"), rng("age", nil, fp(76))) // all 90 women but the 77-year-old
	recovered := 0
	for _, claims := range [][2]string{{"alice", "alice"}, {"alice", "carol"}, {"x1", "x2"}, {"", "bob"}} {
		qa, qm := a, minusOne
		qa.Analyst, qm.Analyst = claims[0], claims[1]
		ra := handleJSON(t, sl.e, sign(t, sl.alice, qa))
		rm := handleJSON(t, sl.e, sign(t, sl.alice, qm))
		if ra.Error == nil && rm.Error == nil {
			recovered++
		}
		if rec := lastAudit(t, sl.store); rec.Analyst != "alice" {
			t.Errorf("declaring %q: audited as %q, want the key's name", claims[1], rec.Analyst)
		}
		if r := handleJSON(t, sl.e, sign(t, sl.alice, query(protocol.KindCatalog))); r.Policy.Auth != "" {
			t.Errorf("signed node's reply labelled %q", r.Policy.Auth)
		}
	}
	if recovered != 0 {
		t.Errorf("the attacker got both A and A minus one patient in %d of 4 tries", recovered)
	}
}
