-- Feasibility counts (approximate, not remembered by the overlap guard).
--
-- site_secret holds the site's 32-byte key for the noise of feasibility counts: the noise of a
-- patient set is drawn from HMAC-SHA256(key, study, version, the set's bits), so the same set
-- always gets the same noise (no averaging) and nobody without the key can predict it. The
-- node creates the single row on first use (from crypto/rand, not SQLite's randomblob); the
-- key never leaves the node and is never written to the audit log.
CREATE TABLE site_secret (
    id     INTEGER PRIMARY KEY CHECK (id = 1),
    secret BLOB NOT NULL CHECK (length(secret) = 32)
);

-- Marks the audit records of feasibility counts: they are charged to the feasibility budget
-- (counted by this column) instead of the daily query budget (budgeted = 0).
ALTER TABLE audit_log ADD COLUMN feasibility INTEGER NOT NULL DEFAULT 0;
