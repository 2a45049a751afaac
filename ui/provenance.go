package ui

import (
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/oncofed/oncofed/app"
)

// PrivacyLine is the privacy and provenance line under every result: what the sites'
// policies did (time bins, suppressed cells, merged rows), how many sites answered and which
// did not, the data cut, when it was computed and whether it is shown from the cache, e.g.
// "privacy: 30-day bins at 1 site · 2 cells suppressed · 5 of 6 sites (harbor-general: no
// answer) · data cut 2026-10-31 · computed 14:02 (live)".
func PrivacyLine(r *app.Result, now time.Time) string {
	p := &r.Provenance
	var parts []string

	bins := map[float64][]string{}
	suppressed, merged := 0, 0
	var truncated []string
	for _, s := range p.Sites {
		if s.Policy.BinDays > 0 {
			bins[s.Policy.BinDays] = append(bins[s.Policy.BinDays], s.Site)
		}
		suppressed += s.Policy.SuppressedCells
		merged += s.Policy.MergedRows
		if s.Policy.TruncatedAfter != nil {
			truncated = append(truncated, s.Site)
		}
	}
	parts = append(parts, "privacy: "+p.Release().Kind+" release")
	if len(bins) > 0 {
		var ws []float64
		for w := range bins {
			ws = append(ws, w)
		}
		sort.Float64s(ws)
		var bs []string
		for _, w := range ws {
			bs = append(bs, fmt.Sprintf("%s-day bins at %s", fmtNum(w), siteList(bins[w])))
		}
		parts = append(parts, strings.Join(bs, ", "))
	}
	parts = append(parts, plural(suppressed, "cell", "cells")+" suppressed")
	if merged > 0 {
		parts = append(parts, plural(merged, "row", "rows")+" merged")
	}
	if len(truncated) > 0 {
		parts = append(parts, "tail truncated at "+siteList(truncated))
	}
	if open := p.OpenSites(); len(open) > 0 {
		parts = append(parts, "OPEN (unsigned queries) at "+siteList(open))
	}
	if dp := p.Release().DPText(); dp != "" {
		parts = append(parts, dp)
	}

	sites := fmt.Sprintf("%d of %d sites", len(p.Answered), len(p.Expected))
	var absent []string
	for _, m := range p.Missing {
		absent = append(absent, m+": no answer")
	}
	for _, x := range p.Refused {
		absent = append(absent, x.Site+": refused")
	}
	for _, x := range p.Invalid {
		absent = append(absent, x.Site+": invalid reply")
	}
	if len(absent) > 0 {
		sites += " (" + strings.Join(absent, ", ") + ")"
	}
	parts = append(parts, sites)

	cuts := map[string]bool{}
	var cutList []string
	for _, s := range p.Sites {
		if s.DataCut != "" && !cuts[s.DataCut] {
			cuts[s.DataCut] = true
			cutList = append(cutList, s.DataCut)
		}
	}
	sort.Strings(cutList)
	switch len(cutList) {
	case 0:
	case 1:
		parts = append(parts, "data cut "+cutList[0])
	default:
		parts = append(parts, "data cuts "+cutList[0]+" – "+cutList[len(cutList)-1])
	}

	when := r.Provenance.RanAt.Local()
	stamp := when.Format("15:04")
	if y, m, d := now.Local().Date(); when.Year() != y || when.Month() != m || when.Day() != d {
		stamp = when.Format("2006-01-02 15:04")
	}
	state := "live"
	if r.Cached {
		state = "cached, " + app.Age(now, r.Provenance.RanAt)
	}
	parts = append(parts, "computed "+stamp+" ("+state+")")
	return strings.Join(parts, " · ")
}

// minCell is the largest minimum cell size among the answering sites (what a pooled count
// below which nothing is shown must respect).
func minCell(r *app.Result) int {
	m := 0
	for _, s := range r.Provenance.Sites {
		if s.Policy.MinCell > m {
			m = s.Policy.MinCell
		}
	}
	return m
}

func siteList(s []string) string {
	if len(s) <= 2 {
		return strings.Join(s, ", ")
	}
	return fmt.Sprintf("%d sites", len(s))
}

func plural(n int, one, many string) string {
	if n == 1 {
		return "1 " + one
	}
	return fmt.Sprintf("%d %s", n, many)
}
