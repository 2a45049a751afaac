package node

import (
	"encoding/json"
	"sync"
)

// A biomarker screen asks one Cox model per marker over the same cohort and endpoint: every
// model's design starts from the same rows in time order, the same times and event flags and
// the same adjusters, and — for a marker no patient lacks — the same released times. A
// cohortFrame holds those once per cohort and load (built by the first model that needs it,
// shared by the others and by later screens), so that preparing a model gathers only its
// marker's codes and builds its design (BenchmarkScreenSite "first"). Every slice of a frame
// is read-only once published: the strata of the models' designs keep its released times.

// maxCohortFrames is how many cohorts' frames an endpoint keeps (the most recent ones): a
// screen asks one cohort; an analyst comparing subgroups a few.
const maxCohortFrames = 4

// cohortFrame is a cohort's rows in an endpoint's time order (timeOrdered) and what every Cox
// design over them reads.
type cohortFrame struct {
	key   string
	rows  []int     // the cohort's rows in time order
	pos   []int32   // pos[r]: the place of rows[r] in the endpoint's time order, increasing
	time  []float64 // time[r], event[r]: rows[r]'s (raw) time and event flag
	event []bool

	mu       sync.Mutex
	numeric  map[string][]float64        // numeric variables over rows, gathered on first use
	released map[releasedKey]releasedSet // the released times of all rows, per policy
}

// releasedKey is what policyTimes depends on besides the times.
type releasedKey struct {
	binDays float64
	minCell int
	strict  bool
}

// releasedSet is policyTimes's answer over every row of a frame, with its count of events.
type releasedSet struct {
	time      []float64
	event     []bool
	merged    int
	truncated *float64
	events    int
}

// frame returns the frame of cohort c in ep's time order (to), built on first use.
func (ls *loadedStudy) frame(c *cohort, to *timeOrdered) *cohortFrame {
	f, _ := json.Marshal(c.filter) // the cohort's rows are a function of its filter and the load
	key := string(f)
	ls.orderMu.Lock()
	defer ls.orderMu.Unlock()
	for _, fr := range to.frames {
		if fr.key == key {
			return fr
		}
	}
	fr := &cohortFrame{key: key, numeric: map[string][]float64{}, released: map[releasedKey]releasedSet{}}
	fr.rows, fr.pos = cohortByTime(c, to)
	fr.time, fr.event = make([]float64, len(fr.pos)), make([]bool, len(fr.pos))
	for r, k := range fr.pos {
		fr.time[r], fr.event[r] = to.time[k], to.event[k]
	}
	if len(to.frames) == maxCohortFrames {
		to.frames = to.frames[1:]
	}
	to.frames = append(to.frames, fr)
	return fr
}

// numericColumn returns numeric variable v over the frame's rows.
func (fr *cohortFrame) numericColumn(ls *loadedStudy, to *timeOrdered, v *VariableData) []float64 {
	sorted := ls.numericColumn(to, v) // before fr.mu: it takes ls.orderMu
	fr.mu.Lock()
	defer fr.mu.Unlock()
	if col, ok := fr.numeric[v.Name]; ok {
		return col
	}
	col := make([]float64, len(fr.pos))
	for r, k := range fr.pos {
		col[r] = sorted[k]
	}
	fr.numeric[v.Name] = col
	return col
}

// releasedTimes returns policyTimes over all the frame's rows (a design that keeps every row,
// without a Fine–Gray split), computed once per policy.
func (fr *cohortFrame) releasedTimes(k releasedKey) releasedSet {
	fr.mu.Lock()
	defer fr.mu.Unlock()
	if rs, ok := fr.released[k]; ok {
		return rs
	}
	var rs releasedSet
	rs.time, rs.event, rs.merged, rs.truncated = policyTimes(fr.time, fr.event, nil, k.binDays, k.minCell, k.strict)
	for _, ev := range rs.event {
		if ev {
			rs.events++
		}
	}
	fr.released[k] = rs
	return rs
}
