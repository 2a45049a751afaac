package analysis

import "math"

// The client's walks over the pooled distinct times of the sites' phase-1 rows (TimeSums):
// the two-phase round (PooledCoxSums), the pooled proportional-hazards test (NewPooledZPH) and
// the pooled baseline (PooledCoxBaseline) all pool the same rows the same way. Rows with equal
// Time across sites are one distinct time. The rows must have been checked (checkTimeSums).

// siteRow names one site's row at a pooled distinct time: row k of site s, and e, the row's
// index among the site's rows with events (−1 for a row without events): where its phase-2
// B weight goes.
type siteRow struct{ s, k, e int }

// pooledAtTime is one pooled distinct time of a backward walk (walkPooledBackward).
type pooledAtTime struct {
	T      float64
	S0     float64   // Σ R0 over every site's rows at times ≥ T: the pooled risk set's
	S1     []float64 // Σ R1 likewise (p values)
	D      int       // the pooled events at T
	E0     float64   // Σ E0 of the rows at T
	E1     []float64 // Σ E1 of the rows at T (zero when D = 0)
	Rows   []siteRow // the sites' rows at T
	events []int     // per site, the event index of its next row with events, walking back
}

// walkPooledBackward calls visit at each pooled distinct time of the sites' rows, latest
// first, with the running risk-set sums. The *pooledAtTime is reused between calls; an error
// from visit ends the walk and is returned.
func walkPooledBackward(sites [][]RiskSetRow, p int, visit func(*pooledAtTime) error) error {
	next := make([]int, len(sites)) // next row to add per site, walking backwards
	at := &pooledAtTime{S1: make([]float64, p), E1: make([]float64, p), events: make([]int, len(sites))}
	for s, rows := range sites {
		next[s] = len(rows) - 1
		at.events[s] = eventRows(rows) - 1
	}
	for {
		t, found := latestTime(sites, next)
		if !found {
			return nil
		}
		at.T, at.D, at.E0 = t, 0, 0
		clear(at.E1)
		at.Rows = at.Rows[:0]
		for s, k := range next {
			if k < 0 || sites[s][k].Time != t {
				continue
			}
			r := &sites[s][k]
			sr := siteRow{s: s, k: k, e: -1}
			at.S0 += r.R0
			for j, v := range r.R1 {
				at.S1[j] += v
			}
			if r.D > 0 {
				at.D += r.D
				at.E0 += r.E0
				for j, v := range r.E1 {
					at.E1[j] += v
				}
				sr.e = at.events[s]
				at.events[s]--
			}
			at.Rows = append(at.Rows, sr)
			next[s]--
		}
		if err := visit(at); err != nil {
			return err
		}
	}
}

// walkPooledForward calls visit at each pooled distinct time of the sites' rows, earliest
// first, with the sites' rows at that time (the slice is reused between calls; e is not set).
func walkPooledForward(sites [][]RiskSetRow, visit func(rows []siteRow)) {
	pos := make([]int, len(sites))
	var at []siteRow
	for {
		t, found := math.Inf(1), false
		for s, k := range pos {
			if k < len(sites[s]) && (!found || sites[s][k].Time < t) {
				t, found = sites[s][k].Time, true
			}
		}
		if !found {
			return
		}
		at = at[:0]
		for s, k := range pos {
			if k < len(sites[s]) && sites[s][k].Time == t {
				at = append(at, siteRow{s: s, k: k, e: -1})
				pos[s]++
			}
		}
		visit(at)
	}
}

// eventRows counts the rows with events: the length of a site's phase-2 B weights.
func eventRows(rows []RiskSetRow) int {
	n := 0
	for _, r := range rows {
		if r.D > 0 {
			n++
		}
	}
	return n
}

// latestTime returns the largest Time of the rows next[s] of each site (−1: the site has none
// left), walking the sites' rows backwards in time.
func latestTime(sites [][]RiskSetRow, next []int) (t float64, found bool) {
	t = math.Inf(-1)
	for s, k := range next {
		if k >= 0 && (!found || sites[s][k].Time > t) {
			t, found = sites[s][k].Time, true
		}
	}
	return t, found
}
