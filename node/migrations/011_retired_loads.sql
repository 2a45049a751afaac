-- The overlap guard's released sets and the sticky feasibility sets are bitsets over the rows
-- of one load of a study. A re-import carries them onto the new load by patient id
-- (node/carryover.go), so that a new data cut does not give every analyst a fresh guard. A
-- study deleted and imported again must not either: its last load's patient ids are kept here
-- from the deletion until the next import of that name carries its sets over.
CREATE TABLE retired_loads (
    study    TEXT PRIMARY KEY,
    version  INTEGER NOT NULL,
    patients INTEGER NOT NULL,
    ids      BLOB NOT NULL
);
-- The guard's and the feasibility sets of a study are read and rewritten by study at a
-- re-import.
CREATE INDEX released_sets_study ON released_sets (study, version);
-- With each released set's region (a hash), its canonical definition as JSON (node/region.go,
-- canonFilter; 'null' for every patient): the guard's region algebra (node/definition.go)
-- answers a combination of released sets that leaves nobody only when the definitions empty it.
-- '' for rows from before: no definition known, so such a combination is refused.
ALTER TABLE released_sets ADD COLUMN definition TEXT NOT NULL DEFAULT '';
