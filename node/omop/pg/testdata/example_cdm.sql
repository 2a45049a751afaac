-- The worked example of docs/omop.md: six people in a CDM v5.4, read with
-- node/omop/testdata/example.json (data cut 2024-12-31). Local concepts (2,000,000,000 and
-- up) stand for what a site's vocabulary has; 32817 is the EHR type concept. The condition ids
-- stand for the standard SNOMED concepts named beside them: look yours up in the vocabulary.
INSERT INTO concept (concept_id, concept_name, domain_id, vocabulary_id, concept_class_id, standard_concept, concept_code, valid_start_date, valid_end_date) VALUES
 (4115276, 'Non-small cell lung cancer', 'Condition', 'SNOMED', 'Clinical Finding', 'S', '254637007', '1970-01-01', '2099-12-31'),
 (4112853, 'Malignant tumor of breast', 'Condition', 'SNOMED', 'Clinical Finding', 'S', '254837009', '1970-01-01', '2099-12-31'),
 (8507, 'MALE', 'Gender', 'Gender', 'Gender', 'S', 'M', '1970-01-01', '2099-12-31'),
 (8532, 'FEMALE', 'Gender', 'Gender', 'Gender', 'S', 'F', '1970-01-01', '2099-12-31'),
 (32677, 'Disease Progression', 'Episode', 'Episode', 'Disease Episode', 'S', 'Disease Progression', '1970-01-01', '2099-12-31'),
 (2000000301, 'ECOG performance status', 'Observation', 'Local', 'Local', 'S', 'ecog', '1970-01-01', '2099-12-31'),
 (2000000401, 'EGFR sensitising mutation', 'Measurement', 'Local', 'Local', 'S', 'egfr', '1970-01-01', '2099-12-31'),
 (2000000411, 'mutant', 'Meas Value', 'Local', 'Local', 'S', 'egfr-mut', '1970-01-01', '2099-12-31'),
 (2000000412, 'wild type', 'Meas Value', 'Local', 'Local', 'S', 'egfr-wt', '1970-01-01', '2099-12-31'),
 (2000000501, 'carboplatin', 'Drug', 'Local', 'Local', 'S', 'carboplatin', '1970-01-01', '2099-12-31'),
 (2000000502, 'pemetrexed', 'Drug', 'Local', 'Local', 'S', 'pemetrexed', '1970-01-01', '2099-12-31'),
 (2000000503, 'pembrolizumab', 'Drug', 'Local', 'Local', 'S', 'pembrolizumab', '1970-01-01', '2099-12-31'),
 (2000000504, 'osimertinib', 'Drug', 'Local', 'Local', 'S', 'osimertinib', '1970-01-01', '2099-12-31');

INSERT INTO person (person_id, gender_concept_id, year_of_birth, month_of_birth, day_of_birth, race_concept_id, ethnicity_concept_id) VALUES
 (1, 8532, 1960, 5, 10, 0, 0),
 (2, 8507, 1950, NULL, NULL, 0, 0),
 (3, 8532, 1970, 1, 1, 0, 0),
 (4, 8507, 1955, 3, 3, 0, 0),
 (5, 8532, 1965, 8, 8, 0, 0),
 (6, 8507, 1980, 7, 15, 0, 0);

INSERT INTO observation_period (observation_period_id, person_id, observation_period_start_date, observation_period_end_date, period_type_concept_id) VALUES
 (1, 1, '2021-01-01', '2025-06-30', 32817),
 (2, 2, '2020-01-01', '2023-12-31', 32817),
 (3, 3, '2023-01-01', '2025-06-30', 32817),
 (4, 4, '2024-01-01', '2025-06-30', 32817),
 (5, 5, '2020-01-01', '2025-06-30', 32817),
 (6, 6, '2021-01-01', '2022-01-10', 32817);

INSERT INTO condition_occurrence (condition_occurrence_id, person_id, condition_concept_id, condition_start_date, condition_type_concept_id) VALUES
 (1, 1, 4115276, '2022-03-01', 32817),
 (2, 1, 4115276, '2022-06-01', 32817),  -- a later record: the index is the first
 (3, 2, 4115276, '2023-06-30', 32817),
 (4, 3, 4115276, '2024-01-10', 32817),
 (5, 4, 4115276, '2025-02-01', 32817),  -- diagnosed after the data cut: not in the cohort
 (6, 5, 4112853, '2022-05-05', 32817),  -- another cancer: not in the cohort
 (7, 6, 4115276, '2021-11-30', 32817);

INSERT INTO death (person_id, death_date, death_type_concept_id) VALUES
 (1, '2024-02-01', 32817),
 (3, '2025-03-01', 32817),  -- after the data cut: censored at it
 (6, '2022-01-10', 32817);

INSERT INTO episode (episode_id, person_id, episode_concept_id, episode_start_date, episode_object_concept_id, episode_type_concept_id) VALUES
 (1, 1, 32677, '2023-01-15', 4115276, 32817),
 (2, 3, 32677, '2025-01-20', 4115276, 32817),  -- after the data cut
 (3, 6, 32677, '2021-10-01', 4115276, 32817);  -- before the diagnosis: not this endpoint's

INSERT INTO observation (observation_id, person_id, observation_concept_id, observation_date, observation_type_concept_id, value_as_number) VALUES
 (1, 1, 2000000301, '2021-06-01', 32817, 2),
 (2, 1, 2000000301, '2022-02-20', 32817, 1),  -- nearest on or before the index: 1
 (3, 3, 2000000301, '2024-01-10', 32817, 0),
 (4, 6, 2000000301, '2021-12-05', 32817, 3);  -- after the index (to_day 0 by default): missing

INSERT INTO measurement (measurement_id, person_id, measurement_concept_id, measurement_date, measurement_type_concept_id, value_as_concept_id) VALUES
 (1, 1, 2000000401, '2022-03-10', 32817, 2000000411),
 (2, 2, 2000000401, '2023-05-01', 32817, 2000000412),
 (3, 3, 2000000401, '2024-03-01', 32817, 2000000411);  -- 51 days after the index, beyond to_day 30: missing

INSERT INTO drug_exposure (drug_exposure_id, person_id, drug_concept_id, drug_exposure_start_date, drug_exposure_end_date, drug_type_concept_id) VALUES
 (1, 1, 2000000501, '2022-03-15', '2022-03-15', 32817),
 (2, 1, 2000000502, '2022-03-15', '2022-03-15', 32817),
 (3, 2, 2000000504, '2023-07-05', '2023-12-31', 32817),
 (4, 3, 2000000501, '2024-01-20', '2024-01-20', 32817),
 (5, 3, 2000000502, '2024-01-20', '2024-01-20', 32817),
 (6, 3, 2000000503, '2024-01-20', '2024-01-20', 32817),
 (7, 3, 2000000503, '2024-02-10', '2024-02-10', 32817);  -- a later cycle: the regimen is the first day's set
