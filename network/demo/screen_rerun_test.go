package demo_test

import (
	"context"
	"fmt"
	"reflect"
	"strings"
	"testing"

	"github.com/oncofed/oncofed/app"
	"github.com/oncofed/oncofed/protocol"
	"github.com/oncofed/oncofed/synth"
)

// TestDemoScreenRerun: the Library's re-run of a stored screen runs it again on the network
// with its stored definition (predictive mode, adjusters, ties, the cohort), stores the new
// screen under the old one's name next to it, renders the same markers (the sites' data did
// not change), and says so; without the network it runs and stores nothing and says why.
func TestDemoScreenRerun(t *testing.T) {
	ctx := context.Background()
	forty := 40.0
	fed := screenFed(synth.SitePolicy{}, 500, 400, 300)
	c, db := startDemo(t, fed)
	info := app.NetworkInfo{ID: fed.Name, Name: fed.Name}
	svc := app.NewService(c, db, info, app.WithAnalyst("library"))
	if _, err := svc.RefreshCatalog(ctx); err != nil {
		t.Fatal(err)
	}
	req := app.ScreenRequest{Study: "nsclc", Endpoint: "OS", Markers: []string{"stk11", "keap1", "tp53"}, Adjust: []string{"age"},
		Treatment: "treatment", Treated: "pembro-chemo", Ties: "breslow",
		Cohort: &protocol.Filter{Op: protocol.OpRange, Var: "age", Min: &forty}, CohortName: "40 and over"}
	live, err := svc.Screen(ctx, req, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := svc.Rename(ctx, live.ResultID, "tumor board screen"); err != nil {
		t.Fatal(err)
	}
	var progressed int
	r, ch, err := svc.RerunScreen(ctx, live.ResultID, func(done, total int, marker string) { progressed = done })
	if err != nil {
		t.Fatal(err)
	}
	if r.ID == live.ResultID || r.Name != "tumor board screen" || r.Screen == nil || r.Screen.Cached || progressed != 3 {
		t.Fatalf("re-run: id %d (was %d), name %q, screen %v, progress %d", r.ID, live.ResultID, r.Name, r.Screen != nil, progressed)
	}
	got, err := app.ScreenRequestOf(r.Request)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got.Cohort, req.Cohort) || got.Treatment != req.Treatment || got.Treated != req.Treated ||
		got.Ties != "breslow" || strings.Join(got.Markers, ",") != "stk11,keap1,tp53" || r.Screen.Mode != app.ScreenPredictive {
		t.Errorf("re-run asked %+v, want the stored definition %+v", got, req)
	}
	if a, b := fmt.Sprintf("%#v", r.Screen.Markers), fmt.Sprintf("%#v", live.Markers); a != b {
		t.Errorf("the re-run on unchanged data differs:\n%s\nfirst run:\n%s", a, b)
	}
	text := strings.Join(ch.Lines, "\n")
	if !strings.Contains(text, "no new patients") || !(strings.Contains(text, "the same markers have q < 0.05") || strings.Contains(text, "no marker has q < 0.05")) {
		t.Errorf("what changed:\n%s", text)
	}
	list, err := svc.Results(ctx, app.ResultFilter{})
	if err != nil || len(list) != 2 {
		t.Fatalf("library after the re-run: %+v %v", list, err)
	}
	// The Library's one entry point re-runs a screen too.
	r2, _, err := svc.Rerun(ctx, live.ResultID)
	if err != nil || r2.Screen == nil || r2.Name != "tumor board screen" {
		t.Fatalf("Service.Rerun of a screen: %v", err)
	}

	offline := app.NewService(nil, db, info)
	for name, rerun := range map[string]func() error{
		"RerunScreen": func() error { _, _, err := offline.RerunScreen(ctx, live.ResultID, nil); return err },
		"Rerun":       func() error { _, _, err := offline.Rerun(ctx, live.ResultID); return err },
	} {
		err := rerun()
		if app.ErrorCode(err) != app.EUnavailable || !strings.Contains(err.Error(), "offline: the screen cannot be re-run") {
			t.Errorf("%s offline: %v; want the offline refusal saying why", name, err)
		}
	}
	if list, err := offline.Results(ctx, app.ResultFilter{}); err != nil || len(list) != 3 {
		t.Errorf("offline re-runs stored something: %d results, %v", len(list), err)
	}
}
