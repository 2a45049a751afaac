-- Schema 4: results are kept compact (app/record.go). A round names its replies by digest
-- (site, SHA-256 and size of the JSON as received) instead of keeping every reply: a pooled Cox
-- fit at 1M patients on 10 sites kept 68.8 MiB of replies. Count, summary and Kaplan–Meier
-- results still keep their one round's replies (the per-site tables they are drawn from); a
-- Cox result keeps its trace (β and the merged contribution at every step of the fit, the
-- sites' own contributions where the model is stratified by site) and no reply.
--
-- After these statements, in the same transaction, the cache converts every stored result
-- (migrateCompact in cache.go): a result that checks against its content hash gets its digests
-- and, for Cox, its trace, and loses its Cox replies; one that does not check is left as it
-- was and is still refused on opening. The whole migration lands or none of it.
ALTER TABLE results ADD COLUMN trace TEXT CHECK (trace IS NULL OR json_valid(trace)); -- JSON app.CoxTrace
ALTER TABLE result_rounds ADD COLUMN replies TEXT CHECK (replies IS NULL OR json_valid(replies)); -- JSON []app.ReplyDigest
