# Golden values for analysis/summary.go: a "Table 1" of the NCCTG lung data (lung.csv, written
# by gen_lung.R) by sex, computed from the patient-level data in R. The Go tests rebuild per-site
# aggregates (counts, n, Σx, Σx², histogram counts) from lung.csv, merge them and compare.
# Regenerate: cd analysis/testdata && Rscript summary_goldens.R
# (Debian: r-base-core r-cran-jsonlite; MASS is a recommended package shipped with r-base)
#
# Formulas written out here (tableone is not installed; these are the ones tableone uses):
#  - SD with the n−1 denominator (sd()), exact quantiles with quantile(type = 7), R's default;
#  - histogram quantile: the ogive rule, see ogive_q below (same rule as analysis.HistogramQuantile);
#  - numeric SMD (mean1 − mean2) / sqrt((s1² + s2²)/2) (Austin 2009; tableone's StdDiff);
#  - categorical SMD of Yang & Dalton (2012): sqrt((T − C)' S⁻ (T − C)) over levels 2..k with
#    S the average of the two groups' multinomial covariance matrices and S⁻ = MASS::ginv(S)
#    (tableone's StdDiffMulti). Missing values are excluded from percentages and SMDs.
suppressMessages({library(jsonlite); library(MASS)})
d <- read.csv("lung.csv", na.strings = "", stringsAsFactors = FALSE)
d$event <- as.character(d$event) # a binary categorical variable, for the two-level SMD
groups <- sort(unique(d$sex))
numeric_vars <- list(age = seq(35, 85, by = 5), karno = seq(45, 105, by = 10), wt.loss = seq(-30, 70, by = 10))
categorical_vars <- c("ecog", "event")
probs <- c(0.1, 0.25, 0.5, 0.75, 0.9)

# Cells: (-Inf, e1), [e1, e2), ..., [ek, Inf); findInterval gives the 0-based cell index.
hist_counts <- function(x, edges) tabulate(findInterval(x, edges) + 1, nbins = length(edges) + 1)
# Ogive rule: the leftmost x where the piecewise-linear cumulative count (0 at the lower edge of a
# cell, the running total at its upper edge) reaches p·n. NA when that falls in an open end cell.
ogive_q <- function(counts, edges, p) {
  n <- sum(counts); lo <- c(-Inf, edges); hi <- c(edges, Inf); C <- cumsum(counts); h <- p * n
  if (p == 0) { k <- which(counts > 0)[1]; return(lo[k]) }
  k <- which(C >= h)[1]
  if (!is.finite(lo[k]) || !is.finite(hi[k])) return(NA)
  lo[k] + (h - (C[k] - counts[k])) / counts[k] * (hi[k] - lo[k])
}
# Bracket of quantile(type = 7): it interpolates between the order statistics of ranks floor(h)
# and ceiling(h), h = 1 + (n − 1)p, so it lies between the lower edge of the cell holding the
# first and the upper edge of the cell holding the second.
bracket7 <- function(counts, edges, p) {
  n <- sum(counts); lo <- c(-Inf, edges); hi <- c(edges, Inf); C <- cumsum(counts); h <- 1 + (n - 1) * p
  cell <- function(r) which(C >= r)[1]
  c(lo[cell(floor(h))], hi[cell(ceiling(h))])
}
num_summary <- function(x, edges) {
  m <- is.na(x); y <- x[!m]; cnt <- hist_counts(y, edges)
  list(n = length(y), missing = sum(m), sum = sum(y), sum_sq = sum(y^2), mean = mean(y), sd = sd(y),
       hist = cnt, exact_quantile = unname(quantile(y, probs, type = 7)),
       hist_quantile = sapply(probs, function(p) ogive_q(cnt, edges, p)),
       bracket_lower = sapply(probs, function(p) bracket7(cnt, edges, p)[1]),
       bracket_upper = sapply(probs, function(p) bracket7(cnt, edges, p)[2]))
}
smd_num <- function(x1, x2) (mean(x1, na.rm = TRUE) - mean(x2, na.rm = TRUE)) /
  sqrt((var(x1, na.rm = TRUE) + var(x2, na.rm = TRUE)) / 2)
smd_cat <- function(x1, x2, levels) {
  p1 <- as.numeric(table(factor(x1, levels)))[-1]; p1 <- p1 / sum(table(factor(x1, levels)))
  p2 <- as.numeric(table(factor(x2, levels)))[-1]; p2 <- p2 / sum(table(factor(x2, levels)))
  k <- length(p1); S <- matrix(0, k, k)
  for (i in seq_len(k)) for (j in seq_len(k))
    S[i, j] <- if (i == j) (p1[i] * (1 - p1[i]) + p2[i] * (1 - p2[i])) / 2 else -(p1[i] * p1[j] + p2[i] * p2[j]) / 2
  sqrt(drop(t(p1 - p2) %*% ginv(S) %*% (p1 - p2)))
}
cat_summary <- function(x, levels) {
  cnt <- as.numeric(table(factor(x, levels)))
  list(counts = cnt, missing = sum(is.na(x)), percent = 100 * cnt / sum(cnt))
}
out <- list(source = "R summary_goldens.R on lung.csv (NCCTG lung, inst not NA), groups = sex",
            groups = groups, probs = probs, numeric = list(), categorical = list())
for (v in names(numeric_vars)) {
  e <- numeric_vars[[v]]
  by <- lapply(groups, function(g) c(list(group = g), num_summary(d[[v]][d$sex == g], e)))
  out$numeric[[length(out$numeric) + 1]] <- list(variable = v, edges = e, by_group = by,
    overall = num_summary(d[[v]], e), smd = abs(smd_num(d[[v]][d$sex == groups[1]], d[[v]][d$sex == groups[2]])))
}
for (v in categorical_vars) {
  lev <- sort(unique(na.omit(d[[v]])))
  by <- lapply(groups, function(g) c(list(group = g), cat_summary(d[[v]][d$sex == g], lev)))
  out$categorical[[length(out$categorical) + 1]] <- list(variable = v, levels = lev, by_group = by,
    overall = cat_summary(d[[v]], lev), smd = smd_cat(d[[v]][d$sex == groups[1]], d[[v]][d$sex == groups[2]], lev))
}
# Per-site view of age (all patients of a site, both sexes): n, mean, SD (NA for a single patient).
sites <- sort(unique(d$site))
out$age_by_site <- lapply(sites, function(s) { x <- d$age[d$site == s]
  list(site = s, n = length(x), mean = mean(x), sd = if (length(x) > 1) sd(x) else NA) })
writeLines(toJSON(out, digits = NA, auto_unbox = TRUE, na = "null"), "summary_expected.json")
