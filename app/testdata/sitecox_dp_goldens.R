# Golden values for app.SiteCox on a model fitted on differentially private tables (form
# dp_tables, app/sitecoxdp.go): each site's own Cox fit on the survival tables it released.
# A dp_tables reply holds, per covariate pattern, events and censorings at the ends of the
# site's time bins; fitted on them, the model is R's coxph on the patients with their times
# moved to the end of their bin. The test builds such tables from lung.csv WITHOUT noise (a
# release with the noise drawn as zero), so R's fit on the binned data is the oracle.
#
# Case lung_sex_bin30: lung.csv (analysis/testdata, gen_lung.R), 30-day bins (a time t in
# bin ceiling(t / 30), released at the bin's end 30 * ceiling(t / 30)), model
# coxph(Surv(binned, event) ~ sex) with sex's reference "female" (design column sexmale),
# Efron ties, for each institution with at least 10 events and both sexes present.
# Regenerate: cd app/testdata && Rscript sitecox_dp_goldens.R
suppressMessages({library(survival); library(jsonlite)})
d <- read.csv("../../analysis/testdata/lung.csv", na.strings = "", stringsAsFactors = FALSE)
d$binned <- 30 * ceiling(d$time / 30)
d$sex <- factor(d$sex, levels = c("female", "male"))
site <- c(); coef <- c(); se <- c(); events <- c(); n <- c()
for (s in sort(unique(d$site))) {
  x <- d[d$site == s, ]
  if (sum(x$event) < 10 || length(unique(x$sex)) < 2) next
  f <- coxph(Surv(binned, event) ~ sex, x, ties = "efron")
  site <- c(site, s); coef <- c(coef, coef(f)[[1]]); se <- c(se, sqrt(vcov(f)[1, 1]))
  events <- c(events, sum(x$event)); n <- c(n, nrow(x))
}
writeLines(toJSON(list(source = "R sitecox_dp_goldens.R (survival::coxph on 30-day binned times)",
                       name = "lung_sex_bin30", bin_days = 30, site = site, n = n, events = events,
                       coef = coef, se = se), digits = NA, auto_unbox = TRUE), "sitecox_dp_goldens.json")
