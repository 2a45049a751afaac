// Package app is the core of the analyst's application, shared by the desktop app and the
// headless CLI: the domain types (study, site, cohort, result and its provenance), the
// interfaces the core needs from the outside (Network, Cache) and the services built on them.
// It imports no Fyne, no NATS and no SQL driver.
//
// A front end wires a Network (package network) and a Cache (package cache) into a Service:
//
//	svc := app.NewService(net, db, app.NetworkInfo{ID: "demo", Name: "Demo network"},
//		app.WithNotify(showBanner))
//	cat, updates, err := svc.LoadCatalog(ctx) // cached catalog now, refresh on updates
//	r, err := svc.Run(ctx, app.Request{Kind: protocol.KindSurvival, Study: "lung",
//		Endpoint: "os", GroupBy: "sex"})      // r.KM: curves, medians, log-rank
//	list, err := svc.Results(ctx, app.ResultFilter{})
//	r, err = svc.Open(ctx, id)                // from the cache, no network
//	r, changes, err := svc.Rerun(ctx, id)     // "since the last tumor board"
//	c, err := svc.Count(ctx, req)             // live feasibility: not stored, remembered 2 min
//	sc, err := svc.SiteCox(ctx, coxResult)    // the model at each site alone
//	used, h, err := sc.Meta(term, 0.95)       // their meta-analysis: I², Q, pooled diamond
//	ctx = app.WithProgress(ctx, showSite)     // each site's state as a run goes
//
// For offline use (oncofed-cli --offline) pass a nil Network: Run then answers from the
// cache or fails with code unavailable, and Open works as always.
//
// A Result keeps the per-site replies of every round it was computed from; Render recomputes
// the payload (CountResult, SummaryResult, KMResult or CoxResult) from them with the analysis
// package, which is what makes a reopened result identical to the original.
package app
