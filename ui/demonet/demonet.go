// Package demonet starts a synthetic federation in-process (an embedded hub and one node per
// hospital of synth's demo federation, each on its own SQLite file and connection) for the
// desktop app's tests and for its demo mode until network provides one. It wires concrete
// implementations together, so only main.go and tests import it.
package demonet

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/oncofed/oncofed/network"
	"github.com/oncofed/oncofed/node"
	"github.com/oncofed/oncofed/protocol"
	"github.com/oncofed/oncofed/synth"
)

// Demo is a running federation.
type Demo struct {
	Hub   *network.Hub
	Sites []string

	stores []*node.SQLiteStore
	conns  map[string]*nats.Conn
	svcs   map[string]*network.SiteService
}

// URL is the hub's address for network.Dial.
func (d *Demo) URL() string { return d.Hub.URL() }

// StopSite takes a site off the network (tests of a site going away).
func (d *Demo) StopSite(site string) {
	if s := d.svcs[site]; s != nil {
		s.Stop()
		delete(d.svcs, site)
	}
	if c := d.conns[site]; c != nil {
		c.Close()
		delete(d.conns, site)
	}
}

// Close stops every site and the hub.
func (d *Demo) Close() {
	for site := range d.svcs {
		d.StopSite(site)
	}
	for _, s := range d.stores {
		s.Close()
	}
	d.Hub.Shutdown()
}

// Start generates fed's hospitals into SQLite files under dir (reused when dir already holds
// them from an earlier start) and serves them on a new embedded hub on 127.0.0.1.
//
// Reused files written by an older node whose schema no longer fits are detected by a probe
// query on each site and generated anew.
func Start(ctx context.Context, dir string, fed synth.Federation) (*Demo, error) {
	d, err := start(ctx, dir, fed, false)
	if errors.Is(err, errStale) {
		d, err = start(ctx, dir, fed, true)
	}
	return d, err
}

var errStale = errors.New("demo: stale site databases")

func start(ctx context.Context, dir string, fed synth.Federation, regenerate bool) (*Demo, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, err
	}
	marker := filepath.Join(dir, "ready-"+fingerprint(fed))
	fresh := regenerate
	if _, err := os.Stat(marker); err != nil {
		fresh = true
	}
	if fresh {
		os.Remove(marker)
		// A partial earlier import is discarded whole.
		olds, _ := filepath.Glob(filepath.Join(dir, "*.db*"))
		for _, o := range olds {
			os.Remove(o)
		}
	}
	studies := map[string][]string{} // site → studies
	stores := map[string]*node.SQLiteStore{}
	d := &Demo{conns: map[string]*nats.Conn{}, svcs: map[string]*network.SiteService{}}
	fail := func(err error) (*Demo, error) {
		for _, s := range stores {
			s.Close()
		}
		return nil, err
	}
	for _, spec := range fed.Studies {
		g, err := synth.New(spec)
		if err != nil {
			return fail(err)
		}
		for i, s := range g.Sites() {
			st := stores[s.Name]
			if st == nil {
				if st, err = node.OpenSQLite(filepath.Join(dir, s.Name+".db")); err != nil {
					if !fresh {
						fail(err)
						return nil, errStale
					}
					return fail(err)
				}
				stores[s.Name] = st
			}
			is := g.ImportSpec(i)
			studies[s.Name] = append(studies[s.Name], is.Study)
			if !fresh {
				continue
			}
			var buf bytes.Buffer
			if err := g.WriteCSV(&buf, i); err != nil {
				return fail(err)
			}
			spec := node.ImportSpec{Study: is.Study, IDColumn: is.IDColumn, DataCut: is.DataCut.Format("2006-01-02"), Site: is.Site}
			for _, ep := range is.Endpoints {
				spec.Endpoints = append(spec.Endpoints, node.EndpointSpec{Name: ep.Name, TimeColumn: ep.TimeColumn, EventColumn: ep.EventColumn})
			}
			if _, err := node.ImportCSV(ctx, st, spec, &buf); err != nil {
				return fail(fmt.Errorf("demo: %s/%s: %w", is.Study, s.Name, err))
			}
		}
	}
	if fresh {
		if err := os.WriteFile(marker, []byte(time.Now().UTC().Format(time.RFC3339)+"\n"), 0o600); err != nil {
			return fail(err)
		}
	}
	hub, err := network.StartHub(network.HubOptions{})
	if err != nil {
		return fail(err)
	}
	d.Hub = hub
	for site := range stores {
		d.Sites = append(d.Sites, site)
	}
	sort.Strings(d.Sites)
	for _, site := range d.Sites {
		st := stores[site]
		d.stores = append(d.stores, st)
		sp := fed.Policies[site]
		pol := protocol.Policy{MinCohort: sp.MinCohort, MinCell: sp.MinCell, BinDays: float64(sp.BinDays), OverlapGuard: sp.OverlapGuard}
		eng, err := node.NewEngine(ctx, st, node.Config{Site: site, Policy: &pol})
		if err != nil {
			d.Close()
			if !fresh {
				return nil, errStale
			}
			return nil, err
		}
		if !fresh && !probe(ctx, eng, studies[site]) {
			d.Close()
			return nil, errStale
		}
		nc, err := nats.Connect(hub.URL(), nats.Name(site), nats.MaxReconnects(-1), nats.ReconnectWait(200*time.Millisecond))
		if err != nil {
			d.Close()
			return nil, err
		}
		d.conns[site] = nc
		svc, err := network.ServeSite(ctx, nc, site, studies[site], eng)
		if err != nil {
			d.Close()
			return nil, err
		}
		d.svcs[site] = svc
	}
	return d, nil
}

// fingerprint names a federation's generated files, so a changed federation is regenerated.
func fingerprint(fed synth.Federation) string {
	h := uint64(14695981039346656037)
	add := func(s string) {
		for i := 0; i < len(s); i++ {
			h ^= uint64(s[i])
			h *= 1099511628211
		}
	}
	for _, s := range fed.Studies {
		add(fmt.Sprintf("%s|%s|%v|%d|%s;", s.Study, s.Name, s.SiteSizes, s.Seed, s.DataCut))
	}
	return fmt.Sprintf("%016x", h)
}

// probe asks a site's engine for a count of each of its studies, as a client would, and
// reports whether it answered without an internal error.
func probe(ctx context.Context, eng *node.Engine, studies []string) bool {
	for _, st := range studies {
		r := eng.Handle(ctx, protocol.Query{Version: protocol.Version, Kind: protocol.KindCount, ID: "demo-probe-" + st, Analyst: "demo-probe", Study: st})
		if r.Error != nil && r.Error.Code == protocol.CodeInternal {
			return false
		}
	}
	return true
}
