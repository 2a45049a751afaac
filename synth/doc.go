// Package synth generates synthetic hospitals with realistic oncology cohorts (NSCLC, TNBC,
// mesothelioma, multiple myeloma) from published trial and registry figures, for the demo
// network, the tests and the benchmarks.
package synth
