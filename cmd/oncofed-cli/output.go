package main

import (
	"encoding/json"
	"fmt"
	"io"
	"math"
	"path/filepath"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/oncofed/oncofed/analysis"
	"github.com/oncofed/oncofed/app"
	"github.com/oncofed/oncofed/chart"
	"github.com/oncofed/oncofed/internal/atomicfile"
	"github.com/oncofed/oncofed/protocol"
	"github.com/oncofed/oncofed/report"
	"github.com/oncofed/oncofed/report/format"
)

// clock is the time the privacy line's "computed" and cached age are measured from.
var clock = time.Now

func writeJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

// writeCSV writes a table as CSV (report.WriteCSV: one writer for both front ends).
var writeCSV = report.WriteCSV

func table(w io.Writer) *tabwriter.Writer { return tabwriter.NewWriter(w, 2, 4, 2, ' ', 0) }

// num is a JSON number that is null when undefined (R's NA).
func num(x float64) *float64 {
	if math.IsNaN(x) || math.IsInf(x, 0) {
		return nil
	}
	return &x
}

func nums(xs []float64) []*float64 {
	out := make([]*float64, len(xs))
	for i, x := range xs {
		out[i] = num(x)
	}
	return out
}

// g formats a number for text and CSV: NA when undefined, else the shortest exact form.
var g = format.Exact

// r4 formats a number to 4 significant digits for text tables.
func r4(x float64) string {
	if math.IsNaN(x) || math.IsInf(x, 0) {
		return "NA"
	}
	return strconv.FormatFloat(x, 'g', 4, 64)
}

func writeSites(w io.Writer, format string, rows []app.SiteRecord) error {
	switch format {
	case "json":
		out := []map[string]any{}
		for _, r := range rows {
			out = append(out, map[string]any{"site": r.Site, "online": r.Online, "latency_ms": float64(r.Latency) / float64(time.Millisecond),
				"studies": nonNil(r.Studies), "last_seen": r.LastSeen, "policy": r.Policy, "data_cuts": r.DataCuts})
		}
		return writeJSON(w, out)
	case "csv":
		recs := [][]string{{"site", "online", "latency_ms", "studies"}}
		for _, r := range rows {
			recs = append(recs, []string{r.Site, strconv.FormatBool(r.Online), g(float64(r.Latency) / float64(time.Millisecond)), strings.Join(r.Studies, " ")})
		}
		return writeCSV(w, recs)
	}
	t := table(w)
	fmt.Fprintln(t, "SITE\tSTATUS\tLATENCY\tSTUDIES\tPOLICY")
	for _, r := range rows {
		status, lat := "offline", "-"
		if r.Online {
			status, lat = "online", r.Latency.Round(100*time.Microsecond).String()
		}
		pol := "-"
		if r.Policy != nil {
			pol = fmt.Sprintf("min cohort %d, min cell %d, bins %g d", r.Policy.MinCohort, r.Policy.MinCell, r.Policy.BinDays)
		}
		fmt.Fprintf(t, "%s\t%s\t%s\t%s\t%s\n", r.Site, status, lat, strings.Join(r.Studies, ", "), pol)
	}
	return t.Flush()
}

func patients(st *app.Study) string {
	if st.PatientsAtLeast {
		return "≥" + strconv.Itoa(st.Patients)
	}
	return strconv.Itoa(st.Patients)
}

func writeStudies(w io.Writer, format string, cat *app.Catalog) error {
	switch format {
	case "json":
		out := []map[string]any{}
		for _, st := range cat.Studies {
			m := map[string]any{"study": st.Name, "title": st.Title, "sites": st.Sites, "patients": st.Patients,
				"patients_at_least": st.PatientsAtLeast, "data_cut": st.DataCut}
			if w := st.DictionaryWarning(); w != "" {
				m["dictionary_warning"] = w
			}
			out = append(out, m)
		}
		return writeJSON(w, map[string]any{"studies": out, "missing_sites": nonNil(cat.Missing)})
	case "csv":
		recs := [][]string{{"study", "title", "sites", "patients"}}
		for _, st := range cat.Studies {
			recs = append(recs, []string{st.Name, st.Title, strings.Join(st.Sites, " "), patients(&st)})
		}
		return writeCSV(w, recs)
	}
	t := table(w)
	fmt.Fprintln(t, "STUDY\tTITLE\tPATIENTS\tSITES")
	for _, st := range cat.Studies {
		fmt.Fprintf(t, "%s\t%s\t%s\t%d: %s\n", st.Name, st.Title, patients(&st), len(st.Sites), strings.Join(st.Sites, ", "))
	}
	if err := t.Flush(); err != nil {
		return err
	}
	if len(cat.Missing) > 0 {
		fmt.Fprintf(w, "not answering: %s\n", strings.Join(cat.Missing, ", "))
	}
	for _, st := range cat.Studies {
		if warn := st.DictionaryWarning(); warn != "" {
			fmt.Fprintf(w, "warning: %s\n", warn)
		}
	}
	return nil
}

func writeVariables(w io.Writer, format string, st *app.Study) error {
	switch format {
	case "json":
		return writeJSON(w, map[string]any{"study": st.Name, "variables": st.Variables, "endpoints": st.Endpoints})
	case "csv":
		recs := [][]string{{"name", "kind", "type", "categories", "missing_at"}}
		for _, v := range st.Variables {
			recs = append(recs, []string{v.Name, "variable", string(v.Type), strings.Join(v.Categories, " "), strings.Join(v.MissingAt, " ")})
		}
		for _, e := range st.Endpoints {
			recs = append(recs, []string{e.Name, "endpoint", "time-to-event", "", strings.Join(e.MissingAt, " ")})
		}
		return writeCSV(w, recs)
	}
	fmt.Fprintf(w, "study %s (%s patients at %d sites)\n", st.Name, patients(st), len(st.Sites))
	t := table(w)
	fmt.Fprintln(t, "VARIABLE\tTYPE\tVALUES\tNOT AT")
	for _, v := range st.Variables {
		vals := strings.Join(v.Categories, ", ")
		if v.Unit != "" {
			vals = v.Unit
		}
		fmt.Fprintf(t, "%s\t%s\t%s\t%s\n", v.Name, v.Type, vals, strings.Join(v.MissingAt, ", "))
	}
	for _, e := range st.Endpoints {
		fmt.Fprintf(t, "%s\tendpoint\t%s\t%s\n", e.Name, e.Label, strings.Join(e.MissingAt, ", "))
	}
	return t.Flush()
}

func countJSON(c app.Count) map[string]any {
	m := map[string]any{"n": c.N, "text": c.String()}
	if c.Suppressed {
		m["suppressed"] = true
		if c.Max > 0 {
			m["max"] = c.Max
		}
	}
	return m
}

func writeCount(w io.Writer, format string, r *app.Result) error {
	c := r.Count
	switch format {
	case "json":
		groups := []map[string]any{}
		for _, gc := range c.Groups {
			groups = append(groups, map[string]any{"group": gc.Group, "count": countJSON(gc.N)})
		}
		perSite := []map[string]any{}
		for _, s := range c.PerSite {
			perSite = append(perSite, map[string]any{"site": s.Site, "total": countJSON(s.Total)})
		}
		doc := map[string]any{"study": r.Request.Study, "total": countJSON(c.Total), "groups": groups,
			"missing_group": countJSON(c.Missing), "per_site": perSite,
			"sites": provenanceJSON(&r.Provenance), "policy": policyJSON(&r.Provenance),
			"privacy": report.NewPrivacy(r, clock())}
		if c.Approximate {
			doc["approximate"] = map[string]any{"rounding": c.Rounding, "noise": c.Noise}
		}
		return writeJSON(w, doc)
	case "csv":
		header := []string{"group", "n", "suppressed"}
		if c.Approximate {
			header = append(header, "approximate")
		}
		recs := [][]string{header}
		rec := func(group string, n app.Count) {
			r := []string{group, strconv.Itoa(n.N), strconv.FormatBool(n.Suppressed)}
			if c.Approximate {
				r = append(r, "true")
			}
			recs = append(recs, r)
		}
		rec("all", c.Total)
		for _, gc := range c.Groups {
			rec(gc.Group, gc.N)
		}
		return writeCSV(w, report.WithRelease(recs, report.ReleaseKind(r)))
	}
	approx := func(n app.Count) string {
		if !c.Approximate || (n.Suppressed && n.N <= 1 && n.Max > 0) {
			return n.String()
		}
		return "≈" + n.String()
	}
	fmt.Fprintf(w, "%s: %s patients\n", r.Request.Study, approx(c.Total))
	writeCohortLine(w, r.Request.Cohort)
	if c.Approximate {
		fmt.Fprintf(w, "approximate: each site added noise of up to ±%d and rounded to the nearest %d; the exact count is `count` without --feasibility\n", c.Noise, c.Rounding)
	}
	if len(c.Groups) > 0 {
		t := table(w)
		fmt.Fprintf(t, "%s\tN\n", strings.ToUpper(r.Request.GroupBy))
		for _, gc := range c.Groups {
			fmt.Fprintf(t, "%s\t%s\n", gc.Group, approx(gc.N))
		}
		if c.Missing.N > 0 || c.Missing.Suppressed {
			fmt.Fprintf(t, "(missing)\t%s\n", approx(c.Missing))
		}
		if err := t.Flush(); err != nil {
			return err
		}
	}
	t := table(w)
	fmt.Fprintln(t, "SITE\tN")
	for _, s := range c.PerSite {
		fmt.Fprintf(t, "%s\t%s\n", s.Site, approx(s.Total))
	}
	for _, p := range r.Provenance.Refused {
		if m, ok := app.SmallCohort(p); ok {
			fmt.Fprintf(t, "%s\t<%d\n", p.Site, m)
		}
	}
	if err := t.Flush(); err != nil {
		return err
	}
	fmt.Fprintln(w, report.PrivacyLine(r, clock()))
	return nil
}

func writeSummary(w io.Writer, format string, r *app.Result) error {
	tb, smd := report.Table1(r.Summary.Table)
	switch format {
	case "json":
		n := []string{}
		for _, c := range tb.N {
			n = append(n, c.String())
		}
		rows := []map[string]any{}
		for _, row := range tb.Rows {
			rows = append(rows, map[string]any{"label": row.Label, "cells": row.Cells, "smd": row.SMD})
		}
		return writeJSON(w, map[string]any{"study": r.Request.Study, "columns": tb.Columns, "n": n, "rows": rows,
			"notes": tb.Notes, "sites": provenanceJSON(&r.Provenance), "policy": policyJSON(&r.Provenance),
			"privacy": report.NewPrivacy(r, clock())})
	case "csv":
		return report.WriteTable1(w, r, r.Summary.Table, report.Table1CSV, clock())
	}
	writeCohortLine(w, r.Request.Cohort)
	t := table(w)
	smdHead := ""
	if smd {
		smdHead = "\tSMD"
	}
	fmt.Fprintf(t, "\t%s%s\n", strings.Join(tb.Columns, "\t"), smdHead) // the first row is n
	for _, row := range tb.Rows {
		line := row.Label + "\t" + strings.Join(row.Cells, "\t")
		if smd {
			line += "\t" + row.SMD
		}
		fmt.Fprintln(t, line)
	}
	if err := t.Flush(); err != nil {
		return err
	}
	for _, note := range tb.Notes {
		fmt.Fprintln(w, "note:", note)
	}
	fmt.Fprintln(w, report.PrivacyLine(r, clock()))
	return nil
}

// table1FileFormat is the format a Table 1 file's extension names ("" when none).
func table1FileFormat(path string) string {
	switch strings.ToLower(filepath.Ext(path)) {
	case ".docx":
		return report.Table1Docx
	case ".md":
		return report.Table1Markdown
	case ".csv":
		return report.Table1CSV
	}
	return ""
}

// writeTable1File writes r's Table 1 to path in the format of its extension, all or nothing.
func writeTable1File(path string, r *app.Result) error {
	return atomicfile.Write(path, func(w io.Writer) error {
		return report.WriteTable1(w, r, r.Summary.Table, table1FileFormat(path), clock())
	})
}

// kmDoc is the km command's result, in the JSON layout of issue 5.
type kmDoc struct {
	Study         string         `json:"study"`
	Endpoint      string         `json:"endpoint"`
	Cohort        any            `json:"cohort"`
	GroupBy       string         `json:"group_by,omitempty"`
	ConfType      string         `json:"conf_type"`
	BinDays       float64        `json:"bin_days"`
	Sites         map[string]any `json:"sites"`
	Policy        map[string]any `json:"policy"`
	Groups        []kmGroupDoc   `json:"groups"`
	LogRank       *testDoc       `json:"logrank"`
	LogRankStrata *testDoc       `json:"logrank_site_strata"`
	LogRankError  string         `json:"logrank_error,omitempty"`
	// LogRankWithNoise: the releases were differentially private, and the tests' variance
	// holds their noise (app.DPLogRank).
	LogRankWithNoise bool `json:"logrank_with_noise,omitempty"`
	// DelayedEntries is the number of patients the sites report entering observation late
	// (risk sets from entry): a registry's enrolments.
	DelayedEntries int `json:"delayed_entries,omitempty"`
	// DPNote says, for differentially private tables, that the intervals leave out the noise
	// (report.DPKMNote).
	DPNote string `json:"dp_note,omitempty"`
	// Privacy is the privacy and provenance line's structured form (report.Privacy).
	Privacy report.Privacy `json:"privacy"`

	unit timeUnit // of the text output's times (JSON and CSV stay in days)
}

type kmGroupDoc struct {
	Name      string        `json:"name"`
	N         int           `json:"n"`
	Events    int           `json:"events"`
	Curve     curveDoc      `json:"curve"`
	Median    estDoc        `json:"median"`
	RMST      rmstDoc       `json:"rmst"`
	Landmarks []landmarkDoc `json:"landmarks"`
}

type curveDoc struct {
	Time    []float64  `json:"time"`
	NRisk   []int      `json:"n_risk"`
	NEvent  []int      `json:"n_event"`
	NCensor []int      `json:"n_censor"`
	Surv    []float64  `json:"surv"`
	StdErr  []*float64 `json:"std_err"`
	Lower   []*float64 `json:"lower"`
	Upper   []*float64 `json:"upper"`
}

type estDoc struct {
	Value *float64 `json:"value"`
	Lower *float64 `json:"lower"`
	Upper *float64 `json:"upper"`
}

type rmstDoc struct {
	Tau   float64  `json:"tau"`
	Value *float64 `json:"value"`
	SE    *float64 `json:"se"`
}

type landmarkDoc struct {
	Time   float64  `json:"time"`
	NRisk  int      `json:"n_risk"`
	Surv   *float64 `json:"surv"`
	StdErr *float64 `json:"std_err"`
	Lower  *float64 `json:"lower"`
	Upper  *float64 `json:"upper"`
	Beyond bool     `json:"beyond_follow_up,omitempty"`
}

type testDoc struct {
	ChiSq float64 `json:"chisq"`
	DF    int     `json:"df"`
	P     float64 `json:"p"`
}

func testOf(t *analysis.LogRankResult) *testDoc {
	if t == nil {
		return nil
	}
	return &testDoc{ChiSq: t.ChiSq, DF: t.DF, P: t.P}
}

// kmDocument builds the km result document; curves with another confidence interval type
// than R's default (log) are recomputed from the merged tables.
func kmDocument(r *app.Result, o kmOptions) (*kmDoc, error) {
	km := r.KM
	doc := &kmDoc{Study: r.Request.Study, Endpoint: km.Endpoint, Cohort: r.Request.Cohort, GroupBy: r.Request.GroupBy,
		ConfType: o.confType.String(), BinDays: km.BinDays, Sites: provenanceJSON(&r.Provenance), Policy: policyJSON(&r.Provenance),
		LogRank: testOf(km.LogRank), LogRankStrata: testOf(km.StratifiedLogRank), LogRankError: km.LogRankError, LogRankWithNoise: km.LogRankWithNoise, DelayedEntries: km.DelayedEntries, DPNote: report.DPKMNote(r), Privacy: report.NewPrivacy(r, clock()), unit: o.unit}
	tau := o.tau
	if tau == 0 {
		tau = math.Inf(1)
		for _, grp := range km.Groups {
			if n := len(grp.Curve.Time); n > 0 {
				tau = math.Min(tau, grp.Curve.Time[n-1])
			}
		}
	}
	for _, grp := range km.Groups {
		est := grp.Curve
		if o.confType != est.ConfType {
			var err error
			if est, err = analysis.KaplanMeier(grp.Table, analysis.KMOptions{ConfType: o.confType}); err != nil {
				return nil, fmt.Errorf("group %s: %w", grp.Group, err)
			}
		}
		name := grp.Group
		if name == "" {
			name = "all"
		}
		gd := kmGroupDoc{Name: name, N: est.N, Events: est.Events, Curve: curveDoc{
			Time: est.Time, NRisk: est.NRisk, NEvent: est.NEvent, NCensor: est.NCensor, Surv: est.Surv,
			StdErr: nums(est.StdErr), Lower: nums(est.Lower), Upper: nums(est.Upper)}}
		med := est.Median()
		gd.Median = estDoc{Value: num(med.Time), Lower: num(med.Lower), Upper: num(med.Upper)}
		if !math.IsInf(tau, 0) {
			gd.RMST.Tau = tau
			if rm, err := est.RMST(tau); err == nil {
				gd.RMST.Value, gd.RMST.SE = num(rm.Mean), num(rm.SE)
			}
		}
		if len(o.landmarks) > 0 {
			marks, err := est.At(o.landmarks)
			if err != nil {
				return nil, fmt.Errorf("group %s: landmarks: %w", grp.Group, err)
			}
			for _, m := range marks {
				gd.Landmarks = append(gd.Landmarks, landmarkDoc{Time: m.Time, NRisk: m.NRisk, Surv: num(m.Surv), StdErr: num(m.StdErr),
					Lower: num(m.Lower), Upper: num(m.Upper), Beyond: m.Beyond})
			}
		}
		doc.Groups = append(doc.Groups, gd)
	}
	return doc, nil
}

func pstr(x *float64) string {
	if x == nil {
		return "NA"
	}
	return r4(*x)
}

// writeCurvesHeading is the first lines of a curves command's text output (km, cif): what was
// estimated of which endpoint and study, by which group, with which intervals and time bins,
// then the cohort.
func writeCurvesHeading(w io.Writer, what, endpoint, study, groupBy, confType string, binDays float64, cohort any) {
	fmt.Fprintf(w, "%s of %s in %s", what, endpoint, study)
	if groupBy != "" {
		fmt.Fprintf(w, " by %s", groupBy)
	}
	fmt.Fprintf(w, " (%s confidence intervals", confType)
	if binDays > 0 {
		fmt.Fprintf(w, "; times coarsened to %g-day bins", binDays)
	}
	fmt.Fprintln(w, ")")
	if f, ok := cohort.(*protocol.Filter); ok {
		writeCohortLine(w, f)
	}
}

func writeKM(w io.Writer, format string, doc *kmDoc) error {
	switch format {
	case "json":
		return writeJSON(w, doc)
	case "csv":
		recs := [][]string{{"group", "time", "n_risk", "n_event", "n_censor", "surv", "std_err", "lower", "upper"}}
		for _, gd := range doc.Groups {
			c := gd.Curve
			for k := range c.Time {
				recs = append(recs, []string{gd.Name, g(c.Time[k]), strconv.Itoa(c.NRisk[k]), strconv.Itoa(c.NEvent[k]), strconv.Itoa(c.NCensor[k]),
					g(c.Surv[k]), ptrG(c.StdErr[k]), ptrG(c.Lower[k]), ptrG(c.Upper[k])})
			}
		}
		return writeCSV(w, report.WithRelease(recs, doc.Privacy.Release))
	}
	writeCurvesHeading(w, "Kaplan–Meier", doc.Endpoint, doc.Study, doc.GroupBy, doc.ConfType, doc.BinDays, doc.Cohort)
	t := table(w)
	u := doc.unit
	fmt.Fprint(t, "GROUP\tN\tEVENTS\t"+u.medianHeader())
	if len(doc.Groups) > 0 && doc.Groups[0].RMST.Tau > 0 {
		fmt.Fprintf(t, "\tRMST %s (SE)", u.at(doc.Groups[0].RMST.Tau))
	}
	if len(doc.Groups) > 0 {
		for _, m := range doc.Groups[0].Landmarks {
			fmt.Fprintf(t, "\tS(%s) (95%% CI)", u.landmark(m.Time))
		}
	}
	fmt.Fprintln(t)
	for _, gd := range doc.Groups {
		fmt.Fprintf(t, "%s\t%d\t%d\t%s (%s–%s)", gd.Name, gd.N, gd.Events, u.str(gd.Median.Value), u.str(gd.Median.Lower), u.str(gd.Median.Upper))
		if gd.RMST.Tau > 0 {
			fmt.Fprintf(t, "\t%s (%s)", u.str(gd.RMST.Value), u.str(gd.RMST.SE))
		}
		for _, m := range gd.Landmarks {
			if m.Beyond {
				fmt.Fprint(t, "\tbeyond follow-up")
				continue
			}
			fmt.Fprintf(t, "\t%s (%s–%s)", pstr(m.Surv), pstr(m.Lower), pstr(m.Upper))
		}
		fmt.Fprintln(t)
	}
	if err := t.Flush(); err != nil {
		return err
	}
	if doc.LogRank != nil {
		fmt.Fprintf(w, "log-rank: chisq = %s on %d df, p %s\n", r4(doc.LogRank.ChiSq), doc.LogRank.DF, pEq(doc.LogRank.P))
	}
	if doc.LogRankStrata != nil {
		fmt.Fprintf(w, "log-rank stratified by site: chisq = %s on %d df, p %s\n", r4(doc.LogRankStrata.ChiSq), doc.LogRankStrata.DF, pEq(doc.LogRankStrata.P))
	}
	if doc.LogRankError != "" {
		fmt.Fprintln(w, "log-rank:", doc.LogRankError)
	}
	if doc.LogRankWithNoise && (doc.LogRank != nil || doc.LogRankStrata != nil) {
		fmt.Fprintln(w, report.DPLogRankNote)
	}
	if doc.DelayedEntries > 0 {
		fmt.Fprintln(w, report.DelayedEntryNote(doc.DelayedEntries))
	}
	if doc.DPNote != "" {
		fmt.Fprintln(w, doc.DPNote)
	}
	fmt.Fprintln(w, doc.Privacy.Line())
	return nil
}

func ptrG(x *float64) string {
	if x == nil {
		return "NA"
	}
	return g(*x)
}

// drawFigure writes the figure of r to path (.png, .svg or .pdf; chart.WriteFile).
func drawFigure(r *app.Result, names report.Names, unit timeUnit, path string) error {
	f, err := figureOf(r, names, unit)
	if err != nil {
		return err
	}
	return chart.WriteFile(path, f, 1600, 1200)
}

// figureOf is the desktop's figure of r (report.Slide): titled in words, at-risk counts below
// min_cell hidden, the cohort and privacy line as footnote, drawn as it was shown when pinned
// — in the --time-unit when one is given, else as shown (months by default).
func figureOf(r *app.Result, names report.Names, unit timeUnit) (chart.Figure, error) {
	if unit.given {
		d := app.Display{}
		if r.Display != nil {
			d = *r.Display
		}
		d.Unit = unit.chart().String()
		shown := *r
		shown.Display = &d
		r = &shown
	}
	f, why := report.Slide(r, names, chart.Style{}, clock())
	if f == nil {
		return nil, usagef("no figure to draw: %s (export .json or .csv)", why)
	}
	return f, nil
}

// coxTermDoc is one design column of a Cox model, named as issue 5's JSON: the variable, and
// for a categorical one its level and reference.
type coxTermDoc struct {
	Term      string   `json:"term"`
	Column    string   `json:"column"`
	Level     *string  `json:"level"`
	Reference *string  `json:"reference"`
	Coef      *float64 `json:"coef"`
	SE        *float64 `json:"se"`
	HR        *float64 `json:"hr"`
	Lower     *float64 `json:"lower"`
	Upper     *float64 `json:"upper"`
	P         *float64 `json:"p"`
	SE2       *float64 `json:"se2,omitempty"` // a ridge-penalized fit's R se2
}

func coxTerms(r *app.Result, spec *app.CoxSpec) []coxTermDoc {
	fit := r.Cox.Fit
	return termDocs(r.Request, spec, fit, fit.SE, fit.Lower, fit.Upper, fit.P)
}

// termDocs are a fitted model's terms with the given standard errors, intervals and p (the
// model-based ones of a Cox fit, the sandwich ones of a Fine–Gray model).
func termDocs(req app.Request, spec *app.CoxSpec, fit *analysis.CoxFit, se, lower, upper, p []float64) []coxTermDoc {
	req.Cox = spec
	var out []coxTermDoc
	for j, t := range report.CoxTerms(req, fit.Terms) {
		d := coxTermDoc{Term: t.Variable, Column: t.Column, Coef: num(fit.Coef[j]), SE: num(se[j]), HR: num(fit.HR[j]),
			Lower: num(lower[j]), Upper: num(upper[j]), P: num(p[j])}
		if fit.SE2 != nil {
			d.SE2 = num(fit.SE2[j])
		}
		if t.Level != "" {
			lv, ref := t.Level, t.Reference
			d.Level, d.Reference = &lv, &ref
		}
		out = append(out, d)
	}
	return out
}

func writeCox(w io.Writer, format string, r *app.Result, spec *app.CoxSpec, strata string, names report.Names, x modelExtras) error {
	fit := r.Cox.Fit
	terms := coxTerms(r, spec)
	switch format {
	case "json":
		var strataDoc any
		if strata != "" {
			strataDoc = strata
		}
		doc := map[string]any{"study": r.Request.Study, "endpoint": r.Request.Endpoint, "cohort": r.Request.Cohort,
			"n": fit.N, "events": fit.Events, "excluded": countJSON(r.Cox.Excluded), "ties": spec.Ties, "strata": strataDoc,
			"form": string(r.Request.Cox.Form), "converged": fit.Converged, "iterations": fit.Iterations,
			"loglik": []*float64{num(fit.LogLik0), num(fit.LogLik)},
			"tests":  map[string]any{"lrt": testJSON(fit.LRT), "wald": testJSON(fit.Wald), "score": testJSON(fit.Score)},
			"terms":  terms, "not_estimable": nonNil(fit.NotEstimable), "warnings": nonNil(fit.Warnings),
			"sites": provenanceJSON(&r.Provenance), "policy": policyJSON(&r.Provenance),
			"privacy": report.NewPrivacy(r, clock())}
		if r.Cox.FitError != "" {
			doc["fit_error"] = r.Cox.FitError
		}
		if r.Cox.NoiseSD != nil {
			doc["noise_sd"] = r.Cox.NoiseSD // per column, in β order: what the DP noise adds
		}
		if r.Cox.TestsWithheld != "" { // a dp fit: p, the interval and Wald hold the noise; se does not
			doc["tests_withheld"], doc["p_with_noise"] = r.Cox.TestsWithheld, r.Cox.WithNoise
		}
		if x.loso != nil {
			doc["validation"] = losoJSON(x.loso)
		}
		if r.Request.Cox.Penalty != nil {
			doc["penalty"] = ridgeJSON(r)
		}
		if x.pred != nil {
			doc["predicted"] = predictionJSON(r, x)
		}
		if r.Cox.ZPH != nil {
			doc["zph"] = zphJSON(r.Cox.ZPH)
		}
		if x.counts != nil {
			doc["level_counts"] = levelCountsJSON(x.counts)
		}
		if x.sites != nil {
			doc["per_site"] = x.sites.json()
		}
		return writeJSON(w, doc)
	case "csv":
		recs := [][]string{{"term", "level", "reference", "coef", "se", "hr", "lower", "upper", "p", "noise_sd"}}
		for j, t := range terms {
			lv, ref := "", ""
			if t.Level != nil {
				lv, ref = *t.Level, *t.Reference
			}
			noise := "" // the DP noise's SD of the coefficient, which se leaves out (in β order, as terms)
			if len(r.Cox.NoiseSD) == len(terms) {
				noise = g(r.Cox.NoiseSD[j])
			}
			recs = append(recs, []string{t.Term, lv, ref, ptrG(t.Coef), ptrG(t.SE), ptrG(t.HR), ptrG(t.Lower), ptrG(t.Upper), ptrG(t.P), noise})
		}
		return writeCSV(w, report.WithRelease(recs, report.ReleaseKind(r)))
	}
	how := "pooled baseline hazard (exact risk-set sums across sites, two phases a round)"
	switch {
	case r.Request.Cox.Form == protocol.CoxDPTables && r.Request.Cox.DPPooled:
		how = "pooled baseline hazard, fitted on differentially private tables (no pooled opt-in: post-processing of the release; times on the sites' DP bins, numeric covariates at their bins' midpoints; the standard errors leave out the noise, the p-values and intervals include it)"
	case r.Request.Cox.Form == protocol.CoxDPTables:
		how = "stratified by site, fitted on differentially private tables (times on the sites' DP bins, numeric covariates at their bins' midpoints; the standard errors leave out the noise, the p-values and intervals include it)"
	case strata == "site":
		how = "stratified by site"
	case strata != "":
		how = "stratified by site and " + strata
	}
	fmt.Fprintf(w, "Cox model of %s in %s, %s ties, %s\n", r.Request.Endpoint, r.Request.Study, spec.Ties, how)
	writeCohortLine(w, r.Request.Cohort)
	fmt.Fprintf(w, "n = %d, events = %d", fit.N, fit.Events)
	if ex := r.Cox.Excluded; ex.N > 0 || ex.Suppressed {
		fmt.Fprintf(w, " (%s left out for a missing covariate)", ex)
	}
	fmt.Fprintln(w)
	t := table(w)
	head := "TERM\tCOEF\tSE\tHR (95% CI)\tP"
	if x.counts != nil {
		head += "\tN\tEVENTS"
	}
	fmt.Fprintln(t, head)
	withSpec := *r
	withSpec.Request.Cox = spec
	for _, row := range report.CoxRows(&withSpec, names) { // the app's table, reference levels too
		switch {
		case row.Reference:
			fmt.Fprintf(t, "%s\t\t\t1\t", row.Label)
		case !row.Estimable:
			fmt.Fprintf(t, "%s\tNA\tNA\tNA\tNA", row.Label)
		default:
			fmt.Fprintf(t, "%s\t%s\t%s\t%s (%s–%s)\t%s", row.Label, pstr(num(row.Coef)), pstr(num(row.SE)), pstr(num(row.HR)),
				pstr(num(row.Lower)), pstr(num(row.Upper)), pValue(num(row.P)))
		}
		if x.counts != nil {
			n, ev := report.LevelCountCells(x.counts, row)
			fmt.Fprintf(t, "\t%s\t%s", n, ev)
		}
		fmt.Fprintln(t)
	}
	if err := t.Flush(); err != nil {
		return err
	}
	for _, s := range report.LevelCountNotes(x.counts) {
		fmt.Fprintln(w, s)
	}
	if r.Cox.TestsWithheld != "" {
		fmt.Fprintf(w, "Wald test with the noise = %s on %d df, p %s; %d iterations", r4(fit.Wald.Stat), fit.Wald.DF, pEq(fit.Wald.P), fit.Iterations)
	} else {
		fmt.Fprintf(w, "likelihood ratio test = %s on %d df, p %s; %d iterations", r4(fit.LRT.Stat), fit.LRT.DF, pEq(fit.LRT.P), fit.Iterations)
	}
	if !fit.Converged {
		fmt.Fprint(w, " (did not converge)")
	}
	fmt.Fprintln(w)
	for _, s := range fit.NotEstimable {
		fmt.Fprintf(w, "not estimable: %s\n", s)
	}
	if r.Cox.TestsWithheld != "" {
		fmt.Fprintln(w, "Note: "+r.Cox.TestsWithheld)
	}
	for _, s := range fit.Warnings {
		fmt.Fprintf(w, "warning: %s\n", s)
	}
	if r.Cox.FitError != "" {
		fmt.Fprintln(w, "fit:", r.Cox.FitError)
	}
	if r.Request.Cox.Penalty != nil {
		if err := writeRidgeText(w, r); err != nil {
			return err
		}
	}
	if line := report.DPNoiseLine(r, names); line != "" {
		fmt.Fprintln(w, line)
	}
	if r.Cox.ZPH != nil {
		if err := writeZPHText(w, r.Cox.ZPH, names); err != nil {
			return err
		}
	}
	if x.loso != nil {
		if err := writeLOSOText(w, x.loso); err != nil {
			return err
		}
	}
	if x.pred != nil {
		if err := writePredictionText(w, r, spec, x); err != nil {
			return err
		}
	}
	if x.sites != nil {
		if err := x.sites.text(w, withSpec.Request, names); err != nil {
			return err
		}
	}
	fmt.Fprintln(w, report.PrivacyLine(r, clock()))
	return nil
}

func pValue(p *float64) string {
	if p == nil {
		return "NA"
	}
	return format.PNumber(*p)
}

// pEq is "= 0.012" or "< 0.0001".
func pEq(p float64) string {
	s := format.PNumber(p)
	if strings.HasPrefix(s, "<") || strings.HasPrefix(s, ">") {
		return s
	}
	return "= " + s
}

func testJSON(t analysis.Test) map[string]any {
	return map[string]any{"stat": num(t.Stat), "df": t.DF, "p": num(t.P)}
}
