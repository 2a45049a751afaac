# Golden results for competing risks (Aalen-Johansen cumulative incidence, Gray's test,
# Fine-Gray) and delayed entry (counting-process Kaplan-Meier, log-rank, Cox), read by
# analysis/competing_test.go.
# Regenerate from analysis/testdata:  Rscript competing_goldens.R   (writes competing_goldens.json)
# (Debian: apt-get install r-base-core r-cran-survival r-cran-jsonlite r-cran-cmprsk)
#
# Every data set is written out patient by patient (time, status, entry, site, group, x1, x2):
# the Go tests build one table per site and group, merge them, and compare with R on the pooled
# records. status is 0 for censored and 1..k for the cause. Sites of R's data sets are fake,
# assigned by row number.
suppressMessages({library(survival); library(cmprsk); library(jsonlite)})

fake_sites <- function(n, k) paste0("site", (seq_len(n) - 1) %% k + 1)
ds <- list()
# A hand-made set: ties of both causes and censorings at one time, a group whose last subject
# has an event (all-cause KM to 0).
ds$toy <- data.frame(
  time   = c(4, 6, 5, 8, 3, 7, 9, 2, 2, 5, 5, 6, 1, 4, 8, 8, 3, 10),
  status = c(1, 0, 1, 1, 0, 2, 1, 2, 1, 2, 0, 1, 2, 1, 0, 2, 1, 1),
  site   = c("a", "b", "a", "b", "a", "b", "a", "b", "c", "c", "a", "b", "c", "a", "b", "c", "a", "b"),
  group  = c(rep("A", 9), rep("B", 9)), stringsAsFactors = FALSE)
ds$toy$entry <- 0
# survival::mgus2 (Kyle et al. 2002), the survival package's competing-risks example: time to
# progression to a plasma cell malignancy (cause 1) or death without it (cause 2), in months.
m <- survival::mgus2
m <- m[!is.na(m$hgb) & !is.na(m$creat), ]
etime <- ifelse(m$pstat == 0, m$futime, m$ptime)
ds$mgus2 <- data.frame(time = etime, status = ifelse(m$pstat == 0, 2 * m$death, 1),
                       site = fake_sites(nrow(m), 4), group = m$sex,
                       age = cut(m$age, c(0, 60, 75, 200), labels = c("lt60", "60-75", "gt75")),
                       x1 = m$age / 10, x2 = m$hgb, x3 = as.numeric(m$sex == "M"),
                       stringsAsFactors = FALSE)
ds$mgus2$age <- as.character(ds$mgus2$age)
ds$mgus2$entry <- 0
# Delayed entry, real: mgus2 on the age scale, in days. A patient enters observation at their
# age at diagnosis and leaves at death or last follow-up: left truncation by age at entry.
ds$mgus2_age <- data.frame(entry = round(m$age * 365.25), status = m$death,
                           site = fake_sites(nrow(m), 4), group = m$sex,
                           x1 = m$hgb, x2 = as.numeric(m$sex == "M"), stringsAsFactors = FALSE)
ds$mgus2_age$time <- ds$mgus2_age$entry + pmax(1, round(m$futime * 30.4375))
# Delayed entry, lung (NCCTG) with entries drawn for half the patients (registry-like).
l <- read.csv("lung.csv", stringsAsFactors = FALSE, na.strings = "")
set.seed(17)
ent <- floor(runif(nrow(l), 0, l$time))
ent[seq_len(nrow(l)) %% 2 == 0] <- 0
ds$lung_entry <- data.frame(time = l$time, status = l$event, entry = ent, site = l$site, group = l$sex,
                            stringsAsFactors = FALSE)
for (n in names(ds)) ds[[n]] <- ds[[n]][order(seq_len(nrow(ds[[n]]))), ]

# Coarsening of a policy with bins of w days: exits go to the end of their bin (ceiling), entries
# to its start (floor), so that entry < exit still holds and a subject counts as at risk in the
# whole bin in which it entered.
bin_exit <- function(t, w) if (w > 0) ceiling(t / w) * w else t
bin_entry <- function(t, w) if (w > 0) floor(t / w) * w else t

# --- cumulative incidence --------------------------------------------------------------------
cif_case <- function(name, d, w, conf_type) {
  d$t <- bin_exit(d$time, w)
  groups <- sort(unique(d$group))
  list(name = name, dataset = d$ds[1], bin = w, conf_type = conf_type,
       groups = lapply(groups, function(g) {
         s <- d[d$group == g, ]
         fit <- survfit(Surv(t, factor(status, 0:2)) ~ 1, s, conf.type = conf_type)
         # pstate columns: "(s0)", "1", "2" in this order (factor levels 0:2)
         list(group = g, time = fit$time, n_risk = fit$n.risk[, 1],
              surv = fit$pstate[, 1], cif = lapply(2:3, function(j) fit$pstate[, j]),
              std_err = lapply(2:3, function(j) fit$std.err[, j]),
              lower = lapply(2:3, function(j) fit$lower[, j]),
              upper = lapply(2:3, function(j) fit$upper[, j]))
       }))
}
gray_case <- function(name, d, group_col, stratified, rho = 0) {
  g <- d[[group_col]]
  r <- if (stratified) cuminc(d$time, d$status, g, d$site, rho = rho) else cuminc(d$time, d$status, g, rho = rho)
  t <- r$Tests
  list(name = name, dataset = d$ds[1], group_by = group_col, stratified = stratified, rho = rho,
       tests = lapply(seq_len(nrow(t)), function(i)
         list(cause = as.integer(rownames(t)[i]), stat = t[i, "stat"], p = t[i, "pv"], df = t[i, "df"])))
}
for (n in names(ds)) ds[[n]]$ds <- n
cif <- list(); gray <- list()
for (ct in c("log", "log-log", "plain")) {
  cif[[length(cif) + 1]] <- cif_case(paste0("toy/", ct), ds$toy, 0, ct)
  cif[[length(cif) + 1]] <- cif_case(paste0("mgus2/", ct), ds$mgus2, 0, ct)
}
cif[[length(cif) + 1]] <- cif_case("mgus2/bin6/log", ds$mgus2, 6, "log")
gray[[length(gray) + 1]] <- gray_case("toy/group", ds$toy, "group", FALSE)
gray[[length(gray) + 1]] <- gray_case("mgus2/sex", ds$mgus2, "group", FALSE)
gray[[length(gray) + 1]] <- gray_case("mgus2/age", ds$mgus2, "age", FALSE)
gray[[length(gray) + 1]] <- gray_case("mgus2/age/strata-site", ds$mgus2, "age", TRUE)
gray[[length(gray) + 1]] <- gray_case("mgus2/sex/rho1", ds$mgus2, "group", FALSE, 1)

# --- delayed entry ---------------------------------------------------------------------------
# The log-rank statistic with risk sets entry < t <= exit. survdiff takes no entry times, and
# coxph's exact-ties score test (which equals survdiff on right-censored data) is combinatorial
# in the ties, so the statistic is written out here: at each event time t, n_g = #{entry < t <=
# exit} and d_g events per group, O - E and the hypergeometric variance summed over times (and
# strata). The script checks that it equals survdiff when every entry is 0.
logrank_entry <- function(t0, t1, ev, g, strata = rep(1, length(g))) {
  lv <- sort(unique(g)); k <- length(lv)
  oe <- numeric(k); V <- matrix(0, k, k)
  for (s in unique(strata)) {
    i <- strata == s
    for (t in sort(unique(t1[i & ev]))) {
      at <- i & t0 < t & t1 >= t
      n <- sapply(lv, function(l) sum(at & g == l)); d <- sapply(lv, function(l) sum(i & t1 == t & ev & g == l))
      N <- sum(n); D <- sum(d)
      oe <- oe + d - D * n / N
      if (N > 1) V <- V + D * (N - D) / (N - 1) * (diag(n / N) - outer(n / N, n / N))
    }
  }
  keep <- 2:k
  drop(t(oe[keep]) %*% solve(V[keep, keep, drop = FALSE], oe[keep]))
}
l0 <- read.csv("lung.csv", stringsAsFactors = FALSE, na.strings = "")
stopifnot(abs(logrank_entry(rep(0, nrow(l0)), l0$time, l0$event == 1, l0$sex) -
              survdiff(Surv(time, event) ~ sex, l0)$chisq) < 1e-10)
stopifnot(abs(logrank_entry(rep(0, nrow(l0)), l0$time, l0$event == 1, l0$sex, l0$site) -
              survdiff(Surv(time, event) ~ sex + strata(site), l0)$chisq) < 1e-10)

entry_case <- function(name, d, w) {
  d$t0 <- bin_entry(d$entry, w); d$t1 <- bin_exit(d$time, w)
  stopifnot(all(d$t0 < d$t1))
  groups <- sort(unique(d$group))
  list(name = name, dataset = d$ds[1], bin = w,
       groups = lapply(groups, function(g) {
         s <- d[d$group == g, ]
         fit <- survfit(Surv(t0, t1, status > 0) ~ 1, s)
         list(group = g, time = fit$time, n_risk = fit$n.risk, n_event = fit$n.event,
              n_censor = fit$n.censor, surv = fit$surv, std_err_log = fit$std.err,
              lower = fit$lower, upper = fit$upper,
              median = unname(quantile(fit, 0.5)$quantile))
       }),
       logrank = list(chisq = logrank_entry(d$t0, d$t1, d$status > 0, d$group), df = length(groups) - 1),
       logrank_site = list(chisq = logrank_entry(d$t0, d$t1, d$status > 0, d$group, d$site),
                           df = length(groups) - 1))
}
entry <- list(entry_case("mgus2_age/bin0", ds$mgus2_age, 0), entry_case("mgus2_age/bin30", ds$mgus2_age, 30),
              entry_case("lung_entry/bin0", ds$lung_entry, 0), entry_case("lung_entry/bin30", ds$lung_entry, 30))

# Cox with delayed entry: coxph(Surv(entry, exit, status) ~ x1 + x2 [+ strata(site)]), on mgus2
# on the age scale (x1 = haemoglobin, x2 = male) and lung with entries (x1 = age, x2 = male).
ds$lung_entry$x1 <- l$age
ds$lung_entry$x2 <- as.numeric(l$sex == "male")
cox_case <- function(name, d, w, ties, stratified) {
  d$t0 <- bin_entry(d$entry, w); d$t1 <- bin_exit(d$time, w)
  f <- if (stratified) Surv(t0, t1, status > 0) ~ x1 + x2 + strata(site) else Surv(t0, t1, status > 0) ~ x1 + x2
  fit <- coxph(f, d, ties = ties)
  list(name = name, dataset = d$ds[1], bin = w, ties = ties, stratified = stratified,
       coef = unname(coef(fit)), se = unname(sqrt(diag(vcov(fit)))), loglik = fit$loglik)
}
cox <- list()
for (n in c("mgus2_age", "lung_entry")) for (ties in c("efron", "breslow")) for (st in c(FALSE, TRUE))
  cox[[length(cox) + 1]] <- cox_case(sprintf("%s/%s/%s", n, ties, if (st) "site" else "pooled"), ds[[n]], 0, ties, st)
cox[[length(cox) + 1]] <- cox_case("lung_entry/efron/site/bin30", ds$lung_entry, 30, "efron", TRUE)

# Fine-Gray: cmprsk::crr(time, status, cbind(x1, x2, x3), failcode) on mgus2 (x1 = age/10,
# x2 = haemoglobin, x3 = male), for each cause; the sandwich variance crr reports.
crr_case <- function(name, d, failcode) {
  # gtol tighter than the default 1e-6 (scaled by |loglik|, which stops the mgus2 death fit
  # about 1e-5 short of the maximum): the same estimator, converged.
  fit <- crr(d$time, d$status, cbind(d$x1, d$x2, d$x3), failcode = failcode, cencode = 0, gtol = 1e-12, maxiter = 50)
  list(name = name, dataset = d$ds[1], failcode = failcode, coef = unname(fit$coef),
       se = unname(sqrt(diag(fit$var))), loglik = fit$loglik, converged = fit$converged)
}
ds$toy$x1 <- seq_len(nrow(ds$toy)) %% 3; ds$toy$x2 <- ds$toy$time %% 2; ds$toy$x3 <- 0.5 * seq_len(nrow(ds$toy))
crr_fits <- list(crr_case("mgus2/progression", ds$mgus2, 1), crr_case("mgus2/death", ds$mgus2, 2),
                 crr_case("toy/1", ds$toy, 1), crr_case("toy/2", ds$toy, 2))

out <- list(datasets = lapply(ds, function(d) as.list(d)), cif = cif, gray = gray, entry = entry, cox = cox, crr = crr_fits)
writeLines(toJSON(out, digits = NA, auto_unbox = TRUE, na = "null"), "competing_goldens.json")
