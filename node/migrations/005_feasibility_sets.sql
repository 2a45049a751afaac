-- Sticky feasibility answers (node/feasibility.go).
--
-- Every feasibility answer a node gives is remembered per study version for all analysts
-- together (colluding analysts must not get independent draws): the patient set, its size and
-- the count released (a multiple of the rounding; below min_cohort when the answer was the
-- small-cohort refusal). A later set differing from a remembered one by fewer than min_cell
-- patients gets the answer of the earliest such set and is not stored itself. The id orders
-- the sets, so that processes serving one database read what the others added since they last
-- looked and agree on which set is the earliest.
CREATE TABLE feasibility_sets (
    id      INTEGER PRIMARY KEY,
    study   TEXT NOT NULL,
    version INTEGER NOT NULL,
    digest  TEXT NOT NULL,
    size    INTEGER NOT NULL,
    bits    BLOB NOT NULL,
    answer  INTEGER NOT NULL,
    UNIQUE (study, version, digest)
);

-- Each Release reads the sets added since its cache was last topped up (id > ?): without an
-- index on (…, id), SQLite walks every set of the study version through the unique index to
-- find none (2,000 remembered sets: about 0.3 ms per feasibility count). The overlap guard's
-- read of released_sets had the same walk per analyst.
CREATE INDEX feasibility_sets_since ON feasibility_sets (study, version, id);
CREATE INDEX released_sets_since ON released_sets (analyst, study, version, id);
