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
