-- The overlap guard remembers with each released set the region it was released through: a
-- hash of the canonical definition (node/region.go), so that the same patient set reached by
-- a new definition is refused like a near duplicate while a re-run of the same definition is
-- answered. One row per (set, region); rows from before this migration get region '' (unknown),
-- which no new region matches. Rebuilt rather than altered: SQLite cannot change a UNIQUE
-- constraint.
CREATE TABLE released_sets_v3 (
    id      INTEGER PRIMARY KEY,
    analyst TEXT NOT NULL,
    study   TEXT NOT NULL,
    version INTEGER NOT NULL,
    digest  TEXT NOT NULL,
    region  TEXT NOT NULL DEFAULT '',
    size    INTEGER NOT NULL,
    bits    BLOB NOT NULL,
    UNIQUE (analyst, study, version, digest, region)
);
INSERT INTO released_sets_v3 (id, analyst, study, version, digest, region, size, bits)
    SELECT id, analyst, study, version, digest, '', size, bits FROM released_sets;
DROP TABLE released_sets;
ALTER TABLE released_sets_v3 RENAME TO released_sets;
CREATE INDEX released_sets_since ON released_sets (analyst, study, version, id);
