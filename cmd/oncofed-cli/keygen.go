package main

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"flag"
	"io"
	"os"
	"strings"

	"github.com/oncofed/oncofed/protocol"
)

func init() {
	commands["keygen"] = command{"create an analyst signing key (Ed25519) and print the line for the sites' analysts file", runKeygen}
}

// runKeygen writes a new Ed25519 private key to --out (mode 0600, never over an existing
// file) and its public half to --out.pub as the `NAME KEY` line a site adds to its analysts
// file (oncofed-node serve --analysts; the site appends the role "trusted" for an analyst
// under a data-use agreement, else the analyst gets differentially private releases); it
// prints the same line.
func runKeygen(_ context.Context, _ *common, args []string, out io.Writer) error {
	fs := flag.NewFlagSet("keygen", flag.ContinueOnError)
	fs.SetOutput(os.Stderr)
	path := fs.String("out", "", "`FILE` for the private key (required; FILE.pub gets the public key)")
	name := fs.String("name", "", "analyst `NAME` for the public key line (default: the user name)")
	if err := parseArgs(fs, args); err != nil {
		return err
	}
	if *path == "" {
		return usagef("--out FILE is required")
	}
	n := *name
	if n == "" {
		n = defaultAnalyst()
	}
	if strings.ContainsAny(n, " \t\r\n") || n == "" || len(n) > protocol.MaxNameLen {
		return usagef("--name %q: want one word of at most %d bytes", n, protocol.MaxNameLen)
	}
	pub, key, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return err
	}
	pemKey, err := protocol.MarshalPrivateKey(key)
	if err != nil {
		return err
	}
	line := n + " " + protocol.EncodePublicKey(pub) + "\n"
	if err := writeNew(*path, pemKey, 0o600); err != nil {
		return err
	}
	if err := writeNew(*path+".pub", []byte(line), 0o644); err != nil {
		os.Remove(*path)
		return err
	}
	_, err = io.WriteString(out, line)
	return err
}

// writeNew creates path with data, refusing to replace an existing file (a lost key cannot
// be recovered, an overwritten one neither).
func writeNew(path string, data []byte, mode os.FileMode) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, mode)
	if err != nil {
		return err
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		os.Remove(path)
		return err
	}
	if err := f.Close(); err != nil {
		os.Remove(path)
		return err
	}
	return nil
}
