// Package cache is the application's local SQLite store: networks, sites, study catalogs,
// saved cohorts and results with their provenance, for offline review. It implements app.Cache.
package cache
