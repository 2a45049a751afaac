// Package report turns an app.Result into what a person sees — figures (chart), tables and
// lines of text — once, for the desktop app and oncofed-cli alike, so that both show the
// same numbers, the same p-values and hide the same small cells.
//
// It is Fyne-free: it may import app, analysis, chart and protocol, never Fyne, NATS or an
// SQL driver (the Makefile's layering check). Number formatting that chart and app need
// too lives in the leaf package report/format.
package report
