package network_test

import (
	"context"
	"fmt"
	"net/url"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"

	"github.com/oncofed/oncofed/app"
	"github.com/oncofed/oncofed/cache"
	"github.com/oncofed/oncofed/network"
	"github.com/oncofed/oncofed/node"
	"github.com/oncofed/oncofed/protocol"
)

// checkGathered asserts what must hold of any scatter-gather, whatever the network did: every
// expected site is accounted for exactly once (answered, refused, invalid or missing), no site
// answered twice, and every answer is that site's true count (nothing merged twice, nothing
// from another query).
func checkGathered(t *testing.T, ln *lungNet, g *app.Gathered) {
	t.Helper()
	seen := map[string]string{}
	note := func(site, how string) {
		if prev, ok := seen[site]; ok {
			t.Errorf("site %s both %s and %s", site, prev, how)
		}
		seen[site] = how
	}
	for _, r := range g.Replies {
		note(r.Site, "answered")
		if r.QueryID != g.Query.ID {
			t.Errorf("site %s answered query %s in %s", r.Site, r.QueryID, g.Query.ID)
		}
		if want := ln.count(t, r.Site); r.Count.Total.N != want {
			t.Errorf("site %s: count %d, its data holds %d", r.Site, r.Count.Total.N, want)
		}
	}
	for _, p := range g.Refused {
		note(p.Site, "refused")
	}
	for _, p := range g.Invalid {
		note(p.Site, "invalid")
	}
	for _, s := range g.Missing {
		note(s, "missing")
	}
	if len(seen) != len(g.Expected) {
		t.Errorf("%d sites accounted for, %d expected", len(seen), len(g.Expected))
	}
}

// TestHubRestartMidFanOut: the hub goes down while queries are in flight (sites are still
// computing) and comes back on the same address. Each query in flight or sent meanwhile
// either completes or fails explicitly (code unavailable, or sites reported missing) within
// its deadline; no site's reply is merged twice, including the replies the nodes buffered
// while disconnected and sent after reconnecting; afterwards queries complete in full.
func TestHubRestartMidFanOut(t *testing.T) {
	var slowMu sync.Mutex
	slow := true
	ln := startLungNet(t, node.ExactPolicy(), func(site string, h network.Handler, nc *nats.Conn) network.Handler {
		return network.HandlerFunc(func(ctx context.Context, q []byte) []byte {
			slowMu.Lock()
			s := slow
			slowMu.Unlock()
			if s && site < "inst2" { // inst1, inst10..inst16: still computing when the hub dies
				time.Sleep(400 * time.Millisecond)
			}
			return h.HandleJSON(ctx, q)
		})
	})
	c := dial(t, ln.hub.URL())
	warm(t, c, len(ln.sites))
	const deadline = 2 * time.Second
	type outcome struct {
		g   *app.Gathered
		err error
		dur time.Duration
	}
	results := make(chan outcome, 16)
	var wg sync.WaitGroup
	query := func() {
		defer wg.Done()
		ctx, cancel := context.WithTimeout(context.Background(), deadline)
		defer cancel()
		start := time.Now()
		g, err := c.Query(ctx, countQuery())
		results <- outcome{g, err, time.Since(start)}
	}
	for i := 0; i < 4; i++ {
		wg.Add(1)
		go query()
	}
	time.Sleep(150 * time.Millisecond) // queries published, the slow sites still computing
	url := ln.hub.URL()
	ln.hub.Shutdown()
	for end := time.Now().Add(5 * time.Second); c.Conn().IsConnected() && time.Now().Before(end); {
		time.Sleep(10 * time.Millisecond)
	}
	for i := 0; i < 2; i++ { // sent while the hub is down: fail at once
		wg.Add(1)
		go query()
	}
	var hub *network.Hub
	var err error
	for i := 0; i < 50; i++ {
		if hub, err = network.StartHub(network.HubOptions{Listen: strings.TrimPrefix(url, "nats://")}); err == nil {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(hub.Shutdown)
	wg.Wait()
	close(results)
	complete, partial, failed := 0, 0, 0
	for o := range results {
		if o.dur > deadline+time.Second {
			t.Errorf("query took %v, past its deadline of %v", o.dur, deadline)
		}
		if o.err != nil {
			if app.ErrorCode(o.err) != app.EUnavailable {
				t.Errorf("query failed with %v, want code unavailable", o.err)
			}
			failed++
			continue
		}
		checkGathered(t, ln, o.g)
		if o.g.Partial() {
			partial++
		} else {
			complete++
		}
	}
	t.Logf("across the restart: %d queries complete, %d partial (sites named missing), %d failed with code unavailable", complete, partial, failed)
	if failed < 2 {
		t.Errorf("%d queries failed explicitly, want at least the 2 sent while the hub was down", failed)
	}
	// Once everyone is back, queries complete in full.
	slowMu.Lock()
	slow = false
	slowMu.Unlock()
	for end := time.Now().Add(10 * time.Second); hub.NumClients() < len(ln.sites)+1 && time.Now().Before(end); {
		time.Sleep(50 * time.Millisecond)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	g, err := c.Query(ctx, countQuery())
	if err != nil {
		t.Fatal(err)
	}
	checkGathered(t, ln, g)
	if g.Partial() || total(t, g.Replies) != lungN {
		t.Errorf("after the restart: missing %v refused %v, count %d of %d", g.Missing, g.Refused, total(t, g.Replies), lungN)
	}
}

// startCluster starts n embedded NATS servers on loopback, routed into one cluster, and
// returns them with the comma-separated client URL list.
func startCluster(t *testing.T, n int) ([]*server.Server, string) {
	t.Helper()
	var servers []*server.Server
	var urls []string
	for i := 0; i < n; i++ {
		o := &server.Options{
			ServerName: fmt.Sprintf("hub%d", i), Host: "127.0.0.1", Port: server.RANDOM_PORT,
			NoLog: true, NoSigs: true, MaxPayload: network.DefaultMaxPayload,
			Cluster: server.ClusterOpts{Name: "oncofed", Host: "127.0.0.1", Port: server.RANDOM_PORT, PoolSize: -1},
		}
		if i > 0 {
			// Every server routes to the first; gossip completes the mesh.
			o.Routes = []*url.URL{{Scheme: "nats-route", Host: servers[0].ClusterAddr().String()}}
		}
		s, err := server.NewServer(o)
		if err != nil {
			t.Fatal(err)
		}
		go s.Start()
		if !s.ReadyForConnections(10 * time.Second) {
			t.Fatalf("server %d not ready", i)
		}
		t.Cleanup(s.Shutdown)
		servers = append(servers, s)
		urls = append(urls, s.ClientURL())
	}
	for end := time.Now().Add(10 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		formed := true
		for _, s := range servers {
			formed = formed && s.NumRoutes() == n-1
		}
		if formed {
			break
		}
		if time.Now().After(end) {
			t.Fatal("cluster did not form")
		}
	}
	return servers, strings.Join(urls, ",")
}

// TestClusterServerKilled: the sites and the client know all three servers of a NATS cluster;
// the server the client is connected to is killed during a run of queries. Queries go on: each
// is answered in full or fails explicitly while the client fails over (code unavailable, or a
// site reported missing while it reconnects), never with a wrong count, and after the
// failover every query is answered by every site again.
func TestClusterServerKilled(t *testing.T) {
	servers, urls := startCluster(t, 3)
	ln := serveLung(t, urls, node.ExactPolicy(), nil)
	c := dial(t, urls, network.WithTimeout(2*time.Second))
	warm(t, c, len(ln.sites))
	var victim *server.Server
	for _, s := range servers {
		if c.Conn().ConnectedServerName() == s.Name() {
			victim = s
		}
	}
	if victim == nil {
		t.Fatalf("client connected to %q, not one of the cluster", c.Conn().ConnectedServerName())
	}
	full, explicit := 0, 0
	ask := func() bool {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		g, err := c.Query(ctx, countQuery())
		if err != nil {
			if app.ErrorCode(err) != app.EUnavailable {
				t.Errorf("query failed with %v, want code unavailable", err)
			}
			explicit++
			return false
		}
		checkGathered(t, ln, g)
		if g.Partial() {
			explicit++
			return false
		}
		if n := total(t, g.Replies); n != lungN {
			t.Errorf("complete query counted %d, want %d", n, lungN)
		}
		full++
		return true
	}
	for i := 0; i < 5; i++ {
		if !ask() {
			t.Fatalf("query %d before the kill was not answered in full", i)
		}
	}
	victim.Shutdown()
	// Until the client and the sites on the dead server have failed over, and then some.
	end := time.Now().Add(15 * time.Second)
	streak := 0
	for streak < 10 && time.Now().Before(end) {
		if ask() {
			streak++
		} else {
			streak = 0
			time.Sleep(50 * time.Millisecond)
		}
	}
	if streak < 10 {
		t.Fatalf("after killing %s: no run of 10 complete queries within 15 s (%d complete, %d partial or failed)", victim.Name(), full, explicit)
	}
	if name := c.Conn().ConnectedServerName(); name == victim.Name() || name == "" {
		t.Errorf("client on %q after the failover", name)
	}
	t.Logf("killed %s: %d queries answered in full, %d partial or failed explicitly during the failover", victim.Name(), full, explicit)
}

// TestSignedQueriesOverHub: a client with a signer reaches nodes that answer signed queries
// only; a client without one, or with a key the sites do not list, is refused by every site
// with code unauthenticated; a Cox fit through the app service, every round signed afresh,
// converges on all sites; the replay of a signed query is refused.
func TestSignedQueriesOverHub(t *testing.T) {
	signer := protocol.NewSigner(testAnalystKey(7), nil)
	analysts, err := node.ParseAnalysts(strings.NewReader("alice " + signer.PublicKey() + " trusted\n"))
	if err != nil {
		t.Fatal(err)
	}
	hub, err := network.StartHub(network.HubOptions{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(hub.Shutdown)
	ln := serveLungWith(t, hub.URL(), node.ExactPolicy(), analysts)
	ln.hub = hub
	ctx := context.Background()
	signed := dial(t, hub.URL(), network.WithSigner(signer))
	g, err := signed.Query(ctx, countQuery())
	if err != nil || g.Partial() || total(t, g.Replies) != lungN {
		t.Fatalf("signed: %v, missing %v refused %v", err, g.Missing, g.Refused)
	}
	for name, c := range map[string]*network.Client{
		"unsigned":    dial(t, hub.URL()),
		"unknown key": dial(t, hub.URL(), network.WithSigner(protocol.NewSigner(testAnalystKey(8), nil))),
	} {
		g, err := c.Query(ctx, countQuery())
		if err != nil {
			t.Fatal(err)
		}
		if len(g.Replies) != 0 || len(g.Refused) != len(ln.sites) {
			t.Fatalf("%s: %d replies, %d refusals", name, len(g.Replies), len(g.Refused))
		}
		for _, p := range g.Refused {
			if p.Code != protocol.CodeUnauthenticated {
				t.Errorf("%s: %s refused with %s: %s", name, p.Site, p.Code, p.Message)
			}
		}
	}
	// A Cox fit through the app: every round is a new query, signed afresh (a reused nonce
	// would be refused as a replay and abort the fit).
	db, err := cache.Open(ctx, filepath.Join(t.TempDir(), "cache.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	svc := app.NewService(signed, db, app.NetworkInfo{ID: "signed", Name: "signed", URL: hub.URL()})
	if _, err := svc.RefreshCatalog(ctx); err != nil {
		t.Fatal(err)
	}
	res, err := svc.Run(ctx, app.Request{Kind: protocol.KindCox, Study: "lung", Endpoint: "os",
		Cox: &app.CoxSpec{Covariates: []string{"sex", "age"}, Ties: "efron", Form: protocol.CoxPooled}})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Rounds) < 3 || res.Cox.Fit == nil || !res.Cox.Fit.Converged || res.Cox.Fit.N != lungN || res.Provenance.Partial() {
		t.Fatalf("signed Cox fit: %d rounds, fit %+v, partial %v", len(res.Rounds), res.Cox.Fit, res.Provenance.Partial())
	}
	// Replaying the signed query as sent is refused by every site.
	raw := g.Query
	body, _ := jsonMarshal(raw)
	msg, err := signed.Conn().Request(network.QuerySubject("lung", protocol.KindCount), body, 2*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if code := msg.Header.Get(network.HeaderErrorCode); code != protocol.CodeUnauthenticated {
		t.Errorf("replay: code %q (%s)", code, msg.Data)
	}
}
