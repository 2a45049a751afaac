package demo_test

import (
	"context"
	"testing"
	"time"

	"github.com/oncofed/oncofed/network"
	"github.com/oncofed/oncofed/network/demo"
	"github.com/oncofed/oncofed/protocol"
	"github.com/oncofed/oncofed/synth"
)

// TestDemoFederation starts the default demo network, checks every hospital is discovered
// and answers, then restarts it on the same directory (reusing the generated databases) and
// gets the same counts.
func TestDemoFederation(t *testing.T) {
	dir := t.TempDir()
	ctx := context.Background()
	want := synth.DemoFederation().SiteNames()
	counts := func() map[string]int {
		start := time.Now()
		d, err := demo.Start(ctx, dir, demo.Options{})
		if err != nil {
			t.Fatal(err)
		}
		defer d.Close()
		t.Logf("demo started in %v", time.Since(start))
		c, err := network.Dial(ctx, d.URL())
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		sites, err := c.Sites(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if len(sites) != len(want) {
			t.Fatalf("%d sites discovered, want %d", len(sites), len(want))
		}
		for _, s := range sites {
			if len(s.Studies) != 4 {
				t.Errorf("%s serves %v, want the four studies", s.Site, s.Studies)
			}
		}
		g, err := c.Query(ctx, protocol.Query{Kind: protocol.KindCount, Study: "nsclc"})
		if err != nil {
			t.Fatal(err)
		}
		if len(g.Replies) != len(want) {
			t.Fatalf("%d of %d sites answered: missing %v refused %v invalid %v", len(g.Replies), len(want), g.Missing, g.Refused, g.Invalid)
		}
		out := map[string]int{}
		for _, r := range g.Replies {
			out[r.Site] = r.Count.Total.N
		}
		return out
	}
	first := counts()
	// synth.DemoFederation: NSCLC site sizes 3000, 2100, 1300, 800, 450, 150.
	total := 0
	for _, n := range first {
		total += n
	}
	if total != 3000+2100+1300+800+450+150 {
		t.Errorf("NSCLC total %d, want 7800", total)
	}
	second := counts()
	for s, n := range first {
		if second[s] != n {
			t.Errorf("%s: %d patients after restart, %d before", s, second[s], n)
		}
	}
}
