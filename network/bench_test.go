package network_test

import (
	"context"
	"testing"

	"github.com/oncofed/oncofed/node"
	"github.com/oncofed/oncofed/protocol"
)

// BenchmarkScatterGatherCount: one count query to the 18 lung sites on a loopback hub and
// every reply gathered and validated (discovery cached, as in a session).
func BenchmarkScatterGatherCount(b *testing.B) {
	ln := startLungNet(b, node.ExactPolicy(), nil)
	c := dial(b, ln.hub.URL())
	ctx := context.Background()
	q := protocol.Query{Kind: protocol.KindCount, Study: "lung", GroupBy: "sex"}
	if _, err := c.Query(ctx, q); err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		g, err := c.Query(ctx, q)
		if err != nil || len(g.Replies) != len(ln.sites) {
			b.Fatalf("%v: %d replies", err, len(g.Replies))
		}
	}
}

// BenchmarkServiceCoxPooled: a whole pooled Cox fit (sex + age, Efron) over the 18 lung sites
// as oncofed-cli cox --strata none runs it: app.Service.Run with one scatter-gather of risk-set
// sums per Newton–Raphson evaluation, the result rendered from its rounds and stored with every
// round's replies in a SQLite cache (a file in a temporary directory, as the CLI's default).
func BenchmarkServiceCoxPooled(b *testing.B) {
	ln := startLungNet(b, node.ExactPolicy(), nil)
	svc := coxService(b, dial(b, ln.hub.URL()))
	ctx := context.Background()
	req := coxRequest(protocol.CoxPooled, "efron")
	if _, err := svc.Run(ctx, req); err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := svc.Run(ctx, req); err != nil {
			b.Fatal(err)
		}
	}
}
