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

// Analysts is a node's list of authorised analysts: a name per Ed25519 public key. With a
// list configured (Config.Analysts) the node answers signed queries only and keys the
// budget, the overlap guard and the audit log on the name the list gives the signing key.
// Without one the node runs open, for demos and trusted test networks: it takes the
// self-declared Query.Analyst at its word, and says so in its catalog (Catalog.Auth "open").
type Analysts struct {
	byKey map[string]analystKey // by the key's text form
}

type analystKey struct {
	name string
	pub  ed25519.PublicKey
}

// ParseAnalysts reads an analysts file: one `NAME PUBLIC-KEY` per line, the key in
// protocol.EncodePublicKey's text form (what `oncofed-cli keygen` prints); blank lines and
// lines starting with # are ignored. A malformed line, a name or a key listed twice, or an
// empty list is refused with the line number.
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
		if len(fields) != 2 {
			return nil, fmt.Errorf("node: analysts line %d: want NAME PUBLIC-KEY, got %d fields", line, len(fields))
		}
		name, keyText := fields[0], fields[1]
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
		a.byKey[k] = analystKey{name: name, pub: pub}
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("node: analysts: %w", err)
	}
	if len(a.byKey) == 0 {
		return nil, fmt.Errorf("node: analysts: no analyst listed (without a list the node runs open; give none rather than an empty one)")
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

// Authentication modes published in the catalog (protocol.Catalog.Auth).
const (
	AuthSigned = "signed" // every query must carry a valid signature by a listed analyst
	AuthOpen   = "open"   // no analyst list: the declared analyst name is trusted (demos, tests)
)

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
// With an analyst list: the listed name of the key whose valid, fresh, unreplayed signature
// the query carries; anything else is refused with code unauthenticated before any data is
// read. The nonce is spent on the first valid use, whatever the later outcome.
func (e *Engine) authenticate(ctx context.Context, q *protocol.Query) (string, error) {
	if e.analysts == nil {
		return q.Analyst, nil
	}
	if q.Auth == nil {
		return "", errorf(protocol.CodeUnauthenticated, "this site answers signed queries only (sign with an analyst key: oncofed-cli keygen)")
	}
	pub, err := protocol.ParsePublicKey(q.Auth.Key)
	if err != nil {
		return "", errorf(protocol.CodeUnauthenticated, "auth.key: not an Ed25519 public key")
	}
	k, ok := e.analysts.byKey[protocol.EncodePublicKey(pub)]
	if !ok {
		return "", errorf(protocol.CodeUnauthenticated, "the signing key is not among this site's authorised analysts")
	}
	now := e.now()
	at, err := protocol.VerifyQuery(*q, k.pub, now)
	if err != nil {
		return "", err
	}
	// Remember the nonce for as long as the query would pass the time check.
	fresh, err := e.nonces.UseNonce(ctx, q.Auth.Key, q.Auth.Nonce, now, at.Add(protocol.MaxQueryAge+protocol.MaxClockSkew))
	if err != nil {
		return "", errorf(protocol.CodeInternal, "replay guard unavailable")
	}
	if !fresh {
		return "", errorf(protocol.CodeUnauthenticated, "replayed: this signed query (nonce %s) was received before", clip(q.Auth.Nonce))
	}
	return k.name, nil
}
