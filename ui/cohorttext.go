package ui

import (
	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/widget"

	"github.com/oncofed/oncofed/protocol"
)

// newWhereLabel is the read-only line under the cohort's filters that says the cohort in the
// filter syntax the CLI takes after --where (protocol.FormatFilter): selectable, so that the
// analyst can copy it into a script, and the same words the CLI prints in its headers.
func newWhereLabel() *widget.Label {
	l := widget.NewLabel("")
	l.Wrapping = fyne.TextWrapWord
	l.Selectable = true
	l.TextStyle = fyne.TextStyle{Monospace: true}
	return l
}

// whereText is the cohort f as the CLI's --where takes it, "" for every patient (nil).
func whereText(f *protocol.Filter) string {
	if f == nil {
		return ""
	}
	return "where " + protocol.FormatFilter(f)
}
