package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/oncofed/oncofed/network"
)

// TestNoHubPasswordInCache: a cluster list of hub URLs carrying a password (--hub
// nats://user:pass@a,nats://user:pass@b) reaches neither the result cache nor the output.
func TestNoHubPasswordInCache(t *testing.T) {
	dir := t.TempDir()
	conf := filepath.Join(dir, "hub.conf")
	if err := os.WriteFile(conf, []byte("host: 127.0.0.1\nport: -1\nauthorization { user: alice, password: s3cret }\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	hub, err := network.StartHub(network.HubOptions{ConfigFile: conf})
	if err != nil {
		t.Fatal(err)
	}
	defer hub.Shutdown()
	url := strings.Replace(hub.URL(), "nats://", "nats://alice:s3cret@", 1)
	cachePath := filepath.Join(dir, "cache.db")
	code, stdout, stderr := cli(t, "--hub", url+","+url, "--cache", cachePath, "sites")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	if strings.Contains(stdout+stderr, "s3cret") {
		t.Errorf("output carries the password:\n%s%s", stdout, stderr)
	}
	found := false
	for _, f := range []string{cachePath, cachePath + "-wal"} {
		b, _ := os.ReadFile(f)
		if bytes.Contains(b, []byte("s3cret")) {
			t.Errorf("%s contains the password", f)
		}
		found = found || bytes.Contains(b, []byte(strings.TrimPrefix(hub.URL(), "nats://")))
	}
	if !found {
		t.Errorf("the cache does not name the hub at all: the test cannot tell")
	}
}
