package report

import (
	"fmt"
	"io"
	"math"
	"slices"
	"sort"
	"strconv"
	"strings"

	"github.com/oncofed/oncofed/app"
	"github.com/oncofed/oncofed/chart"
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

// MarkerSites says in a sentence what a screened marker was fitted on, for its detail pane:
// "tp53: 1,200 patients, 430 events at 2 sites (a, b). Sat out: c (overlap guard)." — or, when no
// site took part, which sat out and why: "tp53: not estimable: refused at all 3 sites (overlap
// guard)." Each reason is the rule's name (app.SiteProblem.Rule), said once for its sites.
func MarkerSites(m app.MarkerResult) string {
	out := make([]app.SiteProblem, len(m.SitesOut))
	for i, s := range m.SitesOut {
		out[i] = app.SiteProblem{Site: s.Site, Message: app.SiteProblem{Message: s.Reason}.Rule()}
	}
	var parts []string
	for _, g := range app.GroupByReason(out) {
		where := strings.Join(g.Sites, ", ")
		if len(g.Sites) > 1 && len(g.Sites) == len(out) {
			where = fmt.Sprintf("all %d sites", len(g.Sites))
		}
		parts = append(parts, where+" ("+g.Message+")")
	}
	if len(m.SitesUsed) == 0 {
		s := m.Marker + ": not estimable"
		switch {
		case len(parts) > 0:
			s += ": refused at " + strings.Join(parts, "; ")
		case m.Reason != "":
			s += ": " + m.Reason
		}
		return s + "."
	}
	s := fmt.Sprintf("%s: %s patients, %s events at %s (%s).", m.Marker, format.Thousands(m.N), format.Thousands(m.Events),
		format.Plural(len(m.SitesUsed), "site", "sites"), strings.Join(m.SitesUsed, ", "))
	if !m.Estimable && m.Reason != "" {
		s += " Not estimable: " + m.Reason + "."
	}
	if len(parts) > 0 {
		s += " Sat out: " + strings.Join(parts, "; ") + "."
	}
	return s
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

// VolcanoFigure is the volcano plot of a screen: every marker that is a test at its first
// term's log HR (log interaction HR in predictive mode) and p, the q < 0.05 ones labelled.
// nil when no marker is a test.
func VolcanoFigure(r *app.ScreenResult) *chart.Volcano {
	v := &chart.Volcano{Title: fmt.Sprintf("Biomarker screen: %s in %s", r.Request.Endpoint, r.Request.Study)}
	if r.Mode == app.ScreenPredictive {
		v.XLabel = "log interaction hazard ratio"
	}
	for _, m := range r.Markers {
		if !m.Estimable || len(m.Terms) == 0 {
			continue
		}
		v.Points = append(v.Points, chart.VolcanoPoint{Label: m.Marker, LogHR: m.Terms[0].Coef, P: m.P, Highlight: m.Q < 0.05})
	}
	if len(v.Points) == 0 {
		return nil
	}
	v.Footnote = fmt.Sprintf("%d markers tested (%d not estimable); labelled: q < 0.05 (Benjamini–Hochberg); dashed: p = 0.05. A marker of several terms is placed at its first term and its joint p.",
		r.Tests, len(r.Markers)-r.Tests)
	return v
}

// MarkerForest is the forest plot of one marker's term across sites: each site's one-step
// estimate (MarkerResult.SiteTerms) and the pooled estimate, with I². nil when the marker has
// no site estimates.
func MarkerForest(m app.MarkerResult, term int) *chart.ForestPlot {
	if term < 0 || term >= len(m.Terms) || len(m.SiteTerms) == 0 {
		return nil
	}
	q := len(m.Terms)
	f := &chart.ForestPlot{Title: m.Marker + ": " + m.Terms[term].Column + " by site", LabelHeader: "Site"}
	for _, s := range m.SiteTerms {
		est, se := s.Est[term], math.Sqrt(s.Cov[term*q+term])
		f.Rows = append(f.Rows, chart.ForestRow{Label: s.Site, HR: math.Exp(est), Lower: math.Exp(est - 1.959963984540054*se),
			Upper: math.Exp(est + 1.959963984540054*se), Weight: 1 / (se * se)})
	}
	t := m.Terms[term]
	f.Rows = append(f.Rows, chart.ForestRow{Label: "Pooled (all sites)", HR: t.HR, Lower: t.Lower, Upper: t.Upper, Pooled: true})
	if !math.IsNaN(m.I2) {
		i2, qp := m.I2, m.HetQP
		f.I2, f.QP = &i2, &qp
	}
	f.Footnote = "Sites: one Newton step of each site's own likelihood from the pooled estimate (sites with ≥10 events)."
	return f
}

// WriteScreenCSV writes rows (ScreenTable's, in their order) as CSV under ScreenColumns, with
// the screen's release kind (app.ScreenResult.Release) as the last column (ReleaseColumn).
func WriteScreenCSV(w io.Writer, rows []ScreenRow, release string) error {
	recs := [][]string{slices.Clone(ScreenColumns)}
	for _, r := range rows {
		recs = append(recs, slices.Clone(r.Cells))
	}
	return WriteCSV(w, WithRelease(recs, release))
}

// screenSlide is a pinned screen's slide: its volcano plot, titled in words (the endpoint's
// and the study's labels, the mode), with the cohort and privacy note under the plot's own.
func screenSlide(r *app.ScreenResult, n Names, style chart.Style, foot string) (chart.Figure, string) {
	v := VolcanoFigure(r)
	if v == nil {
		return nil, "no marker of the screen could be estimated"
	}
	v.Title = fmt.Sprintf("Biomarker screen: %s in %s", n.Endpoint(r.Request.Endpoint), n.Study(r.Request.Study))
	if r.Mode == app.ScreenPredictive {
		v.Title += fmt.Sprintf(" — interaction with %s = %s", n.Variable(r.Request.Treatment), r.Request.Treated)
	}
	v.Style = style
	v.Footnote = JoinNotes(JoinNotes(v.Footnote, ScreenDPLine(r)), foot)
	return v, ""
}

// ScreenLine is what a screen counted, in one line both front ends print under it: "40 markers,
// 38 tests (prognostic mode), over 6 sites, in 7 scatter-gathers. q: Benjamini–Hochberg over
// the tests."
func ScreenLine(r *app.ScreenResult) string {
	return fmt.Sprintf("%s, %s (%s mode), over %s, in %s. q: Benjamini–Hochberg over the tests.",
		format.Plural(len(r.Markers), "marker", "markers"), format.Plural(r.Tests, "test", "tests"), r.Mode,
		format.Plural(len(r.Sites), "site", "sites"), format.Plural(r.Queries, "scatter-gather", "scatter-gathers"))
}
