# Data and goldens of node.TestCoxPooledCentring: a pooled Cox fit over five sites whose
# covariates include the year of diagnosis of a three-year enrolment window (2019-2021), whose
# uncentred risk-set sums lose digits (docs/cox-protocol.md, "Centring").
#
#   cd node/testdata/centring && Rscript centring_goldens.R
#
# writes patients.csv (5,000 synthetic patients), dictionary.json and goldens.json (R's coxph,
# Efron and Breslow, on the pooled patients).
suppressPackageStartupMessages({
  library(survival)
  library(jsonlite)
})
set.seed(20261203)
n <- 5000
site <- sample(sprintf("s%d", 1:5), n, replace = TRUE)
year <- sample(2019:2021, n, replace = TRUE)
age <- round(rnorm(n, 62, 9))
sex <- sample(c("female", "male"), n, replace = TRUE)
lp <- 0.02 * (age - 62) + 0.3 * (sex == "male") - 0.1 * (year - 2020)
tt <- ceiling(rexp(n, 0.0015 * exp(lp)))
cc <- ceiling(runif(n, 200, 2000))
d <- data.frame(id = sprintf("p%04d", 1:n), site = site, time = pmin(tt, cc),
  event = as.integer(tt <= cc), year = year, age = age, sex = sex)
write.csv(d, "patients.csv", row.names = FALSE, quote = FALSE)

dict <- list(study = "centring", version = "1",
  variables = list(
    list(name = "site", type = "categorical", label = "Site", categories = sprintf("s%d", 1:5)),
    list(name = "year", type = "numeric", label = "Year of diagnosis", min = 2015, max = 2030),
    list(name = "age", type = "numeric", label = "Age", unit = "years", min = 18, max = 100),
    list(name = "sex", type = "categorical", label = "Sex", categories = c("female", "male"))),
  endpoints = list(list(name = "OS", label = "Overall survival")))
writeLines(toJSON(dict, auto_unbox = TRUE, pretty = TRUE), "dictionary.json")

fit <- function(ties) {
  f <- coxph(Surv(time, event) ~ year + age + sex, data = d, ties = ties)
  list(ties = ties, terms = names(coef(f)), coef = unname(coef(f)),
    se = unname(sqrt(diag(vcov(f)))), loglik = f$loglik[2], iter = f$iter, n = f$n, events = f$nevent)
}
out <- list(r_version = R.version.string, survival = as.character(packageVersion("survival")),
  fits = list(fit("efron"), fit("breslow")))
writeLines(toJSON(out, digits = NA, auto_unbox = TRUE, pretty = TRUE), "goldens.json")
