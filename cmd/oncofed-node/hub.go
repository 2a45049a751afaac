package main

import (
	"flag"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/oncofed/oncofed/network"
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
