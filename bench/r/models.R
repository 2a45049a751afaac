# The R side of the cli benchmark (bench/cmd/oncofed-bench, section cli): what oncofed-cli
# computes over the sites, on the pooled patient-level data already in memory.
#
#   Rscript bench/r/models.R DIR REPS OUT.json
#
# DIR holds the pooled columns written by the harness as raw little-endian float64 files
# (time, event, site, cancer [0 nsclc, 1 tnbc, 2 mpm, 3 mm], age, sex [0 female, 1 male], ecog,
# dx_year, m01..m15; NaN = missing). Loading them is not timed. Each repetition times, with the
# wall clock:
#   km:        survfit(Surv(time, event) ~ cancer) with its median table, and
#              survdiff(Surv(time, event) ~ cancer)
#   p1..p20:   coxph(Surv(time, event) ~ <the model's covariates>, ties = "efron"), one
#              baseline hazard over the pooled data (oncofed-cli cox --strata none)
#   strat_p5:  coxph(... ~ cancer + age + sex + strata(site)) (oncofed-cli cox, the default)
# The results of the last repetition are written too, so the harness can check that both
# sides computed the same numbers before comparing their times.
suppressPackageStartupMessages({
  library(survival)
  library(jsonlite)
})

args <- commandArgs(trailingOnly = TRUE)
dir <- args[1]
reps <- as.integer(args[2])
out <- args[3]

col <- function(name) {
  f <- file.path(dir, paste0(name, ".f64"))
  x <- readBin(f, what = "double", n = file.info(f)$size / 8, size = 8, endian = "little")
  x[is.nan(x)] <- NA
  x
}
d <- data.frame(time = col("time"), event = col("event"), site = col("site"),
  cancer = factor(col("cancer"), levels = 0:3, labels = c("nsclc", "tnbc", "mpm", "mm")),
  age = col("age"), sex = factor(col("sex"), levels = 0:1, labels = c("female", "male")),
  ecog = col("ecog"), dx_year = col("dx_year"))
for (j in 1:15) d[[sprintf("m%02d", j)]] <- col(sprintf("m%02d", j))

m <- function(k) sprintf("m%02d", seq_len(k))
models <- list(
  p1 = "age",
  p5 = c("cancer", "age", "sex"),
  p10 = c("cancer", "age", "sex", "ecog", "dx_year", m(3)),
  p20 = c("cancer", "age", "sex", "ecog", "dx_year", m(13))
)
formula_of <- function(covs, strata = FALSE) {
  rhs <- paste(covs, collapse = " + ")
  if (strata) rhs <- paste(rhs, "+ strata(site)")
  as.formula(paste("Surv(time, event) ~", rhs))
}

elapsed <- function(expr) unname(system.time(expr, gcFirst = FALSE)["elapsed"])
times <- list(km = numeric(0), strat_p5 = numeric(0))
for (name in names(models)) times[[name]] <- numeric(0)
fits <- list()
gc()
for (r in seq_len(reps)) {
  times$km <- c(times$km, elapsed({
    km <- survfit(Surv(time, event) ~ cancer, data = d)
    tab <- summary(km)$table
    lr <- survdiff(Surv(time, event) ~ cancer, data = d)
  }))
  for (name in names(models)) {
    times[[name]] <- c(times[[name]], elapsed(fits[[name]] <- coxph(formula_of(models[[name]]), data = d, ties = "efron")))
  }
  times$strat_p5 <- c(times$strat_p5, elapsed(fits$strat_p5 <- coxph(formula_of(models$p5, TRUE), data = d, ties = "efron")))
}

fit_json <- function(f) list(coef = I(unname(coef(f))), se = I(unname(sqrt(diag(vcov(f))))), loglik = f$loglik[2], n = f$n, iter = f$iter)
res <- list(
  r_version = R.version.string,
  survival_version = as.character(packageVersion("survival")),
  n = nrow(d),
  reps = reps,
  seconds = lapply(times, I),
  km = list(group_n = unname(tab[, "records"]), median = unname(tab[, "median"]), chisq = unname(lr$chisq)),
  fits = lapply(fits, fit_json)
)
writeLines(toJSON(res, digits = NA, auto_unbox = TRUE, na = "null"), out)
