package node

import (
	"fmt"
	"math/bits"
	"slices"

	"github.com/oncofed/oncofed/analysis"
	"github.com/oncofed/oncofed/protocol"
)

// cohort is a query's selected patients and its optional grouping variable.
type cohort struct {
	study  *loadedStudy
	filter *protocol.Filter // the query's cohort definition (nil: everyone)
	rows   bitset
	n      int
	group  *VariableData // nil: ungrouped
}

// hiddenGroups says, per group, whether its emptiness is private: true unless the query's
// filter itself excludes the group (see excludedByQuery). An empty group whose emptiness is
// private is answered like a small one.
func (c *cohort) hiddenGroups() []bool {
	if c.group.Members == nil {
		return hidden(queryEmptied(c.filter, c.group))
	}
	out := make([]bool, len(c.group.Categories))
	for g := range out {
		out[g] = true // a merged group is emptied by the query when each of its levels is
		for _, m := range c.group.Members[g] {
			out[g] = out[g] && excludedByQuery(c.filter, assumption{c.group.Name, m})
		}
	}
	return hidden(out)
}

// hiddenCells is hiddenGroups for the categories of v within group g (g < 0: ungrouped).
func (c *cohort) hiddenCells(v *VariableData, g int) []bool {
	if g < 0 || c.group == nil {
		return hidden(queryEmptied(c.filter, v))
	}
	if c.group.Members == nil {
		return hidden(queryEmptied(c.filter, v, assumption{c.group.Name, c.group.Categories[g]}))
	}
	out := make([]bool, len(v.Categories))
	for k := range out {
		out[k] = true
	}
	for _, m := range c.group.Members[g] { // emptied in a merged group: in each of its levels
		for k, e := range queryEmptied(c.filter, v, assumption{c.group.Name, m}) {
			out[k] = out[k] && e
		}
	}
	return hidden(out)
}

func hidden(emptied []bool) []bool {
	for k := range emptied {
		emptied[k] = !emptied[k]
	}
	return emptied
}

// groupSets splits the cohort by the grouping variable: one bitset and size per category,
// plus the number of cohort patients whose group value is missing.
func (c *cohort) groupSets() (sets []bitset, sizes []int, missing int) {
	k, codes := c.groups()
	sets = c.newSets(k)
	sizes = make([]int, k)
	c.rows.forEach(func(i int) {
		g := codes[i]
		if g < 0 {
			missing++
			return
		}
		sets[g].set(i)
		sizes[g]++
	})
	return sets, sizes, missing
}

// groups returns the number of groups and each row's group code (-1: missing); one group and
// nil codes when the cohort is ungrouped.
func (c *cohort) groups() (k int, codes []int32) {
	if c.group == nil {
		return 1, nil
	}
	return len(c.group.Categories), c.group.Codes
}

// newSets returns k empty sets of the study's rows.
func (c *cohort) newSets(k int) []bitset {
	n := c.study.data.Len()
	sets := make([]bitset, k)
	for g := range sets {
		sets[g] = newBitset(n)
	}
	return sets
}

// checkGroupSizes refuses a query with a group smaller than min_cohort: its aggregates (a
// survival table, sums of squares) would describe a handful of patients, and an ungrouped
// query minus the other groups would expose them anyway. An empty group is refused alike —
// word for word — unless the query itself empties it: whether a declared category holds
// patients at this site is not to be told by answering.
func (e *Engine) checkGroupSizes(c *cohort, sizes []int) error {
	hide := c.hiddenGroups()
	for g, n := range sizes {
		if (n > 0 || hide[g]) && n < e.policy.MinCohort {
			return refusef(protocol.ReasonSmallCohort, float64(e.policy.MinCohort), "group %s=%q has fewer than min_cohort=%d patients", c.group.Name, c.group.Categories[g], e.policy.MinCohort)
		}
	}
	return nil
}

// appendMissingSet adds to ans, when its count was released as a number, the set of cohort
// rows in none of groups (their group value is missing): a released count like any group's.
func appendMissingSet(ans *answer, c *cohort, groups []bitset, released protocol.Count) {
	if !released.Suppressed && released.N == 0 {
		ans.empties = append(ans.empties, c.groupRegion(-1))
	}
	if released.Suppressed || released.N == 0 {
		return
	}
	m := append(bitset(nil), c.rows...)
	for _, g := range groups {
		m.andNot(g)
	}
	ans.add(m, c.groupRegion(-1))
}

// union returns the rows in any of sets.
func union(n int, sets []bitset) bitset {
	u := newBitset(n)
	for _, s := range sets {
		u.or(s)
	}
	return u
}

func (e *Engine) count(c *cohort, reply *protocol.Reply) (answer, error) {
	minCell := e.policy.MinCell
	cr := &protocol.CountReply{}
	var sup int
	cr.Total, sup = releaseCount(c.n, minCell)
	reply.Policy.SuppressedCells += sup
	ans := answer{}
	ans.add(c.rows, c.filter)
	if c.group != nil {
		sets, sizes, missing := c.groupSets()
		counts, s := suppressLevels(append(append([]int(nil), sizes...), missing), c.hiddenGroups(), minCell)
		reply.Policy.SuppressedCells += s
		cr.Groups = make(map[string]protocol.Count, len(sizes))
		cr.Order = slices.Clone(c.group.Categories)
		for g, name := range c.group.Categories {
			cr.Groups[name] = counts[g]
			if !counts[g].Suppressed && sizes[g] > 0 {
				ans.add(sets[g], c.groupRegion(g))
			}
		}
		cr.Missing = counts[len(sizes)]
		appendMissingSet(&ans, c, sets, cr.Missing)
	}
	reply.Count = cr
	ans.released = fmt.Sprintf("count n=%d groups=%d suppressed=%d", c.n, len(cr.Groups), reply.Policy.SuppressedCells)
	return ans, nil
}

func (e *Engine) summary(c *cohort, q *protocol.Query, reply *protocol.Reply) (answer, error) {
	t, err := e.newTable1(c, q)
	if err != nil {
		return answer{}, err
	}
	return t.answer(reply), nil
}

// newTable1 tabulates the cohort's Table 1 (table1.go): its groups, and each variable's
// partitions under the small-cell rules.
func (e *Engine) newTable1(c *cohort, q *protocol.Query) (*table1, error) {
	minCell := e.policy.MinCell
	ls := c.study
	n := ls.data.Len()
	type grp struct {
		name   string
		rows   bitset
		n      int
		code   int // the group's category code, -1 ungrouped
		region *protocol.Filter
	}
	// Every released cell is a patient set whose count leaves the site, as are the groups of a
	// count query: the overlap guard must see them, or a histogram edge moved by one year (or a
	// category cell next to a cohort one patient smaller) differences out a patient.
	t := &table1{minCell: minCell, guard: e.policy.OverlapGuard && minCell > 1, grouped: c.group != nil, n: c.n, variables: len(q.Variables)}
	var groups []grp
	if c.group == nil {
		groups = []grp{{"", c.rows, c.n, -1, c.filter}}
		t.fixed.add(c.rows, c.filter)
	} else {
		sets, sizes, missing := c.groupSets()
		if err := e.checkGroupSizes(c, sizes); err != nil {
			return nil, err
		}
		for g, s := range sets {
			if sizes[g] > 0 {
				groups = append(groups, grp{c.group.Categories[g], s, sizes[g], g, c.groupRegion(g)})
				t.fixed.add(s, c.groupRegion(g))
			}
		}
		// The union of the groups (the cohort less those whose group is missing) is
		// described as the cohort (with no missing value it is the cohort's set) and defined
		// as the cohort's patients with a group value (addComplete).
		t.fixed.addComplete(union(n, sets), c.filter, []string{c.group.Name})
		t.missing, t.missSup = releaseCount(missing, minCell)
		appendMissingSet(&t.fixed, c, sets, t.missing)
	}
	edges := map[string][]float64{}
	for _, b := range q.Bins {
		edges[b.Variable] = b.Edges
	}
	for _, g := range groups {
		tg := &t1Group{name: g.name, n: g.n}
		for _, name := range q.Variables {
			v := ls.vars[name]
			if v.Type == protocol.Categorical {
				tg.vars = append(tg.vars, t.categorical(c, v, g.rows, g.n, g.code, g.region))
			} else {
				tg.vars = append(tg.vars, t.numeric(v, edges[name], g.rows, g.n, g.region))
			}
		}
		t.groups = append(t.groups, tg)
	}
	t.releaseAll()
	return t, nil
}

// maxCountingCells bounds groups × distinct times for the counting tabulation.
const maxCountingCells = 1 << 22

// survivalTables tabulates the cohort's survival per group (index: category code, 0 when
// ungrouped), with times coarsened to binDays. No sorting happens per query: usually it is one
// sequential counting pass over the cohort's rows, adding each patient to the cell of its
// precomputed time rank; when groups × distinct times would be too many cells it walks the
// rows in their precomputed time order instead.
func survivalTables(c *cohort, ep *EndpointData, binDays float64) (tables []analysis.SurvivalTable, sets []bitset, missing int) {
	ti := c.study.timeIndex(ep, binDays)
	k, codes := c.groups()
	if k*len(ti.times) > maxCountingCells {
		return survivalTablesOrdered(c, ep, binDays)
	}
	d := len(ti.times)
	evCount := make([]int32, k*d)
	ceCount := make([]int32, k*d)
	sets = c.newSets(k)
	rank, events := ti.rank, ep.Event
	for w, word := range c.rows {
		for word != 0 {
			i := w<<6 + bits.TrailingZeros64(word)
			word &= word - 1
			g := 0
			if codes != nil {
				g = int(codes[i])
				if g < 0 {
					missing++
					continue
				}
			}
			sets[g].set(i)
			cell := g*d + int(rank[i])
			if events[i] {
				evCount[cell]++
			} else {
				ceCount[cell]++
			}
		}
	}
	tables = make([]analysis.SurvivalTable, k)
	for g := range tables {
		tb := &tables[g]
		for r := 0; r < d; r++ {
			if e, ce := evCount[g*d+r], ceCount[g*d+r]; e+ce > 0 {
				tb.Time = append(tb.Time, ti.times[r])
				tb.Events = append(tb.Events, int(e))
				tb.Censor = append(tb.Censor, int(ce))
			}
		}
	}
	return tables, sets, missing
}

// survivalTablesOrdered is survivalTables by a walk over the rows in time order.
func survivalTablesOrdered(c *cohort, ep *EndpointData, binDays float64) (tables []analysis.SurvivalTable, sets []bitset, missing int) {
	order := c.study.timeOrder(ep)
	k, codes := c.groups()
	tables = make([]analysis.SurvivalTable, k)
	sets = c.newSets(k)
	times, events := ep.Time, ep.Event
	for _, r := range order {
		i := int(r)
		if !c.rows.has(i) {
			continue
		}
		g := 0
		if codes != nil {
			g = int(codes[i])
			if g < 0 {
				missing++
				continue
			}
		}
		sets[g].set(i)
		t := times[i]
		if binDays > 0 {
			t = analysis.CoarsenTime(t, binDays)
		}
		tb := &tables[g]
		last := len(tb.Time) - 1
		if last < 0 || tb.Time[last] != t {
			tb.Time = append(tb.Time, t)
			tb.Events = append(tb.Events, 0)
			tb.Censor = append(tb.Censor, 0)
			last++
		}
		if events[i] {
			tb.Events[last]++
		} else {
			tb.Censor[last]++
		}
	}
	return tables, sets, missing
}

func (e *Engine) survival(c *cohort, q *protocol.Query, reply *protocol.Reply) (answer, error) {
	ep := c.study.eps[q.Endpoint]
	tables, sets, missing := survivalTables(c, ep, e.policy.BinDays)
	splitCauses(c, ep, tables, e.policy.BinDays)
	entries := delayedEntries(c, ep, len(tables), e.policy.BinDays)
	ans := answer{}
	if c.group != nil {
		sizes := make([]int, len(tables))
		for g, t := range tables {
			sizes[g] = t.Total()
		}
		if err := e.checkGroupSizes(c, sizes); err != nil {
			return answer{}, err
		}
	}
	sr := &protocol.SurvivalReply{Endpoint: ep.Name, Groups: []protocol.SurvivalGroup{}}
	var truncated *float64
	rows := 0
	for g, t := range tables {
		if t.Total() == 0 {
			continue
		}
		name := ""
		if c.group != nil {
			name = c.group.Categories[g]
		}
		sg, merged, tr := releaseSurvival(t, e.policy.MinCell)
		sg.Group = name
		reply.Policy.MergedRows += merged
		if tr != nil {
			note(&reply.Policy, "group %q: no rows after %g days (fewer than %d at risk); those patients are reported as censored there", name, *tr, e.policy.MinCell)
			if truncated == nil || *tr > *truncated {
				truncated = tr
			}
		}
		releaseCauses(t, &sg)
		if entries != nil {
			// Said whenever nothing is released, whether the group has no late entrant or
			// fewer than min_cell: the two read alike.
			if releaseEntries(entries[g], e.policy.MinCell, tr, &sg); len(sg.Entries) == 0 {
				note(&reply.Policy, "group %q: no block of %d delayed entries to release; every patient is reported as at risk from the start", name, max(e.policy.MinCell, 1))
			}
		}
		rows += len(sg.Time)
		sr.Groups = append(sr.Groups, sg)
		ans.add(sets[g], c.groupRegion(g))
	}
	reply.Policy.TruncatedAfter = truncated
	if c.group != nil {
		ans.addComplete(union(c.study.data.Len(), sets), c.filter, []string{c.group.Name}) // as in summary
		var s int
		sr.MissingGroup, s = releaseCount(missing, e.policy.MinCell)
		reply.Policy.SuppressedCells += s
		appendMissingSet(&ans, c, sets, sr.MissingGroup)
	}
	reply.Survival = sr
	ans.released = fmt.Sprintf("survival %s n=%d groups=%d rows=%d merged=%d", ep.Name, c.n, len(sr.Groups), rows, reply.Policy.MergedRows)
	return ans, nil
}
