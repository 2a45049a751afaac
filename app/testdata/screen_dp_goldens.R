# Golden values for the differentially private biomarker screen (app/screendp.go): each
# marker's model is fitted by the client on the noisy survival tables the sites released, one
# table per covariate pattern (design row) per site, events and censorings at the ends of the
# site's 30-day bins. Fitted on them, the model is R's coxph on the pseudo-patients the tables
# describe (each row expanded to that many patients with the pattern's covariates, an event or
# a censoring at the bin's end), stratified by site.
#
# The tables: lung.csv (analysis/testdata, gen_lung.R; the real-data case) by institution
# (sites with at least 10 patients), times moved to 30 * ceiling(t / 30); the DP release's
# noise imitated by adding a random integer in -2..2 to every non-empty cell (set.seed(15),
# counts kept non-negative), so the tables are not the data's. Covariates as the node codes
# them (node/dpcox.go): sex (reference female; column sexmale), ecog (ecog0, ecog1, ecog2+
# merged: columns ecogecog1, ecogecog2), age clipped to 18–100 in 4 bins coded by their
# midpoints 28.25, 48.75, 69.25, 89.75 (column age). Predictive mode's treatment is the
# indicator karno >= 90 (column karnohigh), its interaction with the marker the product
# column (karnohigh:sexmale).
#
# Cases (each a model of the screen, Efron ties):
#   prog_sex:   coxph(Surv ~ sex + age + strata(site))
#   prog_ecog:  coxph(Surv ~ ecog + age + strata(site))        (a two-term marker)
#   pred_sex:   coxph(Surv ~ karno + sex + age + karno:sex + strata(site))
#   pred_ecog:  coxph(Surv ~ karno + ecog + karno:ecog + strata(site))
# Regenerate: cd app/testdata && Rscript screen_dp_goldens.R
suppressMessages({library(survival); library(jsonlite)})
d <- read.csv("../../analysis/testdata/lung.csv", na.strings = "", stringsAsFactors = FALSE)
d <- d[!is.na(d$ecog) & !is.na(d$karno) & !is.na(d$age), ]
keep <- names(which(table(d$site) >= 10))
d <- d[d$site %in% keep, ]
d$bin <- 30 * ceiling(d$time / 30)
d$sexmale <- as.numeric(d$sex == "male")
d$ecogecog1 <- as.numeric(d$ecog == "ecog1")
d$ecogecog2 <- as.numeric(d$ecog %in% c("ecog2", "ecog3"))
w <- (100 - 18) / 4
d$age <- 18 + (pmin(floor((pmin(pmax(d$age, 18), 100) - 18) / w), 3) + 0.5) * w
d$karnohigh <- as.numeric(d$karno >= 90)
set.seed(15)

cases <- list(
  list(name = "prog_sex", marker = "sex", cols = c("sexmale", "age"), inter = list()),
  list(name = "prog_ecog", marker = "ecog", cols = c("ecogecog1", "ecogecog2", "age"), inter = list()),
  list(name = "pred_sex", marker = "sex", cols = c("karnohigh", "sexmale", "age"), inter = list(c("karnohigh", "sexmale"))),
  list(name = "pred_ecog", marker = "ecog", cols = c("karnohigh", "ecogecog1", "ecogecog2"),
       inter = list(c("karnohigh", "ecogecog1"), c("karnohigh", "ecogecog2"))))

out <- list()
for (cs in cases) {
  x <- d
  names <- cs$cols
  for (pr in cs$inter) {
    nm <- paste(pr[1], pr[2], sep = ":")
    x[[nm]] <- x[[pr[1]]] * x[[pr[2]]]
    names <- c(names, nm)
  }
  sites <- list(); pseudo <- NULL
  for (s in sort(unique(x$site))) {
    xs <- x[x$site == s, ]
    key <- do.call(paste, c(xs[cs$cols], sep = "|"))
    pats <- list()
    for (k in sort(unique(key))) {
      xk <- xs[key == k, ]
      row <- as.numeric(xk[1, names])
      tt <- sort(unique(xk$bin))
      ev <- sapply(tt, function(t) sum(xk$event[xk$bin == t]))
      ce <- sapply(tt, function(t) sum(1 - xk$event[xk$bin == t]))
      ev <- pmax(ev + sample(-2:2, length(ev), replace = TRUE), 0)
      ce <- pmax(ce + sample(-2:2, length(ce), replace = TRUE), 0)
      nz <- ev + ce > 0
      tt <- tt[nz]; ev <- ev[nz]; ce <- ce[nz]
      if (length(tt) == 0) next
      pats[[length(pats) + 1]] <- list(x = I(row), time = I(tt), events = I(ev), censor = I(ce))
      for (i in seq_along(tt)) {
        n <- ev[i] + ce[i]
        m <- matrix(rep(row, n), nrow = n, byrow = TRUE)
        colnames(m) <- make.names(names)
        pseudo <- rbind(pseudo, data.frame(site = s, time = tt[i], event = c(rep(1, ev[i]), rep(0, ce[i])), m))
      }
    }
    sites[[length(sites) + 1]] <- list(site = s, patterns = pats)
  }
  f <- coxph(as.formula(paste("Surv(time, event) ~", paste(make.names(names), collapse = " + "), "+ strata(site)")),
             pseudo, ties = "efron")
  out[[length(out) + 1]] <- list(name = cs$name, marker = cs$marker, columns = names, sites = sites,
                                 coef = unname(coef(f)), se = unname(sqrt(diag(vcov(f)))), loglik = f$loglik[2],
                                 n = nrow(pseudo), events = sum(pseudo$event))
}
writeLines(toJSON(list(source = "R screen_dp_goldens.R (survival::coxph on the pseudo-patients of noisy 30-day tables, strata(site))",
                       cases = out), digits = NA, auto_unbox = TRUE), "screen_dp_goldens.json")
