# Reference ridge-penalized Cox fits of R's survival package for analysis/ridge_test.go.
# Regenerate (from analysis/testdata): Rscript ridge_goldens.R  → ridge_goldens.json
#
# Every case is coxph(Surv(time, event) ~ ridge(X, theta = θ, scale = …) [+ strata(site)]) on
# the complete cases of its covariates, X being the treatment-contrast design columns (what
# analysis.BuildDesign builds; the first level is the reference). With scale = TRUE, R's
# ridge() weights each column's penalty by var(column) over the rows it is given, here the
# complete cases. It reports coef, se(coef) = sqrt(diag(var)) with var the inverse of the
# penalized information, se2 = sqrt(diag(var2)), loglik (unpenalized at β̂), the penalty, df,
# the likelihood-ratio and Wald tests and the Newton–Raphson iterations.
#
# The "loso" entries are the leave-one-site-out choice of θ: for each θ of the grid and each
# site s, the model is fitted with the penalty on all other sites (stratified by site or
# pooled) and site s's own partial log-likelihood at that β̂ is computed
# (coxph(Surv ~ offset(X β̂)) on site s alone; 0 for a site without events); the curve is the
# sum over sites per θ.
suppressMessages({library(survival); library(jsonlite)})

sites_by_row <- function(n, k) paste0("s", (seq_len(n) - 1) %% k + 1)
l <- subset(lung, !is.na(inst))
lung_d <- data.frame(site = paste0("inst", l$inst), time = l$time, event = as.integer(l$status == 2),
  age = l$age, sex = ifelse(l$sex == 1, "male", "female"), ecog = l$ph.ecog, karno = l$ph.karno,
  wt_loss = l$wt.loss, ecogc = ifelse(is.na(l$ph.ecog), NA, paste0("ecog", l$ph.ecog)), stringsAsFactors = FALSE)
vet_d <- data.frame(site = sites_by_row(nrow(veteran), 5), time = veteran$time, event = veteran$status,
  trt = veteran$trt, celltype = as.character(veteran$celltype), karno = veteran$karno,
  age = veteran$age, stringsAsFactors = FALSE)
datasets <- list(lung = lung_d, veteran = vet_d)

design <- function(d, covariates) {
  d <- d[complete.cases(d[, covariates, drop = FALSE]), ]
  for (v in covariates) if (is.character(d[[v]])) d[[v]] <- factor(d[[v]], levels = sort(unique(d[[v]]), method = "radix"))
  X <- model.matrix(as.formula(paste("~", paste(covariates, collapse = " + "))), d)[, -1, drop = FALSE]
  list(d = d, X = X)
}

ridge_fit <- function(d, X, theta, scale, ties, strata) {
  d$X <- X
  rhs <- "ridge(X, theta = theta, scale = scale)"
  if (strata) rhs <- paste(rhs, "+ strata(site)")
  coxph(as.formula(paste("Surv(time, event) ~", rhs)), data = d, ties = ties)
}

fit_case <- function(cs) {
  dx <- design(datasets[[cs$data]], cs$covariates)
  f <- ridge_fit(dx$d, dx$X, cs$theta, cs$scale, cs$ties, cs$strata == "site")
  vec <- function(v) I(unname(as.vector(v)))
  list(terms = I(colnames(dx$X)), coef = vec(coef(f)), se = vec(sqrt(diag(f$var))), se2 = vec(sqrt(diag(f$var2))),
    var = vec(f$var), var2 = vec(f$var2), loglik0 = f$loglik[1], loglik = f$loglik[2],
    penalty = unname(f$penalty[length(f$penalty)]), df = sum(f$df), lrt = 2 * (f$loglik[2] - f$loglik[1]),
    lrt_p = pchisq(2 * (f$loglik[2] - f$loglik[1]), sum(f$df), lower.tail = FALSE),
    wald = unname(f$wald.test), iter = unname(f$iter[2]), n = f$n, events = f$nevent,
    column_var = vec(apply(dx$X, 2, var)))
}

heldout_loglik <- function(d, X, b, ties) {
  if (sum(d$event) == 0) return(0)
  d$lp <- as.vector(X %*% b)
  coxph(Surv(time, event) ~ offset(lp), data = d, ties = ties)$loglik[1]
}

loso_case <- function(cs) {
  dx <- design(datasets[[cs$data]], cs$covariates)
  sites <- sort(unique(dx$d$site), method = "radix")
  per_theta <- lapply(cs$grid, function(theta) {
    ll <- sapply(sites, function(s) {
      inn <- dx$d$site != s
      f <- ridge_fit(dx$d[inn, ], dx$X[inn, , drop = FALSE], theta, cs$scale, cs$ties, cs$strata == "site")
      heldout_loglik(dx$d[!inn, ], dx$X[!inn, , drop = FALSE], coef(f), cs$ties)
    })
    list(theta = theta, sites = I(sites), heldout = I(unname(ll)), total = sum(ll))
  })
  totals <- sapply(per_theta, function(x) x$total)
  list(curve = per_theta, best = as.numeric(cs$grid)[which.max(totals)])
}

cases <- list()
for (ties in c("efron", "breslow")) for (strata in c("", "site")) for (scale in c(FALSE, TRUE)) {
  sfx <- sprintf("%s%s_%s", ties, if (strata == "") "" else "_strata", if (scale) "scaled" else "unscaled")
  for (theta in c(0.5, 10)) {
    cases[[length(cases) + 1]] <- list(name = sprintf("lung_theta%g_%s", theta, sfx), data = "lung",
      covariates = I(c("age", "sex", "ecog", "karno")), ties = ties, strata = strata, theta = theta, scale = scale)
  }
  cases[[length(cases) + 1]] <- list(name = paste0("veteran_theta2_", sfx), data = "veteran",
    covariates = I(c("trt", "celltype", "karno", "age")), ties = ties, strata = strata, theta = 2, scale = scale)
}
# The model the CLI test fits over the lung network (one node per institution, ecog a
# categorical variable there): θ = 1, every form and tie method.
for (ties in c("efron", "breslow")) for (strata in c("", "site")) {
  cases[[length(cases) + 1]] <- list(name = sprintf("lung_app_theta1_%s%s", ties, if (strata == "") "" else "_strata"),
    data = "lung", covariates = I(c("age", "sex", "ecogc")), ties = ties, strata = strata, theta = 1, scale = FALSE)
}
loso <- list()
# The CLI's leave-one-site-out choice over the lung network with app.DefaultRidgeGrid.
for (strata in c("site", "")) {
  loso[[length(loso) + 1]] <- list(name = sprintf("lung_app_loso_efron%s", if (strata == "") "_pooled" else "_strata"),
    data = "lung", covariates = I(c("age", "sex")), ties = "efron", strata = strata, scale = FALSE,
    grid = I(c(0, 0.1, 0.3, 1, 3, 10, 30, 100)))
}
for (strata in c("site", "")) for (ties in c("efron", "breslow")) {
  loso[[length(loso) + 1]] <- list(name = sprintf("lung_loso_%s%s", ties, if (strata == "") "_pooled" else "_strata"),
    data = "lung", covariates = I(c("age", "sex", "ecog")), ties = ties, strata = strata, scale = FALSE,
    grid = I(c(0.1, 1, 10, 100)))
}

# scale = TRUE as the app fits it over the lung network: ridge() is given every patient's
# columns (NA where the covariate is missing) and takes each column's variance over its
# non-missing values, before coxph drops the incomplete rows; the sites' cohort summary gives
# the same sums. The design is built by hand so that the NAs stay.
design_na <- function(d, covariates) {
  cols <- list()
  for (v in covariates) {
    x <- d[[v]]
    if (is.character(x)) {
      lv <- sort(unique(x[!is.na(x)]), method = "radix")
      for (l in lv[-1]) cols[[paste0(v, l)]] <- ifelse(is.na(x), NA, as.numeric(x == l))
    } else cols[[v]] <- x
  }
  X <- do.call(cbind, cols)
  list(d = d, X = X)
}
scaled_case <- function(ties, strata) {
  dx <- design_na(datasets$lung, c("age", "sex", "ecogc"))
  f <- ridge_fit(dx$d, dx$X, 1, TRUE, ties, strata == "site")
  vec <- function(v) I(unname(as.vector(v)))
  list(name = sprintf("lung_app_scaled_theta1_%s%s", ties, if (strata == "") "" else "_strata"), ties = ties, strata = strata,
    coef = vec(coef(f)), se = vec(sqrt(diag(f$var))), se2 = vec(sqrt(diag(f$var2))), loglik = f$loglik[2],
    penalty = unname(f$penalty[length(f$penalty)]), df = sum(f$df),
    column_var = vec(apply(dx$X, 2, function(z) var(z[!is.na(z)]))))
}
scaled_loso <- function(grid) {
  dx <- design_na(datasets$lung, c("age", "sex"))
  sites <- sort(unique(dx$d$site), method = "radix")
  totals <- sapply(grid, function(theta) sum(sapply(sites, function(s) {
    inn <- dx$d$site != s
    f <- ridge_fit(dx$d[inn, ], dx$X[inn, , drop = FALSE], theta, TRUE, "efron", TRUE)
    held <- dx$d[!inn, ]; Xh <- dx$X[!inn, , drop = FALSE]
    ok <- complete.cases(Xh)
    heldout_loglik(held[ok, ], Xh[ok, , drop = FALSE], coef(f), "efron")
  })))
  list(name = "lung_app_scaled_loso_efron_strata", grid = I(grid), total = I(totals), best = grid[which.max(totals)])
}

# Predicted survival from the penalized pooled model (survfit(fit, newdata), the fit's ties):
# age 63, male, ECOG 1 on the app's lung model.
predict_case <- function(ties) {
  dx <- design(datasets$lung, c("age", "sex", "ecogc"))
  f <- ridge_fit(dx$d, dx$X, 1, FALSE, ties, FALSE)
  x <- c(63, 1, 1, 0, 0)
  nd <- data.frame(time = 1); nd$X <- matrix(x, nrow = 1, dimnames = list(NULL, colnames(dx$X)))
  s <- survfit(f, newdata = nd)
  ev <- s$n.event > 0  # the event times (the curve only steps there)
  list(name = paste0("lung_app_theta1_", ties), ties = ties, x = I(x), time = I(s$time[ev]), surv = I(as.vector(s$surv)[ev]),
    std_err = I(as.vector(s$std.err)[ev]), lower = I(as.vector(s$lower)[ev]), upper = I(as.vector(s$upper)[ev]))
}

out <- list(
  generated_by = paste("analysis/testdata/ridge_goldens.R with", R.version.string, "and survival", packageVersion("survival")),
  datasets = datasets,
  cases = lapply(cases, function(cs) c(cs, list(expected = fit_case(cs)))),
  loso = lapply(loso, function(cs) c(cs, list(expected = loso_case(cs)))),
  predict = lapply(c("efron", "breslow"), predict_case),
  scaled = list(scaled_case("efron", "site"), scaled_case("breslow", "site"), scaled_case("efron", ""), scaled_case("breslow", "")),
  scaled_loso = scaled_loso(c(0.1, 1, 10, 100)))
writeLines(toJSON(out, digits = NA, auto_unbox = TRUE, dataframe = "columns", na = "null", null = "null"),
  "ridge_goldens.json")
