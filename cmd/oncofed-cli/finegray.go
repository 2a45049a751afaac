package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"slices"

	"github.com/oncofed/oncofed/app"
	"github.com/oncofed/oncofed/protocol"
	"github.com/oncofed/oncofed/report"
)

func init() {
	commands["finegray"] = command{"Fine–Gray model of one cause's subdistribution hazard, pooled over sites (as cmprsk::crr)", runFineGray}
}

func runFineGray(ctx context.Context, c *common, args []string, out io.Writer) error {
	var a analysisFlags
	var covs, cause, strata, refs string
	if err := parseFlags("finegray", c, args, func(fs *flag.FlagSet) {
		a.register(fs, true)
		fs.StringVar(&cause, "cause", "", "the endpoint's cause `LABEL` whose subdistribution hazard is modelled (the other causes compete)")
		fs.StringVar(&covs, "covariates", "", "comma-separated `VARIABLES` of the model")
		fs.StringVar(&strata, "strata", "none", "`none`: one pooled model, the censoring distribution estimated from all sites (cmprsk::crr on the pooled records); only sites whose policy has allow_pooled_cox answer. site is not offered: crr has no strata (docs/competing-risks.md)")
		fs.StringVar(&refs, "reference", "", "reference levels, `VAR=LEVEL,...` (default: the first category)")
	}); err != nil {
		return err
	}
	if a.group != "" {
		return usagef("--group does not apply to finegray: add the variable to --covariates")
	}
	names := splitList(covs)
	if len(names) == 0 {
		return usagef("--covariates is required")
	}
	if cause == "" {
		return usagef("--cause is required")
	}
	switch strata {
	case "none", "":
	case "site":
		return usagef("--strata site: a site-stratified Fine–Gray model (a baseline subdistribution hazard and a censoring distribution per site) has no counterpart in cmprsk::crr, which takes no strata, and is not offered; use --strata none")
	default:
		return usagef("--strata: %q (want none)", strata)
	}
	if c.offline {
		return usagef("finegray needs the network: Fine–Gray models are not cached yet")
	}
	e, st, f, err := a.prepare(ctx, c, true)
	if err != nil {
		return err
	}
	defer e.Close()
	labels := report.Names{From: st}.Causes(a.endpoint)
	if labels == nil {
		return usagef("--endpoint: %s of study %s declares no competing causes (oncofed-node import --causes); use cox", a.endpoint, st.Name)
	}
	if !slices.Contains(labels, cause) {
		return usagef("--cause: %q is not a cause of %s (its causes: %q)", cause, a.endpoint, labels)
	}
	spec := &app.CoxSpec{Covariates: names, Ties: "breslow", Form: protocol.CoxPooled}
	if spec.Levels, err = coxLevels(st, "--covariates", names, refs); err != nil {
		return err
	}
	m, err := e.svc.FitFineGray(ctx, app.Request{Study: st.Name, Cohort: f, Endpoint: a.endpoint, Cox: spec}, cause)
	if err != nil {
		return err
	}
	return writeFineGray(out, c.format, m, spec)
}

// fineGrayTerms are the model's terms with the sandwich standard errors, intervals and p.
func fineGrayTerms(m *app.FineGrayModel, spec *app.CoxSpec) []coxTermDoc {
	rob := m.Robust
	return termDocs(m.Request, spec, m.Cox.Fit, rob.SE, rob.Lower, rob.Upper, rob.P)
}

func writeFineGray(w io.Writer, format string, m *app.FineGrayModel, spec *app.CoxSpec) error {
	fit := m.Cox.Fit
	terms := fineGrayTerms(m, spec)
	var sites []string
	for _, s := range m.Cox.PerSite {
		sites = append(sites, s.Site)
	}
	// The privacy and provenance every result carries: the model is not stored, so it stands as
	// a result of its request and provenance for report.NewPrivacy.
	res := &app.Result{Request: m.Request, Provenance: m.Provenance}
	switch format {
	case "json":
		doc := map[string]any{"study": m.Request.Study, "endpoint": m.Request.Endpoint, "cause": m.Cause,
			"cohort": m.Request.Cohort, "n": fit.N, "events": fit.Events, "excluded": countJSON(m.Cox.Excluded),
			"strata": nil, "variance": "sandwich (Fine & Gray 1999; cmprsk::crr)", "converged": fit.Converged,
			"iterations": fit.Iterations, "loglik": []*float64{num(fit.LogLik0), num(fit.LogLik)},
			"terms": terms, "not_estimable": nonNil(fit.NotEstimable), "warnings": nonNil(fit.Warnings),
			"sites": sites, "rounds": len(m.Rounds), "policy": policyJSON(&m.Provenance), "privacy": report.NewPrivacy(res, clock())}
		if m.Cox.FitError != "" {
			doc["fit_error"] = m.Cox.FitError
		}
		return writeJSON(w, doc)
	case "csv":
		recs := [][]string{{"term", "column", "level", "reference", "coef", "se", "hr", "lower", "upper", "p"}}
		for _, t := range terms {
			lv, ref := "", ""
			if t.Level != nil {
				lv, ref = *t.Level, *t.Reference
			}
			recs = append(recs, []string{t.Term, t.Column, lv, ref, ptrG(t.Coef), ptrG(t.SE), ptrG(t.HR), ptrG(t.Lower), ptrG(t.Upper), ptrG(t.P)})
		}
		return writeCSV(w, recs)
	}
	fmt.Fprintf(w, "Fine–Gray model of %s (cause %s; the other causes compete) in %s, pooled over %d sites\n", m.Request.Endpoint, m.Cause, m.Request.Study, len(sites))
	writeCohortLine(w, m.Request.Cohort)
	fmt.Fprintf(w, "n = %d, events of %s = %d", fit.N, m.Cause, fit.Events)
	if ex := m.Cox.Excluded; ex.N > 0 || ex.Suppressed {
		fmt.Fprintf(w, " (%s left out for a missing covariate)", ex)
	}
	fmt.Fprintln(w)
	t := table(w)
	fmt.Fprintln(t, "COLUMN\tCOEF\tSE (robust)\tSHR (95% CI)\tP")
	for _, d := range terms {
		fmt.Fprintf(t, "%s\t%s\t%s\t%s (%s–%s)\t%s\n", d.Column, pstr(d.Coef), pstr(d.SE), pstr(d.HR), pstr(d.Lower), pstr(d.Upper), pValue(d.P))
	}
	if err := t.Flush(); err != nil {
		return err
	}
	fmt.Fprintf(w, "%d iterations", fit.Iterations)
	if !fit.Converged {
		fmt.Fprint(w, " (did not converge)")
	}
	fmt.Fprintf(w, "; sites: %v\n", sites)
	for _, s := range fit.Warnings {
		fmt.Fprintf(w, "warning: %s\n", s)
	}
	if m.Cox.FitError != "" {
		fmt.Fprintln(w, "fit:", m.Cox.FitError)
	}
	fmt.Fprintln(w, report.PrivacyLine(res, clock()))
	return nil
}
