//go:build linux

package oskeyring_test

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/godbus/dbus/v5"

	"github.com/oncofed/oncofed/app"
	"github.com/oncofed/oncofed/oskeyring"
)

// These tests use a real Secret Service: TestMain starts a private D-Bus session bus and
// GNOME Keyring's daemon on it (with a throwaway home, so the machine's own keyring is never
// touched) and points this process at that bus. CI installs both (make test-deps); elsewhere
// the tests that need them are skipped with the reason.

var (
	serviceErr error  // why there is no private Secret Service, nil when there is one
	serviceDir string // the private keyring's home: the only place it writes files
)

const childEnv = "ONCOFED_KEYRING_CHILD"

func TestMain(m *testing.M) {
	if os.Getenv(childEnv) != "" { // a child of TestNoKeyring: its environment is the test
		os.Exit(m.Run())
	}
	stop, err := startSecretService()
	serviceErr = err
	code := m.Run()
	stop()
	os.Exit(code)
}

func needService(t *testing.T) {
	t.Helper()
	if serviceErr == nil {
		return
	}
	if os.Getenv("CI") != "" {
		t.Fatalf("CI must run the keyring tests against a real Secret Service: %v", serviceErr)
	}
	t.Skipf("no private Secret Service: %v (apt-get install gnome-keyring dbus-daemon)", serviceErr)
}

// startSecretService starts dbus-daemon and gnome-keyring-daemon as children that die with
// this process (Pdeathsig), waits until the keyring answers, and returns how to stop them.
func startSecretService() (stop func(), err error) {
	var procs []*exec.Cmd
	stop = func() {
		for _, p := range procs {
			_ = p.Process.Kill()
			_ = p.Wait()
		}
		if serviceDir != "" {
			_ = os.RemoveAll(serviceDir)
		}
	}
	for _, bin := range []string{"dbus-daemon", "gnome-keyring-daemon"} {
		if _, err := exec.LookPath(bin); err != nil {
			return stop, err
		}
	}
	dir, err := os.MkdirTemp("", "oncofed-keyring-")
	if err != nil {
		return stop, err
	}
	serviceDir = dir
	env := []string{"PATH=" + os.Getenv("PATH"), "HOME=" + filepath.Join(dir, "home"),
		"XDG_DATA_HOME=" + filepath.Join(dir, "data"), "XDG_RUNTIME_DIR=" + filepath.Join(dir, "run"),
		"XDG_CONFIG_HOME=" + filepath.Join(dir, "config"), "XDG_CACHE_HOME=" + filepath.Join(dir, "cache")}
	for _, e := range env[1:] {
		if err := os.MkdirAll(strings.SplitN(e, "=", 2)[1], 0o700); err != nil {
			return stop, err
		}
	}
	// A bus without service activation: only the daemon started below can answer, so the
	// probe cannot wake up a second, locked keyring daemon before ours has registered.
	bus, addr, err := startBus(dir, env)
	if err != nil {
		return stop, err
	}
	procs = append(procs, bus)
	env = append(env, "DBUS_SESSION_BUS_ADDRESS="+addr)

	gk := exec.Command("gnome-keyring-daemon", "--foreground", "--unlock", "--components=secrets")
	gk.Env = env
	gk.Stdin = strings.NewReader("test-keyring-password") // creates and unlocks the login keyring
	gk.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := gk.Start(); err != nil {
		return stop, err
	}
	procs = append(procs, gk)

	os.Setenv("DBUS_SESSION_BUS_ADDRESS", addr)
	k := oskeyring.New("oncofed-test", 5*time.Second)
	deadline := time.Now().Add(15 * time.Second)
	for {
		err := k.Available()
		if err == nil {
			return stop, nil
		}
		if time.Now().After(deadline) {
			return stop, fmt.Errorf("the private keyring did not come up: %v", err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// startBus starts a D-Bus session bus in dir that activates no services (its configuration
// lists no service directories), as a child that dies with this process, and returns its
// address.
func startBus(dir string, env []string) (*exec.Cmd, string, error) {
	conf := filepath.Join(dir, "bus.conf")
	err := os.WriteFile(conf, []byte(`<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig><type>session</type><listen>unix:path=`+filepath.Join(dir, "bus")+`</listen>
<policy context="default"><allow send_destination="*" eavesdrop="true"/><allow eavesdrop="true"/><allow own="*"/></policy>
</busconfig>`), 0o600)
	if err != nil {
		return nil, "", err
	}
	bus := exec.Command("dbus-daemon", "--config-file="+conf, "--nofork", "--print-address=1")
	bus.Env = env
	bus.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	out, err := bus.StdoutPipe()
	if err != nil {
		return nil, "", err
	}
	if err := bus.Start(); err != nil {
		return nil, "", err
	}
	addr, err := bufio.NewReader(out).ReadString('\n')
	if err != nil {
		_ = bus.Process.Kill()
		_ = bus.Wait()
		return nil, "", fmt.Errorf("dbus-daemon printed no address: %v", err)
	}
	return bus, strings.TrimSpace(addr), nil
}

func TestRoundTrip(t *testing.T) {
	needService(t)
	k := oskeyring.New("oncofed-test-roundtrip", 10*time.Second)
	if err := k.Available(); err != nil {
		t.Fatalf("Available: %v", err)
	}
	if _, err := k.Get("hub"); !errors.Is(err, app.ErrSecretNotFound) {
		t.Fatalf("Get of an absent account: err %v, want app.ErrSecretNotFound", err)
	}
	if err := k.Delete("hub"); err != nil {
		t.Fatalf("Delete of an absent account: %v, want nil", err)
	}
	pem := "-----BEGIN PRIVATE KEY-----\nMC4CAQAwBQYDK2VwBCIEIP2z\n-----END PRIVATE KEY-----\n"
	for _, v := range []string{"first", pem, "ünïcode and spaces "} { // each replaces the one before
		if err := k.Set("hub", v); err != nil {
			t.Fatalf("Set(%q): %v", v, err)
		}
		got, err := k.Get("hub")
		if err != nil || got != v {
			t.Fatalf("Get after Set(%q) = %q, %v", v, got, err)
		}
	}
	other := oskeyring.New("oncofed-test-other-service", 10*time.Second)
	if _, err := other.Get("hub"); !errors.Is(err, app.ErrSecretNotFound) {
		t.Fatalf("another service sees the secret: err %v", err)
	}
	if err := k.Delete("hub"); err != nil {
		t.Fatal(err)
	}
	if _, err := k.Get("hub"); !errors.Is(err, app.ErrSecretNotFound) {
		t.Fatalf("Get after Delete: err %v, want app.ErrSecretNotFound", err)
	}
}

// TestCredentialsInKeyringNotInFiles stores a hub's credentials the way the desktop app
// does, reads them back, and then looks for each secret in every file the keyring daemon
// wrote: the keyring encrypts them, so none may appear in plain text.
func TestCredentialsInKeyringNotInFiles(t *testing.T) {
	needService(t)
	k := oskeyring.New("oncofed-test-credentials", 10*time.Second)
	hub := "tls://hub.example.org:4222"
	c := app.Credentials{
		Password:   "pw-7c1f-do-not-leak",
		NATS:       "-----BEGIN NATS USER JWT-----\neyJ0eXAiOiJKV1QiLCJhbGciOiJlZDI1NTE5LW5rZXkifQ.leak-marker-jwt\n------END NATS USER JWT------\n",
		AnalystKey: "-----BEGIN PRIVATE KEY-----\nleak-marker-analyst-key\n-----END PRIVATE KEY-----\n",
	}
	if err := app.SaveCredentials(k, hub, c); err != nil {
		t.Fatal(err)
	}
	got, missing, err := app.LoadCredentials(k, hub, c.Kinds())
	if err != nil || len(missing) != 0 || got != c {
		t.Fatalf("LoadCredentials = %+v, missing %v, %v; want %+v", got, missing, err, c)
	}
	// Another hub shares the analyst's key but not the hub's password or NATS credentials.
	got, missing, err = app.LoadCredentials(k, "nats://other.example.org:4222", c.Kinds())
	if err != nil || got.AnalystKey != c.AnalystKey || got.Password != "" || got.NATS != "" ||
		strings.Join(missing, ",") != app.KindPassword+","+app.KindNATS {
		t.Fatalf("other hub: %+v, missing %v, %v", got, missing, err)
	}
	// The daemon does keep them on disk, encrypted: the search below looks where they are.
	if fi, err := os.Stat(filepath.Join(serviceDir, "data", "keyrings", "login.keyring")); err != nil || fi.Size() == 0 {
		t.Fatalf("the keyring wrote no login.keyring to search: %v", err)
	}
	for _, secret := range []string{"pw-7c1f-do-not-leak", "leak-marker-jwt", "leak-marker-analyst-key"} {
		err := filepath.WalkDir(serviceDir, func(path string, d fs.DirEntry, err error) error {
			if err != nil || !d.Type().IsRegular() {
				return nil // sockets, vanished files
			}
			data, err := os.ReadFile(path)
			if err == nil && bytes.Contains(data, []byte(secret)) {
				t.Errorf("%s holds the secret %q in plain text", path, secret)
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	if err := app.ForgetCredentials(k, hub); err != nil {
		t.Fatal(err)
	}
	got, missing, err = app.LoadCredentials(k, hub, c.Kinds())
	if err != nil || got != (app.Credentials{}) || len(missing) != 3 {
		t.Fatalf("after ForgetCredentials: %+v, missing %v, %v", got, missing, err)
	}
}

// TestNoKeyring runs this test binary again where there is no keyring — no session bus at
// all, and a bus with no Secret Service on it — and checks that every call says
// app.ErrNoKeyring quickly instead of hanging or writing anywhere.
func TestNoKeyring(t *testing.T) {
	if _, err := exec.LookPath("dbus-daemon"); err != nil && os.Getenv("CI") == "" {
		t.Skip("dbus-daemon is not installed")
	}
	dir := t.TempDir()
	bus, bareAddr, err := startBus(dir, nil) // a bus on which nothing offers the Secret Service
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = bus.Process.Kill(); _ = bus.Wait() })

	for name, busAddr := range map[string]string{
		"no session bus":           "unix:path=" + filepath.Join(dir, "no-such-bus"),
		"bus without a keyring on": bareAddr,
	} {
		t.Run(name, func(t *testing.T) {
			cmd := exec.Command(os.Args[0], "-test.run=^TestNoKeyringChild$", "-test.v")
			// PATH without dbus-launch, so go-keyring cannot start a bus of its own.
			cmd.Env = []string{childEnv + "=1", "DBUS_SESSION_BUS_ADDRESS=" + busAddr, "PATH=" + dir, "HOME=" + dir}
			start := time.Now()
			b, err := cmd.CombinedOutput()
			if err != nil {
				t.Fatalf("child: %v\n%s", err, b)
			}
			if !strings.Contains(string(b), "--- PASS: TestNoKeyringChild") {
				t.Fatalf("the child did not run the check:\n%s", b)
			}
			if d := time.Since(start); d > 20*time.Second {
				t.Errorf("finding out there is no keyring took %v", d)
			}
		})
	}
}

// hangingSecrets is a Secret Service that never answers, as a keyring waiting on a prompt
// nobody can see does.
type hangingSecrets struct{ release chan struct{} }

func (h hangingSecrets) Unlock(objects []dbus.ObjectPath) ([]dbus.ObjectPath, dbus.ObjectPath, *dbus.Error) {
	<-h.release
	return nil, "/", nil
}

func (h hangingSecrets) OpenSession(algorithm string, input dbus.Variant) (dbus.Variant, dbus.ObjectPath, *dbus.Error) {
	<-h.release
	return dbus.MakeVariant(""), "/", nil
}

// TestKeyringThatNeverAnswers: a keyring that hangs costs one timeout, after which it counts
// as absent and every call fails at once.
func TestKeyringThatNeverAnswers(t *testing.T) {
	if _, err := exec.LookPath("dbus-daemon"); err != nil && os.Getenv("CI") == "" {
		t.Skip("dbus-daemon is not installed")
	}
	dir := t.TempDir()
	bus, addr, err := startBus(dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = bus.Process.Kill(); _ = bus.Wait() })
	conn, err := dbus.Connect(addr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	h := hangingSecrets{release: make(chan struct{})}
	defer close(h.release)
	if err := conn.Export(h, "/org/freedesktop/secrets", "org.freedesktop.Secret.Service"); err != nil {
		t.Fatal(err)
	}
	if reply, err := conn.RequestName("org.freedesktop.secrets", dbus.NameFlagDoNotQueue); err != nil || reply != dbus.RequestNameReplyPrimaryOwner {
		t.Fatalf("cannot own org.freedesktop.secrets: %v %v", reply, err)
	}
	cmd := exec.Command(os.Args[0], "-test.run=^TestNoKeyringChild$", "-test.v")
	cmd.Env = []string{childEnv + "=hang", "DBUS_SESSION_BUS_ADDRESS=" + addr, "PATH=" + dir, "HOME=" + dir}
	b, err := cmd.CombinedOutput()
	if err != nil || !strings.Contains(string(b), "--- PASS: TestNoKeyringChild") {
		t.Fatalf("child: %v\n%s", err, b)
	}
}

// TestNoKeyringChild is the child half of TestNoKeyring and TestKeyringThatNeverAnswers.
func TestNoKeyringChild(t *testing.T) {
	switch os.Getenv(childEnv) {
	case "":
		t.Skip("run by TestNoKeyring in an environment without a keyring")
	case "hang":
		k := oskeyring.New("oncofed-test", time.Second)
		start := time.Now()
		err := k.Available()
		if !errors.Is(err, app.ErrNoKeyring) || !strings.Contains(err.Error(), "did not answer") {
			t.Fatalf("Available() on a hanging keyring = %v, want app.ErrNoKeyring saying it did not answer", err)
		}
		if d := time.Since(start); d < time.Second || d > 5*time.Second {
			t.Errorf("the first call took %v, want the 1 s timeout", d)
		}
		start = time.Now()
		if _, err := k.Get("hub"); !errors.Is(err, app.ErrNoKeyring) {
			t.Fatalf("Get after a timeout = %v, want app.ErrNoKeyring", err)
		}
		if err := k.Set("hub", "pw"); !errors.Is(err, app.ErrNoKeyring) {
			t.Fatalf("Set after a timeout = %v, want app.ErrNoKeyring", err)
		}
		if d := time.Since(start); d > 100*time.Millisecond {
			t.Errorf("calls after a timeout took %v: they should fail at once", d)
		}
		return
	}
	k := oskeyring.New("oncofed-test", 10*time.Second)
	if err := k.Available(); !errors.Is(err, app.ErrNoKeyring) {
		t.Fatalf("Available() = %v, want app.ErrNoKeyring", err)
	}
	if err := k.Set("hub", "secret"); !errors.Is(err, app.ErrNoKeyring) {
		t.Fatalf("Set = %v, want app.ErrNoKeyring", err)
	}
	if _, err := k.Get("hub"); !errors.Is(err, app.ErrNoKeyring) {
		t.Fatalf("Get = %v, want app.ErrNoKeyring", err)
	}
	err := app.SaveCredentials(k, "nats://hub:4222", app.Credentials{Password: "pw"})
	if !errors.Is(err, app.ErrNoKeyring) {
		t.Fatalf("SaveCredentials = %v, want app.ErrNoKeyring", err)
	}
	t.Logf("no keyring: %v", err)
}
