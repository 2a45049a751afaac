-- A study's title in words (the dictionary's "title", or oncofed-node import --title), which
-- the catalog publishes so that a study picker reads "Advanced NSCLC, first line (nsclc)".
-- Studies imported before keep '' (the client shows the name alone).
ALTER TABLE studies ADD COLUMN title TEXT NOT NULL DEFAULT '';
