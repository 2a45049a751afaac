package node

import (
	"math"
	"slices"

	"github.com/oncofed/oncofed/protocol"
)

// Region algebra: whether a signed combination of definitions is empty by definition.
//
// The overlap guard refuses a combination of released sets (a remainder L − C − D …, a signed
// combination S ± R1 ± R2) that leaves 1..min_cell−1 patients. One that leaves none used to be
// answered, and that was an oracle: D_h = A ∧ age ≥ m ∧ (age ≠ a ∨ ecog = h) leaves nobody of
// A − (A ∧ age < m) − D_h exactly when the patient aged a has grade h, so the one variant
// answered named the grade (TestAttackGuardEmptyCombinationOracle: 21 of 21). Whether a
// combination is empty on the site's rows is private; whether it is empty by its definitions
// is not. So an empty combination is answered only when its definitions make it empty at every
// point of the study's public domain (vanishes), and refused like a small one otherwise: the
// refusal then says only "fewer than min_cell", never "none" from "one".
//
// The domain of a variable is public: a categorical variable's declared categories, a numeric
// one's declared range (the real line when none is declared). Whether a variable can be missing
// is taken from the load: it is missing for some patient of the site's study, a fact about the
// whole site fixed at import, which no query chooses; so is whether a numeric variable holds
// integers only (ECOG coded 0–4: "ecog ≤ 1" is then the cells 0 and 1 by definition). Declared
// categories are all taken as possible, whether the site holds them or not. The variables of
// a declared panel (protocol.Variable.Panel, checked at import) are missing together: a point
// where some are missing and others not holds nobody.
//
// What the analyst was told is public too: a region released with a count of exactly 0 (Table
// 1's missing count of a variable, a grouped reply's missing group) holds nobody for them, so
// its points are left out (the guard remembers such regions as sets of size 0, per analyst;
// a re-import drops them with the other empty sets). A's Table 1 saying no patient of A lacks
// g, then A ∧ g in (a, b) after the cell g = c, is answered; without that count it is refused,
// since the remainder could be a patient of A missing g (TestGuardKnownEmptyRegions).

// domainVar is what a variable's value may be.
type domainVar struct {
	numeric  bool
	cats     []string
	min, max *float64
	missing  bool // some patient of the load lacks it
	integer  bool // numeric, and every value the load holds is an integer
	panel    string
}

// domain is a load's public domain, built on first use.
type domain struct {
	vars map[string]*domainVar
}

// domainOf returns ls's domain.
func (ls *loadedStudy) domainOf() *domain {
	ls.domOnce.Do(func() {
		d := &domain{vars: map[string]*domainVar{}}
		for name, v := range ls.vars {
			dv := &domainVar{numeric: v.Type == protocol.Numeric, cats: v.Categories, min: v.Min, max: v.Max, integer: v.Type == protocol.Numeric, panel: v.Panel}
			for i := range ls.data.Len() {
				if v.Missing(i) {
					dv.missing = true
				} else if dv.integer && v.Numeric[i] != math.Trunc(v.Numeric[i]) {
					dv.integer = false
				}
			}
			d.vars[name] = dv
		}
		ls.dom = d
	})
	return ls.dom
}

// regionTerm is coef·1[f], f a canonical definition (nil: every patient).
type regionTerm struct {
	coef int
	f    *protocol.Filter
}

// maxDomainPoints bounds the points vanishes evaluates; past it a combination is not known to
// vanish (and the guard refuses it when its remainder is empty).
const maxDomainPoints = 1 << 16

// domainPoint is one value per variable named by the terms: a category index (−1 missing) or
// a number (NaN missing).
type domainPoint struct {
	names []string
	num   []float64
	cat   []int
	dom   *domain
}

// vanishes reports whether Σ coef·1[f(p)] = 0 at every point p of the domain: the points are
// the product over the variables the terms name of representative values — each declared
// category, each bound of the terms' ranges, a value between and beyond them within the
// declared range, and missing where possible — on which every condition is constant, so the
// check is exact. Unknown variables, or more than maxDomainPoints points: false.
//
// Points inside a region of known (known empty: released as exactly 0) hold no patient and
// are skipped; of those, only the ones naming no variable beyond the terms' are used.
func (d *domain) vanishes(terms []regionTerm, known ...*protocol.Filter) bool {
	if d == nil {
		return false
	}
	bounds := map[string][]float64{}
	var names []string
	var collect func(f *protocol.Filter) bool
	collect = func(f *protocol.Filter) bool {
		if f == nil {
			return true
		}
		switch f.Op {
		case protocol.OpAnd, protocol.OpOr, protocol.OpNot:
			for _, a := range f.Args {
				if !collect(a) {
					return false
				}
			}
			return true
		}
		if d.vars[f.Var] == nil {
			return false
		}
		if _, ok := bounds[f.Var]; !ok {
			bounds[f.Var] = nil
			names = append(names, f.Var)
		}
		if f.Op == protocol.OpRange {
			for _, b := range []*float64{f.Min, f.Max} {
				if b != nil {
					bounds[f.Var] = append(bounds[f.Var], *b)
				}
			}
		}
		return true
	}
	for _, t := range terms {
		if !collect(t.f) {
			return false
		}
	}
	var empty []*protocol.Filter
	for _, f := range known {
		if f != nil && namesWithin(f, bounds) && collect(f) {
			empty = append(empty, f)
		}
	}
	slices.Sort(names)
	reps := make([][]float64, len(names)) // numeric values, or category indices as floats
	total := 1
	for k, name := range names {
		reps[k] = d.vars[name].representatives(bounds[name])
		if total *= len(reps[k]); total > maxDomainPoints {
			return false
		}
	}
	p := domainPoint{names: names, num: make([]float64, len(names)), cat: make([]int, len(names)), dom: d}
	idx := make([]int, len(names))
	for {
		for k, name := range names {
			x := reps[k][idx[k]]
			if d.vars[name].numeric {
				p.num[k] = x
			} else {
				p.cat[k] = int(x)
			}
		}
		sum := 0
		for _, t := range terms {
			if p.holds(t.f) {
				sum += t.coef
			}
		}
		if sum != 0 && p.panelsAgree() && !slices.ContainsFunc(empty, p.holds) {
			return false
		}
		if !advance(idx, func(k int) int { return len(reps[k]) }) {
			return true
		}
	}
}

// namesWithin reports whether every variable f names is a key of vars.
func namesWithin(f *protocol.Filter, vars map[string][]float64) bool {
	switch f.Op {
	case protocol.OpAnd, protocol.OpOr, protocol.OpNot:
		for _, a := range f.Args {
			if !namesWithin(a, vars) {
				return false
			}
		}
		return true
	}
	_, ok := vars[f.Var]
	return ok
}

// representatives are values of v on which every condition with the given range bounds is
// constant between consecutive ones: categorical, each category's index (−1 missing); numeric,
// each bound, midpoints, one value beyond each end, within the declared range, and NaN.
func (v *domainVar) representatives(bounds []float64) []float64 {
	var out []float64
	if !v.numeric {
		for k := range v.cats {
			out = append(out, float64(k))
		}
		if v.missing {
			out = append(out, -1)
		}
		return out
	}
	slices.Sort(bounds)
	bounds = slices.Compact(bounds)
	in := func(x float64) bool {
		return (v.min == nil || x >= *v.min) && (v.max == nil || x <= *v.max)
	}
	add := func(x float64) {
		if in(x) {
			out = append(out, x)
		}
	}
	if v.integer {
		return v.integerRepresentatives(bounds, in)
	}
	if len(bounds) == 0 {
		switch {
		case v.min != nil:
			add(*v.min)
		case v.max != nil:
			add(*v.max)
		default:
			add(0)
		}
	}
	for i, b := range bounds {
		if i == 0 {
			add(b - 1)
		} else {
			add((bounds[i-1] + b) / 2)
		}
		add(b)
	}
	if len(bounds) > 0 {
		add(bounds[len(bounds)-1] + 1)
	}
	// The declared ends, between or beyond the bounds, so that a range closed at a bound
	// outside the declared range is still seen from inside it.
	for _, e := range []*float64{v.min, v.max} {
		if e != nil {
			out = append(out, *e)
		}
	}
	if v.missing {
		out = append(out, math.NaN())
	}
	return out
}

// integerRepresentatives are, for a variable holding integers only, the largest integer below,
// and the smallest above, each bound, each integer bound, and the declared ends (within the
// declared range), and NaN when it may be missing: between two consecutive bounds every
// integer is alike, so one of those stands for them all.
func (v *domainVar) integerRepresentatives(bounds []float64, in func(float64) bool) []float64 {
	var out []float64
	add := func(x float64) {
		if in(x) && !slices.Contains(out, x) {
			out = append(out, x)
		}
	}
	for _, b := range bounds {
		add(math.Ceil(b) - 1)
		add(math.Floor(b))
		add(math.Ceil(b))
		add(math.Floor(b) + 1)
	}
	for _, e := range []*float64{v.min, v.max} {
		if e != nil {
			add(math.Ceil(*e))
			add(math.Floor(*e))
		}
	}
	if len(out) == 0 {
		add(0)
		if len(out) == 0 && v.min != nil {
			out = append(out, *v.min) // a declared range without an integer: its end stands for it
		}
	}
	if v.missing {
		out = append(out, math.NaN())
	}
	return out
}

// holds evaluates f at p (nil f: every point).
func (p *domainPoint) holds(f *protocol.Filter) bool {
	if f == nil {
		return true
	}
	switch f.Op {
	case protocol.OpAnd:
		for _, a := range f.Args {
			if !p.holds(a) {
				return false
			}
		}
		return true
	case protocol.OpOr:
		for _, a := range f.Args {
			if p.holds(a) {
				return true
			}
		}
		return false
	case protocol.OpNot:
		return !p.holds(f.Args[0])
	}
	k, _ := slices.BinarySearch(p.names, f.Var)
	dv := p.dom.vars[f.Var]
	missing := p.missing(k)
	switch f.Op {
	case protocol.OpMissing:
		return missing
	case protocol.OpPresent:
		return !missing
	}
	if missing {
		return false
	}
	switch f.Op {
	case protocol.OpEq:
		return dv.cats[p.cat[k]] == f.Value
	case protocol.OpIn:
		return slices.Contains(f.Values, dv.cats[p.cat[k]])
	case protocol.OpRange:
		x := p.num[k]
		if f.Min != nil && (x < *f.Min || f.MinOpen && x == *f.Min) {
			return false
		}
		if f.Max != nil && (x > *f.Max || f.MaxOpen && x == *f.Max) {
			return false
		}
		return true
	}
	return false
}

// defChoices is the number of choices of definitions anyCombinationVanishes tries at most
// (a set released through several definitions has several).
const defChoices = 64

// anyCombinationVanishes reports whether, for some choice of one known definition of each set,
// Σ coefs[i]·1[def of sets[i]] vanishes on the domain. A set without a known definition (a row
// from before migration 011) has none, so the answer is false.
// Regions of known are known to hold no patient (vanishes).
func (d *domain) anyCombinationVanishes(sets []*gset, coefs []int, defsOf func(*gset) []*protocol.Filter, known []*protocol.Filter) bool {
	defs := make([][]*protocol.Filter, len(sets))
	choices := 1
	for i, g := range sets {
		if defs[i] = defsOf(g); len(defs[i]) == 0 {
			return false
		}
		if choices *= len(defs[i]); choices > defChoices {
			return false
		}
	}
	idx := make([]int, len(sets))
	terms := make([]regionTerm, len(sets))
	for {
		for i := range sets {
			terms[i] = regionTerm{coefs[i], defs[i][idx[i]]}
		}
		if d.vanishes(terms, known...) {
			return true
		}
		if !advance(idx, func(k int) int { return len(defs[k]) }) {
			return false
		}
	}
}

// advance steps the multi-index idx (digit k counting to size(k)) to the next combination, and
// reports false once every combination was visited.
func advance(idx []int, size func(k int) int) bool {
	for k := range idx {
		if idx[k]++; idx[k] < size(k) {
			return true
		}
		idx[k] = 0
	}
	return false
}

// panelsAgree reports whether the point's variables of each declared panel are all missing or
// all present, as every patient's are (checkPanels).
func (p *domainPoint) panelsAgree() bool {
	var seen map[string]bool // panel → missing
	for k, name := range p.names {
		dv := p.dom.vars[name]
		if dv.panel == "" {
			continue
		}
		missing := p.missing(k)
		if seen == nil {
			seen = map[string]bool{}
		}
		if m, ok := seen[dv.panel]; ok && m != missing {
			return false
		}
		seen[dv.panel] = missing
	}
	return true
}

// missing reports whether the point's k-th variable is missing.
func (p *domainPoint) missing(k int) bool {
	if p.dom.vars[p.names[k]].numeric {
		return math.IsNaN(p.num[k])
	}
	return p.cat[k] < 0
}
