# Per-site hazard ratios (male vs female) for the forest-plot golden figure: NCCTG lung data,
# the five largest institutions, Cox model per site, fixed-effect inverse-variance pooling
# with Cochran's Q and Higgins' I² (in percent). Regenerate: Rscript gen_forest.R
suppressMessages({library(survival); library(jsonlite)})
l <- subset(lung, !is.na(inst))
top <- as.integer(names(sort(table(l$inst), decreasing = TRUE))[1:5])
rows <- lapply(top, function(i) {
  f <- coxph(Surv(time, status == 2) ~ I(sex == 1), data = subset(l, inst == i))
  data.frame(label = paste0("inst", i), n = sum(l$inst == i), coef = unname(coef(f)), se = unname(sqrt(diag(vcov(f)))))
})
d <- do.call(rbind, rows)
w <- 1 / d$se^2
pooled <- sum(w * d$coef) / sum(w); pse <- sqrt(1 / sum(w))
q <- sum(w * (d$coef - pooled)^2); df <- nrow(d) - 1
out <- list(sites = data.frame(label = d$label, n = d$n, coef = d$coef, se = d$se, hr = exp(d$coef), lower = exp(d$coef - qnorm(0.975) * d$se),
                               upper = exp(d$coef + qnorm(0.975) * d$se), weight = w / sum(w)),
            pooled = list(hr = exp(pooled), lower = exp(pooled - qnorm(0.975) * pse), upper = exp(pooled + qnorm(0.975) * pse)),
            q = q, df = df, q_p = pchisq(q, df, lower.tail = FALSE), i2 = 100 * max(0, (q - df) / q))
writeLines(toJSON(out, digits = NA, auto_unbox = TRUE, dataframe = "columns"), "forest_lung.json")
