# Reference Cox fits of R's survival package for analysis/cox_test.go.
# Regenerate (from analysis/testdata): Rscript cox_goldens.R  → cox_goldens.json
# (Debian: apt-get install r-base-core r-cran-survival r-cran-jsonlite)
#
# The JSON holds the patient-level data sets (so the Go tests need no R) and, for every case,
# the model specification and what coxph reports: coef, se, HR and 95% CI, z, p, loglik at 0
# and at the estimate, likelihood-ratio, Wald and score tests, iterations, n, events, the
# terms coxph reports as NA and its warnings.
#
# Cases without strata are fitted on the pooled data (Go: one local stratum, and the pooled
# WebDISCO form from per-site risk-set rows); cases with strata = "site" are
# coxph(... + strata(site)) (Go: sum of per-site stratum contributions).
# bin > 0 replaces time by ceiling(time / bin) * bin before fitting (coarsened times, many
# ties within and across sites).
suppressMessages({library(survival); library(jsonlite)})

# Categorical covariates are character columns; their levels are given explicitly in the case
# (first = reference) or default to the sorted distinct values in C (byte) order, which is
# what analysis.BuildDesign does.
sites_by_row <- function(n, k) paste0("s", (seq_len(n) - 1) %% k + 1)

l <- subset(lung, !is.na(inst))
lung_d <- data.frame(site = paste0("inst", l$inst), time = l$time, event = as.integer(l$status == 2),
  age = l$age, sex = ifelse(l$sex == 1, "male", "female"),
  ecog = ifelse(is.na(l$ph.ecog), NA, paste0("ecog", l$ph.ecog)), karno = l$ph.karno,
  wt_loss = l$wt.loss, stringsAsFactors = FALSE)
lung_d$age2 <- 2 * lung_d$age  # collinear with age
lung_d$one <- 1                # constant
lung_d$inst_odd <- l$inst %% 2 # constant within each site: no information once stratified by site

vet_d <- data.frame(site = sites_by_row(nrow(veteran), 5), time = veteran$time, event = veteran$status,
  trt = veteran$trt, celltype = as.character(veteran$celltype), karno = veteran$karno,
  stringsAsFactors = FALSE)

co <- subset(colon, etype == 2)
colon_d <- data.frame(site = sites_by_row(nrow(co), 10), time = co$time, event = co$status,
  rx = as.character(co$rx), sex = co$sex, age = co$age, nodes = co$nodes, stringsAsFactors = FALSE)

ov_d <- data.frame(site = sites_by_row(nrow(ovarian), 3), time = ovarian$futime, event = ovarian$fustat,
  age = ovarian$age, resid_ds = ovarian$resid.ds, rx = ovarian$rx, ecog_ps = ovarian$ecog.ps)

# Monotone likelihood: every subject with x = 1 dies before any subject with x = 0.
set.seed(20240601)
sep_d <- data.frame(site = sites_by_row(40, 2), time = round(c(runif(20, 1, 100), runif(20, 150, 300))),
  event = 1L, x = rep(c(1, 0), each = 20), z = round(rnorm(40), 3))

# Newton–Raphson overshoots at the first step (the loglik drops from -112.23 to -124.75) and
# R halves the step: heavy-tailed (Cauchy) covariate, generated once with Go's math/rand/v2.
halv_d <- data.frame(site = sites_by_row(53, 2),
  time = c(92, 337, 683, 58, 99, 8, 6, 53, 7, 18, 82, 177, 2, 28, 36, 6, 13, 136, 125, 55, 40, 148, 11, 54,
    410, 64, 29, 8, 118, 25, 130, 14, 13, 34, 271, 7, 661, 123, 17, 55, 120, 162, 343, 14, 15, 27, 238,
    5, 1014, 57, 567, 9, 14),
  event = c(1, 0, 1, 0, 0, 1, 1, 1, 0, 1, 1, 0, 1, 1, 1, 1, 1, 0, 1, 1, 0, 0, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0, 1,
    1, 1, 0, 1, 0, 1, 1, 1, 0, 0, 1, 0, 0, 1, 1, 0, 1, 1, 0, 1),
  x = c(-1.1622205299676387, -1.4216482295673383, -1.8549960901506617, 4.0460543111144354,
    -1.6535895253386494, 1.2079641095765064, -0.64988553432242901, 0.51410998334844993,
    44.052777850442162, 0.073970162881581494, -0.2388172867911777, 0.18135037001394919,
    3.6426678734246463, 2.7704104540732168, 1.2316152555537292, -5.6899443197264334, 2.3851838166450681,
    -0.29188082874477395, 0.038301013494916117, 0.19991971856267313, 0.23507560067628058,
    -0.61534259457553109, 83.393981441037596, -1.6045527919267588, -1.5118899992342407,
    -1.0412065475843351, 3.5491299193382151, 56.828806884349873, 0.48065550154152753,
    -0.48066002038621414, -0.5231683413241599, 1.0411413688984363, -0.2261432243214738,
    1.3920946763330975, -0.68443733890288871, 2.1119761794726983, -0.53993745359935597,
    -0.24335930882957518, 0.48383928032095186, 0.1454887766864735, 1.5573095076111139,
    -8.209442186293737, -2.081475868573385, -0.0082107408042808808, 0.59721794197301636,
    -0.72591789951272379, -3.0655942096174917, 4.2156960737029987, -2.5835038996682824,
    0.58639255961592684, -9.9694036149471845, 2.8803556885597397, 1.9893059450531694))

datasets <- list(lung = lung_d, veteran = vet_d, colon = colon_d, ovarian = ov_d, separation = sep_d, halving = halv_d)

case <- function(name, data, covariates, ties = "efron", strata = "", bin = 0, levels = NULL,
                 iter_max = 20, note = "")
  list(name = name, data = data, covariates = I(covariates), ties = ties, strata = strata, bin = bin,
       levels = if (is.null(levels)) NULL else lapply(levels, I), iter_max = iter_max, note = note)

cases <- list()
add <- function(...) cases[[length(cases) + 1]] <<- case(...)
for (bin in c(0, 30)) for (ties in c("efron", "breslow")) for (strata in c("", "site")) {
  sfx <- sprintf("%s_%s%s", ties, if (bin > 0) paste0("bin", bin) else "exact", if (strata == "") "" else "_strata")
  add(paste0("lung_sex_age_", sfx), "lung", c("sex", "age"), ties, strata, bin)
  add(paste0("lung_ecog_", sfx), "lung", c("sex", "age", "ecog"), ties, strata, bin)
  add(paste0("lung_full_", sfx), "lung", c("sex", "age", "ecog", "karno", "wt_loss"), ties, strata, bin,
      note = "karno and wt_loss have missing values: complete cases")
}
for (ties in c("efron", "breslow")) for (strata in c("", "site")) {
  sfx <- paste0(ties, if (strata == "") "" else "_strata")
  add(paste0("veteran_", sfx), "veteran", c("trt", "celltype", "karno"), ties, strata,
      levels = list(celltype = levels(veteran$celltype)), note = "celltype levels in R's factor order")
  add(paste0("colon_", sfx), "colon", c("rx", "sex", "age", "nodes"), ties, strata,
      levels = list(rx = levels(colon$rx)), note = "death endpoint (etype 2); nodes has missing values")
  add(paste0("ovarian_", sfx), "ovarian", c("age", "resid_ds", "rx", "ecog_ps"), ties, strata)
  add(paste0("colon_bin30_", sfx), "colon", c("rx", "sex", "age", "nodes"), ties, strata, bin = 30,
      levels = list(rx = levels(colon$rx)))
}
add("lung_collinear_efron", "lung", c("age", "age2", "sex"), note = "age2 = 2 age: NA in R")
add("lung_collinear_efron_strata", "lung", c("age", "age2", "sex"), strata = "site")
add("lung_constant_efron", "lung", c("age", "one", "sex"), note = "one = 1: NA in R")
add("lung_constant_breslow_strata", "lung", c("age", "one", "sex"), ties = "breslow", strata = "site")
add("lung_collinear_constant_bin30_efron", "lung", c("sex", "age", "one", "age2", "karno"), bin = 30)
add("lung_sitelevel_efron_strata", "lung", c("sex", "age", "inst_odd"), strata = "site",
    note = "inst_odd is constant within each stratum: NA in R")
add("lung_sitelevel_efron", "lung", c("sex", "age", "inst_odd"))
add("separation_efron", "separation", c("x", "z"), note = "monotone likelihood: coefficient of x may be infinite")
add("separation_breslow_strata", "separation", c("x", "z"), ties = "breslow", strata = "site")
add("halving_efron", "halving", c("x"), note = "step halving at the first iteration")
add("halving_breslow_strata", "halving", c("x"), ties = "breslow", strata = "site")
add("lung_iter2_efron", "lung", c("sex", "age", "karno"), iter_max = 2,
    note = "does not converge in 2 iterations; R reports iter = 3 and a diagonal-only variance")

cat_levels <- function(x, given) if (!is.null(given)) given else sort(unique(x[!is.na(x)]), method = "radix")

fit_case <- function(cs) {
  d <- datasets[[cs$data]]
  if (cs$bin > 0) d$time <- ceiling(d$time / cs$bin) * cs$bin
  for (v in cs$covariates) if (is.character(d[[v]])) d[[v]] <- factor(d[[v]], levels = cat_levels(d[[v]], cs$levels[[v]]))
  rhs <- paste(cs$covariates, collapse = " + ")
  if (cs$strata != "") rhs <- paste0(rhs, " + strata(", cs$strata, ")")
  fml <- as.formula(paste("Surv(time, event) ~", rhs))
  warns <- character()
  f <- withCallingHandlers(coxph(fml, data = d, ties = cs$ties, control = coxph.control(iter.max = cs$iter_max)),
    warning = function(w) { warns <<- c(warns, conditionMessage(w)); invokeRestart("muffleWarning") })
  s <- summary(f)
  cf <- s$coefficients; ci <- s$conf.int
  test <- function(x) list(stat = unname(x["test"]), df = unname(x["df"]), p = unname(x["pvalue"]))
  vec <- function(v) I(unname(v))  # arrays in JSON even for one term
  list(terms = I(rownames(cf)), coef = vec(cf[, "coef"]), se = vec(cf[, "se(coef)"]),
       hr = vec(ci[, "exp(coef)"]), lower = vec(ci[, "lower .95"]), upper = vec(ci[, "upper .95"]),
       z = vec(cf[, "z"]), p = vec(cf[, "Pr(>|z|)"]),
       loglik0 = f$loglik[1], loglik = f$loglik[2],
       lrt = test(s$logtest), score = test(s$sctest),
       # summary() rounds the Wald statistic to 2 decimals; the fit holds it unrounded.
       wald = list(stat = unname(f$wald.test), df = unname(s$waldtest["df"]),
                   p = pchisq(unname(f$wald.test), unname(s$waldtest["df"]), lower.tail = FALSE)),
       iter = f$iter, n = f$n, events = f$nevent,
       not_estimable = I(rownames(cf)[is.na(cf[, "coef"])]), warnings = I(warns),
       vcov = vec(as.vector(f$var)))
}

out <- list(
  generated_by = paste("analysis/testdata/cox_goldens.R with", R.version.string, "and survival", packageVersion("survival")),
  datasets = datasets,
  cases = lapply(cases, function(cs) c(cs, list(expected = fit_case(cs)))))
writeLines(toJSON(out, digits = NA, auto_unbox = TRUE, dataframe = "columns", na = "null", null = "null"),
           "cox_goldens.json")
