package network_test

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/nats-io/jwt/v2"
	"github.com/nats-io/nkeys"

	"github.com/oncofed/oncofed/app"
	"github.com/oncofed/oncofed/network"
)

// TestCredentialsDataNKey: the contents of an NKey seed file (as the desktop app keeps them
// in the OS keyring) authenticate on docs/nats/hub.conf's hub like the file itself; an
// unknown key and a malformed one are refused.
func TestCredentialsDataNKey(t *testing.T) {
	h := startSecuredHub(t)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	seed, err := os.ReadFile(h.alice)
	if err != nil {
		t.Fatal(err)
	}
	c, err := network.Dial(ctx, h.hub.URL(), network.WithCredentialsData(string(seed)), network.WithRootCA(h.ca),
		network.WithInboxPrefix("_INBOX_alice"))
	if err != nil {
		t.Fatalf("alice's seed as data: %v", err)
	}
	c.Close()

	stranger, _ := nkeys.CreateUser()
	strangerSeed, _ := stranger.Seed()
	if _, err := network.Dial(ctx, h.hub.URL(), network.WithCredentialsData(string(strangerSeed)), network.WithRootCA(h.ca)); app.ErrorCode(err) != app.EUnavailable {
		t.Fatalf("an unknown NKey: err %v, want code unavailable", err)
	}
	if _, err := network.Dial(ctx, h.hub.URL(), network.WithCredentialsData("not a seed"), network.WithRootCA(h.ca)); err == nil {
		t.Fatal("a malformed credential was accepted")
	}
}

// TestCredentialsDataJWT: the contents of a NATS .creds file (user JWT + seed) authenticate
// on a hub in operator mode, as a hub run with nsc-issued accounts is; a user signed by
// another account's key is refused.
func TestCredentialsDataJWT(t *testing.T) {
	dir := t.TempDir()
	operator, _ := nkeys.CreateOperator()
	opPub, _ := operator.PublicKey()
	opJWT, err := jwt.NewOperatorClaims(opPub).Encode(operator)
	if err != nil {
		t.Fatal(err)
	}
	account, _ := nkeys.CreateAccount()
	accPub, _ := account.PublicKey()
	accJWT, err := jwt.NewAccountClaims(accPub).Encode(operator)
	if err != nil {
		t.Fatal(err)
	}
	creds := func(signer nkeys.KeyPair) string {
		user, _ := nkeys.CreateUser()
		userPub, _ := user.PublicKey()
		userJWT, err := jwt.NewUserClaims(userPub).Encode(signer)
		if err != nil {
			t.Fatal(err)
		}
		seed, _ := user.Seed()
		data, err := jwt.FormatUserConfig(userJWT, seed)
		if err != nil {
			t.Fatal(err)
		}
		return string(data)
	}
	conf := filepath.Join(dir, "hub.conf")
	if err := os.WriteFile(conf, []byte("operator: "+opJWT+"\nsystem_account: "+accPub+
		"\nresolver: MEMORY\nresolver_preload: {\n  "+accPub+": "+accJWT+"\n}\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	hub, err := network.StartHub(network.HubOptions{ConfigFile: conf, Listen: "127.0.0.1:0"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(hub.Shutdown)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()

	c, err := network.Dial(ctx, hub.URL(), network.WithCredentialsData(creds(account)))
	if err != nil {
		t.Fatalf("a user of the account: %v", err)
	}
	c.Close()
	other, _ := nkeys.CreateAccount()
	if _, err := network.Dial(ctx, hub.URL(), network.WithCredentialsData(creds(other))); app.ErrorCode(err) != app.EUnavailable {
		t.Fatalf("a user of an unknown account: err %v, want code unavailable", err)
	}
	if _, err := network.Dial(ctx, hub.URL()); app.ErrorCode(err) != app.EUnavailable {
		t.Fatalf("no credentials on an operator-mode hub: err %v, want code unavailable", err)
	}
}
