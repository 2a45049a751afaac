package report

import (
	"math"
	"sort"
	"strconv"
	"strings"

	"github.com/oncofed/oncofed/app"
	"github.com/oncofed/oncofed/report/format"
)

// ScreenColumns are the columns of ScreenTable, for CSV headers and the app's table.
var ScreenColumns = []string{"marker", "terms", "HR (95% CI)", "χ²", "df", "p", "q", "n", "events", "I²", "sites", "note"}

// ScreenRow is one marker of a screen as text cells (ScreenColumns), and the numbers a
// front end sorts by.
type ScreenRow struct {
	Cells []string
	// Marker, P, Q, LogHR (the first term's coefficient) and I2 for sorting; NaN when not
	// available.
	Marker          string
	P, Q, LogHR, I2 float64
	Estimable       bool
}

// ScreenTable returns one row per marker of a screen, in the screen's order: p and q side
// by side (many q-values tie, so both are shown), HR and interval of each term ("; "
// between terms of a categorical marker), the sites that took part out of those asked, and
// for a marker that is no test why.
func ScreenTable(r *app.ScreenResult) []ScreenRow {
	rows := make([]ScreenRow, 0, len(r.Markers))
	for _, m := range r.Markers {
		row := ScreenRow{Marker: m.Marker, P: m.P, Q: m.Q, LogHR: math.NaN(), I2: m.I2, Estimable: m.Estimable}
		var terms, hrs []string
		for i, t := range m.Terms {
			if i == 0 {
				row.LogHR = t.Coef
			}
			terms = append(terms, t.Column)
			hrs = append(hrs, r3(t.HR)+" ("+r3(t.Lower)+"–"+r3(t.Upper)+")")
		}
		note := ""
		if !m.Estimable {
			note = "not estimable: " + m.Reason
		}
		if len(m.SitesOut) > 0 {
			var out []string
			for _, s := range m.SitesOut {
				out = append(out, s.Site)
			}
			if note != "" {
				note += "; "
			}
			note += "sat out: " + strings.Join(out, ", ")
		}
		df := ""
		if m.Estimable {
			df = strconv.Itoa(m.DF)
		}
		row.Cells = []string{m.Marker, strings.Join(terms, "; "), strings.Join(hrs, "; "), r3(m.Chisq), df,
			format.PNumber(m.P), format.PNumber(m.Q), strconv.Itoa(m.N), strconv.Itoa(m.Events), percent(m.I2),
			strconv.Itoa(len(m.SitesUsed)) + "/" + strconv.Itoa(len(m.SitesUsed)+len(m.SitesOut)), note}
		rows = append(rows, row)
	}
	return rows
}

// SortScreen orders rows by key: "p" or "q" (ascending, not-estimable last, ties by p then
// marker), "effect" (largest |log HR| first) or "marker".
func SortScreen(rows []ScreenRow, key string) {
	val := func(r ScreenRow) float64 {
		switch key {
		case "q":
			return r.Q
		case "effect":
			return -math.Abs(r.LogHR)
		}
		return r.P
	}
	sort.SliceStable(rows, func(i, j int) bool {
		a, b := rows[i], rows[j]
		if key == "marker" {
			return a.Marker < b.Marker
		}
		va, vb := val(a), val(b)
		switch {
		case math.IsNaN(va) != math.IsNaN(vb):
			return !math.IsNaN(va)
		case va != vb && !math.IsNaN(va):
			return va < vb
		case a.P != b.P && !math.IsNaN(a.P) && !math.IsNaN(b.P):
			return a.P < b.P
		}
		return a.Marker < b.Marker
	})
}

// r3 is three significant digits, "NA" when undefined.
func r3(x float64) string {
	if math.IsNaN(x) || math.IsInf(x, 0) {
		return "NA"
	}
	return strconv.FormatFloat(x, 'g', 3, 64)
}

func percent(x float64) string {
	if math.IsNaN(x) {
		return "NA"
	}
	return strconv.FormatFloat(x, 'f', 0, 64) + "%"
}
