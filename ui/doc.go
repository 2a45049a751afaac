// Package ui holds the Fyne screens and widgets of the desktop app: network, cohort builder,
// summary, survival, Cox, sites, results library and presentation mode.
package ui
