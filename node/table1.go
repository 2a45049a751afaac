package node

import (
	"fmt"
	"sort"

	"github.com/oncofed/oncofed/protocol"
)

// Table 1 (a summary query) is released as partitions of each group's patients: a categorical
// variable's categories and missing, a numeric one's present and missing and, within present,
// its histogram cells. Each partition's cells are suppressed by the small-cell rules
// (suppressLevels: primary, then secondary so that no suppressed cell is the total minus the
// rest), and each released cell is a patient set the overlap guard checks (guard.go).
//
// Linked cells. A second Table 1 of the same patients by another grouping re-derives cells the
// first one suppressed: women − (IVA ∧ age 40–45) − women's age cells 45–95 is the women under
// 45 outside IVA, 4 patients, when the first Table 1 (by sex) suppressed the women's cells
// under 45 and the second (by stage) releases IVA ∧ 40–45. Statistical offices handle such
// linked tables by secondary suppression across them, not by refusing the second table; so
// does the node: a cell the guard would refuse (with the sets released before and the table's
// own) is suppressed instead — forced — and the small-cell rules run again on its partition
// with it suppressed, which adds a complementary cell (the smallest non-zero one, preferring
// cells whose definition was not released before: a complement the analyst already knows
// hides nothing), so the forced cell is not its total minus the released rest. The union of a
// partition's suppressed cells (its total minus the released cells) is left to rule 3, as for
// the small-cell rules (docs/privacy.md, "What is left"). The cohort's and the groups'
// own sets are never suppressed: when one of them breaks a rule, the Table 1 is
// refused as before. When a numeric variable's present cell is suppressed, its sums and its
// histogram go with it (as when its n is small).
//
// Forced suppression is decided like a refusal: by the guard's rules, whose outcome depends on
// the rows only through "fewer than min_cell patients separate these sets" (or none, not by
// definition), per cell instead of per reply; docs/privacy.md says what the pattern tells.
// Cells suppressed so are marked Linked in the reply (with every suppressed cell of their
// partition): a client must not bound them by the smallest released cell, as it may a
// partition of the small-cell rules alone. PolicyEffects.LinkedCells counts the cells
// suppressed beyond those rules.

// t1Part is one partition of a Table 1 group's patients.
type t1Part struct {
	counts  []int              // each cell's patients
	hide    []bool             // declared categories whose emptiness is private (suppressLevels)
	sets    []bitset           // each cell's patients (guarded replies only; nil when empty)
	regions []*protocol.Filter // each cell's definition
	parent  *t1Part            // a histogram's present/missing partition: cell 0 must be released
	forced  []bool             // suppressed by the overlap guard (linked)
	avoid   []bool             // complements taken last: the cell's definition was released before
	out     []protocol.Count   // the released cells
	sup     int                // suppressed cells counted in PolicyEffects (none when the parent hides it)
	linked  int                // of them, those the small-cell rules alone would release
}

// release applies the small-cell rules, with the forced cells suppressed, to p (its parent
// released first).
func (p *t1Part) release(minCell int) {
	if p.parent != nil && p.parent.out[0].Suppressed {
		// The variable's n is suppressed: its histogram would give it away.
		p.out = make([]protocol.Count, len(p.counts))
		for k := range p.out {
			p.out[k] = protocol.Count{Suppressed: true}
		}
		p.sup, p.linked = 0, 0
		return
	}
	p.out, p.sup = suppressLinked(p.counts, p.hide, p.forced, p.avoid, minCell)
	p.linked = 0
	if !anyTrue(p.forced) {
		return
	}
	plain, _ := suppressLinked(p.counts, p.hide, nil, p.avoid, minCell)
	for k, c := range p.out {
		if c.Suppressed && !plain[k].Suppressed {
			p.linked++
		}
	}
	if p.linked > 0 {
		for k := range p.out {
			p.out[k].Linked = p.out[k].Suppressed
		}
	}
}

func anyTrue(b []bool) bool {
	for _, x := range b {
		if x {
			return true
		}
	}
	return false
}

// suppressLinked is suppressLevels with the forced cells suppressed first (a forced empty cell
// has no patients to hide and is left alone) and complements taken among the cells not in
// avoid before those in it; with neither it is suppressLevels.
func suppressLinked(cells []int, hideZero, forced, avoid []bool, minCell int) ([]protocol.Count, int) {
	out := make([]protocol.Count, len(cells))
	suppressed, sum := 0, 0
	for i, n := range cells {
		small := (n > 0 && n < minCell) || (n == 0 && minCell > 1 && i < len(hideZero) && hideZero[i])
		if small || (n > 0 && i < len(forced) && forced[i]) {
			out[i] = protocol.Count{Suppressed: true}
			suppressed++
			sum += n
		} else {
			out[i] = protocol.Count{N: n}
		}
	}
	for suppressed > 0 && (suppressed == 1 || sum < minCell) {
		best := complement(cells, out, avoid)
		if best < 0 {
			break // every non-zero cell is suppressed already
		}
		out[best] = protocol.Count{Suppressed: true}
		suppressed++
		sum += cells[best]
	}
	return out, suppressed
}

// complement returns the smallest released non-zero cell, among those not in avoid if any,
// or −1.
func complement(cells []int, out []protocol.Count, avoid []bool) int {
	best, bestAvoided := -1, true
	for i, n := range cells {
		if out[i].Suppressed || n == 0 {
			continue
		}
		av := i < len(avoid) && avoid[i]
		if best < 0 || (bestAvoided && !av) || (av == bestAvoided && n < cells[best]) {
			best, bestAvoided = i, av
		}
	}
	return best
}

// t1Var is one variable of one group of a Table 1.
type t1Var struct {
	name       string
	numeric    bool
	cats       []string
	part       *t1Part // categories then missing, or present and missing
	hist       *t1Part // the histogram within present (nil without edges)
	edges      []float64
	sum, sumSq float64
}

// t1Group is a Table 1 group (the cohort when ungrouped).
type t1Group struct {
	name string
	n    int
	vars []*t1Var
}

// table1 is a Table 1 reply before and while the overlap guard decides it: the groups' cells
// and what the guard forced.
type table1 struct {
	n, variables int // the cohort's size and the number of variables asked (for the audit log)
	minCell      int
	guard        bool // the cells' sets are kept for the overlap guard
	groups       []*t1Group
	grouped      bool
	missing      protocol.Count // the missing group (grouped)
	missSup      int
	// fixed holds the sets never suppressed (the cohort, the groups, their union, the missing
	// group) and the empties that go with them.
	fixed answer
	parts []*t1Part // every partition, parents before their histograms
	// refs says, for each set of the last render, whose it is: a fixed set (part −1) or a
	// cell (part, cell).
	refs []t1Ref
}

type t1Ref struct{ part, cell int }

// newPart adds a partition to t.
func (t *table1) newPart(p *t1Part) *t1Part {
	p.forced = make([]bool, len(p.counts))
	t.parts = append(t.parts, p)
	return p
}

// categorical builds the partition of a categorical variable over group rows.
func (t *table1) categorical(c *cohort, v *VariableData, rows bitset, groupN, code int, region *protocol.Filter) *t1Var {
	cells := make([]int, len(v.Categories)+1) // last: missing
	cellOf := func(i int) int {
		if c := v.Codes[i]; c >= 0 {
			return int(c)
		}
		return len(v.Categories)
	}
	rows.forEach(func(i int) { cells[cellOf(i)]++ })
	p := &t1Part{counts: cells, hide: c.hiddenCells(v, code)}
	p.regions = make([]*protocol.Filter, len(cells))
	for k := range cells {
		kk := k
		if k == len(v.Categories) {
			kk = -1
		}
		p.regions[k] = andFilter(region, valueFilter(v, false, kk))
	}
	if t.guard {
		p.sets = cellSets(rows, cells, groupN, cellOf)
	}
	return &t1Var{name: v.Name, cats: v.Categories, part: t.newPart(p)}
}

// numeric builds a numeric variable's present/missing partition and its histogram.
func (t *table1) numeric(v *VariableData, edges []float64, rows bitset, groupN int, region *protocol.Filter) *t1Var {
	x := v.Numeric
	tv := &t1Var{name: v.Name, numeric: true, edges: edges}
	var hist []int
	if edges != nil {
		hist = make([]int, len(edges)+1)
	}
	var present, missing int
	binOf := func(xi float64) int { return sort.Search(len(edges), func(j int) bool { return edges[j] > xi }) }
	rows.forEach(func(i int) {
		xi := x[i]
		if xi != xi {
			missing++
			return
		}
		present++
		tv.sum += xi
		tv.sumSq += xi * xi
		if hist != nil {
			// Cell k holds edges[k-1] ≤ x < edges[k]: the number of edges ≤ x.
			hist[binOf(xi)]++
		}
	})
	p := &t1Part{counts: []int{present, missing},
		regions: []*protocol.Filter{andFilter(region, &protocol.Filter{Op: protocol.OpPresent, Var: v.Name}), andFilter(region, &protocol.Filter{Op: protocol.OpMissing, Var: v.Name})}}
	if t.guard {
		p.sets = cellSets(rows, p.counts, groupN, func(i int) int {
			if x[i] != x[i] {
				return 1
			}
			return 0
		})
	}
	tv.part = t.newPart(p)
	if hist != nil {
		h := &t1Part{counts: hist, parent: p}
		h.regions = make([]*protocol.Filter, len(hist))
		for k := range hist {
			h.regions[k] = andFilter(region, histFilter(v.Name, edges, k))
		}
		if t.guard {
			h.sets = cellSets(rows, hist, groupN, func(i int) int {
				if x[i] != x[i] {
					return -1
				}
				return binOf(x[i])
			})
		}
		tv.hist = t.newPart(h)
	}
	return tv
}

// cellSets returns the patient set of each non-empty cell of a partition of rows (cell gives a
// row's cell, −1 for none), except a cell holding the whole group (n rows): that set is the
// group's own, among the fixed sets.
func cellSets(rows bitset, counts []int, n int, cell func(i int) int) []bitset {
	sets := make([]bitset, len(counts))
	for k, c := range counts {
		if c > 0 && c != n {
			sets[k] = newBitset(len(rows) * 64)
		}
	}
	rows.forEach(func(i int) {
		if k := cell(i); k >= 0 && sets[k] != nil {
			sets[k].set(i)
		}
	})
	return sets
}

// releaseAll applies the rules to every partition.
func (t *table1) releaseAll() {
	for _, p := range t.parts {
		p.release(t.minCell)
	}
}

// answer renders t into reply and returns its answer, with t for the guard (guardtable1.go).
func (t *table1) answer(reply *protocol.Reply) answer {
	ans := t.render(reply)
	ans.table1 = t
	ans.released = fmt.Sprintf("summary n=%d groups=%d variables=%d suppressed=%d", t.n, len(t.groups), t.variables, reply.Policy.SuppressedCells)
	if reply.Policy.LinkedCells > 0 {
		ans.released += fmt.Sprintf(" linked=%d", reply.Policy.LinkedCells)
	}
	return ans
}

// render writes the released Table 1 into reply and returns the answer: the fixed sets, each
// released non-empty cell, and each partition's union of suppressed cells (guarded only).
func (t *table1) render(reply *protocol.Reply) answer {
	sr := &protocol.SummaryReply{Groups: []protocol.GroupSummary{}}
	sup, linked := t.missSup, 0
	if t.grouped {
		sr.MissingGroup = t.missing
	}
	for _, g := range t.groups {
		gs := protocol.GroupSummary{Group: g.name, N: protocol.Count{N: g.n}, Variables: []protocol.VariableSummary{}}
		for _, v := range g.vars {
			gs.Variables = append(gs.Variables, v.summary())
			sup += v.part.sup
			linked += v.part.linked
			if v.hist != nil {
				sup += v.hist.sup
				linked += v.hist.linked
			}
		}
		sr.Groups = append(sr.Groups, gs)
	}
	reply.Summary = sr
	reply.Policy.SuppressedCells = sup
	reply.Policy.LinkedCells = linked
	ans := answer{sets: append([]bitset(nil), t.fixed.sets...), regions: append([]*protocol.Filter(nil), t.fixed.regions...),
		empties: append([]*protocol.Filter(nil), t.fixed.empties...)}
	t.refs = t.refs[:0]
	for range ans.sets {
		t.refs = append(t.refs, t1Ref{-1, -1})
	}
	if !t.guard {
		return ans
	}
	for pi, p := range t.parts {
		for k, c := range p.out {
			switch {
			case !c.Suppressed && p.counts[k] == 0:
				ans.empties = append(ans.empties, p.regions[k])
			case !c.Suppressed && p.sets[k] != nil:
				ans.add(p.sets[k], p.regions[k])
				t.refs = append(t.refs, t1Ref{pi, k})
			}
		}
	}
	return ans
}

// summary is the variable's released summary.
func (v *t1Var) summary() protocol.VariableSummary {
	vs := protocol.VariableSummary{Variable: v.name}
	out := v.part.out
	if !v.numeric {
		vs.Categories = make(map[string]protocol.Count, len(v.cats))
		present := 0
		for k, cat := range v.cats {
			vs.Categories[cat] = out[k]
			present += v.part.counts[k]
		}
		vs.Missing = out[len(v.cats)]
		vs.N = protocol.Count{N: present}
		if vs.Missing.Suppressed {
			// The number present would give the suppressed missing count away.
			vs.N = protocol.Count{Suppressed: true, Linked: vs.Missing.Linked}
		}
		return vs
	}
	vs.N, vs.Missing = out[0], out[1]
	if !vs.N.Suppressed {
		// Σx and Σx² of a handful of values identify them: released with n only.
		vs.Sum, vs.SumSq = v.sum, v.sumSq
	}
	if v.edges != nil {
		vs.Edges = v.edges
		vs.Histogram = v.hist.out
	}
	return vs
}

// force suppresses the cell of the set at index i of the last render; false when the set is a
// fixed one (the Table 1 is then refused).
func (t *table1) force(i int) bool {
	r := t.refs[i]
	if r.part < 0 {
		return false
	}
	p := t.parts[r.part]
	p.forced[r.cell] = true
	for _, q := range t.parts { // p, then its histogram when p is a variable's present/missing
		if q == p || q.parent == p {
			q.release(t.minCell)
		}
	}
	return true
}

// reset forgets what the guard forced and avoided (a release transaction run again decides
// afresh); the caller releases again.
func (t *table1) reset() {
	for _, p := range t.parts {
		clear(p.forced)
		p.avoid = nil
	}
}
