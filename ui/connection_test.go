package ui

import (
	"crypto/ed25519"
	"crypto/rand"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/test"
	"fyne.io/fyne/v2/widget"

	"github.com/oncofed/oncofed/app"
	"github.com/oncofed/oncofed/protocol"
)

// fakeKeyring is a hand-written keyring at the UI boundary (oskeyring's tests use a real
// Secret Service): an in-memory store, or no keyring at all, or one whose writes fail.
type fakeKeyring struct {
	mu      sync.Mutex
	m       map[string]string
	missing bool // Available and every call say app.ErrNoKeyring
	failSet int  // the write numbered failSet (1-based) fails
	sets    int
}

func (k *fakeKeyring) Available() error {
	if k.missing {
		return fmt.Errorf("%w: no Secret Service on the bus", app.ErrNoKeyring)
	}
	return nil
}

func (k *fakeKeyring) Get(a string) (string, error) {
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.missing {
		return "", app.ErrNoKeyring
	}
	v, ok := k.m[a]
	if !ok {
		return "", app.ErrSecretNotFound
	}
	return v, nil
}

func (k *fakeKeyring) Set(a, v string) error {
	k.mu.Lock()
	defer k.mu.Unlock()
	k.sets++
	if k.missing || k.sets == k.failSet {
		return app.ErrNoKeyring
	}
	k.m[a] = v
	return nil
}

func (k *fakeKeyring) Delete(a string) error {
	k.mu.Lock()
	defer k.mu.Unlock()
	delete(k.m, a)
	return nil
}

// credentialFiles writes an analyst key (0600) and a NATS seed file as an analyst has them.
func credentialFiles(t *testing.T) (keyFile, keyPEM, credsFile, credsData string) {
	t.Helper()
	dir := t.TempDir()
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	pem, err := protocol.MarshalPrivateKey(priv)
	if err != nil {
		t.Fatal(err)
	}
	keyFile = filepath.Join(dir, "analyst.key")
	if err := os.WriteFile(keyFile, pem, 0o600); err != nil {
		t.Fatal(err)
	}
	// The shape of an NKey user seed; the network parses it for real (network's tests).
	credsData = "SUAIBDPBAUTWCWBKIO6XHQNINK5FWJW4OHLXC3HQ2KFE4PEJUA44CNHTC4\n"
	credsFile = filepath.Join(dir, "alice.nk")
	if err := os.WriteFile(credsFile, []byte(credsData), 0o600); err != nil {
		t.Fatal(err)
	}
	return keyFile, string(pem), credsFile, credsData
}

// allPreferences is every value the app's preferences hold, as text.
func allPreferences(t *testing.T, p fyne.Preferences) string {
	t.Helper()
	r, ok := p.(interface{ ReadValues(func(map[string]any)) })
	if !ok {
		t.Fatalf("the test app's preferences (%T) cannot be listed", p)
	}
	var b strings.Builder
	r.ReadValues(func(m map[string]any) {
		for k, v := range m {
			fmt.Fprintf(&b, "%s=%v\n", k, v)
		}
	})
	return b.String()
}

func TestSaveConnectionSecretsGoToTheKeyring(t *testing.T) {
	prefs := test.NewTempApp(t).Preferences()
	prefs.SetString(prefCredsPath, "/home/alice/old.creds") // an earlier version's setting
	keyFile, keyPEM, credsFile, credsData := credentialFiles(t)
	k := &fakeKeyring{m: map[string]string{}}
	msg, err := saveConnection(prefs, k, connectionForm{
		URL: "tls://alice:pw-do-not-store@hub.example.org:4222", CredsFile: credsFile, KeyFile: keyFile,
		Inbox: "_INBOX_alice",
	})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(msg, "keyring") {
		t.Errorf("message %q does not say where the credentials went", msg)
	}
	all := allPreferences(t, prefs)
	for _, secret := range []string{"pw-do-not-store", credsData[:20], "PRIVATE KEY", credsFile, keyFile, "old.creds"} {
		if strings.Contains(all, secret) {
			t.Errorf("the preferences hold %q:\n%s", secret, all)
		}
	}
	conn := LoadConnection(prefs)
	want := Connection{URL: "tls://hub.example.org:4222", User: "alice", Inbox: "_INBOX_alice",
		Secrets: []string{app.KindPassword, app.KindNATS, app.KindAnalystKey}}
	if fmt.Sprint(conn) != fmt.Sprint(want) {
		t.Errorf("LoadConnection = %+v, want %+v", conn, want)
	}
	got, missing, err := app.LoadCredentials(k, conn.URL, conn.Secrets)
	if err != nil || len(missing) > 0 || got != (app.Credentials{Password: "pw-do-not-store", NATS: credsData, AnalystKey: keyPEM}) {
		t.Errorf("keyring holds %+v (missing %v, %v)", got, missing, err)
	}

	// Saving again with empty secret fields keeps them: the dialog shows "empty: keep it".
	if _, err := saveConnection(prefs, k, connectionForm{URL: "tls://hub.example.org:4222", User: "alice"}); err != nil {
		t.Fatal(err)
	}
	if c := LoadConnection(prefs); len(c.Secrets) != 3 {
		t.Errorf("after a save without new secrets, the connection lists %v", c.Secrets)
	}
	// Another hub keeps only the analyst's key, which is the analyst's on every hub.
	if _, err := saveConnection(prefs, k, connectionForm{URL: "nats://other.example.org:4222"}); err != nil {
		t.Fatal(err)
	}
	if c := LoadConnection(prefs); fmt.Sprint(c.Secrets) != "[analyst-key]" {
		t.Errorf("another hub lists %v, want [analyst-key]", c.Secrets)
	}
	// The demo network and back: the analyst's key is still listed.
	if _, err := saveConnection(prefs, k, connectionForm{}); err != nil {
		t.Fatal(err)
	}
	if c := LoadConnection(prefs); c.URL != "" || fmt.Sprint(c.Secrets) != "[analyst-key]" {
		t.Errorf("after choosing the demo network: %+v", c)
	}
}

func TestSaveConnectionWithoutKeyringStoresNothing(t *testing.T) {
	prefs := test.NewTempApp(t).Preferences()
	keyFile, _, _, _ := credentialFiles(t)
	k := &fakeKeyring{m: map[string]string{}, missing: true}
	msg, err := saveConnection(prefs, k, connectionForm{URL: "nats://hub.example.org:4222", User: "alice", Password: "pw-do-not-store", KeyFile: keyFile})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(msg, "asks for them at each start") {
		t.Errorf("message %q does not say the credentials will be asked for", msg)
	}
	if k.sets != 0 || len(k.m) != 0 {
		t.Errorf("%d writes to a keyring that is not there", k.sets)
	}
	if all := allPreferences(t, prefs); strings.Contains(all, "pw-do-not-store") || strings.Contains(all, "PRIVATE KEY") {
		t.Errorf("the preferences hold a secret:\n%s", all)
	}
	if c := LoadConnection(prefs); fmt.Sprint(c.Secrets) != "[password analyst-key]" || c.User != "alice" {
		t.Errorf("connection %+v: the start cannot know what to ask for", c)
	}
}

func TestSaveConnectionRefusals(t *testing.T) {
	keyFile, _, credsFile, _ := credentialFiles(t)
	open := filepath.Join(t.TempDir(), "open.key")
	data, _ := os.ReadFile(keyFile)
	if err := os.WriteFile(open, data, 0o644); err != nil {
		t.Fatal(err)
	}
	notCreds := filepath.Join(t.TempDir(), "notes.txt")
	os.WriteFile(notCreds, []byte("my notes\n"), 0o600)
	for name, tc := range map[string]struct {
		form connectionForm
		want string
	}{
		"http URL":             {connectionForm{URL: "http://hub:4222"}, "nats:// or tls://"},
		"one bad cluster URL":  {connectionForm{URL: "nats://a:4222,hub:4222"}, "nats:// or tls://"},
		"key others can read":  {connectionForm{URL: "nats://hub:4222", KeyFile: open}, "readable by others"},
		"not a key":            {connectionForm{URL: "nats://hub:4222", KeyFile: credsFile}, "analyst key"},
		"not NATS credentials": {connectionForm{URL: "nats://hub:4222", CredsFile: notCreds}, "no user seed"},
		"absent file":          {connectionForm{URL: "nats://hub:4222", CredsFile: "/nonexistent.creds"}, "no such file"},
		"password, no user":    {connectionForm{URL: "nats://hub:4222", Password: "pw"}, "needs a user name"},
		"keyring write fails":  {connectionForm{URL: "nats://u:pw@hub:4222", KeyFile: keyFile}, "no OS keyring"},
	} {
		t.Run(name, func(t *testing.T) {
			prefs := test.NewTempApp(t).Preferences()
			prefs.SetString(PrefHub, "nats://before:4222")
			k := &fakeKeyring{m: map[string]string{"analyst-key": "old key"}, failSet: 2}
			_, err := saveConnection(prefs, k, tc.form)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err %v, want one saying %q", err, tc.want)
			}
			if prefs.String(PrefHub) != "nats://before:4222" || k.m["analyst-key"] != "old key" || len(k.m) != 1 {
				t.Errorf("a refused save changed something: hub %q, keyring %v", prefs.String(PrefHub), k.m)
			}
		})
	}
}

// TestAskCredentials drives the start-up window that asks for what the keyring could not
// give: an empty field is refused before connecting, a failed connection shows its error
// and lets the analyst try again, and a success closes the window. Nothing is stored.
func TestAskCredentials(t *testing.T) {
	fy := test.NewTempApp(t)
	keyFile, keyPEM, _, _ := credentialFiles(t)
	conn := Connection{URL: "nats://hub.example.org:4222", User: "alice", Secrets: []string{app.KindPassword, app.KindAnalystKey}}
	ui := make(chan func(), 4) // what the connecting goroutine hands back, run here
	askDo = func(f func()) { ui <- f }
	t.Cleanup(func() { askDo = fyne.Do })
	calls := make(chan app.Credentials, 4)
	results := make(chan error, 4)
	w := AskCredentials(fy, conn, conn.Secrets, "There is no system keyring.", func(c app.Credentials) error {
		calls <- c
		return <-results
	}, func() { t.Error("offline chosen") })
	before := len(fy.Driver().AllWindows())
	w.Show()
	var password, key *widget.Entry
	var connect *widget.Button
	var status *widget.Label
	walk(w.Content(), func(o fyne.CanvasObject) {
		switch o := o.(type) {
		case *widget.Entry:
			if o.Password {
				password = o
			} else {
				key = o
			}
		case *widget.Button:
			if o.Text == "Connect" {
				connect = o
			}
		case *widget.Label:
			if o.Importance == widget.DangerImportance {
				status = o
			}
		}
	})
	if password == nil || key == nil || connect == nil || status == nil {
		t.Fatal("the window lacks a password field, a key field, the Connect button or the status line")
	}
	test.Tap(connect)
	if !strings.Contains(status.Text, "password is needed") || len(calls) != 0 {
		t.Fatalf("connecting without the password: status %q, %d connect calls", status.Text, len(calls))
	}
	test.Type(password, "pw")
	key.SetText(keyFile)
	results <- errors.New("authorization violation")
	test.Tap(connect)
	if c := <-calls; c.Password != "pw" || c.AnalystKey != keyPEM {
		t.Fatalf("connect got %+v", c)
	}
	(<-ui)()
	if !strings.Contains(status.Text, "authorization violation") || connect.Disabled() {
		t.Fatalf("after a failed connection: status %q, Connect disabled %v", status.Text, connect.Disabled())
	}
	results <- nil
	test.Tap(connect)
	<-calls
	(<-ui)()
	if n := len(fy.Driver().AllWindows()); n != before-1 {
		t.Fatalf("%d windows after connecting, want %d: the window did not close itself", n, before-1)
	}
	if all := allPreferences(t, fy.Preferences()); strings.Contains(all, "pw") || strings.Contains(all, "PRIVATE") {
		t.Errorf("the preferences hold a secret:\n%s", all)
	}
}

func walk(o fyne.CanvasObject, fn func(fyne.CanvasObject)) {
	fn(o)
	switch c := o.(type) {
	case *fyne.Container:
		for _, child := range c.Objects {
			walk(child, fn)
		}
	case fyne.Widget:
		r := test.WidgetRenderer(c)
		for _, child := range r.Objects() {
			walk(child, fn)
		}
	}
}
