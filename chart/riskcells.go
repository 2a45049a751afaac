package chart

// RiskCells are the number-at-risk table's cells as the figure draws them, one row per
// curve and one column per time-axis tick, with the minimum-cell rule applied
// (FormatCount: "<10" for a count of 1–9 under a minimum cell of 10); nil when the figure
// draws no risk table. Front ends compare these to check that they hide the same cells.
func (f *KMFigure) RiskCells() [][]string {
	rt := f.riskTable(f.Ticks())
	if rt == nil {
		return nil
	}
	out := make([][]string, len(rt.Counts))
	for i, row := range rt.Counts {
		out[i] = make([]string, len(row))
		for j, n := range row {
			out[i][j] = FormatCount(n, rt.MinCell, rt.Approximate)
		}
	}
	return out
}
