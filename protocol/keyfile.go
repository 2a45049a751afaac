package protocol

import (
	"crypto/ed25519"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"os"
)

// MarshalPrivateKey encodes an analyst's Ed25519 private key as a PEM "PRIVATE KEY" block
// (PKCS #8), the form `oncofed-cli keygen` writes (mode 0600) and openssl reads.
func MarshalPrivateKey(key ed25519.PrivateKey) ([]byte, error) {
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return nil, fmt.Errorf("protocol: encode private key: %w", err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), nil
}

// ParsePrivateKey decodes a PEM PKCS #8 Ed25519 private key (MarshalPrivateKey).
func ParsePrivateKey(data []byte) (ed25519.PrivateKey, error) {
	block, _ := pem.Decode(data)
	if block == nil || block.Type != "PRIVATE KEY" {
		return nil, errors.New("protocol: no PEM PRIVATE KEY block")
	}
	k, err := x509.ParsePKCS8PrivateKey(block.Bytes)
	if err != nil {
		return nil, fmt.Errorf("protocol: private key: %w", err)
	}
	ek, ok := k.(ed25519.PrivateKey)
	if !ok {
		return nil, fmt.Errorf("protocol: private key is a %T, not Ed25519", k)
	}
	return ek, nil
}

// LoadSigner reads an analyst's private key file (as `oncofed-cli keygen` writes it) and
// returns a Signer with the real clock (ReadKeyFile says what it refuses).
func LoadSigner(path string) (*Signer, error) {
	data, err := ReadKeyFile(path)
	if err != nil {
		return nil, err
	}
	key, err := ParsePrivateKey(data)
	if err != nil {
		return nil, fmt.Errorf("analyst key %s: %w", path, err)
	}
	return NewSigner(key, nil), nil
}

// ReadKeyFile reads an analyst's private key file and checks that it holds an Ed25519 key. A
// key file that others can read is refused: it would let them sign as the analyst.
func ReadKeyFile(path string) ([]byte, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return nil, fmt.Errorf("analyst key: %w", err)
	}
	if fi.Mode().Perm()&0o077 != 0 {
		return nil, fmt.Errorf("analyst key %s is readable by others (mode %v): chmod 600 it", path, fi.Mode().Perm())
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("analyst key: %w", err)
	}
	if _, err := ParsePrivateKey(data); err != nil {
		return nil, fmt.Errorf("analyst key %s: %w", path, err)
	}
	return data, nil
}
