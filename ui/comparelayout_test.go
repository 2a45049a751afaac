package ui

import (
	"strings"
	"testing"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/test"
	"fyne.io/fyne/v2/theme"
	"fyne.io/fyne/v2/widget"
)

// TestCompareSummaryLayout: at 1024×700 (and 1600×1000) every line of the comparison's
// summary has the room it draws in, and none overlaps the next line, the warnings or the
// privacy line, and none is cut short (one truncated label of three lines hid the hazard
// ratio's interval and p-value at 1024 pixels).
func TestCompareSummaryLayout(t *testing.T) {
	f := startApp(t)
	a, c := f.ui, compareTreatment(t, f)
	if n := strings.Count(c.summary.Text, "\n"); n != 2 {
		t.Fatalf("summary of %d lines: %q", n+1, c.summary.Text)
	}
	shoot(t, f, "compare")
	d := fyne.CurrentApp().Driver()
	for _, size := range []fyne.Size{{Width: 1024, Height: 700}, {Width: 1600, Height: 1000}} {
		// Two passes, as the desktop driver's frames do: a wrapped label's height follows the
		// width it was last given.
		a.Window().Resize(size.AddWidthHeight(0, 1))
		a.Window().Resize(size)
		var below []fyne.CanvasObject // the summary's labels, then what follows them
		walkLabels(c.summary.content, func(l *widget.Label) { below = append(below, l) })
		below = append(below, c.warnings, c.privacy)
		bottom := float32(-1)
		for i, o := range below {
			if !o.Visible() {
				continue
			}
			l := o.(*widget.Label)
			// The text, inside the label's inner padding (the summary's lines overlap their padding).
			pad := l.Theme().Size(theme.SizeNameInnerPadding)
			top := d.AbsolutePositionForObject(l).Y + pad
			if top < bottom-0.5 {
				t.Errorf("%v: label %d (%q) starts at %v, above the end of the one before (%v)", size, i, l.Text, top, bottom)
			}
			// What the label draws: its lines (each wrapped within its width) and its padding.
			need := l.MinSize().Height
			textSize := l.SizeName
			if textSize == "" {
				textSize = theme.SizeNameText
			}
			if l.Truncation != fyne.TextTruncateOff { // a cut line hides the numbers at its end
				for _, line := range strings.Split(l.Text, "\n") {
					m := fyne.MeasureText(line, l.Theme().Size(textSize), l.TextStyle)
					if w := l.Size().Width - 2*pad; m.Width > w+0.5 {
						t.Errorf("%v: %q is cut: %v wide in %v", size, line, m.Width, w)
					}
					need = max(need, float32(strings.Count(l.Text, "\n")+1)*m.Height)
				}
			}
			if h := l.Size().Height; h < need-0.5 {
				t.Errorf("%v: label %d (%q) has %v of height, draws %v", size, i, l.Text, h, need)
			}
			bottom = top + l.Size().Height - 2*pad
		}
		if bottom > size.Height {
			t.Errorf("%v: the privacy line ends at %v, below the window", size, bottom)
		}
	}
}

// compareTreatment compares pembrolizumab-chemotherapy with the other first-line regimens,
// adjusted for age and weight loss, on the Compare treatments tab and waits for it.
func compareTreatment(t *testing.T, f *fixture) *compareTab {
	t.Helper()
	f.ui.selectTab(TabCompare)
	c := f.ui.compare
	c.treatment.SetName("treatment")
	c.treated.SetSelected("pembro-chemo")
	c.confounders.SetSelected([]string{"age", "weight_loss_kg"})
	test.Tap(c.run)
	f.loop.until(t, "the comparison", func() bool { return c.result != nil || strings.HasPrefix(c.status.Text, "No comparison") })
	if c.result == nil {
		t.Fatalf("no comparison: %s", c.status.Text)
	}
	return c
}

// walkLabels calls f for every label under o, in order.
func walkLabels(o fyne.CanvasObject, f func(*widget.Label)) {
	switch w := o.(type) {
	case *widget.Label:
		f(w)
	case *fyne.Container:
		for _, c := range w.Objects {
			walkLabels(c, f)
		}
	}
}
