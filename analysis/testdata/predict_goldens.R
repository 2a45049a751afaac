# Golden values for analysis/predict.go: the survival curve a pooled Cox model predicts for one
# covariate profile, with its pointwise 95% interval (issue 20, prediction for one patient).
# Regenerate (from analysis/testdata): Rscript predict_goldens.R  → predict_goldens.json
# (Debian: r-base-core r-cran-survival r-cran-jsonlite; survival 3.5)
#
# For each case: coxph(Surv(time, event) ~ X, ties = ties) on the pooled data (one baseline),
# then survfit(fit, newdata = profile) with its defaults: stype = 2 (exp(-cumulative hazard)),
# ctype from the fit's ties (Efron: ctype 2, Breslow: ctype 1), se.fit = TRUE, conf.type = "log"
# (lower, upper = surv * exp(-/+ 1.96 std.err), upper capped at 1; std.err is the standard error
# of the cumulative hazard). The curve is compared at R's event times (n.event > 0), and
# summary(sf, times = landmarks) at the landmarks (whose std.err is that of survival itself,
# surv * std.err). The site column splits the data into the sites of the federated fit (the Go
# test fits the two-phase pooled form over them).
# Cases: survival::lung by institution (age, male, ph.ecog as a number; Efron and Breslow),
# survival::veteran with time coarsened to 30 days (ties of many events: Efron's step matters)
# and celltype as a factor, split into three sites by row. service: lung.csv by institution with
# sex a factor, the model and profiles the app and CLI tests fit and predict over the sites.
suppressMessages({library(survival); library(jsonlite)})

one <- function(name, site, time, event, X, ties, profiles, landmarks) {
  fit <- coxph(Surv(time, event) ~ X, ties = ties)
  out <- list(name = name, ties = ties, site = site, time = time, event = event,
              p = ncol(X), terms = colnames(X), x = as.vector(t(X)),
              coef = unname(coef(fit)), vcov = as.vector(vcov(fit)), landmarks = landmarks,
              profiles = list())
  for (k in seq_len(nrow(profiles))) {
    nd <- profiles[k, , drop = FALSE]
    sf <- survfit(fit, newdata = list(X = nd))
    ev <- sf$n.event > 0
    sm <- summary(sf, times = landmarks)
    out$profiles[[k]] <- list(x = as.vector(nd), lp = sum(coef(fit) * nd),
      time = sf$time[ev], surv = as.vector(sf$surv)[ev], std_err = as.vector(sf$std.err)[ev],
      lower = as.vector(sf$lower)[ev], upper = as.vector(sf$upper)[ev],
      at_time = sm$time, at_surv = as.vector(sm$surv), at_std_err = as.vector(sm$std.err),
      at_lower = as.vector(sm$lower), at_upper = as.vector(sm$upper))
  }
  out
}

cases <- list()
l <- subset(lung, !is.na(inst) & !is.na(ph.ecog))
Xl <- cbind(age = l$age, male = as.numeric(l$sex == 1), ecog = l$ph.ecog)
pl <- rbind(c(63, 1, 1), c(75, 0, 2), c(50, 1, 0))
for (ties in c("efron", "breslow"))
  cases[[length(cases) + 1]] <- one(paste0("lung_", ties), paste0("inst", l$inst), l$time,
                                     as.integer(l$status == 2), Xl, ties, pl, c(180, 365, 730))
v <- veteran
v$t <- ceiling(v$time / 30) * 30
Xv <- cbind(trt = as.numeric(v$trt == 2), karno = v$karno,
            smallcell = as.numeric(v$celltype == "smallcell"),
            adeno = as.numeric(v$celltype == "adeno"), large = as.numeric(v$celltype == "large"))
pv <- rbind(c(1, 60, 0, 1, 0), c(0, 85, 0, 0, 0))
for (ties in c("efron", "breslow"))
  cases[[length(cases) + 1]] <- one(paste0("veteran_bin30_", ties), paste0("s", seq_len(nrow(v)) %% 3 + 1),
                                     v$t, v$status, Xv, ties, pv, c(90, 180, 365))

# service: lung.csv (the federated test data, one site per institution) as the app fits it,
# coxph(Surv(time, event) ~ sex + age) with sex a factor (female the reference), profiles named
# by their values as an analyst types them. The app and CLI tests fit it over the sites and
# predict from the live fit and from the stored result.
d <- read.csv("lung.csv", na.strings = "", stringsAsFactors = FALSE)
d$sex <- factor(d$sex, levels = c("female", "male"))
service <- list()
for (ties in c("efron", "breslow")) {
  fit <- coxph(Surv(time, event) ~ sex + age, data = d, ties = ties)
  profs <- list()
  for (pr in list(list(sex = "male", age = 63), list(sex = "female", age = 75.5))) {
    nd <- data.frame(sex = factor(pr$sex, levels = c("female", "male")), age = pr$age)
    sf <- survfit(fit, newdata = nd)
    ev <- sf$n.event > 0
    sm <- summary(sf, times = c(180, 365, 730))
    profs[[length(profs) + 1]] <- list(profile = pr, lp = sum(coef(fit) * c(pr$sex == "male", pr$age)),
      time = sf$time[ev], surv = as.vector(sf$surv)[ev], std_err = as.vector(sf$std.err)[ev],
      lower = as.vector(sf$lower)[ev], upper = as.vector(sf$upper)[ev],
      at_time = sm$time, at_surv = as.vector(sm$surv), at_lower = as.vector(sm$lower), at_upper = as.vector(sm$upper))
  }
  service[[ties]] <- list(coef = unname(coef(fit)), profiles = profs)
}
writeLines(toJSON(list(r_version = R.version.string, survival = as.character(packageVersion("survival")),
                       cases = cases, service = service), digits = NA, auto_unbox = TRUE), "predict_goldens.json")
