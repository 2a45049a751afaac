// Package analysis computes survival statistics from mergeable aggregate tables: Kaplan–Meier
// with Greenwood confidence intervals, quantiles, restricted mean survival, reverse-KM follow-up,
// log-rank tests, Cox models (Breslow/Efron; stratified by site or pooled from per-time sums in two phases),
// cohort summaries and heterogeneity across sites. Results equal R's survival package on the
// pooled patient-level data. It imports only the standard library and gonum.
package analysis
