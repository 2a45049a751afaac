package report

import (
	"bytes"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/oncofed/oncofed/analysis"
	"github.com/oncofed/oncofed/app"
	"github.com/oncofed/oncofed/chart"
	"github.com/oncofed/oncofed/protocol"
)

func screenFixture() *app.ScreenResult {
	nan := math.NaN()
	return &app.ScreenResult{Request: app.ScreenRequest{Study: "nsclc", Endpoint: "OS"}, Mode: app.ScreenPrognostic, Tests: 2,
		Markers: []app.MarkerResult{
			{Marker: "nf1", Estimable: true, Terms: []app.ScreenTerm{{Column: "nf1mut", Coef: -0.1, HR: math.Exp(-0.1), Lower: 0.7, Upper: 1.2}},
				P: 0.4, Q: 0.4, DF: 1, Chisq: 0.7, N: 900, Events: 600, I2: 0, SitesUsed: []string{"a", "b"}},
			{Marker: "ntrk1", Reason: "every site refused it", P: nan, Q: nan, Chisq: nan, I2: nan,
				SitesOut: []app.SiteOut{{Site: "a", Reason: "design column"}, {Site: "b", Reason: "design column"}}},
			{Marker: "tp53", Estimable: true, Terms: []app.ScreenTerm{{Column: "tp53mut", Coef: 0.3, HR: math.Exp(0.3), Lower: 1.1, Upper: 1.6}},
				P: 1e-5, Q: 2e-5, DF: 1, Chisq: 19, N: 900, Events: 600, I2: 12, HetQP: 0.3, SitesUsed: []string{"a", "b"},
				SiteTerms: []analysis.SiteTerms{{Site: "a", Est: []float64{0.25}, Cov: []float64{0.01}}, {Site: "b", Est: []float64{0.35}, Cov: []float64{0.02}}}},
		}}
}

// The table shows p and q side by side, says why a marker is no test and which sites sat
// it out; sorting by q puts tests first and non-tests last.
func TestScreenTable(t *testing.T) {
	r := screenFixture()
	rows := ScreenTable(r)
	if len(rows) != 3 || len(rows[0].Cells) != len(ScreenColumns) {
		t.Fatalf("%d rows of %d cells", len(rows), len(rows[0].Cells))
	}
	p, q := indexOf(ScreenColumns, "p"), indexOf(ScreenColumns, "q")
	if rows[2].Cells[p] != "< 0.0001" || rows[0].Cells[q] != "0.40" {
		t.Errorf("p %q, q %q", rows[2].Cells[p], rows[0].Cells[q])
	}
	note := rows[1].Cells[len(ScreenColumns)-1]
	if !strings.Contains(note, "not estimable: every site refused it") || !strings.Contains(note, "sat out: a, b") || rows[1].Cells[p] != "NA" {
		t.Errorf("ntrk1 row %q", rows[1].Cells)
	}
	SortScreen(rows, "q")
	if rows[0].Marker != "tp53" || rows[1].Marker != "nf1" || rows[2].Marker != "ntrk1" {
		t.Errorf("sorted by q: %s %s %s", rows[0].Marker, rows[1].Marker, rows[2].Marker)
	}
	SortScreen(rows, "marker")
	if rows[0].Marker != "nf1" {
		t.Errorf("sorted by marker: %s first", rows[0].Marker)
	}
}

// The volcano plots the tests only and labels the q < 0.05 ones; the drill-down forest has
// one row per site estimate and the pooled diamond.
func TestVolcanoFigureAndMarkerForest(t *testing.T) {
	r := screenFixture()
	v := VolcanoFigure(r)
	if v == nil || len(v.Points) != 2 || !v.Points[1].Highlight || v.Points[0].Highlight {
		t.Fatalf("volcano %+v", v)
	}
	if _, err := chart.Image(v, 600, 400); err != nil {
		t.Fatal(err)
	}
	f := MarkerForest(r.Markers[2], 0)
	if f == nil || len(f.Rows) != 3 || !f.Rows[2].Pooled || f.I2 == nil || *f.I2 != 12 {
		t.Fatalf("forest %+v", f)
	}
	if math.Abs(f.Rows[0].HR-math.Exp(0.25)) > 1e-12 || math.Abs(f.Rows[0].Upper-math.Exp(0.25+1.959963984540054*0.1)) > 1e-12 {
		t.Errorf("site a: %+v", f.Rows[0])
	}
	if _, err := chart.Image(f, 600, 400); err != nil {
		t.Fatal(err)
	}
	if MarkerForest(r.Markers[1], 0) != nil {
		t.Error("a forest for a marker that is no test")
	}
}

func indexOf(xs []string, x string) int {
	for i, y := range xs {
		if y == x {
			return i
		}
	}
	return -1
}

// A pinned screen's slide is its volcano plot, titled in words, with the cohort and privacy
// note; it is a page of the deck; a screen with no estimable marker has no slide and says why.
func TestScreenSlide(t *testing.T) {
	sr := screenFixture()
	r := &app.Result{Request: app.Request{Kind: protocol.KindScreen, Study: "nsclc", Endpoint: "OS"}, Screen: sr}
	names := Names{From: &app.Study{Name: "nsclc", Title: "Advanced NSCLC", Endpoints: []app.Endpoint{{Name: "OS", Label: "Overall survival"}}}}
	now := time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)
	f, why := Slide(r, names, chart.PresentationStyle(), now)
	v, ok := f.(*chart.Volcano)
	if !ok || why != "" || len(v.Points) != 2 {
		t.Fatalf("screen slide %T (%q)", f, why)
	}
	if v.Title != "Biomarker screen: Overall survival in Advanced NSCLC" || v.Style.Name != "presentation" {
		t.Errorf("title %q, style %+v", v.Title, v.Style)
	}
	if !strings.Contains(v.Footnote, "2 markers tested (1 not estimable)") || !strings.Contains(v.Footnote, "Cohort: nsclc, all patients") {
		t.Errorf("footnote %q", v.Footnote)
	}
	var pdf bytes.Buffer
	if err := WriteDeck(&pdf, []*app.Result{r}, []Names{names}, now); err != nil || !bytes.HasPrefix(pdf.Bytes(), []byte("%PDF")) {
		t.Errorf("deck of the screen: %v (%d bytes)", err, pdf.Len())
	}
	none := *sr
	none.Markers = sr.Markers[1:2] // ntrk1 alone: not estimable
	if f, why := Slide(&app.Result{Request: r.Request, Screen: &none}, names, chart.PresentationStyle(), now); f != nil || !strings.Contains(why, "no marker") {
		t.Errorf("a screen without estimable markers: %T, %q", f, why)
	}
}

// One screen line for both front ends, in the singular where a count is one.
func TestScreenLine(t *testing.T) {
	r := &app.ScreenResult{Markers: make([]app.MarkerResult, 2), Tests: 1, Mode: app.ScreenPrognostic, Sites: []string{"a"}, Queries: 1}
	want := "2 markers, 1 test (prognostic mode), over 1 site, in 1 scatter-gather. q: Benjamini–Hochberg over the tests."
	if got := ScreenLine(r); got != want {
		t.Errorf("ScreenLine = %q, want %q", got, want)
	}
}

// A marker's detail names the sites it was fitted on and those that sat out, each reason (the
// rule's name) once; when every site refused it, it says so and why, not "0 patients, 0
// events, sites ." (the pane's text before).
func TestMarkerSites(t *testing.T) {
	guard := "overlap guard: this patient set is within min_cell=5 patients of a set or a combination of sets already released"
	column := "design column ntrk1mut holds too few patients in this cohort: every column of a model needs at least min_cell=5 patients"
	for _, c := range []struct {
		m    app.MarkerResult
		want string
	}{
		{app.MarkerResult{Marker: "egfr", Reason: "every site refused it",
			SitesOut: []app.SiteOut{{Site: "a", Reason: guard}, {Site: "b", Reason: guard}, {Site: "c", Reason: guard}}},
			"egfr: not estimable: refused at all 3 sites (overlap guard)."},
		{app.MarkerResult{Marker: "ntrk1", Reason: "every site refused it",
			SitesOut: []app.SiteOut{{Site: "a", Reason: column}, {Site: "b", Reason: column}, {Site: "c", Reason: "fewer than min_cohort=10 complete cases"}}},
			"ntrk1: not estimable: refused at a, b (design column ntrk1mut holds too few patients in this cohort); c (fewer than min_cohort=10 complete cases)."},
		{app.MarkerResult{Marker: "kras", Reason: "site b stopped answering in round 3"},
			"kras: not estimable: site b stopped answering in round 3."},
		{app.MarkerResult{Marker: "tp53", Estimable: true, N: 1200, Events: 430, SitesUsed: []string{"a", "b"},
			SitesOut: []app.SiteOut{{Site: "c", Reason: guard}}},
			"tp53: 1,200 patients, 430 events at 2 sites (a, b). Sat out: c (overlap guard)."},
		{app.MarkerResult{Marker: "alk", Reason: "a term could not be estimated", N: 300, Events: 90, SitesUsed: []string{"a"}},
			"alk: 300 patients, 90 events at 1 site (a). Not estimable: a term could not be estimated."},
	} {
		if got := MarkerSites(c.m); got != c.want {
			t.Errorf("%s:\n got %q\nwant %q", c.m.Marker, got, c.want)
		}
	}
}
