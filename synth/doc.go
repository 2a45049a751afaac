// Package synth generates synthetic hospitals with realistic oncology cohorts (NSCLC, TNBC,
// mesothelioma, multiple myeloma) from published trial and registry figures, for the demo
// network, the tests and the benchmarks. It imports only the standard library.
//
// # Model
//
// A Spec (study, sites, patients, seed, data cut) is laid out into sites: a quarter are
// academic centres with 3–5 times the patients of a community hospital; each site gets a
// volume quartile, a site effect on the log hazard (the published hospital-volume HR of its
// quartile plus a log-normal frailty, σ = 0.08) and a case mix (East Asian share, biomarker
// testing rate). Patients are drawn site by site from the study's published marginals
// (sex, age, stage, histology, biomarkers, with missing values at realistic rates), get a
// first-line regimen by guideline from their test results, and a log hazard η from
// published covariate hazard ratios. Every parameter cites its source next to it in the
// study's file (nsclc.go, tnbc.go, mpm.go, mm.go); what no source gives is marked
// ASSUMPTION.
//
// Survival is Weibull per regimen, S(t) = exp(−(t/λ)^k·e^η), with the shape k of SYNTH.md.
// λ is calibrated per spec so that each regimen's median OS among its trial-eligible
// patients (ECOG within the trial's limit) equals the published median: covariates and
// sites spread risk inside an arm without moving its median, and frailer real-world
// patients do worse than the trial, as they do. Progression and death are joined by a
// Gaussian copula (ρ = 0.6) and PFS = min(time to progression, OS), so PFS ≤ OS always; the
// PFS scale is calibrated to the published PFS median the same way. Early TNBC follows a
// mixture-cure model stratified by pCR (KEYNOTE-522). Patients accrue uniformly, are
// followed to the data cut and are lost to follow-up at 3% a year; times are whole days.
//
// # Use
//
// New(spec) returns a Generator. Stream hands the federation to a benchmark in blocks of
// columns (constant memory: 10,000,000 patients stream in ≈8 MB at ≈2 million patients per
// second per core); Site returns one site whole; WriteCSV writes a site as the CSV the node
// imports (ImportSpec gives the import arguments); WriteFiles writes a whole federation with
// a manifest and an import script. DemoFederation is the network the desktop app starts on.
//
// The same Spec gives the same bytes with a given Go toolchain (math/rand/v2 PCG streams
// derived from the seed; Go does not promise that its normal and exponential variates stay
// the same across releases).
package synth
