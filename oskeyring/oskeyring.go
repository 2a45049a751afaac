// Package oskeyring keeps the desktop app's credentials in the operating system's keyring:
// the Secret Service (GNOME Keyring, KWallet) over the D-Bus session bus on Linux and BSD,
// the Keychain on macOS, Credential Manager on Windows. It implements app.Keyring with
// github.com/zalando/go-keyring, which needs no cgo on any of them.
//
// Where there is no keyring (no session bus, no Secret Service on it, a keyring that does
// not answer) every call returns an error wrapping app.ErrNoKeyring, and the app falls back to
// asking for credentials at each start rather than writing them to a file.
package oskeyring

import (
	"errors"
	"fmt"
	"sync/atomic"
	"time"

	"github.com/zalando/go-keyring"

	"github.com/oncofed/oncofed/app"
)

// Service is the name the app's secrets are filed under in the keyring (the "service"
// attribute of the Secret Service, the Keychain item's service, the Windows target prefix).
const Service = "org.oncofed.desktop"

// DefaultTimeout bounds each call. A locked keyring asks the user for its password in a
// window of its own, so the bound leaves time to type it; a keyring that never answers (a
// Secret Service without a prompter on a headless machine) counts as none from then on, so
// that the app waits for it once, not at every call.
const DefaultTimeout = 60 * time.Second

// Keyring is the OS keyring under one service name. The zero value is not usable; call New.
type Keyring struct {
	service string
	timeout time.Duration
	stuck   atomic.Bool // a call timed out: the keyring counts as absent for this process
}

// New returns the OS keyring under service (Service for the desktop app). timeout bounds
// each call (DefaultTimeout when ≤ 0).
func New(service string, timeout time.Duration) *Keyring {
	if service == "" {
		panic("oskeyring: empty service name")
	}
	if timeout <= 0 {
		timeout = DefaultTimeout
	}
	return &Keyring{service: service, timeout: timeout}
}

// Available reports whether the keyring can be used: nil, or an error wrapping
// app.ErrNoKeyring that says why not. It reads an account that does not exist, which every
// working keyring answers with "not found".
func (k *Keyring) Available() error {
	_, err := k.Get("oncofed availability probe")
	if err == nil || errors.Is(err, app.ErrSecretNotFound) {
		return nil
	}
	return err
}

// Get returns the secret under account (app.ErrSecretNotFound when there is none).
func (k *Keyring) Get(account string) (string, error) {
	var v string
	err := k.call("read", func() error {
		var err error
		v, err = keyring.Get(k.service, account)
		return err
	})
	return v, err
}

// Set stores secret under account, replacing any earlier one.
func (k *Keyring) Set(account, secret string) error {
	return k.call("write", func() error { return keyring.Set(k.service, account, secret) })
}

// Delete removes account's secret; one that is absent is not an error.
func (k *Keyring) Delete(account string) error {
	err := k.call("delete", func() error { return keyring.Delete(k.service, account) })
	if errors.Is(err, app.ErrSecretNotFound) {
		return nil
	}
	return err
}

// call runs op with the timeout and maps go-keyring's errors onto app's: not found stays not
// found, a secret too large for the platform is said so, and anything else — the keyring is
// missing, locked without a prompter, or broken — wraps app.ErrNoKeyring.
func (k *Keyring) call(what string, op func() error) error {
	if k.stuck.Load() {
		return fmt.Errorf("%w: the keyring did not answer earlier", app.ErrNoKeyring)
	}
	done := make(chan error, 1)
	go func() { done <- op() }()
	var err error
	select {
	case err = <-done:
	case <-time.After(k.timeout):
		// The goroutine stays blocked in the D-Bus call; there is no way to cancel it, and
		// it ends with the process.
		k.stuck.Store(true)
		return fmt.Errorf("%w: the keyring did not answer a %s within %v", app.ErrNoKeyring, what, k.timeout)
	}
	switch {
	case err == nil:
		return nil
	case errors.Is(err, keyring.ErrNotFound):
		return app.ErrSecretNotFound
	case errors.Is(err, keyring.ErrSetDataTooBig):
		return fmt.Errorf("keyring %s: the secret is too large for this system's keyring: %w", what, err)
	default:
		return fmt.Errorf("%w: %s: %v", app.ErrNoKeyring, what, err)
	}
}
