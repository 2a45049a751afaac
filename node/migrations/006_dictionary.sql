-- Declared study dictionaries (node/import.go, Dictionary).
--
-- A study's categories and ranges are declared by its dictionary, the same at every site, not
-- read off the site's rows. The declared study version and the dictionary's hash
-- (protocol.DictionaryHash) are kept with the study so that a re-import cannot change the
-- dictionary without a new version; studies imported before keep '' (no declared dictionary).
-- A numeric variable's declared range is kept with its column (NULL: not declared).
ALTER TABLE studies ADD COLUMN study_version TEXT NOT NULL DEFAULT '';
ALTER TABLE studies ADD COLUMN dictionary_hash TEXT NOT NULL DEFAULT '';
ALTER TABLE study_columns ADD COLUMN min REAL;
ALTER TABLE study_columns ADD COLUMN max REAL;
