# Golden results of R's survival package for the Kaplan-Meier family and the log-rank test,
# read by analysis/km_test.go and analysis/logrank_test.go.
# Regenerate from analysis/testdata:  Rscript km_goldens.R   (writes km_goldens.json)
# (Debian: apt-get install r-base-core r-cran-survival r-cran-jsonlite)
#
# Every data set is written out patient by patient (time, event, site, grouping columns) so that
# the Go tests can build one SurvivalTable per site and group, merge them, and compare with what
# R computes on the pooled records. Sites of the survival package's data sets are fake, assigned
# deterministically by row number.
suppressMessages({library(survival); library(jsonlite)})

# --- data sets ------------------------------------------------------------------------------
fake_sites <- function(n, k) paste0("site", (seq_len(n) - 1) %% k + 1)
ds <- list()
l <- read.csv("lung.csv", stringsAsFactors = FALSE, na.strings = "")
ds$lung <- data.frame(time = l$time, event = l$event, site = l$site, sex = l$sex, ecog = l$ecog,
                      stringsAsFactors = FALSE)
v <- survival::veteran
ds$veteran <- data.frame(time = v$time, event = v$status, site = fake_sites(nrow(v), 5),
                         trt = paste0("trt", v$trt), celltype = as.character(v$celltype),
                         stringsAsFactors = FALSE)
o <- survival::ovarian
ds$ovarian <- data.frame(time = o$futime, event = o$fustat, site = fake_sites(nrow(o), 3),
                         rx = paste0("rx", o$rx), stringsAsFactors = FALSE)
cl <- subset(survival::colon, etype == 2) # death endpoint
ds$colon <- data.frame(time = cl$time, event = cl$status, site = fake_sites(nrow(cl), 8),
                       rx = as.character(cl$rx), stringsAsFactors = FALSE)
a <- survival::aml
ds$aml <- data.frame(time = a$time, event = a$status, site = fake_sites(nrow(a), 3),
                     x = as.character(a$x), stringsAsFactors = FALSE)
# Edge cases, written by hand.
ds$all_censored <- data.frame(time = c(1, 2, 3, 4, 5), event = 0, site = c("a", "b", "a", "b", "a"),
                              g = "all", stringsAsFactors = FALSE)
ds$single_event <- data.frame(time = 5, event = 1, site = "a", g = "all", stringsAsFactors = FALSE)
ds$single_censored <- data.frame(time = 5, event = 0, site = "a", g = "all", stringsAsFactors = FALSE)
# The same times at several sites, events and censorings tied at one time, and a curve that
# falls to 0 (the last subjects at risk all die).
ds$ties_to_zero <- data.frame(
  time  = c(2, 2, 2, 3, 3, 5, 5, 5, 7, 7, 8, 8, 2, 3, 5, 5, 7, 8),
  event = c(1, 0, 1, 1, 1, 0, 1, 1, 0, 1, 1, 1, 1, 0, 1, 0, 1, 1),
  site  = c("a", "a", "b", "b", "c", "a", "b", "c", "a", "c", "b", "c", "c", "a", "a", "b", "b", "a"),
  g     = c(rep("A", 12), rep("B", 6)), stringsAsFactors = FALSE)
# Curves flat at exactly 0.5: in the middle (median = midpoint of the flat segment) and at the end
# (quantile.survfit and print.survfit disagree there), with censorings before the first event
# (log-log interval undefined while S = 1) and events at time 0.
ds$flat_half <- data.frame(
  time  = c(1, 2, 3, 4, 0.5, 1, 2, 3, 4, 0, 0, 1, 2, 3, 3, 6),
  event = c(1, 1, 0, 0, 0, 1, 1, 0, 1, 1, 0, 1, 0, 1, 1, 0),
  site  = c("a", "b", "a", "b", "a", "b", "a", "b", "a", "a", "b", "a", "b", "a", "b", "a"),
  g     = c(rep("ends_half", 4), rep("mid_half", 5), rep("zero_time", 7)), stringsAsFactors = FALSE)
# Log-rank corner cases: a group nobody of which is at risk at an event time (expected 0, left
# out of df), a group without events, and a stratum holding one group only.
ds$lr_edge <- data.frame(
  time  = c(5, 6, 7, 8, 9, 10, 1, 2, 6, 8, 9, 11, 12, 3, 4),
  event = c(1, 0, 1, 1, 0, 1, 0, 0, 0, 0, 0, 0, 0, 1, 1),
  site  = c("a", "a", "b", "b", "a", "b", "a", "b", "a", "b", "a", "b", "a", "c", "c"),
  g     = c(rep("A", 6), "C", "C", rep("B", 5), "A", "A"), stringsAsFactors = FALSE)
# Two groups whose only event time has everybody at risk dying: zero variance, survdiff's solve fails.
ds$lr_singular <- data.frame(time = c(1, 1), event = c(1, 1), site = c("a", "b"), g = c("A", "B"),
                             stringsAsFactors = FALSE)

bin <- function(t, w) if (w > 0) ceiling(t / w) * w else t
num <- function(x) as.numeric(x)

# --- Kaplan-Meier family ----------------------------------------------------------------------
km_rows <- function(fit) {
  s <- summary(fit, censored = TRUE)
  list(time = s$time, n_risk = s$n.risk, n_event = s$n.event, n_censor = s$n.censor,
       surv = s$surv, std_err = s$std.err, std_err_log = fit$std.err, lower = s$lower, upper = s$upper)
}
landmarks <- function(fit, times) {
  s <- summary(fit, times = times, extend = TRUE)
  list(time = s$time, n_risk = s$n.risk, n_event = s$n.event, n_censor = s$n.censor,
       surv = s$surv, std_err = s$std.err, lower = s$lower, upper = s$upper)
}
quantiles <- function(fit, probs) {
  q <- quantile(fit, probs)
  list(prob = probs, quantile = num(q$quantile), lower = num(q$lower), upper = num(q$upper))
}
rmeans <- function(fit, taus) lapply(taus, function(tau) {
  r <- tryCatch(summary(fit, rmean = tau)$table, error = function(e) conditionMessage(e))
  if (is.character(r)) list(tau = tau, error = r)
  else list(tau = tau, rmean = num(r["rmean"]), se = num(r["se(rmean)"]))
})
table_median <- function(fit) {
  t <- summary(fit)$table
  list(median = num(t["median"]), lcl = num(t[grep("LCL", names(t))]), ucl = num(t[grep("UCL", names(t))]))
}

km_case <- function(name, d, group_by, w, conf_type, conf_int, lm_times, taus,
                    probs = c(0.25, 0.5, 0.75)) {
  d$t <- bin(d$time, w)
  if (is.null(group_by)) { d$grp <- "all" } else { d$grp <- d[[group_by]] }
  d <- d[!is.na(d$grp), ]
  groups <- sort(unique(d$grp))
  list(name = name, dataset = d$ds[1], group_by = if (is.null(group_by)) "" else group_by,
       bin = w, conf_type = conf_type, conf_int = conf_int, landmark_times = lm_times,
       groups = lapply(groups, function(g) {
         s <- d[d$grp == g, ]
         fit <- survfit(Surv(t, event) ~ 1, s, conf.type = conf_type, conf.int = conf_int)
         rev <- survfit(Surv(t, 1 - event) ~ 1, s, conf.type = conf_type, conf.int = conf_int)
         list(group = g, n = nrow(s), events = sum(s$event), km = km_rows(fit),
              landmarks = landmarks(fit, lm_times), quantiles = quantiles(fit, probs),
              table_median = table_median(fit), rmean = rmeans(fit, taus),
              followup = quantiles(rev, 0.5))
       }))
}
for (n in names(ds)) ds[[n]]$ds <- n

cases <- list()
add <- function(x) cases[[length(cases) + 1]] <<- x
lung_lm <- c(0, 90, 180, 365, 730, 1100)
lung_tau <- c(3, 90, 365, 730, 1022, 1100)
for (w in c(0, 30)) for (ct in c("log", "log-log", "plain")) {
  for (gb in list(NULL, "sex", "ecog"))
    add(km_case(sprintf("lung/%s/bin%d/%s", if (is.null(gb)) "all" else gb, w, ct), ds$lung, gb, w, ct, 0.95,
                lung_lm, lung_tau))
}
add(km_case("lung/all/bin0/log/90%", ds$lung, NULL, 0, "log", 0.90, lung_lm, lung_tau, c(0, 0.1, 0.5, 0.9)))
for (w in c(0, 7)) for (gb in c("trt", "celltype")) for (ct in c("log", "log-log"))
  add(km_case(sprintf("veteran/%s/bin%d/%s", gb, w, ct), ds$veteran, gb, w, ct, 0.95,
              c(30, 90, 180, 365, 1000), c(90, 365, 1000)))
for (ct in c("log", "plain")) add(km_case(sprintf("ovarian/rx/bin0/%s", ct), ds$ovarian, "rx", 0, ct, 0.95,
                                          c(180, 365, 730, 1300), c(365, 730, 1300)))
for (w in c(0, 30)) add(km_case(sprintf("colon/rx/bin%d/log", w), ds$colon, "rx", w, "log", 0.95,
                                c(365, 730, 1825, 3500), c(365, 1825, 3000)))
for (ct in c("log", "log-log", "plain")) add(km_case(sprintf("aml/x/bin0/%s", ct), ds$aml, "x", 0, ct, 0.95,
                                                     c(10, 20, 50, 200), c(12, 48, 100, 200)))
for (n in c("all_censored", "single_event", "single_censored", "ties_to_zero", "flat_half"))
  for (ct in c("log", "log-log", "plain"))
    add(km_case(sprintf("%s/g/bin0/%s", n, ct), ds[[n]], "g", 0, ct, 0.95, c(-1, 0, 1, 2.5, 3, 5, 10),
                c(0.5, 3, 5, 10), c(0, 0.25, 0.5, 0.75, 1)))

# --- log-rank -----------------------------------------------------------------------------------
lr_case <- function(name, d, group_by, w, stratified) {
  d$t <- bin(d$time, w)
  d$grp <- d[[group_by]]
  d <- d[!is.na(d$grp), ]
  f <- if (stratified) Surv(t, event) ~ grp + strata(site) else Surv(t, event) ~ grp
  r <- tryCatch(survdiff(f, d), error = function(e) conditionMessage(e))
  base <- list(name = name, dataset = d$ds[1], group_by = group_by, bin = w, stratified = stratified,
               groups = sort(unique(d$grp)))
  if (is.character(r)) return(c(base, list(error = r)))
  obs <- if (is.matrix(r$obs)) rowSums(r$obs) else r$obs
  exp <- if (is.matrix(r$exp)) rowSums(r$exp) else r$exp
  df <- sum(exp > 0) - 1
  c(base, list(n = num(r$n), observed = num(obs), expected = num(exp), var = num(t(r$var)),
               chisq = r$chisq, df = df, p = pchisq(r$chisq, df, lower.tail = FALSE)))
}
lr <- list()
addlr <- function(x) lr[[length(lr) + 1]] <<- x
for (w in c(0, 30)) for (s in c(FALSE, TRUE)) for (gb in c("sex", "ecog"))
  addlr(lr_case(sprintf("lung/%s/bin%d/%s", gb, w, if (s) "strata" else "plain"), ds$lung, gb, w, s))
for (w in c(0, 7)) for (s in c(FALSE, TRUE)) for (gb in c("trt", "celltype"))
  addlr(lr_case(sprintf("veteran/%s/bin%d/%s", gb, w, if (s) "strata" else "plain"), ds$veteran, gb, w, s))
for (s in c(FALSE, TRUE)) {
  addlr(lr_case(sprintf("ovarian/rx/bin0/%s", if (s) "strata" else "plain"), ds$ovarian, "rx", 0, s))
  addlr(lr_case(sprintf("colon/rx/bin0/%s", if (s) "strata" else "plain"), ds$colon, "rx", 0, s))
  addlr(lr_case(sprintf("aml/x/bin0/%s", if (s) "strata" else "plain"), ds$aml, "x", 0, s))
  addlr(lr_case(sprintf("ties_to_zero/g/bin0/%s", if (s) "strata" else "plain"), ds$ties_to_zero, "g", 0, s))
  addlr(lr_case(sprintf("flat_half/g/bin0/%s", if (s) "strata" else "plain"), ds$flat_half, "g", 0, s))
  addlr(lr_case(sprintf("lr_edge/g/bin0/%s", if (s) "strata" else "plain"), ds$lr_edge, "g", 0, s))
}
addlr(lr_case("lr_singular/g/bin0/plain", ds$lr_singular, "g", 0, FALSE))
addlr(lr_case("colon/rx/bin30/strata", ds$colon, "rx", 30, TRUE))

out <- list(
  generator = "analysis/testdata/km_goldens.R",
  r_version = R.version.string, survival_version = as.character(packageVersion("survival")),
  binning = "time -> ceiling(time / bin) * bin",
  datasets = lapply(ds, function(d) { d$ds <- NULL; as.list(d) }),
  km = cases, logrank = lr)
writeLines(toJSON(out, digits = NA, auto_unbox = TRUE, na = "null"), "km_goldens.json")
