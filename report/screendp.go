package report

import (
	"fmt"
	"slices"
	"strings"

	"github.com/oncofed/oncofed/app"
	"github.com/oncofed/oncofed/report/format"
)

// ScreenDPLine is, for a differentially private screen (app/screendp.go), what labels it: that
// it is fitted on the sites' noisy tables, the ρ each site charged, and that the standard
// errors and p-values include the noise; "" for an exact screen. The CLI's text, the
// Biomarkers tab and the screen's slide show the same line.
func ScreenDPLine(r *app.ScreenResult) string {
	if r == nil || !r.DP() {
		return ""
	}
	sites := make([]string, 0, len(r.DPSpent))
	for s := range r.DPSpent {
		sites = append(sites, s)
	}
	slices.Sort(sites)
	var spent []string
	total := 0.0
	for _, s := range sites {
		spent = append(spent, fmt.Sprintf("%s %.4g", s, r.DPSpent[s]))
		total = max(total, r.DPSpent[s])
	}
	return fmt.Sprintf("Differentially private: fitted on the sites' noisy tables, one release per site of ρ ≤ %.4g split over %s (ρ spent: %s). SE, intervals and p include the release's noise (its covariance over %d simulated releases).",
		total, format.Plural(len(r.Markers), "marker", "markers"), strings.Join(spent, ", "), app.DPScreenNoiseReleases)
}
