// Package omop reads a study from an OMOP Common Data Model (v5.4, with the Oncology
// extension's episode table) as a study definition file describes it, and snapshots it into a
// site's store through node.Import: the same dictionary checks and all-or-nothing semantics as
// a CSV import.
//
// A Definition (ReadDefinition; docs/omop.md has a worked example) selects the cohort by a
// condition concept set, indexed at the first diagnosis inside an observation period; its
// endpoints are the first of a death, an episode (Disease Progression) or a condition,
// observation or measurement concept, censored at the end of observation or the data cut;
// its variables come from person (sex, race, age at index), measurement and observation
// (biomarkers and stage by concept, values mapped to declared categories), episode (the
// treatment regimen) and drug_exposure (a regimen recognised from the drugs started on one
// day). It also declares the study's dictionary: labels, units, categories, ranges.
//
// The package speaks SQL to a Querier and imports no driver; node/omop/pg connects to
// PostgreSQL with pgx and runs every query in one read-only snapshot.
package omop
