package node

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"slices"
	"strconv"

	"github.com/oncofed/oncofed/protocol"
)

// A region is the definition through which a patient set was released: the cohort filter,
// and for a cell of a grouped or tabulated reply also the cell's condition (and(cohort,
// group = value), and(cohort, group, category = k), and(cohort, range of a histogram cell)).
// The overlap guard remembers it with each released set, so that it can tell a re-run of the
// same definition (answered) from the same patient set reached through a new definition
// (refused, like a set one patient away: otherwise "identical" and "one off" would be told
// apart by the refusal, and the refusal would release the difference).
//
// regionOf hashes the canonical form of f (canonFilter) to a short hex string. It is never
// "": an old released set without a region (migration 007) has region "", which no new set
// matches.
func regionOf(f *protocol.Filter) string {
	b, _ := json.Marshal(canonFilter(f)) // only non-finite bounds fail, and checkQuery refuses those
	sum := sha256.Sum256(append([]byte("region1:"), b...))
	return hex.EncodeToString(sum[:16])
}

// canonFilter returns f in a canonical form, so that definitions that differ only in
// writing get one region: nil stays nil (every patient) and is dropped from an and; nested
// and/or are flattened; operands are sorted by their canonical JSON and duplicates removed;
// an and/or of one operand is that operand; in of one value is eq; in values are sorted;
// an absent bound is never open. It does not decide semantic equivalence (age ≥ 60 and
// age > 59 stay two regions): a region is a description, not a set.
func canonFilter(f *protocol.Filter) *protocol.Filter {
	if f == nil {
		return nil
	}
	switch f.Op {
	case protocol.OpAnd, protocol.OpOr:
		var args []*protocol.Filter
		var flatten func(*protocol.Filter) bool
		flatten = func(g *protocol.Filter) bool {
			for _, a := range g.Args {
				c := canonFilter(a)
				if c == nil {
					if f.Op == protocol.OpOr {
						return false // or(…, every patient) is every patient
					}
					continue
				}
				if c.Op == f.Op {
					args = append(args, c.Args...) // already canonical and flat
					continue
				}
				args = append(args, c)
			}
			return true
		}
		if !flatten(f) {
			return nil
		}
		keys := make([]string, len(args))
		idx := make([]int, len(args))
		for i, a := range args {
			b, _ := json.Marshal(a)
			keys[i], idx[i] = string(b), i
		}
		slices.SortFunc(idx, func(i, j int) int {
			switch {
			case keys[i] < keys[j]:
				return -1
			case keys[i] > keys[j]:
				return 1
			}
			return 0
		})
		out := make([]*protocol.Filter, 0, len(args))
		for k, i := range idx {
			if k > 0 && keys[i] == keys[idx[k-1]] {
				continue
			}
			out = append(out, args[i])
		}
		switch len(out) {
		case 0:
			return nil // and() of nothing: every patient
		case 1:
			return out[0]
		}
		return &protocol.Filter{Op: f.Op, Args: out}
	case protocol.OpNot:
		var arg *protocol.Filter
		if len(f.Args) > 0 {
			arg = canonFilter(f.Args[0])
		}
		return &protocol.Filter{Op: f.Op, Args: []*protocol.Filter{arg}}
	case protocol.OpIn:
		vals := slices.Clone(f.Values)
		slices.Sort(vals)
		vals = slices.Compact(vals)
		if len(vals) == 1 {
			return &protocol.Filter{Op: protocol.OpEq, Var: f.Var, Value: vals[0]}
		}
		return &protocol.Filter{Op: f.Op, Var: f.Var, Values: vals}
	case protocol.OpRange:
		c := &protocol.Filter{Op: f.Op, Var: f.Var, Min: f.Min, Max: f.Max}
		c.MinOpen = f.Min != nil && f.MinOpen
		c.MaxOpen = f.Max != nil && f.MaxOpen
		return c
	case protocol.OpEq:
		return &protocol.Filter{Op: f.Op, Var: f.Var, Value: f.Value}
	default: // missing, present
		return &protocol.Filter{Op: f.Op, Var: f.Var}
	}
}

// canonFilters returns canonFilter of each of fs.
func canonFilters(fs []*protocol.Filter) []*protocol.Filter {
	out := make([]*protocol.Filter, len(fs))
	for i, f := range fs {
		out[i] = canonFilter(f)
	}
	return out
}

// andFilter is and(base, cond) (base nil: cond).
func andFilter(base, cond *protocol.Filter) *protocol.Filter {
	if base == nil {
		return cond
	}
	return &protocol.Filter{Op: protocol.OpAnd, Args: []*protocol.Filter{base, cond}}
}

// valueFilter is the condition "v's value is category k" (k < 0: missing). An integer-coded
// numeric variable (numeric) grouped by value gets range [x, x], the filter an analyst would
// write.
func valueFilter(v *VariableData, numeric bool, k int) *protocol.Filter {
	if k < 0 {
		return &protocol.Filter{Op: protocol.OpMissing, Var: v.Name}
	}
	cat := v.Categories[k]
	if numeric {
		if x, err := strconv.ParseFloat(cat, 64); err == nil {
			return &protocol.Filter{Op: protocol.OpRange, Var: v.Name, Min: &x, Max: &x}
		}
	}
	return &protocol.Filter{Op: protocol.OpEq, Var: v.Name, Value: cat}
}

// histFilter is the condition of histogram cell k over edges (edges[k-1] ≤ x < edges[k]).
func histFilter(name string, edges []float64, k int) *protocol.Filter {
	f := &protocol.Filter{Op: protocol.OpRange, Var: name}
	if k > 0 {
		f.Min = &edges[k-1]
	}
	if k < len(edges) {
		f.Max, f.MaxOpen = &edges[k], true
	}
	return f
}

// groupRegion is the region of the cohort's group k (k < 0: the patients whose group value is
// missing); the cohort's own when it is ungrouped.
func (c *cohort) groupRegion(k int) *protocol.Filter {
	if c.group == nil {
		return c.filter
	}
	if c.group.Members != nil && k >= 0 && len(c.group.Members[k]) > 1 {
		return andFilter(c.filter, &protocol.Filter{Op: protocol.OpIn, Var: c.group.Name, Values: slices.Clone(c.group.Members[k])})
	}
	orig := c.study.vars[c.group.Name]
	return andFilter(c.filter, valueFilter(c.group, orig != nil && orig.Type == protocol.Numeric, k))
}

// add appends a released patient set and its region to the answer.
func (a *answer) add(s bitset, region *protocol.Filter) {
	a.sets = append(a.sets, s)
	a.regions = append(a.regions, region)
	a.defs = append(a.defs, nil)
}

// addComplete appends a model's complete cases: the patients of cohort with every one of vars
// present (so too a grouped reply's union of groups, the cohort's patients with a group
// value: described as the cohort alone, the region algebra could not explain the cohort
// minus the groups minus the "missing" set being empty, and refused a Kaplan–Meier by PD-L1
// in stage IV after the filter dialog's count of all patients by stage). They are released
// through two regions: the cohort's, so that the guard's rule 1
// takes a model of a cohort nobody of which lacks a variable as a re-run of the cohort's
// release (KM, then Cox of the same cohort), and their exact definition's, so that it takes
// Table 1's "present" cell of the one covariate as a re-run too (in either order). The region
// algebra gets their exact definition through both, which explains a combination the complete
// cases empty by definition: the cohort minus a Table 1's "missing" cell of the covariate
// minus the complete cases of a model on it.
func (a *answer) addComplete(s bitset, cohort *protocol.Filter, vars []string) {
	def := cohort
	for _, v := range vars {
		def = andFilter(def, &protocol.Filter{Op: protocol.OpPresent, Var: v})
	}
	a.add(s, cohort)
	a.defs[len(a.defs)-1] = def
	a.add(s, def)
}

// regionsAndDefs returns the region (hash) of each released set and the canonical definition
// the guard's region algebra uses for it.
func (a *answer) regionsAndDefs() ([]string, []*protocol.Filter) {
	regions := make([]string, len(a.sets))
	defs := make([]*protocol.Filter, len(a.sets))
	for i := range a.sets {
		f, def := a.regions[i], a.regions[i]
		if i < len(a.defs) && a.defs[i] != nil {
			def = a.defs[i]
		}
		regions[i], defs[i] = regionOf(f), canonFilter(def)
	}
	return regions, defs
}
