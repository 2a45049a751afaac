package node

import (
	"encoding/json"
	"sync"

	"github.com/oncofed/oncofed/analysis"
	"github.com/oncofed/oncofed/protocol"
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
	codes    map[string]valueCoding      // numeric variables' values numbered, on first use
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
	fr := &cohortFrame{key: key, numeric: map[string][]float64{}, released: map[releasedKey]releasedSet{},
		codes: map[string]valueCoding{}}
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

// valueCodes numbers numeric variable v's values over the frame's rows (analysis.ValueCodes),
// once per variable; nil when they are more than one row in maxDistinctShare (a continuous
// marker: its designs are not grouped).
func (fr *cohortFrame) valueCodes(ls *loadedStudy, to *timeOrdered, v *VariableData) ([]int32, int) {
	col := fr.numericColumn(ls, to, v)
	fr.mu.Lock()
	defer fr.mu.Unlock()
	if vc, ok := fr.codes[v.Name]; ok {
		return vc.codes, vc.card
	}
	codes, card := analysis.ValueCodes(col, max(1, len(col)/maxDistinctShare))
	fr.codes[v.Name] = valueCoding{codes, card}
	return codes, card
}

// maxDistinctShare is analysis's: designs with more distinct rows than one in this many
// subjects are not grouped, so their rows are not keyed either.
const maxDistinctShare = 8

// maxDesignKeys bounds the number of keys of a model's rows (the product of its covariates'
// numbers of values): the stratum keeps a table of that many entries.
const maxDesignKeys = 1 << 20

// valueCoding is a numeric variable's values over a frame's rows as numbers.
type valueCoding struct {
	codes []int32
	card  int
}

// designKeys numbers the design rows of a model over the frame's rows kept (keep) from its
// covariates' codes — a categorical covariate's code, a numeric one's value number
// (valueCodes) — for analysis.CoxStratum.SetRowKeys: equal keys mean equal design rows
// (interaction columns are products of the covariates' columns). It returns nil when a
// covariate has too many values to key.
func (fr *cohortFrame) designKeys(ls *loadedStudy, to *timeOrdered, cols []analysis.CovariateColumn, keep []bool, kept int) (keys []int32, nkeys int) {
	keys = make([]int32, kept)
	nkeys = 1
	for _, col := range cols {
		var codes []int32
		card := 0
		if col.Codes != nil {
			codes, card = col.Codes, len(col.Dictionary)
		} else {
			codes, card = fr.valueCodes(ls, to, ls.vars[col.Name])
		}
		if codes == nil || card == 0 || nkeys*card > maxDesignKeys {
			return nil, 0
		}
		k := 0
		for r, c := range codes {
			if keep[r] {
				keys[k] += c * int32(nkeys)
				k++
			}
		}
		nkeys *= card
	}
	return keys, nkeys
}

// designColumns returns the covariate columns of req over the frame's rows: a numeric
// variable's column is the frame's (read only), a categorical one's codes are gathered.
func (fr *cohortFrame) designColumns(ls *loadedStudy, to *timeOrdered, req *protocol.CoxRequest) []analysis.CovariateColumn {
	cols := make([]analysis.CovariateColumn, len(req.Covariates))
	for k, name := range req.Covariates {
		v := ls.vars[name]
		cols[k].Name = name
		if v.Type == protocol.Numeric {
			cols[k].Numeric = fr.numericColumn(ls, to, v)
			continue
		}
		// The design reads the codes (analysis.CovariateColumn.Codes): an indicator's
		// dictionary maps every level but l to its reference.
		cols[k].Codes, cols[k].Dictionary = make([]int32, len(fr.rows)), v.Categories
		if l, indicator := req.Indicators[name]; indicator {
			cols[k].Dictionary = make([]string, len(v.Categories))
			for c, cat := range v.Categories {
				cols[k].Dictionary[c] = cat
				if cat != l {
					cols[k].Dictionary[c] = indicatorReference(l)
				}
			}
		}
		for r, i := range fr.rows {
			cols[k].Codes[r] = v.Codes[i]
		}
	}
	return cols
}
