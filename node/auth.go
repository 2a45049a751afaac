package node

import (
	"bufio"
	"context"
	"crypto/ed25519"
	"fmt"
	"io"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/oncofed/oncofed/protocol"
)

// Analysts is a node's list of authorised analysts: a name and a role per Ed25519 public
// key. With a list configured (Config.Analysts) the node answers signed queries only and keys
// the budget, the overlap guard and the audit log on the name the list gives the signing key.
// A node runs without one only when started insecure-open (Config.InsecureOpen), for demos
// and closed test networks: it then takes the self-declared Query.Analyst at its word, and
// says so in its catalog (Catalog.Auth "open") and in every reply (PolicyEffects.Auth).
type Analysts struct {
	byKey map[string]analystKey // by the key's text form
}

type analystKey struct {
	name string
	role Role
	pub  ed25519.PublicKey
}

// Role is what an analyst's releases are made of.
type Role string

const (
	// RoleTrusted analysts are named under a data-use agreement: they get the policy's
	// rule-based releases (exact, or coarsened with small cells suppressed).
	RoleTrusted Role = "trusted"
	// RoleDP is everyone else (the default of an analysts line without a role): releases are
	// differentially private, charged to the analyst's privacy budget.
	RoleDP Role = "dp"
)

// ParseRole reads a role name of the analysts file.
func ParseRole(s string) (Role, error) {
	switch r := Role(s); r {
	case RoleTrusted, RoleDP:
		return r, nil
	}
	return "", fmt.Errorf("unknown role %q (want %s or %s)", clip(s), RoleTrusted, RoleDP)
}

// ParseAnalysts reads an analysts file: one `NAME PUBLIC-KEY [ROLE]` per line, the key in
// protocol.EncodePublicKey's text form (what `oncofed-cli keygen` prints), the role trusted
// or dp (the default: an analyst is trusted only when the file says so); blank lines and
// lines starting with # are ignored. A malformed line, an unknown role, a name or a key
// listed twice, or an empty list is refused with the line number.
func ParseAnalysts(r io.Reader) (*Analysts, error) {
	a := &Analysts{byKey: map[string]analystKey{}}
	names := map[string]int{}
	sc := bufio.NewScanner(r)
	line := 0
	for sc.Scan() {
		line++
		text := strings.TrimSpace(sc.Text())
		if text == "" || strings.HasPrefix(text, "#") {
			continue
		}
		fields := strings.Fields(text)
		if len(fields) != 2 && len(fields) != 3 {
			return nil, fmt.Errorf("node: analysts line %d: want NAME PUBLIC-KEY [ROLE], got %d fields", line, len(fields))
		}
		name, keyText, role := fields[0], fields[1], RoleDP
		if len(fields) == 3 {
			r, err := ParseRole(fields[2])
			if err != nil {
				return nil, fmt.Errorf("node: analysts line %d: %v", line, err)
			}
			role = r
		}
		if len(name) > protocol.MaxNameLen {
			return nil, fmt.Errorf("node: analysts line %d: name longer than %d bytes", line, protocol.MaxNameLen)
		}
		pub, err := protocol.ParsePublicKey(keyText)
		if err != nil {
			return nil, fmt.Errorf("node: analysts line %d: %v", line, err)
		}
		k := protocol.EncodePublicKey(pub)
		if prev, ok := names[name]; ok {
			return nil, fmt.Errorf("node: analysts line %d: %q already listed on line %d", line, name, prev)
		}
		if prev, ok := a.byKey[k]; ok {
			return nil, fmt.Errorf("node: analysts line %d: this key is already listed for %q", line, prev.name)
		}
		names[name] = line
		a.byKey[k] = analystKey{name: name, role: role, pub: pub}
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("node: analysts: %w", err)
	}
	if len(a.byKey) == 0 {
		return nil, fmt.Errorf("node: analysts: no analyst listed")
	}
	return a, nil
}

// LoadAnalysts reads an analysts file (ParseAnalysts).
func LoadAnalysts(path string) (*Analysts, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("node: analysts: %w", err)
	}
	defer f.Close()
	a, err := ParseAnalysts(f)
	if err != nil {
		return nil, fmt.Errorf("%w (%s)", err, path)
	}
	return a, nil
}

// Len is the number of authorised analysts.
func (a *Analysts) Len() int { return len(a.byKey) }

// Role returns the role of the analyst called name, and whether the list holds that name.
func (a *Analysts) Role(name string) (Role, bool) {
	for _, k := range a.byKey {
		if k.name == name {
			return k.role, true
		}
	}
	return "", false
}

// Authentication modes published in the catalog (protocol.Catalog.Auth) and in every reply
// of an open node (protocol.PolicyEffects.Auth).
const (
	AuthSigned = "signed"          // every query must carry a valid signature by a listed analyst
	AuthOpen   = protocol.AuthOpen // insecure-open: the declared analyst name is trusted (demos, tests)
)

// identity is who a query is answered for: the listed name of the signing key and its role,
// or, on an insecure-open node, the declared name (role trusted: an open node has no identity
// to charge a privacy budget to, so it applies its rules, and says it is open).
type identity struct {
	name string
	role Role
}

// NonceStore is implemented by stores that remember the nonces of signed queries, so that
// several node processes serving one database refuse a query replayed to any of them.
// SQLiteStore implements it; with another store the engine remembers nonces in memory.
type NonceStore interface {
	// UseNonce records (key, nonce) until expires and reports whether it was unseen.
	UseNonce(ctx context.Context, key, nonce string, now, expires time.Time) (bool, error)
}

// nonceMemory remembers nonces in memory until they expire.
type nonceMemory struct {
	mu        sync.Mutex
	seen      map[[2]string]time.Time
	lastPrune time.Time
}

func (m *nonceMemory) UseNonce(_ context.Context, key, nonce string, now, expires time.Time) (bool, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.seen == nil {
		m.seen = map[[2]string]time.Time{}
	}
	// Pruning is a full pass: at most once a minute keeps it off the per-query path.
	if now.Sub(m.lastPrune) > time.Minute {
		for k, exp := range m.seen {
			if exp.Before(now) {
				delete(m.seen, k)
			}
		}
		m.lastPrune = now
	}
	k := [2]string{key, nonce}
	if _, ok := m.seen[k]; ok {
		return false, nil
	}
	m.seen[k] = expires
	return true, nil
}

// authenticate returns the identity a query is answered for. Open mode: the declared analyst.
// With an analyst list: the listed name and role of the key whose valid, fresh, unreplayed
// signature the query carries; anything else is refused with code unauthenticated before any
// data is read. The nonce is spent on the first valid use, whatever the later outcome.
func (e *Engine) authenticate(ctx context.Context, q *protocol.Query) (identity, error) {
	if e.analysts == nil {
		return identity{name: q.Analyst, role: RoleTrusted}, nil
	}
	if q.Auth == nil {
		return identity{}, errorf(protocol.CodeUnauthenticated, "this site answers signed queries only (sign with an analyst key: oncofed-cli keygen)")
	}
	pub, err := protocol.ParsePublicKey(q.Auth.Key)
	if err != nil {
		return identity{}, errorf(protocol.CodeUnauthenticated, "auth.key: not an Ed25519 public key")
	}
	k, ok := e.analysts.byKey[protocol.EncodePublicKey(pub)]
	if !ok {
		return identity{}, errorf(protocol.CodeUnauthenticated, "the signing key is not among this site's authorised analysts")
	}
	now := e.now()
	at, err := protocol.VerifyQuery(*q, k.pub, now)
	if err != nil {
		return identity{}, err
	}
	// Remember the nonce for as long as the query would pass the time check.
	fresh, err := e.nonces.UseNonce(ctx, q.Auth.Key, q.Auth.Nonce, now, at.Add(protocol.MaxQueryAge+protocol.MaxClockSkew))
	if err != nil {
		return identity{}, errorf(protocol.CodeInternal, "replay guard unavailable")
	}
	if !fresh {
		return identity{}, errorf(protocol.CodeUnauthenticated, "replayed: this signed query (nonce %s) was received before", clip(q.Auth.Nonce))
	}
	return identity{name: k.name, role: k.role}, nil
}

// checkRole refuses, before any data is read, a query whose release the analyst's role does
// not allow. A dp analyst gets differentially private releases only (dprelease.go): the
// catalog (public), counts, summaries, survival tables and Cox models as noisy tables (form
// dp_tables, dpcox.go); any other Cox form, and propensity weighting, is refused, saying what
// the analyst or the site could do. The refusal names protocol.ReasonAnalystRole; it is decided
// from the analyst's role and the query's kind and form alone, so it costs no budget (handle).
func (e *Engine) checkRole(who identity, q *protocol.Query) error {
	if who.role != RoleDP || q.Kind == protocol.KindCatalog || e.dpCost(q) > 0 {
		return nil
	}
	if q.Kind == protocol.KindCox && q.Cox != nil && q.Cox.Form == protocol.CoxZPH {
		return refusef(protocol.ReasonAnalystRole, 0, "analyst %q has the dp role: the proportional-hazards test (cox.form zph) releases exact sums of residuals at the fitted β, which have no differentially private form; the site can list the analyst as trusted (under a data-use agreement)", clip(who.name))
	}
	if q.Kind == protocol.KindCox && q.Cox != nil {
		return refusef(protocol.ReasonAnalystRole, 0, "analyst %q has the dp role: a Cox model is released to it as differentially private tables (cox.form dp_tables, fitted by the client), never as form %s; the site can list the analyst as trusted (under a data-use agreement) for the other forms", clip(who.name), q.Cox.Form)
	}
	return refusef(protocol.ReasonAnalystRole, 0, "analyst %q has the dp role, and this site has no differentially private release of %s queries yet; the site can list the analyst as trusted (under a data-use agreement) in its analysts file", clip(who.name), q.Kind)
}
