package analysis

import (
	"encoding/binary"
	"math"
	"slices"
	"sync"
)

// The two phases of a pooled Cox round (cox_twophase.go) ask a site for two sums at the same
// β, and each needs every subject's weight w_i = exp(x_i'β): at 1M patients the exponentials
// were most of a site's work in the round. coxWeights computes them once per β and keeps them
// for the phase that follows; and, where the design has few distinct rows (categorical
// covariates and ages in whole years: a few hundred rows among a million subjects), it
// computes one exponential per distinct row instead of one per subject. Both give the same
// bits as exp(dot(β, x_i)) per subject: the same operations on the same numbers.

// coxWeights is a stratum's cache of its subjects' weights at the β asked last.
type coxWeights struct {
	mu   sync.Mutex
	beta []float64 // β of w; nil before the first call
	w    []float64 // per subject (nil when grouped); never written after it is published
	wu   []float64 // the weight of each distinct row (uniq) at beta, when grouped

	// rowOf[k] is subject k's (time order) index among the distinct design rows uniq (n×p
	// row-major, first occurrence order); nil when the rows are mostly distinct. grouped
	// says whether that was decided.
	grouped bool
	rowOf   []int32
	uniq    []float64
	// keys, when set (SetRowKeys), number the subjects' design rows as the caller knows
	// them: the grouping is then checked against them rather than found (keyedRows).
	keys  []int32
	nkeys int
	// evRow lists the rows of the event subjects in time order, evStart where each distinct
	// time's events begin in it (len(s.groups) entries): the grouped walks add the events'
	// terms without a branch per subject. Set with rowOf.
	evRow, evStart []int32
}

// maxDistinctShare: rows are grouped only when at most one subject in this many has a row
// of its own; else the grouping costs more than the exponentials it saves. (A variable so
// that the tests can group every design: 1 groups always.)
var maxDistinctShare = 8

// rowGroups is the grouping of a stratum's subjects by their distinct design rows, with the
// weight of each row at one β.
type rowGroups struct {
	rowOf          []int32   // subject (time order) → distinct row
	uniq           []float64 // the distinct rows, n×p row-major
	w              []float64 // exp(row'β) of each distinct row (nil from grouping)
	evRow, evStart []int32   // as coxWeights's
}

// groupedWeights returns the subjects' weights w_i = exp(x_i'β) in time order, or, when the
// stratum is grouped by its distinct design rows, nil and the grouping with each row's
// weight (nil when the rows are mostly distinct). Neither may be modified. Safe for
// concurrent use.
func (s *CoxStratum) groupedWeights(beta []float64) ([]float64, *rowGroups) {
	c := &s.wcache
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.beta != nil && EqualBits(c.beta, beta) {
		return c.w, c.groups()
	}
	s.decideGrouping()
	p, n := s.p, len(s.time)
	var w []float64 // grouped: the walks read the rows' weights (cox_rowterms.go)
	if c.rowOf != nil {
		u := make([]float64, len(c.uniq)/max(p, 1))
		for r := range u {
			u[r] = math.Exp(dot(beta, c.uniq[r*p:(r+1)*p]))
		}
		c.wu = u
	} else {
		w = make([]float64, n)
		for k := 0; k < n; k++ {
			w[k] = math.Exp(dot(beta, s.x[k*p:(k+1)*p]))
		}
	}
	c.beta, c.w = slices.Clone(beta), w
	return w, c.groups()
}

// decideGrouping indexes the stratum's subjects by their distinct design rows on first use
// (under wcache.mu).
func (s *CoxStratum) decideGrouping() {
	c := &s.wcache
	if c.grouped {
		return
	}
	limit := max(1, len(s.time)/maxDistinctShare)
	ok := false
	if c.keys != nil {
		c.rowOf, c.uniq, ok = keyedRows(s.x, s.p, c.keys, c.nkeys, limit)
		c.keys = nil
	}
	if !ok {
		c.rowOf, c.uniq = distinctRows(s.x, s.p, limit)
	}
	c.grouped = true
	s.indexEvents()
}

// indexEvents lists the rows of the event subjects (evRow, evStart) once the stratum is
// grouped (under wcache.mu).
func (s *CoxStratum) indexEvents() {
	c := &s.wcache
	if c.rowOf == nil {
		return
	}
	// Every subject's row is written at the end of the list, which grows by one for an event:
	// no branch a subject (event flags do not come in runs).
	ev, n := make([]int32, s.events+1), int32(0)
	c.evStart = make([]int32, len(s.groups))
	for g := 0; g+1 < len(s.groups); g++ {
		c.evStart[g] = n
		lo, hi := s.groups[g], s.groups[g+1]
		for k, r := range c.rowOf[lo:hi] {
			ev[n] = r
			if s.event[int(lo)+k] {
				n++
			}
		}
	}
	c.evStart[len(s.groups)-1] = n
	c.evRow = ev[:n]
}

// SetRowKeys tells the stratum, before its first evaluation, which of its subjects share a
// design row: keys[k] in [0, nkeys) for the k-th subject in time order (the order of data
// given in time order), equal keys for equal rows (a node numbers a model's rows by its
// covariates' codes: the marker's level and the age's value). It is a hint: the stratum
// checks it and groups exactly as without it (distinctRows), only faster. Safe for
// concurrent use; ignored once the stratum was evaluated.
func (s *CoxStratum) SetRowKeys(keys []int32, nkeys int) {
	s.wcache.mu.Lock()
	defer s.wcache.mu.Unlock()
	if !s.wcache.grouped && len(keys) == len(s.time) {
		s.wcache.keys, s.wcache.nkeys = keys, nkeys
	}
}

// keyedRows is distinctRows(x, p, limit) for subjects whose rows the caller numbered (keys in
// [0, nkeys), equal keys meaning equal rows): each subject's row is compared, bit for bit, with
// the first row of its key instead of being numbered column by column, and the keys' rows are
// merged where they are equal all the same. It returns ok = false (the caller numbers the rows
// itself) when a key is out of range, when two subjects of one key differ, or when there are
// more keys than limit.
func keyedRows(x []float64, p int, keys []int32, nkeys, limit int) (rowOf []int32, uniq []float64, ok bool) {
	if p == 0 || nkeys <= 0 {
		return nil, nil, false
	}
	first := make([]int32, nkeys) // the key's row among the keys' rows, +1 (0: not seen yet)
	keyRow := make([]int32, len(keys))
	var kuniq []float64
	m := int32(0)
	for k, key := range keys {
		if key < 0 || int(key) >= nkeys {
			return nil, nil, false
		}
		row := x[k*p : (k+1)*p]
		r := first[key] - 1
		if r < 0 {
			if int(m) >= limit {
				return nil, nil, false
			}
			r, first[key] = m, m+1
			m++
			kuniq = append(kuniq, row...)
		} else {
			ref := kuniq[int(r)*p : int(r+1)*p]
			ref = ref[:len(row)]
			for j, v := range row { // EqualBits, inlined: this runs once per subject
				if math.Float64bits(v) != math.Float64bits(ref[j]) {
					return nil, nil, false
				}
			}
		}
		keyRow[k] = r
	}
	rowOf, uniq = mergeKeyRows(keyRow, kuniq, p)
	return rowOf, uniq, true
}

// mergeKeyRows merges the equal rows of kuniq (m×p, one row per key in order of first
// occurrence) and renumbers keyRow (each subject's key row) in place: keys number rows no
// coarser than their values, and rows of different keys may still be equal (two codes of one
// level, or centred values that round together). The result is distinctRows's over the
// subjects' rows: their distinct rows in order of first occurrence.
func mergeKeyRows(keyRow []int32, kuniq []float64, p int) ([]int32, []float64) {
	merged, uniq := distinctRows(kuniq, p, len(kuniq)/p)
	if len(uniq) == len(kuniq) {
		return keyRow, kuniq
	}
	for k, r := range keyRow {
		keyRow[k] = merged[r]
	}
	return keyRow, uniq
}

// ValueCodes numbers the distinct values of a column (bit for bit, in order of first
// occurrence, as ColumnValues does), or returns nil once there are more than limit: codes[k]
// is values[k]'s number, card how many there are.
func ValueCodes(values []float64, limit int) (codes []int32, card int) {
	codes = make([]int32, len(values))
	card, ok := numberColumn(values, 1, 0, limit, codes, 1)
	if !ok {
		return nil, 0
	}
	return codes, card
}

// grouping returns the stratum's grouping by distinct design rows without weights (nil when
// the rows are mostly distinct). Safe for concurrent use.
func (s *CoxStratum) grouping() *rowGroups {
	s.wcache.mu.Lock()
	defer s.wcache.mu.Unlock()
	s.decideGrouping()
	g := s.wcache.groups()
	if g != nil {
		g.w = nil
	}
	return g
}

// rowGrouping returns rowOf and uniq of the stratum's grouping by distinct design rows (nil,
// nil when the rows are mostly distinct). Neither may be modified. Safe for concurrent use.
func (s *CoxStratum) rowGrouping() (rowOf []int32, uniq []float64) {
	s.wcache.mu.Lock()
	defer s.wcache.mu.Unlock()
	s.decideGrouping()
	return s.wcache.rowOf, s.wcache.uniq
}

func (c *coxWeights) groups() *rowGroups {
	if c.rowOf == nil {
		return nil
	}
	return &rowGroups{rowOf: c.rowOf, uniq: c.uniq, w: c.wu, evRow: c.evRow, evStart: c.evStart}
}

// EqualBits reports whether a and b hold the same numbers bit for bit (a NaN equals itself,
// −0 differs from +0).
func EqualBits(a, b []float64) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if math.Float64bits(a[i]) != math.Float64bits(b[i]) {
			return false
		}
	}
	return true
}

// distinctRows indexes the rows of the n×p matrix x by their distinct values (compared bit
// for bit), in order of first occurrence, or returns nil, nil once more than limit distinct
// rows are found. Each column's values are numbered first (a design's columns hold few: an
// indicator two, ages in years a hundred) and a row's numbers combined into one mixed-radix
// index; where that index could exceed 4n the rows are looked up whole (distinctRowsHashed).
func distinctRows(x []float64, p, limit int) ([]int32, []float64) {
	if p == 0 {
		return nil, nil
	}
	n := len(x) / p
	combined := make([]int32, n)
	radix := 1
	for j := 0; j < p; j++ {
		card, ok := numberColumn(x, p, j, limit, combined, radix)
		if !ok {
			return nil, nil // more distinct values in one column than rows allowed
		}
		if radix*card > max(4*n, 1<<12) {
			return distinctRowsHashed(x, p, limit)
		}
		radix *= card
	}
	id := make([]int32, radix)
	for i := range id {
		id[i] = -1
	}
	rowOf := combined // overwritten in place: combined[k] is read before rowOf[k] is written
	var uniq []float64
	nrows := int32(0)
	for k, c := range combined {
		r := id[c]
		if r < 0 {
			if int(nrows) >= limit {
				return nil, nil
			}
			r, id[c] = nrows, nrows
			nrows++
			uniq = append(uniq, x[k*p:(k+1)*p]...)
		}
		rowOf[k] = r
	}
	return rowOf, uniq
}

// numberColumn numbers the distinct values (bit for bit) of column j of the n×p matrix x, in
// order of first occurrence, and adds each row's number times radix to combined. It returns
// the number of distinct values, or false once there are more than limit.
func numberColumn(x []float64, p, j, limit int, combined []int32, radix int) (int, bool) {
	var seen []uint64 // the first few other values, searched in order, and their codes
	var seenCode []int32
	var index map[uint64]int32
	var small []int32 // the code of each whole number 0 ≤ v < len(small) seen, else −1
	nsmall := 0
	last, lastCode := uint64(0), int32(-1)
	for k := range combined {
		v := x[k*p+j]
		b := math.Float64bits(v)
		code := lastCode
		if b != last || code < 0 {
			code = -1
			iv := int(v)
			isSmall := v >= -smallNegative && v < smallValues && math.Float64bits(float64(iv)) == b
			iv += smallNegative
			if isSmall && small != nil {
				code = small[iv]
			}
			for c := 0; c < len(seen) && !isSmall; c++ {
				if seen[c] == b {
					code = seenCode[c]
					break
				}
			}
			if code < 0 && index != nil && !isSmall {
				if c, ok := index[b]; ok {
					code = c
				}
			}
			if code < 0 {
				code = int32(len(seen) + len(index) + nsmall)
				if int(code) >= limit {
					return 0, false
				}
				switch {
				case isSmall:
					if small == nil {
						small = make([]int32, smallNegative+smallValues)
						for i := range small {
							small[i] = -1
						}
					}
					small[iv] = code
					nsmall++
				case len(seen) < 8:
					seen, seenCode = append(seen, b), append(seenCode, code)
				default:
					if index == nil {
						index = map[uint64]int32{}
					}
					index[b] = code
				}
			}
			last, lastCode = b, code
		}
		combined[k] += code * int32(radix)
	}
	return len(seen) + len(index) + nsmall, true
}

// numberColumn looks whole numbers from −smallNegative to below smallValues up in a table
// (ages, counts, codes; ages centred on an origin, as the pooled form's designs hold them).
const (
	smallValues   = 1024
	smallNegative = 512
)

// ColumnValues numbers the distinct values of column j of the n×p row-major matrix x, compared
// bit for bit (−0 apart from +0), in order of first occurrence: row k holds values[codes[k]].
// No hashing of a value seen among the first few or at the row before (a design column's
// values: an indicator's two, ages in years).
func ColumnValues(x []float64, p, j int) (codes []int32, values []float64) {
	n := len(x) / max(p, 1)
	codes = make([]int32, n)
	card, _ := numberColumn(x, p, j, n+1, codes, 1)
	values = make([]float64, card)
	for k, c := range codes {
		values[c] = x[k*p+j]
	}
	return codes, values
}

// distinctRowsHashed is distinctRows by a lookup of each whole row.
func distinctRowsHashed(x []float64, p, limit int) ([]int32, []float64) {
	n := len(x) / p
	index := make(map[string]int32)
	rowOf := make([]int32, n)
	var uniq []float64
	key := make([]byte, 8*p)
	for k := 0; k < n; k++ {
		row := x[k*p : (k+1)*p]
		for j, v := range row {
			binary.LittleEndian.PutUint64(key[8*j:], math.Float64bits(v))
		}
		r, ok := index[string(key)] // no allocation for a lookup
		if !ok {
			if len(index) >= limit {
				return nil, nil
			}
			r = int32(len(index))
			index[string(key)] = r
			uniq = append(uniq, row...)
		}
		rowOf[k] = r
	}
	return rowOf, uniq
}
