# The R side of the loso benchmark (bench/cmd/oncofed-bench, section loso): the leave-one-site-out
# loop oncofed-cli model --strata site --validate loso runs over the sites, on the pooled
# patient-level data already in memory (the cli section's pan-cancer columns, bench/r/models.R).
#
#   Rscript bench/r/loso.R DIR REPS OUT.json
#
# Each repetition times, with the wall clock, for every site s: coxph(Surv(time, event) ~ cancer
# + age + sex + strata(site), ties = "efron") on the other sites (the refit of the issue's goal),
# then on site s the linear predictor, Harrell's C (concordance(..., reverse = TRUE)) and the
# calibration slope (coxph(Surv ~ lp)). "fits" is the refits alone, "loop" all of it. The per-site C
# of the last repetition are written so the harness can check both sides computed the same.
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
  age = col("age"), sex = factor(col("sex"), levels = 0:1, labels = c("female", "male")))
d <- d[complete.cases(d), ]
sites <- sort(unique(d$site))
fml <- Surv(time, event) ~ cancer + age + sex + strata(site)
elapsed <- function(expr) unname(system.time(expr, gcFirst = FALSE)["elapsed"])
fits_s <- numeric(0); loop_s <- numeric(0); cs <- numeric(0)
gc()
for (r in seq_len(reps)) {
  fit_total <- 0
  loop_s <- c(loop_s, elapsed({
    cs <- sapply(sites, function(s) {
      fit_total <<- fit_total + elapsed(f <- coxph(fml, data = d[d$site != s, ], ties = "efron"))
      h <- d[d$site == s, ]
      mm <- model.matrix(~ cancer + age + sex, h)[, -1, drop = FALSE]
      h$lp <- as.vector(mm %*% coef(f))
      cc <- concordance(Surv(time, event) ~ lp, data = h, reverse = TRUE)
      slope <- coef(coxph(Surv(time, event) ~ lp, data = h))
      unname(cc$concordance)
    })
  }))
  fits_s <- c(fits_s, fit_total)
}
writeLines(toJSON(list(r_version = R.version.string, n = nrow(d), sites = I(sites), reps = reps,
  seconds = list(fits = I(fits_s), loop = I(loop_s)), harrell_c = I(unname(cs))), digits = NA, auto_unbox = TRUE), out)
