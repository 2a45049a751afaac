package network_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nkeys"

	"github.com/oncofed/oncofed/app"
	"github.com/oncofed/oncofed/network"
	"github.com/oncofed/oncofed/node"
	"github.com/oncofed/oncofed/protocol"
)

// TestHubConfigNKeys: a hub configured from a NATS config file with NKey users admits the
// analyst and the site that hold their seeds, and refuses a connection without one.
func TestHubConfigNKeys(t *testing.T) {
	dir := t.TempDir()
	seedFile := func(name string) (string, string) {
		kp, err := nkeys.CreateUser()
		if err != nil {
			t.Fatal(err)
		}
		seed, _ := kp.Seed()
		pub, _ := kp.PublicKey()
		path := filepath.Join(dir, name+".nk")
		if err := os.WriteFile(path, seed, 0o600); err != nil {
			t.Fatal(err)
		}
		return path, pub
	}
	analystSeed, analystPub := seedFile("analyst")
	siteSeed, sitePub := seedFile("site")
	conf := filepath.Join(dir, "hub.conf")
	if err := os.WriteFile(conf, []byte(fmt.Sprintf(`
host: 127.0.0.1
port: -1
authorization {
  users: [
    { nkey: %s }
    { nkey: %s }
  ]
}
`, analystPub, sitePub)), 0o600); err != nil {
		t.Fatal(err)
	}
	hub, err := network.StartHub(network.HubOptions{ConfigFile: conf})
	if err != nil {
		t.Fatal(err)
	}
	defer hub.Shutdown()

	_, err = network.Dial(context.Background(), hub.URL())
	if app.ErrorCode(err) != app.EUnavailable {
		t.Fatalf("dial without a key: %v, want code unavailable", err)
	}
	opt, err := nats.NkeyOptionFromSeed(siteSeed)
	if err != nil {
		t.Fatal(err)
	}
	nc, err := nats.Connect(hub.URL(), opt)
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	store, err := node.OpenSQLite(filepath.Join(dir, "site.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	csv := "id,age,time,event\n1,60,100,1\n2,70,200,0\n"
	if _, err := node.ImportCSV(context.Background(), store, node.ImportSpec{Study: "s", IDColumn: "id", Site: "a",
		Endpoints: []node.EndpointSpec{{Name: "os", TimeColumn: "time", EventColumn: "event"}}}, stringsReader(csv)); err != nil {
		t.Fatal(err)
	}
	pol := node.ExactPolicy()
	eng, err := node.NewEngine(context.Background(), store, node.Config{InsecureOpen: true, Policy: &pol})
	if err != nil {
		t.Fatal(err)
	}
	svc, err := network.ServeSite(context.Background(), nc, eng.Site(), []string{"s"}, eng)
	if err != nil {
		t.Fatal(err)
	}
	defer svc.Stop()

	c, err := network.Dial(context.Background(), hub.URL(), network.WithNKey(analystSeed), network.WithTimeout(5*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	g, err := c.Query(context.Background(), protocol.Query{Kind: protocol.KindCount, Study: "s"})
	if err != nil {
		t.Fatal(err)
	}
	if len(g.Replies) != 1 || g.Replies[0].Count.Total.N != 2 {
		t.Fatalf("replies %+v, missing %v refused %v", g.Replies, g.Missing, g.Refused)
	}
}
