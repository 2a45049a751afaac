-- Competing causes and delayed entry (issue 17). An endpoint may declare its competing causes
-- (oncofed-node import --causes NAME=1:label,...): their labels, in cause order, are kept as a
-- JSON array on the endpoint's time column ('[]' for an endpoint with one kind of event), and
-- the cause of every patient's event in a column of role 'cause' (codes 0..k-1, -1 censored)
-- after its 'event' column. An endpoint with entry times (--entry NAME=COLUMN) has a column of
-- role 'entry' (days from the time origin to entry into observation; 0 = from the start).
ALTER TABLE study_columns ADD COLUMN causes TEXT NOT NULL DEFAULT '[]';
