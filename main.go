// Command oncofed is the desktop app: it connects to a federated network of hospital nodes
// (by default an embedded demo network) and shows cohort summaries, Kaplan–Meier curves and
// Cox models computed from the sites' aggregates. This file only wires the pieces together.
//
//	oncofed                          the embedded demo network (synthetic hospitals)
//	oncofed --hub URL [--creds FILE] [--key FILE] a real hub (remembered when chosen in the app's Network dialog)
package main

import (
	"context"
	"flag"
	"fmt"
	"log"
	"os"
	"os/user"
	"path/filepath"
	"time"

	"fyne.io/fyne/v2"
	fyneapp "fyne.io/fyne/v2/app"

	"github.com/oncofed/oncofed/app"
	"github.com/oncofed/oncofed/cache"
	"github.com/oncofed/oncofed/network"
	"github.com/oncofed/oncofed/network/demo"
	"github.com/oncofed/oncofed/protocol"
	"github.com/oncofed/oncofed/synth"
	"github.com/oncofed/oncofed/ui"
)

func main() {
	hub := flag.String("hub", "", "hub URL (nats://host:4222); default: the one chosen in the app, else the embedded demo network")
	creds := flag.String("creds", "", "NATS credentials file for --hub")
	key := flag.String("key", "", "analyst key `FILE` (oncofed-cli keygen) to sign every query with; sites with an analysts list answer signed queries only")
	demo := flag.Bool("demo", false, "start the embedded demo network whatever hub the app remembers")
	cachePath := flag.String("cache", "", "cache database (default: oncofed/cache.db in the user cache directory)")
	flag.Parse()
	fy := fyneapp.NewWithID("org.oncofed.desktop")
	if *hub == "" && !*demo {
		*hub = fy.Preferences().String(ui.PrefHub)
		if *creds == "" {
			*creds = fy.Preferences().String(ui.PrefCreds)
		}
	}
	if err := run(fy, *hub, *creds, *key, *cachePath); err != nil {
		fmt.Fprintln(os.Stderr, "oncofed:", err)
		os.Exit(1)
	}
}

func run(fy fyne.App, hubURL, creds, keyFile, cachePath string) error {
	ctx := context.Background()
	if cachePath == "" {
		p, err := cache.DefaultPath()
		if err != nil {
			p = filepath.Join(os.TempDir(), "oncofed", "cache.db")
		}
		cachePath = p
	}
	db, err := cache.Open(ctx, cachePath)
	if err != nil {
		return err
	}
	defer db.Close()

	shown := app.RedactURL(hubURL) // a password in the URL never reaches the window or the cache
	info := app.NetworkInfo{ID: shown, Name: shown, URL: shown}
	label := shown
	if hubURL == "" {
		// The same network as oncofed-cli --demo: the same hospitals, policies and numbers.
		fed := synth.DemoFederation()
		d, err := demo.Start(ctx, demoDir(), demo.Options{Federation: &fed})
		if err != nil {
			return fmt.Errorf("starting the demo network: %w", err)
		}
		defer d.Close()
		hubURL = d.URL()
		info = app.NetworkInfo{ID: "demo", Name: fed.Name, Demo: true}
		label = "Demo network"
	}
	opts := []network.Option{network.WithName("oncofed-desktop"), network.WithTimeout(10 * time.Second)}
	if creds != "" {
		opts = append(opts, network.WithCredentials(creds))
	}
	if keyFile != "" {
		signer, err := protocol.LoadSigner(keyFile)
		if err != nil {
			return err
		}
		opts = append(opts, network.WithSigner(signer))
	}
	var net app.Network
	dialCtx, cancel := context.WithTimeout(ctx, 10*time.Second)
	client, err := network.Dial(dialCtx, hubURL, opts...)
	cancel()
	if err != nil {
		// Offline: the library and cached results still work.
		log.Printf("oncofed: the hub %s cannot be reached (%v); starting offline", app.RedactURL(hubURL), err)
	} else {
		net = client
		defer client.Close()
	}

	notices := make(chan app.Notice, 16)
	analyst := analystName()
	svc := app.NewService(net, db, info, app.WithAnalyst(analyst), app.WithNotify(func(n app.Notice) {
		select {
		case notices <- n:
		default:
		}
	}))
	fy.SetIcon(ui.Icon())
	w := ui.New(fy, svc, ui.Options{Network: net, Analyst: analyst, NetworkLabel: label, Notices: notices})
	w.ShowAndRun()
	w.Close()
	return nil
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
