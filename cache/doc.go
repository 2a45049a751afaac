// Package cache is the application's local SQLite store: networks, sites, study catalogs,
// saved cohorts and results with their provenance, for offline review. It implements
// app.Cache with modernc.org/sqlite (no cgo).
//
// The schema is built by the numbered SQL files in migrations/ (embedded), and its version is
// PRAGMA user_version; PRAGMA application_id marks the file as Oncofed's. Every connection
// sets WAL, busy_timeout(5000) and foreign_keys in its DSN. All writes go through one
// connection and begin with BEGIN IMMEDIATE; every app.Cache method is one transaction.
//
// Open refuses (code conflict, file untouched) a cache written by a newer Oncofed or another
// application's database, and moves a corrupt file aside (path.corrupt-<UTC time>) before
// building a new one, reporting where in DB.MovedAside. The cache lives at DefaultPath unless
// the front end is given --cache PATH. Credentials are never stored here.
//
// A result is stored as its request, provenance and the per-site replies of every round
// (tables result_rounds and result_replies); its numbers are recomputed from them on opening
// (app.Render), so a cached result shows exactly what it showed when it was computed.
package cache
