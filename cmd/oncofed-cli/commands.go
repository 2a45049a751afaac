package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/oncofed/oncofed/analysis"
	"github.com/oncofed/oncofed/app"
	"github.com/oncofed/oncofed/protocol"
	"github.com/oncofed/oncofed/report"
)

func runSites(ctx context.Context, c *common, args []string, out io.Writer) error {
	var studyName string
	if err := parseFlags("sites", c, args, func(fs *flag.FlagSet) {
		fs.StringVar(&studyName, "study", "", "only the sites serving study `NAME`")
	}); err != nil {
		return err
	}
	e, err := connect(ctx, c)
	if err != nil {
		return err
	}
	defer e.Close()
	// The catalog gives each site's data cuts and policy; a failed refresh still lists sites.
	_, _ = e.catalog(ctx)
	recs, err := e.svc.Sites(ctx)
	if err != nil {
		return err
	}
	var rows []app.SiteRecord
	for _, r := range recs {
		if studyName == "" || slices.Contains(r.Studies, studyName) {
			rows = append(rows, r)
		}
	}
	return writeSites(out, c.format, rows)
}

// fetchCatalog connects, refreshes the catalog and disconnects: the listing commands need
// nothing else from the network.
func fetchCatalog(ctx context.Context, c *common) (*app.Catalog, error) {
	e, err := connect(ctx, c)
	if err != nil {
		return nil, err
	}
	defer e.Close()
	return e.catalog(ctx)
}

func runStudies(ctx context.Context, c *common, args []string, out io.Writer) error {
	if err := parseFlags("studies", c, args, nil); err != nil {
		return err
	}
	cat, err := fetchCatalog(ctx, c)
	if err != nil {
		return err
	}
	return writeStudies(out, c.format, cat)
}

func runVariables(ctx context.Context, c *common, args []string, out io.Writer) error {
	var studyName string
	if err := parseFlags("variables", c, args, func(fs *flag.FlagSet) {
		fs.StringVar(&studyName, "study", "", "study `NAME`")
	}); err != nil {
		return err
	}
	cat, err := fetchCatalog(ctx, c)
	if err != nil {
		return err
	}
	st, err := study(cat, studyName)
	if err != nil {
		return err
	}
	return writeVariables(out, c.format, st)
}

func runCatalog(ctx context.Context, c *common, args []string, out io.Writer) error {
	if err := parseFlags("catalog", c, args, nil); err != nil {
		return err
	}
	cat, err := fetchCatalog(ctx, c)
	if err != nil {
		return err
	}
	if c.format == "json" {
		return writeJSON(out, map[string]any{"sites": cat.Sites, "missing": nonNil(cat.Missing), "studies": cat.Studies})
	}
	if err := writeStudies(out, c.format, cat); err != nil {
		return err
	}
	if c.format == "text" {
		for _, st := range cat.Studies {
			fmt.Fprintln(out)
			if err := writeVariables(out, "text", &st); err != nil {
				return err
			}
		}
	}
	return nil
}

// analysisFlags are the flags of the analysis commands.
type analysisFlags struct {
	study, where, group, endpoint string
	merge                         string
	merged                        []protocol.LevelGroup // --merge, parsed by prepare
}

func (a *analysisFlags) register(fs *flag.FlagSet, endpoint bool) {
	fs.StringVar(&a.study, "study", "", "study `NAME`")
	fs.StringVar(&a.where, "where", "", "cohort `FILTER`, e.g. \"sex = male and age >= 60 and ecog in (0, 1)\"")
	fs.StringVar(&a.where, "filter", "", "same as --where")
	fs.StringVar(&a.group, "group", "", "group by categorical `VARIABLE`")
	fs.StringVar(&a.merge, "merge", "", "merge levels of the --group variable into one group each, `NAME=LEVEL,LEVEL;NAME2=...` (e.g. \"III-IV=III,IV\"), so that a level too small at a site does not make it refuse")
	if endpoint {
		fs.StringVar(&a.endpoint, "endpoint", "", "time-to-event endpoint `NAME`")
	}
}

// prepare connects, fetches the catalog and checks the common analysis flags.
func (a *analysisFlags) prepare(ctx context.Context, c *common, needEndpoint bool) (*env, *app.Study, *protocol.Filter, error) {
	c.study = a.study
	e, err := connect(ctx, c)
	if err != nil {
		return nil, nil, nil, err
	}
	fail := func(err error) (*env, *app.Study, *protocol.Filter, error) {
		e.Close()
		return nil, nil, nil, err
	}
	cat, err := e.catalog(ctx)
	if err != nil {
		return fail(err)
	}
	st, err := study(cat, a.study)
	if err != nil {
		return fail(err)
	}
	f, err := cohort(st, a.where)
	if err != nil {
		return fail(err)
	}
	if err := checkVariable(st, "--group", a.group, protocol.Categorical); err != nil {
		return fail(err)
	}
	if a.merged, err = parseMerge(st, a.group, a.merge); err != nil {
		return fail(err)
	}
	if needEndpoint {
		if err := checkEndpoint(st, a.endpoint); err != nil {
			return fail(err)
		}
	}
	return e, st, f, nil
}

// parseMerge reads --merge (NAME=LEVEL,LEVEL;…) against the grouping variable's levels.
func parseMerge(st *app.Study, group, spec string) ([]protocol.LevelGroup, error) {
	if strings.TrimSpace(spec) == "" {
		return nil, nil
	}
	if group == "" {
		return nil, usagef("--merge merges levels of the --group variable: give --group")
	}
	var out []protocol.LevelGroup
	for _, part := range strings.Split(spec, ";") {
		name, levels, ok := strings.Cut(part, "=")
		if !ok || strings.TrimSpace(name) == "" {
			return nil, usagef("--merge: %q is not NAME=LEVEL,LEVEL", part)
		}
		out = append(out, protocol.LevelGroup{Name: strings.TrimSpace(name), Levels: splitList(levels)})
	}
	q := protocol.Query{Version: protocol.Version, Kind: protocol.KindCount, Study: st.Name, GroupBy: group, Merge: out}
	if err := protocol.ValidateQuery(q); err != nil {
		return nil, usagef("--%v", err)
	}
	if _, _, err := protocol.MergedGroups(st.Variable(group).Categories, out); err != nil {
		return nil, usagef("--%v", err)
	}
	return out, nil
}

func runCount(ctx context.Context, c *common, args []string, out io.Writer) error {
	var a analysisFlags
	var feasibility bool
	if err := parseFlags("count", c, args, func(fs *flag.FlagSet) {
		a.register(fs, false)
		fs.BoolVar(&feasibility, "feasibility", false, "approximate count, as the desktop's live panel asks: each site adds noise and rounds "+
			"(its policy's feasibility_rounding and feasibility_noise), does not remember it in its overlap guard and charges its "+
			"feasibility budget; not stored in the library. Default: the exact count")
	}); err != nil {
		return err
	}
	if feasibility && c.offline {
		return usagef("--feasibility asks the sites now and is never stored: it cannot be answered --offline")
	}
	e, st, f, err := a.prepare(ctx, c, false)
	if err != nil {
		return err
	}
	defer e.Close()
	req := app.Request{Kind: protocol.KindCount, Study: st.Name, Cohort: f, GroupBy: a.group, Merge: a.merged}
	var r *app.Result
	if feasibility {
		r, err = e.svc.Count(ctx, req)
		if err == nil && r.Count == nil {
			// Every site refused (Count reports that as its result, for the desktop's panel).
			err = app.Errorf(app.ERefusedByPolicy, "every site refused the feasibility count: %s", sitesText(&r.Provenance))
		}
	} else {
		r, err = e.run(ctx, req)
	}
	if err != nil {
		return err
	}
	if err := writeCount(out, c.format, r); err != nil {
		return err
	}
	return requireAll(c, &r.Provenance)
}

func runSummary(ctx context.Context, c *common, args []string, out io.Writer) error {
	var a analysisFlags
	var vars, bins, outFile string
	if err := parseFlags("summary", c, args, func(fs *flag.FlagSet) {
		a.register(fs, false)
		fs.StringVar(&outFile, "out", "", "also write Table 1 to `FILE`: .docx (Word, with a title and the privacy line), .md or .csv")
		fs.StringVar(&vars, "vars", "", "comma-separated `VARIABLES` to summarise")
		fs.StringVar(&bins, "bins", "", "histogram edges per numeric variable, `VAR:E1,E2,...;VAR2:...` (default: the desktop app's, by unit)")
	}); err != nil {
		return err
	}
	names := splitList(vars)
	if len(names) == 0 {
		return usagef("--vars is required")
	}
	if outFile != "" && table1FileFormat(outFile) == "" {
		return usagef("--out %s: unknown format (want .docx, .md or .csv)", outFile)
	}
	e, st, f, err := a.prepare(ctx, c, false)
	if err != nil {
		return err
	}
	defer e.Close()
	for _, v := range names {
		if err := checkVariable(st, "--vars", v, ""); err != nil {
			return err
		}
	}
	var specs []protocol.HistogramSpec
	for _, part := range strings.Split(bins, ";") {
		if strings.TrimSpace(part) == "" {
			continue
		}
		v, edges, ok := strings.Cut(part, ":")
		if !ok {
			return usagef("--bins: %q is not VAR:E1,E2,...", part)
		}
		v = strings.TrimSpace(v)
		if err := checkVariable(st, "--bins", v, protocol.Numeric); err != nil {
			return err
		}
		xs, err := parseFloats("--bins", edges)
		if err != nil {
			return err
		}
		specs = append(specs, protocol.HistogramSpec{Variable: v, Edges: xs})
	}
	binned := report.SummaryBins(st, names, specs)
	r, err := e.run(ctx, app.Request{Kind: protocol.KindSummary, Study: st.Name, Cohort: f, GroupBy: a.group, Merge: a.merged, Variables: names,
		Bins: binned, Discrete: report.Discrete(st, binned)})
	if err != nil {
		return err
	}
	if err := writeSummary(out, c.format, r); err != nil {
		return err
	}
	if outFile != "" {
		if err := writeTable1File(outFile, r); err != nil {
			return err
		}
	}
	return requireAll(c, &r.Provenance)
}

// kmOptions are the km command's own flags.
type kmOptions struct {
	confType  analysis.ConfType
	tau       float64
	landmarks []float64
	plot      string
	unit      timeUnit // of the text output's times
}

// curveFlags are the flags km and cif share: the text output's time unit, the confidence
// interval type, the landmark times and the figure file.
type curveFlags struct {
	unit                         timeUnit
	conf, landmarks, plot, order string
}

func (cf *curveFlags) register(fs *flag.FlagSet, landmarks, landmarksHelp string) {
	fs.Var(&cf.unit, "time-unit", "`UNIT` of the text output's times (medians, RMST, landmarks) and of the figure: days (default; the figure months), months or years, as the app's \"Time in\"; --tau and --landmarks stay in days, JSON and CSV too")
	fs.StringVar(&cf.conf, "conf-type", "log", "confidence interval `TYPE`: log, log-log or plain (as R's survfit)")
	fs.StringVar(&cf.landmarks, "landmarks", landmarks, landmarksHelp)
	fs.StringVar(&cf.plot, "out", "", "also draw the curves to `FILE` (.png, .svg or .pdf)")
	fs.StringVar(&cf.order, "group-order", "", "the groups in this `ORDER`, comma-separated (e.g. IV,III,II,I), in the text output and the figure; groups not listed follow in the study's order (default: the study's order)")
}

// groupOrder reads --group-order against the groups the run will have: the --group
// variable's levels after --merge.
func (cf *curveFlags) groupOrder(st *app.Study, a *analysisFlags) ([]string, error) {
	if strings.TrimSpace(cf.order) == "" {
		return nil, nil
	}
	if a.group == "" {
		return nil, usagef("--group-order orders the groups of --group: give --group")
	}
	groups, _, err := protocol.MergedGroups(st.Variable(a.group).Categories, a.merged)
	if err != nil {
		return nil, usagef("--%v", err)
	}
	order, err := app.ParseOrder(cf.order, groups)
	if err != nil {
		return nil, usagef("--group-order: %s", app.ErrorMessage(err))
	}
	return order, nil
}

// parse checks the confidence interval type and the landmarks.
func (cf *curveFlags) parse() (analysis.ConfType, []float64, error) {
	ct, err := analysis.ParseConfType(cf.conf)
	if err != nil {
		return ct, nil, usagef("--conf-type: %v", err)
	}
	marks, err := parseFloats("--landmarks", cf.landmarks)
	return ct, marks, err
}

func runKM(ctx context.Context, c *common, args []string, out io.Writer) error {
	var a analysisFlags
	var cf curveFlags
	var tau float64
	if err := parseFlags("km", c, args, func(fs *flag.FlagSet) {
		a.register(fs, true)
		cf.register(fs, "90,180,365,730", "survival at these `DAYS`")
		fs.Float64Var(&tau, "tau", 0, "restricted mean survival up to `DAYS` (default: the shortest follow-up of the groups)")
	}); err != nil {
		return err
	}
	ct, marks, err := cf.parse()
	if err != nil {
		return err
	}
	if tau < 0 || math.IsNaN(tau) {
		return usagef("--tau must be positive")
	}
	e, st, f, err := a.prepare(ctx, c, true)
	if err != nil {
		return err
	}
	defer e.Close()
	order, err := cf.groupOrder(st, &a)
	if err != nil {
		return err
	}
	r, err := e.run(ctx, app.Request{Kind: protocol.KindSurvival, Study: st.Name, Cohort: f, GroupBy: a.group, Merge: a.merged, Endpoint: a.endpoint, Landmarks: marks})
	if err != nil {
		return err
	}
	r = app.InOrder(r, order)
	opts := kmOptions{confType: ct, tau: tau, landmarks: marks, plot: cf.plot, unit: cf.unit}
	doc, err := kmDocument(r, opts)
	if err != nil {
		return err
	}
	if err := writeKM(out, c.format, doc); err != nil {
		return err
	}
	if cf.plot != "" {
		if err := drawFigure(r, report.Names{From: st}, cf.unit, cf.plot); err != nil {
			return err
		}
	}
	return requireAll(c, &r.Provenance)
}

func runCox(ctx context.Context, c *common, args []string, out io.Writer) error {
	return coxCommand(ctx, c, "cox", args, out)
}

// runModel is the cox command with the prognostic model's options (issue 20): today
// --validate loso, leave-one-site-out validation (docs/validation.md).
func runModel(ctx context.Context, c *common, args []string, out io.Writer) error {
	return coxCommand(ctx, c, "model", args, out)
}

// coxCommand fits the Cox model of the cox and model commands; the model command also
// validates it (--validate loso).
func coxCommand(ctx context.Context, c *common, name string, args []string, out io.Writer) error {
	var a analysisFlags
	var covs, ties, strata, refs, validate, predict, times, marks, penalty, theta, thetaGrid string
	var zph zphFlag
	var counts, perSite bool
	lpBin := app.DefaultLPBinWidth
	var ridgeScale bool
	if err := parseFlags(name, c, args, func(fs *flag.FlagSet) {
		a.register(fs, true)
		if name == "model" {
			fs.StringVar(&validate, "validate", "", "`loso`: leave-one-site-out validation, each site evaluating the model fitted on the others (Harrell's and Uno's C, calibration slope; pooled by random effects with a 95% prediction interval; with --strata none also calibration in the large and the Brier score at --landmarks)")
			fs.StringVar(&marks, "landmarks", "365,730", "with --validate loso and --strata none, calibration in the large and the Brier score at these `DAYS`")
			fs.StringVar(&predict, "predict", "", "predicted survival for one patient, `VAR=VALUE,...` for every covariate: computed on this computer from the pooled model's baseline hazard (never sent); needs --strata none")
			fs.StringVar(&times, "times", "365,730,1825", "with --predict, survival at these `DAYS`")
			fs.Float64Var(&lpBin, "lp-bin", app.DefaultLPBinWidth, "with --predict, the `WIDTH` of the bins of the cohort's linear predictor the sites release (log hazard ratio)")
			fs.StringVar(&penalty, "penalty", "", "`ridge`: an L2 penalty θ/2 Σβ² on the coefficients (R's ridge(..., theta, scale = FALSE)), applied by this computer to what the sites release")
			fs.StringVar(&theta, "theta", "loso", "with --penalty ridge, the penalty `θ`, or loso: chosen from --theta-grid by the held-out sites' summed partial log-likelihood, leaving one site out at a time")
			fs.BoolVar(&ridgeScale, "ridge-scale", false, "with --penalty ridge, R's scale = TRUE: each column's penalty weighed by its variance over the cohort (from the sites' cohort summary)")
			fs.StringVar(&thetaGrid, "theta-grid", "", "with --theta loso, the `VALUES` of θ to try (default 0,0.1,0.3,1,3,10,30,100)")
		}
		fs.StringVar(&covs, "covariates", "", "comma-separated `VARIABLES` of the model")
		fs.StringVar(&ties, "ties", "efron", "tie handling `METHOD`: efron or breslow")
		fs.StringVar(&strata, "strata", "site", "`site` stratifies by site (each site its own baseline hazard, R's coxph(... + strata(site))); none fits one pooled baseline from the sites' risk-set sums, which only sites whose policy has allow_pooled_cox answer; another categorical variable stratifies within sites by it as well")
		fs.StringVar(&refs, "reference", "", "reference levels, `VAR=LEVEL,...` (default: the first category)")
		fs.BoolVar(&counts, "counts", false, "patients and events per level of each categorical covariate in the hazard-ratio table (one Kaplan–Meier query by the covariate over the model's complete cases)")
		fs.BoolVar(&perSite, "per-site", false, "after the fit, the model at each site alone and, per term, the sites' meta-analysis (hazard ratio per site, fixed and random-effects pooling, I², τ², Q): a few queries per site for the model stratified by site, none for one fitted on differentially private tables; not for --strata none")
		fs.Var(&zph, "zph", "after the fit, test proportional hazards as R's cox.zph (each term and GLOBAL: chisq, df, p); --zph=identity or --zph=rank for another transform of time than km (km and rank need sites that allow the pooled form)")
	}); err != nil {
		return err
	}
	if a.group != "" {
		return usagef("--group does not apply to cox: add the variable to --covariates or --strata")
	}
	names := splitList(covs)
	if len(names) == 0 {
		return usagef("--covariates is required")
	}
	switch {
	case validate == "":
	case validate != "loso":
		return usagef("--validate: %q is not a validation (want loso)", validate)
	case strata != "site" && strata != "none" && strata != "":
		return usagef("--validate loso fits the model stratified by site or the pooled one (--strata site or none), not strata within sites")
	case c.format == "csv":
		return usagef("--validate loso: use --format json or text (the validation is a second table)")
	}
	if zph.transform != "" && c.format == "csv" {
		return usagef("--zph: use --format json or text (the proportional-hazards test is a second table)")
	}
	if perSite && c.format == "csv" {
		return usagef("--per-site: use --format json or text (the per-site fits are a second table)")
	}
	if perSite && strata != "site" {
		return usagef("--per-site needs the model stratified by site (--strata site): the pooled form releases no per-site likelihood, and strata within sites are not fitted site by site")
	}
	ridge, err := ridgeFlags(penalty, theta, thetaGrid, strata, ridgeScale)
	if err != nil {
		return err
	}
	var profile map[string]string
	var landmarks []float64
	if predict != "" {
		if strata != "none" && strata != "" {
			return usagef("--predict needs the pooled model (--strata none): the model stratified by site has no shared baseline hazard, each site keeps its own")
		}
		if c.format == "csv" {
			return usagef("--predict: use --format json or text (the prediction is a second table)")
		}
		var err error
		if profile, err = app.ParseProfile(predict); err != nil {
			return usagef("--predict: %s", app.ErrorMessage(err))
		}
		if landmarks, err = parseFloats("--times", times); err != nil {
			return err
		}
	}
	if _, err := analysis.ParseTies(ties); err != nil {
		return usagef("--ties: %v", err)
	}
	e, st, f, err := a.prepare(ctx, c, true)
	if err != nil {
		return err
	}
	defer e.Close()
	spec := &app.CoxSpec{Covariates: names, Ties: ties, Form: protocol.CoxPooled, Levels: map[string][]string{}}
	switch strata {
	case "none", "":
		// The pooled (WebDISCO) form discloses covariate values, so a site answers it only
		// when its policy opts in; a refusal names the site and why.
		strata = ""
	case "site":
		spec.Form = protocol.CoxStratified
	default:
		if err := checkVariable(st, "--strata", strata, protocol.Categorical); err != nil {
			return err
		}
		spec.Form, spec.Strata = protocol.CoxStratified, strata
	}
	if spec.Levels, err = coxLevels(st, "--covariates", names, refs); err != nil {
		return err
	}
	spec.Penalty = ridge
	spec.ZPH = zph.transform
	req := app.Request{Kind: protocol.KindCox, Study: st.Name, Cohort: f, Endpoint: a.endpoint, Cox: spec}
	if validate != "" {
		// The validation is run with the fit and kept with it: --offline shows it again.
		spec.Validate = app.ValidateLOSO
		if spec.Form == protocol.CoxPooled {
			if req.Landmarks, err = parseFloats("--landmarks", marks); err != nil {
				return err
			}
		}
	}
	r, err := e.run(ctx, req)
	if err != nil {
		return err
	}
	loso := r.Cox.Validation
	extras := modelExtras{loso: loso}
	if counts {
		if extras.counts, err = e.svc.CoxLevelCounts(ctx, r); err != nil {
			return err
		}
	}
	if perSite {
		if extras.sites, err = sitesView(ctx, e, r); err != nil {
			return err
		}
	}
	if profile != nil {
		if extras.pred, err = app.Predict(r, profile, landmarks); err != nil {
			return err
		}
		extras.hist, extras.histNote = lpHistogram(ctx, e, r, lpBin)
	}
	if err := writeCox(out, c.format, r, spec, strata, report.Names{From: st}, extras); err != nil {
		return err
	}
	return requireAll(c, &r.Provenance)
}

// coxLevels returns the levels of the categorical variables among names in the catalog's
// order, with the first level replaced by the --reference given for it (VAR=LEVEL,...).
func coxLevels(st *app.Study, flagName string, names []string, refs string) (map[string][]string, error) {
	levels := map[string][]string{}
	for _, v := range names {
		if err := checkVariable(st, flagName, v, ""); err != nil {
			return nil, err
		}
		if vr := st.Variable(v); vr.Type == protocol.Categorical {
			if len(vr.Categories) < 2 {
				return nil, usagef("%s: %q has fewer than two categories", flagName, v)
			}
			levels[v] = append([]string(nil), vr.Categories...)
		}
	}
	for _, kv := range splitList(refs) {
		v, level, ok := strings.Cut(kv, "=")
		lv, isCat := levels[strings.TrimSpace(v)]
		if !ok || !isCat {
			return nil, usagef("--reference: %q is not VAR=LEVEL for a categorical covariate", kv)
		}
		level = strings.TrimSpace(level)
		first, ok := app.ReferenceFirst(lv, level)
		if !ok {
			return nil, usagef("--reference: %q is not a level of %s (%s)", level, v, strings.Join(lv, ", "))
		}
		levels[strings.TrimSpace(v)] = first
	}
	return levels, nil
}

// sitesText says who answered, who did not and why (report.SitesText, the sites part of the
// privacy line under every result), for error messages.
func sitesText(p *app.Provenance) string { return report.SitesText(p) }

func provenanceJSON(p *app.Provenance) map[string]any {
	refused := []map[string]string{}
	for _, r := range p.Refused {
		m := map[string]string{"site": r.Site, "code": r.Code, "reason": r.Message}
		if r.Reason != "" { // the policy rule and its limit, for scripts (never parse "reason")
			m["rule"], m["limit"] = r.Reason, strconv.FormatFloat(r.Limit, 'g', -1, 64)
		}
		refused = append(refused, m)
	}
	invalid := []map[string]string{}
	for _, r := range p.Invalid {
		invalid = append(invalid, map[string]string{"site": r.Site, "reason": r.Message})
	}
	return map[string]any{
		"expected": nonNil(p.Expected), "answered": nonNil(p.Answered), "missing": nonNil(p.Missing),
		"refused": refused, "invalid": invalid, "partial": p.Partial(), "release": p.Release().Kind,
		"elapsed_ms": float64(p.Elapsed) / float64(time.Millisecond),
	}
}

func policyJSON(p *app.Provenance) map[string]any {
	out := map[string]any{}
	for _, s := range p.Sites {
		out[s.Site] = map[string]any{"data_cut": s.DataCut, "effects": s.Policy}
	}
	return out
}

func nonNil[T any](xs []T) []T {
	if xs == nil {
		return []T{}
	}
	return xs
}
