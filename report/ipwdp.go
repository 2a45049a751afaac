package report

import (
	"fmt"

	"github.com/oncofed/oncofed/app"
)

// IPWDPLine is, for a weighted comparison computed from differentially private tables (an
// analyst of role dp, docs/dp-compare.md), what the noise does to the hazard ratio and what
// the comparison was computed on; "" for any other comparison.
func IPWDPLine(r *app.Result) string {
	res := r.IPW
	if res == nil || res.DP == nil {
		return ""
	}
	d := res.DP
	s := fmt.Sprintf("Differentially private: one release per site (ρ %g), computed on %d pseudo-patients", d.Rho, d.Patients)
	if d.DroppedPatterns > 0 {
		s += fmt.Sprintf(" (%d patterns of %d pseudo-patients left out: their size is within the noise of an empty one)", d.DroppedPatterns, d.DroppedPatients)
	}
	lo, hi, ok := res.NoiseInterval()
	if !ok {
		return s + "; the noise's spread could not be estimated (too few re-noised copies could be compared): read the hazard ratio with care."
	}
	return s + fmt.Sprintf(". Noise of the release (not in the robust CI): SD %.4f of the log HR over %d re-noised copies; with it, 95%% CI %.3g–%.3g.",
		d.NoiseSD[0], d.Copies, lo, hi)
}
