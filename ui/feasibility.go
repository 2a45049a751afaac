package ui

// The cohort panel's live feasibility: the debounced count, its legend and the refusals it predicts.

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/dialog"
	"fyne.io/fyne/v2/theme"
	"fyne.io/fyne/v2/widget"
	"github.com/oncofed/oncofed/app"
	"github.com/oncofed/oncofed/protocol"
	"github.com/oncofed/oncofed/report/format"
)

// feasibility is the outcome of one live count.
type feasibility struct {
	count     *app.CountResult
	refused   []app.SiteProblem
	missing   []string
	invalid   []app.SiteProblem
	minCell   map[string]int
	minCohort map[string]int
	release   app.ReleaseSummary // DP sites and what the count cost them
}

// startFeasibility sends the count for generation gen, unless the cohort changed since.
func (c *cohortPanel) startFeasibility(gen int) {
	if gen != c.feasGen || c.ui.opt.Network == nil {
		return
	}
	if c.ui.offline {
		c.feasState.SetText("Offline: feasibility needs the network.")
		return
	}
	req := c.Request(protocol.KindCount)
	svc := c.ui.svc
	parent := c.ui.ctx
	c.ui.goWork(func() func() {
		ctx, cancel := context.WithTimeout(parent, 15*time.Second)
		defer cancel()
		// Through the service: approximate counts the sites do not remember (so editing does
		// not make them refuse the final analysis), not stored in the library, and a cohort
		// counted a moment ago is answered from memory instead of being charged to the
		// sites' budgets again.
		r, err := svc.Count(ctx, req)
		if err != nil {
			return func() {
				if gen == c.feasGen {
					c.feasState.SetText("Feasibility unavailable: " + app.ErrorMessage(err))
				}
			}
		}
		p := r.Provenance
		f := &feasibility{count: r.Count, refused: p.Refused, missing: p.Missing, invalid: p.Invalid, minCell: map[string]int{}, minCohort: map[string]int{},
			release: p.Release()}
		for _, rep := range r.Rounds[0].Replies {
			f.minCell[rep.Site], f.minCohort[rep.Site] = rep.Policy.MinCell, rep.Policy.MinCohort
		}
		return func() {
			if gen == c.feasGen {
				c.showFeasibility(f)
			}
		}
	})
}

// FormatFeasibility renders a count of the feasibility panel: "≈1,230" when the sites
// released it approximately (rounded, with noise), "<10" for a count known only to be below
// a site's minimum, "≈121–129" for a sum of approximate counts with such a part; exact counts
// as FormatCount. The Survival tab shows the noisy counts of a differentially private
// release with it too (the figure's legend and risk table with chart.FormatCount).
func FormatFeasibility(n app.Count, approximate bool) string {
	s := FormatCount(n)
	if !approximate || (n.Suppressed && n.N <= 1 && n.Max > 0) {
		return s
	}
	return "≈" + s
}

// feasibilityLegend explains the numbers of the feasibility panel.
func feasibilityLegend(f *feasibility) string {
	below := 0 // the largest minimum cohort among the sites: counts below it show as "<n"
	for _, m := range f.minCohort {
		below = max(below, m)
	}
	for _, p := range f.refused {
		if m, ok := app.SmallCohort(p); ok {
			below = max(below, m)
		}
	}
	small := ""
	if below > 1 {
		small = fmt.Sprintf(" A cohort below a site's minimum shows as \"<%d\".", below)
	}
	if dp := f.release; len(dp.DPSites) > 0 {
		rounding := ""
		if f.count != nil && f.count.Rounding > 1 {
			rounding = fmt.Sprintf(", rounded to the nearest %d", f.count.Rounding)
		}
		return fmt.Sprintf("Differentially private patients per site: each site adds random noise%s. Each count costs you ρ=%.4g at each site (left today ≥ %.4g); so does every change of the filters. Run's results are differentially private too: with your role no site releases exact numbers.%s",
			rounding, dp.Rho, dp.LeftToday, small)
	}
	if f.count != nil && f.count.Approximate {
		noise := ""
		if f.count.Noise > 0 {
			noise = fmt.Sprintf("add random noise of up to ±%d and ", f.count.Noise)
		}
		return fmt.Sprintf("Approximate patients per site: sites %sround to the nearest %d, so that editing filters reveals no single patient.%s Exact numbers come with Run.",
			noise, f.count.Rounding, small)
	}
	mc := 0
	if f.count != nil {
		for _, s := range f.count.PerSite {
			mc = max(mc, f.minCell[s.Site])
		}
	}
	if mc > 1 {
		return fmt.Sprintf("Patients per site as released: hidden small counts show as \"<%d\" (or a wider \"<n\"), never as 0.%s", mc, small)
	}
	return "Patients per site as released." + small
}

// feasibilityShort is the one line the panel shows above the numbers; the info button
// beside the heading gives the whole legend.
func feasibilityShort(f *feasibility) string {
	if len(f.release.DPSites) > 0 {
		return fmt.Sprintf("≈ noisy (DP); ρ=%.4g a count.", f.release.Rho)
	}
	if f.count != nil && f.count.Approximate {
		return "≈ approximate per site; exact with Run."
	}
	return "Patients per site, as released."
}

// newFeasInfo is the ⓘ button that explains the feasibility numbers.
func (c *cohortPanel) newFeasInfo() *widget.Button {
	b := widget.NewButtonWithIcon("", theme.InfoIcon(), func() {
		msg := c.feasLegend
		if msg == "" {
			msg = "Feasibility counts appear once a study is chosen."
		}
		dialog.ShowInformation("Feasibility numbers", msg, c.ui.win)
	})
	b.Importance = widget.LowImportance
	return b
}

// showFeasibility fills the feasibility grid: pooled (and per group), then each site.
func (c *cohortPanel) showFeasibility(f *feasibility) {
	c.feas = f
	c.feasBox.RemoveAll()
	row := func(name, value string, bold bool) {
		l := widget.NewLabelWithStyle(name, fyne.TextAlignLeading, fyne.TextStyle{Bold: bold})
		l.Truncation = fyne.TextTruncateEllipsis
		v := widget.NewLabelWithStyle(value, fyne.TextAlignTrailing, fyne.TextStyle{Bold: bold, Monospace: !bold})
		c.feasBox.Add(container.NewBorder(nil, nil, nil, v, l))
	}
	caption := func(s string) {
		l := widget.NewLabelWithStyle(s, fyne.TextAlignLeading, fyne.TextStyle{Italic: true})
		l.Wrapping = fyne.TextWrapWord
		l.SizeName = theme.SizeNameCaptionText
		c.feasBox.Add(l)
	}
	if f.count != nil {
		approx := f.count.Approximate
		row("pooled", FormatFeasibility(f.count.Total, approx), true)
		for _, g := range f.count.Groups {
			row("   "+g.Group, FormatFeasibility(g.N, approx), false)
		}
		if f.count.Missing.N > 0 || f.count.Missing.Suppressed {
			row("   (missing group)", FormatFeasibility(f.count.Missing, approx), false)
		}
		for _, s := range f.count.PerSite {
			row(s.Site, FormatFeasibility(s.Total, s.Rounding > 0), false)
			if len(s.Groups) > 0 {
				var parts []string
				for _, g := range f.count.SiteGroups(s) {
					parts = append(parts, g+" "+FormatFeasibility(s.Groups[g], s.Rounding > 0))
				}
				caption(strings.Join(parts, " · "))
			}
		}
	}
	for _, p := range f.refused {
		if m, ok := app.SmallCohort(p); ok {
			// Below the site's minimum: the site says no more, and neither does the panel.
			row(p.Site, fmt.Sprintf("<%d", m), false)
			continue
		}
		row(p.Site, "refused", false)
		caption(p.Message)
	}
	for _, s := range f.missing {
		row(s, "no answer", false)
	}
	for _, p := range f.invalid {
		row(p.Site, "invalid reply", false)
	}
	c.feasBox.Refresh()
	defer c.scroll.Refresh()
	legend := feasibilityLegend(f)
	if s := c.ui.catalog.StandingText(c.ui.study); s != "" {
		legend += " " + s + " (as of the last catalog)."
	}
	c.feasLegend = legend
	c.feasState.SetText(feasibilityShort(f))
	c.refusals = PredictRefusals(f.count, f.refused, f.minCohort)
	c.willAnswer = answeringSites(f.count, c.refusals)
	if len(c.refusals) > 0 {
		hint := ""
		if !c.mergeBtn.Disabled() {
			hint = " Merging the small levels of " + c.GroupBy() + " (Merge…) can bring them back."
		}
		c.warning.SetText(fmt.Sprintf("⚠ %s would refuse an analysis of this cohort under their privacy policy, and a run leaves them out — %s.%s",
			format.Plural(len(c.refusals), "site", "sites"), app.BySameReason(c.refusals), hint))
		c.warning.Show()
	} else {
		c.warning.SetText("")
		c.warning.Hide()
	}
}

// answeringSites counts the sites that counted the cohort and are not predicted to refuse it.
func answeringSites(count *app.CountResult, refusals []app.SiteProblem) int {
	if count == nil {
		return 0
	}
	n := 0
	for _, s := range count.PerSite {
		if !slices.ContainsFunc(refusals, func(p app.SiteProblem) bool { return p.Site == s.Site }) {
			n++
		}
	}
	return n
}

// PredictRefusals lists the sites whose policy would refuse a grouped analysis of the cohort:
// those that refused the count itself (but not for the optional cap on feasibility counts,
// which an analysis does not use; a refusal for the shared daily budget does predict one), and those with a non-empty group smaller than their minimum cohort
// (a suppressed group always is), which survival and summary queries refuse. With
// approximate counts the prediction is approximate too.
func PredictRefusals(count *app.CountResult, refused []app.SiteProblem, minCohort map[string]int) []app.SiteProblem {
	var out []app.SiteProblem
	for _, p := range refused {
		if p.Reason != protocol.ReasonFeasibilityBudget {
			out = append(out, p)
		}
	}
	if count == nil {
		return out
	}
	for _, s := range count.PerSite {
		mc := minCohort[s.Site]
		var small []string
		for _, g := range count.SiteGroups(s) {
			n := s.Groups[g]
			if n.Suppressed || (n.N > 0 && n.N < mc) {
				small = append(small, g+" ("+FormatFeasibility(n, s.Rounding > 0)+")")
			}
		}
		if len(small) > 0 {
			out = append(out, app.SiteProblem{Site: s.Site, Code: protocol.CodeRefusedByPolicy,
				Message: fmt.Sprintf("group %s below its minimum of %d patients", strings.Join(small, ", "), mc)})
		}
	}
	return out
}
