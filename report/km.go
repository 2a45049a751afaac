package report

import (
	"math"
	"strings"

	"github.com/oncofed/oncofed/app"
	"github.com/oncofed/oncofed/chart"
	"github.com/oncofed/oncofed/report/format"
)

// KMOptions are the display choices of a Kaplan–Meier figure (the Survival tab's; the CLI
// uses the zero value).
type KMOptions struct {
	Unit        chart.TimeUnit
	HideBands   bool
	HideCensor  bool
	MedianLines bool
	Percent     bool
	// HR is the two-group hazard ratio shown in the annotation box (nil: none).
	HR *chart.HazardRatio
}

// KMFigure is the chart of a Kaplan–Meier result: one curve per group with bands, censor
// marks, medians and the number-at-risk table, whose cells below the sites' minimum cell
// are never shown (RiskMinCell). The desktop app and the CLI both draw with it.
func KMFigure(r *app.Result, o KMOptions, style chart.Style, footnote string) *chart.KMFigure {
	k := r.KM
	f := &chart.KMFigure{
		Unit:            o.Unit,
		YLabel:          EndpointLabel(k.Endpoint, o.Percent),
		HideBands:       o.HideBands,
		HideCensor:      o.HideCensor,
		ShowMedianLines: o.MedianLines,
		Percent:         o.Percent,
		HR:              o.HR,
		RiskMinCell:     RiskMinCell(r),
		Approximate:     NoisyCounts(r),
		Footnote:        footnote,
		Style:           style,
	}
	for _, g := range k.Groups {
		if g.Curve == nil || len(g.Curve.Time) == 0 {
			continue // a group without patients has no curve
		}
		c := chart.CurveFromEstimate(GroupName(g.Group), g.Curve)
		// The median the tables show (quantile(fit, 0.5)), so that figure and table agree
		// where R's print(fit) differs: a curve ending flat at exactly 0.5.
		c.Median = &chart.MedianCI{Median: g.Median.Time, Lower: g.Median.Lower, Upper: g.Median.Upper}
		f.Curves = append(f.Curves, c)
	}
	if k.LogRank != nil && !math.IsNaN(k.LogRank.P) {
		p := k.LogRank.P
		f.LogRankP = &p
	}
	if k.StratifiedLogRank != nil {
		f.Notes = append(f.Notes, "Stratified by site: "+format.PValue(k.StratifiedLogRank.P))
	}
	if k.LogRankWithNoise && (k.LogRank != nil || k.StratifiedLogRank != nil) {
		f.Notes = append(f.Notes, DPLogRankNote)
	}
	if k.DelayedEntries > 0 {
		f.Notes = append(f.Notes, DelayedEntryNote(k.DelayedEntries))
	}
	if note := DPKMNote(r); note != "" {
		f.Notes = append(f.Notes, note)
	}
	return f
}

// DPKMNote is, for a Kaplan–Meier computed from differentially private tables, what its
// intervals carry: the Greenwood intervals of the noisy tables taken as exact, which leave the
// noise out (its log-rank test includes it: DPLogRankNote; a cumulative incidence's intervals
// include it: DPCIFNote); "" for any other release. The figure, the CLI and the desktop say it.
func DPKMNote(r *app.Result) string {
	if !NoisyCounts(r) {
		return ""
	}
	return "Differentially private tables: the counts are noisy, and the intervals of the curves, medians and landmarks leave out the noise"
}

// DPLogRankNote is the line under a log-rank test of differentially private tables
// (app.DPLogRank), in every front end.
const DPLogRankNote = "log-rank variance includes the differential-privacy noise (simulated from the sites' mechanism and ρ)"

// RiskMinCell is the one rule for displaying pooled counts under the sites' policies: the
// largest minimum cell size among the answering sites. A pooled count derived from the
// released tables (a number at risk, a group size) between 1 and RiskMinCell-1 is shown as
// "<RiskMinCell" (chart.FormatCount), never as the number, in every front end.
func RiskMinCell(r *app.Result) int {
	m := 0
	for _, s := range r.Provenance.Sites {
		m = max(m, s.Policy.MinCell)
	}
	return m
}

// NoisyCounts reports whether the pooled counts of r (patients, events, numbers at risk) are
// noisy estimates: some answering site released with differential privacy. Every front end
// then shows them as such, "≈312" (chart.FormatCount); exact and coarsened releases are not.
func NoisyCounts(r *app.Result) bool { return len(r.Provenance.Release().DPSites) > 0 }

// NoisySite reports whether site released its counts in r with differential privacy.
func NoisySite(r *app.Result, site string) bool {
	for _, s := range r.Provenance.Sites {
		if s.Site == site {
			return s.Policy.DP != nil
		}
	}
	return false
}

// GroupName is how a group is named in legends and tables: "All patients" for the
// ungrouped cohort.
func GroupName(g string) string {
	if g == "" {
		return "All patients"
	}
	return g
}

// endpointWords spells out the endpoints oncology names by their initials.
func endpointWords(ep string) (string, bool) {
	switch strings.ToLower(ep) {
	case "os", "":
		return "Overall survival", true
	case "pfs":
		return "Progression-free survival", true
	case "dfs":
		return "Disease-free survival", true
	case "efs":
		return "Event-free survival", true
	}
	return "", false
}

// EndpointLabel is the y-axis label of an endpoint.
func EndpointLabel(ep string, percent bool) string {
	name := strings.ToUpper(ep)
	if w, ok := endpointWords(ep); ok {
		name = w
	}
	if percent {
		return name + " (%)"
	}
	return name + " probability"
}
