# The R side of the screen timing (network/demo TestScreenTiming): loop coxph over every
# candidate marker on the pooled patient-level data, as an analyst without Oncofed would.
# Usage: Rscript screen_timing.R screen.csv [k]
suppressMessages(library(survival))
args <- commandArgs(trailingOnly = TRUE)
t0 <- proc.time()[["elapsed"]]
d <- read.csv(args[1], na.strings = "", stringsAsFactors = FALSE)
cat(sprintf("read %d patients in %.1f s\n", nrow(d), proc.time()[["elapsed"]] - t0))
markers <- setdiff(names(d), c("site", "time", "event", "age"))
# An optional second argument times the first k markers only (a hand run's per-marker figure).
if (length(args) > 1) markers <- head(markers, as.integer(args[2]))
for (m in markers) if (is.character(d[[m]])) {
  lv <- sort(unique(na.omit(d[[m]])))
  if (all(lv %in% c("wt", "mut"))) lv <- c("wt", "mut")
  if (all(lv %in% c("no", "yes"))) lv <- c("no", "yes")
  d[[m]] <- factor(d[[m]], levels = lv)
}
for (form in c("stratified", "pooled")) {
  t0 <- proc.time()[["elapsed"]]
  c0 <- sum(proc.time()[c("user.self", "sys.self")])
  p <- c()
  for (m in markers) {
    f <- as.formula(paste("Surv(time, event) ~", m, "+ age", if (form == "stratified") "+ strata(site)" else ""))
    fit <- tryCatch(coxph(f, data = d), error = function(e) NULL)
    if (is.null(fit)) next
    idx <- fit$assign[[m]]; b <- coef(fit)[idx]
    if (any(is.na(b))) next
    p[m] <- pchisq(drop(t(b) %*% solve(vcov(fit)[idx, idx, drop = FALSE], b)), length(idx), lower.tail = FALSE)
  }
  q <- p.adjust(p, "BH")
  cat(sprintf("R_timing form=%s seconds=%.2f cpu_seconds=%.2f markers=%d tests=%d\n", form, proc.time()[["elapsed"]] - t0,
              sum(proc.time()[c("user.self", "sys.self")]) - c0, length(markers), length(p)))
}
