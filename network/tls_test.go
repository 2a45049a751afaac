package network_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/oncofed/oncofed/app"
	"github.com/oncofed/oncofed/network"
)

// selfSigned writes a self-signed certificate for 127.0.0.1 and its key under dir.
func selfSigned(t *testing.T, dir string) (certFile, keyFile string) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "oncofed test hub"},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(time.Hour),
		IPAddresses:           []net.IP{net.ParseIP("127.0.0.1")},
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	kb, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	certFile, keyFile = filepath.Join(dir, "hub.crt"), filepath.Join(dir, "hub.key")
	if err := os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kb}), 0o600); err != nil {
		t.Fatal(err)
	}
	return certFile, keyFile
}

// TestHubTLS: a hub configured for TLS from its config file is reached by a client that
// trusts its certificate, and refuses one that does not.
func TestHubTLS(t *testing.T) {
	dir := t.TempDir()
	cert, key := selfSigned(t, dir)
	conf := filepath.Join(dir, "hub.conf")
	if err := os.WriteFile(conf, []byte(fmt.Sprintf("host: 127.0.0.1\nport: -1\ntls {\n  cert_file: %q\n  key_file: %q\n}\n", cert, key)), 0o600); err != nil {
		t.Fatal(err)
	}
	hub, err := network.StartHub(network.HubOptions{ConfigFile: conf})
	if err != nil {
		t.Fatal(err)
	}
	defer hub.Shutdown()
	if !strings.HasPrefix(hub.URL(), "tls://") {
		t.Errorf("URL %s, want the tls scheme", hub.URL())
	}
	if _, err := network.Dial(context.Background(), hub.URL()); app.ErrorCode(err) != app.EUnavailable {
		t.Errorf("dial without trusting the certificate: %v, want code unavailable", err)
	}
	c, err := network.Dial(context.Background(), hub.URL(), network.WithRootCA(cert))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if _, err := c.Sites(context.Background()); err != nil {
		t.Fatal(err)
	}
}
