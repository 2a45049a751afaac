package network_test

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"encoding/json"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/oncofed/oncofed/internal/lungnode"
	"github.com/oncofed/oncofed/internal/lungtest"
	"github.com/oncofed/oncofed/network"
	"github.com/oncofed/oncofed/node"
	"github.com/oncofed/oncofed/protocol"
)

// lungNet is a real federation on loopback: an embedded hub and one node per NCCTG
// institution, each a node.Engine over its own SQLite file, each on its own connection.
type lungNet struct {
	hub     *network.Hub
	engines map[string]*node.Engine
	conns   map[string]*nats.Conn
	svcs    map[string]*network.SiteService
	sites   []string
}

// wrap lets a test alter one site's behaviour around its real engine.
type wrap func(site string, h network.Handler, nc *nats.Conn) network.Handler

func startLungNet(t testing.TB, policy protocol.Policy, w wrap) *lungNet {
	t.Helper()
	hub, err := network.StartHub(network.HubOptions{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(hub.Shutdown)
	ln := serveLung(t, hub.URL(), policy, w)
	ln.hub = hub
	return ln
}

// serveLung serves the NCCTG sites on the hub (or cluster: comma-separated URLs) at url.
func serveLung(t testing.TB, url string, policy protocol.Policy, w wrap) *lungNet {
	t.Helper()
	return serveLungAuth(t, url, policy, nil, w)
}

// serveLungWith serves the NCCTG sites answering the signed queries of analysts only.
func serveLungWith(t testing.TB, url string, policy protocol.Policy, analysts *node.Analysts) *lungNet {
	t.Helper()
	return serveLungAuth(t, url, policy, analysts, nil)
}

func serveLungAuth(t testing.TB, url string, policy protocol.Policy, analysts *node.Analysts, w wrap) *lungNet {
	t.Helper()
	ctx := context.Background()
	dir := t.TempDir()
	ln := &lungNet{engines: map[string]*node.Engine{}, conns: map[string]*nats.Conn{}, svcs: map[string]*network.SiteService{}}
	for site, path := range lungtest.WriteSites(t, dir, false) {
		store, err := node.OpenSQLite(filepath.Join(dir, site+".db"))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { store.Close() })
		f, err := os.Open(path)
		if err != nil {
			t.Fatal(err)
		}
		_, err = node.ImportCSV(ctx, store, node.ImportSpec{
			Study: "lung", IDColumn: "id", Site: site, DataCut: "2024-01-01",
			Endpoints:  []node.EndpointSpec{{Name: "os", TimeColumn: "time", EventColumn: "event"}},
			Dictionary: lungnode.Dictionary(t, false, "os"),
		}, f)
		f.Close()
		if err != nil {
			t.Fatalf("import %s: %v", site, err)
		}
		p := policy
		eng, err := node.NewEngine(ctx, store, node.Config{Site: site, Policy: &p, Analysts: analysts, InsecureOpen: analysts == nil})
		if err != nil {
			t.Fatal(err)
		}
		nc, err := nats.Connect(url, nats.Name(site), nats.MaxReconnects(-1), nats.ReconnectWait(100*time.Millisecond))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(nc.Close)
		var h network.Handler = eng
		if w != nil {
			h = w(site, eng, nc)
		}
		svc, err := network.ServeSite(ctx, nc, site, []string{"lung"}, h)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(svc.Stop)
		ln.engines[site], ln.conns[site], ln.svcs[site] = eng, nc, svc
		ln.sites = append(ln.sites, site)
	}
	sort.Strings(ln.sites)
	return ln
}

func dial(t testing.TB, url string, opts ...network.Option) *network.Client {
	t.Helper()
	c, err := network.Dial(context.Background(), url, opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// corrupt returns a handler that answers with the real engine's reply altered by f.
func corrupt(h network.Handler, f func(r *protocol.Reply)) network.Handler {
	return network.HandlerFunc(func(ctx context.Context, q []byte) []byte {
		var r protocol.Reply
		if err := json.Unmarshal(h.HandleJSON(ctx, q), &r); err != nil {
			panic(err)
		}
		f(&r)
		b, _ := json.Marshal(r)
		return b
	})
}

// testAnalystKey is a deterministic Ed25519 analyst key (seed byte b repeated).
func testAnalystKey(b byte) ed25519.PrivateKey {
	return ed25519.NewKeyFromSeed(bytes.Repeat([]byte{b}, ed25519.SeedSize))
}

func jsonMarshal(v any) ([]byte, error) { return json.Marshal(v) }

func names(ps []string) string { return strings.Join(ps, ",") }

func stringsReader(s string) *strings.Reader { return strings.NewReader(s) }
