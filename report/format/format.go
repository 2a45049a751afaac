// Package format holds the number formatting every front end shares: the one p-value
// formatter and the one rule for displaying a suppressed or small cell count.
//
// It is the leaf of package report: chart and app format numbers with it too, and report
// imports them, so these rules cannot live in report itself. It imports only the standard
// library.
package format

import (
	"math"
	"strconv"
	"strings"
)

// Boundaries are the significance levels a printed p-value must never be rounded across:
// p = 0.0496 must not read "0.050", p = 0.00996 not "0.010".
var Boundaries = []float64{0.05, 0.01, 0.001}

// Tiny is the p-value below which only "< 0.0001" is printed: smaller values carry no
// more meaning in a table and their digits are noise from the asymptotic approximation.
const Tiny = 0.0001

// PValue formats a p-value the way journals print it. The rule:
//   - p < 0.0001 prints "p < 0.0001";
//   - otherwise "p = " and two significant digits ("p = 0.0013", "p = 0.23", "p = 1.0"),
//     with a third (at most a fourth) digit when fewer would round a p below a significance
//     boundary (0.05, 0.01, 0.001) up to that boundary: 0.0496 prints "p = 0.0496", never
//     "p = 0.050"; 0.05 and 0.0501 print "p = 0.050" (they are not below 0.05);
//   - NaN or a value outside [0, 1] prints "p = NA".
func PValue(p float64) string {
	s := PNumber(p)
	if strings.HasPrefix(s, "<") {
		return "p " + s
	}
	return "p = " + s
}

// PNumber is PValue without "p = ": "0.0496", "< 0.0001", "NA" — for table cells and for
// sentences that supply their own "p".
func PNumber(p float64) string {
	switch {
	case math.IsNaN(p) || p < 0 || p > 1:
		return "NA"
	case p < Tiny:
		return "< " + strconv.FormatFloat(Tiny, 'f', -1, 64)
	}
	var s string
	for digits := 2; ; digits++ {
		s = sigDigits(p, digits)
		v, _ := strconv.ParseFloat(s, 64)
		if !crossesBoundary(p, v) || digits >= 4 {
			return s
		}
	}
}

// crossesBoundary reports whether printing p as v moves it from below a significance
// boundary to on or above it. (Rounding to nearest cannot move a p at or above a boundary
// below it, since every boundary has one significant digit.)
func crossesBoundary(p, v float64) bool {
	for _, b := range Boundaries {
		if p < b && v >= b {
			return true
		}
	}
	return false
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

// Thousands writes n with a comma between groups of three digits: 7800 → "7,800".
func Thousands(n int) string {
	s := strconv.Itoa(n)
	if n < 0 {
		return s
	}
	var b strings.Builder
	for i, r := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(r)
	}
	return b.String()
}

// Plural writes a count with its noun: "1 event", "4 events" (many is the plural form).
func Plural(n int, one, many string) string {
	if n == 1 {
		return "1 " + one
	}
	return strconv.Itoa(n) + " " + many
}

// Exact formats a number for CSV and machine-read text: the shortest form that reads back as
// the same float64, "NA" (R's missing value) when it is undefined or infinite.
func Exact(x float64) string {
	if math.IsNaN(x) || math.IsInf(x, 0) {
		return "NA"
	}
	return strconv.FormatFloat(x, 'g', -1, 64)
}
