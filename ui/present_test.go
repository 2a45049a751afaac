package ui

import (
	"bytes"
	"context"
	"strings"
	"testing"
	"time"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/test"
	"github.com/oncofed/oncofed/chart"
	"github.com/oncofed/oncofed/report"
)

func slideOf(s slide) chart.Figure {
	f, _ := report.Slide(s.r, s.names, chart.PresentationStyle(), time.Now())
	return f
}

func TestPresentationAndDeck(t *testing.T) {
	f := startApp(t)
	a := f.ui
	test.Tap(a.cohort.run)
	f.loop.until(t, "the KM result", func() bool { return a.survival.result != nil })
	a.selectTab(TabCox)
	a.cox.covariates.SetSelected([]string{"age"})
	test.Tap(a.cox.fit)
	f.loop.until(t, "the Cox fit", func() bool { return a.cox.result != nil })
	// Shown in years, with median lines, as percentages, without bands: the slide keeps that.
	a.survival.unit.SetSelected("years")
	a.survival.medians.SetChecked(true)
	a.survival.percent.SetChecked(true)
	a.survival.bands.SetChecked(false)
	test.Tap(a.survival.pin)
	test.Tap(a.cox.pin)
	f.loop.until(t, "two pins", func() bool {
		n := 0
		for _, it := range a.library.Items() {
			if it.Pinned {
				n++
			}
		}
		return n == 2
	})
	rs, err := a.library.pinnedResults(context.Background())
	if err != nil || len(rs) != 2 {
		t.Fatalf("pinned results: %d, %v", len(rs), err)
	}
	km, ok := slideOf(rs[0]).(*chart.KMFigure)
	if !ok || km.Unit != chart.Years || !km.ShowMedianLines || !km.Percent || !km.HideBands || km.HideCensor {
		t.Errorf("the KM slide does not keep how it was shown (years, medians, %%, no bands, censor marks): %+v", km)
	}
	if want := report.KMTitle(rs[0].r, rs[0].names); km == nil || km.Title != want || !strings.HasPrefix(want, "Overall survival") {
		t.Errorf("KM slide title %q, want %q in words", km.Title, want)
	}
	if forest, ok := slideOf(rs[1]).(*chart.ForestPlot); !ok || !strings.HasPrefix(forest.Title, "Cox model of overall survival") {
		t.Errorf("the Cox slide is %T %+v, want a forest plot titled in words", slideOf(rs[1]), forest)
	}
	p := a.present(rs)
	if !p.win.FullScreen() || p.page.Text != "1 / 2" {
		t.Errorf("presentation: full screen %v, page %q", p.win.FullScreen(), p.page.Text)
	}
	p.onKey(&fyne.KeyEvent{Name: fyne.KeySpace})
	if p.page.Text != "2 / 2" || p.title.Text != rs[1].r.Name {
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
