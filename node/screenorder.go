package node

// A biomarker screen asks one Cox model per marker over the same cohort and endpoint, and each
// model's design gathers the same times, event flags and adjusters (age) again. They are read
// here in the endpoint's time order (loadedStudy.timeOrder, sorted once per load), from copies
// of those columns permuted into that order once per load (byTime), so that each model reads
// them as a stream instead of gathering them row by row (BenchmarkScreenSite: the gathers were
// most of a model's preparation once the sorts were gone), and its complete cases come out
// sorted by time — and so by released time (coarsening and merging are non-decreasing maps):
// neither the released-time table (policyTimes) nor the strata (analysis.NewCoxStratumSorted,
// which keeps them without a copy) sort.

// timeOrdered is an endpoint's columns in its time order.
type timeOrdered struct {
	order   []int32   // the rows, by time (ties in row order)
	time    []float64 // time[k] = ep.Time[order[k]]
	event   []bool
	numeric map[string][]float64 // numeric variables, permuted on first use (under ls.orderMu)
	frames  []*cohortFrame       // the latest cohorts' frames (cohortframe.go; under ls.orderMu)
}

// byTime returns ep's time-ordered columns, built on first use.
func (ls *loadedStudy) byTime(ep *EndpointData) *timeOrdered {
	order := ls.timeOrder(ep)
	ls.orderMu.Lock()
	defer ls.orderMu.Unlock()
	if to, ok := ls.sorted[ep.Name]; ok {
		return to
	}
	to := &timeOrdered{order: order, time: make([]float64, len(order)), event: make([]bool, len(order)), numeric: map[string][]float64{}}
	for k, i := range order {
		to.time[k], to.event[k] = ep.Time[i], ep.Event[i]
	}
	if ls.sorted == nil {
		ls.sorted = map[string]*timeOrdered{}
	}
	ls.sorted[ep.Name] = to
	return to
}

// numericColumn returns numeric variable v's values in the time order of to.
func (ls *loadedStudy) numericColumn(to *timeOrdered, v *VariableData) []float64 {
	ls.orderMu.Lock()
	defer ls.orderMu.Unlock()
	if col, ok := to.numeric[v.Name]; ok {
		return col
	}
	col := make([]float64, len(to.order))
	for k, i := range to.order {
		col[k] = v.Numeric[i]
	}
	to.numeric[v.Name] = col
	return col
}

// cohortByTime returns the rows of cohort c in ep's time order (to), and each row's place in
// that order (pos[r] is the place of rows[r], increasing).
func cohortByTime(c *cohort, to *timeOrdered) (rows []int, pos []int32) {
	rows, pos = make([]int, 0, c.n), make([]int32, 0, c.n)
	for k, i := range to.order {
		if c.rows.has(int(i)) {
			rows, pos = append(rows, int(i)), append(pos, int32(k))
		}
	}
	return rows, pos
}
