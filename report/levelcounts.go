package report

import (
	"maps"
	"slices"

	"github.com/oncofed/oncofed/app"
	"github.com/oncofed/oncofed/report/format"
)

// LevelCountCells are the N and events cells of a hazard-ratio row: the model's patients and
// events at the row's level of a categorical covariate (app.Service.CoxLevelCounts); "" for a
// numeric covariate's row or when the counts are missing.
func LevelCountCells(lc *app.LevelCounts, row CoxRow) (n, events string) {
	if row.Term.Level == "" {
		return "", ""
	}
	c, ok := lc.For(row.Term.Variable, row.Term.Level)
	if !ok {
		return "", ""
	}
	return format.Thousands(c.N), format.Thousands(c.Events)
}

// LevelCountNotes say, per covariate without counts, why ("sex: site A refused: …").
func LevelCountNotes(lc *app.LevelCounts) []string {
	if lc == nil {
		return nil
	}
	var out []string
	for _, v := range slices.Sorted(maps.Keys(lc.Missing)) {
		out = append(out, "no counts per level of "+v+": "+lc.Missing[v])
	}
	return out
}
