# Golden values for the leave-one-site-out validation and the pooled model's prediction of a
# model fitted on differentially private tables (app/losodp.go, app/dppooled.go,
# docs/dp-validation.md). A dp_tables reply holds, per site and covariate pattern, events and
# censorings at the ends of 30-day bins; the subjects those tables describe (pseudo-patients:
# each pattern's design row, each cell's events and censorings at the bin's end) are what the
# client validates and predicts on. The test builds the tables from lung.csv (the reference
# split by institution, ../shared/reference/lung.csv = analysis/testdata/lung.csv) WITHOUT
# noise (a release whose noise was drawn as zero), so R on the pseudo-patients is the oracle.
#
# Case lung_sex_age: covariates sex (reference "female", column sexmale) and age clipped to its
# declared range [18, 100] and coded by the midpoint of its quarter (28.25, 48.75, 69.25,
# 89.75), as node/dpcox.go codes a numeric covariate; Efron ties.
#   stratified  for every site s: coxph(Surv(binned, event) ~ sexmale + agemid + strata(site),
#               ties = "efron") on the other sites; lp = X beta (uncentred) at s; Harrell's C
#               concordance(Surv ~ lp, reverse = TRUE) with sqrt(var), Uno's C (timewt "n/G2"),
#               calibration slope coxph(Surv ~ lp) at s. A site without an event or without a
#               comparable pair sits out (null figures, sat_out TRUE).
#   pooled      the same without strata(site), and at landmarks 180 and 365 days calibration in
#               the large (the site's KM against mean exp(-H0(t) exp(lp)), H0 = basehaz(fit,
#               centered = FALSE)) and the IPCW Brier score (riskRegression::Score, cens.model
#               "km"), for sites with >= 10 events (Score needs a few subjects).
#   predict     the pooled model on all sites: survfit(fit, newdata = profile) (stype 2, log CI)
#               for a man of 69.25, the curve at its event times, and summary at 180, 365 and 730 days.
# Regenerate: cd app/testdata && Rscript loso_dp_goldens.R
suppressMessages({library(survival); library(jsonlite); library(riskRegression)})
d <- read.csv("../../analysis/testdata/lung.csv", na.strings = "", stringsAsFactors = FALSE)
d$binned <- 30 * ceiling(d$time / 30)
d$sexmale <- as.integer(d$sex == "male")
w <- (100 - 18) / 4
d$agemid <- 18 + w * (pmin(floor((pmin(pmax(d$age, 18), 100) - 18) / w), 3) + 0.5)
d <- d[!is.na(d$sexmale) & !is.na(d$agemid), ]
covs <- c("sexmale", "agemid")
landmarks <- c(180, 365)
step_at <- function(t, x, y) sapply(t, function(u) { k <- which(x <= u); if (length(k)) y[max(k)] else 0 })
num <- function(x) if (is.null(x) || !is.finite(x)) NA else x

validate <- function(pooled) {
  out <- list()
  for (s in sort(unique(d$site))) {
    tr <- d[d$site != s, ]; te <- d[d$site == s, ]
    f <- if (pooled) coxph(Surv(binned, event) ~ sexmale + agemid, tr, ties = "efron")
         else coxph(Surv(binned, event) ~ sexmale + agemid + strata(site), tr, ties = "efron")
    b <- coef(f)
    lp <- as.numeric(as.matrix(te[, covs]) %*% b)
    r <- list(site = s, n = nrow(te), events = sum(te$event), coef = as.numeric(b))
    h <- concordance(Surv(binned, event) ~ lp, te, reverse = TRUE)
    cnt <- h$count
    if (sum(te$event) == 0 || cnt[["concordant"]] + cnt[["discordant"]] + cnt[["tied.x"]] == 0) {
      out[[length(out) + 1]] <- c(r, list(sat_out = TRUE)); next
    }
    u <- concordance(Surv(binned, event) ~ lp, te, reverse = TRUE, timewt = "n/G2")
    r <- c(r, list(sat_out = FALSE, harrell_c = h$concordance, harrell_se = sqrt(h$var),
                   uno_c = u$concordance, uno_se = sqrt(u$var)))
    sl <- tryCatch(coxph(Surv(binned, event) ~ lp, te, ties = "efron"), warning = function(e) NULL, error = function(e) NULL)
    r$calibration_slope <- if (is.null(sl) || length(unique(lp)) < 2) NA else coef(sl)[[1]]
    r$calibration_slope_se <- if (is.null(sl) || length(unique(lp)) < 2) NA else sqrt(vcov(sl)[1, 1])
    if (pooled && sum(te$event) >= 10) {
      bh <- basehaz(f, centered = FALSE)
      marks <- landmarks[landmarks <= max(tr$binned)]
      H0 <- step_at(marks, bh$time, bh$hazard)
      km <- summary(survfit(Surv(binned, event) ~ 1, te), times = marks, extend = TRUE)$surv
      pred <- sapply(H0, function(h) mean(exp(-h * exp(lp))))
      fx <- coxph(Surv(binned, event) ~ sexmale + agemid, tr, ties = "efron", x = TRUE, y = TRUE)
      te2 <- te; te2$time <- te2$binned
      brier <- Score(list(m = fx), formula = Surv(time, event) ~ 1, data = te2, times = marks,
                     metrics = "brier", cens.model = "km", null.model = FALSE, se.fit = FALSE)$Brier$score$Brier
      r <- c(r, list(landmarks = marks, observed = km, predicted = pred, brier = brier))
    }
    out[[length(out) + 1]] <- r
  }
  out
}

fit <- coxph(Surv(binned, event) ~ sexmale + agemid, d, ties = "efron")
prof <- data.frame(sexmale = 1, agemid = 18 + w * 2.5)
sf <- survfit(fit, newdata = prof)
at <- summary(sf, times = c(180, 365, 730), extend = TRUE)
ev <- sf$n.event > 0   # the curve at its event times (it is flat between them)
predict <- list(coef = as.numeric(coef(fit)), se = as.numeric(sqrt(diag(vcov(fit)))), profile = as.list(prof),
                lp = sum(coef(fit) * unlist(prof)), time = sf$time[ev], surv = as.numeric(sf$surv)[ev],
                std_err = as.numeric(sf$std.err)[ev], lower = as.numeric(sf$lower)[ev], upper = as.numeric(sf$upper)[ev],
                at_time = at$time, at_surv = as.numeric(at$surv), at_lower = as.numeric(at$lower), at_upper = as.numeric(at$upper))
writeLines(toJSON(list(source = "R loso_dp_goldens.R (survival::coxph, concordance, basehaz, survfit; riskRegression::Score) on 30-day binned lung",
                       name = "lung_sex_age", bin_days = 30, age_range = c(18, 100), landmarks = landmarks,
                       stratified = validate(FALSE), pooled = validate(TRUE), predict = predict),
                  digits = NA, auto_unbox = TRUE, na = "null"), "loso_dp_goldens.json")
