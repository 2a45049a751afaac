package network_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nkeys"

	"github.com/oncofed/oncofed/app"
	"github.com/oncofed/oncofed/network"
	"github.com/oncofed/oncofed/node"
	"github.com/oncofed/oncofed/protocol"
)

// testCA writes a throwaway CA and a hub certificate for 127.0.0.1 signed by it under dir.
func testCA(t *testing.T, dir string) (caFile, certFile, keyFile string) {
	t.Helper()
	writePEM := func(name, typ string, der []byte) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der}), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	caTmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "oncofed test CA"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		KeyUsage: x509.KeyUsageCertSign, BasicConstraintsValid: true, IsCA: true,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	ca, _ := x509.ParseCertificate(caDER)
	hubKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	hubTmpl := &x509.Certificate{
		SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: "oncofed test hub"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IPAddresses: []net.IP{net.ParseIP("127.0.0.1")},
		KeyUsage:    x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	hubDER, err := x509.CreateCertificate(rand.Reader, hubTmpl, ca, &hubKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	kb, err := x509.MarshalECPrivateKey(hubKey)
	if err != nil {
		t.Fatal(err)
	}
	return writePEM("ca.crt", "CERTIFICATE", caDER), writePEM("hub.crt", "CERTIFICATE", hubDER), writePEM("hub.key", "EC PRIVATE KEY", kb)
}

// nkeyUser creates an NKey user and returns its seed file and public key.
func nkeyUser(t *testing.T, dir, name string) (seedFile, pub string) {
	t.Helper()
	kp, err := nkeys.CreateUser()
	if err != nil {
		t.Fatal(err)
	}
	seed, _ := kp.Seed()
	pub, _ = kp.PublicKey()
	seedFile = filepath.Join(dir, name+".nk")
	if err := os.WriteFile(seedFile, seed, 0o600); err != nil {
		t.Fatal(err)
	}
	return seedFile, pub
}

// securedHub is the hub of docs/nats/hub.conf with throwaway certificates and keys.
type securedHub struct {
	hub                 *network.Hub
	ca                  string
	siteSeed, site2Seed string
	alice, bobSeed      string
}

func startSecuredHub(t *testing.T) *securedHub {
	t.Helper()
	dir := t.TempDir()
	ca, cert, key := testCA(t, dir)
	siteSeed, sitePub := nkeyUser(t, dir, "inst1")
	site2Seed, site2Pub := nkeyUser(t, dir, "inst2")
	aliceSeed, alicePub := nkeyUser(t, dir, "alice")
	bobSeed, bobPub := nkeyUser(t, dir, "bob")
	for k, v := range map[string]string{
		"ONCOFED_HUB_CERT": cert, "ONCOFED_HUB_KEY": key,
		"ONCOFED_NKEY_SITE_INST1": sitePub, "ONCOFED_NKEY_SITE_INST2": site2Pub, "ONCOFED_NKEY_ALICE": alicePub, "ONCOFED_NKEY_BOB": bobPub,
	} {
		t.Setenv(k, v)
	}
	hub, err := network.StartHub(network.HubOptions{ConfigFile: "../docs/nats/hub.conf", Listen: "127.0.0.1:0"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(hub.Shutdown)
	return &securedHub{hub: hub, ca: ca, siteSeed: siteSeed, site2Seed: site2Seed, alice: aliceSeed, bobSeed: bobSeed}
}

// connect opens a raw NATS connection as the holder of seed, reporting asynchronous errors
// (permission violations) on the returned channel.
func (h *securedHub) connect(t *testing.T, seed, inbox string) (*nats.Conn, chan error) {
	t.Helper()
	errs := make(chan error, 16)
	opt, err := nats.NkeyOptionFromSeed(seed)
	if err != nil {
		t.Fatal(err)
	}
	opts := []nats.Option{opt, nats.RootCAs(h.ca), nats.ErrorHandler(func(_ *nats.Conn, _ *nats.Subscription, err error) {
		select {
		case errs <- err:
		default:
		}
	})}
	if inbox != "" {
		opts = append(opts, nats.CustomInboxPrefix(inbox))
	}
	nc, err := nats.Connect(h.hub.URL(), opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	return nc, errs
}

// wantViolation waits for the permission violation the hub reports for what.
func wantViolation(t *testing.T, errs chan error, what string) {
	t.Helper()
	select {
	case err := <-errs:
		if !errors.Is(err, nats.ErrPermissionViolation) && !strings.Contains(strings.ToLower(err.Error()), "permissions violation") {
			t.Errorf("%s: error %v, want a permissions violation", what, err)
		}
	case <-time.After(3 * time.Second):
		t.Errorf("%s: allowed, want a permissions violation", what)
	}
}

// TestHubPermissions: the hub of docs/nats/hub.conf (TLS, NKeys, per-subject permissions)
// serves a site and an analyst, and refuses each violation: an analyst sniffing the query
// subjects or another analyst's inbox or querying a study not granted, a site sending a
// query, listening to another study or reading an analyst's inbox, and a client without a
// key or without trust in the hub's certificate.
func TestHubPermissions(t *testing.T) {
	h := startSecuredHub(t)
	ctx := context.Background()
	if !strings.HasPrefix(h.hub.URL(), "tls://") {
		t.Fatalf("hub URL %s, want tls", h.hub.URL())
	}

	// The site inst1 serves lung with its key.
	siteNC, siteErrs := h.connect(t, h.siteSeed, "")
	store, err := node.OpenSQLite(filepath.Join(t.TempDir(), "inst1.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	if _, err := node.ImportCSV(ctx, store, node.ImportSpec{Study: "lung", IDColumn: "id", Site: "inst1",
		Endpoints: []node.EndpointSpec{{Name: "os", TimeColumn: "time", EventColumn: "event"}}},
		stringsReader("id,age,time,event\n1,60,100,1\n2,70,200,0\n3,65,50,1\n")); err != nil {
		t.Fatal(err)
	}
	pol := node.ExactPolicy()
	eng, err := node.NewEngine(ctx, store, node.Config{InsecureOpen: true, Policy: &pol})
	if err != nil {
		t.Fatal(err)
	}
	svc, err := network.ServeSite(ctx, siteNC, "inst1", []string{"lung"}, eng)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(svc.Stop)

	// Alice, with her key and her own inbox, discovers the site and gets her answer.
	c, err := network.Dial(ctx, h.hub.URL(), network.WithNKey(h.alice), network.WithRootCA(h.ca),
		network.WithInboxPrefix("_INBOX_alice"), network.WithTimeout(3*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	g, err := c.Query(ctx, protocol.Query{Kind: protocol.KindCount, Study: "lung"})
	if err != nil {
		t.Fatal(err)
	}
	if len(g.Replies) != 1 || g.Replies[0].Count.Total.N != 3 {
		t.Fatalf("alice's count: replies %+v missing %v refused %v", g.Replies, g.Missing, g.Refused)
	}
	select {
	case err := <-siteErrs:
		t.Fatalf("the site's own service hit a permission error: %v", err)
	default:
	}

	// Alice's violations.
	alice, aliceErrs := h.connect(t, h.alice, "_INBOX_alice")
	for _, subj := range []string{"oncofed.v1.lung.>", "oncofed.v1.lung.count", "_INBOX_bob.>", "_INBOX.>", ">"} {
		sub, err := alice.SubscribeSync(subj)
		if err == nil {
			_ = alice.Flush()
			wantViolation(t, aliceErrs, "analyst subscribing to "+subj)
			_ = sub.Unsubscribe()
		}
	}
	for _, subj := range []string{"oncofed.v1.other.count", "_INBOX_bob.x", "$SRV.STATS.oncofed-node", "oncofed.v1.lung.count.inst1", "oncofed.v1.lung.cox.inst1.x"} {
		if err := alice.Publish(subj, []byte(`{}`)); err == nil {
			_ = alice.Flush()
			wantViolation(t, aliceErrs, "analyst publishing to "+subj)
		}
	}
	// Without her own inbox prefix alice cannot even receive replies.
	plain, plainErrs := h.connect(t, h.alice, "")
	if _, err := plain.Request(network.CatalogSubject(), []byte(`{}`), time.Second); err == nil {
		t.Error("request with the shared _INBOX answered")
	}
	wantViolation(t, plainErrs, "analyst subscribing to the shared _INBOX")

	// The site's violations, on a second connection of the site's key.
	site2, site2Errs := h.connect(t, h.siteSeed, "")
	if err := site2.Publish(network.QuerySubject("lung", protocol.KindCount), []byte(`{}`)); err == nil {
		_ = site2.Flush()
		wantViolation(t, site2Errs, "site publishing a query")
	}
	for _, subj := range []string{network.QuerySubject("other", protocol.KindCount), "_INBOX_alice.>", "_INBOX.>"} {
		if _, err := site2.SubscribeSync(subj); err == nil {
			_ = site2.Flush()
			wantViolation(t, site2Errs, "site subscribing to "+subj)
		}
	}

	// Another site of the study (inst2) serves the study subjects and its own addressed
	// subject, and cannot read what is addressed to inst1 (its phase-2 weights).
	other, otherErrs := h.connect(t, h.site2Seed, "")
	for _, subj := range []string{network.QuerySubject("lung", protocol.KindCox), network.SiteQuerySubject("lung", protocol.KindCox, "inst2")} {
		sub, err := other.SubscribeSync(subj)
		if err != nil {
			t.Fatal(err)
		}
		_ = other.Flush()
		select {
		case err := <-otherErrs:
			t.Fatalf("inst2 subscribing to %s: %v", subj, err)
		case <-time.After(200 * time.Millisecond):
		}
		_ = sub.Unsubscribe()
	}
	// "oncofed.v1.lung.>" is the hole a "oncofed.v1.lung.*" grant leaves (hub.conf).
	var sniffers []*nats.Subscription
	for _, subj := range []string{network.SiteQuerySubject("lung", protocol.KindCox, "inst1"), network.SiteQuerySubject("lung", protocol.KindScreen, "inst1"), "oncofed.v1.lung.cox.*", "oncofed.v1.lung.screen.*", "oncofed.v1.lung.>", "oncofed.v1.lung.*.inst1"} {
		if sub, err := other.SubscribeSync(subj); err == nil {
			sniffers = append(sniffers, sub)
			_ = other.Flush()
			wantViolation(t, otherErrs, "site inst2 subscribing to "+subj)
		}
	}
	// Alice addresses inst1 alone through the hub: inst1 answers (its own subject is granted).
	ge, err := c.QueryEach(ctx, map[string]protocol.Query{"inst1": {Kind: protocol.KindCox, Study: "lung", Endpoint: "os",
		Cox: &protocol.CoxRequest{Form: protocol.CoxPooledHessian, Ties: "breslow", Covariates: []string{"age"}, Beta: []float64{0},
			Site: "inst1", Weights: &protocol.CoxWeights{A: []float64{0.1, 0.2, 0.3}, B: []float64{0, 0}}}}})
	if err != nil || len(ge.Replies) != 1 || len(ge.Replies[0].Cox.SecondMoment) != 1 {
		t.Fatalf("alice's addressed query: %+v %v", ge, err)
	}
	for _, sub := range sniffers {
		if m, err := sub.NextMsg(200 * time.Millisecond); err == nil {
			t.Errorf("site inst2 read %s through %s", m.Subject, sub.Subject)
		}
	}

	// Bob reaches the site through his own inbox; alice's sniffing subscription saw nothing.
	cb, err := network.Dial(ctx, h.hub.URL(), network.WithNKey(h.bobSeed), network.WithRootCA(h.ca), network.WithInboxPrefix("_INBOX_bob"))
	if err != nil {
		t.Fatal(err)
	}
	defer cb.Close()
	if g, err := cb.Query(ctx, protocol.Query{Kind: protocol.KindCount, Study: "lung"}); err != nil || len(g.Replies) != 1 {
		t.Fatalf("bob's count: %+v %v", g, err)
	}

	// No key, or no trust in the hub's certificate: no connection.
	if _, err := network.Dial(ctx, h.hub.URL(), network.WithRootCA(h.ca)); app.ErrorCode(err) != app.EUnavailable {
		t.Errorf("dial without a key: %v", err)
	}
	if _, err := network.Dial(ctx, h.hub.URL(), network.WithNKey(h.alice)); app.ErrorCode(err) != app.EUnavailable {
		t.Errorf("dial without trusting the hub's CA: %v", err)
	}
	if _, err := network.Dial(ctx, strings.Replace(h.hub.URL(), "tls://", "nats://", 1), network.WithNKey(h.alice)); app.ErrorCode(err) != app.EUnavailable {
		t.Errorf("plain nats:// dial: %v", err)
	}
}
