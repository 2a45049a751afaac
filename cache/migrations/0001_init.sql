-- Oncofed local cache, schema 1. JSON columns hold protocol/app structs as encoded by
-- encoding/json; times are Unix nanoseconds (UTC).
CREATE TABLE networks (
	id             TEXT PRIMARY KEY,
	name           TEXT NOT NULL,
	url            TEXT NOT NULL DEFAULT '',
	demo           INTEGER NOT NULL DEFAULT 0,
	last_connected INTEGER NOT NULL DEFAULT 0
) STRICT;

CREATE TABLE sites (
	network_id TEXT NOT NULL REFERENCES networks(id) ON DELETE CASCADE,
	site       TEXT NOT NULL,
	online     INTEGER NOT NULL,
	latency_ns INTEGER NOT NULL,
	last_seen  INTEGER NOT NULL,
	studies    TEXT NOT NULL,           -- JSON []string
	policy     TEXT,                    -- JSON protocol.Policy, NULL until a catalog was seen
	data_cuts  TEXT NOT NULL,           -- JSON map study → date
	PRIMARY KEY (network_id, site)
) STRICT;

CREATE TABLE catalogs (
	network_id TEXT PRIMARY KEY REFERENCES networks(id) ON DELETE CASCADE,
	fetched_at INTEGER NOT NULL,
	missing    TEXT NOT NULL            -- JSON []string
) STRICT;

-- One row per site catalog as released; the merged view is rebuilt from these.
CREATE TABLE site_catalogs (
	network_id TEXT NOT NULL REFERENCES catalogs(network_id) ON DELETE CASCADE,
	site       TEXT NOT NULL,
	catalog    TEXT NOT NULL CHECK (json_valid(catalog)), -- JSON protocol.Catalog
	PRIMARY KEY (network_id, site)
) STRICT;

CREATE TABLE cohorts (
	id         INTEGER PRIMARY KEY,
	network_id TEXT NOT NULL,
	study      TEXT NOT NULL,
	name       TEXT NOT NULL CHECK (name <> ''),
	endpoint   TEXT NOT NULL DEFAULT '',
	group_by   TEXT NOT NULL DEFAULT '',
	filter     TEXT,                    -- JSON protocol.Filter
	created_at INTEGER NOT NULL,
	updated_at INTEGER NOT NULL,
	UNIQUE (network_id, study, name)
) STRICT;

CREATE TABLE results (
	id               INTEGER PRIMARY KEY,
	network_id       TEXT NOT NULL,
	name             TEXT NOT NULL,
	kind             TEXT NOT NULL,
	study            TEXT NOT NULL,
	pinned           INTEGER NOT NULL DEFAULT 0,
	ran_at           INTEGER NOT NULL,
	expected         INTEGER NOT NULL,
	answered         INTEGER NOT NULL,
	request_key      TEXT NOT NULL,
	request          TEXT NOT NULL CHECK (json_valid(request)),    -- JSON app.Request
	provenance       TEXT NOT NULL CHECK (json_valid(provenance)), -- JSON app.Provenance
	content_hash     TEXT NOT NULL
) STRICT;

-- The per-site aggregates a result was computed from: one row per round (query) and site.
CREATE TABLE result_rounds (
	result_id INTEGER NOT NULL REFERENCES results(id) ON DELETE CASCADE,
	round     INTEGER NOT NULL,
	query     TEXT NOT NULL CHECK (json_valid(query)),   -- JSON protocol.Query
	PRIMARY KEY (result_id, round)
) STRICT;

CREATE TABLE result_replies (
	result_id INTEGER NOT NULL,
	round     INTEGER NOT NULL,
	site      TEXT NOT NULL,
	reply     TEXT NOT NULL CHECK (json_valid(reply)),   -- JSON protocol.Reply
	PRIMARY KEY (result_id, round, site),
	FOREIGN KEY (result_id, round) REFERENCES result_rounds(result_id, round) ON DELETE CASCADE
) STRICT;
