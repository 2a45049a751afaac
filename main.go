// Command oncofed is the desktop app: it connects to a federated network of hospital nodes
// (by default an embedded demo network) and shows cohort summaries, Kaplan–Meier curves and
// Cox models computed from the sites' aggregates. This file only wires the pieces together.
//
//	oncofed                          the hub chosen in the app's Network dialog, else the embedded demo network
//	oncofed --demo                   the embedded demo network (synthetic hospitals)
//	oncofed --hub URL [--creds FILE] [--key FILE] [--inbox PREFIX] [--tls-ca FILE]
//	                                 a hub for this run only (files are read, nothing is remembered)
//
// A hub chosen in the Network dialog keeps its password, NATS credentials and the analyst's
// key in the system keyring; where there is none, the app asks for them at each start.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log"
	"os"
	"os/user"
	"path/filepath"
	"time"

	"fyne.io/fyne/v2"
	fyneapp "fyne.io/fyne/v2/app"
	"github.com/go-gl/glfw/v3.3/glfw"

	"github.com/oncofed/oncofed/app"
	"github.com/oncofed/oncofed/cache"
	"github.com/oncofed/oncofed/network"
	"github.com/oncofed/oncofed/network/demo"
	"github.com/oncofed/oncofed/node"
	"github.com/oncofed/oncofed/oskeyring"
	"github.com/oncofed/oncofed/protocol"
	"github.com/oncofed/oncofed/synth"
	"github.com/oncofed/oncofed/ui"
)

func main() {
	hub := flag.String("hub", "", "hub URL (nats://host:4222) for this run; default: the one chosen in the app, else the embedded demo network")
	creds := flag.String("creds", "", "NATS credentials or NKey seed `FILE` for --hub")
	key := flag.String("key", "", "analyst key `FILE` (oncofed-cli keygen) to sign every query with; sites with an analysts list answer signed queries only")
	inbox := flag.String("inbox", "", "reply inbox `PREFIX` the hub's permissions give this analyst (e.g. _INBOX_alice)")
	tlsCA := flag.String("tls-ca", "", "CA certificate `FILE` of the hub")
	demoFlag := flag.Bool("demo", false, "start the embedded demo network whatever hub the app remembers")
	demoRole := flag.String("demo-role", "trusted", "with the demo network, the `ROLE` its sites give you: trusted (rule-based releases, as under a data-use agreement) or dp (differentially private releases with a ρ budget, as every other analyst gets); dp implies --demo")
	cachePath := flag.String("cache", "", "cache database (default: oncofed/cache.db in the user cache directory)")
	flag.Parse()
	fy := fyneapp.NewWithID("org.oncofed.desktop")
	s := &session{fy: fy, keyring: oskeyring.New(oskeyring.Service, 0), cachePath: *cachePath, demoRole: node.Role(*demoRole)}
	var err error
	switch {
	case s.demoRole != node.RoleTrusted && s.demoRole != node.RoleDP:
		err = fmt.Errorf("--demo-role: %q is not a role (trusted or dp)", *demoRole)
	case *hub != "":
		s.conn, s.creds, err = fromFlags(*hub, *creds, *key, *inbox, *tlsCA)
	case !*demoFlag && s.demoRole == node.RoleTrusted:
		s.conn, s.remembered = ui.LoadConnection(fy.Preferences()), true
	}
	if err == nil {
		err = s.run()
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "oncofed:", err)
		os.Exit(1)
	}
}

// fromFlags is the connection of --hub and its flags: the files are read now and nothing is
// remembered.
func fromFlags(hub, credsFile, keyFile, inbox, tlsCA string) (ui.Connection, app.Credentials, error) {
	bare, user, password := app.SplitHubURL(hub)
	conn := ui.Connection{URL: bare, User: user, Inbox: inbox, RootCA: tlsCA}
	c := app.Credentials{Password: password}
	if credsFile != "" {
		data, err := os.ReadFile(credsFile)
		if err != nil {
			return conn, c, fmt.Errorf("--creds: %w", err)
		}
		c.NATS = string(data)
	}
	if keyFile != "" {
		data, err := protocol.ReadKeyFile(keyFile)
		if err != nil {
			return conn, c, err
		}
		c.AnalystKey = string(data)
	}
	return conn, c, nil
}

// session is one run of the app: the cache, the demo network or the hub connection, and the
// main window.
type session struct {
	fy         fyne.App
	keyring    *oskeyring.Keyring
	cachePath  string
	demoRole   node.Role // the demo analyst's role at the demo sites
	conn       ui.Connection
	remembered bool // conn comes from the preferences: its secrets are in the keyring or asked for
	creds      app.Credentials

	db      *cache.DB
	info    app.NetworkInfo
	label   string
	closers []func()
	main    *ui.App
}

func (s *session) run() error {
	defer func() {
		for i := len(s.closers) - 1; i >= 0; i-- {
			s.closers[i]()
		}
	}()
	ctx := context.Background()
	if s.cachePath == "" {
		p, err := cache.DefaultPath()
		if err != nil {
			p = filepath.Join(os.TempDir(), "oncofed", "cache.db")
		}
		s.cachePath = p
	}
	db, err := cache.Open(ctx, s.cachePath)
	if err != nil {
		return err
	}
	s.db = db
	s.closers = append(s.closers, func() { db.Close() })
	s.fy.SetIcon(ui.Icon())

	if s.conn.URL == "" {
		// The same network as oncofed-cli --demo: the same hospitals, policies and numbers.
		fed := synth.DemoFederation()
		d, err := demo.Start(ctx, demoDir(), demo.Options{Federation: &fed, AnalystRole: s.demoRole})
		if err != nil {
			return fmt.Errorf("starting the demo network: %w", err)
		}
		s.closers = append(s.closers, d.Close)
		s.info = app.NetworkInfo{ID: "demo", Name: fed.Name, Demo: true}
		s.label = "Demo network"
		if s.demoRole == node.RoleDP { // its own library: the releases differ
			s.info.ID, s.info.Name, s.label = "demo-dp", fed.Name+" (dp analyst)", "Demo (dp)"
		}
		s.showAndRun(s.dial(d.URL(), app.Credentials{AnalystKey: string(d.AnalystKey)}))
		return nil
	}
	s.info = app.NetworkInfo{ID: s.conn.URL, Name: s.conn.URL, URL: s.conn.URL}
	s.label = s.conn.URL
	var missing []string
	why := ""
	if s.remembered && len(s.conn.Secrets) > 0 {
		s.creds, missing, err = app.LoadCredentials(s.keyring, s.conn.URL, s.conn.Secrets)
		switch {
		case errors.Is(err, app.ErrNoKeyring):
			log.Printf("oncofed: %v", err)
			missing, why = s.conn.Secrets, "No system keyring answered, so Oncofed keeps no credentials between runs."
		case err != nil:
			return err
		case len(missing) > 0:
			why = "The system keyring no longer holds them."
		}
	}
	if len(missing) == 0 {
		s.showAndRun(s.connect(s.creds))
		return nil
	}
	ask := ui.AskCredentials(s.fy, s.conn, missing, why, func(c app.Credentials) error {
		client, err := s.connect(merge(s.creds, c))
		if err != nil {
			return err
		}
		fyne.DoAndWait(func() { s.open(client) })
		return nil
	}, func() { s.open(nil) })
	ask.Show()
	s.fy.Run()
	return nil
}

// showAndRun shows the main window on client and runs the app until it quits; without a client
// (err says why) the app starts offline, where the library and cached results still work.
func (s *session) showAndRun(client *network.Client, err error) {
	if err != nil {
		log.Printf("oncofed: %v; starting offline", err)
	}
	s.open(client)
	s.fy.Run()
}

// merge fills the credentials missing from have with those asked for.
func merge(have, asked app.Credentials) app.Credentials {
	if have.Password == "" {
		have.Password = asked.Password
	}
	if have.NATS == "" {
		have.NATS = asked.NATS
	}
	if have.AnalystKey == "" {
		have.AnalystKey = asked.AnalystKey
	}
	return have
}

// connect dials the hub of s.conn with c; nil and the error when it cannot.
func (s *session) connect(c app.Credentials) (*network.Client, error) {
	return s.dial(app.JoinHubURL(s.conn.URL, s.conn.User, c.Password), c)
}

// dial connects to url with c and s.conn's inbox and CA.
func (s *session) dial(url string, c app.Credentials) (*network.Client, error) {
	opts := []network.Option{network.WithName("oncofed-desktop"), network.WithTimeout(10 * time.Second)}
	if c.NATS != "" {
		opts = append(opts, network.WithCredentialsData(c.NATS))
	}
	if s.conn.Inbox != "" {
		opts = append(opts, network.WithInboxPrefix(s.conn.Inbox))
	}
	if s.conn.RootCA != "" {
		opts = append(opts, network.WithRootCA(s.conn.RootCA))
	}
	if c.AnalystKey != "" {
		key, err := protocol.ParsePrivateKey([]byte(c.AnalystKey))
		if err != nil {
			return nil, fmt.Errorf("analyst key: %w", err)
		}
		opts = append(opts, network.WithSigner(protocol.NewSigner(key, nil)))
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	client, err := network.Dial(ctx, url, opts...)
	if err != nil {
		return nil, err // it names the hub without the password (network.Dial redacts it)
	}
	return client, nil
}

// open shows the main window on client (nil: offline). It runs on the UI goroutine.
func (s *session) open(client *network.Client) {
	var net app.Network
	if client != nil {
		net = client
		s.closers = append(s.closers, func() { client.Close() })
	}
	notices := make(chan app.Notice, 16)
	analyst := analystName()
	svc := app.NewService(net, s.db, s.info, app.WithAnalyst(analyst), app.WithNotify(func(n app.Notice) {
		select {
		case notices <- n:
		default:
		}
	}))
	s.main = ui.New(s.fy, svc, ui.Options{Network: net, Analyst: analyst, NetworkLabel: s.label, Notices: notices, Keyring: s.keyring})
	s.closers = append(s.closers, s.main.Close)
	s.main.Start()
	s.main.Window().Show()
	s.fitScreen()
}

// fitScreen keeps the main window within the primary monitor's work area (ui.App.FitScreen).
// Fyne offers no screen size; GLFW, which its desktop driver runs on, does, and is initialised
// by now (the window exists). It runs on the main goroutine, as GLFW requires.
func (s *session) fitScreen() {
	m := glfw.GetPrimaryMonitor()
	if m == nil {
		return
	}
	_, _, w, h := m.GetWorkarea()
	s.main.FitScreen(w, h)
}

// demoDir holds the demo hospitals' databases, kept between runs.
func demoDir() string {
	if d, err := os.UserCacheDir(); err == nil {
		return filepath.Join(d, "oncofed", "demo")
	}
	return filepath.Join(os.TempDir(), "oncofed-demo")
}

func analystName() string {
	if u, err := user.Current(); err == nil && u.Username != "" {
		return u.Username
	}
	return "analyst"
}
