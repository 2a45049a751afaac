# Reference proportional-hazards tests of R's survival package (cox.zph, survival >= 3) for
# analysis/zph_test.go. Regenerate (from analysis/testdata): Rscript zph_goldens.R → zph_goldens.json
# (Debian: apt-get install r-base-core r-cran-survival r-cran-jsonlite)
#
# Every case holds its patient-level data (site, time, event and the design matrix exactly as
# coxph builds it, so the Go test needs no R and no design code), the fit's coefficients and
# cox.zph(fit, transform)'s table: one row per term (a factor is one term of k-1 columns, as
# cox.zph's default terms = TRUE) and GLOBAL, with chisq, df and p.
#
# strata = TRUE: coxph(... + strata(site)), the federated model stratified by site;
# strata = FALSE: the pooled (unstratified) model. bin > 0 coarsens time to ceiling(t/bin)*bin.
suppressMessages({library(survival); library(jsonlite)})

sites_by_row <- function(n, k) paste0("s", (seq_len(n) - 1) %% k + 1)

l <- subset(lung, !is.na(inst) & !is.na(ph.ecog))
lung_d <- data.frame(site = paste0("inst", l$inst), time = l$time, event = as.integer(l$status == 2),
  age = l$age, sex = factor(ifelse(l$sex == 1, "male", "female"), levels = c("male", "female")),
  ecog = factor(pmin(l$ph.ecog, 2), labels = c("ecog0", "ecog1", "ecog2+")))

vet_d <- data.frame(site = sites_by_row(nrow(veteran), 5), time = veteran$time, event = veteran$status,
  trt = veteran$trt, celltype = veteran$celltype, karno = veteran$karno)

# lung.csv as the node tests import it (one site per institution; ECOG as categories).
lc <- read.csv("lung.csv", stringsAsFactors = FALSE)
lc$ecog[lc$ecog == ""] <- NA
lcsv_d <- data.frame(site = lc$site, time = lc$time, event = lc$event, age = lc$age,
  sex = factor(lc$sex, levels = c("male", "female")),
  ecog = factor(lc$ecog, levels = c("ecog0", "ecog1", "ecog2", "ecog3")))

cases <- list(
  list(name = "lungcsv_strata_efron", data = "lungcsv", f = ~ age + sex + ecog, strata = TRUE, ties = "efron", bin = 0),
  list(name = "lungcsv_pooled_efron", data = "lungcsv", f = ~ age + sex + ecog, strata = FALSE, ties = "efron", bin = 0),
  list(name = "lungcsv_pooled_breslow", data = "lungcsv", f = ~ age + sex, strata = FALSE, ties = "breslow", bin = 0),
  list(name = "lungcsv_strata_breslow", data = "lungcsv", f = ~ age + sex, strata = TRUE, ties = "breslow", bin = 0),
  list(name = "lung_strata_efron", data = "lung", f = ~ age + sex + ecog, strata = TRUE, ties = "efron", bin = 0),
  list(name = "lung_strata_breslow", data = "lung", f = ~ age + sex + ecog, strata = TRUE, ties = "breslow", bin = 0),
  list(name = "lung_pooled_efron", data = "lung", f = ~ age + sex + ecog, strata = FALSE, ties = "efron", bin = 0),
  list(name = "lung_pooled_breslow", data = "lung", f = ~ age + sex + ecog, strata = FALSE, ties = "breslow", bin = 0),
  list(name = "lung_bin30_pooled_efron", data = "lung", f = ~ age + sex + ecog, strata = FALSE, ties = "efron", bin = 30),
  list(name = "lung_bin30_strata_efron", data = "lung", f = ~ age + sex, strata = TRUE, ties = "efron", bin = 30),
  list(name = "veteran_pooled_efron", data = "veteran", f = ~ trt + celltype + karno, strata = FALSE, ties = "efron", bin = 0),
  list(name = "veteran_strata_breslow", data = "veteran", f = ~ trt + celltype + karno, strata = TRUE, ties = "breslow", bin = 0)
)

out <- lapply(cases, function(cs) {
  d <- switch(cs$data, lung = lung_d, lungcsv = lcsv_d, veteran = vet_d)
  if (cs$bin > 0) d$time <- ceiling(d$time / cs$bin) * cs$bin
  rhs <- deparse(cs$f[[2]])
  form <- as.formula(paste("Surv(time, event) ~", rhs, if (cs$strata) "+ strata(site)" else ""))
  fit <- coxph(form, data = d, ties = cs$ties)
  X <- model.matrix(fit)
  asgn <- fit$assign
  d <- d[complete.cases(d[, all.vars(cs$f)]), ]  # the model's complete cases, the rows of X
  zph <- lapply(c("km", "identity", "rank"), function(tr) {
    z <- cox.zph(fit, transform = tr)
    list(transform = tr, terms = rownames(z$table), chisq = unname(z$table[, "chisq"]),
         df = unname(z$table[, "df"]), p = unname(z$table[, "p"]))
  })
  list(name = cs$name, strata = cs$strata, ties = cs$ties, bin = cs$bin,
       columns = colnames(X), term_names = names(asgn), term_columns = unname(lapply(asgn, function(a) a - 1L)),
       site = d$site, time = d$time, event = d$event, x = unname(split(X, row(X))),
       coef = unname(coef(fit)), zph = zph)
})
write(toJSON(out, digits = NA, auto_unbox = TRUE), "zph_goldens.json")
