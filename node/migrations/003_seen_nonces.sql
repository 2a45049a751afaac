-- Nonces of signed queries already answered, so that a replayed query is refused by every
-- node process serving this database, not only by the one that saw it first. Rows expire
-- once the query would be refused as stale anyway.
CREATE TABLE seen_nonces (
    key_id  TEXT NOT NULL,
    nonce   TEXT NOT NULL,
    expires TEXT NOT NULL,
    PRIMARY KEY (key_id, nonce)
);
CREATE INDEX seen_nonces_expires ON seen_nonces (expires);
