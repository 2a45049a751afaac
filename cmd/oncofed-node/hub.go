package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/oncofed/oncofed/network"
	"github.com/oncofed/oncofed/network/demo"
	"github.com/oncofed/oncofed/synth"
)

func init() {
	register("hub", "run an embedded NATS hub that sites and analysts connect to", runHub)
}

// runHub starts an embedded hub and runs until SIGINT or SIGTERM. The same topology runs on
// a stock nats-server (or a cluster of them) with `max_payload: 32MB` in its configuration:
// sites and analysts only need its URL.
func runHub(args []string) error {
	fs := flag.NewFlagSet("hub", flag.ContinueOnError)
	listen := fs.String("listen", "127.0.0.1:4222", "client `ADDRESS` host:port (port 0: a free port)")
	config := fs.String("config", "", "NATS server configuration `FILE` (TLS, accounts, cluster); --listen overrides its address")
	verbose := fs.Bool("log", false, "log the server's events to standard error")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	listenSet := false
	fs.Visit(func(f *flag.Flag) { listenSet = listenSet || f.Name == "listen" })
	opts := network.HubOptions{ConfigFile: *config, Log: *verbose}
	if *config == "" || listenSet {
		opts.Listen = *listen
	}
	hub, err := network.StartHub(opts)
	if err != nil {
		return err
	}
	fmt.Println(hub.URL())
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGINT, syscall.SIGTERM)
	<-sig
	hub.Shutdown()
	return nil
}

func init() {
	register("demo", "run a hub and synthetic hospitals in one process (the demo network)", runDemo)
}

// runDemo starts the synthetic demo federation (synth.DemoFederation, or --sites hospitals
// from --seed) on a hub at --listen and runs until SIGINT or SIGTERM.
func runDemo(args []string) error {
	fs := flag.NewFlagSet("demo", flag.ContinueOnError)
	listen := fs.String("listen", "127.0.0.1:4222", "hub client `ADDRESS` host:port (port 0: a free port)")
	sites := fs.Int("sites", 0, "number of hospitals `N` (default: the six of the standard demo)")
	seed := fs.Uint64("seed", synth.DemoSeed, "generator `SEED`")
	dir := fs.String("dir", "", "`DIR` for the hospitals' databases, reused when present (default: a temporary directory)")
	markers := fs.Bool("markers", false, "give every study its candidate biomarkers (≥40 per cancer, for oncofed-cli screen)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	if *sites < 0 || *sites == 1 {
		return fmt.Errorf("--sites %d: want at least 2", *sites)
	}
	fed, err := demoFederation(*sites, *seed)
	if err != nil {
		return err
	}
	if *markers {
		fed = fed.WithMarkers()
	}
	if *dir == "" {
		tmp, err := os.MkdirTemp("", "oncofed-demo-")
		if err != nil {
			return err
		}
		defer os.RemoveAll(tmp)
		*dir = tmp
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	d, err := demo.Start(ctx, *dir, demo.Options{Listen: *listen, Federation: &fed})
	if err != nil {
		return err
	}
	defer d.Close()
	fmt.Println(d.URL())
	for _, s := range d.Sites {
		fmt.Fprintf(os.Stderr, "oncofed-node demo: %s serves %v\n", s, d.Studies[s])
	}
	fmt.Fprintf(os.Stderr, "oncofed-node demo: the synthetic sites answer queries signed by the demo analyst (trusted): oncofed-cli --hub %s --key %s\n", d.URL(), d.KeyPath)
	<-ctx.Done()
	return nil
}

// demoFederation is the standard demo for n = 0 and the standard seed, otherwise the same
// studies and total sizes spread over n hospitals from seed.
func demoFederation(n int, seed uint64) (synth.Federation, error) {
	fed := synth.DemoFederation()
	if n == 0 && seed == synth.DemoSeed {
		return fed, nil
	}
	if n == 0 {
		n = len(fed.Studies[0].SiteSizes)
	}
	custom := synth.Federation{Name: fmt.Sprintf("%s, %d sites, seed %d", fed.Name, n, seed), Policies: map[string]synth.SitePolicy{}}
	for _, s := range fed.Studies {
		total := 0
		for _, k := range s.SiteSizes {
			total += k
		}
		custom.Studies = append(custom.Studies, synth.Spec{Study: s.Study, Name: s.Name, Sites: n, Patients: total, Seed: seed, DataCut: s.DataCut})
	}
	g, err := synth.New(custom.Studies[0])
	if err != nil {
		return custom, err
	}
	for _, s := range g.Sites() {
		custom.Policies[s.Name] = synth.DemoPolicy
	}
	return custom, nil
}
