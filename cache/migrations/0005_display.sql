-- Schema 5: how a result was shown when it was pinned (app.Display: the view — pooled curves,
-- cumulative incidence or one group by site — the time unit, and the bands, censor marks,
-- median lines and percent switches), so its slide and its page of the deck draw it so. NULL
-- for results pinned from the library or never pinned: they are drawn with the defaults.
ALTER TABLE results ADD COLUMN display TEXT CHECK (display IS NULL OR json_valid(display));
