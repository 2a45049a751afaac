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
// A result is stored compact (app/record.go): its request and provenance, every round's query
// with the digest (site, SHA-256, size) of each reply it merged (result_rounds.replies), the
// per-site tables of a count, summary or Kaplan–Meier result (result_replies, as received), and
// a Cox result's trace instead of its replies (results.trace: β and the merged contribution at
// every step of the fit). Its numbers are recomputed from these on opening (app.Render), so a
// cached result shows exactly what it showed when it was computed. Migration 4 converts the
// results of older caches, which kept every reply of every round, in its transaction.
//
// A pooled Cox trace's baseline hazard (for prediction: time, events, Λ₀, its variance and X̄ at
// every distinct event time; most of a pooled result's bytes) is kept packed in results.baseline
// (baseline.go; schema 6, whose migration packs those of older caches): the same bits in half
// the bytes of the JSON's base64. StoredResultBytes is what results take.
package cache
