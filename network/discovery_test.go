package network_test

import (
	"context"
	"io"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/oncofed/oncofed/internal/lungnode"
	"github.com/oncofed/oncofed/internal/lungtest"
	"github.com/oncofed/oncofed/network"
	"github.com/oncofed/oncofed/node"
	"github.com/oncofed/oncofed/protocol"
)

// TestDiscoveryFindsEveryProcessOfASite: a site that serves each study from a process of its
// own (here three, two of them behind slow links) is discovered with every study, its catalog
// lists every study, and a query on the study of its slowest process reaches it. Before the
// fix, discovery stopped a fifth of its window after the last *site* appeared (cutting off
// the third process, heard 1.2 s after the first with a 1 s quiet period), and only one
// process of the site (its queue group) answered the catalog.
func TestDiscoveryFindsEveryProcessOfASite(t *testing.T) {
	hub, err := network.StartHub(network.HubOptions{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(hub.Shutdown)
	dir := t.TempDir()
	csvs := lungtest.WriteSites(t, dir, false)
	// Site inst1 runs one process per study; inst2 one process.
	var slow600, slow1200 atomic.Int64 // the links' delays, set once every process is up
	serveStudy(t, hub.URL(), dir, csvs["inst1"], "inst1", "lungA")
	serveStudy(t, delayedLink(t, hub.URL(), &slow600), dir, csvs["inst1"], "inst1", "lungB")
	serveStudy(t, delayedLink(t, hub.URL(), &slow1200), dir, csvs["inst1"], "inst1", "lungC")
	serveStudy(t, hub.URL(), dir, csvs["inst2"], "inst2", "lungA")
	slow600.Store(int64(600 * time.Millisecond))
	slow1200.Store(int64(1200 * time.Millisecond))

	// A 5 s window: the quiet period is 1 s, so the process heard at 1.2 s is cut off unless
	// the one heard at 0.6 s restarted it.
	c := dial(t, hub.URL(), network.WithDiscoveryWait(5*time.Second), network.WithDiscoveryTTL(time.Minute),
		network.WithTimeout(10*time.Second))
	ctx := context.Background()
	for round := 1; round <= 2; round++ { // the second discovery starts knowing the processes
		sites, err := c.Sites(ctx)
		if err != nil {
			t.Fatal(err)
		}
		got := map[string]string{}
		for _, s := range sites {
			got[s.Site] = strings.Join(s.Studies, ",")
		}
		if got["inst1"] != "lungA,lungB,lungC" || got["inst2"] != "lungA" || len(got) != 2 {
			t.Fatalf("discovery %d: sites and studies %v, want inst1: lungA,lungB,lungC and inst2: lungA", round, got)
		}
	}

	g, err := c.Query(ctx, protocol.Query{Kind: protocol.KindCatalog, ID: "cat-1"})
	if err != nil {
		t.Fatal(err)
	}
	if len(g.Replies) != 2 || g.Partial() || len(g.Refused)+len(g.Invalid) > 0 {
		t.Fatalf("catalog: %d replies, missing %v, refused %v, invalid %v", len(g.Replies), g.Missing, g.Refused, g.Invalid)
	}
	for _, r := range g.Replies {
		var studies []string
		for _, st := range r.Catalog.Studies {
			studies = append(studies, st.Name)
		}
		want := map[string]string{"inst1": "lungA,lungB,lungC", "inst2": "lungA"}[r.Site]
		if got := strings.Join(studies, ","); got != want {
			t.Errorf("catalog of %s lists %s, want %s", r.Site, got, want)
		}
		if err := protocol.ValidateReply(g.Query, r); err != nil {
			t.Errorf("merged catalog of %s does not validate: %v", r.Site, err)
		}
		if string(g.ReplyJSON[r.Site]) == "" {
			t.Errorf("no reply JSON kept for %s", r.Site)
		}
	}

	q := countQuery()
	q.Study = "lungC"
	g, err = c.Query(ctx, q)
	if err != nil {
		t.Fatal(err)
	}
	if names(g.Expected) != "inst1" || len(g.Replies) != 1 || g.Replies[0].Site != "inst1" {
		t.Errorf("count on lungC: expected %v, replies %d", g.Expected, len(g.Replies))
	}
}

// serveStudy imports a site's lung CSV as study into a database of its own and serves it as
// one process of site: its own connection to the hub at url.
func serveStudy(t *testing.T, url, dir, csvPath, site, study string) {
	t.Helper()
	ctx := context.Background()
	store, err := node.OpenSQLite(filepath.Join(dir, site+"-"+study+".db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	f, err := os.Open(csvPath)
	if err != nil {
		t.Fatal(err)
	}
	dict := lungnode.Dictionary(t, false, "os")
	dict.Study = study
	_, err = node.ImportCSV(ctx, store, node.ImportSpec{
		Study: study, IDColumn: "id", Site: site, DataCut: "2024-01-01",
		Endpoints:  []node.EndpointSpec{{Name: "os", TimeColumn: "time", EventColumn: "event"}},
		Dictionary: dict,
	}, f)
	f.Close()
	if err != nil {
		t.Fatal(err)
	}
	policy := node.ExactPolicy()
	eng, err := node.NewEngine(ctx, store, node.Config{Site: site, Policy: &policy, InsecureOpen: true})
	if err != nil {
		t.Fatal(err)
	}
	nc, err := nats.Connect(url, nats.Name(site+"-"+study), nats.Timeout(5*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	svc, err := network.ServeSite(ctx, nc, site, []string{study}, eng)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(svc.Stop)
}

// delayedLink is a TCP proxy on loopback to the hub at hubURL that delivers what the hub
// sends *delay nanoseconds late (a slow link to a hospital): a process connected through it
// hears a discovery request, and so announces itself, that much after a process connected
// directly. It returns the proxy's URL.
func delayedLink(t *testing.T, hubURL string, delay *atomic.Int64) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	hubAddr := strings.TrimPrefix(hubURL, "nats://")
	var wg sync.WaitGroup
	t.Cleanup(func() { ln.Close(); wg.Wait() })
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			node, err := ln.Accept()
			if err != nil {
				return
			}
			hub, err := net.Dial("tcp", hubAddr)
			if err != nil {
				node.Close()
				return
			}
			t.Cleanup(func() { node.Close(); hub.Close() })
			wg.Add(2)
			go func() { defer wg.Done(); io.Copy(hub, node) }()
			go func() { defer wg.Done(); copyLate(node, hub, delay) }()
		}
	}()
	return "nats://" + ln.Addr().String()
}

// copyLate copies src to dst, writing each chunk *delay after it was read, in order.
func copyLate(dst io.Writer, src io.Reader, delay *atomic.Int64) {
	type chunk struct {
		at time.Time
		b  []byte
	}
	ch := make(chan chunk, 1024)
	go func() {
		defer close(ch)
		buf := make([]byte, 32*1024)
		for {
			n, err := src.Read(buf)
			if n > 0 {
				ch <- chunk{time.Now().Add(time.Duration(delay.Load())), slices.Clone(buf[:n])}
			}
			if err != nil {
				return
			}
		}
	}()
	for c := range ch {
		time.Sleep(time.Until(c.at))
		if _, err := dst.Write(c.b); err != nil {
			return
		}
	}
}
