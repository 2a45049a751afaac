package report

import (
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/oncofed/oncofed/app"
	"github.com/oncofed/oncofed/report/format"
)

// Privacy is what the sites' policies did to a result and where it came from: the
// structured form of the privacy and provenance line both front ends print under every
// result (Line), and what the CLI's JSON documents carry under "privacy".
type Privacy struct {
	// Release is app.ReleaseSummary.Kind: "exact", "coarsened" or "differentially private".
	Release string `json:"release"`
	// Bins are the time bins applied, by bin width, with the sites that applied each.
	Bins []SitesAt `json:"bins,omitempty"`
	// MinCell is the largest minimum cell size among the answering sites (RiskMinCell).
	MinCell         int `json:"min_cell"`
	SuppressedCells int `json:"suppressed_cells"`
	// LinkedCells are those of SuppressedCells that the overlap guard suppressed because,
	// with earlier releases, they would re-derive a handful of patients (of any size).
	LinkedCells int `json:"linked_cells,omitempty"`
	MergedRows  int `json:"merged_rows"`
	// TruncatedAfter are the sites that released no survival rows after a day, by day.
	TruncatedAfter []SitesAt `json:"truncated_after,omitempty"`
	// OpenSites answer unsigned queries (insecure-open): their guards protect nothing.
	OpenSites []string `json:"open_sites,omitempty"`
	// DP is set when some site released with differential privacy.
	DP *DPRelease `json:"dp,omitempty"`

	Expected []string     `json:"expected"`
	Answered []string     `json:"answered"`
	Missing  []string     `json:"missing"`
	Refused  []SiteReason `json:"refused"`
	Invalid  []SiteReason `json:"invalid"`
	// DataCuts are the distinct data-cut dates of the answering sites, sorted.
	DataCuts []string `json:"data_cuts"`

	ComputedAt time.Time `json:"computed_at"`
	// Cached is set when the result is shown from the cache; Age then says how old it is.
	Cached bool   `json:"cached"`
	Age    string `json:"age,omitempty"`

	now time.Time
}

// SitesAt is a value (a bin width or a day, in days) and the sites it applies to.
type SitesAt struct {
	Days  float64  `json:"days"`
	Sites []string `json:"sites"`
}

// DPRelease is app.ReleaseSummary's differential-privacy part: the sites that noised their
// replies, the largest ρ one of them charged and the smallest budget one has left.
type DPRelease struct {
	Sites     []string `json:"sites"`
	Rho       float64  `json:"rho"`
	LeftToday float64  `json:"left_today"`
	LeftTotal float64  `json:"left_total"`
	text      string
}

// SiteReason is a site that refused or sent an invalid reply, and why. Rule and Limit are
// the refusal's structured reason (decide on them, never on Message).
type SiteReason struct {
	Site    string  `json:"site"`
	Code    string  `json:"code,omitempty"`
	Rule    string  `json:"rule,omitempty"`
	Limit   float64 `json:"limit,omitempty"`
	Message string  `json:"reason,omitempty"`
}

// NewPrivacy gathers r's privacy and provenance as of now (for the cached age).
func NewPrivacy(r *app.Result, now time.Time) Privacy {
	p := &r.Provenance
	rel := p.Release()
	out := Privacy{
		Release: rel.Kind, MinCell: RiskMinCell(r), OpenSites: p.OpenSites(),
		Expected: nonNil(p.Expected), Answered: nonNil(p.Answered), Missing: nonNil(p.Missing),
		Refused: reasons(p.Refused), Invalid: reasons(p.Invalid), DataCuts: []string{},
		ComputedAt: p.RanAt, Cached: r.Cached, now: now,
	}
	if r.Cached {
		out.Age = app.Age(now, p.RanAt)
	}
	bins, truncated := map[float64][]string{}, map[float64][]string{}
	cuts := map[string]bool{}
	for _, s := range p.Sites {
		if s.Policy.BinDays > 0 {
			bins[s.Policy.BinDays] = append(bins[s.Policy.BinDays], s.Site)
		}
		if s.Policy.TruncatedAfter != nil {
			truncated[*s.Policy.TruncatedAfter] = append(truncated[*s.Policy.TruncatedAfter], s.Site)
		}
		out.SuppressedCells += s.Policy.SuppressedCells
		out.LinkedCells += s.Policy.LinkedCells
		out.MergedRows += s.Policy.MergedRows
		if s.DataCut != "" && !cuts[s.DataCut] {
			cuts[s.DataCut] = true
			out.DataCuts = append(out.DataCuts, s.DataCut)
		}
	}
	sort.Strings(out.DataCuts)
	out.Bins, out.TruncatedAfter = bySites(bins), bySites(truncated)
	if len(rel.DPSites) > 0 {
		out.DP = &DPRelease{Sites: rel.DPSites, Rho: rel.Rho, LeftToday: rel.LeftToday, LeftTotal: rel.LeftTotal, text: rel.DPText()}
	}
	return out
}

// PrivacyLine is the privacy and provenance line under every result, in the desktop app
// and the CLI alike: NewPrivacy(r, now).Line().
func PrivacyLine(r *app.Result, now time.Time) string { return NewPrivacy(r, now).Line() }

// Line says it in one line: the kind of release, what the sites' policies did (time bins,
// suppressed cells, merged rows, truncated tails), OPEN sites, the differential-privacy
// cost, how many sites answered and which did not, the data cut, when it was computed and
// whether it is shown from the cache, e.g. "privacy: coarsened release · 30-day bins at
// 2 sites · 2 cells suppressed (<10) · 5 of 6 sites (harbor: no answer) · data cut
// 2026-10-31 · computed 14:02 (live)".
func (p Privacy) Line() string {
	parts := []string{"privacy: " + p.Release + " release"}
	if len(p.Bins) > 0 {
		var bs []string
		for _, b := range p.Bins {
			bs = append(bs, days(b.Days)+"-day bins at "+siteList(b.Sites))
		}
		parts = append(parts, strings.Join(bs, ", "))
	}
	sup := format.Plural(p.SuppressedCells, "cell", "cells") + " suppressed"
	switch {
	case p.LinkedCells > 0 && p.MinCell > 1:
		sup += fmt.Sprintf(" (<%d, or %d linked to earlier releases)", p.MinCell, p.LinkedCells)
	case p.SuppressedCells > 0 && p.MinCell > 1:
		sup += fmt.Sprintf(" (<%d)", p.MinCell)
	}
	parts = append(parts, sup)
	if p.MergedRows > 0 {
		parts = append(parts, format.Plural(p.MergedRows, "row", "rows")+" merged")
	}
	parts = append(parts, truncatedText(p.TruncatedAfter)...)
	if len(p.OpenSites) > 0 {
		parts = append(parts, "OPEN (unsigned queries) at "+siteList(p.OpenSites))
	}
	if p.DP != nil {
		parts = append(parts, p.DP.text)
	}
	parts = append(parts, p.SitesText())
	switch len(p.DataCuts) {
	case 0:
	case 1:
		parts = append(parts, "data cut "+p.DataCuts[0])
	default:
		parts = append(parts, "data cuts "+p.DataCuts[0]+" – "+p.DataCuts[len(p.DataCuts)-1])
	}
	when := p.ComputedAt.Local()
	stamp := when.Format("15:04")
	if y, m, d := p.now.Local().Date(); when.Year() != y || when.Month() != m || when.Day() != d {
		stamp = when.Format("2006-01-02 15:04")
	}
	state := "live"
	if p.Cached {
		state = "cached, " + p.Age
	}
	parts = append(parts, "computed "+stamp+" ("+state+")")
	return strings.Join(parts, " · ")
}

// SitesText is the sites part of the line: "5 of 6 sites (d: no answer, e: refused:
// fewer than min_cohort=10 patients)".
func (p Privacy) SitesText() string {
	s := fmt.Sprintf("%d of %d sites", len(p.Answered), len(p.Expected))
	var absent []string
	for _, m := range p.Missing {
		absent = append(absent, m+": no answer")
	}
	for _, x := range p.Refused {
		absent = append(absent, withMessage(x.Site+": refused", x.Message))
	}
	for _, x := range p.Invalid {
		absent = append(absent, withMessage(x.Site+": invalid reply", x.Message))
	}
	if len(absent) > 0 {
		s += " (" + strings.Join(absent, ", ") + ")"
	}
	return s
}

// SitesText is the sites part of the privacy line for a provenance alone (error messages
// that have no result yet).
func SitesText(p *app.Provenance) string {
	return NewPrivacy(&app.Result{Provenance: *p}, p.RanAt).SitesText()
}

func withMessage(s, msg string) string {
	if msg == "" {
		return s
	}
	return s + ": " + msg
}

func reasons(ps []app.SiteProblem) []SiteReason {
	out := []SiteReason{}
	for _, x := range ps {
		out = append(out, SiteReason{Site: x.Site, Code: x.Code, Rule: x.Reason, Limit: x.Limit, Message: x.Message})
	}
	return out
}

func bySites(m map[float64][]string) []SitesAt {
	var out []SitesAt
	for d, sites := range m {
		sort.Strings(sites)
		out = append(out, SitesAt{Days: d, Sites: sites})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Days < out[j].Days })
	return out
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

func days(x float64) string { return strconv.FormatFloat(x, 'f', -1, 64) }

// siteList names one or two sites and counts more.
// truncatedText says where tails were truncated: per day for one or two days ("tail truncated
// after day 900 at c"); for more, in one part with the range of days, as each site's last
// released time differs ("tail truncated at 5 sites, after day 2036–2187").
func truncatedText(ts []SitesAt) []string {
	if len(ts) <= 2 {
		var out []string
		for _, t := range ts {
			out = append(out, "tail truncated after day "+days(t.Days)+" at "+siteList(t.Sites))
		}
		return out
	}
	n, lo, hi := 0, ts[0].Days, ts[0].Days
	for _, t := range ts {
		n += len(t.Sites)
		lo, hi = min(lo, t.Days), max(hi, t.Days)
	}
	return []string{fmt.Sprintf("tail truncated at %d sites, after day %s–%s", n, days(lo), days(hi))}
}

func siteList(s []string) string {
	if len(s) <= 2 {
		return strings.Join(s, ", ")
	}
	return fmt.Sprintf("%d sites", len(s))
}
