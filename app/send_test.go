package app_test

import (
	"context"
	"strings"
	"testing"

	"github.com/oncofed/oncofed/app"
	"github.com/oncofed/oncofed/protocol"
)

// TestMalformedQueryNotSent: a query that no node would accept (protocol.ValidateQuery) is
// refused by the service with a clear local error, and nothing reaches the network.
func TestMalformedQueryNotSent(t *testing.T) {
	f := newFixture(t)
	f.net.mu.Lock()
	before := len(f.net.queries)
	f.net.mu.Unlock()
	x := 70.0
	y := 60.0
	for _, cohort := range []*protocol.Filter{
		{Op: protocol.OpAnd},
		{Op: protocol.OpRange, Var: "age", Min: &x, Max: &y},
	} {
		_, err := f.svc.Run(context.Background(), app.Request{Kind: protocol.KindCount, Study: "lung", Cohort: cohort})
		if app.ErrorCode(err) != app.EInvalid || !strings.Contains(app.ErrorMessage(err), "not sent") {
			t.Errorf("%+v: %v; want a local invalid error", cohort, err)
		}
	}
	f.net.mu.Lock()
	defer f.net.mu.Unlock()
	if n := len(f.net.queries) - before; n != 0 {
		t.Errorf("%d malformed queries sent", n)
	}
}
