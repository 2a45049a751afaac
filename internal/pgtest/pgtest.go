// Package pgtest starts a real, throwaway PostgreSQL cluster for a test package: initdb and
// pg_ctl in a temporary directory, listening on a free port of 127.0.0.1 only, stopped and
// removed when the package's tests end. One cluster serves the whole package (start it from
// TestMain with Main); each test takes a fresh database of its own (Cluster.NewDatabase).
//
// PostgreSQL refuses to run as root, so when the tests run as root (CI does) the cluster runs
// as the unprivileged user nobody, its directory handed over to it.
//
// Where PostgreSQL is not installed the tests that need it are skipped with a message saying
// how to install it (make test-deps), except under CI=true, where a missing PostgreSQL fails
// them: CI installs it and must never skip these tests.
//
// It is test support only.
package pgtest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// Cluster is a running throwaway PostgreSQL.
type Cluster struct {
	dir  string
	bin  string
	port int
	cred *syscall.Credential
	seq  atomic.Int64
}

// Superuser is the cluster's superuser and SuperuserPassword its password: connections over
// TCP authenticate with SCRAM, as a hospital's server would ask, so that tests of a wrong or
// leaked password are real.
const (
	Superuser         = "postgres"
	SuperuserPassword = "pgtest-secret"
)

var (
	shared     *Cluster
	startErr   error
	notInstall bool
)

// Main starts one cluster, runs the package's tests and stops the cluster; call it from
// TestMain: func TestMain(m *testing.M) { pgtest.Main(m) }.
func Main(m *testing.M) {
	shared, startErr = Start()
	code := m.Run()
	if shared != nil {
		if err := shared.Stop(); err != nil && code == 0 {
			fmt.Fprintln(os.Stderr, "pgtest: stopping the cluster:", err)
			code = 1
		}
	}
	os.Exit(code)
}

// Get returns the package's cluster (see Main). Where PostgreSQL is not installed it skips
// tb with a message, or fails it under CI=true; a cluster that did not start fails tb.
func Get(tb testing.TB) *Cluster {
	tb.Helper()
	switch {
	case shared != nil:
		return shared
	case notInstall && os.Getenv("CI") != "true":
		tb.Skipf("pgtest: PostgreSQL is not installed (%v); `make test-deps` installs it (Debian package postgresql)", startErr)
	case startErr != nil:
		tb.Fatalf("pgtest: %v", startErr)
	default:
		tb.Fatal("pgtest: no cluster: call pgtest.Main from the package's TestMain")
	}
	return nil
}

// binDir finds PostgreSQL's server binaries: pg_config's bindir, else the newest
// /usr/lib/postgresql/N/bin (Debian keeps initdb off PATH), else PATH.
func binDir() (string, error) {
	if out, err := exec.Command("pg_config", "--bindir").Output(); err == nil {
		d := strings.TrimSpace(string(out))
		if _, err := os.Stat(filepath.Join(d, "initdb")); err == nil {
			return d, nil
		}
	}
	dirs, _ := filepath.Glob("/usr/lib/postgresql/*/bin")
	sort.Slice(dirs, func(i, j int) bool { return version(dirs[i]) > version(dirs[j]) })
	for _, d := range dirs {
		if _, err := os.Stat(filepath.Join(d, "initdb")); err == nil {
			return d, nil
		}
	}
	if p, err := exec.LookPath("initdb"); err == nil {
		return filepath.Dir(p), nil
	}
	return "", errors.New("no initdb in pg_config --bindir, /usr/lib/postgresql/*/bin or PATH")
}

func version(dir string) int {
	n, _ := strconv.Atoi(filepath.Base(filepath.Dir(dir)))
	return n
}

// Start initialises and starts a cluster. Most callers use Main instead.
func Start() (*Cluster, error) {
	bin, err := binDir()
	if err != nil {
		notInstall = true
		return nil, err
	}
	base := ""
	if os.Geteuid() == 0 && !traversable(os.TempDir()) {
		base = "/tmp" // nobody must reach the cluster's directory
	}
	dir, err := os.MkdirTemp(base, "pgtest-")
	if err != nil {
		return nil, err
	}
	c := &Cluster{dir: dir, bin: bin}
	if os.Geteuid() == 0 {
		if c.cred, err = nobody(); err != nil {
			os.RemoveAll(dir)
			return nil, err
		}
		if err := os.Chown(dir, int(c.cred.Uid), int(c.cred.Gid)); err != nil {
			os.RemoveAll(dir)
			return nil, err
		}
	}
	if err := c.start(); err != nil {
		c.Stop()
		return nil, err
	}
	return c, nil
}

// traversable reports whether every directory from / to dir lets others through (o+x).
func traversable(dir string) bool {
	for d := filepath.Clean(dir); ; d = filepath.Dir(d) {
		fi, err := os.Stat(d)
		if err != nil || fi.Mode().Perm()&0o001 == 0 {
			return false
		}
		if d == filepath.Dir(d) {
			return true
		}
	}
}

// nobody is the unprivileged user a root test runs the cluster as.
func nobody() (*syscall.Credential, error) {
	u, err := user.Lookup("nobody")
	if err != nil {
		return nil, fmt.Errorf("running as root, and no user nobody to run PostgreSQL as: %w", err)
	}
	uid, _ := strconv.Atoi(u.Uid)
	gid, _ := strconv.Atoi(u.Gid)
	return &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}, nil
}

func (c *Cluster) data() string { return filepath.Join(c.dir, "data") }

// run runs one of PostgreSQL's programs as the cluster's user.
func (c *Cluster) run(name string, args ...string) error {
	cmd := exec.Command(filepath.Join(c.bin, name), args...)
	cmd.Dir = c.dir
	cmd.Env = append(os.Environ(), "LC_ALL=C", "TZ=UTC")
	if c.cred != nil {
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: c.cred}
		cmd.Env = append(cmd.Env, "HOME="+c.dir)
	}
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("%s %s: %w\n%s", name, strings.Join(args, " "), err, out.String())
	}
	return nil
}

func (c *Cluster) start() error {
	pw := filepath.Join(c.dir, "pwfile")
	if err := os.WriteFile(pw, []byte(SuperuserPassword+"\n"), 0o600); err != nil {
		return err
	}
	if c.cred != nil {
		if err := os.Chown(pw, int(c.cred.Uid), int(c.cred.Gid)); err != nil {
			return err
		}
	}
	if err := c.run("initdb", "-D", c.data(), "-U", Superuser, "--pwfile", pw, "--auth-local=trust", "--auth-host=scram-sha-256",
		"-E", "UTF8", "--locale=C", "--no-sync"); err != nil {
		return err
	}
	// The port is free when chosen; another process may take it before the postmaster
	// binds it, so a failed start is retried on another port.
	var err error
	for try := 0; try < 5; try++ {
		if c.port, err = freePort(); err != nil {
			return err
		}
		opts := fmt.Sprintf("-c listen_addresses=127.0.0.1 -p %d -c unix_socket_directories=%s -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=50 -c shared_buffers=64MB",
			c.port, c.dir)
		if err = c.run("pg_ctl", "-D", c.data(), "-l", filepath.Join(c.dir, "log"), "-o", opts, "-w", "-t", "60", "start"); err == nil {
			return nil
		}
	}
	log, _ := os.ReadFile(filepath.Join(c.dir, "log"))
	return fmt.Errorf("%w\nserver log:\n%s", err, log)
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// Stop stops the cluster (fast shutdown) and removes its directory.
func (c *Cluster) Stop() error {
	var err error
	if _, statErr := os.Stat(filepath.Join(c.data(), "postmaster.pid")); statErr == nil {
		err = c.run("pg_ctl", "-D", c.data(), "-m", "fast", "-w", "stop")
	}
	if rmErr := os.RemoveAll(c.dir); err == nil {
		err = rmErr
	}
	return err
}

// URL returns the connection URL of database db as user with password.
func (c *Cluster) URL(user, password, db string) string {
	return (&url.URL{Scheme: "postgres", User: url.UserPassword(user, password), Host: fmt.Sprintf("127.0.0.1:%d", c.port),
		Path: "/" + db, RawQuery: "sslmode=disable"}).String()
}

func (c *Cluster) superURL(db string) string { return c.URL(Superuser, SuperuserPassword, db) }

// NewDatabase creates an empty database for tb and returns its superuser URL; it is dropped
// when tb ends.
func (c *Cluster) NewDatabase(tb testing.TB) string {
	tb.Helper()
	name := fmt.Sprintf("t%d_%d", os.Getpid(), c.seq.Add(1))
	c.Exec(tb, "postgres", "CREATE DATABASE "+name)
	tb.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		conn, err := pgx.Connect(ctx, c.superURL("postgres"))
		if err != nil {
			tb.Errorf("pgtest: drop %s: %v", name, err)
			return
		}
		defer conn.Close(ctx)
		if _, err := conn.Exec(ctx, "DROP DATABASE "+name+" WITH (FORCE)"); err != nil {
			tb.Errorf("pgtest: drop %s: %v", name, err)
		}
	})
	return c.superURL(name)
}

// Exec runs SQL statements as the superuser in database db, failing tb on error.
func (c *Cluster) Exec(tb testing.TB, db string, sql ...string) {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	conn, err := pgx.Connect(ctx, c.superURL(db))
	if err != nil {
		tb.Fatalf("pgtest: connect to %s: %v", db, err)
	}
	defer conn.Close(ctx)
	for _, s := range sql {
		if _, err := conn.Exec(ctx, s); err != nil {
			tb.Fatalf("pgtest: %s: %v", s, err)
		}
	}
}
