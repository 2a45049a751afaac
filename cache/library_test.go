package cache

import (
	"context"
	"reflect"
	"testing"
	"time"

	"github.com/oncofed/oncofed/app"
	"github.com/oncofed/oncofed/protocol"
)

// TestLibraryAcrossNetworks: Library lists every network's results (unless one is asked
// for), newest first, each with its network and request as stored.
func TestLibraryAcrossNetworks(t *testing.T) {
	ctx := context.Background()
	db, _ := openTemp(t)
	a := testResult("a", t0, 1)
	b := testResult("b", t0.Add(time.Hour), 1)
	b.Network = "nats://hub:4222"
	b.Request.GroupBy = ""
	b.Provenance.ContentHash = app.ContentHash(b.Request, b.Rounds)
	for _, r := range []*app.Result{a, b} {
		if err := db.SaveResult(ctx, r); err != nil {
			t.Fatal(err)
		}
	}
	all, err := db.Library(ctx, app.ResultFilter{})
	if err != nil {
		t.Fatal(err)
	}
	if len(all) != 2 || all[0].ID != b.ID || all[1].ID != a.ID {
		t.Fatalf("library %+v", all)
	}
	if all[0].Network != "nats://hub:4222" || all[1].Network != "demo" {
		t.Errorf("networks %q, %q", all[0].Network, all[1].Network)
	}
	if !reflect.DeepEqual(all[1].Request, a.Request) || all[1].Kind != protocol.KindSurvival || all[1].Answered != 2 || all[1].Expected != 3 || !all[1].RanAt.Equal(t0) {
		t.Errorf("entry %+v, want request %+v", all[1], a.Request)
	}
	demo, err := db.Library(ctx, app.ResultFilter{Network: "demo"})
	if err != nil || len(demo) != 1 || demo[0].ID != a.ID {
		t.Errorf("demo only: %+v, %v", demo, err)
	}
}
