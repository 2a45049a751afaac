-- The zero-concentrated DP cost of each differentially private release (role dp), summed
-- per analyst and study for the daily and lifetime budgets within Store.Release.
ALTER TABLE audit_log ADD COLUMN rho REAL NOT NULL DEFAULT 0;
CREATE INDEX audit_log_analyst_study_at ON audit_log (analyst, study, at);
