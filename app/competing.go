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

// ErrGrayNoisy is why Gray's test is not computed from differentially private tables: it treats
// them as exact, and their noise makes it reject equal groups far more often than its level
// (node.TestDPGrayNull: 30–32% of the time at 5% for 500 patients at ρ = 0.02, 16–17% for 2,000).
const ErrGrayNoisy = "not computed from differentially private tables: the test would treat them as exact, and their noise makes it reject two equal groups in 16–32% of releases at the 5% level (docs/competing-risks.md); compare the curves with their noise in mind, or ask as a trusted analyst"

// addCompeting adds to a Kaplan–Meier result what competing causes and delayed entry give:
// the cumulative incidence of every cause per group (when every site split its events by
// cause), Gray's test per cause across the groups (not when noisy, some site's release being
// differentially private: ErrGrayNoisy), and the number of patients who entered observation
// late.
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
		out.GrayError = ErrGrayNoisy
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
