// Package app is the core of the analyst's application, shared by the desktop app and the
// headless CLI: the domain types (study, site, cohort, result and its provenance), the
// interfaces the core needs from the outside (Network, Cache) and the services built on them.
// It imports no Fyne, no NATS and no SQL driver.
package app
