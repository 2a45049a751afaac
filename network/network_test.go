package network_test

import (
	"context"
	"encoding/json"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/oncofed/oncofed/app"
	"github.com/oncofed/oncofed/network"
	"github.com/oncofed/oncofed/node"
	"github.com/oncofed/oncofed/protocol"
)

// lungN is the number of patients of analysis/testdata/lung.csv (R: nrow(subset(lung, !is.na(inst)))).
const lungN = 227

func countQuery() protocol.Query {
	return protocol.Query{Kind: protocol.KindCount, Study: "lung", GroupBy: "sex"}
}

func total(t *testing.T, rs []protocol.Reply) int {
	t.Helper()
	n := 0
	for _, r := range rs {
		n += r.Count.Total.N
	}
	return n
}

func TestAllSitesAnswer(t *testing.T) {
	ln := startLungNet(t, node.ExactPolicy(), nil)
	c := dial(t, ln.hub.URL())
	ctx := context.Background()
	sites, err := c.Sites(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(sites) != len(ln.sites) {
		t.Fatalf("Sites: %d sites, want %d", len(sites), len(ln.sites))
	}
	for i, s := range sites {
		if s.Site != ln.sites[i] || !s.Online || s.Latency <= 0 || len(s.Studies) != 1 || s.Studies[0] != "lung" {
			t.Errorf("site %d: %+v", i, s)
		}
	}
	g, err := c.Query(ctx, countQuery())
	if err != nil {
		t.Fatal(err)
	}
	if g.Partial() || len(g.Replies) != len(ln.sites) || names(g.Expected) != names(ln.sites) {
		t.Fatalf("answered %d of %v; missing %v refused %v invalid %v", len(g.Replies), g.Expected, g.Missing, g.Refused, g.Invalid)
	}
	if n := total(t, g.Replies); n != lungN {
		t.Errorf("pooled count %d, want %d", n, lungN)
	}
	for i := 1; i < len(g.Replies); i++ {
		if g.Replies[i-1].Site >= g.Replies[i].Site {
			t.Errorf("replies not sorted by site: %s before %s", g.Replies[i-1].Site, g.Replies[i].Site)
		}
	}
	// A catalog query reaches every site through the catalog subject.
	g, err = c.Query(ctx, protocol.Query{Kind: protocol.KindCatalog})
	if err != nil {
		t.Fatal(err)
	}
	if len(g.Replies) != len(ln.sites) {
		t.Fatalf("catalog: %d replies, want %d (%v %v %v)", len(g.Replies), len(ln.sites), g.Missing, g.Refused, g.Invalid)
	}
	if g.Replies[0].Catalog.Studies[0].Name != "lung" {
		t.Errorf("catalog of %s: %+v", g.Replies[0].Site, g.Replies[0].Catalog)
	}
}

// TestSiteKilledMidQuery: one site's process dies (its connection closes) while it handles
// the query. The others' replies come back, the dead site is reported missing, and the query
// returns at its deadline, not later.
func TestSiteKilledMidQuery(t *testing.T) {
	const victim = "inst1"
	ln := startLungNet(t, node.ExactPolicy(), func(site string, h network.Handler, nc *nats.Conn) network.Handler {
		if site != victim {
			return h
		}
		calls := 0
		return network.HandlerFunc(func(ctx context.Context, q []byte) []byte {
			if calls++; calls == 2 {
				nc.Close() // the process dies before answering
			}
			return h.HandleJSON(ctx, q)
		})
	})
	c := dial(t, ln.hub.URL())
	warm(t, c, len(ln.sites))
	const deadline = 3 * time.Second
	ctx, cancel := context.WithTimeout(context.Background(), deadline)
	defer cancel()
	start := time.Now()
	g, err := c.Query(ctx, countQuery())
	if err != nil {
		t.Fatal(err)
	}
	elapsed := time.Since(start)
	if names(g.Missing) != victim {
		t.Errorf("missing %v, want [%s]", g.Missing, victim)
	}
	if !g.Partial() || len(g.Replies) != len(ln.sites)-1 {
		t.Errorf("%d replies, partial %v", len(g.Replies), g.Partial())
	}
	if elapsed < deadline-50*time.Millisecond || elapsed > deadline+2*time.Second {
		t.Errorf("returned after %v, want about the deadline %v", elapsed, deadline)
	}
	want := lungN - ln.count(t, victim)
	if n := total(t, g.Replies); n != want {
		t.Errorf("partial count %d, want %d", n, want)
	}
	// Next discovery sees it offline.
	sites, err := c.Sites(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range sites {
		if s.Site == victim && s.Online {
			t.Errorf("%s still online after its death", victim)
		}
	}
}

// warm runs one query every site must answer, so that the timing of the next one does not
// include the nodes loading their study.
func warm(t *testing.T, c *network.Client, sites int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	g, err := c.Query(ctx, countQuery())
	if err != nil {
		t.Fatal(err)
	}
	if len(g.Replies) != sites {
		t.Fatalf("warm-up: %d of %d sites answered", len(g.Replies), sites)
	}
}

// count is a site's patient count, asked directly of its engine (no network).
func (ln *lungNet) count(t *testing.T, site string) int {
	r := ln.engines[site].Handle(context.Background(), protocol.Query{Version: protocol.Version, Kind: protocol.KindCount, ID: "direct", Study: "lung"})
	if r.Error != nil {
		t.Fatal(r.Error)
	}
	return r.Count.Total.N
}

// TestStragglerIgnored: a site that answers after the deadline is reported missing; its late
// reply does not leak into the next query.
func TestStragglerIgnored(t *testing.T) {
	const slow = "inst3"
	var delay atomic.Int64
	ln := startLungNet(t, node.ExactPolicy(), func(site string, h network.Handler, _ *nats.Conn) network.Handler {
		if site != slow {
			return h
		}
		return network.HandlerFunc(func(ctx context.Context, q []byte) []byte {
			time.Sleep(time.Duration(delay.Load()))
			return h.HandleJSON(ctx, q)
		})
	})
	c := dial(t, ln.hub.URL())
	warm(t, c, len(ln.sites))
	delay.Store(int64(5 * time.Second))
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	g, err := c.Query(ctx, countQuery())
	cancel()
	if err != nil {
		t.Fatal(err)
	}
	if names(g.Missing) != slow || len(g.Replies) != len(ln.sites)-1 {
		t.Fatalf("missing %v with %d replies, want only %s missing", g.Missing, len(g.Replies), slow)
	}
	if g.Elapsed > 4*time.Second {
		t.Errorf("query took %v past its 2s deadline", g.Elapsed)
	}
	// The straggler is now fast; its stale reply to the first query arrives during the second
	// and must not be taken for an answer to it.
	delay.Store(0)
	time.Sleep(2500 * time.Millisecond)
	g2, err := c.Query(context.Background(), countQuery())
	if err != nil {
		t.Fatal(err)
	}
	if g2.Partial() || total(t, g2.Replies) != lungN {
		t.Errorf("second query: partial %v, count %d", g2.Partial(), total(t, g2.Replies))
	}
	for _, r := range g2.Replies {
		if r.QueryID != g2.Query.ID {
			t.Errorf("reply of %s answers %s, not %s", r.Site, r.QueryID, g2.Query.ID)
		}
	}
}

// TestDuplicateReplyMergedOnce: a site whose reply arrives twice (a second process of the
// same site outside its queue group) is counted once.
func TestDuplicateReplyMergedOnce(t *testing.T) {
	// inst1 answers late, so that both copies of the twin's reply arrive while the client is
	// still gathering: without deduplication the count would be too large.
	ln := startLungNet(t, node.ExactPolicy(), func(site string, h network.Handler, _ *nats.Conn) network.Handler {
		if site != "inst1" {
			return h
		}
		return network.HandlerFunc(func(ctx context.Context, q []byte) []byte {
			time.Sleep(500 * time.Millisecond)
			return h.HandleJSON(ctx, q)
		})
	})
	const twin = "inst11"
	nc, err := nats.Connect(ln.hub.URL())
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	eng := ln.engines[twin]
	var answered atomic.Int32
	_, err = nc.Subscribe(network.QuerySubject("lung", protocol.KindCount), func(m *nats.Msg) {
		out := &nats.Msg{Subject: m.Reply, Data: eng.HandleJSON(context.Background(), m.Data),
			Header: nats.Header{network.HeaderSite: []string{twin}}}
		_ = nc.PublishMsg(out)
		answered.Add(1)
	})
	if err != nil {
		t.Fatal(err)
	}
	_ = nc.Flush()
	c := dial(t, ln.hub.URL())
	g, err := c.Query(context.Background(), countQuery())
	if err != nil {
		t.Fatal(err)
	}
	if answered.Load() != 1 {
		t.Fatalf("the twin answered %d times", answered.Load())
	}
	if g.Partial() || len(g.Replies) != len(ln.sites) {
		t.Fatalf("%d replies for %d sites", len(g.Replies), len(ln.sites))
	}
	if n := total(t, g.Replies); n != lungN {
		t.Errorf("count %d with a duplicated reply, want %d", n, lungN)
	}
}

// TestInvalidReplyExcluded: a site whose reply is impossible (negative events) is named in
// Invalid with the reason and never merged.
func TestInvalidReplyExcluded(t *testing.T) {
	const bad, garbled = "inst12", "inst16"
	ln := startLungNet(t, node.ExactPolicy(), func(site string, h network.Handler, _ *nats.Conn) network.Handler {
		if site == garbled {
			return network.HandlerFunc(func(context.Context, []byte) []byte { return []byte("{not json") })
		}
		if site != bad {
			return h
		}
		return corrupt(h, func(r *protocol.Reply) {
			if r.Survival != nil && len(r.Survival.Groups) > 0 && len(r.Survival.Groups[0].Events) > 1 {
				r.Survival.Groups[0].Events[1] = -3
			}
		})
	})
	c := dial(t, ln.hub.URL())
	g, err := c.Query(context.Background(), protocol.Query{Kind: protocol.KindSurvival, Study: "lung", Endpoint: "os"})
	if err != nil {
		t.Fatal(err)
	}
	if len(g.Invalid) != 2 || g.Invalid[0].Site != bad || g.Invalid[0].Code != protocol.CodeInvalid ||
		!strings.Contains(g.Invalid[0].Message, "survival.groups[0].events[1]: -3 is negative") {
		t.Fatalf("invalid %+v, want %s with the negative count named", g.Invalid, bad)
	}
	if g.Invalid[1].Site != garbled || !strings.Contains(g.Invalid[1].Message, "not valid JSON") {
		t.Errorf("invalid %+v, want %s's undecodable reply attributed to it", g.Invalid[1], garbled)
	}
	for _, r := range g.Replies {
		if r.Site == bad || r.Site == garbled {
			t.Errorf("invalid reply of %s merged", r.Site)
		}
	}
	if len(g.Replies) != len(ln.sites)-2 || len(g.Missing) != 0 {
		t.Errorf("%d replies, missing %v", len(g.Replies), g.Missing)
	}
}

// TestRefusalReported: sites whose policy refuses the cohort are reported in Refused with
// the policy's code and reason; the others answer.
func TestRefusalReported(t *testing.T) {
	// A minimum cohort of 21 patients: of the lung sites only inst1 (36) and inst12 (23) hold
	// that many (count of lung.csv by site).
	ln := startLungNet(t, protocol.Policy{MinCohort: 21}, nil)
	c := dial(t, ln.hub.URL())
	g, err := c.Query(context.Background(), protocol.Query{Kind: protocol.KindCount, Study: "lung"})
	if err != nil {
		t.Fatal(err)
	}
	var answered []string
	for _, r := range g.Replies {
		answered = append(answered, r.Site)
	}
	if names(answered) != "inst1,inst12" || len(g.Refused) != len(ln.sites)-2 || len(g.Missing)+len(g.Invalid) != 0 {
		t.Fatalf("answered %v, refused %d, missing %v, invalid %v", answered, len(g.Refused), g.Missing, g.Invalid)
	}
	for _, p := range g.Refused {
		if p.Code != protocol.CodeRefusedByPolicy || p.Message == "" {
			t.Errorf("%s refused with code %q: %q", p.Site, p.Code, p.Message)
		}
	}
}

// TestHubRestart: the hub goes down and comes back on the same address between two queries;
// nodes and client reconnect by themselves and the second query is answered by all.
func TestHubRestart(t *testing.T) {
	ln := startLungNet(t, node.ExactPolicy(), nil)
	url := ln.hub.URL()
	c := dial(t, url)
	g, err := c.Query(context.Background(), countQuery())
	if err != nil || g.Partial() {
		t.Fatalf("before restart: %v %v", err, g)
	}
	ln.hub.Shutdown()
	// While the hub is down a query fails at once with code unavailable (the app then serves
	// cached results) instead of waiting for its deadline.
	for deadline := time.Now().Add(5 * time.Second); c.Conn().IsConnected() && time.Now().Before(deadline); {
		time.Sleep(10 * time.Millisecond)
	}
	if _, err := c.Query(context.Background(), countQuery()); app.ErrorCode(err) != app.EUnavailable {
		t.Errorf("query with the hub down: %v, want code unavailable", err)
	}
	addr := strings.TrimPrefix(url, "nats://")
	var hub *network.Hub
	for i := 0; i < 50; i++ {
		if hub, err = network.StartHub(network.HubOptions{Listen: addr}); err == nil {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(hub.Shutdown)
	// Wait until every node and the client are back (bounded).
	deadline := time.Now().Add(10 * time.Second)
	for hub.NumClients() < len(ln.sites)+1 && time.Now().Before(deadline) {
		time.Sleep(50 * time.Millisecond)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	g, err = c.Query(ctx, countQuery())
	if err != nil {
		t.Fatal(err)
	}
	if g.Partial() || total(t, g.Replies) != lungN {
		t.Errorf("after restart: missing %v refused %v, count %d", g.Missing, g.Refused, total(t, g.Replies))
	}
}

// TestStudyIsolation: a query on one study reaches only the sites serving it; a query whose
// body names another study than its subject is refused by the transport.
func TestStudyIsolation(t *testing.T) {
	ln := startLungNet(t, node.ExactPolicy(), nil)
	c := dial(t, ln.hub.URL())
	g, err := c.Query(context.Background(), protocol.Query{Kind: protocol.KindCount, Study: "other study"})
	if err != nil {
		t.Fatal(err)
	}
	if len(g.Expected) != 0 || len(g.Replies) != 0 {
		t.Errorf("a study no site serves: expected %v, replies %d", g.Expected, len(g.Replies))
	}
	q := protocol.Query{Version: protocol.Version, Kind: protocol.KindCount, ID: "x", Study: "other"}
	body, _ := json.Marshal(q)
	msg, err := c.Conn().Request(network.QuerySubject("lung", protocol.KindCount), body, 2*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if code := msg.Header.Get(network.HeaderErrorCode); code != protocol.CodeInvalid {
		t.Errorf("mismatched study: code %q, want %q (%s)", code, protocol.CodeInvalid, msg.Data)
	}
}
