# Golden values for the differentially private treatment comparison (app/ipwdp.go,
# docs/dp-compare.md). A dp analyst's comparison is computed from one dp_tables Cox release per
# site: per covariate pattern (the treatment's indicator and the confounders' cells), events and
# censorings at the ends of 30-day bins. The client runs the propensity analysis on the
# pseudo-patients those tables describe. The test builds the tables from the real lung data split
# by institution (/work/shared/reference/lung.csv = analysis/testdata/lung.csv) WITHOUT noise (a
# release with the noise drawn as zero), so R on the same pseudo-patients is the oracle:
#   - a patient with a missing confounder is in no table (complete cases);
#   - numeric confounders in 4 equal-width bins of their declared range (lung_dictionary.json:
#     age 18-100, karno 0-100, wt.loss -50-100; a value clipped to the range), coded by the
#     bin's midpoint; the last bin closed;
#   - times moved to the end of their bin, 30 * ceiling(time / 30) (no endpoint horizon: the
#     3,650-day DP horizon is past every lung time);
#   - treatment: women (sex = female, the indicator sexfemale), or membership in inst1.
# Then glm(binomial), the weights (analysis/ipw.go; as gen_ipw.R), survfit(weights =),
# coxph(weights = w, robust = TRUE), Efron and Breslow.
# Regenerate: cd app/testdata && Rscript ipw_dp_goldens.R
suppressMessages({library(survival); library(jsonlite)})
d <- read.csv("../../analysis/testdata/lung.csv", na.strings = "", stringsAsFactors = FALSE)
bin4 <- function(x, lo, hi) {
  w <- (hi - lo) / 4
  k <- pmin(floor((pmin(pmax(x, lo), hi) - lo) / w), 3)
  lo + (k + 0.5) * w
}
d <- d[complete.cases(d[, c("age", "karno", "wt.loss")]), ]
d <- data.frame(site = d$site, time = 30 * ceiling(d$time / 30), status = d$event,
                sex = d$sex, age = bin4(d$age, 18, 100), karno = bin4(d$karno, 0, 100),
                wt.loss = bin4(d$wt.loss, -50, 100))
ctl <- glm.control(epsilon = 1e-15, maxit = 100)

weights_for <- function(e, trt, estimand, stabilise, pT) {
  w <- switch(estimand,
    ATE = ifelse(trt == 1, 1 / e, 1 / (1 - e)),
    ATT = ifelse(trt == 1, 1, e / (1 - e)),
    overlap = ifelse(trt == 1, 1 - e, e))
  if (stabilise) {
    if (estimand == "ATE") w <- w * ifelse(trt == 1, pT, 1 - pT)
    if (estimand == "ATT") w <- w * ifelse(trt == 1, 1, (1 - pT) / pT)
  }
  w
}
smd <- function(x, trt, w, keep, sdpool) {
  mt <- sum((w * x)[keep & trt == 1]) / sum(w[keep & trt == 1])
  mc <- sum((w * x)[keep & trt == 0]) / sum(w[keep & trt == 0])
  (mt - mc) / sdpool
}
km_arm <- function(fit, k) {
  s <- fit[k]
  infl <- if (is.list(fit$influence.surv)) fit$influence.surv[[k]] else fit$influence.surv
  list(time = s$time, n_risk = s$n.risk, surv = s$surv, std_err = sqrt(colSums(infl^2)))
}
cox_one <- function(f, d, ties) {
  fit <- coxph(f, data = d, weights = w, robust = TRUE, ties = ties)
  list(ties = ties, coef = I(unname(coef(fit))), se_robust = I(unname(sqrt(diag(fit$var)))),
       se_naive = I(unname(sqrt(diag(fit$naive.var)))), score = unname(fit$score), rscore = as.numeric(fit$rscore))
}

one_case <- function(name, d, estimand, stabilise = FALSE, trim = 0, strata = "site", adjust = character(0),
                     treated = "female", treated_site = "") {
  g <- glm(trt ~ age + karno + wt.loss, family = binomial, data = d, control = ctl)
  X <- model.matrix(g)
  e <- unname(fitted(g))
  trt <- d$trt
  keep <- e >= trim & e <= 1 - trim
  w <- weights_for(e, trt, estimand, stabilise, mean(trt))
  bal <- lapply(colnames(X)[-1], function(cn) {
    x <- X[, cn]
    sdp <- sqrt((var(x[trt == 1]) + var(x[trt == 0])) / 2)
    list(column = cn, smd_before = smd(x, trt, rep(1, length(x)), rep(TRUE, length(x)), sdp),
         smd_after = smd(x, trt, w, keep, sdp))
  })
  dk <- d[keep, ]
  dk$w <- w[keep]
  ess <- function(a) { ww <- dk$w[dk$trt == a]; sum(ww)^2 / sum(ww^2) }
  km <- survfit(Surv(time, status) ~ trt, data = dk, weights = w, influence = TRUE)
  rhs <- paste(c("trt", adjust), collapse = " + ")
  f <- as.formula(paste("Surv(time, status) ~", rhs, if (strata == "site") "+ strata(site)" else ""))
  list(name = name, estimand = estimand, stabilise = stabilise, trim = trim, strata = strata,
       adjust = I(adjust), treated = treated, treated_site = treated_site,
       n = nrow(d), treated_n = sum(trt),
       propensity = list(terms = colnames(X), coef = unname(coef(g)), se = unname(sqrt(diag(vcov(g))))),
       trimmed = list(treated = sum(!keep & trt == 1), control = sum(!keep & trt == 0)),
       weight_sum = list(treated = sum(dk$w[dk$trt == 1]), control = sum(dk$w[dk$trt == 0])),
       ess = list(treated = ess(1), control = ess(0)),
       balance = bal,
       km = list(control = km_arm(km, 1), treated = km_arm(km, 2)),
       cox = lapply(c("efron", "breslow"), function(t) cox_one(f, dk, t)))
}

women <- transform(d, trt = as.integer(sex == "female"))
trial <- transform(d, trt = as.integer(site == "inst1"))
cases <- list(
  one_case("lung women ATE by site", women, "ATE"),
  one_case("lung women overlap by site adjusted for age", women, "overlap", adjust = "age"),
  one_case("lung women ATT stabilised trim 0.05 one baseline", women, "ATT", stabilise = TRUE, trim = 0.05, strata = "none"),
  one_case("lung trial inst1 ATE one baseline", trial, "ATE", strata = "none", treated = "", treated_site = "inst1"),
  one_case("lung trial inst1 ATT one baseline adjusted for karno", trial, "ATT", strata = "none", adjust = "karno",
           treated = "", treated_site = "inst1"))
writeLines(toJSON(list(source = paste("R ipw_dp_goldens.R, survival", packageVersion("survival")),
                       bin_days = 30, cases = cases), digits = NA, auto_unbox = TRUE, na = "null"),
           "ipw_dp_goldens.json")
