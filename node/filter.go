package node

import (
	"fmt"
	"math"
	"slices"
	"sort"
	"strconv"
	"sync"

	"github.com/oncofed/oncofed/analysis"
	"github.com/oncofed/oncofed/protocol"
)

// loadedStudy is a study's columns in memory with the lookups queries need. It is immutable
// once built; a new import produces a new one.
type loadedStudy struct {
	data     *StudyData
	info     StudyInfo
	vars     map[string]*VariableData
	catIndex map[string]map[string]int32
	eps      map[string]*EndpointData

	orderMu sync.Mutex
	order   map[string][]int32      // per endpoint: rows sorted by time (stable), built on first use
	sorted  map[string]*timeOrdered // per endpoint: its columns in that order (screenorder.go)
	index   map[timeKey]*timeIndex
	groups  map[string]*VariableData // integer-coded numeric variables viewed as categories

	domOnce sync.Once
	dom     *domain // the public domain (definition.go), built on first use
}

// maxNumericGroups bounds the distinct values of a numeric variable used as group_by.
const maxNumericGroups = 12

// integerGroups returns a categorical view of an integer-coded numeric variable (ECOG 0–4)
// whose declared range holds at most maxNumericGroups integers: one category per integer of
// the range, named by the value and ordered numerically, whatever values the site holds (a
// row with a non-integer value has no group, like a missing one). It returns nil when the
// range is not declared or too wide: the groups come from the study's dictionary, never from
// the site's rows, so which values a site holds is not told by the groups it answers with.
func (ls *loadedStudy) integerGroups(v *VariableData) *VariableData {
	ls.orderMu.Lock()
	defer ls.orderMu.Unlock()
	if g, ok := ls.groups[v.Name]; ok {
		return g
	}
	if ls.groups == nil {
		ls.groups = map[string]*VariableData{}
	}
	if v.Min == nil || v.Max == nil || *v.Max-*v.Min >= maxNumericGroups || math.Ceil(*v.Min) > math.Floor(*v.Max) {
		ls.groups[v.Name] = nil
		return nil
	}
	lo, hi := math.Ceil(*v.Min), math.Floor(*v.Max)
	g := &VariableData{Variable: protocol.Variable{Name: v.Name, Type: protocol.Categorical, Label: v.Label, Unit: v.Unit}, Codes: make([]int32, len(v.Numeric))}
	for x := lo; x <= hi; x++ {
		g.Categories = append(g.Categories, strconv.FormatFloat(x, 'f', -1, 64))
	}
	for i, x := range v.Numeric {
		if x != x || x != math.Trunc(x) {
			g.Codes[i] = -1
		} else {
			g.Codes[i] = int32(x - lo)
		}
	}
	ls.groups[v.Name] = g
	return g
}

// mergeLevels is the grouping v with levels merged as the query asks (protocol.MergedGroups):
// one category per group, in the declared order, each with its levels in Members.
func mergeLevels(v *VariableData, merge []protocol.LevelGroup) (*VariableData, error) {
	names, members, err := protocol.MergedGroups(v.Categories, merge)
	if err != nil {
		return nil, err
	}
	to := make([]int32, len(v.Categories))
	for k, ms := range members {
		for _, m := range ms {
			to[slices.Index(v.Categories, m)] = int32(k)
		}
	}
	g := &VariableData{Variable: v.Variable, Codes: make([]int32, len(v.Codes)), Members: members}
	g.Categories = names
	for i, c := range v.Codes {
		g.Codes[i] = c
		if c >= 0 {
			g.Codes[i] = to[c]
		}
	}
	return g, nil
}

type timeKey struct {
	endpoint string
	binDays  float64
}

// timeIndex gives every patient the rank of its (coarsened) time among the endpoint's
// distinct (coarsened) times, so that a survival table is a counting pass in row order.
type timeIndex struct {
	times []float64 // distinct coarsened times, increasing
	rank  []int32   // per row: index into times
}

// timeIndex returns the rank index of endpoint ep under bins of binDays, built once per load.
func (ls *loadedStudy) timeIndex(ep *EndpointData, binDays float64) *timeIndex {
	order := ls.timeOrder(ep)
	ls.orderMu.Lock()
	defer ls.orderMu.Unlock()
	k := timeKey{ep.Name, binDays}
	if ti, ok := ls.index[k]; ok {
		return ti
	}
	ti := &timeIndex{rank: make([]int32, len(ep.Time))}
	for _, r := range order {
		t := analysis.CoarsenTime(ep.Time[r], binDays)
		if n := len(ti.times); n == 0 || ti.times[n-1] != t {
			ti.times = append(ti.times, t)
		}
		ti.rank[r] = int32(len(ti.times) - 1)
	}
	if ls.index == nil {
		ls.index = map[timeKey]*timeIndex{}
	}
	ls.index[k] = ti
	return ti
}

func newLoadedStudy(st *StudyData, info StudyInfo) *loadedStudy {
	ls := &loadedStudy{data: st, info: info, vars: map[string]*VariableData{}, catIndex: map[string]map[string]int32{},
		eps: map[string]*EndpointData{}, order: map[string][]int32{}}
	for i := range st.Variables {
		v := &st.Variables[i]
		ls.vars[v.Name] = v
		if v.Type == protocol.Categorical {
			idx := make(map[string]int32, len(v.Categories))
			for c, s := range v.Categories {
				idx[s] = int32(c)
			}
			ls.catIndex[v.Name] = idx
		}
	}
	for i := range st.Endpoints {
		ls.eps[st.Endpoints[i].Name] = &st.Endpoints[i]
	}
	return ls
}

// timeOrder returns the rows of endpoint ep sorted by time: computed once per load so that a
// survival query is a single pass with no sorting.
func (ls *loadedStudy) timeOrder(ep *EndpointData) []int32 {
	ls.orderMu.Lock()
	defer ls.orderMu.Unlock()
	if o, ok := ls.order[ep.Name]; ok {
		return o
	}
	o := make([]int32, len(ep.Time))
	for i := range o {
		o[i] = int32(i)
	}
	t := ep.Time
	sort.SliceStable(o, func(a, b int) bool { return t[o[a]] < t[o[b]] })
	ls.order[ep.Name] = o
	return o
}

// checkFilterNames resolves every variable and category the filter names against the study
// dictionary, so that an unknown name is refused before any patient value is read.
func (ls *loadedStudy) checkFilterNames(f *protocol.Filter, path string) error {
	switch f.Op {
	case protocol.OpAnd, protocol.OpOr, protocol.OpNot:
		for i, a := range f.Args {
			if err := ls.checkFilterNames(a, fmt.Sprintf("%s.args[%d]", path, i)); err != nil {
				return err
			}
		}
		return nil
	}
	v, ok := ls.vars[f.Var]
	if !ok {
		return errorf(protocol.CodeNotFound, "%s: no variable %q in study %q", path, clip(f.Var), ls.data.Name)
	}
	switch f.Op {
	case protocol.OpEq, protocol.OpIn:
		if v.Type != protocol.Categorical {
			return errorf(protocol.CodeInvalid, "%s: %q is numeric: use range", path, f.Var)
		}
		vals := f.Values
		if f.Op == protocol.OpEq {
			vals = []string{f.Value}
		}
		for _, s := range vals {
			if _, ok := ls.catIndex[f.Var][s]; !ok {
				return errorf(protocol.CodeNotFound, "%s: %q has no category %q", path, f.Var, clip(s))
			}
		}
	case protocol.OpRange:
		if v.Type != protocol.Numeric {
			return errorf(protocol.CodeInvalid, "%s: %q is categorical: use eq or in", path, f.Var)
		}
	}
	return nil
}

// evalFilter returns the rows matching f (f already checked). nil selects every patient.
func (ls *loadedStudy) evalFilter(f *protocol.Filter) bitset {
	n := ls.data.Len()
	if f == nil {
		b := newBitset(n)
		b.fill(n)
		return b
	}
	switch f.Op {
	case protocol.OpAnd:
		b := ls.evalFilter(f.Args[0])
		for _, a := range f.Args[1:] {
			b.and(ls.evalFilter(a))
		}
		return b
	case protocol.OpOr:
		b := ls.evalFilter(f.Args[0])
		for _, a := range f.Args[1:] {
			b.or(ls.evalFilter(a))
		}
		return b
	case protocol.OpNot:
		b := newBitset(n)
		b.fill(n)
		b.andNot(ls.evalFilter(f.Args[0]))
		return b
	}
	v := ls.vars[f.Var]
	switch f.Op {
	case protocol.OpEq:
		return codesMatch(v.Codes, []int32{ls.catIndex[f.Var][f.Value]})
	case protocol.OpIn:
		want := make([]int32, 0, len(f.Values))
		for _, s := range f.Values {
			want = append(want, ls.catIndex[f.Var][s])
		}
		return codesMatch(v.Codes, want)
	case protocol.OpRange:
		return rangeMatch(v.Numeric, f)
	case protocol.OpMissing, protocol.OpPresent:
		want := f.Op == protocol.OpMissing
		b := newBitset(n)
		if v.Type == protocol.Numeric {
			x := v.Numeric
			fillWords(b, n, func(i int) bool { return (x[i] != x[i]) == want })
		} else {
			c := v.Codes
			fillWords(b, n, func(i int) bool { return (c[i] < 0) == want })
		}
		return b
	}
	panic("node: unchecked filter operator " + string(f.Op))
}

// codesMatch selects rows whose category code is one of want.
func codesMatch(codes []int32, want []int32) bitset {
	n := len(codes)
	b := newBitset(n)
	if len(want) == 1 {
		c := want[0]
		for w := range b {
			base := w << 6
			end := min(base+64, n)
			var word uint64
			for i, x := range codes[base:end] {
				if x == c {
					word |= 1 << uint(i)
				}
			}
			b[w] = word
		}
		return b
	}
	maxCode := int32(0)
	for _, c := range want {
		maxCode = max(maxCode, c)
	}
	hit := make([]bool, maxCode+2) // index code+1, so missing (-1) is index 0 and never hit
	for _, c := range want {
		hit[c+1] = true
	}
	for w := range b {
		base := w << 6
		end := min(base+64, n)
		var word uint64
		for i, x := range codes[base:end] {
			if int(x+1) < len(hit) && hit[x+1] {
				word |= 1 << uint(i)
			}
		}
		b[w] = word
	}
	return b
}

// rangeMatch selects rows whose value lies within f's bounds; NaN (missing) fails every
// comparison and so never matches.
func rangeMatch(x []float64, f *protocol.Filter) bitset {
	n := len(x)
	b := newBitset(n)
	lo, hi := -1.7976931348623157e308, 1.7976931348623157e308
	if f.Min != nil {
		lo = *f.Min
	}
	if f.Max != nil {
		hi = *f.Max
	}
	loOpen, hiOpen := f.MinOpen, f.MaxOpen
	for w := range b {
		base := w << 6
		end := min(base+64, n)
		var word uint64
		for i, v := range x[base:end] {
			okLo := v >= lo
			if loOpen {
				okLo = v > lo
			}
			okHi := v <= hi
			if hiOpen {
				okHi = v < hi
			}
			if okLo && okHi {
				word |= 1 << uint(i)
			}
		}
		b[w] = word
	}
	return b
}

func fillWords(b bitset, n int, pred func(i int) bool) {
	for w := range b {
		base := w << 6
		end := min(base+64, n)
		var word uint64
		for i := base; i < end; i++ {
			if pred(i) {
				word |= 1 << uint(i-base)
			}
		}
		b[w] = word
	}
}
