package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/oncofed/oncofed/network"
	"github.com/oncofed/oncofed/node"
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
	opts := []nats.Option{
		nats.Name("oncofed-node"),
		nats.MaxReconnects(-1),
		nats.ReconnectWait(time.Second),
		nats.RetryOnFailedConnect(true), // a site may start before its hub
		nats.DisconnectErrHandler(func(_ *nats.Conn, err error) {
			if err != nil {
				fmt.Fprintf(os.Stderr, "oncofed-node serve: disconnected from the hub: %v\n", err)
			}
		}),
		nats.ReconnectHandler(func(nc *nats.Conn) {
			fmt.Fprintf(os.Stderr, "oncofed-node serve: reconnected to %s\n", nc.ConnectedUrl())
		}),
	}
	if *creds != "" {
		opts = append(opts, nats.UserCredentials(*creds))
	}
	if *nkey != "" {
		o, err := nats.NkeyOptionFromSeed(*nkey)
		if err != nil {
			return fmt.Errorf("nkey %s: %w", *nkey, err)
		}
		opts = append(opts, o)
	}
	if *ca != "" {
		opts = append(opts, nats.RootCAs(*ca))
	}
	nc, err := nats.Connect(*hubURL, opts...)
	if err != nil {
		return fmt.Errorf("hub %s: %w", *hubURL, err)
	}
	defer nc.Close()

	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	var services []*network.SiteService
	for _, path := range dbs {
		store, err := node.OpenSQLite(path)
		if err != nil {
			return err
		}
		defer store.Close()
		eng, err := node.NewEngine(ctx, store, node.Config{Site: *site, Policy: &policy})
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
		fmt.Fprintf(os.Stderr, "oncofed-node serve: site %s serves %v from %s on %s\n", eng.Site(), studies, path, *hubURL)
	}
	<-ctx.Done()
	for _, s := range services {
		s.Stop()
	}
	return nc.Drain()
}
