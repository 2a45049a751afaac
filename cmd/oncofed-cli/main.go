// Command oncofed-cli is the headless client of an Oncofed network: every analysis the desktop
// app shows is also a command, for scripts and reproducible reports. It runs the same app
// services as the desktop app (so the numbers are the same), over a hub or the in-process
// demo network.
//
//	oncofed-cli --demo sites
//	oncofed-cli --hub nats://hub:4222 studies
//	oncofed-cli --demo variables --study nsclc
//	oncofed-cli --demo count --study nsclc --where "age >= 65 and ecog in (0, 1)" --group sex
//	oncofed-cli --demo summary --study nsclc --vars age,sex,stage --group arm
//	oncofed-cli --demo km --study nsclc --endpoint OS --group arm --format json
//	oncofed-cli --demo cox --study nsclc --endpoint OS --covariates arm,age,sex --strata site
//	oncofed-cli keygen --out ~/.oncofed/alice.key --name alice
//	oncofed-cli --hub tls://hub:4222 --key ~/.oncofed/alice.key count --study nsclc
//	oncofed-cli --offline km --study nsclc --endpoint OS --group arm --time-unit months
//	oncofed-cli library list
//	oncofed-cli library export 12 --out km.png
//	oncofed-cli library deck --out tumor-board.pdf
//
// Exit status: 0 success, 2 bad arguments (a malformed filter says where), 3 when some site
// refused or did not answer and --require-all was given, 4 when --offline and the request is
// not in the cache, 1 any other failure. Errors go to
// standard error in one line.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/user"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/oncofed/oncofed/app"
	"github.com/oncofed/oncofed/cache"
	"github.com/oncofed/oncofed/internal/cpuprofile"
	"github.com/oncofed/oncofed/network"
	"github.com/oncofed/oncofed/network/demo"
	"github.com/oncofed/oncofed/protocol"
)

// Exit statuses.
const (
	exitOK      = 0
	exitFailure = 1
	exitUsage   = 2
	exitPartial = 3
	// exitNotCached: --offline, and the request was never computed into the cache.
	exitNotCached = 4
)

// usageError is a bad argument: exit status 2.
type usageError struct{ msg string }

func (e *usageError) Error() string { return e.msg }

func usagef(format string, args ...any) error { return &usageError{fmt.Sprintf(format, args...)} }

// errPartial marks a result that some site did not contribute to, under --require-all.
var errPartial = errors.New("not every site contributed")

// common holds the flags every command accepts (before or after the command name).
type common struct {
	hub        string
	demo       bool
	demoDir    string
	creds      string
	nkey       string
	tlsCA      string
	timeout    time.Duration
	format     string
	requireAll bool
	cachePath  string
	analyst    string
	expect     string
	key        string
	inbox      string
	offline    bool

	stdout io.Writer // where the note on a cached answer goes before a text result
	stderr io.Writer // where it goes when stdout is JSON or CSV
	study  string    // the study an analysis command asks for (picks the network offline)
}

func (c *common) register(fs *flag.FlagSet) {
	fs.StringVar(&c.hub, "hub", c.hub, "hub `URL` (nats://host:4222)")
	fs.BoolVar(&c.demo, "demo", c.demo, "start the synthetic demo network in this process instead of dialling a hub")
	fs.StringVar(&c.demoDir, "demo-dir", c.demoDir, "`DIR` for the demo hospitals' databases (default: the user cache directory)")
	fs.StringVar(&c.creds, "creds", c.creds, "NATS credentials `FILE`")
	fs.StringVar(&c.nkey, "nkey", c.nkey, "NKey seed `FILE`")
	fs.StringVar(&c.tlsCA, "tls-ca", c.tlsCA, "CA certificate `FILE` of the hub")
	fs.DurationVar(&c.timeout, "timeout", c.timeout, "how long to wait for the sites' replies")
	fs.StringVar(&c.format, "format", c.format, "output `FORMAT`: text, json or csv")
	fs.BoolVar(&c.requireAll, "require-all", c.requireAll, "exit with status 3 when a site refused or did not answer")
	fs.StringVar(&c.cachePath, "cache", c.cachePath, "result cache `FILE` (default: a temporary one for commands run on a hub or --demo; the desktop app's for --offline and library; give the app's to keep live results there)")
	fs.StringVar(&c.analyst, "analyst", c.analyst, "analyst `NAME` declared with queries (default: the user name); sites that verify signatures use the name their analysts list gives your --key")
	fs.StringVar(&c.key, "key", c.key, "analyst key `FILE` (from keygen) to sign every query with; sites with an analysts list answer signed queries only")
	fs.StringVar(&c.inbox, "inbox", c.inbox, "reply inbox `PREFIX` the hub's permissions give this analyst (e.g. _INBOX_alice)")
	fs.BoolVar(&c.offline, "offline", c.offline, "answer from the result cache only, never connecting to a hub: --hub or --demo names the network (default: the cached one serving --study); fails with status 4 when the request is not cached")
	fs.StringVar(&c.expect, "expect-sites", c.expect, "comma-separated `SITES` that must answer: one that is down is reported missing even if never seen")
}

type command struct {
	summary string
	run     func(ctx context.Context, c *common, args []string, out io.Writer) error
}

var commands = map[string]command{
	"sites":     {"list the sites on the network with status and latency", runSites},
	"studies":   {"list the studies with their sites and patient counts", runStudies},
	"variables": {"list a study's variables and endpoints", runVariables},
	"catalog":   {"print every site's catalog", runCatalog},
	"count":     {"cohort size, optionally by group", runCount},
	"summary":   {"Table 1: summaries of variables, optionally by group", runSummary},
	"km":        {"Kaplan–Meier curves, medians, RMST and log-rank tests", runKM},
	"cox":       {"Cox proportional hazards model fitted over the sites", runCox},
	"ipw":       {"compare two treatments with propensity weights: balance, weighted KM and Cox", runIPW},
	"model":     {"prognostic Cox model: the cox fit, validated leave-one-site-out (--validate loso)", runModel},
	"screen":    {"biomarker screen: one Cox model per candidate marker, with q-values and site heterogeneity", runScreen},
	"library":   {"list, show or export the results stored in the cache, or the deck of pinned ones (list | show ID | export ID --out FILE | pin ID | unpin ID | deck --out FILE.pdf)", runLibrary},
}

func usage(w io.Writer) {
	fmt.Fprintln(w, "usage: oncofed-cli (--hub URL | --demo | --offline) [--key FILE] <command> [flags]")
	fmt.Fprintln(w, "\ncommands:")
	names := make([]string, 0, len(commands))
	for n := range commands {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		fmt.Fprintf(w, "  %-10s %s\n", n, commands[n].summary)
	}
	fmt.Fprintln(w, "\nRun 'oncofed-cli <command> -h' for a command's flags.")
}

func main() {
	stop := cpuprofile.Start("oncofed-cli")
	code := run(context.Background(), os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

// run executes one command line and returns the exit status.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	c := &common{timeout: 10 * time.Second, format: "text", stdout: stdout, stderr: stderr}
	global := flag.NewFlagSet("oncofed-cli", flag.ContinueOnError)
	global.SetOutput(stderr)
	global.Usage = func() { usage(stderr); global.PrintDefaults() }
	c.register(global)
	if err := global.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return exitOK
		}
		return exitUsage
	}
	if global.NArg() == 0 {
		usage(stderr)
		return exitUsage
	}
	name := global.Arg(0)
	cmd, ok := commands[name]
	if !ok {
		fmt.Fprintf(stderr, "oncofed-cli: unknown command %q\n", name)
		usage(stderr)
		return exitUsage
	}
	err := cmd.run(ctx, c, global.Args()[1:], stdout)
	var ue *usageError
	switch {
	case err == nil:
		return exitOK
	case errors.Is(err, flag.ErrHelp):
		return exitOK
	case errors.As(err, &ue):
		fmt.Fprintf(stderr, "oncofed-cli %s: %v\n", name, err)
		return exitUsage
	case errors.Is(err, errPartial):
		fmt.Fprintf(stderr, "oncofed-cli %s: %v\n", name, err)
		return exitPartial
	case errors.Is(err, errNotCached):
		fmt.Fprintf(stderr, "oncofed-cli %s: %s\n", name, oneLine(err))
		return exitNotCached
	default:
		fmt.Fprintf(stderr, "oncofed-cli %s: %s\n", name, oneLine(err))
		return exitFailure
	}
}

func oneLine(err error) string { return strings.ReplaceAll(err.Error(), "\n", "; ") }

// flags returns a command's flag set with the common flags, parsing args into it.
func parseFlags(name string, c *common, args []string, define func(fs *flag.FlagSet)) error {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(os.Stderr)
	c.register(fs)
	if define != nil {
		define(fs)
	}
	if err := parseArgs(fs, args); err != nil {
		return err
	}
	switch c.format {
	case "text", "json", "csv":
	default:
		return usagef("--format %q: want text, json or csv", c.format)
	}
	if c.demo && c.hub != "" || !c.offline && !c.demo && c.hub == "" {
		return usagef("give exactly one of --hub URL and --demo (or --offline)")
	}
	if c.timeout <= 0 {
		return usagef("--timeout must be positive")
	}
	return nil
}

// env is a connected client: the network, the app service on it and what to close.
type env struct {
	net     *network.Client
	svc     *app.Service
	closers []func()
	// offline: no network, svc answers from the cache (--offline); c is the command line.
	offline   bool
	c         *common
	cachePath string
	db        *cache.DB // the cache, offline
}

func (e *env) Close() {
	for i := len(e.closers) - 1; i >= 0; i-- {
		e.closers[i]()
	}
}

// connect starts the demo network when asked, dials the hub and opens the result cache.
func connect(ctx context.Context, c *common) (*env, error) {
	if c.offline {
		return connectOffline(ctx, c)
	}
	e := &env{}
	url := c.hub
	var demoSigner *protocol.Signer
	// The network is named by its hub URL; app and cache redact single URLs but not a
	// cluster list, so the password of every URL is dropped here.
	shown := app.RedactURL(c.hub)
	info := app.NetworkInfo{ID: shown, Name: shown, URL: shown}
	if c.demo {
		dir := c.demoDir
		if dir == "" {
			base, err := os.UserCacheDir()
			if err != nil {
				base = os.TempDir()
			}
			dir = filepath.Join(base, "oncofed", "demo")
		}
		d, err := demo.Start(ctx, dir, demo.Options{})
		if err != nil {
			return nil, err
		}
		e.closers = append(e.closers, d.Close)
		url = d.URL()
		info = app.NetworkInfo{ID: "demo", Name: "demo", Demo: true}
		if c.key == "" {
			demoSigner = d.Signer() // the demo sites answer their demo analyst's signed queries
		}
	}
	opts := []network.Option{network.WithName("oncofed-cli"), network.WithTimeout(c.timeout)}
	if c.creds != "" {
		opts = append(opts, network.WithCredentials(c.creds))
	}
	if c.nkey != "" {
		opts = append(opts, network.WithNKey(c.nkey))
	}
	if c.tlsCA != "" {
		opts = append(opts, network.WithRootCA(c.tlsCA))
	}
	if c.key != "" {
		signer, err := protocol.LoadSigner(c.key)
		if err != nil {
			e.Close()
			return nil, err
		}
		opts = append(opts, network.WithSigner(signer))
	} else if demoSigner != nil {
		opts = append(opts, network.WithSigner(demoSigner))
	}
	if c.inbox != "" {
		opts = append(opts, network.WithInboxPrefix(c.inbox))
	}
	if sites := splitList(c.expect); len(sites) > 0 {
		opts = append(opts, network.WithExpectedSites(sites...))
	}
	dctx, cancel := context.WithTimeout(ctx, c.timeout)
	client, err := network.Dial(dctx, url, opts...)
	cancel()
	if err != nil {
		e.Close()
		return nil, err
	}
	e.net = client
	e.closers = append(e.closers, func() { client.Close() })
	// Discover the sites while the cache opens (the first query waits for this discovery).
	client.Prefetch(ctx)
	path := c.cachePath
	if path == "" {
		dir, err := os.MkdirTemp("", "oncofed-cli-")
		if err != nil {
			e.Close()
			return nil, err
		}
		e.closers = append(e.closers, func() { os.RemoveAll(dir) })
		path = filepath.Join(dir, "cache.db")
	}
	db, err := cache.Open(ctx, path)
	if err != nil {
		e.Close()
		return nil, err
	}
	e.closers = append(e.closers, func() { db.Close() })
	analyst := c.analyst
	if analyst == "" {
		analyst = defaultAnalyst()
	}
	e.svc = app.NewService(client, db, info, app.WithAnalyst(analyst))
	return e, nil
}

// defaultAnalyst is the user's login name ("analyst" when unknown).
func defaultAnalyst() string {
	if u, err := user.Current(); err == nil && u.Username != "" {
		return u.Username
	}
	return "analyst"
}

// catalog refreshes the network's catalog.
func (e *env) catalog(ctx context.Context) (*app.Catalog, error) {
	if e.offline {
		return e.cachedCatalog(ctx)
	}
	u, err := e.svc.RefreshCatalog(ctx)
	if err != nil {
		return nil, err
	}
	return u.Catalog, nil
}

// study returns the merged study, or a usage error listing the studies there are.
func study(cat *app.Catalog, name string) (*app.Study, error) {
	if name == "" {
		return nil, usagef("--study is required (studies: %s)", strings.Join(studyNames(cat), ", "))
	}
	st := cat.Study(name)
	if st == nil {
		return nil, usagef("no site serves study %q (studies: %s)", name, strings.Join(studyNames(cat), ", "))
	}
	return st, nil
}

func studyNames(cat *app.Catalog) []string {
	var out []string
	for _, s := range cat.Studies {
		out = append(out, s.Name)
	}
	return out
}

// cohort parses --where against the study's variables.
func cohort(st *app.Study, where string) (*protocol.Filter, error) {
	f, err := protocol.ParseFilterTyped(where, func(name string) (protocol.VariableType, bool) {
		if v := st.Variable(name); v != nil {
			return v.Type, true
		}
		return "", false
	})
	if err != nil {
		return nil, &usageError{"--where: " + err.Error()}
	}
	return f, nil
}

func checkVariable(st *app.Study, flagName, name string, want protocol.VariableType) error {
	if name == "" {
		return nil
	}
	v := st.Variable(name)
	if v == nil {
		return usagef("%s: study %s has no variable %q", flagName, st.Name, name)
	}
	if want != "" && v.Type != want {
		return usagef("%s: %q is %s, want %s", flagName, name, v.Type, want)
	}
	return nil
}

func checkEndpoint(st *app.Study, name string) error {
	var names []string
	for _, e := range st.Endpoints {
		if e.Name == name {
			return nil
		}
		names = append(names, e.Name)
	}
	if name == "" {
		return usagef("--endpoint is required (endpoints: %s)", strings.Join(names, ", "))
	}
	return usagef("--endpoint: study %s has no endpoint %q (endpoints: %s)", st.Name, name, strings.Join(names, ", "))
}

func splitList(s string) []string {
	var out []string
	for _, p := range strings.Split(s, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}

func parseFloats(flagName, s string) ([]float64, error) {
	var out []float64
	for _, p := range splitList(s) {
		x, err := strconv.ParseFloat(p, 64)
		if err != nil {
			return nil, usagef("%s: %q is not a number", flagName, p)
		}
		out = append(out, x)
	}
	return out, nil
}

// requireAll turns a partial result into errPartial under --require-all (after it was printed).
func requireAll(c *common, p *app.Provenance) error {
	if c.requireAll && p.Partial() {
		return fmt.Errorf("%w: %s", errPartial, sitesText(p))
	}
	return nil
}

// parseArgs parses a command's flags: -h is passed through, a bad flag or any positional
// argument is a usage error.
func parseArgs(fs *flag.FlagSet, args []string) error {
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return err
		}
		return &usageError{err.Error()}
	}
	if fs.NArg() > 0 {
		return usagef("unexpected argument %q", fs.Arg(0))
	}
	return nil
}
