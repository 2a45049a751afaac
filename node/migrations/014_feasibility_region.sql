-- With each remembered feasibility set, the region (node/region.go: the hash of a canonical
-- definition) of the query or exact release that gave it its own answer. The overlap guard
-- (node/guardfeas.go) refuses an exact release within min_cell patients of a feasibility
-- answer the analyst was given, unless that answer's set was created through one of the
-- release's own regions (the same patients by definition: the live panel's count, then the
-- run of the same cohort). '' for rows from before: no region matches it.
ALTER TABLE feasibility_sets ADD COLUMN region TEXT NOT NULL DEFAULT '';
