package main

import (
	"context"
	"fmt"
	"io"
	"math"
	"slices"

	"github.com/oncofed/oncofed/analysis"
	"github.com/oncofed/oncofed/app"
	"github.com/oncofed/oncofed/chart"
	"github.com/oncofed/oncofed/report"
)

// The cox command's --per-site: the model fitted at each site alone (app.Service.SiteCox: a few
// rounds per site for the model stratified by site; for one fitted on differentially private
// tables, each site's tables alone, with no query) and, per estimable term, the sites'
// meta-analysis — the desktop's per-site view (forest plot and heterogeneity line).

// perSiteTerm is one term's per-site estimates and their meta-analysis.
type perSiteTerm struct {
	term string
	used []analysis.SiteEstimate
	h    app.Heterogeneity
	err  error // no site has its own estimate
}

// perSiteView is what --per-site adds under the fit.
type perSiteView struct {
	sc    *app.SiteCoxResult
	terms []perSiteTerm
}

// sitesView fits r's model at each site and meta-analyses every estimable term at 95%.
func sitesView(ctx context.Context, e *env, r *app.Result) (*perSiteView, error) {
	sc, err := e.svc.SiteCox(ctx, r)
	if err != nil {
		return nil, err
	}
	v := &perSiteView{sc: sc}
	for _, term := range app.SiteViewTerms(r) {
		used, h, err := sc.Meta(term, 0.95)
		v.terms = append(v.terms, perSiteTerm{term: term, used: used, h: h, err: err})
	}
	return v, nil
}

// forestRows are the term's site rows of the forest plot the desktop draws (random-effects
// weights, in percent), in the order of used: one home for a site's interval.
func (t perSiteTerm) forestRows() []chart.ForestRow {
	if t.err != nil {
		return nil
	}
	var out []chart.ForestRow
	for _, r := range chart.ForestFromMeta("", t.used, t.h, true).Rows {
		if !r.Pooled {
			out = append(out, r)
		}
	}
	return out
}

// siteFit returns site's fit in the view (nil when absent).
func (v *perSiteView) siteFit(site string) *app.SiteCoxFit {
	k := slices.IndexFunc(v.sc.Sites, func(s app.SiteCoxFit) bool { return s.Site == site })
	if k < 0 {
		return nil
	}
	return &v.sc.Sites[k]
}

func pooledJSON(p analysis.PooledEstimate) map[string]any {
	return map[string]any{"log_hr": num(p.Estimate), "se": num(p.SE), "hr": num(math.Exp(p.Estimate)),
		"lower": num(math.Exp(p.Lower)), "upper": num(math.Exp(p.Upper)), "p": num(p.P)}
}

// json is --per-site's "per_site": {dp, queries, terms: [{term, sites: [{site, n, events,
// log_hr, se, noise_sd, hr, lower, upper}], excluded: [{site, reason}], fixed, random, tau2, q,
// df, q_p, i2}]}. A site's se is the one pooled (with the DP noise when dp); hr's interval is
// log_hr ± 1.96 se.
func (v *perSiteView) json() map[string]any {
	var terms []map[string]any
	for _, t := range v.terms {
		doc := map[string]any{"term": t.term}
		var sites []map[string]any
		rows := t.forestRows()
		for i, u := range t.used {
			s := map[string]any{"site": u.Site, "log_hr": num(u.Estimate), "se": num(u.SE)}
			if i < len(rows) {
				s["hr"], s["lower"], s["upper"], s["weight_random"] = num(rows[i].HR), num(rows[i].Lower), num(rows[i].Upper), num(rows[i].Weight)
			}
			if f := v.siteFit(u.Site); f != nil {
				s["n"], s["events"] = f.N, f.Events
				if j := slices.Index(v.sc.Terms, t.term); f.NoiseSD != nil && j >= 0 {
					s["noise_sd"] = num(f.NoiseSD[j])
				}
			}
			sites = append(sites, s)
		}
		var excluded []map[string]any
		for _, x := range t.h.Excluded {
			excluded = append(excluded, map[string]any{"site": x.Site, "reason": x.Reason})
		}
		doc["sites"], doc["excluded"] = nonNil(sites), nonNil(excluded)
		if t.err == nil {
			doc["fixed"], doc["random"] = pooledJSON(t.h.Fixed), pooledJSON(t.h.Random)
			doc["tau2"], doc["q"], doc["df"], doc["q_p"], doc["i2"] = num(t.h.Tau2), num(t.h.Q), t.h.DF, num(t.h.QP), num(t.h.I2)
		} else {
			doc["error"] = app.ErrorMessage(t.err)
		}
		terms = append(terms, doc)
	}
	return map[string]any{"dp": v.sc.DP, "queries": v.sc.Queries, "terms": nonNil(terms)}
}

// text writes, per term, the sites' hazard ratios and the heterogeneity line.
func (v *perSiteView) text(w io.Writer, req app.Request, names report.Names) error {
	fmt.Fprintf(w, "\nPer site: the model fitted at each site alone (%d extra queries)\n", v.sc.Queries)
	for _, t := range v.terms {
		fmt.Fprintf(w, "%s\n", report.TermLabel(req, t.term, names))
		if t.err != nil {
			fmt.Fprintf(w, "  %s\n", app.ErrorMessage(t.err))
			continue
		}
		tw := table(w)
		fmt.Fprintln(tw, "  SITE\tN\tEVENTS\tHR (95% CI)\tWEIGHT")
		for _, row := range t.forestRows() {
			n, ev := "", ""
			if f := v.siteFit(row.Label); f != nil {
				n, ev = fmt.Sprint(f.N), fmt.Sprint(f.Events)
			}
			fmt.Fprintf(tw, "  %s\t%s\t%s\t%s (%s–%s)\t%.1f%%\n", row.Label, n, ev, r4(row.HR), r4(row.Lower), r4(row.Upper), row.Weight)
		}
		if err := tw.Flush(); err != nil {
			return err
		}
		fmt.Fprintln(w, report.HeterogeneityLine(t.h, true, v.sc.DP))
	}
	return nil
}
