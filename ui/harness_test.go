package ui

import (
	"context"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/test"
	"fyne.io/fyne/v2/widget"

	"github.com/oncofed/oncofed/app"
	"github.com/oncofed/oncofed/cache"
	"github.com/oncofed/oncofed/network"
	"github.com/oncofed/oncofed/network/demo"
	"github.com/oncofed/oncofed/node"
	"github.com/oncofed/oncofed/synth"
)

// loop stands in for Fyne's event loop: work that the app posts with Options.Do queues up and
// runs on the test goroutine when the test pumps it, so widgets are only ever touched there.
type loop struct{ ch chan func() }

func newLoop() *loop { return &loop{ch: make(chan func(), 1<<14)} }

func (l *loop) do(f func()) { l.ch <- f }

// until pumps posted work until cond holds, failing the test after 90 s: a Run takes a
// second alone, but 30 s ran out under -race on two cores shared with other test processes.
func (l *loop) until(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.After(90 * time.Second)
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for !cond() {
		select {
		case f := <-l.ch:
			f()
		case <-tick.C:
		case <-deadline:
			t.Fatalf("timed out waiting for %s", what)
		}
	}
}

// testFederation is a small synthetic network: three hospitals of 300, 120 and 60 NSCLC
// patients under the demo policy (min cohort 10, min cell 5), so a rare group (ALK-rearranged,
// a few percent) is suppressed at the smallest site.
func testFederation() synth.Federation {
	return demoFederation("test federation", synth.Spec{Study: synth.NSCLC, SiteSizes: []int{300, 120, 60}, Seed: 11})
}

// demoFederation is a synthetic network named name of one study, every site under the demo
// policy.
func demoFederation(name string, spec synth.Spec) synth.Federation {
	f := synth.Federation{Name: name, Policies: map[string]synth.SitePolicy{}, Studies: []synth.Spec{spec}}
	for _, n := range f.SiteNames() {
		f.Policies[n] = synth.DemoPolicy
	}
	return f
}

type fixture struct {
	ui     *App
	loop   *loop
	demo   *demo.Demo
	db     *cache.DB
	svc    *app.Service
	cache  string
	client *network.Client
}

// startApp starts the test federation on a real embedded hub, a real SQLite cache in a
// temporary directory, and the app on Fyne's headless test driver; it waits for the catalog.
func startApp(t testing.TB) *fixture { return startAppOn(t, testFederation()) }

// startAppOn is startApp on the federation fed.
func startAppOn(t testing.TB, fed synth.Federation) *fixture {
	t.Helper()
	return startAppAs(t, fed, "")
}

// startAppAs is startAppOn with the sites listing the app's analyst under role ("": trusted).
func startAppAs(t testing.TB, fed synth.Federation, role node.Role) *fixture {
	t.Helper()
	ctx := context.Background()
	test.NewTempApp(t)
	dir := t.TempDir()
	d, err := demo.Start(ctx, filepath.Join(dir, "sites"), demo.Options{Federation: &fed, AnalystRole: role})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(d.Close)
	f := &fixture{demo: d, cache: filepath.Join(dir, "cache.db")}
	client, err := network.Dial(ctx, d.URL(), network.WithTimeout(5*time.Second), network.WithSigner(d.Signer()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { client.Close() })
	f.client = client
	f.open(t, client)
	f.ui.Start()
	f.loop.until(t, "the catalog", func() bool { return f.ui.study != "" && f.ui.cohort.feas != nil })
	return f
}

// open builds the app on a (new) service over net (nil: offline) and the fixture's cache.
func (f *fixture) open(t testing.TB, net app.Network) {
	t.Helper()
	db, err := cache.Open(context.Background(), f.cache)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	notices := make(chan app.Notice, 8)
	svc := app.NewService(net, db, app.NetworkInfo{ID: "demo", Name: "test federation", Demo: true},
		app.WithAnalyst("tester"), app.WithNotify(func(n app.Notice) { notices <- n }))
	f.loop = newLoop()
	opt := Options{Analyst: "tester", NetworkLabel: "Test network", Notices: notices, Do: f.loop.do, Debounce: 10 * time.Millisecond}
	if net != nil {
		opt.Network = net
	}
	f.db, f.svc = db, svc
	f.ui = New(fyne.CurrentApp(), svc, opt)
	f.ui.Window().Resize(fyne.NewSize(1400, 900))
	t.Cleanup(f.ui.Close)
}

// texts returns the text of every label under o, in order.
func texts(o fyne.CanvasObject) []string {
	var out []string
	var walk func(fyne.CanvasObject)
	walk = func(o fyne.CanvasObject) {
		switch w := o.(type) {
		case *widget.Label:
			out = append(out, w.Text)
			return
		case *fyne.Container:
			for _, c := range w.Objects {
				walk(c)
			}
		}
	}
	walk(o)
	return out
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if strings.Contains(x, s) {
			return true
		}
	}
	return false
}
