package ui

import (
	"bytes"
	"context"
	"math"
	"slices"
	"strings"
	"testing"
	"time"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/driver/desktop"
	"fyne.io/fyne/v2/test"
	"fyne.io/fyne/v2/widget"

	"github.com/oncofed/oncofed/app"
	"github.com/oncofed/oncofed/chart"
	"github.com/oncofed/oncofed/node"
	"github.com/oncofed/oncofed/protocol"
	"github.com/oncofed/oncofed/report"
)

// pooledTotal is the size of testFederation: 300 + 120 + 60 NSCLC patients (its SiteSizes).
const pooledTotal = 480

func TestStartShowsNetworkAndFeasibility(t *testing.T) {
	f := startApp(t)
	if got := f.ui.header.status.Text; got != "● Test network · 3/3 sites" {
		t.Errorf("network status = %q, want %q", got, "● Test network · 3/3 sites")
	}
	if f.ui.study != "nsclc" {
		t.Errorf("study = %q, want nsclc", f.ui.study)
	}
	c := f.ui.cohort
	if c.feas.count == nil || c.feas.count.Total != (app.Count{N: pooledTotal}) {
		t.Fatalf("pooled feasibility = %+v, want exactly %d", c.feas.count, pooledTotal)
	}
	// Feasibility counts are approximate: each site adds noise of ±3 and rounds to 10 (the
	// node's defaults under the demo policy), which leaves 300, 120 and 60 as they are.
	if !c.feas.count.Approximate || c.feas.count.Rounding != 10 || c.feas.count.Noise != 3 {
		t.Errorf("feasibility count not labelled approximate: %+v", c.feas.count)
	}
	got := texts(c.feasBox)
	if len(got) < 2 || got[0] != "pooled" || got[1] != "≈480" {
		t.Errorf("feasibility starts %q, want pooled ≈480", got)
	}
	for _, want := range []string{"≈300", "≈120", "≈60"} {
		if !contains(got, want) {
			t.Errorf("no site shown as %s in %q", want, got)
		}
	}
	if c.run.Disabled() {
		t.Errorf("Run is disabled online with a study and endpoint: %q", c.runState.Text)
	}
	// The legend says how the counts were obfuscated, the demo policy's minimum cohort (10),
	// and where exact numbers come from.
	for _, want := range []string{"±3", "nearest 10", `"<10"`, "Exact numbers come with Run"} {
		if !strings.Contains(c.feasLegend, want) {
			t.Errorf("feasibility legend %q does not say %s", c.feasLegend, want)
		}
	}
}

func TestFeasibilityShowsSuppressedGroup(t *testing.T) {
	f := startApp(t)
	c := f.ui.cohort
	before := c.feas
	c.groupBy.SetSelected("alk")
	f.loop.until(t, "feasibility by alk", func() bool { return c.feas != before })
	got := texts(c.feasBox)
	// ALK-rearranged is a few percent of patients: at the 60- and 120-patient sites fewer
	// than the minimum cohort of 10, so those sites refuse its feasibility count and the
	// panel shows "<10", never 0 nor a number; the other groups are approximate.
	if !contains(got, "rearranged <10") {
		t.Errorf("no group below the minimum shown as <10 in %q", got)
	}
	if !contains(got, "negative ≈") {
		t.Errorf("no approximate group count in %q", got)
	}
	for _, s := range got {
		if strings.Contains(s, "rearranged 0") || strings.Contains(s, "rearranged ≈0") {
			t.Errorf("a group below the minimum is shown as 0: %q", s)
		}
	}
	if !c.warning.Visible() || !strings.Contains(c.warning.Text, "lakeside-community") {
		t.Errorf("no warning naming the site whose policy would refuse: visible=%v %q", c.warning.Visible(), c.warning.Text)
	}
	// Running shows the refusal warning first instead of sending the query.
	runs := f.ui.runGen
	test.Tap(c.run)
	if f.ui.runGen != runs {
		t.Error("Run sent a query the sites would refuse without asking first")
	}
}

func TestFilterUpdatesFeasibility(t *testing.T) {
	f := startApp(t)
	c := f.ui.cohort
	before := c.feas
	lo, hi := 60.0, 70.0
	c.AddFilter(cohortFilter{Var: "age", Min: &lo, Max: &hi})
	f.loop.until(t, "feasibility with an age filter", func() bool { return c.feas != before })
	// The filter, and under it the cohort in the CLI's syntax.
	if got := texts(c.filterBox); len(got) != 2 || got[0] != "age 60–70" || got[1] != "where 60 <= age <= 70" {
		t.Errorf("filters shown %q, want [age 60–70, where 60 <= age <= 70]", got)
	}
	n := c.feas.count.Total
	if n.Suppressed || n.N <= 0 || n.N >= pooledTotal {
		t.Fatalf("pooled count with age 60–70 = %v, want a part of %d", n, pooledTotal)
	}
	sum := 0
	for _, s := range c.feas.count.PerSite {
		sum += s.Total.N
	}
	if sum != n.N {
		t.Errorf("sites add up to %d, pooled says %d", sum, n.N)
	}
	if c.Describe() != "age 60–70" {
		t.Errorf("cohort in words = %q", c.Describe())
	}
	before = c.feas
	c.onRemoveFilter(0)
	f.loop.until(t, "feasibility without filters", func() bool { return c.feas != before })
	if c.feas.count.Total.N != pooledTotal {
		t.Errorf("after removing the filter the pooled count is %v, want %d", c.feas.count.Total, pooledTotal)
	}
}

func TestRunShowsKaplanMeier(t *testing.T) {
	f := startApp(t)
	a := f.ui
	before := a.cohort.feas
	a.cohort.groupBy.SetSelected("sex")
	f.loop.until(t, "feasibility by sex", func() bool { return a.cohort.feas != before })
	if len(a.cohort.refusals) > 0 {
		t.Fatalf("unexpected refusals by sex: %+v", a.cohort.refusals)
	}
	test.Tap(a.cohort.run)
	if a.tabs.Selected().Text != TabSurvival {
		t.Errorf("Run shows tab %q, want %s", a.tabs.Selected().Text, TabSurvival)
	}
	if !a.cohort.cancel.Visible() || !a.cohort.run.Disabled() {
		t.Error("no Cancel (or an enabled Run) while the sites are asked")
	}
	f.loop.until(t, "the Kaplan–Meier result", func() bool { return a.survival.result != nil })
	r := a.survival.result
	if r.Cached || len(r.KM.Groups) != 2 || r.KM.Groups[0].Group != "female" || r.KM.Groups[1].Group != "male" {
		t.Fatalf("result: cached=%v groups=%+v", r.Cached, r.KM.Groups)
	}
	cells := texts(a.survival.stats)
	// Patients per group plus those without a sex add up to the federation's size.
	total := r.KM.MissingGroup.N
	for _, g := range r.KM.Groups {
		total += g.Table.Total()
		med := chart.FormatMedianCI(g.Median.Time/daysPerMonth, g.Median.Lower/daysPerMonth, g.Median.Upper/daysPerMonth)
		if !contains(cells, med) {
			t.Errorf("%s: median %q not shown in %q", g.Group, med, cells)
		}
		if math.IsNaN(g.Median.Time) {
			t.Errorf("%s: median not reached in a 6-year NSCLC cohort", g.Group)
		}
		if len(g.Landmarks) != 3 {
			t.Errorf("%s: %d landmarks, want 12/24/60 months", g.Group, len(g.Landmarks))
		}
	}
	if total != pooledTotal {
		t.Errorf("groups and missing add up to %d patients, want %d", total, pooledTotal)
	}
	if !contains(cells, "Median, months (95% CI)") || !contains(cells, "S at 12 mo") {
		t.Errorf("stats table header missing in %q", cells)
	}
	if !strings.HasPrefix(a.survival.logrank.Text, "Log-rank p") || !strings.Contains(a.survival.logrank.Text, "stratified by site") {
		t.Errorf("log-rank line %q", a.survival.logrank.Text)
	}
	if p := a.survival.privacy.Text; !strings.Contains(p, "3 of 3 sites") || !strings.Contains(p, "(live)") || !strings.Contains(p, "data cut 2026-06-30") {
		t.Errorf("privacy line %q", p)
	}
	// The figure is rendered off the UI goroutine at the size it is laid out at.
	fv := a.survival.figure
	f.loop.until(t, "the KM figure", func() bool { return fv.Image() != nil })
	if b, sz := fv.Image().Bounds(), fv.Size(); b.Dx() > int(sz.Width) || b.Dy() > int(sz.Height) ||
		(b.Dx() != int(sz.Width) && b.Dy() != int(sz.Height)) {
		t.Errorf("figure rendered at %v for a view of %v", b, sz)
	}
	// Switching the time unit re-renders with the medians in years.
	a.survival.unit.SetSelected("years")
	g := r.KM.Groups[0]
	med := chart.FormatMedianCI(g.Median.Time/365.25, g.Median.Lower/365.25, g.Median.Upper/365.25)
	if !contains(texts(a.survival.stats), med) {
		t.Errorf("median in years %q not shown", med)
	}
	// The per-site view: female patients' curve at each of the three sites, tested across sites.
	a.survival.view.SetSelected(viewBySite + "female")
	sv := a.survival.siteView
	if sv == nil || len(sv.KM.Groups) != 3 || sv.KM.Groups[0].Group != "lakeside-community" || sv.KM.LogRank == nil {
		t.Fatalf("per-site view: %+v", sv)
	}
	perSite := 0
	for _, g := range sv.KM.Groups {
		perSite += g.Table.Total()
	}
	if perSite != r.KM.Groups[0].Table.Total() {
		t.Errorf("sites' female patients add up to %d, pooled %d", perSite, r.KM.Groups[0].Table.Total())
	}
	if !strings.HasPrefix(a.survival.logrank.Text, "Log-rank across sites p") || !contains(texts(a.survival.stats), "north-academic") {
		t.Errorf("per-site stats: %q / %q", a.survival.logrank.Text, texts(a.survival.stats))
	}
	a.survival.view.SetSelected(viewPooled)
	if a.survival.siteView != nil {
		t.Error("back to pooled still shows sites")
	}
	// Two groups: a Cox model on sex (stratified by site) puts its HR into the figure.
	f.loop.until(t, "the hazard ratio", func() bool { return a.survival.opts.HR != nil })
	if hr := a.survival.opts.HR; hr.Label != "male vs female, stratified by site" || !(hr.Lower < hr.HR && hr.HR < hr.Upper) {
		t.Errorf("HR %+v", hr)
	}
	// Table 1 ran alongside and both results are in the library.
	f.loop.until(t, "Table 1", func() bool { return a.summary.result != nil })
	if a.summary.Cell(0, 0) != "n" || a.summary.header(1) != "female" {
		t.Errorf("Table 1 starts %q / %q", a.summary.Cell(0, 0), a.summary.header(1))
	}
	// Its chart: bars of a categorical variable per group (its two levels and, as the test
	// federation has patients without an alk result, missing), a histogram of age on the edges asked.
	bars, ok := SummaryFigure(a.summary.result, "alk", a.chartStyle(), "").(*chart.BarChart)
	if !ok || len(bars.Groups) != 2 || bars.Groups[0].Name != "female" || !slices.Equal(bars.Categories, []string{"negative", "rearranged", "missing"}) {
		t.Errorf("alk bars: %+v", bars)
	}
	hist, ok := SummaryFigure(a.summary.result, "age", a.chartStyle(), "").(*chart.Histogram)
	if !ok || len(hist.Series) != 2 || len(hist.Edges) != len(report.DefaultEdges(app.Variable{Unit: "years"})) {
		t.Errorf("age histogram: %+v", hist)
	}
	// Table 1 is renamed after it is stored: wait for the library to show that.
	f.loop.until(t, "the library", func() bool {
		got := names(a.library.Items())
		return len(got) == 3 && contains(got, "Table 1 by sex (nsclc)") && contains(got, "Kaplan–Meier of OS by sex (nsclc)")
	})
	// Reopened from the library, the Kaplan–Meier figure gets back the HR fitted with it.
	want := *a.survival.opts.HR
	a.survival.opts.HR = nil
	a.openResult(r.ID)
	f.loop.until(t, "the hazard ratio of the reopened result", func() bool { return a.survival.opts.HR != nil })
	if got := *a.survival.opts.HR; got != want {
		t.Errorf("reopened HR %+v, fitted %+v", got, want)
	}
}

func TestCancelDropsTheRun(t *testing.T) {
	f := startApp(t)
	a := f.ui
	test.Tap(a.cohort.run)
	test.Tap(a.cohort.cancel)
	if a.running != 0 || a.cohort.run.Disabled() {
		t.Errorf("after Cancel: running=%d, run disabled=%v", a.running, a.cohort.run.Disabled())
	}
	// Results of the cancelled run arrive (or fail) and are dropped.
	deadline := time.Now().Add(2 * time.Second)
	f.loop.until(t, "the cancelled run to settle", func() bool { return time.Now().After(deadline) })
	if a.survival.result != nil {
		t.Error("a cancelled run's result was shown")
	}
}

func TestCoxFitShowsHazardRatios(t *testing.T) {
	f := startApp(t)
	a := f.ui
	fitCox(t, f, "age", "sex")
	fit := a.cox.result.Cox.Fit
	cells := texts(a.cox.table)
	for i, term := range fit.Terms {
		hr := chart.FormatHR(fit.HR[i], fit.Lower[i], fit.Upper[i])
		if !contains(cells, hr) {
			t.Errorf("%s: HR %q not in %q", term, hr, cells)
		}
	}
	// The reference level has its row, and age its unit (the synthetic dictionary's years).
	if !contains(cells, "sex: male vs female") || !contains(cells, "sex: female (reference)") || !contains(cells, "age, per year") {
		t.Errorf("term labels %q", cells)
	}
	var csv bytes.Buffer
	if err := report.WriteCoxCSV(&csv, a.cox.result, report.CoxRows(a.cox.result, a.names())); err != nil || !strings.Contains(csv.String(), "sex: female (reference),sex,female,female,1,") {
		t.Errorf("HR table CSV (%v):\n%s", err, csv.String())
	}
	if fit.N != pooledTotal {
		t.Errorf("fit on %d patients, want %d (age and sex are complete)", fit.N, pooledTotal)
	}
	fv := a.cox.figure
	f.loop.until(t, "the forest plot", func() bool { return fv.Image() != nil })
	if fv.lastErr != nil {
		t.Error(fv.lastErr)
	}

	// Choosing male as sex's reference refits with female compared with male: the same model,
	// so the HR is the reciprocal, as R's relevel gives.
	ref := a.cox.refs["sex"]
	if ref == nil || ref.Selected != "female" || !contains(texts(a.cox.refBox), "Reference for sex") {
		t.Fatalf("reference choice for sex: %+v, box %q", ref, texts(a.cox.refBox))
	}
	if _, ok := a.cox.refs["age"]; ok {
		t.Error("a numeric covariate was offered a reference level")
	}
	male := fit.HR[slices.Index(fit.Terms, "sexmale")]
	ref.SetSelected("male")
	before := a.cox.result
	test.Tap(a.cox.fit)
	f.loop.until(t, "the refit", func() bool { return a.cox.result != before || strings.HasPrefix(a.cox.status.Text, "No Cox") })
	refit := a.cox.result.Cox.Fit
	i := slices.Index(refit.Terms, "sexfemale")
	if i < 0 || math.Abs(refit.HR[i]*male-1) > 1e-9 {
		t.Fatalf("with male as reference: terms %q, HR %v (male vs female was %v)", refit.Terms, refit.HR, male)
	}
	if cells := texts(a.cox.table); !contains(cells, "sex: female vs male") || !contains(cells, "sex: male (reference)") {
		t.Errorf("term labels after choosing the reference %q", cells)
	}
	// Deselecting sex drops its choice from the panel.
	a.cox.covariates.SetSelected([]string{"age"})
	if contains(texts(a.cox.refBox), "Reference for sex") {
		t.Errorf("reference box still offers sex: %q", texts(a.cox.refBox))
	}
}

// TestCoxPerSiteView: the per-site view of a term fits the model at each site alone and shows
// their hazard ratios with the pooled diamond, I² and the Q test; the small test federation's
// sites all have enough events, so none is left out.
func TestCoxPerSiteView(t *testing.T) {
	f := startApp(t)
	a := f.ui
	fitCox(t, f, "sex")
	want := "By site: sex: male vs female"
	if !slices.Contains(a.cox.view.Options, want) {
		t.Fatalf("views %q", a.cox.view.Options)
	}
	a.cox.view.SetSelected(want)
	f.loop.until(t, "the per-site fits", func() bool { return a.cox.sites != nil || strings.HasPrefix(a.cox.status.Text, "No per-site") })
	if a.cox.sites == nil {
		t.Fatalf("no per-site view: %s", a.cox.status.Text)
	}
	if n := len(a.cox.sites.Sites); n != 3 {
		t.Errorf("%d sites fitted, want 3", n)
	}
	line := a.cox.meta.Text
	if !strings.Contains(line, "I² = ") || !strings.Contains(line, "fixed effect") || !strings.Contains(line, "sites pooled") {
		t.Errorf("heterogeneity line %q", line)
	}
	fv := a.cox.figure
	f.loop.until(t, "the per-site forest plot", func() bool { return fv.Image() != nil })
	if fv.lastErr != nil {
		t.Error(fv.lastErr)
	}
	// With the per-site controls shown, the tab still fits a 1280×800 screen (TestFitsSmallScreens).
	if m := a.cox.content.MinSize(); m.Width > 1280-300 {
		t.Errorf("Cox tab with the per-site view needs %v", m)
	}
	// Random effects switch the diamond; no new fits are needed.
	sent := a.cox.sites.Queries
	a.cox.random.SetChecked(true)
	if !strings.Contains(a.cox.meta.Text, "random effects") || a.cox.sites.Queries != sent {
		t.Errorf("random effects: %q", a.cox.meta.Text)
	}
	// Back to the terms.
	a.cox.view.SetSelected(viewAllTerms)
	if a.cox.meta.Visible() {
		t.Error("heterogeneity line still shown for the terms view")
	}
}

// TestCoxPerSiteViewDP: for an analyst of role dp the Cox model is fitted on the sites'
// differentially private tables, and its per-site view fits each site's tables alone — no
// query (the sites' ρ ledgers do not move) — with the noise in each site's standard error, said
// in the heterogeneity line; it is offered offline too, from the stored tables.
func TestCoxPerSiteViewDP(t *testing.T) {
	f := startAppAs(t, testFederation(), node.RoleDP)
	a := f.ui
	a.selectTab(TabCox)
	a.cox.covariates.SetSelected([]string{"sex"})
	test.Tap(a.cox.fit)
	f.loop.until(t, "the Cox fit", func() bool { return a.cox.result != nil || strings.HasPrefix(a.cox.status.Text, "No Cox") })
	if a.cox.result == nil || a.cox.result.Cox.Form != protocol.CoxDPTables {
		t.Fatalf("no dp fit: %s", a.cox.status.Text)
	}
	want := "By site: sex: male vs female"
	if !slices.Contains(a.cox.view.Options, want) {
		t.Fatalf("views %q: the per-site view is not offered for a dp model", a.cox.view.Options)
	}
	audited := func() int {
		n, err := f.demo.Audited(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		return n
	}
	before := audited()
	a.cox.view.SetSelected(want)
	f.loop.until(t, "the per-site fits", func() bool { return a.cox.sites != nil || strings.HasPrefix(a.cox.status.Text, "No per-site") })
	if a.cox.sites == nil || !a.cox.sites.DP || a.cox.sites.Queries != 0 {
		t.Fatalf("per-site view %+v: %s", a.cox.sites, a.cox.status.Text)
	}
	if after := audited(); after != before {
		t.Errorf("the per-site view of dp tables sent queries: %d audit records before, %d after", before, after)
	}
	if line := a.cox.meta.Text; !strings.Contains(line, "sites pooled") || !strings.Contains(line, "includes the release's noise") {
		t.Errorf("heterogeneity line %q", line)
	}
}

func TestOfflineBannerAndCachedResults(t *testing.T) {
	f := startApp(t)
	a := f.ui
	test.Tap(a.cohort.run)
	f.loop.until(t, "a result to cache", func() bool { return a.survival.result != nil && a.summary.result != nil })
	kmID := a.survival.result.ID
	want := a.survival.result.KM.Groups[0].Median
	a.Close()

	// The same cache, no network: the app starts offline.
	f.open(t, nil)
	a = f.ui
	a.Start()
	f.loop.until(t, "the offline state", func() bool { return a.Offline() })
	if got := a.banner.Text(); !strings.HasPrefix(got, "Offline — showing cached results as of ") {
		t.Errorf("banner = %q", got)
	}
	if !a.cohort.run.Disabled() || !strings.HasPrefix(a.cohort.runState.Text, "Offline: new analyses cannot run") {
		t.Errorf("Run enabled=%v, reason %q", !a.cohort.run.Disabled(), a.cohort.runState.Text)
	}
	if a.study != "nsclc" {
		t.Errorf("the cached catalog did not load: study %q", a.study)
	}
	f.loop.until(t, "the library", func() bool { return len(a.library.Items()) == 2 })
	a.openResult(kmID)
	f.loop.until(t, "the cached KM result", func() bool { return a.survival.result != nil })
	r := a.survival.result
	if !r.Cached || r.KM.Groups[0].Median != want {
		t.Errorf("offline re-render: cached=%v median %+v, want %+v", r.Cached, r.KM.Groups[0].Median, want)
	}
	if !strings.Contains(a.survival.privacy.Text, "(cached, ") {
		t.Errorf("privacy line does not say cached: %q", a.survival.privacy.Text)
	}
	if a.tabs.Selected().Text != TabSurvival {
		t.Errorf("opening a KM result shows tab %q", a.tabs.Selected().Text)
	}
}

func TestNoticeTogglesBanner(t *testing.T) {
	f := startApp(t)
	a := f.ui
	at := time.Date(2026, 11, 28, 9, 30, 0, 0, time.Local)
	a.onNotice(app.Notice{Offline: true, At: at})
	if got := a.banner.Text(); !strings.HasPrefix(got, "Offline — showing cached results as of 28 Nov 2026 09:30") {
		t.Errorf("banner = %q", got)
	}
	if !a.cohort.run.Disabled() || a.header.status.Text != "○ Test network · offline" {
		t.Errorf("offline: run disabled=%v, status %q", a.cohort.run.Disabled(), a.header.status.Text)
	}
	a.onNotice(app.Notice{Offline: false})
	if a.banner.Text() != "" || a.cohort.run.Disabled() {
		t.Errorf("back online: banner %q, run disabled=%v", a.banner.Text(), a.cohort.run.Disabled())
	}
}

func TestLibraryRenamePinDelete(t *testing.T) {
	f := startApp(t)
	a := f.ui
	test.Tap(a.cohort.run)
	f.loop.until(t, "two results", func() bool { return len(a.library.Items()) == 2 })
	lib := a.library
	lib.list.Select(1)
	id := lib.current().ID
	lib.mutate("Rename", func(ctx context.Context) error { return a.svc.Rename(ctx, id, "Tumor board, OS") })
	f.loop.until(t, "the rename", func() bool { return contains(names(lib.Items()), "Tumor board, OS") })
	lib.list.Select(indexOf(lib.Items(), id))
	test.Tap(lib.pin)
	f.loop.until(t, "the pin", func() bool { return len(lib.Items()) == 2 && lib.Items()[0].Pinned && lib.Items()[0].ID == id })
	if !strings.HasPrefix(lib.itemText(lib.Items()[0]), "★ Tumor board, OS · 3 of 3 sites · ") {
		t.Errorf("pinned item reads %q", lib.itemText(lib.Items()[0]))
	}
	lib.mutate("Delete", func(ctx context.Context) error { return a.svc.Delete(ctx, id) })
	f.loop.until(t, "the delete", func() bool { return len(lib.Items()) == 1 })
}

func names(items []app.ResultSummary) []string {
	var out []string
	for _, it := range items {
		out = append(out, it.Name)
	}
	return out
}

func indexOf(items []app.ResultSummary, id int64) int {
	for i, it := range items {
		if it.ID == id {
			return i
		}
	}
	return -1
}

func TestSummaryRequestBinsNumericVariables(t *testing.T) {
	f := startApp(t)
	req := f.ui.summaryRequest()
	if req.Kind != protocol.KindSummary || len(req.Variables) == 0 {
		t.Fatalf("request %+v", req)
	}
	binned := map[string]bool{}
	for _, b := range req.Bins {
		binned[b.Variable] = true
	}
	if !binned["age"] {
		t.Errorf("age is not binned: %+v", req.Bins)
	}
}

func TestExports(t *testing.T) {
	f := startApp(t)
	a := f.ui
	test.Tap(a.cohort.run)
	f.loop.until(t, "both results", func() bool { return a.survival.result != nil && a.summary.result != nil })
	now := time.Now()
	var csv, md bytes.Buffer
	if err := WriteTable1(&csv, a.summary.result, false, "CSV", now); err != nil {
		t.Fatal(err)
	}
	if err := WriteTable1(&md, a.summary.result, true, "Markdown", now); err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(csv.String()), "\n")
	if len(lines) != len(a.summary.result.Summary.Table.Rows)+1 || !strings.Contains(lines[1], "n") {
		t.Errorf("CSV has %d lines for %d rows:\n%s", len(lines), len(a.summary.result.Summary.Table.Rows), csv.String())
	}
	if !strings.HasPrefix(md.String(), "|") || !strings.Contains(md.String(), "privacy: ") || !strings.Contains(md.String(), "north-academic") {
		t.Errorf("Markdown per site:\n%s", md.String())
	}
	var docx bytes.Buffer
	if err := WriteTable1(&docx, a.summary.result, false, table1Word, now); err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(docx.String(), "PK") || !bytes.Contains(docx.Bytes(), []byte("word/document.xml")) {
		t.Errorf("the Word export is not an Office Open XML package: %q…", docx.String()[:min(16, docx.Len())])
	}
	fig := report.KMFigure(a.survival.result, report.KMOptions{}, chart.PublicationStyle(), "footnote")
	for format, magic := range map[string]string{"png": "\x89PNG", "svg": "<?xml", "pdf": "%PDF"} {
		var b bytes.Buffer
		if err := writeFigure(&b, format, fig); err != nil {
			t.Fatalf("%s: %v", format, err)
		}
		if !strings.HasPrefix(b.String(), magic) {
			t.Errorf("%s export starts %q", format, b.String()[:min(16, b.Len())])
		}
	}
}

func TestStudySwitchResetsTheCohort(t *testing.T) {
	f := startApp(t)
	a := f.ui
	test.Tap(a.cohort.run)
	f.loop.until(t, "a result", func() bool { return a.survival.result != nil })
	lo := 60.0
	a.cohort.AddFilter(cohortFilter{Var: "age", Min: &lo})
	// A catalog with a second study, as a refresh would bring.
	cat := *a.catalog
	other := cat.Studies[0]
	other.Name = "nsclc-2"
	cat.Studies = append(append([]app.Study(nil), cat.Studies...), other)
	a.onCatalog(&cat)
	if a.study != "nsclc" || len(a.header.study.Options) != 2 {
		t.Fatalf("a catalog refresh changed the study to %q (options %v)", a.study, a.header.study.Options)
	}
	if sel := a.header.study.Selected; !strings.Contains(sel, "(nsclc)") || !strings.Contains(sel, " patients, ") {
		t.Errorf("the study picker shows %q, want the title, name and size", sel)
	}
	a.header.selectStudy("nsclc-2")
	if a.study != "nsclc-2" || len(a.cohort.filters) != 0 || a.survival.result != nil {
		t.Errorf("after switching: study %q, filters %v, result kept %v", a.study, a.cohort.filters, a.survival.result != nil)
	}
	if a.cohort.Request(protocol.KindCount).Study != "nsclc-2" {
		t.Error("requests still name the old study")
	}
}

func TestSaveAndOpenCohort(t *testing.T) {
	f := startApp(t)
	c := f.ui.cohort
	lo := 65.0
	c.AddFilter(cohortFilter{Var: "age", Min: &lo})
	c.AddFilter(cohortFilter{Var: "stage", Categorical: true, Values: []string{"IVA", "IVB"}})
	c.groupBy.SetSelected("sex")
	before := c.feas
	f.loop.until(t, "feasibility of the cohort", func() bool { return c.feas != before })
	built := c.feas.count.Total
	c.SaveAs("Stage IV, 65+")
	f.loop.until(t, "the saved cohort", func() bool { return len(c.open.Options) == 1 })
	if got := c.Request(protocol.KindSurvival).CohortName; got != "Stage IV, 65+" {
		t.Errorf("cohort name %q, want the saved name", got)
	}
	c.onRemoveFilter(0)
	c.groupBy.SetSelected(noGroup)
	if got := c.Request(protocol.KindSurvival).CohortName; got != "stage in IVA, IVB" {
		t.Errorf("an edited cohort keeps the saved name: %q", got)
	}
	c.open.SetSelected("Stage IV, 65+")
	if c.Describe() != "age ≥ 65; stage in IVA, IVB" || c.GroupBy() != "sex" {
		t.Errorf("opened cohort: %q by %q", c.Describe(), c.GroupBy())
	}
	// The reopened cohort is the same query: the same count as when it was built.
	before = c.feas
	f.loop.until(t, "feasibility of the reopened cohort", func() bool { return c.feas != before })
	if c.feas.count.Total != built || built.N <= 0 || built.N >= pooledTotal {
		t.Errorf("reopened cohort counts %v, built %v", c.feas.count.Total, built)
	}
}

func TestFiltersOf(t *testing.T) {
	lo := 1.0
	got, err := FiltersOf(&protocol.Filter{Op: protocol.OpAnd, Args: []*protocol.Filter{
		{Op: protocol.OpIn, Var: "stage", Values: []string{"IVA"}},
		{Op: protocol.OpRange, Var: "ecog", Min: &lo},
		{Op: protocol.OpEq, Var: "sex", Value: "male"},
	}})
	if err != nil || describeFilters(got) != "stage in IVA; ecog ≥ 1; sex in male" {
		t.Errorf("FiltersOf = %q, %v", describeFilters(got), err)
	}
	_, err = FiltersOf(&protocol.Filter{Op: protocol.OpAnd, Args: []*protocol.Filter{{Op: protocol.OpIn, Var: "a"}, {Op: protocol.OpNot}}})
	if err == nil || !strings.Contains(err.Error(), `cohort.args[1]: the condition "not" cannot be edited here`) {
		t.Errorf("a not condition: %v", err)
	}
	if fs, err := FiltersOf(nil); fs != nil || err != nil {
		t.Errorf("nil filter: %v %v", fs, err)
	}
}

// TestRunShowsSitesLive: during a run each site is shown waiting until it answers; a site
// that went down is shown as waiting, then as not having answered, and Cancel ends the run.
func TestRunShowsSitesLive(t *testing.T) {
	f := startApp(t)
	a := f.ui
	test.Tap(a.cohort.run)
	f.loop.until(t, "the run", func() bool { return a.running == 0 && a.survival.result != nil })
	if got := a.cohort.sites.Text(); !strings.HasPrefix(got, "3 of 3 sites answered") {
		t.Errorf("after the run: %q", got)
	}
	down := f.demo.Sites[0]
	f.demo.StopSite(down)
	// Any edit drops the old results; run again with a site down.
	a.cohort.groupBy.SetSelected("")
	test.Tap(a.cohort.run)
	f.loop.until(t, "the other sites' answers", func() bool {
		return strings.HasPrefix(a.cohort.sites.Text(), "2 of 3 sites answered")
	})
	if got := a.cohort.sites.Text(); !strings.Contains(got, "waiting: "+down) {
		t.Errorf("during the run: %q", got)
	}
	test.Tap(a.cohort.cancel)
	if got := a.cohort.sites.Text(); !strings.Contains(got, "no answer: "+down) {
		t.Errorf("after Cancel: %q", got)
	}
}

// Ctrl+Q quits as the window's close button does: the window's size is remembered and the
// app's background work stops.
func TestCtrlQQuits(t *testing.T) {
	f := startApp(t)
	a := f.ui
	a.win.Resize(fyne.NewSize(1111, 777))
	sc, ok := a.win.Canvas().(interface{ TypedShortcut(fyne.Shortcut) })
	if !ok {
		t.Fatal("the test canvas takes no shortcuts")
	}
	sc.TypedShortcut(&desktop.CustomShortcut{KeyName: fyne.KeyQ, Modifier: fyne.KeyModifierShortcutDefault})
	if a.ctx.Err() == nil {
		t.Error("Ctrl+Q left the app running")
	}
	if w := a.fy.Preferences().Float("window.width"); w != 1111 {
		t.Errorf("remembered width %v, want 1111", w)
	}
}

// When one Run's Kaplan–Meier and Table 1 come from different sites (a site refused the second
// query), both tabs say so and why; results of an older Run are not compared.
func TestRunSaysWhenSitesDiffer(t *testing.T) {
	f := startApp(t)
	a := f.ui
	prov := func(answered ...string) app.Provenance {
		return app.Provenance{Expected: []string{"a", "b", "c"}, Answered: answered,
			Refused: []app.SiteProblem{{Site: "c", Message: "fewer than min_cohort=10 patients"}}}
	}
	km := &app.Result{Request: app.Request{Kind: protocol.KindSurvival}, Provenance: prov("a", "b")}
	t1 := &app.Result{Request: app.Request{Kind: protocol.KindSummary}, Provenance: prov("a")}
	t1.Provenance.Refused = append(t1.Provenance.Refused, app.SiteProblem{Site: "b", Message: "group IIIC below its minimum"})
	a.runParts = runParts{gen: 7}
	a.onRunPart(6, km) // an older run
	a.onRunPart(7, t1)
	if a.survival.status.Visible() && strings.Contains(a.survival.status.Text, "Not the same sites") {
		t.Fatal("compared with an older run's result")
	}
	a.onRunPart(7, km)
	for tab, l := range map[string]*widget.Label{"survival": a.survival.status, "summary": a.summary.status} {
		if !l.Visible() || !strings.Contains(l.Text, "Table 1 is from 1 of 3 sites, the Kaplan–Meier curves from 2") ||
			!strings.Contains(l.Text, "b is in the Kaplan–Meier curves only (Table 1: refused: group IIIC below its minimum)") {
			t.Errorf("%s tab says %q (visible %v)", tab, l.Text, l.Visible())
		}
	}
}

// Opening a result from the library puts its cohort, grouping and endpoint back into the
// builder, so that the next Run starts from what is on show.
func TestOpeningAResultLoadsTheBuilder(t *testing.T) {
	f := startApp(t)
	a := f.ui
	c := a.cohort
	lo := 60.0
	c.AddFilter(cohortFilter{Var: "age", Min: &lo})
	c.groupBy.SetSelected("sex")
	a.runAnalyses()
	f.loop.until(t, "the Kaplan–Meier result", func() bool { return a.survival.result != nil })
	id := a.survival.result.ID
	c.onRemoveFilter(0)
	c.groupBy.SetSelected(noGroup)
	a.openResult(id)
	f.loop.until(t, "the reopened result", func() bool { return len(c.filters) == 1 })
	if got, want := protocol.FormatFilter(c.Cohort()), "age >= 60"; got != want {
		t.Errorf("builder cohort %q, want %q", got, want)
	}
	if c.GroupBy() != "sex" || c.endpoint.Selected != a.survival.result.Request.Endpoint {
		t.Errorf("builder groups by %q, endpoint %q", c.GroupBy(), c.endpoint.Selected)
	}
}

// The Library lists every cached result whichever hub the app is connected to: one computed
// on another network is listed with that network's name, opens from its stored aggregates and
// cannot be re-run here (walkthrough: a different or dead hub hid last week's results).
func TestLibraryListsEveryNetwork(t *testing.T) {
	f := startApp(t)
	a := f.ui
	a.runAnalyses()
	f.loop.until(t, "the Kaplan–Meier result", func() bool { return a.survival.result != nil })
	ctx := context.Background()
	if err := f.db.SaveNetwork(ctx, app.NetworkInfo{ID: "regional", Name: "Regional oncology network"}); err != nil {
		t.Fatal(err)
	}
	other, err := f.svc.Open(ctx, a.survival.result.ID)
	if err != nil {
		t.Fatal(err)
	}
	other.ID, other.Network, other.Name = 0, "regional", "KM last week"
	if err := f.db.SaveResult(ctx, other); err != nil {
		t.Fatal(err)
	}
	lib := a.library
	lib.onRefresh()
	f.loop.until(t, "the other network's result", func() bool { return contains(names(lib.Items()), "KM last week") })
	i := indexOf(lib.Items(), other.ID)
	if got := lib.itemText(lib.Items()[i]); !strings.HasSuffix(got, " · on Regional oncology network") {
		t.Errorf("listed as %q", got)
	}
	lib.list.Select(i)
	if !lib.rerun.Disabled() || lib.open.Disabled() || !strings.Contains(lib.detail.Text, "connect to it to re-run") {
		t.Errorf("re-run disabled %v, open disabled %v, detail %q", lib.rerun.Disabled(), lib.open.Disabled(), lib.detail.Text)
	}
	a.survival.result = nil
	lib.onOpen()
	f.loop.until(t, "the opened result", func() bool { return a.survival.result != nil })
	if a.survival.result.ID != other.ID {
		t.Errorf("opened result %d, want %d", a.survival.result.ID, other.ID)
	}
}
