package chart

import (
	"fmt"
	"math"
	"strconv"
)

// FormatP formats a p-value the way journals print it: "p < 0.0001" below 10⁻⁴, otherwise
// "p = " and two significant digits ("p = 0.0013", "p = 0.23"), with a third (and at most a
// fourth) digit when fewer would round a value below 0.05 up to 0.050 and so misstate
// significance. NaN gives "p = NA".
func FormatP(p float64) string {
	switch {
	case math.IsNaN(p) || p < 0 || p > 1:
		return "p = NA"
	case p < 0.0001:
		return "p < 0.0001"
	}
	var s string
	digits := 2
	for {
		s = sigDigits(p, digits)
		v, _ := strconv.ParseFloat(s, 64)
		if !(p < 0.05 && v >= 0.05) || digits >= 4 {
			break
		}
		digits++
	}
	return "p = " + s
}

// sigDigits formats x (0 < x ≤ 1) with n significant digits in fixed notation, keeping
// trailing zeros ("0.050") because they are significant.
func sigDigits(x float64, n int) string {
	if x == 0 {
		return "0"
	}
	decimals := n - 1 - int(math.Floor(math.Log10(x)))
	if decimals < 0 {
		decimals = 0
	}
	s := strconv.FormatFloat(x, 'f', decimals, 64)
	// Rounding can add a digit (0.0996 → 0.100); drop it again.
	if v, _ := strconv.ParseFloat(s, 64); v > 0 && decimals > 0 &&
		n-1-int(math.Floor(math.Log10(v))) < decimals {
		s = strconv.FormatFloat(x, 'f', decimals-1, 64)
	}
	return s
}

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
// as "–".
func FormatCount(n, minCell int) string {
	switch {
	case n < 0 && minCell <= 1:
		return "–"
	case n < 0 || (n > 0 && n < minCell):
		return "<" + strconv.Itoa(minCell)
	}
	return strconv.Itoa(n)
}
