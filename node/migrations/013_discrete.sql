-- A numeric variable may be declared discrete (protocol.Variable.Discrete: its values are the
-- whole numbers of its declared range); the flag is kept with its column. Existing columns
-- are not discrete.
ALTER TABLE study_columns ADD COLUMN discrete INTEGER NOT NULL DEFAULT 0;
