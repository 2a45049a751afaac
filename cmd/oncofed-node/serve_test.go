package main

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/oncofed/oncofed/network"
	"github.com/oncofed/oncofed/node"
	"github.com/oncofed/oncofed/protocol"
)

// TestServe: `serve` with two site databases in one process answers a client on a real hub,
// and returns when its context ends (as on SIGINT).
func TestServe(t *testing.T) {
	hub, err := network.StartHub(network.HubOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer hub.Shutdown()
	dir := t.TempDir()
	var dbs []string
	for site, csv := range map[string]string{
		"east": "id,age,time,event\n1,60,100,1\n2,70,200,0\n3,65,50,1\n",
		"west": "id,age,time,event\n1,55,300,0\n2,75,20,1\n",
	} {
		path := filepath.Join(dir, site+".db")
		store, err := node.OpenSQLite(path)
		if err != nil {
			t.Fatal(err)
		}
		_, err = node.ImportCSV(context.Background(), store, node.ImportSpec{Study: "trial", IDColumn: "id", Site: site,
			Endpoints: []node.EndpointSpec{{Name: "os", TimeColumn: "time", EventColumn: "event"}}}, strings.NewReader(csv))
		store.Close()
		if err != nil {
			t.Fatal(err)
		}
		dbs = append(dbs, path)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- serve(ctx, serveConfig{hub: hub.URL(), dbs: dbs, policy: node.ExactPolicy()}, io.Discard)
	}()
	c, err := network.Dial(context.Background(), hub.URL())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	// The sites come up asynchronously: ask until both answered (bounded).
	var total int
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
		g, err := c.Query(context.Background(), protocol.Query{Kind: protocol.KindCount, Study: "trial"})
		if err != nil {
			t.Fatal(err)
		}
		if len(g.Replies) == 2 {
			total = g.Replies[0].Count.Total.N + g.Replies[1].Count.Total.N
			break
		}
	}
	if total != 5 {
		t.Fatalf("pooled count %d, want 5 (3 east + 2 west)", total)
	}
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("serve: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("serve did not stop")
	}
}

// TestServeAnalysts: `serve --analysts` answers only queries signed by a listed key.
func TestServeAnalysts(t *testing.T) {
	hub, err := network.StartHub(network.HubOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer hub.Shutdown()
	dir := t.TempDir()
	path := filepath.Join(dir, "east.db")
	store, err := node.OpenSQLite(path)
	if err != nil {
		t.Fatal(err)
	}
	_, err = node.ImportCSV(context.Background(), store, node.ImportSpec{Study: "trial", IDColumn: "id", Site: "east",
		Endpoints: []node.EndpointSpec{{Name: "os", TimeColumn: "time", EventColumn: "event"}}}, strings.NewReader("id,time,event\n1,100,1\n2,200,0\n"))
	store.Close()
	if err != nil {
		t.Fatal(err)
	}
	_, key, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	signer := protocol.NewSigner(key, nil)
	analysts, err := node.ParseAnalysts(strings.NewReader("alice " + signer.PublicKey() + " trusted\n"))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var log strings.Builder
	done := make(chan error, 1)
	go func() {
		done <- serve(ctx, serveConfig{hub: hub.URL(), dbs: []string{path}, policy: node.ExactPolicy(), analysts: analysts}, &syncWriter{w: &log})
	}()
	unsigned := dialWait(t, hub.URL())
	signed, err := network.Dial(context.Background(), hub.URL(), network.WithSigner(signer))
	if err != nil {
		t.Fatal(err)
	}
	defer signed.Close()
	g, err := unsigned.Query(context.Background(), protocol.Query{Kind: protocol.KindCount, Study: "trial"})
	if err != nil || len(g.Refused) != 1 || g.Refused[0].Code != protocol.CodeUnauthenticated {
		t.Fatalf("unsigned: %+v, %v", g, err)
	}
	g, err = signed.Query(context.Background(), protocol.Query{Kind: protocol.KindCount, Study: "trial"})
	if err != nil || len(g.Replies) != 1 || g.Replies[0].Count.Total.N != 2 {
		t.Fatalf("signed: %+v, %v", g, err)
	}
	cancel()
	<-done
}

// dialWait dials the hub and waits until a site answers discovery (bounded).
func dialWait(t *testing.T, url string) *network.Client {
	t.Helper()
	c, err := network.Dial(context.Background(), url)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		if s, err := c.Sites(context.Background()); err == nil && len(s) > 0 {
			return c
		}
	}
	t.Fatal("no site came up")
	return nil
}

// syncWriter serialises writes to w.
type syncWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (s *syncWriter) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.w.Write(p)
}

// syncBuffer is a log written by serve's goroutines and read by the test.
type syncBuffer struct {
	mu sync.Mutex
	b  strings.Builder
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// TestServeLogHidesHubPassword: the log names the hub, but not the password in its URL.
func TestServeLogHidesHubPassword(t *testing.T) {
	conf := filepath.Join(t.TempDir(), "hub.conf")
	if err := os.WriteFile(conf, []byte("host: 127.0.0.1\nport: -1\nauthorization { user: site, password: s3cret }\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	hub, err := network.StartHub(network.HubOptions{ConfigFile: conf})
	if err != nil {
		t.Fatal(err)
	}
	defer hub.Shutdown()
	db := filepath.Join(t.TempDir(), "east.db")
	store, err := node.OpenSQLite(db)
	if err != nil {
		t.Fatal(err)
	}
	_, err = node.ImportCSV(context.Background(), store, node.ImportSpec{Study: "trial", IDColumn: "id", Site: "east",
		Endpoints: []node.EndpointSpec{{Name: "os", TimeColumn: "time", EventColumn: "event"}}}, strings.NewReader("id,age,time,event\n1,60,100,1\n2,70,200,0\n"))
	store.Close()
	if err != nil {
		t.Fatal(err)
	}
	url := strings.Replace(hub.URL(), "nats://", "nats://site:s3cret@", 1)
	var log syncBuffer
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- serve(ctx, serveConfig{hub: url, dbs: []string{db}, policy: node.ExactPolicy()}, &log) }()
	for deadline := time.Now().Add(10 * time.Second); !strings.Contains(log.String(), "serves"); time.Sleep(20 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("site not served; log:\n%s", log.String())
		}
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if l := log.String(); strings.Contains(l, "s3cret") || !strings.Contains(l, hub.URL()) {
		t.Fatalf("log names the hub with its password, or not at all:\n%s", l)
	}
}

// A node is authenticated by default: serve refuses to start without an analysts list unless
// told --insecure-open, and refuses both at once.
func TestServeNeedsAnalysts(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--db", "site.db"}, "no --analysts list"},
		{[]string{"--db", "site.db", "--insecure-open", "--analysts", "a.txt"}, "contradict"},
	} {
		if err := runServe(tc.args); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("serve %q: %v, want %q", tc.args, err, tc.want)
		}
	}
}
