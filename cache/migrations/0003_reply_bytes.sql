-- Schema 3: a reply is stored as the bytes its site sent (app.Round.ReplyJSON), which the client
-- decoded with encoding/json before storing them; SQLite's json_valid check parsed every
-- megabyte of them a second time (a fifth of the time to store a 1M-patient pooled Cox fit).
-- The table is rebuilt without that check; its rows, key and foreign key are unchanged.
CREATE TABLE result_replies_v3 (
	result_id INTEGER NOT NULL,
	round     INTEGER NOT NULL,
	site      TEXT NOT NULL,
	reply     TEXT NOT NULL,   -- JSON protocol.Reply as received from the site
	PRIMARY KEY (result_id, round, site),
	FOREIGN KEY (result_id, round) REFERENCES result_rounds(result_id, round) ON DELETE CASCADE
) STRICT;
INSERT INTO result_replies_v3 (result_id, round, site, reply)
	SELECT result_id, round, site, reply FROM result_replies;
DROP TABLE result_replies;
ALTER TABLE result_replies_v3 RENAME TO result_replies;
