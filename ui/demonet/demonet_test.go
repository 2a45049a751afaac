package demonet_test

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/oncofed/oncofed/network"
	"github.com/oncofed/oncofed/protocol"
	"github.com/oncofed/oncofed/synth"
	"github.com/oncofed/oncofed/ui/demonet"
)

func small() synth.Federation {
	f := synth.Federation{Name: "small", Policies: map[string]synth.SitePolicy{},
		Studies: []synth.Spec{{Study: synth.MPM, SiteSizes: []int{80, 40}, Seed: 3}}}
	g, _ := synth.New(f.Studies[0])
	for _, s := range g.Sites() {
		f.Policies[s.Name] = synth.DemoPolicy
	}
	return f
}

// count asks the demo for the size of study mpm and returns the pooled count and the sites.
func count(t *testing.T, d *demonet.Demo) (int, []string) {
	t.Helper()
	ctx := context.Background()
	c, err := network.Dial(ctx, d.URL(), network.WithTimeout(5*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	g, err := c.Query(ctx, protocol.Query{Version: protocol.Version, Kind: protocol.KindCount, ID: "q-" + time.Now().Format("150405.000000000"), Analyst: "t", Study: "mpm"})
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	var sites []string
	for _, r := range g.Replies {
		n += r.Count.Total.N
		sites = append(sites, r.Site)
	}
	return n, sites
}

func TestStartServesReusesAndRegenerates(t *testing.T) {
	dir := t.TempDir()
	d, err := demonet.Start(context.Background(), dir, small())
	if err != nil {
		t.Fatal(err)
	}
	// The federation's sizes: 80 + 40 patients (SiteSizes above).
	if n, sites := count(t, d); n != 120 || len(sites) != 2 {
		t.Errorf("first start: %d patients at %v, want 120 at 2 sites", n, sites)
	}
	d.StopSite(d.Sites[0])
	if n, sites := count(t, d); n != 40 && n != 80 || len(sites) != 1 {
		t.Errorf("after stopping %s: %d patients at %v", d.Sites[0], n, sites)
	}
	d.Close()

	// A second start reuses the databases; one damaged in between is noticed and regenerated.
	if err := os.WriteFile(filepath.Join(dir, d.Sites[1]+".db"), []byte("not a database"), 0o600); err != nil {
		t.Fatal(err)
	}
	d, err = demonet.Start(context.Background(), dir, small())
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	if n, sites := count(t, d); n != 120 || len(sites) != 2 {
		t.Errorf("restart after damage: %d patients at %v, want 120 at 2 sites", n, sites)
	}
}
