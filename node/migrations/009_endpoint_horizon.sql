-- A survival endpoint's declared horizon (node/dictionary.go, horizon_days): differentially
-- private survival releases of the endpoint use bins up to it instead of the policy's
-- dp_horizon_days. Public (declared by the study's dictionary, never read off the data); kept
-- on the endpoint's time column, NULL when the dictionary declares none.
ALTER TABLE study_columns ADD COLUMN horizon_days REAL;
