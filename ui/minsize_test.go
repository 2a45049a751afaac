package ui

import "testing"

// TestFitsSmallScreens keeps the window usable on a 1280×800 laptop screen: no tab may ask
// for more room than the window has beside the cohort panel.
func TestFitsSmallScreens(t *testing.T) {
	f := startApp(t)
	a := f.ui
	for _, tab := range a.tabs.Items {
		if m := tab.Content.MinSize(); m.Width > 1280-300 || m.Height > 800-120 {
			t.Errorf("tab %s needs %v", tab.Text, m)
		}
	}
	if m := a.cohort.content.MinSize(); m.Height > 800-80 {
		t.Errorf("cohort panel needs %v", m)
	}
}
