# R's side of synth.TestIPWScaleAgainstR: the weighted comparison on the pooled cohort the test
# writes (ONCOFED_IPW_CSV): propensity glm, ATE weights, weighted coxph with robust variance
# stratified by site and pooled (Efron, Breslow), weighted survfit per arm (its default, robust, standard errors). Prints
# wall and CPU seconds per step.
# Usage: Rscript bench/r/ipw.R /tmp/ipw1m.csv
suppressMessages(library(survival))
d <- read.csv(commandArgs(TRUE)[1])
step <- function(name, expr) {
  t0 <- proc.time()
  v <- force(expr)
  el <- proc.time() - t0
  cat(sprintf("R %s, %d patients: wall %.2f s, CPU %.2f s\n", name, nrow(d), el[["elapsed"]],
              el[["user.self"]] + el[["sys.self"]]))
  flush.console()
  v
}
g <- step("glm", glm(trt ~ age + ecog, family = binomial, data = d))
e <- fitted(g)
d$w <- ifelse(d$trt == 1, 1 / e, 1 / (1 - e))
fit <- step("coxph(weights, robust) + strata(site)",
            coxph(Surv(time, status) ~ trt + strata(site), data = d, weights = w, robust = TRUE))
cat(sprintf("HR %.4f, robust SE %.5f\n", exp(coef(fit)), sqrt(fit$var)))
for (ties in c("efron", "breslow")) {
  pf <- step(paste0("coxph(weights, robust) pooled, ", ties),
             coxph(Surv(time, status) ~ trt, data = d, weights = w, robust = TRUE, ties = ties))
  cat(sprintf("pooled %s: coef %.10g, SE robust %.10g, naive %.10g, robust score %.10g\n", ties,
              coef(pf), sqrt(pf$var), sqrt(pf$naive.var), pf$rscore))
}
km <- step("survfit(weights)", survfit(Surv(time, status) ~ trt, data = d, weights = w))
