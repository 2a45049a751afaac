package network_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/oncofed/oncofed/internal/lungnode"
	"github.com/oncofed/oncofed/network"
	"github.com/oncofed/oncofed/node"
	"github.com/oncofed/oncofed/protocol"
)

// TestReplyTooLargeForHub: a reply larger than the hub's max_payload is replaced by a coded
// refusal (internal) the client can show, instead of vanishing as a missing site.
func TestReplyTooLargeForHub(t *testing.T) {
	dir := t.TempDir()
	conf := filepath.Join(dir, "hub.conf")
	if err := os.WriteFile(conf, []byte("host: 127.0.0.1\nport: -1\nmax_payload: 2048\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	hub, err := network.StartHub(network.HubOptions{ConfigFile: conf})
	if err != nil {
		t.Fatal(err)
	}
	defer hub.Shutdown()
	// The whole lung data at one site: its survival table (186 distinct times) encodes to
	// more than 2 KB, its count to far less.
	store, err := node.OpenSQLite(filepath.Join(dir, "all.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	f, err := os.Open("../analysis/testdata/lung.csv")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := node.ImportCSV(context.Background(), store, node.ImportSpec{Study: "lung", IDColumn: "id", Site: "all",
		Endpoints: []node.EndpointSpec{{Name: "os", TimeColumn: "time", EventColumn: "event"}}, Dictionary: lungnode.Dictionary(t, true, "os")}, f); err != nil {
		t.Fatal(err)
	}
	pol := node.ExactPolicy()
	eng, err := node.NewEngine(context.Background(), store, node.Config{InsecureOpen: true, Policy: &pol})
	if err != nil {
		t.Fatal(err)
	}
	nc, err := nats.Connect(hub.URL())
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	svc, err := network.ServeSite(context.Background(), nc, "all", []string{"lung"}, eng)
	if err != nil {
		t.Fatal(err)
	}
	defer svc.Stop()
	c := dial(t, hub.URL())
	g, err := c.Query(context.Background(), protocol.Query{Kind: protocol.KindCount, Study: "lung"})
	if err != nil || len(g.Replies) != 1 || g.Replies[0].Count.Total.N != lungN {
		t.Fatalf("count: %v %+v", err, g)
	}
	g, err = c.Query(context.Background(), protocol.Query{Kind: protocol.KindSurvival, Study: "lung", Endpoint: "os"})
	if err != nil {
		t.Fatal(err)
	}
	if len(g.Refused) != 1 || g.Refused[0].Code != protocol.CodeInternal || !strings.Contains(g.Refused[0].Message, "exceeds the hub's message size") {
		t.Fatalf("refused %+v, missing %v, replies %d", g.Refused, g.Missing, len(g.Replies))
	}
}

// TestConcurrentQueries: one client serves many concurrent queries (the desktop app runs
// analyses side by side); each gets its own, complete answer.
func TestConcurrentQueries(t *testing.T) {
	ln := startLungNet(t, node.ExactPolicy(), nil)
	c := dial(t, ln.hub.URL())
	var wg sync.WaitGroup
	errs := make(chan string, 16)
	for i := 0; i < 8; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			q := countQuery()
			if i%2 == 1 {
				q = protocol.Query{Kind: protocol.KindSurvival, Study: "lung", Endpoint: "os"}
			}
			g, err := c.Query(context.Background(), q)
			if err != nil {
				errs <- err.Error()
				return
			}
			if g.Partial() || len(g.Replies) != len(ln.sites) {
				errs <- "partial answer"
				return
			}
			for _, r := range g.Replies {
				if r.QueryID != g.Query.ID || r.Kind != q.Kind {
					errs <- "reply to another query"
				}
			}
		}(i)
	}
	wg.Wait()
	close(errs)
	for e := range errs {
		t.Error(e)
	}
}

// TestSiteProcessesShareLoad: a second process of a site (same name, same database, its own
// connection) joins the site's queue group: queries are spread over the two processes, each
// answered once, and discovery shows one site.
func TestSiteProcessesShareLoad(t *testing.T) {
	const site = "inst1"
	ln := startLungNet(t, node.ExactPolicy(), nil)
	nc, err := nats.Connect(ln.hub.URL())
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	second, err := network.ServeSite(context.Background(), nc, site, []string{"lung"}, ln.engines[site])
	if err != nil {
		t.Fatal(err)
	}
	defer second.Stop()
	c := dial(t, ln.hub.URL())
	sites, err := c.Sites(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if len(sites) != len(ln.sites) {
		t.Errorf("%d sites discovered with two processes of %s, want %d", len(sites), site, len(ln.sites))
	}
	const queries = 20
	for i := 0; i < queries; i++ {
		g, err := c.Query(context.Background(), countQuery())
		if err != nil {
			t.Fatal(err)
		}
		if g.Partial() || total(t, g.Replies) != lungN {
			t.Fatalf("query %d: partial %v, count %d", i, g.Partial(), total(t, g.Replies))
		}
	}
	requests := func(s *network.SiteService) int {
		n := 0
		for _, e := range s.Stats().Endpoints {
			if e.Subject == network.QuerySubject("lung", protocol.KindCount) {
				n += e.NumRequests
			}
		}
		return n
	}
	a, b := requests(ln.svcs[site]), requests(second)
	if a+b != queries || a == 0 || b == 0 {
		t.Errorf("the two processes of %s answered %d and %d of %d count queries", site, a, b, queries)
	}
}

// TestExpectedSites: a client told which sites must answer reports a site that is down as
// missing, although it never discovered it.
func TestExpectedSites(t *testing.T) {
	ln := startLungNet(t, node.ExactPolicy(), nil)
	ln.svcs["inst3"].Stop()
	c := dial(t, ln.hub.URL(), network.WithExpectedSites(ln.sites...), network.WithTimeout(2*time.Second))
	g, err := c.Query(context.Background(), countQuery())
	if err != nil {
		t.Fatal(err)
	}
	if names(g.Missing) != "inst3" || len(g.Expected) != len(ln.sites) || len(g.Replies) != len(ln.sites)-1 {
		t.Errorf("missing %v, expected %d, replies %d", g.Missing, len(g.Expected), len(g.Replies))
	}
}
