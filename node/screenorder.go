package node

// cohortRowsByTime returns the rows of cohort c ordered by endpoint ep's time (ties in row
// order): the study's time order of ep (loadedStudy.timeOrder, sorted once per load) filtered
// to the cohort. A Cox design built in this order has its complete cases already sorted by
// time, and so by released time (coarsening and merging are non-decreasing maps), so that
// neither the released-time table (policyTimes) nor the strata (analysis.NewCoxStratum) sort
// again: a biomarker screen asks one model per marker of the same cohort, and the sort was
// most of each model's preparation (bench: BenchmarkScreenSite).
func cohortRowsByTime(c *cohort, ep *EndpointData) []int {
	rows := make([]int, 0, c.n)
	for _, i := range c.study.timeOrder(ep) {
		if c.rows.has(int(i)) {
			rows = append(rows, int(i))
		}
	}
	return rows
}
