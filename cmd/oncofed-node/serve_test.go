package main

import (
	"context"
	"io"
	"path/filepath"
	"strings"
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
