-- Schema 2: the library lists pinned first, newest first; the listing indexes cover every
-- listed column so a 10,000-result library is read from the index alone, without visiting the
-- (large) result rows. Offline answers look up the newest result of a request.
CREATE INDEX results_library ON results (network_id, pinned DESC, ran_at DESC, id DESC,
	name, kind, study, expected, answered);
CREATE INDEX results_pinned_recent ON results (pinned DESC, ran_at DESC, id DESC,
	network_id, name, kind, study, expected, answered);
CREATE INDEX results_request ON results (network_id, request_key, ran_at DESC);
