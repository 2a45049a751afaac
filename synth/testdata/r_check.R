# R's survival package on a synthetic site, read by synth/golden_test.go.
# Regenerate from synth/: go test -run TestGoldenSite -regen . && (cd testdata && Rscript r_check.R)
# The CSV nsclc_golden.csv is site 0 of Spec{Study: NSCLC, SiteSizes: [800, 200], Seed: 2024}.
suppressMessages({library(survival); library(jsonlite)})
d <- read.csv("nsclc_golden.csv", stringsAsFactors = FALSE, na.strings = "")
out <- list(n = nrow(d), os_events = sum(d$os_event), pfs_events = sum(d$pfs_event), arms = list())
for (tr in sort(unique(d$treatment))) {
  s <- d[d$treatment == tr, ]
  f <- survfit(Surv(os_days, os_event) ~ 1, data = s)
  g <- survfit(Surv(pfs_days, pfs_event) ~ 1, data = s)
  out$arms[[tr]] <- list(n = nrow(s), os_median = unname(quantile(f, 0.5)$quantile),
                         pfs_median = unname(quantile(g, 0.5)$quantile))
}
# Pembro-chemo vs chemo, adjusted for ECOG, sex and age (complete cases), Efron ties.
s <- d[d$treatment %in% c("pembro-chemo", "chemo"), ]
s$trt <- as.numeric(s$treatment == "pembro-chemo")
s$female <- as.numeric(s$sex == "female")
fit <- coxph(Surv(os_days, os_event) ~ trt + ecog + female + age, data = s, ties = "efron")
out$cox <- list(terms = names(coef(fit)), coef = unname(coef(fit)), se = unname(sqrt(diag(vcov(fit)))),
                n = fit$n, events = fit$nevent)
write(toJSON(out, digits = NA, auto_unbox = TRUE, pretty = TRUE, na = "null"), "r_check.json")
