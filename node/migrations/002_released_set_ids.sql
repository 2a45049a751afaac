-- Released sets get an id that orders them, so that several node processes serving one
-- database can each read what the others added since they last looked. Rebuilt rather than
-- altered: SQLite cannot add a primary key to an existing table.
CREATE TABLE released_sets_v2 (
    id      INTEGER PRIMARY KEY,
    analyst TEXT NOT NULL,
    study   TEXT NOT NULL,
    version INTEGER NOT NULL,
    digest  TEXT NOT NULL,
    size    INTEGER NOT NULL,
    bits    BLOB NOT NULL,
    UNIQUE (analyst, study, version, digest)
);
INSERT INTO released_sets_v2 (analyst, study, version, digest, size, bits)
    SELECT analyst, study, version, digest, size, bits FROM released_sets;
DROP TABLE released_sets;
ALTER TABLE released_sets_v2 RENAME TO released_sets;
