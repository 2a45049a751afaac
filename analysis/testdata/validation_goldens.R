# Golden values for analysis/validation.go: discrimination and calibration of a Cox model at a
# site that did not help fit it, and the random-effects pooling of the per-site figures
# (internal–external validation, leave one site out; issue 20).
# Regenerate (from analysis/testdata): Rscript validation_goldens.R  → validation_goldens.json
# (Debian: r-base-core r-cran-survival r-cran-jsonlite r-cran-metafor; survival 3.5, metafor 3.8)
#
# concordance  Harrell's C: survival::concordance(Surv(time, event) ~ lp, reverse = TRUE),
#              its pair counts and std err sqrt(var) (the infinitesimal-jackknife variance);
#              Uno's C: the same with timewt = "n/G2". Cases: lung (one site, a linear predictor
#              with ties), veteran with time coarsened to 30 days (ties in time, in lp, in both).
# loso         lung.csv split by institution. For every site with >= 10 events: fit
#              coxph(Surv(time, event) ~ age + male + ecog, ties = "efron") on all other sites
#              (ecog as the number 0..3), evaluate lp = X beta (uncentred) at the held-out site:
#              C and Uno's C as above, calibration slope = coxph(Surv ~ lp) at the site (Efron),
#              and calibration in the large at landmarks: the site's KM against the mean of
#              exp(-H0(t) exp(lp)) with H0 the training fit's cumulative baseline hazard at lp = 0
#              (basehaz(fit, centered = FALSE), Efron's estimator as survfit.coxph computes it),
#              and the time-dependent Brier score there: riskRegression::Score(list(fit),
#              Surv(time, event) ~ 1, data = site, times, metrics = "brier", cens.model = "km")
#              (IPCW with the site's censoring Kaplan-Meier; r-cran-riskregression 2022.11.28).
# pooled       metafor::rma(yi, sei = sei, method = "REML") and predict(): Harrell's C on the
#              logit scale (yi = qlogis(C), sei = se / (C (1 - C)); Debray et al. 2017, BMJ 356:i6460)
#              back-transformed with plogis, and the calibration slope on its own scale.
#              test = "z" (metafor's default): the 95% prediction interval is
#              mu ± z_0.975 sqrt(tau2 + se(mu)^2). REML is iterated to threshold 1e-12 so that the
#              golden is the REML optimum itself (metafor's default stops at a tau2 step < 1e-5).
#              Cases: the lung LOSO C and slopes, metafor's dat.bcg log RR, and a homogeneous set
#              (tau2 = 0 on the boundary).
suppressMessages({library(survival); library(jsonlite); library(metafor); library(riskRegression)})

conc <- function(time, event, lp) {
  h <- concordance(Surv(time, event) ~ lp, reverse = TRUE)
  u <- concordance(Surv(time, event) ~ lp, reverse = TRUE, timewt = "n/G2")
  cnt <- h$count
  list(harrell_c = h$concordance, harrell_se = sqrt(h$var),
       concordant = cnt[["concordant"]], discordant = cnt[["discordant"]], tied_x = cnt[["tied.x"]],
       tied_y = cnt[["tied.y"]], tied_xy = cnt[["tied.xy"]],
       uno_c = u$concordance, uno_se = sqrt(u$var))
}

cases <- list()
l <- subset(lung, !is.na(inst) & !is.na(ph.ecog))
lp <- signif(0.01 * l$age + 0.5 * (l$sex == 1) + 0.4 * l$ph.ecog, 15)  # as the JSON holds it
cases[[1]] <- c(list(name = "lung_lp", time = l$time, event = as.integer(l$status == 2), lp = lp),
                conc(l$time, as.integer(l$status == 2), lp))
v <- veteran; v$t <- ceiling(v$time / 30) * 30
lpv <- 0.3 * (v$trt == 2) + ifelse(v$celltype == "squamous", 0, 0.7)   # four distinct values
cases[[2]] <- c(list(name = "veteran_bin30", time = v$t, event = v$status, lp = lpv), conc(v$t, v$status, lpv))

d <- read.csv("lung.csv", na.strings = "", stringsAsFactors = FALSE)
d <- d[!is.na(d$ecog), ]
d$male <- as.integer(d$sex == "male"); d$ecogn <- as.numeric(sub("ecog", "", d$ecog))
covs <- c("age", "male", "ecogn")
landmarks <- c(180, 365)
ev <- tapply(d$event, d$site, sum)
held <- sort(names(ev)[ev >= 10])
step_at <- function(t, x, y) sapply(t, function(u) { k <- which(x <= u); if (length(k)) y[max(k)] else 0 })
sites <- list()
for (s in held) {
  tr <- d[d$site != s, ]; te <- d[d$site == s, ]
  fit <- coxph(Surv(time, event) ~ age + male + ecogn, tr, ties = "efron")
  b <- coef(fit)
  lpte <- signif(as.numeric(as.matrix(te[, covs]) %*% b), 15)
  slope <- coxph(Surv(time, event) ~ lpte, te, ties = "efron")
  bh <- basehaz(fit, centered = FALSE)
  H0 <- step_at(landmarks, bh$time, bh$hazard)
  km <- summary(survfit(Surv(time, event) ~ 1, te), times = landmarks, extend = TRUE)$surv
  pred <- sapply(H0, function(h) mean(exp(-h * exp(lpte))))
  sf <- survfit(fit, newdata = te[, covs])          # cross-check of the predicted survival
  pm <- rowMeans(summary(sf, times = landmarks, extend = TRUE)$surv)
  stopifnot(all.equal(pred, as.numeric(pm), tolerance = 1e-10))
  fitx <- coxph(Surv(time, event) ~ age + male + ecogn, tr, ties = "efron", x = TRUE, y = TRUE)
  brier <- Score(list(m = fitx), formula = Surv(time, event) ~ 1, data = te, times = landmarks,
                 metrics = "brier", cens.model = "km", null.model = FALSE, se.fit = FALSE)$Brier$score$Brier
  sites[[length(sites) + 1]] <- c(list(site = s, n = nrow(te), events = sum(te$event),
    train_coef = as.numeric(b), lp = lpte,
    calibration_slope = coef(slope)[[1]], calibration_slope_se = sqrt(vcov(slope)[1, 1]),
    landmarks = landmarks, baseline_cumhaz = H0, observed_km = km, mean_predicted = pred, brier = brier),
    conc(te$time, te$event, lpte))
}

reml <- function(name, yi, sei, logit) {
  yi <- signif(yi, 15); sei <- signif(sei, 15)
  r <- rma(yi = yi, sei = sei, method = "REML", control = list(threshold = 1e-12, maxiter = 10000))
  r0 <- rma(yi = yi, sei = sei, method = "REML")
  p <- if (logit) predict(r, transf = plogis) else predict(r)
  list(name = name, yi = yi, sei = sei, logit = logit, estimate = as.numeric(r$b), se = r$se,
       tau2 = r$tau2, I2 = r$I2, Q = r$QE,
       pred = p$pred, lower = p$ci.lb, upper = p$ci.ub, prediction_lower = p$pi.lb, prediction_upper = p$pi.ub,
       default_threshold_tau2 = r0$tau2)
}
cs <- sapply(sites, function(x) x$harrell_c); cse <- sapply(sites, function(x) x$harrell_se)
ss <- sapply(sites, function(x) x$calibration_slope); sse <- sapply(sites, function(x) x$calibration_slope_se)
b <- escalc(measure = "RR", ai = tpos, bi = tneg, ci = cpos, di = cneg, data = dat.bcg)
pooled <- list(reml("lung_loso_harrell_c", qlogis(cs), cse / (cs * (1 - cs)), TRUE),
               reml("lung_loso_slope", ss, sse, FALSE),
               reml("bcg", as.numeric(b$yi), sqrt(as.numeric(b$vi)), FALSE),
               reml("homogeneous", c(0.10, 0.12, 0.09), c(0.20, 0.25, 0.30), FALSE))

loso <- list(data = as.list(d[, c("site", "time", "event", covs)]), covariates = covs, ties = "efron", sites = sites)
writeLines(toJSON(list(source = "R validation_goldens.R (survival::concordance, coxph, basehaz; metafor::rma REML)",
                       concordance = cases, loso = loso, pooled = pooled),
                  digits = NA, auto_unbox = TRUE, na = "null"), "validation_goldens.json")
