package network_test

import (
	"context"
	"path/filepath"
	"strings"
	"testing"

	"github.com/nats-io/nats.go"

	"github.com/oncofed/oncofed/app"
	"github.com/oncofed/oncofed/cache"
	"github.com/oncofed/oncofed/network"
	"github.com/oncofed/oncofed/node"
	"github.com/oncofed/oncofed/protocol"
)

// TestLyingSiteBeyondCatalogExcluded: a site whose well-formed replies account for more
// patients than its own catalog lists for the study (counts ×100, survival events ×100) is
// excluded from the app's merge and named among the invalid sites with the reason; the
// other sites' numbers are merged as usual.
func TestLyingSiteBeyondCatalogExcluded(t *testing.T) {
	const liar = "inst3"
	ln := startLungNet(t, node.ExactPolicy(), func(site string, h network.Handler, _ *nats.Conn) network.Handler {
		if site != liar {
			return h
		}
		return corrupt(h, func(r *protocol.Reply) {
			if r.Count != nil {
				r.Count.Total.N *= 100
				for g, c := range r.Count.Groups {
					c.N *= 100
					r.Count.Groups[g] = c
				}
				r.Count.Missing.N *= 100
			}
			if r.Survival != nil {
				for _, g := range r.Survival.Groups {
					for i := range g.Events {
						g.Events[i] *= 100
					}
				}
			}
		})
	})
	ctx := context.Background()
	c := dial(t, ln.hub.URL())
	db, err := cache.Open(ctx, filepath.Join(t.TempDir(), "cache.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	svc := app.NewService(c, db, app.NetworkInfo{ID: "lungnet", Name: "lungnet", URL: ln.hub.URL()})
	if _, err := svc.RefreshCatalog(ctx); err != nil {
		t.Fatal(err)
	}
	want := lungN - ln.count(t, liar)
	for _, req := range []app.Request{
		{Kind: protocol.KindCount, Study: "lung", GroupBy: "sex"},
		{Kind: protocol.KindSurvival, Study: "lung", Endpoint: "os"},
	} {
		res, err := svc.Run(ctx, req)
		if err != nil {
			t.Fatalf("%s: %v", req.Kind, err)
		}
		p := res.Provenance
		if len(p.Invalid) != 1 || p.Invalid[0].Site != liar || !strings.Contains(p.Invalid[0].Message, "more than the") {
			t.Fatalf("%s: invalid %+v, want %s named", req.Kind, p.Invalid, liar)
		}
		n := 0
		for _, r := range res.Rounds[0].Replies {
			if r.Site == liar {
				t.Fatalf("%s: the liar's reply was merged", req.Kind)
			}
			n++
		}
		if n != len(ln.sites)-1 || !p.Partial() {
			t.Errorf("%s: %d sites merged, partial %v", req.Kind, n, p.Partial())
		}
		if req.Kind == protocol.KindCount {
			total := 0
			for _, r := range res.Rounds[0].Replies {
				total += r.Count.Total.N
			}
			if total != want {
				t.Errorf("pooled count %d, want %d (all sites but %s)", total, want, liar)
			}
		}
	}
}
