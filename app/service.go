package app

import (
	"crypto/rand"
	"encoding/hex"
	"net/url"
	"strings"
	"sync"
	"time"
)

// Service is the application core that both front ends (the Fyne app and oncofed-cli) drive:
// the study catalog (cache-first), running analyses and storing them with provenance, the
// results library and offline review. It is safe for concurrent use.
type Service struct {
	net     Network // nil: offline only (oncofed-cli --offline)
	cache   Cache
	network NetworkInfo
	now     func() time.Time
	newID   func() string
	analyst string
	notify  func(Notice)

	mu      sync.Mutex
	offline bool
	counts  map[string]countEntry // Count's recent answers by request key
}

// Notice is a change of connectivity the UI shows once, as a banner: going offline (the hub
// cannot be reached, cached results are served) or coming back.
type Notice struct {
	Offline bool
	Message string
	At      time.Time
}

// Option configures a Service.
type Option func(*Service)

// WithClock injects the clock (tests; default time.Now).
func WithClock(now func() time.Time) Option { return func(s *Service) { s.now = now } }

// WithQueryIDs injects the generator of query IDs (default: 128 random bits in hex). It is
// called concurrently and must be safe for that.
func WithQueryIDs(f func() string) Option { return func(s *Service) { s.newID = f } }

// WithAnalyst sets the analyst identity sent with every query.
func WithAnalyst(name string) Option { return func(s *Service) { s.analyst = name } }

// WithNotify sets the function told, once per transition, when the service goes offline or
// comes back online. It is called synchronously from the call that noticed the change, which
// may be a background refresh: it must be safe for concurrent use and must not block.
func WithNotify(f func(Notice)) Option { return func(s *Service) { s.notify = f } }

// NewService returns the service for network n, answering from net (nil for offline use) and
// storing in cache. It does no I/O.
func NewService(net Network, cache Cache, n NetworkInfo, opts ...Option) *Service {
	if cache == nil {
		panic("app: NewService needs a cache")
	}
	if n.ID == "" {
		panic("app: NewService needs a network ID")
	}
	// A hub URL may carry a user and password (nats://user:pass@host): they must never reach
	// the cache, which keys everything by the network ID.
	n.ID, n.Name, n.URL = RedactURL(n.ID), RedactURL(n.Name), RedactURL(n.URL)
	s := &Service{net: net, cache: cache, network: n, now: time.Now, newID: randomID, offline: net == nil}
	for _, o := range opts {
		o(s)
	}
	return s
}

func randomID() string {
	var b [16]byte
	if _, err := rand.Read(b[:]); err != nil {
		panic("app: no randomness: " + err.Error())
	}
	return hex.EncodeToString(b[:])
}

// Network returns the network the service talks to.
func (s *Service) Network() NetworkInfo { return s.network }

// Offline reports whether the last attempt to reach the network failed (or there is none).
func (s *Service) Offline() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.offline
}

// setOffline records connectivity and tells the UI once per change.
func (s *Service) setOffline(off bool) {
	s.mu.Lock()
	changed := s.offline != off
	s.offline = off
	s.mu.Unlock()
	if !changed || s.notify == nil || s.net == nil {
		return
	}
	n := Notice{Offline: off, At: s.now()}
	if off {
		n.Message = "Offline — the network " + s.network.Name + " cannot be reached; showing cached results. New analyses cannot run until it is back."
	} else {
		n.Message = "Back online — connected to " + s.network.Name + "."
	}
	s.notify(n)
}

// RedactURL removes the user information (user name, password, token) from a URL, and from
// each URL of a comma-separated list (a NATS cluster: "nats://a:s@h1,nats://a:s@h2"); other
// strings, and the parts of a list that are not URLs with user information, are returned
// unchanged (spacing around the commas included).
func RedactURL(s string) string {
	parts := strings.Split(s, ",")
	for i, part := range parts {
		trimmed := strings.TrimSpace(part)
		if red := redactOneURL(trimmed); red != trimmed {
			parts[i] = strings.Replace(part, trimmed, red, 1)
		}
	}
	return strings.Join(parts, ",")
}

func redactOneURL(s string) string {
	u, err := url.Parse(s)
	if err != nil || u.User == nil || u.Host == "" {
		return s
	}
	u.User = nil
	return u.String()
}
