# R's side of synth.TestIPWScaleAgainstR: the weighted comparison on the pooled cohort the test
# writes (ONCOFED_IPW_CSV): propensity glm, ATE weights, weighted coxph with robust variance
# stratified by site, weighted survfit per arm (robust SE). Prints wall and CPU seconds.
# Usage: Rscript bench/r/ipw.R /tmp/ipw1m.csv
suppressMessages(library(survival))
d <- read.csv(commandArgs(TRUE)[1])
t0 <- proc.time()
g <- glm(trt ~ age + ecog, family = binomial, data = d)
e <- fitted(g)
d$w <- ifelse(d$trt == 1, 1 / e, 1 / (1 - e))
fit <- coxph(Surv(time, status) ~ trt + strata(site), data = d, weights = w, robust = TRUE)
km <- survfit(Surv(time, status) ~ trt, data = d, weights = w)
el <- proc.time() - t0
cat(sprintf("R: %d patients: wall %.2f s, CPU %.2f s; HR %.4f (robust SE %.5f)\n", nrow(d),
            el[["elapsed"]], el[["user.self"]] + el[["sys.self"]], exp(coef(fit)), sqrt(fit$var)))
