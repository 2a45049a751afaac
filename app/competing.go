package app

import (
	"github.com/oncofed/oncofed/analysis"
	"github.com/oncofed/oncofed/protocol"
)

// SurvivalTableOf reads a site's released survival group as an analysis table: its rows, their
// split by cause (when the endpoint has causes) and its delayed entries (when the site records
// them), so that every statistic of the merged tables is the statistic of the pooled released
// data.
func SurvivalTableOf(g protocol.SurvivalGroup) analysis.SurvivalTable {
	t := analysis.SurvivalTable{Time: g.Time, Events: g.Events, Censor: g.Censor}
	for _, c := range g.Causes {
		t.Causes = append(t.Causes, c)
	}
	if len(g.EntryTime) == 0 {
		return t
	}
	entries := analysis.SurvivalTable{Time: g.EntryTime, Events: make([]int, len(g.EntryTime)),
		Censor: make([]int, len(g.EntryTime)), Entries: g.Entries}
	if len(t.Causes) > 0 {
		entries.Causes = make([][]int, len(t.Causes))
		for c := range entries.Causes {
			entries.Causes[c] = make([]int, len(g.EntryTime))
		}
	}
	return analysis.MergeTables(t, entries)
}

// addCompeting adds to a Kaplan–Meier result what competing causes and delayed entry give:
// the cumulative incidence of every cause per group (when every site split its events by
// cause), Gray's test per cause across the groups (when exact: for noisy tables, some site's
// release being differentially private, addDPCompeting adds it with the noise), and the number
// of patients who entered observation late.
func addCompeting(out *KMResult, merged []analysis.SurvivalTable, noisy bool) {
	causes := 0
	for i, t := range merged {
		for _, e := range t.Entries {
			out.DelayedEntries += e
		}
		if t.Total() > 0 && i < len(out.Groups) {
			causes = max(causes, len(t.Causes))
		}
	}
	if causes == 0 {
		return
	}
	out.Causes = causes
	for i := range out.Groups {
		if merged[i].Total() == 0 {
			continue
		}
		est, err := analysis.CumulativeIncidence(merged[i], analysis.KMOptions{})
		if err != nil {
			out.CIFError = err.Error()
			return
		}
		out.Groups[i].CIF = est
	}
	if len(merged) < 2 {
		return
	}
	if noisy {
		return
	}
	for c := 1; c <= causes; c++ {
		g, err := analysis.GrayTest([][]analysis.SurvivalTable{merged}, c, 0)
		if err != nil {
			out.GrayError = err.Error()
			return
		}
		out.Gray = append(out.Gray, g)
	}
}

// addDPCompeting replaces the cumulative incidence of dp releases (addCompeting's) by the one
// whose standard errors and intervals include the noise, and adds Gray's test with the noise in
// its variance (DPCompeting), strata and grids as DPLogRank's.
func addDPCompeting(out *KMResult, strata [][]analysis.SurvivalTable, grids []DPSiteGrid) error {
	cifs := make([]*analysis.CIFEstimate, len(out.Groups))
	for i, g := range out.Groups {
		cifs[i] = g.CIF
	}
	res, err := DPCompeting(strata, grids, cifs, out.Causes, dpCompetingSeed)
	if err != nil {
		return WrapError(EInvalid, err, "the cumulative incidence of dp releases")
	}
	for i, est := range res.CIF {
		out.Groups[i].CIF = est
	}
	if len(out.Groups) < 2 {
		return nil
	}
	out.Gray, out.GrayWithNoise = res.Gray, true
	if res.GrayErr != nil {
		out.GrayError = res.GrayErr.Error()
	}
	return nil
}
