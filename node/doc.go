// Package node is the hospital side: the site's data store and CSV import, the engine that
// answers whitelisted aggregate queries, the disclosure policy applied before anything leaves,
// and the hash-chained audit log. It is the only component that sees patient-level records.
//
// # Data
//
// A Store (SQLiteStore by default: OpenSQLite) keeps studies column by column, the audit log
// and the overlap guard's state. ImportCSV (or Import over any Source, the seam for OMOP CDM
// or warehouse extracts) loads a study all-or-nothing: a bad line refuses the whole file with
// its line number, and a re-import replaces the study atomically.
//
// # Queries
//
// Engine.HandleJSON / Engine.Handle answer the protocol's kinds (catalog, count, summary,
// survival, cox) from columns held in memory (reloaded when the store's study version
// changes). Every name in a query is resolved against the study before a patient value is
// read; anything unknown, malformed or oversized is refused with a coded protocol.Error.
//
// # Disclosure policy (protocol.Policy; DefaultPolicy, ParsePolicy, ExactPolicy)
//
//   - min_cohort: a cohort, a group of a summary or survival query, or the complete cases of a
//     Cox query smaller than this is refused (without saying how small).
//   - min_cell: counts in 1..min_cell-1 are released as suppressed, never as numbers; in a
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
//     complete cases) is remembered per study version with its region, the hash of its
//     canonical definition (region.go). A new set is refused when it differs from a remembered
//     one by 1..min_cell-1 patients (differencing); when it is a remembered set reached
//     through a new definition (so that a refusal cannot tell "identical" from "one off");
//     when pairwise disjoint remembered sets inside a remembered superset of it, or inside
//     itself, leave 1..min_cell-1 of its patients (S1 − C − D − …); or when a signed
//     combination of it and two remembered sets (S − R1 − R2, S + R1 − R2) is non-zero on
//     1..min_cell-1 patients. Re-runs of a definition are answered. Every refusal has one
//     message. Combinations of four or more non-nested sets are not checked (guard.go).
//     Every set released exactly is also remembered as a feasibility set (feasibility.go).
//   - daily_query_budget: queries per analyst per UTC day (catalog queries are free).
//   - events_per_cox_covariate: a Cox query needs at least this many events per design column.
//   - allow_pooled_cox: the pooled (WebDISCO) Cox form is answered only when true (ExactPolicy,
//     or a policy file that says so; an exact policy document without the field too). Its
//     risk-set sums per released time approach single patients' covariate values at large β,
//     so protective policies answer the stratified-by-site form only.
//   - Cox β bound (all but exact policies): a Cox query with |β_j·sd(x_j)| above MaxCoxBetaSD
//     (sd over the site's complete cases) is refused; see MaxCoxBetaSD for why 10.
//   - min_cell also applies to a Cox reply's count of patients left out for a missing covariate.
//   - feasibility_rounding, feasibility_noise, feasibility_budget: a feasibility count
//     (protocol.Query.Feasibility, the live cohort panel's question) is |S| plus integer noise
//     uniform in [−noise, +noise], rounded to the nearest multiple of the rounding, refused
//     like an exact count below min_cohort. The noise is keyed by the site's secret
//     (Store.SiteSecret) and the patient set, so equivalent queries get one answer. Answers
//     are sticky: a set fewer than min_cell patients from one answered before (to any
//     analyst, same study version) gets that set's answer, so S and S minus one patient get
//     one answer (see feasibility.go for what this does and does not stop). The overlap
//     guard neither checks nor records these counts; they are charged to the daily
//     feasibility budget (not the query budget) and audited with AuditEntry.Feasibility.
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
