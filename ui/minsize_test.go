package ui

import (
	"testing"

	"fyne.io/fyne/v2"
)

// TestFitsSmallScreens keeps every control reachable in a 1024×700 window: no tab, nor the
// header, may ask for more room than the window has (beside the cohort panel, for a tab).
func TestFitsSmallScreens(t *testing.T) {
	f := startApp(t)
	a := f.ui
	for _, tab := range a.tabs.Items {
		if m := tab.Content.MinSize(); m.Width > 1024-300 || m.Height > 700-120 {
			t.Errorf("tab %s needs %v", tab.Text, m)
		}
	}
	if m := a.header.content.MinSize(); m.Width > 1024 {
		t.Errorf("header needs %v", m)
	}
	if m := a.cohort.content.MinSize(); m.Height > 700-80 {
		t.Errorf("cohort panel needs %v", m)
	}
}

// The window opens no larger than the screen: the default 1280×800 on a 1024×700 display is
// shrunk to 1024×700 (and in Fyne units on a screen of scale 2, to half its pixels); on a
// larger display it keeps its size. (Under Xvfb at 1024×700 the real driver's window then
// covers the screen exactly: checked by eye with import -window root.)
func TestWindowFitsTheScreen(t *testing.T) {
	f := startApp(t)
	w := f.ui.Window()
	w.Resize(fyne.NewSize(1280, 800))
	f.ui.FitScreen(1920, 1080)
	if s := w.Canvas().Size(); s != fyne.NewSize(1280, 800) {
		t.Errorf("on 1920×1080 the window became %v", s)
	}
	f.ui.FitScreen(1024, 700)
	if s := w.Canvas().Size(); s != fyne.NewSize(1024, 700) {
		t.Errorf("on 1024×700 the window is %v", s)
	}
	for _, c := range []struct{ size, screen, want fyne.Size }{
		{fyne.NewSize(1280, 800), fyne.NewSize(1024, 700), fyne.NewSize(1024, 700)},
		{fyne.NewSize(1280, 800), fyne.NewSize(1440, 700), fyne.NewSize(1280, 700)},
		{fyne.NewSize(1280, 800), fyne.NewSize(640, 450), fyne.NewSize(640, 450)}, // 1280×900 px at scale 2
		{fyne.NewSize(1280, 800), fyne.Size{}, fyne.NewSize(1280, 800)},
	} {
		if got := fitWithin(c.size, c.screen); got != c.want {
			t.Errorf("fitWithin(%v, %v) = %v, want %v", c.size, c.screen, got, c.want)
		}
	}
}
