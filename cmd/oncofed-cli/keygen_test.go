package main

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/nats-io/nats.go"

	"github.com/oncofed/oncofed/network"
	"github.com/oncofed/oncofed/node"
)

// TestKeygenAndSignedQueries: keygen writes a private key only its owner can read and the line
// a site adds to its analysts file; a site with that list refuses the CLI's unsigned queries
// and answers them signed with --key.
func TestKeygenAndSignedQueries(t *testing.T) {
	dir := t.TempDir()
	keyFile := filepath.Join(dir, "alice.key")
	code, line, stderr := cli(t, "keygen", "--out", keyFile, "--name", "alice")
	if code != exitOK {
		t.Fatalf("keygen: %d %s", code, stderr)
	}
	if fi, err := os.Stat(keyFile); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("key file: %v, %v", fi.Mode(), err)
	}
	if pub, _ := os.ReadFile(keyFile + ".pub"); string(pub) != line || !strings.HasPrefix(line, "alice ") {
		t.Fatalf("public key line %q, file %q", line, pub)
	}
	if code, _, stderr := cli(t, "keygen", "--out", keyFile); code != exitFailure || !strings.Contains(stderr, "exists") {
		t.Errorf("keygen over an existing key: %d %s", code, stderr)
	}

	analysts, err := node.ParseAnalysts(strings.NewReader(strings.TrimSpace(line) + " trusted\n")) // listed under a data-use agreement
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	hub, err := network.StartHub(network.HubOptions{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(hub.Shutdown)
	store, err := node.OpenSQLite(filepath.Join(dir, "a.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	if _, err := node.ImportCSV(ctx, store, node.ImportSpec{Study: "trial", IDColumn: "id", Site: "a",
		Endpoints: []node.EndpointSpec{{Name: "os", TimeColumn: "time", EventColumn: "event"}}},
		strings.NewReader("id,age,time,event\n1,60,100,1\n2,70,200,0\n3,65,50,1\n")); err != nil {
		t.Fatal(err)
	}
	pol := node.ExactPolicy()
	eng, err := node.NewEngine(ctx, store, node.Config{Policy: &pol, Analysts: analysts})
	if err != nil {
		t.Fatal(err)
	}
	nc, err := nats.Connect(hub.URL())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	svc, err := network.ServeSite(ctx, nc, "a", []string{"trial"}, eng)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(svc.Stop)

	if code, _, stderr := cli(t, "--hub", hub.URL(), "count", "--study", "trial"); code != exitFailure || !strings.Contains(stderr, "signed queries only") {
		t.Errorf("unsigned: exit %d, %s", code, stderr)
	}
	code, out, stderr := cli(t, "--hub", hub.URL(), "--key", keyFile, "count", "--study", "trial", "--format", "csv")
	if code != exitOK || !strings.Contains(out, "3") {
		t.Fatalf("signed: exit %d, %s %s", code, out, stderr)
	}
	recs, err := store.AuditRecords(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if last := recs[len(recs)-1]; last.Analyst != "alice" || last.Outcome != node.OutcomeReleased {
		t.Errorf("audit: %+v", last.AuditEntry)
	}
	if err := os.Chmod(keyFile, 0o644); err != nil {
		t.Fatal(err)
	}
	if code, _, stderr := cli(t, "--hub", hub.URL(), "--key", keyFile, "count", "--study", "trial"); code != exitFailure || !strings.Contains(stderr, "readable by others") {
		t.Errorf("world-readable key: exit %d, %s", code, stderr)
	}
}
