package ui

import "testing"

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
