package report

import (
	"fmt"

	"github.com/oncofed/oncofed/app"
	"github.com/oncofed/oncofed/chart"
	"github.com/oncofed/oncofed/report/format"
)

// CauseName is how cause c (1-based) of an endpoint is named: its declared label, or "cause c"
// when the catalog gives none.
func CauseName(labels []string, c int) string {
	if c >= 1 && c <= len(labels) {
		return labels[c-1]
	}
	return fmt.Sprintf("cause %d", c)
}

// CIFFigure is the chart of the cumulative incidence of a survival result whose sites split
// their events by cause: one rising step curve per group and cause ("male — progression"),
// with pointwise bands and the number at risk under the axis (small counts hidden as in
// KMFigure), Gray's test per cause in the notes, and delayed entry said when there was some.
// labels are the endpoint's cause labels (app.Endpoint.Causes). The desktop app and the CLI
// both draw with it.
func CIFFigure(r *app.Result, labels []string, unit chart.TimeUnit, style chart.Style, footnote string) *chart.KMFigure {
	k := r.KM
	f := &chart.KMFigure{
		Unit:        unit,
		YLabel:      "Cumulative incidence",
		Rising:      true,
		HideCensor:  true,
		RiskMinCell: RiskMinCell(r),
		Approximate: NoisyCounts(r),
		Footnote:    footnote,
		Style:       style,
		PLabel:      "Gray",
	}
	for _, g := range k.Groups {
		if g.CIF == nil || len(g.CIF.Time) == 0 {
			continue
		}
		for c, cc := range g.CIF.Causes {
			name := CauseName(labels, c+1)
			if g.Group != "" {
				name = GroupName(g.Group) + " — " + name
			}
			f.Curves = append(f.Curves, chart.KMCurve{Name: name, N: g.CIF.N, Time: g.CIF.Time, Surv: cc.CIF,
				Lower: cc.Lower, Upper: cc.Upper, NRisk: g.CIF.NRisk})
		}
	}
	for _, t := range k.Gray {
		f.Notes = append(f.Notes, fmt.Sprintf("Gray's test, %s: %s", CauseName(labels, t.Cause), format.PValue(t.P)))
	}
	if k.GrayWithNoise && len(k.Gray) > 0 {
		f.Notes = append(f.Notes, DPGrayNote)
	}
	if n := k.DelayedEntries; n > 0 {
		f.Notes = append(f.Notes, DelayedEntryNote(n))
	}
	if note := DPCIFNote(r); note != "" {
		f.Notes = append(f.Notes, note)
	}
	return f
}

// DPCIFNote is, for a cumulative incidence computed from differentially private tables (the
// sites' noisy per-cause tables, docs/competing-risks.md), what the figures carry: noisy
// counts, and intervals that include the noise (app.DPCompeting; those of a result stored
// before they did leave it out, and say so); "" for any other release. The CLI and the desktop
// say the same.
func DPCIFNote(r *app.Result) string {
	if !NoisyCounts(r) {
		return ""
	}
	for _, g := range r.KM.Groups {
		if g.CIF != nil && g.CIF.NoiseSDs() == nil {
			return "Computed from differentially private per-cause tables: the counts are noisy, and the intervals leave out the noise"
		}
	}
	return "Computed from differentially private per-cause tables: the counts are noisy, and the intervals include the noise (simulated from the sites' mechanism and ρ)"
}

// DPGrayNote is the line under Gray's tests of differentially private tables (app.DPCompeting),
// in every front end.
const DPGrayNote = "Gray's test variance includes the differential-privacy noise (simulated from the sites' mechanism and ρ)"

// DelayedEntryNote is the line under a survival figure whose sites report delayed entry.
func DelayedEntryNote(entered int) string {
	return fmt.Sprintf("Risk sets from entry; %d entered late", entered)
}
