# Reference fits for analysis.FitCoxPatterns (analysis/coxpatterns_test.go): the Cox model
# stratified by site on covariate-pattern survival tables, as a differentially private Cox
# release hands them to the client (node/dpcox.go, docs/dp-cox.md).
# Regenerate (from analysis/testdata/r): Rscript dpcox_patterns.R  → dpcox_patterns.json
# (Debian: apt-get install r-base-core r-cran-survival r-cran-jsonlite)
#
# Real data: survival::lung split into two sites (odd and even institution numbers), times on
# 30-day bins (⌈t/30⌉·30), age in the node's 4 bins of its declared range 18–100 coded by their
# midpoints, sex as the indicator of male. The counts are then perturbed as a release would
# perturb them (set.seed(13), integer noise, clamped at 0) so that the tables are not the exact
# ones. R fits coxph on one row per subject the tables describe (rows repeated by their count:
# R's case weights are not replication under Efron's ties), stratified by site.
suppressMessages({library(survival); library(jsonlite)})

l <- subset(lung, !is.na(inst))
d <- data.frame(site = ifelse(l$inst %% 2 == 1, "odd", "even"),
  time = ceiling(l$time / 30) * 30, event = as.integer(l$status == 2),
  sexmale = as.integer(l$sex == 1),
  age = 18 + (pmin(floor((pmin(pmax(l$age, 18), 100) - 18) / 20.5), 3) + 0.5) * 20.5)
set.seed(13)
tabs <- aggregate(cbind(events = event, censor = 1 - event) ~ site + sexmale + age + time, data = d, FUN = sum)
tabs$events <- pmax(tabs$events + sample(-1:1, nrow(tabs), replace = TRUE), 0)
tabs$censor <- pmax(tabs$censor + sample(-1:1, nrow(tabs), replace = TRUE), 0)
tabs <- tabs[tabs$events + tabs$censor > 0, ]
tabs <- tabs[order(tabs$site, tabs$sexmale, tabs$age, tabs$time), ]

rows <- do.call(rbind, lapply(seq_len(nrow(tabs)), function(k) {
  r <- tabs[k, ]
  data.frame(site = r$site, time = r$time, sexmale = r$sexmale, age = r$age,
    event = c(rep(1, r$events), rep(0, r$censor)))
}))

fit_case <- function(ties) {
  f <- coxph(Surv(time, event) ~ sexmale + age + strata(site), data = rows, ties = ties)
  s <- summary(f)
  list(ties = ties, coef = unname(coef(f)), se = unname(s$coefficients[, "se(coef)"]),
    loglik = unname(f$loglik), n = f$n, events = f$nevent)
}

# The tables per site and pattern, as protocol.CoxPattern lists them.
sites <- lapply(split(tabs, tabs$site), function(st) {
  lapply(split(st, list(st$sexmale, st$age), drop = TRUE), function(pt) {
    list(x = c(pt$sexmale[1], pt$age[1]), time = I(pt$time), events = I(pt$events), censor = I(pt$censor))
  })
})
out <- list(source = "R survival::lung, 30-day bins, age in 4 bins of 18-100, perturbed counts (set.seed(13))",
  r_version = R.version.string, survival_version = as.character(packageVersion("survival")),
  sites = lapply(sites, unname), fits = list(fit_case("efron"), fit_case("breslow")))
writeLines(toJSON(out, auto_unbox = TRUE, digits = NA, pretty = FALSE), "dpcox_patterns.json")
