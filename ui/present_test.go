package ui

import (
	"bytes"
	"context"
	"testing"
	"time"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/test"
)

func TestPresentationAndDeck(t *testing.T) {
	f := startApp(t)
	a := f.ui
	test.Tap(a.cohort.run)
	f.loop.until(t, "the KM result", func() bool { return a.survival.result != nil })
	a.selectTab(TabCox)
	a.cox.covariates.SetSelected([]string{"age"})
	test.Tap(a.cox.fit)
	f.loop.until(t, "the Cox fit", func() bool { return a.cox.result != nil })
	a.pinResult(a.survival.result)
	a.pinResult(a.cox.result)
	f.loop.until(t, "two pins", func() bool {
		n := 0
		for _, it := range a.library.Items() {
			if it.Pinned {
				n++
			}
		}
		return n == 2
	})
	rs, err := a.pinnedResults(context.Background())
	if err != nil || len(rs) != 2 {
		t.Fatalf("pinned results: %d, %v", len(rs), err)
	}
	p := a.present(rs)
	if !p.win.FullScreen() || p.page.Text != "1 / 2" {
		t.Errorf("presentation: full screen %v, page %q", p.win.FullScreen(), p.page.Text)
	}
	p.onKey(&fyne.KeyEvent{Name: fyne.KeySpace})
	if p.page.Text != "2 / 2" || p.title.Text != rs[1].Name {
		t.Errorf("after space: page %q, title %q", p.page.Text, p.title.Text)
	}
	p.onKey(&fyne.KeyEvent{Name: fyne.KeyRight})
	if p.index != 1 {
		t.Errorf("moved past the last slide to %d", p.index)
	}
	p.onKey(&fyne.KeyEvent{Name: fyne.KeyLeft})
	if p.index != 0 {
		t.Errorf("left arrow: slide %d", p.index)
	}
	p.win.Resize(fyne.NewSize(1280, 800))
	f.loop.until(t, "the slide figure", func() bool { return p.figure.Image() != nil })
	p.onKey(&fyne.KeyEvent{Name: fyne.KeyEscape})

	var buf bytes.Buffer
	if err := writeDeck(&buf, rs, time.Now()); err != nil {
		t.Fatal(err)
	}
	pdf := buf.Bytes()
	if !bytes.HasPrefix(pdf, []byte("%PDF")) {
		t.Fatalf("deck is not a PDF: %q", pdf[:min(8, len(pdf))])
	}
	if pages := bytes.Count(pdf, []byte("/Type /Page")) - bytes.Count(pdf, []byte("/Type /Pages")); pages != 2 {
		t.Errorf("deck has %d pages, want one per pinned result (2)", pages)
	}
}
