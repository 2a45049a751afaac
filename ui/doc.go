// Package ui holds the Fyne screens and widgets of the desktop app: the header with the
// network status and the study, the cohort builder with live feasibility (always visible on
// the left; counted through app.Service.Count, which stores nothing and does not ask the sites
// again for a cohort counted a moment ago) and each site's state during a run (answered,
// waiting, refused; app.WithProgress), and the Summary (Table 1 with bars and histograms),
// Survival (Kaplan–Meier with its number-at-risk table, per-site view), Cox (hazard ratios and
// forest plot; per term, a per-site view: the model fitted at each site alone, their forest plot
// with the fixed or random pooled diamond, I² and the Q test), Sites and Library tabs, the
// offline banner and presentation mode.
//
// One file and one struct per screen, with build…/on… handlers. A tab holds no *App: it holds
// a narrow host, an interface defined next to it (coxHost, screenHost, …, built from viewHost,
// cohortHost and runHost in host.go), and the few app.Service methods it calls (coxService,
// libraryService, …), so its type says what it can reach; App implements every host.
// Everything that waits — network, cache, rendering a figure — runs on a goroutine of its own
// and hands its result back through Options.Do (fyne.Do in the app, a queue the test drains in
// tests), so a slow site never freezes the window. Every analysis run carries a generation:
// a result that arrives after the cohort changed, or after Cancel, is dropped. What asks the
// sites about a result already shown (the proportional-hazards check, the counts per level,
// the per-site fits, a patient's place in the cohort, a Library re-run) is a secondary job
// (App.secondaryJob): it neither cancels a Run nor resets its "sites answered" line.
//
// The package imports Fyne, app, chart, assets and protocol (the cohort filter and query kinds
// that app's requests are made of); it never imports Fyne's app package, so its tests run on
// Fyne's headless test driver without cgo. Package network/demo starts the synthetic
// federation in-process for main.go (as for oncofed-cli --demo) and the tests.
package ui
