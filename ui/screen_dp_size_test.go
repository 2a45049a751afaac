package ui

import (
	"strings"
	"testing"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/test"
	"fyne.io/fyne/v2/theme"
	"fyne.io/fyne/v2/widget"

	"github.com/oncofed/oncofed/node"
)

// A differentially private screen, a marker chosen, still fits a 1024×700 window
// (TestFitsSmallScreens' rule, and the whole window): its status line (the ρ spent, the noise
// note) and the marker's pane are longer than an exact screen's. With the app's own fonts the
// status's six lines grew the window to 715 px (xvfb at 1024×700, all 13 NSCLC markers); it now
// scrolls within three (capHeight). The test theme's fonts are smaller, so this checks the
// layout's rule rather than those 15 px.
func TestDPScreenFitsSmallScreens(t *testing.T) {
	f := startAppAs(t, screenFederation(), node.RoleDP)
	s := f.ui.screen
	f.ui.selectTab(TabScreen)
	s.markers.SetSelected([]string{"tp53", "stk11", "kras"})
	s.adjust.SetSelected([]string{"age"})
	test.Tap(s.run)
	f.loop.until(t, "the dp screen", func() bool { return s.result != nil })
	if s.result == nil || !s.result.DP() {
		t.Fatalf("no dp screen: status %q", s.status.Text)
	}
	s.choose(s.rows[0].Marker)
	if m := f.ui.Window().Content().MinSize(); m.Width > 1024 || m.Height > 700 {
		t.Errorf("the window needs %v after a dp screen", m)
	}
	for _, tab := range f.ui.tabs.Items {
		if m := tab.Content.MinSize(); m.Width > 1024-300 || m.Height > 700-120 {
			t.Errorf("tab %s needs %v after a dp screen", tab.Text, m)
		}
	}
}

// capHeight shows a long wrapped text at most its lines high, a short one at its own height,
// and a hidden one not at all.
func TestCapHeight(t *testing.T) {
	test.NewTempApp(t)
	l := widget.NewLabel(strings.Repeat("a long status line, ", 40))
	l.Wrapping = fyne.TextWrapWord
	c := capHeight(l, 3)
	c.Resize(fyne.NewSize(400, 600))
	full := l.MinSize().Height
	one := widget.NewLabel("one line").MinSize().Height
	if h := c.MinSize().Height; !(h < full && h > 2*one-2*theme.InnerPadding() && h < 3*one) {
		t.Errorf("capped at %v px: the label needs %v, one line %v", h, full, one)
	}
	l.SetText("short")
	if h := c.MinSize().Height; h != l.MinSize().Height {
		t.Errorf("a short text gets %v px, needs %v", h, l.MinSize().Height)
	}
	l.Hide()
	if h := c.MinSize().Height; h != 0 {
		t.Errorf("a hidden text takes %v px", h)
	}
}
