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

func runIPW(ctx context.Context, c *common, args []string, out io.Writer) error {
	var a analysisFlags
	var treatment, treated, confounders, estimand, ties, strata, refs, adjust string
	var trim float64
	var stabilise bool
	if err := parseFlags("ipw", c, args, func(fs *flag.FlagSet) {
		a.register(fs, true)
		fs.StringVar(&treatment, "treatment", "", "categorical treatment `VARIABLE`, or site: the treated arm is one site's patients (a single-arm trial), the controls every other site's")
		fs.StringVar(&treated, "treated", "", "the treatment's `LEVEL` of the treated arm (every other level is the control arm); with --treatment site, the trial site")
		fs.StringVar(&confounders, "confounders", "", "comma-separated `VARIABLES` of the propensity model")
		fs.StringVar(&estimand, "estimand", "ATE", "`ESTIMAND`: ATE (weights 1/e, 1/(1-e)), ATT (1, e/(1-e)) or overlap (1-e, e)")
		fs.Float64Var(&trim, "trim", 0, "leave out patients whose propensity is below `Q` or above 1-Q")
		fs.BoolVar(&stabilise, "stabilise", false, "stabilised weights (ATE, ATT): multiplied by the arm's share of the cohort")
		fs.StringVar(&ties, "ties", "efron", "tie handling `METHOD` of the weighted Cox model: efron or breslow")
		fs.StringVar(&strata, "strata", "", "weighted Cox model `FORM`: site (stratified by site; the default) or none (one baseline hazard; the only form, and the default, with --treatment site)")
		fs.StringVar(&refs, "reference", "", "reference levels of categorical confounders, `VAR=LEVEL,...`")
		// ipw has no --group: its --merge coarsens confounders.
		fs.Lookup("merge").Usage = "coarsen discrete confounders, `VAR=LEVEL,LEVEL;...`: the levels (or a discrete numeric one's values, such as ECOG 2,3,4,5) of each group count as one, named LEVEL+LEVEL (a numeric group takes its first value); for a site that refuses because an arm holds too few patients at some level of a confounder"
		fs.StringVar(&adjust, "adjust", "", "comma-separated confounders `VARIABLES` to adjust the weighted Cox model for (stratified by site: every policy; with --strata none the sites must allow pooled models)")
	}); err != nil {
		return err
	}
	if a.group != "" {
		return usagef("--group does not apply to ipw: the treatment is the grouping")
	}
	if treatment == "" || treated == "" {
		return usagef("--treatment and --treated are required")
	}
	names := splitList(confounders)
	if len(names) == 0 {
		return usagef("--confounders is required")
	}
	if _, err := analysis.ParseEstimand(estimand); err != nil {
		return usagef("--estimand: %v", err)
	}
	if _, err := analysis.ParseTies(ties); err != nil {
		return usagef("--ties: %v", err)
	}
	bySite := treatment == "site"
	switch {
	case strata != "" && strata != "site" && strata != "none":
		return usagef("--strata: %q is neither site nor none", strata)
	case bySite && strata == "site":
		return usagef("--strata site: with --treatment site every site holds one arm (the trial site the treated, the others the controls), so a Cox model stratified by site compares nothing; use --strata none (one baseline hazard)")
	}
	if !(trim >= 0 && trim < 0.5) {
		return usagef("--trim: %v is not in [0, 0.5)", trim)
	}
	adjusted := splitList(adjust)
	for _, v := range adjusted {
		if !slices.Contains(names, v) {
			return usagef("--adjust: %s is not among --confounders (the weighted Cox model adjusts for confounders only)", v)
		}
	}
	merge := a.merge
	a.merge = "" // the confounders', read below, not a grouping's
	e, st, f, err := a.prepare(ctx, c, true)
	if err != nil {
		return err
	}
	defer e.Close()
	spec := &app.IPWSpec{Treatment: treatment, Treated: treated, Confounders: names, Estimand: estimand,
		Stabilise: stabilise, Trim: trim, Ties: ties, Strata: strata, Adjust: adjusted}
	if bySite {
		// "site" names the membership, not a variable: a study declaring one cannot be ambiguous.
		if st.Variable("site") != nil {
			return usagef("--treatment site: study %s declares a variable named site; membership in a site cannot be told from it", st.Name)
		}
		if !slices.Contains(st.Sites, treated) {
			return usagef("--treated: %q is not a site of %s (%v)", treated, st.Name, st.Sites)
		}
		spec.Treatment, spec.Treated, spec.TreatedSite = "", "", treated
	} else {
		if err := checkVariable(st, "--treatment", treatment, protocol.Categorical); err != nil {
			return err
		}
		if !slices.Contains(st.Variable(treatment).Categories, treated) {
			return usagef("--treated: %q is not a level of %s (%v)", treated, treatment, st.Variable(treatment).Categories)
		}
	}
	if spec.Levels, err = coxLevels(st, "--confounders", names, refs); err != nil {
		return err
	}
	if spec.Merge, spec.Levels, err = parseIPWMerge(st, names, merge, spec.Levels); err != nil {
		return err
	}
	r, err := e.run(ctx, app.Request{Kind: protocol.KindIPW, Study: st.Name, Cohort: f, Endpoint: a.endpoint, IPW: spec})
	if err != nil {
		return err
	}
	if err := writeIPW(out, c.format, r); err != nil {
		return err
	}
	return requireAll(c, &r.Provenance)
}

type ipwCurveDoc struct {
	Time        []float64  `json:"time"`
	NRisk       []float64  `json:"n_risk"`        // weighted
	NRiskActual []int      `json:"n_risk_actual"` // patients
	NEvent      []float64  `json:"n_event"`       // weighted
	Surv        []float64  `json:"surv"`
	StdErr      []*float64 `json:"std_err"`
	Lower       []*float64 `json:"lower"`
	Upper       []*float64 `json:"upper"`
}

func ipwArmDoc(name string, arm app.IPWArm) map[string]any {
	km := arm.KM
	med := km.Median()
	return map[string]any{"name": name, "n": arm.N, "kept": arm.Kept, "trimmed": countJSON(arm.Trimmed), "capped": countJSON(arm.Capped),
		"curve": ipwCurveDoc{Time: km.Time, NRisk: km.WRisk, NRiskActual: km.NRisk, NEvent: km.WEvent, Surv: km.Surv,
			StdErr: nums(km.StdErr), Lower: nums(km.Lower), Upper: nums(km.Upper)},
		"median": estDoc{Value: num(med.Time), Lower: num(med.Lower), Upper: num(med.Upper)}}
}

func writeIPW(w io.Writer, format string, r *app.Result) error {
	res := r.IPW
	spec := r.Request.IPW
	trtName, trtLevel := spec.TreatmentNames()
	fit := res.Propensity
	cox, rob := res.Cox, res.Robust
	switch format {
	case "json":
		terms := []map[string]any{}
		for j, col := range fit.Terms {
			terms = append(terms, map[string]any{"column": col, "coef": fit.Coef[j], "se": fit.SE[j]})
		}
		balance := []map[string]any{}
		for _, b := range res.Balance {
			balance = append(balance, map[string]any{"column": b.Column, "smd_before": b.SMDBefore, "smd_after": b.SMDAfter})
		}
		hist := map[string]any{"edges": res.Edges, "treated": countsJSON(res.Treated.Histogram), "control": countsJSON(res.Control.Histogram)}
		doc := map[string]any{"study": r.Request.Study, "endpoint": r.Request.Endpoint, "cohort": r.Request.Cohort,
			"treatment": trtName, "treated": trtLevel, "estimand": res.Estimand, "trim": spec.Trim, "stabilise": spec.Stabilise,
			"propensity": map[string]any{"terms": terms, "converged": fit.Converged, "iterations": fit.Iterations, "n": fit.N, "treated": fit.Treated},
			"ess":        map[string]any{"treated": res.Treated.ESS, "control": res.Control.ESS},
			"balance":    balance,
			"smd_note":   report.SMDNote,
			"overlap":    hist,
			"km":         map[string]any{"groups": []map[string]any{ipwArmDoc("control", res.Control), ipwArmDoc("treated", res.Treated)}},
			"cox": map[string]any{"term": cox.Terms[0], "ties": spec.Ties, "strata": res.Strata, "coef": cox.Coef[0], "se_robust": rob.SE[0], "se_naive": cox.SE[0],
				"hr": cox.HR[0], "lower": rob.Lower[0], "upper": rob.Upper[0], "p": rob.P[0], "n": cox.N, "events": cox.Events, "iterations": cox.Iterations,
				"adjust": nonNil(spec.Adjust), "terms": ipwCoxTerms(res)},
			"logrank":  map[string]any{"robust": testJSON(rob.Score), "naive": testJSON(cox.Score)},
			"warnings": nonNil(res.Warnings()),
			"sites":    provenanceJSON(&r.Provenance), "policy": policyJSON(&r.Provenance),
			"privacy": report.NewPrivacy(r, clock())}
		if d := res.DP; d != nil {
			dpDoc := map[string]any{"rho": d.Rho, "noise_sd": nonNil(d.NoiseSD), "copies": d.Copies, "pseudo_patients": d.Patients,
				"dropped_patterns": d.DroppedPatterns, "dropped_patients": d.DroppedPatients}
			if lo, hi, ok := res.NoiseInterval(); ok {
				dpDoc["lower_with_noise"], dpDoc["upper_with_noise"] = lo, hi
			}
			doc["dp"] = dpDoc
		}
		return writeJSON(w, doc)
	case "csv":
		return report.WriteBalanceCSV(w, r)
	}
	fmt.Fprintf(w, "Weighted comparison of %s in %s: %s = %s against the rest, %s weights\n", r.Request.Endpoint, r.Request.Study, trtName, trtLevel, res.Estimand)
	writeCohortLine(w, r.Request.Cohort)
	fmt.Fprintf(w, "propensity model: %d patients, %d treated, %d iterations\n", fit.N, fit.Treated, fit.Iterations)
	t := table(w)
	fmt.Fprintln(t, "COLUMN\tSMD BEFORE\tSMD AFTER")
	for _, b := range res.Balance {
		fmt.Fprintf(t, "%s\t%s\t%s\n", b.Column, r4(b.SMDBefore), r4(b.SMDAfter))
	}
	if err := t.Flush(); err != nil {
		return err
	}
	fmt.Fprintln(w, report.SMDNote)
	fmt.Fprintf(w, "effective sample size: treated %.1f of %d, control %.1f of %d\n", res.Treated.ESS, res.Treated.Kept, res.Control.ESS, res.Control.Kept)
	for _, a := range []struct {
		name string
		arm  app.IPWArm
	}{{"control", res.Control}, {"treated", res.Treated}} {
		med := a.arm.KM.Median()
		fmt.Fprintf(w, "%s: weighted median %s (%s–%s)\n", a.name, r4(med.Time), r4(med.Lower), r4(med.Upper))
	}
	form := "stratified by site"
	if res.Strata == "none" {
		form = "one baseline hazard"
	}
	if len(cox.Coef) > 1 {
		if err := writeIPWCoxTable(w, form, spec.Ties, res); err != nil {
			return err
		}
	} else {
		fmt.Fprintf(w, "weighted Cox, %s, %s ties: HR %s (robust 95%% CI %s–%s), p %s; SE robust %s, naive %s\n",
			form, spec.Ties, r4(cox.HR[0]), r4(rob.Lower[0]), r4(rob.Upper[0]), pEq(rob.P[0]), r4(rob.SE[0]), r4(cox.SE[0]))
	}
	fmt.Fprintf(w, "weighted log-rank (robust score test) = %s on %d df, p %s\n", r4(rob.Score.Stat), rob.Score.DF, pEq(rob.Score.P))
	if line := report.IPWDPLine(r); line != "" {
		fmt.Fprintln(w, line)
	}
	for _, s := range res.Warnings() {
		fmt.Fprintln(w, "warning:", s)
	}
	fmt.Fprintln(w, report.PrivacyLine(r, clock()))
	return nil
}

func countsJSON(cs []app.Count) []map[string]any {
	out := make([]map[string]any, len(cs))
	for i, c := range cs {
		out[i] = countJSON(c)
	}
	return out
}

// ipwCoxTerms lists every term of the weighted Cox model (the treatment first, then the
// adjusting covariates' columns): CI and p from the robust SE.
func ipwCoxTerms(res *app.IPWResult) []map[string]any {
	cox, rob := res.Cox, res.Robust
	out := make([]map[string]any, len(cox.Coef))
	for j := range cox.Coef {
		out[j] = map[string]any{"term": cox.Terms[j], "coef": cox.Coef[j], "se_robust": rob.SE[j], "se_naive": cox.SE[j],
			"hr": cox.HR[j], "lower": rob.Lower[j], "upper": rob.Upper[j], "p": rob.P[j]}
	}
	return out
}

// writeIPWCoxTable prints the adjusted weighted Cox model's hazard ratios with both SEs.
func writeIPWCoxTable(w io.Writer, form, ties string, res *app.IPWResult) error {
	cox, rob := res.Cox, res.Robust
	fmt.Fprintf(w, "weighted Cox adjusted for %s, %s, %s ties (robust 95%% CI and p):\n", strings.Join(cox.Terms[1:], ", "), form, ties)
	t := table(w)
	fmt.Fprintln(t, "TERM\tHR\t95% CI\tP\tSE ROBUST\tSE NAIVE")
	for j := range cox.Coef {
		fmt.Fprintf(t, "%s\t%s\t%s–%s\t%s\t%s\t%s\n", cox.Terms[j], r4(cox.HR[j]), r4(rob.Lower[j]), r4(rob.Upper[j]), pEq(rob.P[j]), r4(rob.SE[j]), r4(cox.SE[j]))
	}
	return t.Flush()
}

// parseIPWMerge reads --merge (VAR=LEVEL,LEVEL;…) and checks it against the confounders'
// declared levels (app.ParseIPWMerge, app.CheckIPWMerge), replacing a merged categorical
// confounder's levels (reference first) by the merged ones.
func parseIPWMerge(st *app.Study, confounders []string, spec string, levels map[string][]string) (map[string][]protocol.LevelGroup, map[string][]string, error) {
	merge, err := app.ParseIPWMerge(spec)
	if err != nil {
		return nil, nil, usagef("--merge: %s", app.ErrorMessage(err))
	}
	merged, err := app.CheckIPWMerge(st, confounders, merge, levels)
	if err != nil {
		return nil, nil, usagef("--merge: %s", app.ErrorMessage(err))
	}
	return merge, merged, nil
}
