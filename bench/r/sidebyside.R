# The R side of the side-by-side benchmark (bench/cmd/oncofed-bench): the same statistics as
# the federated run, on the pooled patient-level data already in memory.
#
#   Rscript bench/r/sidebyside.R DIR REPS OUT.json
#
# DIR holds the pooled columns written by the harness as raw little-endian float64 files
# (time.f64, event.f64, sex.f64 [0 female, 1 male, NaN missing], age.f64, ecog.f64). Loading
# them is not timed. Each repetition times, with the wall clock:
#   survfit(Surv(time, event) ~ sex) and its median table (print(fit)'s numbers),
#   survdiff(Surv(time, event) ~ sex),
#   coxph(Surv(time, event) ~ age + sex + ecog, ties = "efron").
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
  readBin(f, what = "double", n = file.info(f)$size / 8, size = 8, endian = "little")
}
sex <- col("sex")
d <- data.frame(
  time = col("time"),
  event = col("event"),
  sex = factor(ifelse(is.nan(sex), NA, ifelse(sex == 1, "male", "female")), levels = c("female", "male")),
  age = col("age"),
  ecog = col("ecog")
)
d$age[is.nan(d$age)] <- NA
d$ecog[is.nan(d$ecog)] <- NA

cpu <- numeric(0)
# Wall-clock seconds of expr; its CPU seconds (user + system) are added to the current rep's.
elapsed <- function(expr) {
  st <- system.time(expr, gcFirst = FALSE)
  cpu_rep <<- cpu_rep + unname(st["user.self"] + st["sys.self"])
  unname(st["elapsed"])
}

gc()
times <- list(total = numeric(0), km = numeric(0), logrank = numeric(0), cox = numeric(0))
for (r in seq_len(reps)) {
  cpu_rep <- 0
  t_km <- elapsed({
    fit <- survfit(Surv(time, event) ~ sex, data = d)
    tab <- summary(fit)$table
  })
  t_lr <- elapsed(lr <- survdiff(Surv(time, event) ~ sex, data = d))
  t_cox <- elapsed(cx <- coxph(Surv(time, event) ~ age + sex + ecog, data = d, ties = "efron"))
  times$km <- c(times$km, t_km)
  times$logrank <- c(times$logrank, t_lr)
  times$cox <- c(times$cox, t_cox)
  times$total <- c(times$total, t_km + t_lr + t_cox)
  cpu <- c(cpu, cpu_rep)
}

res <- list(
  r_version = R.version.string,
  survival_version = as.character(packageVersion("survival")),
  n = nrow(d),
  reps = reps,
  seconds = lapply(times, I),
  cpu_seconds = I(cpu),
  groups = c("female", "male"),
  group_n = unname(tab[, "records"]),
  median = unname(tab[, "median"]),
  chisq = unname(lr$chisq),
  coef = unname(coef(cx)),
  se = unname(sqrt(diag(vcov(cx)))),
  loglik = cx$loglik[2],
  cox_n = cx$n,
  cox_iter = cx$iter
)
writeLines(toJSON(res, digits = NA, auto_unbox = TRUE, na = "null"), out)
