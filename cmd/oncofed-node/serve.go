package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/oncofed/oncofed/app"
	"github.com/oncofed/oncofed/network"
	"github.com/oncofed/oncofed/node"
	"github.com/oncofed/oncofed/protocol"
)

func init() {
	register("serve", "serve site databases to a hub (outbound connection only)", runServe)
}

// runServe serves one site per --db on the hub until SIGINT or SIGTERM. The node dials out
// to the hub and keeps reconnecting; it opens no port. The studies served are those in the
// database at start: restart after importing a new study.
func runServe(args []string) error {
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	hubURL := fs.String("hub", "nats://127.0.0.1:4222", "hub `URL` (comma-separated for a cluster)")
	var dbs stringList
	fs.Var(&dbs, "db", "site database `PATH` (repeat to serve several sites from one process)")
	site := fs.String("site", "", "site `NAME` on the network (one --db only; default: the name stored at import)")
	policyPath := fs.String("policy", "", "disclosure policy JSON `FILE` (default: the built-in safe policy)")
	creds := fs.String("creds", "", "NATS credentials `FILE`")
	nkey := fs.String("nkey", "", "NKey seed `FILE`")
	ca := fs.String("tls-ca", "", "CA certificate `FILE` the hub's certificate is signed by")
	analystsPath := fs.String("analysts", "", "`FILE` of authorised analysts, one `NAME PUBLIC-KEY [trusted|dp]` line each (oncofed-cli keygen prints them; without a role: dp, differentially private releases); required unless --insecure-open")
	insecureOpen := fs.Bool("insecure-open", false, "serve WITHOUT an analysts list: unsigned queries answered, declared analyst names trusted (budget, guard and audit can be evaded by changing the name); demos and closed test networks only")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if len(dbs) == 0 {
		return fmt.Errorf("no --db given")
	}
	if *site != "" && len(dbs) > 1 {
		return fmt.Errorf("--site names one site, but %d databases were given", len(dbs))
	}
	policy, err := node.LoadPolicy(*policyPath)
	if err != nil {
		return err
	}
	var analysts *node.Analysts
	switch {
	case *analystsPath != "" && *insecureOpen:
		return fmt.Errorf("--analysts and --insecure-open contradict each other: give one")
	case *analystsPath != "":
		if analysts, err = node.LoadAnalysts(*analystsPath); err != nil {
			return err
		}
	case !*insecureOpen:
		return fmt.Errorf("no --analysts list: a node answers only the analysts it lists (`NAME PUBLIC-KEY [trusted|dp]` lines; oncofed-cli keygen prints the key); for a demo or a closed test network, --insecure-open serves unsigned queries")
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	return serve(ctx, serveConfig{hub: *hubURL, dbs: dbs, site: *site, policy: policy, creds: *creds, nkey: *nkey, ca: *ca, analysts: analysts}, os.Stderr)
}

// serveConfig is what `serve` was asked to do.
type serveConfig struct {
	hub             string
	dbs             []string
	site            string
	policy          protocol.Policy
	creds, nkey, ca string
	analysts        *node.Analysts // nil: insecure-open (runServe refuses nil without --insecure-open)
}

// serve serves the databases until ctx is done.
func serve(ctx context.Context, cfg serveConfig, log io.Writer) error {
	opts := []nats.Option{
		nats.Name("oncofed-node"),
		nats.MaxReconnects(-1),
		nats.ReconnectWait(time.Second),
		nats.RetryOnFailedConnect(true), // a site may start before its hub
		nats.DisconnectErrHandler(func(_ *nats.Conn, err error) {
			if err != nil {
				fmt.Fprintf(log, "oncofed-node serve: disconnected from the hub: %v\n", err)
			}
		}),
		nats.ReconnectHandler(func(nc *nats.Conn) {
			fmt.Fprintf(log, "oncofed-node serve: reconnected to %s\n", nc.ConnectedUrlRedacted())
		}),
	}
	if cfg.creds != "" {
		opts = append(opts, nats.UserCredentials(cfg.creds))
	}
	if cfg.nkey != "" {
		o, err := nats.NkeyOptionFromSeed(cfg.nkey)
		if err != nil {
			return fmt.Errorf("nkey %s: %w", cfg.nkey, err)
		}
		opts = append(opts, o)
	}
	if cfg.ca != "" {
		opts = append(opts, nats.RootCAs(cfg.ca))
	}
	nc, err := nats.Connect(cfg.hub, opts...)
	if err != nil {
		return fmt.Errorf("hub %s: %w", app.RedactURL(cfg.hub), err)
	}
	defer nc.Close()

	if cfg.analysts == nil {
		fmt.Fprintln(log, "oncofed-node serve: WARNING: --insecure-open: the node runs OPEN, answering unsigned queries and trusting the analyst names they declare (budget, overlap guard and audit can be evaded by changing the name); for demos and trusted test networks only")
	} else {
		fmt.Fprintf(log, "oncofed-node serve: answering signed queries from %d authorised analysts\n", cfg.analysts.Len())
	}
	var services []*network.SiteService
	for _, path := range cfg.dbs {
		store, err := node.OpenSQLite(path)
		if err != nil {
			return err
		}
		defer store.Close()
		eng, err := node.NewEngine(ctx, store, node.Config{Site: cfg.site, Policy: &cfg.policy, Analysts: cfg.analysts, InsecureOpen: cfg.analysts == nil})
		if err != nil {
			return err
		}
		studies, err := eng.Studies(ctx)
		if err != nil {
			return err
		}
		if len(studies) == 0 {
			return fmt.Errorf("%s holds no study: import one first (oncofed-node import)", path)
		}
		svc, err := network.ServeSite(ctx, nc, eng.Site(), studies, eng)
		if err != nil {
			return err
		}
		services = append(services, svc)
		fmt.Fprintf(log, "oncofed-node serve: site %s serves %v from %s on %s\n", eng.Site(), studies, path, app.RedactURL(cfg.hub))
	}
	<-ctx.Done()
	for _, s := range services {
		s.Stop()
	}
	return nc.Drain()
}
