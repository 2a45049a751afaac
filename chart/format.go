package chart

import (
	"fmt"
	"math"
	"strconv"
)

// FormatHR formats a hazard ratio and its confidence interval as "0.59 (0.42–0.82)".
// Ratios are printed with two decimals (three below 0.1, one from 10 up); a limit of a CI
// that excludes 1 gets as many more decimals as it needs not to print as 1
// ("0.80 (0.64–0.996)"), so that such a CI never reads as touching 1.
func FormatHR(hr, lo, hi float64) string {
	return fmt.Sprintf("%s (%s–%s)", formatRatio(hr), formatLimit(lo, lo > 1), formatLimit(hi, hi < 1))
}

// formatLimit is formatRatio for a confidence limit; when the interval excludes 1 on this
// limit's side, decimals are added until the limit no longer rounds to 1.
func formatLimit(x float64, excludesOne bool) string {
	s := formatRatio(x)
	for d := 3; excludesOne && d <= 17; d++ {
		if v, _ := strconv.ParseFloat(s, 64); v != 1 {
			break
		}
		s = strconv.FormatFloat(x, 'f', d, 64)
	}
	return s
}

func formatRatio(x float64) string {
	switch {
	case math.IsNaN(x):
		return "NA"
	case math.IsInf(x, 1):
		return "∞"
	case x < 0.1:
		return strconv.FormatFloat(x, 'f', 3, 64)
	case x >= 10:
		return strconv.FormatFloat(x, 'f', 1, 64)
	}
	return strconv.FormatFloat(x, 'f', 2, 64)
}

// FormatMedianCI formats a median survival time and its 95% CI as "14.2 (11.4–18.1)" with
// one decimal. A bound that is NaN or +Inf was not reached (the curve did not cross 0.5
// within follow-up) and is printed "NR", as R's print.survfit prints NA.
func FormatMedianCI(m, lo, hi float64) string {
	return fmt.Sprintf("%s (%s–%s)", formatTime(m), formatTime(lo), formatTime(hi))
}

func formatTime(x float64) string {
	if math.IsNaN(x) || math.IsInf(x, 0) {
		return "NR"
	}
	return strconv.FormatFloat(x, 'f', 1, 64)
}

// FormatCount formats a cell count under a disclosure policy: a suppressed cell (negative
// count) or a count below minCell is shown as "<minCell", never as a number that could
// identify a patient. With minCell ≤ 1 counts are shown as they are and suppressed cells
// as "–". An approximate count (a noisy estimate: a differentially private release) that is
// shown as a number says so: "≈12".
func FormatCount(n, minCell int, approximate bool) string {
	switch {
	case n < 0 && minCell <= 1:
		return "–"
	case n < 0 || (n > 0 && n < minCell):
		return "<" + strconv.Itoa(minCell)
	case approximate:
		return "≈" + strconv.Itoa(n)
	}
	return strconv.Itoa(n)
}

// FormatSurvivalCI formats a survival probability and its 95% CI as percentages,
// "54.2% (50.1–58.0)"; a limit that is NaN (not estimable) is "NA", and a NaN estimate "–".
func FormatSurvivalCI(s, lo, hi float64) string {
	if math.IsNaN(s) {
		return "–"
	}
	pct := func(x float64) string {
		if math.IsNaN(x) {
			return "NA"
		}
		return strconv.FormatFloat(100*x, 'f', 1, 64)
	}
	return pct(s) + "% (" + pct(lo) + "–" + pct(hi) + ")"
}
