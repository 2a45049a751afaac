-- Site node schema, version 1. Patient data is stored column by column (one row per study
-- column, values encoded in a blob) because the engine always reads whole columns into memory;
-- SQL stays portable (BLOB ↔ bytea) for a PostgreSQL implementation.
CREATE TABLE meta (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
);

CREATE TABLE studies (
    id          INTEGER PRIMARY KEY,
    name        TEXT NOT NULL UNIQUE,
    data_cut    TEXT NOT NULL,
    patients    INTEGER NOT NULL,
    version     INTEGER NOT NULL,
    imported_at TEXT NOT NULL
);

-- role: 'id', 'variable', 'time' or 'event'; for endpoints name is the endpoint's name.
CREATE TABLE study_columns (
    study_id   INTEGER NOT NULL REFERENCES studies(id) ON DELETE CASCADE,
    position   INTEGER NOT NULL,
    role       TEXT NOT NULL,
    name       TEXT NOT NULL,
    type       TEXT NOT NULL,
    label      TEXT NOT NULL,
    unit       TEXT NOT NULL,
    categories TEXT NOT NULL, -- JSON array, sorted
    data       BLOB NOT NULL,
    PRIMARY KEY (study_id, position)
);

-- Append-only, hash-chained: row_hash = SHA-256 over the row's fields and prev_hash.
CREATE TABLE audit_log (
    seq        INTEGER PRIMARY KEY,
    at         TEXT NOT NULL,
    analyst    TEXT NOT NULL,
    kind       TEXT NOT NULL,
    study      TEXT NOT NULL,
    query_id   TEXT NOT NULL,
    query      TEXT NOT NULL,
    query_hash TEXT NOT NULL,
    outcome    TEXT NOT NULL,
    code       TEXT NOT NULL,
    reason     TEXT NOT NULL,
    released   TEXT NOT NULL,
    budgeted   INTEGER NOT NULL,
    prev_hash  TEXT NOT NULL,
    row_hash   TEXT NOT NULL
);
CREATE INDEX audit_log_analyst_at ON audit_log (analyst, at);

-- Patient sets released to an analyst (overlap guard against differencing), as bitsets over
-- the rows of one study version. Deduplicated by digest.
CREATE TABLE released_sets (
    analyst TEXT NOT NULL,
    study   TEXT NOT NULL,
    version INTEGER NOT NULL,
    digest  TEXT NOT NULL,
    size    INTEGER NOT NULL,
    bits    BLOB NOT NULL,
    PRIMARY KEY (analyst, study, version, digest)
);
