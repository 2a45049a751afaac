package report

import (
	"fmt"
	"math"
	"strconv"

	"github.com/oncofed/oncofed/app"
	"github.com/oncofed/oncofed/protocol"
)

// DPValidationLine says, under a leave-one-site-out validation computed from differentially
// private tables (app.LOSOResult.DP), where its figures come from, what it cost and how much
// noise they carry; "" for any other validation. The CLI and the desktop show the same text.
func DPValidationLine(l *app.LOSOResult) string {
	d := l.DP
	if d == nil {
		return ""
	}
	s := fmt.Sprintf("Computed from the differentially private tables the model was fitted on (ρ=%s at each site, spent once by the fit): "+
		"this validation sent %s and spent no ρ. ", strconv.FormatFloat(d.Rho, 'g', -1, 64), queries(d.Queries))
	if d.TablesFrom != 0 {
		s += fmt.Sprintf("The tables are those kept with result %d (reused: nothing was asked for this model). ", d.TablesFrom)
	}
	lo, hi := math.Inf(1), math.Inf(-1)
	for _, site := range l.Sites {
		if n := site.Noise; n != nil && !math.IsNaN(n.HarrellC) {
			lo, hi = math.Min(lo, n.HarrellC), math.Max(hi, n.HarrellC)
		}
	}
	if d.Releases == 0 || lo > hi {
		return s + "Every figure carries the release's noise, which could not be simulated for these tables."
	}
	s += fmt.Sprintf("Every figure carries the release's noise: over %d simulated releases each site's C varies with SD %.3f–%.3f", d.Releases, lo, hi)
	if !math.IsNaN(d.PooledCNoiseSD) {
		s += fmt.Sprintf(", the pooled C with SD %.3f", d.PooledCNoiseSD)
	}
	return s + " (added to each site's SE before pooling)."
}

func queries(n int) string {
	if n == 0 {
		return "no query"
	}
	return fmt.Sprintf("%d queries", n)
}

// dpModelNote is PredictionNote's account of a pooled model fitted on differentially private
// tables.
func dpModelNote(r *app.Result) string {
	if r.Request.Cox == nil || r.Request.Cox.Form != protocol.CoxDPTables {
		return ""
	}
	rho := 0.0
	for _, s := range r.Provenance.Sites {
		if s.Policy.DP != nil {
			rho = math.Max(rho, s.Policy.DP.Rho)
		}
	}
	return fmt.Sprintf(" Fitted on the sites' differentially private tables (ρ=%s each, spent once; the pooled model and its baseline are post-processing of that release, no pooled opt-in needed): "+
		"the intervals leave out the release's noise (the coefficients' noise SD is shown with the model).", strconv.FormatFloat(rho, 'g', -1, 64))
}
