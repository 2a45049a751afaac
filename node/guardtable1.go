package node

import "github.com/oncofed/oncofed/protocol"

// The overlap guard's decision on a Table 1 (table1.go): a linked cell is suppressed, not the
// table refused.

// checkTable1 decides, within the release transaction, the Table 1 of ans: while a set of the
// reply breaks a rule of the guard, the cell it is is suppressed (with a complement) and the
// reply rendered again; a fixed
// set (the cohort, a group) that breaks a rule refuses the reply, as for every other kind. On
// success ans, reply, regions and defs hold what is released; changed says whether they differ
// from what they held.
func (v *guardView) checkTable1(analyst string, ans *answer, reply *protocol.Reply, regions *[]string, defs *[]*protocol.Filter) (changed bool, err error) {
	t, study := ans.table1, ans.study
	rerender := func() {
		*ans = t.answer(reply)
		ans.study = study
		*regions, *defs = ans.regionsAndDefs()
		changed = true
	}
	// Complements avoid cells whose definitions were released before: render again when that
	// changes a choice.
	// A transaction run again decides afresh.
	before := t.outs()
	t.reset()
	known := v.knownRegions()
	for _, p := range t.parts {
		p.avoid = make([]bool, len(p.counts))
		for k, f := range p.regions {
			p.avoid[k] = known[regionOf(f)]
		}
	}
	if t.releaseAll(); !sameOuts(before, t.outs()) {
		rerender()
	}
	cells := 0
	for _, p := range t.parts {
		cells += len(p.counts)
	}
	from := 0
	for steps := 0; ; steps++ {
		i, err := v.checkFrom(analyst, ans.sets, *regions, *defs, canonFilters(ans.empties), from)
		if err == nil {
			return changed, nil
		}
		if steps > cells || !t.force(i) {
			return changed, err
		}
		oldRefs, oldSets, oldEmpties := append([]t1Ref(nil), t.refs[:i]...), ans.sets[:i], len(ans.empties)
		rerender()
		from = 0
		if oldEmpties == len(ans.empties) {
			from = resumeAt(v, oldRefs, oldSets, t.refs)
		}
	}
}

// resumeAt returns how many leading sets of the new render (refs) passed the guard before, in
// the same order, among the old render's first sets (oldRefs, oldSets): those up to the first
// that was not among them, or 0 when a dropped set re-released a remembered one (checkFrom).
func resumeAt(v *guardView, oldRefs []t1Ref, oldSets []bitset, refs []t1Ref) int {
	passed := map[t1Ref]bool{}
	for _, r := range oldRefs {
		passed[r] = true
	}
	kept := map[t1Ref]bool{}
	from := 0
	for from < len(refs) && passed[refs[from]] {
		kept[refs[from]] = true
		from++
	}
	for j, r := range oldRefs {
		if !kept[r] && v.lookup(bitsDigest(oldSets[j])) != nil {
			return 0
		}
	}
	return from
}

// knownRegions are the regions of the sets remembered for the analyst (whose definitions were
// released to them).
func (v *guardView) knownRegions() map[string]bool {
	known := map[string]bool{}
	for _, sets := range [][]*gset{v.gs.sets, v.fresh} {
		for _, g := range sets {
			for r := range g.regions {
				known[r] = true
			}
			for _, r := range v.regions[g] {
				known[r] = true
			}
		}
	}
	return known
}

// outs is a copy of every partition's released cells.
func (t *table1) outs() [][]protocol.Count {
	out := make([][]protocol.Count, len(t.parts))
	for i, p := range t.parts {
		out[i] = append([]protocol.Count(nil), p.out...)
	}
	return out
}

func sameOuts(a, b [][]protocol.Count) bool {
	for i := range a {
		for k := range a[i] {
			if a[i][k] != b[i][k] {
				return false
			}
		}
	}
	return true
}
