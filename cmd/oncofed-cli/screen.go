package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"slices"
	"strings"

	"github.com/oncofed/oncofed/analysis"
	"github.com/oncofed/oncofed/app"
	"github.com/oncofed/oncofed/protocol"
	"github.com/oncofed/oncofed/report"
)

// runScreen is `oncofed-cli screen`: one Cox model per candidate marker over the sites, with
// the joint Wald test of each marker's terms, BH q-values and the sites' heterogeneity.
func runScreen(ctx context.Context, c *common, args []string, out io.Writer) error {
	var a analysisFlags
	var markers, adjust, ties, strata, refs, treatment, treated, sortBy string
	var rho float64
	if err := parseFlags("screen", c, args, func(fs *flag.FlagSet) {
		a.register(fs, true)
		fs.StringVar(&markers, "markers", "", "candidate `MARKERS`, comma-separated, or all (every variable not used otherwise)")
		fs.StringVar(&adjust, "adjust", "", "adjusters `VARIABLES` in every marker's model, comma-separated")
		fs.StringVar(&treatment, "treatment", "", "predictive mode: treatment `VARIABLE` (the marker's terms are its interaction with --treated)")
		fs.StringVar(&treated, "treated", "", "predictive mode: the treated `LEVEL` of --treatment")
		fs.StringVar(&ties, "ties", "efron", "tie handling `METHOD`: efron or breslow")
		fs.StringVar(&strata, "strata", "site", "`site` (each site its own baseline hazard) or none (one pooled baseline; only sites with allow_pooled_cox answer)")
		fs.StringVar(&refs, "reference", "", "reference levels, `VAR=LEVEL,...` (default: the first category)")
		fs.StringVar(&sortBy, "sort", "", "text and CSV order: p, q, effect or marker (default: as asked)")
		fs.Float64Var(&rho, "rho", 0, "an analyst of role dp: the total `RHO` to spend at each site, split over the markers (default: the sites' dp_rho_screen)")
	}); err != nil {
		return err
	}
	if a.group != "" {
		return usagef("--group does not apply to screen")
	}
	if markers == "" {
		return usagef("--markers is required (a list, or all)")
	}
	if _, err := analysis.ParseTies(ties); err != nil {
		return usagef("--ties: %v", err)
	}
	switch sortBy {
	case "", "p", "q", "effect", "marker":
	default:
		return usagef("--sort %q: want p, q, effect or marker", sortBy)
	}
	form := protocol.CoxStratified
	switch strata {
	case "site":
	case "none":
		form = protocol.CoxPooled
	default:
		return usagef("--strata %q: want site or none", strata)
	}
	e, st, f, err := a.prepare(ctx, c, true)
	if err != nil {
		return err
	}
	defer e.Close()
	if e.offline {
		return usagef("screen runs on the network only: a screen is not stored in the cache")
	}
	adj := splitList(adjust)
	list := splitList(markers)
	if len(list) == 1 && list[0] == "all" {
		list = nil
		for _, v := range st.Variables {
			if !slices.Contains(adj, v.Name) && v.Name != treatment {
				list = append(list, v.Name)
			}
		}
	}
	all := append(append([]string(nil), list...), adj...)
	if treatment != "" {
		all = append(all, treatment)
	}
	levels, err := coxLevels(st, "--markers/--adjust", all, refs)
	if err != nil {
		return err
	}
	req := app.ScreenRequest{Study: st.Name, Cohort: f, Endpoint: a.endpoint, Markers: list, Adjust: adj,
		Treatment: treatment, Treated: treated, Form: form, Ties: ties, Levels: levels, Rho: rho}
	r, err := e.svc.Screen(ctx, req, nil)
	if err != nil {
		return err
	}
	return writeScreen(out, c.format, r, sortBy)
}

// writeScreen writes a screen as JSON (every number, as the schema), CSV or text (the
// report.ScreenTable both front ends show).
func writeScreen(w io.Writer, format string, r *app.ScreenResult, sortBy string) error {
	if format == "json" {
		return writeJSON(w, screenJSON(r))
	}
	rows := report.ScreenTable(r)
	if sortBy != "" {
		report.SortScreen(rows, sortBy)
	}
	if format == "csv" {
		return report.WriteScreenCSV(w, rows, r.Release)
	}
	fmt.Fprintf(w, "Biomarker screen (%s) of %s in %s: %d markers, %d tests, %s ties, %s\n", r.Mode, r.Request.Endpoint,
		r.Request.Study, len(r.Markers), r.Tests, r.Ties, map[protocol.CoxForm]string{protocol.CoxStratified: "stratified by site", protocol.CoxPooled: "pooled baseline", protocol.CoxDPTables: "stratified by site"}[r.Form])
	writeCohortLine(w, r.Request.Cohort)
	if line := report.ScreenDPLine(r); line != "" {
		fmt.Fprintln(w, line)
	}
	t := table(w)
	for i, col := range report.ScreenColumns {
		if i > 0 {
			fmt.Fprint(t, "\t")
		}
		fmt.Fprint(t, col)
	}
	fmt.Fprintln(t)
	for _, row := range rows {
		for i, cell := range row.Cells {
			if i > 0 {
				fmt.Fprint(t, "\t")
			}
			fmt.Fprint(t, cell)
		}
		fmt.Fprintln(t)
	}
	if err := t.Flush(); err != nil {
		return err
	}
	fmt.Fprintf(w, "%s Sites: %s.\n", report.ScreenLine(r), strings.Join(r.Sites, ", "))
	return nil
}

func screenJSON(r *app.ScreenResult) map[string]any {
	markers := []map[string]any{}
	for _, m := range r.Markers {
		terms := []map[string]any{}
		for _, t := range m.Terms {
			term := map[string]any{"column": t.Column, "coef": num(t.Coef), "se": num(t.SE), "hr": num(t.HR),
				"lower": num(t.Lower), "upper": num(t.Upper), "p": num(t.P)}
			if r.DP() {
				term["noise_sd"] = num(t.NoiseSD) // the part of se the release's noise makes
			}
			terms = append(terms, term)
		}
		out := []map[string]string{}
		for _, s := range m.SitesOut {
			out = append(out, map[string]string{"site": s.Site, "reason": s.Reason})
		}
		doc := map[string]any{"marker": m.Marker, "estimable": m.Estimable, "terms": terms, "chisq": num(m.Chisq),
			"df": m.DF, "p": num(m.P), "q": num(m.Q), "n": m.N, "events": m.Events, "i2": num(m.I2), "tau2": num(m.Tau2),
			"heterogeneity_p": num(m.HetQP), "heterogeneity_sites": nonNil(m.HetSites), "sites_used": nonNil(m.SitesUsed), "sites_out": out}
		if !m.Estimable {
			doc["reason"] = m.Reason
		}
		markers = append(markers, doc)
	}
	req := r.Request
	// The sites asked: every site that took part in, or sat out, some marker's model.
	asked := map[string]bool{}
	for _, m := range r.Markers {
		for _, s := range m.SitesUsed {
			asked[s] = true
		}
		for _, s := range m.SitesOut {
			asked[s.Site] = true
		}
	}
	expected := make([]string, 0, len(asked))
	for s := range asked {
		expected = append(expected, s)
	}
	slices.Sort(expected)
	doc := map[string]any{"mode": r.Mode, "study": req.Study, "endpoint": req.Endpoint, "cohort": req.Cohort,
		"form": string(r.Form), "ties": r.Ties, "adjust": nonNil(req.Adjust),
		"sites": map[string]any{"expected": expected, "used": nonNil(r.Sites)},
		"tests": r.Tests, "queries": r.Queries, "markers": markers}
	if req.Treatment != "" {
		doc["treatment"], doc["treated"] = req.Treatment, req.Treated
	}
	if r.DP() {
		doc["privacy"] = map[string]any{"release": r.Release, "rho_spent": r.DPSpent, "noise_releases": app.DPScreenNoiseReleases,
			"note": report.ScreenDPLine(r)}
	} else if r.Release != "" {
		doc["privacy"] = map[string]any{"release": r.Release}
	}
	return doc
}
