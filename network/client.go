package network

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"slices"
	"sort"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/micro"
	"github.com/nats-io/nuid"

	"github.com/oncofed/oncofed/app"
	"github.com/oncofed/oncofed/protocol"
)

// Defaults of the client; each has an Option.
const (
	DefaultTimeout       = 5 * time.Second
	DefaultDiscoveryWait = 500 * time.Millisecond
	DefaultDiscoveryTTL  = 5 * time.Second
	// DefaultForgetAfter is how long a site that stopped answering discovery is still
	// expected (and so reported missing) before the client forgets it.
	DefaultForgetAfter = 10 * time.Minute
)

type config struct {
	name          string
	timeout       time.Duration
	discoveryWait time.Duration
	discoveryTTL  time.Duration
	forgetAfter   time.Duration
	mustAnswer    []string
	natsOpts      []nats.Option
	signer        *protocol.Signer
}

// Option configures Dial.
type Option func(*config) error

// WithName names the connection on the hub (shown in its monitoring).
func WithName(name string) Option {
	return func(c *config) error { c.name = name; return nil }
}

// WithTimeout sets the deadline of a query whose context has none (default DefaultTimeout).
func WithTimeout(d time.Duration) Option {
	return func(c *config) error {
		if d <= 0 {
			return fmt.Errorf("network: timeout %v is not positive", d)
		}
		c.timeout = d
		return nil
	}
}

// WithDiscoveryWait bounds how long the client listens for sites announcing themselves
// (default DefaultDiscoveryWait); it stops earlier once every site seen before answered and
// no new site answered for a fifth of it.
func WithDiscoveryWait(d time.Duration) Option {
	return func(c *config) error { c.discoveryWait = d; return nil }
}

// WithDiscoveryTTL sets how long a discovery is reused before sites are asked again (default
// DefaultDiscoveryTTL), so that the rounds of a Cox fit do not each pay for a discovery.
func WithDiscoveryTTL(d time.Duration) Option {
	return func(c *config) error { c.discoveryTTL = d; return nil }
}

// WithExpectedSites names sites that every query expects whether or not discovery finds
// them, so that a site that is down is reported missing even by a client that never saw it
// (a script's fixed list of sites). Give only sites that serve the studies queried.
func WithExpectedSites(sites ...string) Option {
	return func(c *config) error {
		c.mustAnswer = append(c.mustAnswer, sites...)
		return nil
	}
}

// WithSigner signs every query with the analyst's key (protocol.Signer), as nodes with an
// analysts list require. Each query, and each round of a Cox fit, gets a fresh time and nonce.
func WithSigner(s *protocol.Signer) Option {
	return func(c *config) error { c.signer = s; return nil }
}

// WithInboxPrefix sets the prefix of the subjects on which this client receives replies
// (default "_INBOX"). A hub whose permissions give each analyst an inbox of their own (see
// docs/nats/hub.conf) lets the analyst subscribe only under that prefix.
func WithInboxPrefix(prefix string) Option {
	return func(c *config) error {
		c.natsOpts = append(c.natsOpts, nats.CustomInboxPrefix(prefix))
		return nil
	}
}

// WithCredentials authenticates with a NATS credentials file (user JWT and NKey seed).
func WithCredentials(file string) Option {
	return func(c *config) error {
		c.natsOpts = append(c.natsOpts, nats.UserCredentials(file))
		return nil
	}
}

// WithNKey authenticates with the NKey seed in seedFile.
func WithNKey(seedFile string) Option {
	return func(c *config) error {
		o, err := nats.NkeyOptionFromSeed(seedFile)
		if err != nil {
			return fmt.Errorf("network: nkey %s: %w", seedFile, err)
		}
		c.natsOpts = append(c.natsOpts, o)
		return nil
	}
}

// WithTLS connects over TLS with the given configuration (root CAs, client certificate).
func WithTLS(cfg *tls.Config) Option {
	return func(c *config) error {
		c.natsOpts = append(c.natsOpts, nats.Secure(cfg))
		return nil
	}
}

// WithRootCA trusts the hub certificates signed by the CA in file.
func WithRootCA(file string) Option {
	return func(c *config) error {
		c.natsOpts = append(c.natsOpts, nats.RootCAs(file))
		return nil
	}
}

// WithNATSOptions passes further options to the NATS connection.
func WithNATSOptions(opts ...nats.Option) Option {
	return func(c *config) error {
		c.natsOpts = append(c.natsOpts, opts...)
		return nil
	}
}

// Client is the analyst's side of the federation: it implements app.Network over a NATS
// hub. It is safe for concurrent use.
type Client struct {
	nc  *nats.Conn
	cfg config
	hub string // the hub's URLs without credentials, for messages

	mu         sync.Mutex
	sites      map[string]*siteState
	discovered time.Time // last discovery; zero = never
	discoverMu sync.Mutex
	prefetch   chan struct{} // closed when the discovery Prefetch started is over; nil = none
}

type siteState struct {
	studies  []string
	protocol string
	latency  time.Duration
	online   bool
	lastSeen time.Time
	// instances are the IDs of the site's processes (micro service instances) that announced
	// themselves in the last discovery: a site may run one process per study or per database,
	// and a catalog query is answered by each of them.
	instances map[string]bool
}

var _ app.Network = (*Client)(nil)

// Dial connects to the hub at url (a comma-separated list for a cluster). It fails with a
// *app.Error of code unavailable when the hub cannot be reached. The connection then
// reconnects by itself when the hub restarts.
func Dial(ctx context.Context, url string, opts ...Option) (*Client, error) {
	cfg := config{
		name:          "oncofed-client",
		timeout:       DefaultTimeout,
		discoveryWait: DefaultDiscoveryWait,
		discoveryTTL:  DefaultDiscoveryTTL,
		forgetAfter:   DefaultForgetAfter,
	}
	for _, o := range opts {
		if err := o(&cfg); err != nil {
			return nil, err
		}
	}
	natsOpts := append([]nats.Option{
		nats.Name(cfg.name),
		nats.MaxReconnects(-1),
		nats.ReconnectWait(250 * time.Millisecond),
		nats.Timeout(connectTimeout(ctx)),
	}, cfg.natsOpts...)
	hub := app.RedactURL(url) // each URL of a cluster list loses its password
	nc, err := nats.Connect(url, natsOpts...)
	if err != nil {
		return nil, &app.Error{Code: app.EUnavailable, Message: fmt.Sprintf("hub %s: %v", hub, err)}
	}
	return &Client{nc: nc, cfg: cfg, hub: hub, sites: map[string]*siteState{}}, nil
}

func connectTimeout(ctx context.Context) time.Duration {
	if dl, ok := ctx.Deadline(); ok {
		if d := time.Until(dl); d > 0 {
			return d
		}
	}
	return 5 * time.Second
}

// Conn is the underlying NATS connection.
func (c *Client) Conn() *nats.Conn { return c.nc }

// Close releases the connection.
func (c *Client) Close() error {
	c.nc.Close()
	return nil
}

// Sites asks every site to announce itself now and lists the sites seen, online or not
// (a site not heard from in this discovery is offline until forgotten), sorted by name,
// with the round-trip latency of this discovery.
func (c *Client) Sites(ctx context.Context) ([]app.SiteStatus, error) {
	if err := c.discover(ctx); err != nil {
		return nil, err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	out := make([]app.SiteStatus, 0, len(c.sites))
	for name, s := range c.sites {
		out = append(out, app.SiteStatus{
			Site: name, Online: s.online, Latency: s.latency,
			Studies: slices.Clone(s.studies), LastSeen: s.lastSeen,
		})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Site < out[j].Site })
	return out, nil
}

// connected fails with code unavailable while the connection to the hub is down (closed, or
// reconnecting: a query would only wait in the reconnect buffer until its deadline).
func (c *Client) connected() error {
	switch {
	case c.nc.IsClosed():
		return &app.Error{Code: app.EUnavailable, Message: "the connection to the hub is closed"}
	case !c.nc.IsConnected():
		return &app.Error{Code: app.EUnavailable, Message: "not connected to the hub " + c.hub + " (reconnecting)"}
	}
	return nil
}

// discover sends one $SRV.INFO request for the site service and records the sites that
// answer within the discovery window, with every process (service instance) of each site.
//
// The window ends early once every process seen before answered and no new process has
// announced itself for a fifth of the window. The quiet period restarts with each new
// process, not only with each new site: a site serving each study (or database) from a
// process of its own announces itself once per process, and a process heard after the first
// one of its site must not be cut off (its studies would be missing from the catalog).
//
// A re-discovery (the client has seen processes before) returns as soon as every one of them
// answered, without the quiet period: it listens on in the background for the rest of it, and
// a process first heard then is recorded for the queries after it (and waited for by the next
// discovery), so a new process is late by at most one quiet period, never missed for good.
func (c *Client) discover(ctx context.Context) error {
	c.discoverMu.Lock()
	defer c.discoverMu.Unlock()
	if err := c.connected(); err != nil {
		return err
	}
	subject, err := micro.ControlSubject(micro.InfoVerb, ServiceName, "")
	if err != nil {
		return err
	}
	inbox := c.nc.NewRespInbox()
	// Announcements are small; a full channel would drop some (nats.go does not block).
	ch := make(chan *nats.Msg, 4096)
	sub, err := c.nc.ChanSubscribe(inbox, ch)
	if err != nil {
		return &app.Error{Code: app.EUnavailable, Message: "discovery: " + err.Error()}
	}
	start := time.Now()
	if err := c.nc.PublishRequest(subject, inbox, nil); err != nil {
		sub.Unsubscribe()
		return &app.Error{Code: app.EUnavailable, Message: "discovery: " + err.Error()}
	}
	d := &discovery{c: c, ch: ch, start: start, wait: c.cfg.discoveryWait, seen: map[string]*siteState{}}
	d.deadline = time.NewTimer(d.wait)
	d.quiet = time.NewTimer(d.wait)
	// Processes seen before are waited for up to the full window (a slow site is then
	// reported offline rather than forgotten).
	c.mu.Lock()
	d.pendingKnown = map[string]bool{}
	for _, s := range c.sites {
		for id := range s.instances {
			d.pendingKnown[id] = true
		}
	}
	c.mu.Unlock()
	early := d.listen(ctx, len(d.pendingKnown) > 0)
	now := time.Now()
	c.mu.Lock()
	for name, s := range c.sites {
		if _, ok := d.seen[name]; !ok {
			s.online = false
			if now.Sub(s.lastSeen) > c.cfg.forgetAfter {
				delete(c.sites, name)
			}
		}
	}
	for name, s := range d.seen {
		c.sites[name] = s
	}
	c.discovered = now
	d.merged = true
	c.mu.Unlock()
	if !early {
		d.stop(sub)
		return nil
	}
	go func() {
		d.listen(ctx, false)
		d.stop(sub)
	}()
	return nil
}

// discovery is the state of one discovery: the announcements heard so far and its timers.
type discovery struct {
	c               *Client
	ch              chan *nats.Msg
	start           time.Time
	wait            time.Duration
	deadline, quiet *time.Timer
	seen            map[string]*siteState
	pendingKnown    map[string]bool
	// merged: seen is in c.sites, so announcements change it under c.mu (the background part
	// of a re-discovery).
	merged bool
}

// listen records announcements until the window or the quiet period ends, or, with
// stopWhenKnown, as soon as every process seen before answered (it then reports true).
func (d *discovery) listen(ctx context.Context, stopWhenKnown bool) (early bool) {
	for {
		select {
		case m := <-d.ch:
			if d.merged {
				d.c.mu.Lock()
			}
			isNew := announce(d.seen, m, time.Since(d.start))
			var info micro.Info
			if isNew {
				_ = json.Unmarshal(m.Data, &info)
			}
			if isNew && d.merged {
				d.c.heardLate(info.Metadata[metaSite], d.seen[info.Metadata[metaSite]])
			}
			if d.merged {
				d.c.mu.Unlock()
			}
			if !isNew {
				continue
			}
			delete(d.pendingKnown, info.ID)
			// A new process: wait another fifth of the window for the next one (in the
			// background, after an early return).
			if !d.quiet.Stop() {
				select {
				case <-d.quiet.C:
				default:
				}
			}
			d.quiet.Reset(d.wait / 5)
			if stopWhenKnown && len(d.pendingKnown) == 0 {
				return true
			}
		case <-d.quiet.C:
			if len(d.pendingKnown) == 0 {
				return false
			}
		case <-d.deadline.C:
			return false
		case <-ctx.Done():
			return false
		}
	}
}

// heardLate records a process of site first heard after its discovery returned (s is the
// site as that discovery saw it): a site the client did not know is added; a site a later
// discovery already replaced gets the process and its studies. Called with c.mu held.
func (c *Client) heardLate(site string, s *siteState) {
	cur, ok := c.sites[site]
	switch {
	case !ok:
		c.sites[site] = s
	case cur != s:
		for id := range s.instances {
			cur.instances[id] = true
		}
		for _, st := range s.studies {
			if !slices.Contains(cur.studies, st) {
				cur.studies = append(cur.studies, st)
			}
		}
		sort.Strings(cur.studies)
	}
}

func (d *discovery) stop(sub *nats.Subscription) {
	d.deadline.Stop()
	d.quiet.Stop()
	sub.Unsubscribe()
}

// Prefetch starts a discovery now, in the background, for a caller that is about to query
// but has other work first (the CLI opens its result cache): the first query then waits for
// this discovery instead of starting its own, so the discovery's quiet period and that work
// overlap. A failed prefetch leaves the client as it was (the query discovers again).
func (c *Client) Prefetch(ctx context.Context) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.prefetch != nil || !c.discovered.IsZero() {
		return
	}
	done := make(chan struct{})
	c.prefetch = done
	go func() {
		defer close(done)
		_ = c.discover(ctx)
	}()
}

// awaitPrefetch waits for a discovery Prefetch started, if any.
func (c *Client) awaitPrefetch(ctx context.Context) {
	c.mu.Lock()
	done := c.prefetch
	c.mu.Unlock()
	if done == nil {
		return
	}
	select {
	case <-done:
	case <-ctx.Done():
	}
}

// announce records one discovery answer in seen and reports whether it came from a process
// not seen before in this discovery. Several processes of one site give the union of their
// studies; the site's latency is its first process's.
func announce(seen map[string]*siteState, m *nats.Msg, lat time.Duration) bool {
	var info micro.Info
	if json.Unmarshal(m.Data, &info) != nil || info.Name != ServiceName {
		return false
	}
	site := info.Metadata[metaSite]
	if site == "" {
		return false
	}
	var studies []string
	_ = json.Unmarshal([]byte(info.Metadata[metaStudies]), &studies)
	s, ok := seen[site]
	if !ok {
		s = &siteState{protocol: info.Metadata[metaProtocol], latency: lat, online: true, lastSeen: time.Now(), instances: map[string]bool{}}
		seen[site] = s
	}
	if s.instances[info.ID] {
		return false
	}
	s.instances[info.ID] = true
	for _, st := range studies {
		if !slices.Contains(s.studies, st) {
			s.studies = append(s.studies, st)
		}
	}
	sort.Strings(s.studies)
	return true
}

// expected returns the sites that serve study (every site when study is empty), from a
// discovery no older than the TTL; it discovers again when the cache is stale or knows no
// site for the study.
func (c *Client) expected(ctx context.Context, study string) ([]string, error) {
	c.awaitPrefetch(ctx)
	list, fresh := c.cached(study)
	if !fresh || len(list) == 0 {
		if err := c.discover(ctx); err != nil {
			return nil, err
		}
		list, _ = c.cached(study)
	}
	for _, s := range c.cfg.mustAnswer {
		if !slices.Contains(list, s) {
			list = append(list, s)
		}
	}
	sort.Strings(list)
	return list, nil
}

func (c *Client) cached(study string) (sites []string, fresh bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for name, s := range c.sites {
		if study == "" || slices.Contains(s.studies, study) {
			sites = append(sites, name)
		}
	}
	sort.Strings(sites)
	return sites, !c.discovered.IsZero() && time.Since(c.discovered) < c.cfg.discoveryTTL
}

// Query sends q once to every site serving q.Study and gathers the replies until every
// expected site answered or the deadline passed (ctx's, or the client's timeout when ctx has
// none). One reply per site is kept (the first; for a catalog query, the merged catalogs of
// every process of the site, see mergeCatalogParts); a reply that fails protocol.ValidateReply is
// reported in Invalid and never merged; a coded refusal is reported in Refused. A site that
// answers without having been discovered is added to Expected. Query fails only when the
// query cannot be sent at all.
func (c *Client) Query(ctx context.Context, q protocol.Query) (*app.Gathered, error) {
	start := time.Now()
	if q.Version == "" {
		q.Version = protocol.Version
	}
	if q.ID == "" {
		q.ID = nuid.Next()
	}
	if q.Kind != protocol.KindCatalog && q.Study == "" {
		return nil, &app.Error{Code: app.EInvalid, Message: fmt.Sprintf("a %s query needs a study", q.Kind)}
	}
	if c.cfg.signer != nil {
		// Signed last: the signature covers every field as sent.
		if err := c.cfg.signer.Sign(&q); err != nil {
			return nil, &app.Error{Code: app.EInternal, Message: "sign query: " + err.Error()}
		}
	}
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, queryTimeout(q, c.cfg.timeout))
		defer cancel()
	}
	body, err := json.Marshal(q)
	if err != nil {
		return nil, &app.Error{Code: app.EInvalid, Message: "encode query: " + err.Error()}
	}
	expected, err := c.expected(ctx, q.Study)
	if err != nil {
		return nil, err
	}
	g := &app.Gathered{Query: q, Expected: expected}
	if err := c.connected(); err != nil {
		return nil, err
	}
	inbox := c.nc.NewRespInbox()
	// nats.go drops a message, as a slow consumer, when a channel subscription's buffer is
	// full: every expected site may answer at once, so the buffer must hold them all (the
	// 100-site benchmark lost about 20 replies per query with a fixed 64).
	ch := make(chan *nats.Msg, 2*len(expected)+64)
	sub, err := c.nc.ChanSubscribe(inbox, ch)
	if err != nil {
		return nil, &app.Error{Code: app.EUnavailable, Message: "subscribe: " + err.Error()}
	}
	defer sub.Unsubscribe()
	msg := &nats.Msg{Subject: QuerySubject(q.Study, q.Kind), Reply: inbox, Data: body, Header: nats.Header{HeaderQueryID: []string{q.ID}}}
	if err := c.nc.PublishMsg(msg); err != nil {
		return nil, &app.Error{Code: app.EUnavailable, Message: "publish: " + err.Error()}
	}
	var processes map[string]int
	if q.Kind == protocol.KindCatalog {
		processes = c.processes()
	}
	gather(ctx, g, ch, func(string) (protocol.Query, bool) { return q, true }, processes)
	g.Elapsed = time.Since(start)
	return g, nil
}

// QueryEach sends qs[site] to that site alone, on its own subject (SiteQuerySubject), all of
// them concurrently, and gathers the replies as Query does: each reply is validated against
// the query sent to its site, and a reply from a site that was not addressed is dropped. It is
// how the phase-2 requests of a pooled Cox round reach each site with its own weights, which
// no other site receives. Every query must be of one study and kind; g.Query is the first
// site's.
func (c *Client) QueryEach(ctx context.Context, qs map[string]protocol.Query) (*app.Gathered, error) {
	start := time.Now()
	sites := slices.Sorted(maps.Keys(qs))
	if len(sites) == 0 {
		return nil, &app.Error{Code: app.EInvalid, Message: "no site to query"}
	}
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, queryTimeout(qs[sites[0]], c.cfg.timeout))
		defer cancel()
	}
	if err := c.connected(); err != nil {
		return nil, err
	}
	inbox := c.nc.NewRespInbox()
	ch := make(chan *nats.Msg, 2*len(sites)+64)
	sub, err := c.nc.ChanSubscribe(inbox, ch)
	if err != nil {
		return nil, &app.Error{Code: app.EUnavailable, Message: "subscribe: " + err.Error()}
	}
	defer sub.Unsubscribe()
	sent := make(map[string]protocol.Query, len(sites))
	for _, site := range sites {
		q := qs[site]
		if q.Version == "" {
			q.Version = protocol.Version
		}
		if q.ID == "" {
			q.ID = nuid.Next()
		}
		if q.Study == "" || q.Study != qs[sites[0]].Study || q.Kind != qs[sites[0]].Kind {
			return nil, &app.Error{Code: app.EInvalid, Message: "the queries of one QueryEach name one study and kind"}
		}
		if c.cfg.signer != nil {
			if err := c.cfg.signer.Sign(&q); err != nil {
				return nil, &app.Error{Code: app.EInternal, Message: "sign query: " + err.Error()}
			}
		}
		body, err := json.Marshal(q)
		if err != nil {
			return nil, &app.Error{Code: app.EInvalid, Message: "encode query: " + err.Error()}
		}
		sent[site] = q
		msg := &nats.Msg{Subject: SiteQuerySubject(q.Study, q.Kind, site), Reply: inbox, Data: body, Header: nats.Header{HeaderQueryID: []string{q.ID}}}
		if err := c.nc.PublishMsg(msg); err != nil {
			return nil, &app.Error{Code: app.EUnavailable, Message: "publish: " + err.Error()}
		}
	}
	g := &app.Gathered{Query: sent[sites[0]], Expected: sites}
	gather(ctx, g, ch, func(site string) (protocol.Query, bool) { q, ok := sent[site]; return q, ok }, nil)
	g.Elapsed = time.Since(start)
	return g, nil
}

// queryTimeout is the deadline of q when its context has none: the client's timeout, per model
// for a screen query (a batch of Cox models, each as much work for a site as a cox query).
func queryTimeout(q protocol.Query, timeout time.Duration) time.Duration {
	if q.Kind == protocol.KindScreen && q.Screen != nil && len(q.Screen.Models) > 1 {
		return timeout * time.Duration(len(q.Screen.Models))
	}
	return timeout
}

// gather collects the replies to g's query until every expected site answered or ctx is done,
// and fills g. queryOf gives the query a site was sent, or false for a site that was not
// addressed (its reply is dropped); a broadcast's reply from a site that discovery missed is
// added to Expected. processes, for a catalog query, is the number of processes discovery saw
// per site.
func gather(ctx context.Context, g *app.Gathered, ch <-chan *nats.Msg, queryOf func(site string) (protocol.Query, bool), processes map[string]int) {
	expected := slices.Clone(g.Expected)
	for _, site := range expected {
		app.ReportProgress(ctx, app.Progress{QueryID: g.Query.ID, Site: site, State: app.SiteWaiting})
	}
	// A catalog query is answered by every process of a site (each lists the studies it
	// serves); the site is complete once all the processes discovery saw have answered, and
	// their catalogs are merged into one reply per site. Any other query is answered by one
	// process of each site (the site's queue group), and the first answer counts.
	catalog := g.Query.Kind == protocol.KindCatalog
	var parts map[string][]catalogPart
	if catalog {
		parts = map[string][]catalogPart{}
	}
	answered := map[string]int{}
	heard := map[string]bool{} // catalog: site and process already heard
	pending := len(expected)
collect:
	for pending > 0 {
		select {
		case m := <-ch:
			site := m.Header.Get(HeaderSite)
			if site == "" {
				var head struct{ Site string }
				_ = json.Unmarshal(protocol.ReplyJSONHead(m.Data), &head)
				site = head.Site
			}
			q, ok := queryOf(site)
			if !ok {
				continue // not addressed: its reply is not ours to use
			}
			site, reply, problem := decodeReply(q, m)
			if site == "" {
				continue // unattributable
			}
			if catalog {
				key := site + "\x00" + m.Header.Get(HeaderInstance)
				if heard[key] {
					continue
				}
				heard[key] = true
			} else if answered[site] > 0 {
				continue // a duplicate: the first answer counts
			}
			answered[site]++
			isExpected := slices.Contains(expected, site)
			if answered[site] == 1 && !isExpected {
				g.Expected = append(g.Expected, site)
			}
			if isExpected && answered[site] == max(1, processes[site]) {
				pending--
			}
			if catalog && problem == nil && reply.Error == nil {
				parts[site] = append(parts[site], catalogPart{instance: m.Header.Get(HeaderInstance), reply: reply, raw: m.Data})
				continue
			}
			if catalog && answered[site] > 1 {
				continue // another process of the site answered; its failure is not the site's
			}
			record(ctx, g, site, reply, problem, m.Data)
		case <-ctx.Done():
			break collect
		}
	}
	for _, site := range sortedKeys(parts) {
		reply, raw := mergeCatalogParts(parts[site])
		g.Refused = slices.DeleteFunc(g.Refused, func(p app.SiteProblem) bool { return p.Site == site })
		g.Invalid = slices.DeleteFunc(g.Invalid, func(p app.SiteProblem) bool { return p.Site == site })
		record(ctx, g, site, reply, nil, raw)
	}
	sort.Strings(g.Expected)
	for _, s := range g.Expected {
		if answered[s] == 0 {
			g.Missing = append(g.Missing, s)
		}
	}
	sort.Slice(g.Replies, func(i, j int) bool { return g.Replies[i].Site < g.Replies[j].Site })
	sort.Slice(g.Refused, func(i, j int) bool { return g.Refused[i].Site < g.Refused[j].Site })
	sort.Slice(g.Invalid, func(i, j int) bool { return g.Invalid[i].Site < g.Invalid[j].Site })
}

// record adds one site's answer to g: a problem (invalid), a coded refusal or a reply, whose
// JSON as received (raw) is kept so the service stores and hashes the reply as received
// instead of encoding it again (nats.go gives every message its own buffer).
func record(ctx context.Context, g *app.Gathered, site string, reply protocol.Reply, problem *app.SiteProblem, raw []byte) {
	switch {
	case problem != nil:
		g.Invalid = append(g.Invalid, *problem)
		app.ReportProgress(ctx, app.Progress{QueryID: g.Query.ID, Site: site, State: app.SiteInvalid, Message: problem.Message})
	case reply.Error != nil:
		g.Refused = append(g.Refused, app.Refusal(site, reply.Error))
		app.ReportProgress(ctx, app.Progress{QueryID: g.Query.ID, Site: site, State: app.SiteRefused, Message: reply.Error.Message})
	default:
		g.Replies = append(g.Replies, reply)
		if g.ReplyJSON == nil {
			g.ReplyJSON = map[string][]byte{}
		}
		g.ReplyJSON[site] = raw
		app.ReportProgress(ctx, app.Progress{QueryID: g.Query.ID, Site: site, State: app.SiteAnswered})
	}
}

// catalogPart is the catalog one process of a site sent.
type catalogPart struct {
	instance string
	reply    protocol.Reply
	raw      []byte
}

// mergeCatalogParts merges the catalogs of one site's processes into the site's catalog: the
// union of their studies (a study two processes serve is listed once, as the process with the
// smallest instance ID lists it), sorted by name; the policy, authentication and the asking
// analyst's standing are that process's too (the processes of one site are expected to run one
// policy). A single process's catalog is kept as received.
func mergeCatalogParts(parts []catalogPart) (protocol.Reply, []byte) {
	if len(parts) == 1 {
		return parts[0].reply, parts[0].raw
	}
	sort.Slice(parts, func(i, j int) bool { return parts[i].instance < parts[j].instance })
	out := parts[0].reply
	cat := *out.Catalog
	cat.Studies = nil
	for _, p := range parts {
		for _, st := range p.reply.Catalog.Studies {
			if !slices.ContainsFunc(cat.Studies, func(s protocol.StudyCatalog) bool { return s.Name == st.Name }) {
				cat.Studies = append(cat.Studies, st)
			}
		}
	}
	sort.Slice(cat.Studies, func(i, j int) bool { return cat.Studies[i].Name < cat.Studies[j].Name })
	out.Catalog = &cat
	raw, err := json.Marshal(out)
	if err != nil {
		return parts[0].reply, parts[0].raw // a decoded reply always encodes again
	}
	return out, raw
}

// processes returns the number of processes discovery saw per site.
func (c *Client) processes() map[string]int {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := make(map[string]int, len(c.sites))
	for name, s := range c.sites {
		out[name] = len(s.instances)
	}
	return out
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// decodeReply attributes a reply message to a site and checks it. The site comes from the
// reply header (so that even an undecodable body is attributed), or from the body.
func decodeReply(q protocol.Query, m *nats.Msg) (string, protocol.Reply, *app.SiteProblem) {
	site := m.Header.Get(HeaderSite)
	var r protocol.Reply
	if err := protocol.UnmarshalReply(m.Data, &r); err != nil {
		what := "reply is not valid JSON: "
		if protocol.IsFramedReply(m.Data) {
			what = "framed reply cannot be decoded: "
		}
		return site, r, &app.SiteProblem{Site: site, Code: protocol.CodeInvalid, Message: what + err.Error()}
	}
	if site == "" {
		site = r.Site
	}
	if r.Site != site {
		return site, r, &app.SiteProblem{Site: site, Code: protocol.CodeInvalid, Message: fmt.Sprintf("reply names site %q", r.Site)}
	}
	if err := protocol.ValidateReply(q, r); err != nil {
		var pe *protocol.Error
		if errors.As(err, &pe) {
			return site, r, &app.SiteProblem{Site: site, Code: pe.Code, Message: pe.Message}
		}
		return site, r, &app.SiteProblem{Site: site, Code: protocol.CodeInvalid, Message: err.Error()}
	}
	return site, r, nil
}
