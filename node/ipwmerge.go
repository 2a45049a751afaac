package node

import (
	"maps"
	"slices"
	"strconv"
	"strings"

	"github.com/oncofed/oncofed/protocol"
)

// ipwMergedStudy is the study as an ipw query with Merge sees it (protocol.IPWRequest.Merge):
// each merged confounder replaced by its coarsened form, everything else shared with ls.
//
//   - A categorical confounder: its levels merged as a grouping's are (mergeLevels), one
//     category per group, named by the group, in the declared order.
//   - A discrete numeric confounder (a declared range of at most 12 integers, such as ECOG):
//     each value of a merged group recoded to the group's first value (ECOG 2, 3, 4 and 5 as 2).
//
// The coarsening is the analyst's choice from the dictionary alone, and it is applied before
// anything is computed: the propensity design, the weights' classes (whose patients then
// share a design row, so no β gives them different weights) and the outcome design all see
// the merged values. ls itself is not changed; without Merge it is returned as is.
func ipwMergedStudy(ls *loadedStudy, merge map[string][]protocol.LevelGroup) (*loadedStudy, error) {
	if len(merge) == 0 {
		return ls, nil
	}
	view := &loadedStudy{data: ls.data, info: ls.info, eps: ls.eps, vars: maps.Clone(ls.vars), catIndex: maps.Clone(ls.catIndex),
		groups: map[string]*VariableData{}}
	for name, groups := range merge {
		v := ls.vars[name]
		if v == nil {
			return nil, errorf(protocol.CodeNotFound, "ipw.merge: no variable %q", clip(name))
		}
		if v.Type == protocol.Categorical {
			m, err := mergeLevels(v, groups)
			if err != nil {
				return nil, errorf(protocol.CodeInvalid, "ipw.merge[%q]: %s", name, trimPrefix(err.Error()))
			}
			view.vars[name] = m // Members: the declared levels of each merged category
			view.catIndex[name] = map[string]int32{}
			for k, c := range m.Categories {
				view.catIndex[name][c] = int32(k)
			}
			continue
		}
		g := ls.integerGroups(v)
		if g == nil {
			return nil, errorf(protocol.CodeInvalid, "ipw.merge[%q]: %s is continuous; only categorical confounders and numeric ones declared as at most %d whole numbers (such as ECOG) have levels to merge", name, name, maxNumericGroups)
		}
		m, err := mergeLevels(g, groups)
		if err != nil {
			return nil, errorf(protocol.CodeInvalid, "ipw.merge[%q]: %s", name, trimPrefix(err.Error()))
		}
		first := make([]float64, len(m.Members))
		for k, ms := range m.Members {
			first[k], _ = strconv.ParseFloat(ms[0], 64) // integerGroups' categories are numbers
		}
		nv := &VariableData{Variable: v.Variable, Numeric: make([]float64, len(v.Numeric))}
		for i, x := range v.Numeric {
			nv.Numeric[i] = x
			if c := m.Codes[i]; c >= 0 {
				nv.Numeric[i] = first[c]
			}
		}
		view.vars[name] = nv
		view.groups[name] = m // its classes: the merged values, with the declared ones in Members
	}
	return view, nil
}

// errRareClass is cellPolicyTimes' refusal: some class of an arm holds 1 to min_cell−1
// patients, so no weighted survival row can hold none or at least min_cell of every class.
// classRefusal turns it into the message the analyst acts on.
var errRareClass = errorf(protocol.CodeRefusedByPolicy, "an arm's patients with some combination of the discrete confounders' values are too few (fewer than min_cell) for any weighted survival row; merge levels or leave such a confounder out")

// classRefusal is the refusal of an arm (0 control, 1 treated) whose kept patients fall into a
// class of 1 to min_cell−1 (cellPolicyTimes): it names the discrete confounders with a level
// that rare in the arm — what a Table 1 of each confounder by treatment at this site shows as
// a suppressed cell — or, when every level of each is common enough, says that their
// combination is rare; and it says how to coarsen (oncofed-cli ipw --merge, ipw.merge). It
// names no level and no count. The trimmed patients are not in the classes (they are in no
// table), and the classes are the merged ones when the query merges levels.
func classRefusal(prep *ipwPrepared, wt *ipwWeighted, arm, minCell int) error {
	return rareClassRefusal(prep, func(i int) bool { return wt.kept[i] }, arm, minCell)
}

// rareClassRefusal is classRefusal over the arm's complete cases for which in is true.
func rareClassRefusal(prep *ipwPrepared, in func(i int) bool, arm, minCell int) error {
	armName := []string{"control", "treated"}[arm]
	var rare []string
	for d, name := range prep.discrete {
		counts := map[int32]int{}
		for i, c := range prep.levels[d] {
			if in(i) && armOf(prep.treated[i]) == arm {
				counts[c]++
			}
		}
		for _, n := range counts {
			if n < minCell {
				rare = append(rare, name)
				break
			}
		}
	}
	how := "merge rare levels with a neighbouring one (oncofed-cli ipw --merge VAR=LEVEL,LEVEL;…) or leave the confounder out"
	if len(rare) > 0 {
		return errorf(protocol.CodeRefusedByPolicy, "the %s arm holds fewer than min_cell=%d patients at some level of %s at this site, too few for any weighted survival row (their weights are known to be equal, and a row would show them): %s", armName, minCell, strings.Join(rare, ", "), how)
	}
	return errorf(protocol.CodeRefusedByPolicy, "the %s arm holds fewer than min_cell=%d patients with some combination of the values of %s at this site (each value alone is common enough), too few for any weighted survival row: %s", armName, minCell, strings.Join(prep.discrete, ", "), how)
}

// checkClasses refuses, in every stage and from the first propensity round on, an arm whose
// complete cases fall into a class (a combination of the discrete confounders' values) of 1
// to min_cell−1 patients: its weighted survival table could never be released (cellPolicyTimes
// would refuse the outcome stage), so the site sits out of the comparison from its first
// round, which the other sites then finish, instead of aborting everyone's at the outcome
// round. The same bit the outcome stage's refusal would say; trimming can still empty a class
// below min_cell there.
func checkClasses(prep *ipwPrepared, minCell int) error {
	if minCell <= 1 || len(prep.discrete) == 0 {
		return nil
	}
	counts := map[[2]int32]int{}
	for i, c := range prep.cell {
		counts[[2]int32{int32(armOf(prep.treated[i])), c}]++
	}
	for arm := 0; arm < 2; arm++ { // the control arm's first, whatever the map's order
		for k, n := range counts {
			if int(k[0]) == arm && n < minCell {
				return rareClassRefusal(prep, func(int) bool { return true }, arm, minCell)
			}
		}
	}
	return nil
}

// classSets adds to ans the patient set of every class of each arm the site holds — the
// complete cases of the arm with one combination of the discrete confounders' (merged) values —
// with its region (the cohort, the arm's treatment levels, each confounder's declared values of
// the class). Each arm's weighted table releases its classes' counts to an analyst who chose
// the weights, so the overlap guard must see them: two coarsenings that differ by a rare level
// (ECOG 2+3 in one query, 2 alone in the next) would otherwise give that level's patients'
// outcomes by subtraction (TestAttackIPWMergeDifference).
func classSets(ans *answer, c *cohort, req *protocol.IPWRequest, prep *ipwPrepared, rows []int) {
	if len(prep.discrete) == 0 {
		return
	}
	ls := c.study
	type key struct {
		arm  int
		cell int32
	}
	sets := map[key]bitset{}
	var order []key
	first := map[key]int{}
	for i, cell := range prep.cell {
		k := key{armOf(prep.treated[i]), cell}
		b, ok := sets[k]
		if !ok {
			b = newBitset(ls.data.Len())
			sets[k], first[k] = b, i
			order = append(order, k)
		}
		b.set(rows[i])
	}
	for _, k := range order {
		region := c.filter
		if req.TreatedSite == "" {
			trt := ls.vars[req.Treatment]
			arm := &protocol.Filter{Op: protocol.OpEq, Var: req.Treatment, Value: req.Treated}
			if k.arm == 0 {
				var others []string
				for _, l := range trt.Categories {
					if l != req.Treated {
						others = append(others, l)
					}
				}
				arm = &protocol.Filter{Op: protocol.OpIn, Var: req.Treatment, Values: others}
			}
			region = andFilter(region, arm)
		}
		i := first[k]
		for d, name := range prep.discrete {
			region = andFilter(region, classLevelFilter(ls, name, prep.levels[d][i]))
		}
		ans.add(sets[k], region)
	}
}

// classLevelFilter is the condition of a confounder's class level (its code in the weights'
// classes): a declared level, or the declared levels (values) of a merged one.
func classLevelFilter(ls *loadedStudy, name string, code int32) *protocol.Filter {
	v := ls.vars[name]
	g := v
	if v.Type != protocol.Categorical {
		g = ls.integerGroups(v)
	}
	members := []string{g.Categories[code]}
	if g.Members != nil {
		members = g.Members[code]
	}
	if v.Type == protocol.Categorical {
		if len(members) == 1 {
			return &protocol.Filter{Op: protocol.OpEq, Var: name, Value: members[0]}
		}
		return &protocol.Filter{Op: protocol.OpIn, Var: name, Values: slices.Clone(members)}
	}
	var args []*protocol.Filter
	for _, m := range members {
		x, _ := strconv.ParseFloat(m, 64)
		args = append(args, &protocol.Filter{Op: protocol.OpRange, Var: name, Min: &x, Max: &x})
	}
	if len(args) == 1 {
		return args[0]
	}
	return &protocol.Filter{Op: protocol.OpOr, Args: args}
}

// maxIPWClasses bounds the classes of an arm, the product of the discrete confounders'
// declared (merged) levels: every class is a released set the overlap guard keeps (classSets).
const maxIPWClasses = 512

// checkClassCount refuses, from the dictionary and the query alone, discrete confounders whose
// declared levels make more than maxIPWClasses classes.
func checkClassCount(ls *loadedStudy, confounders []string) error {
	classes := 1
	for _, name := range confounders {
		v := ls.vars[name]
		if v.Type != protocol.Categorical {
			if v = ls.integerGroups(v); v == nil {
				continue // continuous
			}
		}
		if classes *= max(len(v.Categories), 1); classes > maxIPWClasses {
			return errorf(protocol.CodeInvalid, "ipw: the discrete confounders' declared levels make more than %d classes of patients (their combinations) per arm; merge levels (ipw.merge) or leave a confounder out", maxIPWClasses)
		}
	}
	return nil
}
