package analysis_test

import (
	"fmt"
	"os"

	"github.com/oncofed/oncofed/analysis"
)

// A Table 1 from two sites' released aggregates: site B suppressed a small cell (stage III in
// the treated group, true count 1..4 under its min-cell rule of 5), so the merged counts that
// include it are intervals and the stage SMD is not computed.
func ExampleBuildTable1() {
	e := analysis.ExactCount
	edges := []float64{30, 40, 50, 60, 70, 80}
	age := func(n int, sum, sumSq float64, hist ...int) analysis.VariableAggregate {
		v := analysis.VariableAggregate{Name: "age", Numeric: true, N: e(n), Sum: sum, SumSq: sumSq, Edges: edges}
		for _, h := range hist {
			v.Histogram = append(v.Histogram, e(h))
		}
		return v
	}
	stage := func(c map[string]analysis.CellCount, missing int) analysis.VariableAggregate {
		return analysis.VariableAggregate{Name: "stage", Categories: c, Missing: e(missing)}
	}
	sites := []analysis.SiteAggregate{
		{Site: "A", Groups: []analysis.GroupAggregate{
			{Group: "control", N: e(40), Variables: []analysis.VariableAggregate{
				age(40, 2480, 156400, 0, 0, 5, 10, 15, 8, 2),
				stage(map[string]analysis.CellCount{"I": e(12), "II": e(18), "III": e(9)}, 1)}},
			{Group: "treated", N: e(38), Variables: []analysis.VariableAggregate{
				age(38, 2280, 139800, 0, 0, 7, 12, 11, 6, 2),
				stage(map[string]analysis.CellCount{"I": e(15), "II": e(16), "III": e(7)}, 0)}},
		}},
		{Site: "B", Groups: []analysis.GroupAggregate{
			{Group: "control", N: e(22), Variables: []analysis.VariableAggregate{
				age(22, 1430, 94000, 0, 0, 1, 4, 8, 6, 3),
				stage(map[string]analysis.CellCount{"I": e(6), "II": e(9), "III": e(7)}, 0)}},
			{Group: "treated", N: e(25), Variables: []analysis.VariableAggregate{
				age(25, 1600, 104000, 0, 0, 1, 5, 9, 7, 3),
				stage(map[string]analysis.CellCount{"I": e(10), "II": e(13), "III": analysis.SuppressedCount(5)}, 0)}},
		}},
	}
	t, err := analysis.BuildTable1(sites, analysis.Table1Options{})
	if err != nil {
		fmt.Println(err)
		return
	}
	t.WriteMarkdown(os.Stdout)
	// Output:
	// | Characteristic | control | treated | Overall | SMD |
	// |:---|---:|---:|---:|---:|
	// | n | 62 | 63 | 125 |  |
	// | age, mean (SD) | 63.1 (7.9) | 61.6 (8.8) | 62.3 (8.4) | 0.176 |
	// | age, median [Q1, Q3] | 64.8 [56.8, 72.5] | 63.2 [54.6, 71.7] | 64.1 [55.6, 72.1] |  |
	// | stage, n (%) |  |  |  |  |
	// | &nbsp;&nbsp;I | 18 (29.5) | 25 (38.5–40.3) | 43 (34.1–35.0) |  |
	// | &nbsp;&nbsp;II | 27 (44.3) | 29 (44.6–46.8) | 56 (44.4–45.5) |  |
	// | &nbsp;&nbsp;III | 16 (26.2) | 8–11 (12.9–16.9) | 24–27 (19.5–21.4) |  |
	// | &nbsp;&nbsp;missing | 1 | 0 | 1 |  |
}
