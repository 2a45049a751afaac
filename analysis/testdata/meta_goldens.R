# Golden values for analysis/heterogeneity.go: fixed-effect (inverse variance) and
# DerSimonian–Laird random-effects meta-analysis, Cochran's Q and I², from metafor::rma
# (metafor 3.8, Debian r-cran-metafor), with the formulas also written out by hand below as a
# cross-check of metafor itself.
# Regenerate: cd analysis/testdata && Rscript meta_goldens.R
#
# Cases:
#  lung_sex_by_site  per-site Cox fits coxph(Surv(time, event) ~ sex) of lung.csv (gen_lung.R),
#                    for each institution with at least 10 events and both sexes present;
#                    yi = log HR (male vs female reference = "female", sorted), sei = se(coef).
#  bcg               metafor's dat.bcg (Colditz et al. 1994), log risk ratios from
#                    escalc(measure = "RR"), sei = sqrt(vi).
#  homogeneous       three made-up estimates with Q < df, so τ² is truncated at 0 (DL = fixed).
#  single            one site only: Q = 0, df = 0, τ² = 0.
# Inputs are rounded to 15 significant digits before fitting, so that the JSON (15 digits)
# holds exactly the inputs R used.
suppressMessages({library(survival); library(jsonlite); library(metafor)})
d <- read.csv("lung.csv", na.strings = "", stringsAsFactors = FALSE)

by_hand <- function(yi, sei) {
  v <- sei^2; w <- 1 / v; k <- length(yi)
  fe <- sum(w * yi) / sum(w); Q <- sum(w * (yi - fe)^2); df <- k - 1
  cc <- sum(w) - sum(w^2) / sum(w)
  tau2 <- if (k > 1) max(0, (Q - df) / cc) else 0
  ws <- 1 / (v + tau2); re <- sum(ws * yi) / sum(ws)
  list(fixed = fe, fixed_se = sqrt(1 / sum(w)), random = re, random_se = sqrt(1 / sum(ws)), tau2 = tau2, Q = Q,
       I2 = if (Q > 0) 100 * max(0, (Q - df) / Q) else 0)
}
pooled <- function(r) list(estimate = as.numeric(r$b), se = r$se, z = r$zval, p = r$pval, lower = r$ci.lb, upper = r$ci.ub)
run <- function(name, site, yi, sei) {
  yi <- signif(yi, 15); sei <- signif(sei, 15)
  fe <- rma(yi = yi, sei = sei, method = "FE"); re <- rma(yi = yi, sei = sei, method = "DL")
  h <- by_hand(yi, sei)
  stopifnot(all.equal(h$fixed, as.numeric(fe$b), tolerance = 1e-12), all.equal(h$random, as.numeric(re$b), tolerance = 1e-12),
            all.equal(h$tau2, re$tau2, tolerance = 1e-12), all.equal(h$Q, re$QE, tolerance = 1e-12),
            all.equal(h$I2, re$I2, tolerance = 1e-12), all.equal(h$random_se, re$se, tolerance = 1e-12))
  list(name = name, site = site, yi = yi, sei = sei, level = 0.95, fixed = pooled(fe), random = pooled(re),
       tau2 = re$tau2, Q = re$QE, df = re$k - 1, Q_p = re$QEp, I2 = re$I2, H2 = re$H2,
       weights_fixed = as.numeric(weights(fe)), weights_random = as.numeric(weights(re)))
}

cases <- list()
sites <- sort(unique(d$site)); site <- c(); yi <- c(); sei <- c()
for (s in sites) {
  x <- d[d$site == s, ]
  if (sum(x$event) < 10 || length(unique(x$sex)) < 2) next
  f <- coxph(Surv(time, event) ~ sex, x)
  site <- c(site, s); yi <- c(yi, coef(f)[[1]]); sei <- c(sei, sqrt(vcov(f)[1, 1]))
}
cases[[1]] <- run("lung_sex_by_site", site, yi, sei)
b <- escalc(measure = "RR", ai = tpos, bi = tneg, ci = cpos, di = cneg, data = dat.bcg)
cases[[2]] <- run("bcg", paste0("trial", dat.bcg$trial), as.numeric(b$yi), sqrt(as.numeric(b$vi)))
cases[[3]] <- run("homogeneous", c("a", "b", "c"), c(0.10, 0.12, 0.09), c(0.20, 0.25, 0.30))
cases[[4]] <- run("single", "only", 0.5, 0.2)
writeLines(toJSON(list(source = "R meta_goldens.R (metafor::rma, methods FE and DL)", cases = cases),
                  digits = NA, auto_unbox = FALSE, na = "null"), "meta_expected.json")
