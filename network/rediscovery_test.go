package network_test

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/micro"

	"github.com/oncofed/oncofed/internal/lungtest"
	"github.com/oncofed/oncofed/network"
)

// A re-discovery returns as soon as every process seen before answered, without the quiet
// period; a process that starts afterwards and answers later (a slow link) is heard by the
// discovery's background part and is then queried, and waited for by the next discovery.
func TestRediscoveryEndsWhenKnownProcessesAnswered(t *testing.T) {
	hub, dir, csvs := twoSitesOnLungA(t)

	// A 5 s window: a quiet period of 1 s after the last new process.
	c := dial(t, hub.URL(), network.WithDiscoveryWait(5*time.Second), network.WithDiscoveryTTL(time.Minute),
		network.WithTimeout(10*time.Second))
	ctx := context.Background()
	start := time.Now()
	if _, err := c.Sites(ctx); err != nil {
		t.Fatal(err)
	}
	if cold := time.Since(start); cold < time.Second {
		t.Fatalf("the first discovery took %v: it must wait out the quiet period (1 s)", cold)
	}

	// inst1 starts a process for lungB behind a 300 ms link.
	var slow atomic.Int64
	serveStudy(t, delayedLink(t, hub.URL(), &slow), dir, csvs["inst1"], "inst1", "lungB")
	slow.Store(int64(300 * time.Millisecond))
	start = time.Now()
	if _, err := c.Sites(ctx); err != nil {
		t.Fatal(err)
	}
	if warm := time.Since(start); warm > 700*time.Millisecond {
		t.Errorf("the re-discovery took %v: it should end once inst1 and inst2 answered", warm)
	}
	// The background part hears the new process within its quiet period; a query on lungB
	// (no new discovery: the TTL is a minute) then reaches it.
	time.Sleep(1500 * time.Millisecond)
	q := countQuery()
	q.Study = "lungB"
	g, err := c.Query(ctx, q)
	if err != nil {
		t.Fatal(err)
	}
	if names(g.Expected) != "inst1" || len(g.Replies) != 1 {
		t.Fatalf("count on lungB after the late process: expected %v, %d replies, missing %v", g.Expected, len(g.Replies), g.Missing)
	}
	// The next discovery waits for it (it is known now) and lists its study.
	sites, err := c.Sites(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range sites {
		if s.Site == "inst1" && names(s.Studies) != "lungA,lungB" {
			t.Errorf("inst1 lists %v after the next discovery, want lungA,lungB", s.Studies)
		}
	}
}

// Prefetch runs the first discovery while the caller does other work; the first query then
// uses it instead of sending a discovery of its own.
func TestPrefetchIsTheFirstQuerysDiscovery(t *testing.T) {
	hub, _, _ := twoSitesOnLungA(t)

	watch, err := nats.Connect(hub.URL())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(watch.Close)
	subject, err := micro.ControlSubject(micro.InfoVerb, network.ServiceName, "")
	if err != nil {
		t.Fatal(err)
	}
	var asked atomic.Int32
	if _, err := watch.Subscribe(subject, func(*nats.Msg) { asked.Add(1) }); err != nil {
		t.Fatal(err)
	}
	if err := watch.Flush(); err != nil {
		t.Fatal(err)
	}

	c := dial(t, hub.URL(), network.WithDiscoveryTTL(time.Minute), network.WithTimeout(10*time.Second))
	ctx := context.Background()
	c.Prefetch(ctx)
	c.Prefetch(ctx) // a second call while the first runs starts nothing
	q := countQuery()
	q.Study = "lungA"
	g, err := c.Query(ctx, q)
	if err != nil {
		t.Fatal(err)
	}
	if names(g.Expected) != "inst1,inst2" || len(g.Replies) != 2 {
		t.Fatalf("count after a prefetch: expected %v, %d replies", g.Expected, len(g.Replies))
	}
	if err := watch.Flush(); err != nil {
		t.Fatal(err)
	}
	if n := asked.Load(); n != 1 {
		t.Errorf("%d discovery requests, want the prefetch's only", n)
	}
}

// twoSitesOnLungA starts a hub with sites inst1 and inst2 serving lungA, each from one process;
// it returns the hub, the directory of the sites' files and their lung CSVs.
func twoSitesOnLungA(t *testing.T) (*network.Hub, string, map[string]string) {
	t.Helper()
	hub, err := network.StartHub(network.HubOptions{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(hub.Shutdown)
	dir := t.TempDir()
	csvs := lungtest.WriteSites(t, dir, false)
	serveStudy(t, hub.URL(), dir, csvs["inst1"], "inst1", "lungA")
	serveStudy(t, hub.URL(), dir, csvs["inst2"], "inst2", "lungA")
	return hub, dir, csvs
}
