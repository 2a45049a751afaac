# Golden values for analysis/screen.go (the biomarker screen): one coxph per marker adjusted
# for age, the joint Wald test of the marker's terms, p.adjust(p, "BH") over the markers that
# are tests, and the heterogeneity of the marker's effect across sites from one Newton step of
# each site's own likelihood at the pooled estimate (metafor::rma DL for one term, rma.mv FE's
# QE for several).
# Regenerate: cd analysis/testdata/r && Rscript screen_goldens.R
# (survival, jsonlite, metafor; screen_nsclc.csv comes from gen_screen_nsclc.go)
#
# Cases:
#  lung   survival::lung (../lung.csv, sites = institutions): markers sex, ecog (4 levels),
#         karno, wt.loss; real data.
#  nsclc  synthetic NSCLC with candidate markers (synth.Spec{Markers: true}, 4 sites, 2,200
#         patients): binary, categorical and numeric markers, some missing at whole sites;
#         also in predictive mode (treatment * marker, treated = pembro-chemo vs the rest).
# Each case in the form stratified by site (+ strata(site)) and pooled, with Efron and
# Breslow ties.
suppressMessages({library(survival); library(jsonlite); library(metafor)})

screen <- function(d, markers, levels, strata, ties, treated = NULL) {
  out <- list()
  if (!is.null(treated)) {
    other <- paste("not", treated)
    d$treatment <- factor(ifelse(d$treatment == treated, treated, other), levels = c(other, treated))
  }
  for (m in markers) {
    if (!is.null(levels[[m]])) d[[m]] <- factor(d[[m]], levels = levels[[m]])
    if (is.character(d[[m]])) d[[m]] <- factor(d[[m]], levels = sort(unique(na.omit(d[[m]]))))
    cc <- complete.cases(d[, c("time", "event", m, "age", if (!is.null(treated)) "treatment")])
    x <- d[cc, ]
    rhs <- if (is.null(treated)) paste(m, "+ age") else paste0("treatment * ", m, " + age")
    f <- as.formula(paste("Surv(time, event) ~", rhs, if (strata) "+ strata(site)" else ""))
    fit <- coxph(f, data = x, ties = ties)
    idx <- fit$assign[[if (is.null(treated)) m else paste0("treatment:", m)]]
    b <- coef(fit)[idx]
    r <- list(marker = m, terms = names(coef(fit))[idx], n = fit$n, events = fit$nevent)
    if (any(is.na(b))) { r$estimable <- FALSE; out[[m]] <- r; next }
    V <- vcov(fit)[idx, idx, drop = FALSE]
    W <- drop(t(b) %*% solve(V, b))
    r$estimable <- TRUE; r$coef <- unname(b); r$se <- unname(sqrt(diag(V)))
    r$chisq <- W; r$df <- length(idx); r$p <- pchisq(W, length(idx), lower.tail = FALSE)
    r$all_coef <- unname(coef(fit)); r$all_terms <- names(coef(fit))
    # One Newton step per site from the pooled estimate.
    fs <- as.formula(paste("Surv(time, event) ~", rhs))
    sites <- c(); yi <- list(); vi <- list()
    for (s in sort(unique(x$site))) {
      xs <- x[x$site == s, ]
      if (sum(xs$event) < 10) next
      f0 <- suppressWarnings(coxph(fs, data = xs, ties = ties, init = coef(fit), control = coxph.control(iter.max = 0)))
      if (any(is.na(coef(f0))) || any(is.na(f0$var))) next
      ev <- eigen(f0$var, symmetric = TRUE, only.values = TRUE)$values
      if (min(ev) <= 0 || max(ev) / min(ev) > 1e12) next
      U <- colSums(residuals(f0, "score"))
      th <- coef(fit) + drop(f0$var %*% U)
      sites <- c(sites, s); yi[[s]] <- unname(th[idx]); vi[[s]] <- unname(f0$var[idx, idx, drop = FALSE])
    }
    r$het_sites <- sites
    r$site_est <- unname(yi); r$site_cov <- lapply(unname(vi), as.vector)
    if (length(sites) >= 2) {
      if (length(idx) == 1) {
        h <- rma(yi = unlist(yi), sei = sqrt(unlist(vi)), method = "DL")
        r$het <- list(Q = h$QE, df = h$k - 1, Qp = h$QEp, I2 = h$I2, tau2 = h$tau2)
      } else {
        term <- factor(rep(seq_along(idx), length(sites)))
        h <- rma.mv(yi = unlist(yi), V = bldiag(vi), mods = ~ term - 1, method = "FE")
        df <- (length(sites) - 1) * length(idx)
        r$het <- list(Q = h$QE, df = df, Qp = h$QEp, I2 = 100 * max(0, (h$QE - df) / h$QE))
      }
    }
    out[[m]] <- r
  }
  p <- sapply(out, function(r) if (r$estimable) r$p else NA)
  q <- p.adjust(p[!is.na(p)], "BH")
  for (m in names(q)) out[[m]]$q <- q[[m]]
  unname(out)
}

cases <- list()
lung <- read.csv("../lung.csv", na.strings = "", stringsAsFactors = FALSE)
nsclc <- read.csv("screen_nsclc.csv", na.strings = "", stringsAsFactors = FALSE)
yn <- c("no", "yes"); wm <- c("wt", "mut")
spec <- list(
  lung = list(d = lung, markers = c("sex", "ecog", "karno", "wt.loss"), levels = list()),
  nsclc = list(d = nsclc, markers = c("tp53", "stk11", "keap1", "smarca4", "kras", "tmb", "tmb_high", "pdl1_tps",
                                       "met_ex14", "nf1", "lrp1b", "score_ifng", "score_cd8"),
               levels = list(tp53 = wm, stk11 = wm, keap1 = wm, smarca4 = wm, kras = wm, tmb_high = yn,
                             pdl1_tps = c("<1", "1-49", ">=50"), met_ex14 = wm, nf1 = wm, lrp1b = wm)))
for (name in names(spec)) for (strata in c(TRUE, FALSE)) for (ties in c("efron", "breslow")) {
  s <- spec[[name]]
  cases[[length(cases) + 1]] <- list(name = name, strata = strata, ties = ties, levels = s$levels,
                                     markers = screen(s$d, s$markers, s$levels, strata, ties))
}
# Predictive mode: Cox(OS ~ treatment * marker + age), treatment = pembro-chemo vs every other
# regimen; the marker's terms are the interaction columns (treatmentpembro-chemo:stk11mut).
pm <- c("stk11", "keap1", "tmb_high", "tp53", "nf1", "pdl1_tps", "tmb")
for (strata in c(TRUE, FALSE)) for (ties in c("efron", "breslow")) {
  s <- spec$nsclc
  cases[[length(cases) + 1]] <- list(name = "nsclc", strata = strata, ties = ties, levels = s$levels, treated = "pembro-chemo",
                                     markers = screen(s$d, pm, s$levels, strata, ties, treated = "pembro-chemo"))
}
writeLines(toJSON(list(source = paste("R", R.version$major, R.version$minor, "survival", packageVersion("survival"),
                                      "metafor", packageVersion("metafor"), "screen_goldens.R"), cases = cases),
                  digits = NA, auto_unbox = TRUE, na = "null", null = "null"), "screen_goldens.json")
