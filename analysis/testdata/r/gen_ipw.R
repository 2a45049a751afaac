# Goldens for analysis/ipw*.go: propensity model (glm binomial), inverse probability of
# treatment weights (ATE, ATT, overlap; stabilised; trimmed), balance (SMD), ESS, weighted
# Kaplan-Meier (survfit weights=), weighted Cox with robust and naive variance (coxph
# weights=, robust=TRUE), Efron and Breslow, pooled and stratified by site, either adjusted
# for covariates, and the weighted score (log-rank) tests. Real data: survival::lung and survival::rotterdam, and lung.csv's
# institutions as sites, with one institution as a single-arm trial against the others.
#
# Run from analysis/: Rscript testdata/r/gen_ipw.R   (writes testdata/r/ipw_goldens.json)
suppressMessages({library(survival); library(jsonlite)})

# The propensity fit with a convergence criterion far below R's default, so that both sides
# report the maximum likelihood estimate itself rather than where IRLS happened to stop.
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

# SMD of one column: weighted means, the unweighted pooled SD of the whole cohort (before
# weighting and trimming) in the denominator.
smd <- function(x, trt, w, keep, sdpool) {
  mt <- sum((w * x)[keep & trt == 1]) / sum(w[keep & trt == 1])
  mc <- sum((w * x)[keep & trt == 0]) / sum(w[keep & trt == 0])
  (mt - mc) / sdpool
}

# The weighted curve of one arm. Its standard error is the infinitesimal jackknife one that
# survfit computes for non-integer weights, taken from the influence of each patient on S(t):
# se(S) = sqrt(colSums(influence.surv^2)). survival 3.5 reports that same number in
# fit$std.err, which is documented (and used by its intervals) as the se of log S; here the
# intervals are built on se(log S) = se(S) / S, as for unweighted curves.
km_arm <- function(fit, k) {
  s <- fit[k]
  infl <- if (is.list(fit$influence.surv)) fit$influence.surv[[k]] else fit$influence.surv
  se_s <- sqrt(colSums(infl^2))
  z <- qnorm(0.975)
  selog <- se_s / s$surv
  list(time = s$time, n_risk = s$n.risk, n_event = s$n.event, n_censor = s$n.censor,
       surv = s$surv, std_err = se_s, std_err_r = s$std.err * s$surv,
       lower = ifelse(s$surv > 0, exp(log(s$surv) - z * selog), NA),
       upper = ifelse(s$surv > 0, pmin(exp(log(s$surv) + z * selog), 1), NA))
}

cox_one <- function(f, d, ties) {
  fit <- coxph(f, data = d, weights = w, robust = TRUE, ties = ties)
  list(ties = ties, coef = unname(coef(fit)),
       se_robust = unname(sqrt(diag(fit$var))),
       se_naive = unname(sqrt(diag(fit$naive.var))),
       loglik = fit$loglik, score = unname(fit$score), rscore = as.numeric(fit$rscore),
       iter = fit$iter)
}

one_case <- function(name, d, ptformula, estimand, stabilise = FALSE, trim = 0,
                     outcome_covs = character(0), by_site = TRUE) {
  g <- glm(ptformula, family = binomial, data = d, control = ctl)
  X <- model.matrix(g)
  e <- unname(fitted(g))
  trt <- d$trt
  pT <- mean(trt)
  keep <- e >= trim & e <= 1 - trim
  w <- weights_for(e, trt, estimand, stabilise, pT)
  cols <- colnames(X)[-1]
  bal <- lapply(cols, function(cn) {
    x <- X[, cn]
    sdp <- sqrt((var(x[trt == 1]) + var(x[trt == 0])) / 2)
    list(column = cn,
         smd_before = smd(x, trt, rep(1, length(x)), rep(TRUE, length(x)), sdp),
         smd_after = smd(x, trt, w, keep, sdp))
  })
  dk <- d[keep, ]
  dk$w <- w[keep]
  ess <- function(a) { ww <- dk$w[dk$trt == a]; sum(ww)^2 / sum(ww^2) }
  km <- survfit(Surv(time, status) ~ trt, data = dk, weights = w, influence = TRUE)
  rhs <- paste(c("trt", outcome_covs), collapse = " + ")
  fpool <- as.formula(paste("Surv(time, status) ~", rhs))
  fstrat <- as.formula(paste("Surv(time, status) ~", rhs, "+ strata(site)"))
  ocols <- setdiff(colnames(model.matrix(fpool, data = dk)), c("(Intercept)", "trt"))
  list(name = name, estimand = estimand, stabilise = stabilise, trim = trim,
       outcome_covariates = I(outcome_covs), outcome_columns = I(ocols),
       propensity = list(terms = colnames(X), coef = unname(coef(g)),
                         se = unname(sqrt(diag(vcov(g)))), loglik = as.numeric(logLik(g)),
                         iter = g$iter),
       trimmed = list(treated = sum(!keep & trt == 1), control = sum(!keep & trt == 0)),
       weight_sum = list(treated = sum(dk$w[dk$trt == 1]), control = sum(dk$w[dk$trt == 0])),
       ess = list(treated = ess(1), control = ess(0)),
       balance = bal,
       km = list(control = km_arm(km, 1), treated = km_arm(km, 2)),
       cox_pooled = lapply(c("efron", "breslow"), function(t) cox_one(fpool, dk, t)),
       cox_site = if (by_site) lapply(c("efron", "breslow"), function(t) cox_one(fstrat, dk, t)) else list())
}

# Data sets: the design of the propensity model, the outcome, the treatment and a site label
# (three sites by row number, for the federated sums and the site-stratified Cox).
lung2 <- subset(lung, !is.na(ph.ecog) & !is.na(wt.loss))
lung2 <- data.frame(time = lung2$time, status = lung2$status - 1, trt = as.integer(lung2$sex == 2),
                    age = lung2$age, ecog = lung2$ph.ecog, wtloss = lung2$wt.loss)
lung2$site <- (seq_len(nrow(lung2)) - 1) %% 3

rot <- rotterdam
rot <- data.frame(time = rot$dtime, status = rot$death, trt = rot$hormon, age = rot$age,
                  meno = rot$meno, size = rot$size, grade = rot$grade, nodes = rot$nodes,
                  lpgr = log1p(rot$pgr), ler = log1p(rot$er))
rot$site <- (seq_len(nrow(rot)) - 1) %% 3

# lung.csv as the demo's lung sites hold it (one site per institution), for the end-to-end
# test of oncofed-cli ipw over a real network: women against men, complete cases.
lcsv <- read.csv("testdata/lung.csv")
lcsv <- lcsv[complete.cases(lcsv[, c("age", "karno", "wt.loss")]), ]
lsites <- data.frame(time = lcsv$time, status = lcsv$event, trt = as.integer(lcsv$sex == "female"),
                     age = lcsv$age, karno = lcsv$karno, wt.loss = lcsv$wt.loss, site = lcsv$site)
fls <- trt ~ age + karno + wt.loss

# lung.csv's ECOG as a confounder, coarsened as `ipw --merge ecog=ecog2,ecog3` coarsens it (ECOG 3
# holds one patient: no site may release a class of one): the merged level takes ECOG 2's place
# and is named ecog2+ecog3.
lsites_ecog <- lcsv[!is.na(lcsv$ecog) & lcsv$ecog != "", ]
lsites_ecog <- data.frame(time = lsites_ecog$time, status = lsites_ecog$event, trt = as.integer(lsites_ecog$sex == "female"),
                          age = lsites_ecog$age, karno = lsites_ecog$karno, wt.loss = lsites_ecog$wt.loss,
                          ecog = factor(ifelse(lsites_ecog$ecog %in% c("ecog2", "ecog3"), "ecog2+ecog3", lsites_ecog$ecog),
                                        levels = c("ecog0", "ecog1", "ecog2+ecog3")),
                          site = lsites_ecog$site)
flse <- trt ~ age + karno + wt.loss + ecog

# A single-arm trial against external controls: the patients of one institution of lung.csv
# (inst1, the largest) are the "trial", every other institution's patients its controls. The
# treatment is membership in a site, constant within each site, so only the pooled weighted
# Cox model exists (a model stratified by site compares nothing: R's coef would be NA).
ltrial <- transform(lsites, trt = as.integer(site == "inst1"))

fl <- trt ~ age + ecog + wtloss
fr <- trt ~ age + meno + size + grade + nodes + lpgr + ler

cases <- list(
  one_case("lung ATE", lung2, fl, "ATE"),
  one_case("lung ATT stabilised", lung2, fl, "ATT", stabilise = TRUE),
  one_case("lung overlap + age", lung2, fl, "overlap", outcome_covs = "age"),
  one_case("rotterdam hormon ATE", rot, fr, "ATE"),
  one_case("rotterdam hormon ATE stabilised trim 0.05", rot, fr, "ATE", stabilise = TRUE, trim = 0.05),
  one_case("rotterdam hormon ATT", rot, fr, "ATT"),
  one_case("rotterdam hormon overlap", rot, fr, "overlap"),
  one_case("lung sites ATE", lsites, fls, "ATE"),
  one_case("lung sites overlap", lsites, fls, "overlap"),
  one_case("lung trial inst1 ATT", ltrial, fls, "ATT", by_site = FALSE),
  one_case("lung trial inst1 ATE", ltrial, fls, "ATE", by_site = FALSE),
  one_case("lung trial inst1 overlap", ltrial, fls, "overlap", by_site = FALSE),
  # The pooled model adjusted for covariates (the third, opt-in phase of docs/ipw.md): the
  # strongly confounded rotterdam comparison, lung.csv's institutions (women against men) as in
  # the end-to-end test, and the single-arm trial.
  one_case("rotterdam hormon ATE adjusted", rot, fr, "ATE", outcome_covs = c("age", "size", "grade", "lpgr")),
  one_case("rotterdam hormon ATT stabilised trim 0.02 adjusted", rot, fr, "ATT", stabilise = TRUE, trim = 0.02,
           outcome_covs = c("age", "nodes", "meno")),
  one_case("lung sites ATE adjusted", lsites, fls, "ATE", outcome_covs = c("age", "karno")),
  one_case("lung sites overlap adjusted", lsites, fls, "overlap", outcome_covs = c("wt.loss")),
  one_case("lung sites ATE stabilised trim 0.05 adjusted", lsites, fls, "ATE", stabilise = TRUE, trim = 0.05,
           outcome_covs = c("age", "karno", "wt.loss")),
  one_case("lung trial inst1 ATT adjusted", ltrial, fls, "ATT", outcome_covs = c("age", "wt.loss"), by_site = FALSE),
  one_case("lung trial inst1 ATE adjusted", ltrial, fls, "ATE", outcome_covs = c("karno"), by_site = FALSE),
  # The model stratified by site adjusted for covariates (the cox stage with ipw.adjust; every
  # case above with outcome_covs and by_site has it too): lung.csv by institution with the ATT,
  # and the strongly confounded rotterdam comparison with overlap weights and a factor (size).
  one_case("lung sites ATT adjusted", lsites, fls, "ATT", outcome_covs = c("age", "wt.loss")),
  one_case("rotterdam hormon overlap adjusted", rot, fr, "overlap", outcome_covs = c("age", "size", "nodes")),
  # ECOG coarsened (ipw --merge), stratified by institution and pooled, with and without it in
  # the outcome model.
  one_case("lung ecog merged sites ATE", lsites_ecog, flse, "ATE"),
  one_case("lung ecog merged sites overlap adjusted", lsites_ecog, flse, "overlap", outcome_covs = c("age", "ecog"))
)

data_of <- function(d, f) {
  X <- model.matrix(glm(f, family = binomial, data = d, control = ctl))
  list(time = d$time, status = d$status, trt = d$trt, site = d$site,
       columns = colnames(X), x = unname(as.vector(t(X))))
}

# Quasi-complete separation: hormone therapy was given to node-positive patients only.
rot$nodepos <- as.integer(rot$nodes > 0)
sep <- suppressWarnings(glm(trt ~ age + nodepos, family = binomial, data = rot, control = ctl))

out <- list(
  generated = paste("R", R.version$major, R.version$minor, "survival", packageVersion("survival")),
  data = list(lung = data_of(lung2, fl), rotterdam = data_of(rot, fr), lung_sites = data_of(transform(lsites, site = match(site, sort(unique(site))) - 1), fls),
              lung_trial = data_of(transform(ltrial, site = match(site, sort(unique(site))) - 1), fls),
              lung_ecog_sites = data_of(transform(lsites_ecog, site = match(site, sort(unique(site))) - 1), flse),
              rotterdam_separated = data_of(rot, trt ~ age + nodepos)),
  cases = cases,
  separated = list(converged = sep$converged, coef = unname(coef(sep))))
writeLines(toJSON(out, digits = NA, auto_unbox = TRUE, na = "null"), "testdata/r/ipw_goldens.json")
