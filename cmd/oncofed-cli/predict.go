package main

import (
	"context"
	"fmt"
	"io"

	"github.com/oncofed/oncofed/analysis"
	"github.com/oncofed/oncofed/app"
	"github.com/oncofed/oncofed/protocol"
	"github.com/oncofed/oncofed/report"
)

// modelExtras are what the model command adds under the Cox fit: the leave-one-site-out
// validation, and the prediction for one patient with the cohort's lp histogram (or why it is
// missing).
type modelExtras struct {
	loso     *app.LOSOResult
	counts   *app.LevelCounts // patients and events per level (--counts)
	sites    *perSiteView     // the model at each site alone (--per-site)
	pred     *app.Prediction
	hist     *app.LPHistogramResult
	histNote string
}

// lpHistogram asks the sites for the cohort's linear-predictor histogram; offline, or when
// every site refuses, it returns why instead (the prediction stands without it).
func lpHistogram(ctx context.Context, e *env, r *app.Result, width float64) (*app.LPHistogramResult, string) {
	if e.offline && r.Request.Cox.Form != protocol.CoxDPTables { // DP: computed from the stored tables
		return nil, "offline: the cohort's risk-score distribution needs the network"
	}
	h, err := e.svc.LPHistogram(ctx, r, width)
	if err != nil {
		return nil, app.ErrorMessage(err)
	}
	return h, ""
}

// predictionJSON is the model command's "predicted" (issue 20's layout, with more):
// {profile, lp, time, surv, std_err, lower, upper, at: [{time, surv, lower, upper,
// beyond_follow_up}], lp_histogram: {width, bins (pooled on the boundaries every site released):
// [{lower, upper, n}], per_site: {site: bins}, cdf: [{lp, lower, upper}], sites, refused,
// missing, position: {below, in_bin, above, text}} or lp_histogram_note}. Bounds at ±∞ are null.
func predictionJSON(r *app.Result, x modelExtras) map[string]any {
	p := x.pred
	c := p.Curve
	var at []map[string]any
	for _, a := range p.At {
		at = append(at, map[string]any{"time": a.Time, "surv": num(a.Surv), "lower": num(a.Lower), "upper": num(a.Upper),
			"beyond_follow_up": a.Beyond})
	}
	doc := map[string]any{"profile": p.Profile, "design": map[string]any{"columns": p.Terms, "x": p.X}, "lp": num(c.LP),
		"time": c.Time, "surv": nums(c.Surv), "std_err": nums(c.StdErr), "lower": nums(c.Lower), "upper": nums(c.Upper),
		"conf_level": c.Level, "at": at, "note": report.PredictionNote(r)}
	if x.hist == nil {
		doc["lp_histogram_note"] = x.histNote
		return doc
	}
	binsJSON := func(h analysis.LPHistogram) []map[string]any {
		var bins []map[string]any
		for _, b := range report.LPBins(h) {
			bins = append(bins, map[string]any{"lower": num(b.Lower), "upper": num(b.Upper), "n": b.N})
		}
		return bins
	}
	perSite := map[string]any{}
	for i, s := range x.hist.Sites {
		perSite[s] = binsJSON(x.hist.PerSite[i])
	}
	var cdf []map[string]any
	for _, p := range x.hist.CDF {
		cdf = append(cdf, map[string]any{"lp": p.LP, "lower": p.Lower, "upper": p.Upper})
	}
	var refused []map[string]string
	for _, s := range x.hist.Refused {
		refused = append(refused, map[string]string{"site": s.Site, "reason": s.Message})
	}
	below, in, above := x.hist.Locate(c.LP)
	doc["lp_histogram"] = map[string]any{"width": x.hist.Pooled.Width, "bins": binsJSON(x.hist.Pooled), "per_site": perSite, "cdf": cdf, "sites": x.hist.Sites,
		"refused": refused, "missing": nonNil(x.hist.Missing),
		"position": map[string]any{"below": below, "in_bin": in, "above": above, "text": report.LPPosition(x.hist, c.LP)}}
	return doc
}

// writePredictionText prints the prediction under the model's table.
func writePredictionText(w io.Writer, r *app.Result, spec *app.CoxSpec, x modelExtras) error {
	p := x.pred
	fmt.Fprintf(w, "\nPredicted survival for %s (linear predictor %s)\n", report.ProfileLine(p, spec), r4(p.Curve.LP))
	t := table(w)
	fmt.Fprintln(t, "DAYS\tSURVIVAL (95% CI)")
	for _, row := range report.PredictionRows(p) {
		fmt.Fprintf(t, "%s\t%s\n", g(row.Time), row.Survival)
	}
	if err := t.Flush(); err != nil {
		return err
	}
	if x.hist != nil {
		fmt.Fprintln(w, report.LPPosition(x.hist, p.Curve.LP))
	} else {
		fmt.Fprintln(w, "risk score among the cohort: not shown ("+x.histNote+")")
	}
	fmt.Fprintln(w, report.PredictionNote(r))
	return nil
}
