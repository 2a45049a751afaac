-- A variable may be declared part of a test panel (protocol.Variable.Panel: the variables of
-- one panel are missing together); the panel's name is kept with its column. Existing columns
-- belong to no panel.
ALTER TABLE study_columns ADD COLUMN panel TEXT NOT NULL DEFAULT '';
