package network_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/oncofed/oncofed/app"
	"github.com/oncofed/oncofed/network"
)

// TestErrorsHideHubPassword: a password in the hub URL (or in one URL of a cluster list) never
// appears in the errors the client returns, which the app logs and shows.
func TestErrorsHideHubPassword(t *testing.T) {
	conf := filepath.Join(t.TempDir(), "hub.conf")
	if err := os.WriteFile(conf, []byte("host: 127.0.0.1\nport: -1\nauthorization { user: alice, password: s3cret }\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	hub, err := network.StartHub(network.HubOptions{ConfigFile: conf})
	if err != nil {
		t.Fatal(err)
	}
	url := strings.Replace(hub.URL(), "nats://", "nats://alice:s3cret@", 1)
	list := url + ", " + url
	c, err := network.Dial(context.Background(), list)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	hub.Shutdown()
	for deadline := time.Now().Add(5 * time.Second); c.Conn().IsConnected(); {
		if time.Now().After(deadline) {
			t.Fatal("client still connected after the hub shut down")
		}
		time.Sleep(10 * time.Millisecond)
	}
	_, err = c.Sites(context.Background())
	if app.ErrorCode(err) != app.EUnavailable || strings.Contains(err.Error(), "s3cret") || !strings.Contains(err.Error(), "127.0.0.1") {
		t.Fatalf("query while reconnecting: %v, want code unavailable naming the hub without its password", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	_, err = network.Dial(ctx, list)
	if app.ErrorCode(err) != app.EUnavailable || strings.Contains(err.Error(), "s3cret") || !strings.Contains(err.Error(), "127.0.0.1") {
		t.Fatalf("dial of a stopped hub: %v, want code unavailable naming the hub without its password", err)
	}
}
