// Package node is the hospital side: the site's data store and CSV import, the engine that
// answers whitelisted aggregate queries, the disclosure policy applied before anything leaves,
// and the hash-chained audit log. It is the only component that sees patient-level records.
//
// # Data
//
// A Store (SQLiteStore by default: OpenSQLite) keeps studies column by column, the audit log
// and the overlap guard's state. ImportCSV (or Import over any Source: node/omop snapshots a
// study from an OMOP CDM through it) loads a study all-or-nothing: a bad line refuses the
// whole file with its line number, and a re-import replaces the study atomically. The guard's
// remembered sets (overlap guard and sticky feasibility answers, bitsets over one load's rows)
// are carried onto the new load by patient id in the same transaction, also after DeleteStudy
// (carryover.go), so a new data cut gives no analyst a fresh guard; a release computed on a
// load replaced before its decision is refused as unavailable, uncharged, to be asked again.
//
// # Dictionary
//
// A study's variables are declared by its Dictionary (ReadDictionary: a JSON file with the
// study version, each variable's type, label, unit, categories in the study's order and numeric
// range, and the endpoints' labels and optional horizon_days, migration 009; AddCategories for
// --categories), the same at every site of
// the study. Categories are never read off a site's rows: the catalog lists the declared ones
// whether or not the site holds patients in them, so it tells nothing about them. The import
// refuses a value outside the declared categories or range (line and column) and a non-numeric
// column without declared categories. The store keeps the declared version and the dictionary's
// hash (protocol.DictionaryHash, migration 006) and refuses a re-import that changes the
// dictionary under the same version (DictionaryChangedError); the catalog publishes both.
//
// A declared category a site does not hold is an empty set, answered exactly like a small one:
// a cohort on it is refused below min_cohort like any, a count or summary cell holding 0 is
// suppressed like one holding 1..min_cell-1 (suppressLevels), and a group of a summary or
// survival query is refused below min_cohort also when empty — in the same words — unless the
// query's filter itself empties it (excludedByQuery: "stage in (I, II), grouped by stage" needs
// no stage III group). Unknown categories stay not_found: the dictionary is public. A numeric
// variable can group a query only through its declared integer range (at most 12 values), never
// the values the site holds; Cox levels must be the declared categories, reordered.
//
// # Queries
//
// Engine.HandleJSON / Engine.Handle answer the protocol's kinds (catalog, count, summary,
// survival, cox) from columns held in memory (reloaded when the store's study version
// changes). Every name in a query is resolved against the study's declared dictionary before
// a patient value is read; anything unknown, malformed or oversized is refused with a coded
// protocol.Error.
//
// # Disclosure policy (protocol.Policy; DefaultPolicy, ParsePolicy, ExactPolicy)
//
//   - min_cohort: a cohort, a group of a summary or survival query, or the complete cases of a
//     Cox query smaller than this is refused (without saying how small).
//   - min_cell: counts in 1..min_cell-1 (and 0 in a declared category's cell, see Dictionary)
//     are released as suppressed, never as numbers; in a
//     partition (groups, categories, histogram cells) further cells, the smallest first, are
//     suppressed until at least two are and together they hold at least min_cell patients, so
//     no cell is "total minus the rest" and no small sum pins them down. Σx and Σx² (and the
//     histogram) of fewer than min_cell values are withheld.
//   - bin_days: survival times are reported as ceil(t/w)·w; survival rows are then merged
//     forward until each holds min_cell events plus censorings, and no row is released once
//     fewer than min_cell are at risk (those patients are censored at the last released
//     time). Tables stay valid and mergeable. Cox queries use the same released times; the
//     pooled Cox form additionally keeps the events and the censorings of each time either
//     zero or at least min_cell.
//   - overlap_guard: every patient set whose aggregate or count was released to an analyst
//     (cohorts, groups, the released cells of a summary's categories and histograms, Cox
//     complete cases) is remembered per study (carried across re-imports) with its region, the hash of its
//     canonical definition (region.go). A new set is refused when it differs from a remembered
//     one by 1..min_cell-1 patients (differencing); when it is a remembered set reached
//     through a new definition (so that a refusal cannot tell "identical" from "one off");
//     when pairwise disjoint remembered sets inside a remembered superset of it, or inside
//     itself, leave 1..min_cell-1 of its patients (S1 − C − D − …); or when a signed
//     combination of it and two remembered sets (S − R1 − R2, S + R1 − R2) is non-zero on
//     1..min_cell-1 patients, or a signed combination of it and three remembered sets
//     (guard4.go: (A∪B∪{x}) − (A∪C) + (C∪D) − (B∪D)) does; a combination that leaves nobody is refused too unless
//     the definitions themselves empty it (region algebra over the declared categories and
//     ranges, definition.go), so a refusal never tells "none" from "one" (migration 011 stores
//     each region's canonical definition). Re-runs of a definition are answered. Every refusal has one
//     message. Combinations of five or more non-nested sets are not checked (guard.go).
//     Every feasibility answer given to an analyst is remembered too, and an exact release
//     near it by another definition refused (rule 6, guardfeas.go).
//   - overlap_guard_scope: "analyst" (default) remembers each key's releases apart, "study"
//     every analyst's of the study together (guardscope.go; docs/privacy.md).
//     Every set released exactly is also remembered as a feasibility set (feasibility.go).
//   - daily_query_budget: queries per analyst per UTC day (catalog queries are free), one
//     budget that exact queries and feasibility counts share: a query costs 1, a feasibility
//     count feasibility_cost (default 0.25, in (0, 1]; 2,000 counts use the default 500). The
//     spent amount is read off the day's audit records (AuditEntry.Budgeted and Feasibility,
//     refused ones too, but a query refused for the budget itself is not Budgeted: it tells
//     nothing and costs nothing) within Store.Release, so replicas never overspend it; a
//     query it can no longer pay for is refused with reason daily_budget, the message saying
//     how many queries and counts were spent. The catalog's You.QueriesLeft is the whole queries left.
//     Every round of a federated Cox fit is one query: a fit of k Newton–Raphson rounds uses
//     k (a pooled fit up to 2k: each phase-2 request is a query too), and one that runs out is
//     refused at the next round, saying the budget is used up.
//   - events_per_cox_covariate: a Cox query needs at least this many events per design column.
//   - allow_pooled_cox: the pooled Cox form (both phases, docs/cox-protocol.md) is answered
//     only when true (ExactPolicy, or a policy file that says so; an exact policy document
//     without the field too). Its sums per released time approach single patients' covariate
//     values at large β, so protective policies answer the stratified-by-site form only.
//   - Model releases (all but exact policies; modelsafe.go, one rule set for Cox and every model
//     kind to come). Design columns: every column of a model needs, among the site's complete
//     cases, min_cell patients, min_cell events and at least one patient without an event — an
//     indicator column's level, a categorical covariate's reference level, and a numeric
//     column's patients off its most common value; otherwise the query is refused naming the
//     column, never a count (checkDesignColumns). This stops the review's Cox locator attack
//     (cohort "other sex ∪ {x}" with covariate sex puts x alone in a column; the reply at a
//     large β read off x's time and event status). β cap, max_cox_log_hr (default 5, see
//     DefaultMaxCoxLogHR for why): |β_j|·w_j ≤ max_cox_log_hr, w_j = 1 for an indicator and
//     the width of the declared range (protocol.Variable.Min/Max) for a numeric covariate, so
//     the cap never depends on the data; a numeric covariate without a declared range is
//     refused, saying to declare it. The cap is decided from public information before a row
//     is read and stated in the reply (CoxReply.BetaLimit), so clients keep their iterates
//     within it and report a fit that wants more as diverging. The columns together: at the
//     requested β the min_cell patients with the largest (and smallest) linear predictor x'β of
//     each stratum lie within 2 of it (checkWeightSpread; covariates and β only), so that
//     several columns, each passing, cannot single out the one patient who has them all.
//     Within-site strata (cox.strata) are cohorts of their own for the design-column rule.
//     ParsePolicy refuses a negative,
//     zero or non-finite max_cox_log_hr in a protective policy (there is no uncapped one; a
//     policy built in Go without it gets the default); exact policies have neither rule and
//     ignore the field.
//   - min_cell also applies to a Cox reply's count of patients left out for a missing covariate.
//   - feasibility_rounding, feasibility_noise, feasibility_cost, feasibility_budget: a feasibility count
//     (protocol.Query.Feasibility, the live cohort panel's question) is |S| plus integer noise
//     uniform in [−noise, +noise], rounded to the nearest multiple of the rounding, refused
//     like an exact count below min_cohort. The noise is keyed by the site's secret
//     (Store.SiteSecret) and the patient set, so equivalent queries get one answer. Answers
//     are sticky: a set fewer than min_cell patients from one answered before (to any
//     analyst, same study version) gets that set's answer, so S and S minus one patient get
//     one answer (see feasibility.go for what this does and does not stop). The overlap
//     guard does not check these counts; it remembers the set whose answer each gave the
//     analyst, and refuses an exact release near it by another definition (rule 6,
//     guardfeas.go). Each is charged feasibility_cost of a
//     query to the shared daily budget and audited with AuditEntry.Feasibility.
//     feasibility_budget is an optional extra cap on the counts a day (reason
//     feasibility_budget; 0, the default, none): policy files from before the shared budget
//     set it to 2000 and still parse, keeping it as that cap.
//
// Every reply carries protocol.PolicyEffects saying what the policy did.
//
// # Who asks (Analysts, Config.Analysts)
//
// A node answers only queries signed with an Ed25519 key of its analysts list (LoadAnalysts:
// `NAME PUBLIC-KEY [ROLE]` lines; oncofed-node serve --analysts); NewEngine refuses to run
// without one (ErrNoAnalysts) unless Config.InsecureOpen. The role is trusted (rule-based
// releases) or dp, the default (differentially private releases; until a kind has one, a dp
// analyst is refused everything but the catalog, before any data is read). It
// refuses, with code unauthenticated and before reading any data, a query that is unsigned,
// signed by an unlisted key, forged or altered after signing (the signature covers the whole
// query as decoded), signed more than protocol.MaxQueryAge ago or more than
// protocol.MaxClockSkew ahead, or replayed (its nonce is kept in the site database, so every
// process serving it refuses the replay). The budget, the overlap guard and the audit log are
// keyed on the listed name of the key, never on the declared Query.Analyst; refused
// unauthenticated queries are audited under no name and charged to nobody's budget. An
// insecure-open node (demos, closed test networks) trusts declared names: its catalog and
// every reply (PolicyEffects.Auth) say "open".
//
// # Differentially private releases (role dp; dprelease.go, dpsummary.go, dpcox.go)
//
// Counts and survival tables for analysts of role dp are released under zero-concentrated DP
// with exact discrete Gaussian noise (package dp): a count or grouped count at dp_rho_count, a
// feasibility count at dp_rho_feasibility (then rounded), a survival query at dp_rho_survival
// (every group's table on dp_bin_days bins to the endpoint's horizon_days when the study's
// dictionary declares one — public, the same at every site, part of the dictionary hash,
// refused at import unless positive and at most 1000 bins of the default 30 days — else to
// dp_horizon_days; bins are widened past 1000 bins; the square-root factorisation
// mechanism; one patient is in one group, so the reply costs one ρ), a summary (Table 1) at
// dp_rho_summary split evenly over its components (dpsummary.go: sizes, category cells, a
// numeric variable's n, centred and clipped Σx and Σx² on its declared range, histogram; a
// numeric variable without a declared range is refused), a Cox model (form dp_tables, dpcox.go)
// at dp_rho_cox as one survival table per covariate pattern, numeric covariates clipped to
// their declared ranges (docs/dp-cox.md). min_cohort and min_cell
// apply to the noisy values, so the release stays DP; the overlap guard does not apply (its
// refusal depends on the exact sets; the ρ budget accounts for differencing). The cost of a
// query follows from its kind, the analyst's spending from the audit log (AuditEntry.Rho): a
// query that would take it past dp_rho_daily (per UTC day) or dp_rho_total (ever) for the study
// is refused before anything is computed, and again within Store.Release, so replicas cannot
// overspend; a refusal decided on noisy values is charged. Replies carry PolicyEffects.DP.
//
// # Audit
//
// Every query, answered or refused, is appended to a hash-chained log (AuditRecord;
// VerifyChain, VerifyAudit): altering, removing or reordering a record breaks the chain.
// The budget check, the overlap guard's check, the record of the released sets and the audit
// append are one store transaction (Store.Release), so several node processes serving one
// database (replicas in a queue group) decide one query at a time: A and A minus one sent to
// two replicas at the same instant are never both answered, nor is a budget overspent.
// Removing the newest records cannot be detected from the chain alone; publish the head hash
// (oncofed-node audit prints it) to make that visible.
package node
