package ui

import (
	"strings"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/layout"
	"fyne.io/fyne/v2/theme"
	"fyne.io/fyne/v2/widget"
)

// linesLabel shows a few short lines under a figure, each a wrapping label of its own, so that
// a long line grows the panel instead of being cut. One truncated label holding every line cut
// the Compare tab's hazard ratio, interval and p-value at 1024 pixels, and one wrapped label of
// several lines misjudged its height under the figure.
type linesLabel struct {
	content *fyne.Container
	Text    string // the lines as set, joined by "\n"
}

func newLinesLabel() *linesLabel {
	// The labels' inner padding overlaps, so that the lines are as close as a label's own.
	return &linesLabel{content: container.New(layout.NewCustomPaddedVBoxLayout(-2 * theme.InnerPadding()))}
}

// SetText shows the lines of s (split at "\n"); "" shows nothing.
func (l *linesLabel) SetText(s string) {
	l.Text = s
	l.content.RemoveAll()
	if s == "" {
		l.content.Refresh()
		return
	}
	for _, line := range strings.Split(s, "\n") {
		w := widget.NewLabel(line)
		w.Wrapping = fyne.TextWrapWord
		l.content.Add(w)
	}
	l.content.Refresh()
}
