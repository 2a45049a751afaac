package app

import (
	"context"
	"math"
	"slices"
	"strconv"
	"strings"

	"github.com/oncofed/oncofed/protocol"
)

// Coarsening confounders of a weighted comparison (IPWSpec.Merge, docs/ipw.md "Coarsening
// confounders"): groups of a discrete confounder's levels count as one. The CLI's --merge and
// the desktop's Compare tab both read and check merges here.

// IPWMergeLevels returns what a merge of confounder name may group: a categorical variable's
// declared categories, or a discrete numeric one's whole values of its declared range (ECOG's
// "0" … "5"); an error for a continuous variable or one the study does not declare.
func IPWMergeLevels(st *Study, name string) ([]string, error) {
	v := st.Variable(name)
	if v == nil {
		return nil, Errorf(EInvalid, "study %s has no variable %s", st.Name, name)
	}
	if v.Type == protocol.Categorical {
		return slices.Clone(v.Categories), nil
	}
	if !v.Discrete || v.Min == nil || v.Max == nil || math.IsInf(*v.Max-*v.Min, 0) {
		return nil, Errorf(EInvalid, "%s is continuous; only categorical confounders and discrete numeric ones (whole values of a declared range, such as ECOG) have levels to merge", name)
	}
	var out []string
	for x := math.Ceil(*v.Min); x <= *v.Max; x++ {
		out = append(out, strconv.FormatFloat(x, 'f', -1, 64))
	}
	return out, nil
}

// IPWMergeGroup is the merged group of levels, named LEVEL+LEVEL (the merged level's name in
// the design, e.g. the column ecogecog2+ecog3).
func IPWMergeGroup(levels []string) protocol.LevelGroup {
	return protocol.LevelGroup{Name: strings.Join(levels, "+"), Levels: slices.Clone(levels)}
}

// ParseIPWMerge reads merges written VAR=LEVEL,LEVEL;VAR=LEVEL,LEVEL (the CLI's --merge), each
// group named by IPWMergeGroup; "" is no merge.
func ParseIPWMerge(text string) (map[string][]protocol.LevelGroup, error) {
	if strings.TrimSpace(text) == "" {
		return nil, nil
	}
	out := map[string][]protocol.LevelGroup{}
	for _, part := range strings.Split(text, ";") {
		name, list, ok := strings.Cut(part, "=")
		name = strings.TrimSpace(name)
		if !ok || name == "" {
			return nil, Errorf(EInvalid, "%q is not VAR=LEVEL,LEVEL", part)
		}
		var lv []string
		for _, l := range strings.Split(list, ",") {
			if l = strings.TrimSpace(l); l != "" {
				lv = append(lv, l)
			}
		}
		out[name] = append(out[name], IPWMergeGroup(lv))
	}
	return out, nil
}

// CheckIPWMerge checks merge against the study's declarations: every merged variable a
// confounder with levels to merge (IPWMergeLevels), every group 2 or more of its levels, no
// level in two groups. It returns levels (each categorical confounder's design levels,
// reference first; nil for none given) with every merged categorical confounder's levels
// replaced by the merged ones, a merged group in its first level's place.
func CheckIPWMerge(st *Study, confounders []string, merge map[string][]protocol.LevelGroup, levels map[string][]string) (map[string][]string, error) {
	out := maps2(levels)
	for _, name := range sortedKeys(merge) {
		groups := merge[name]
		if !slices.Contains(confounders, name) {
			return nil, Errorf(EInvalid, "%s is merged but is not among the confounders", name)
		}
		declared, err := IPWMergeLevels(st, name)
		if err != nil {
			return nil, err
		}
		q := protocol.Query{Version: protocol.Version, Kind: protocol.KindCount, Study: st.Name, GroupBy: name, Merge: groups}
		if err := protocol.ValidateQuery(q); err != nil {
			return nil, WrapError(EInvalid, err, "%s: %v", name, err)
		}
		if _, _, err := protocol.MergedGroups(declared, groups); err != nil {
			return nil, WrapError(EInvalid, err, "%s: %v", name, err)
		}
		if lv, ok := levels[name]; ok {
			merged, _, err := protocol.MergedGroups(lv, groups)
			if err != nil {
				return nil, WrapError(EInvalid, err, "%s: %v", name, err)
			}
			out[name] = merged
		}
	}
	if len(out) == 0 {
		out = nil
	}
	return out, nil
}

// prepareIPWMerge gives each merged categorical confounder without levels of its own the
// catalog's categories merged (the levels the sites' merged design names), so that a request
// naming only the merge (the desktop's) is prepared like one giving both (the CLI's).
func (s *Service) prepareIPWMerge(ctx context.Context, study string, spec *IPWSpec) error {
	if len(spec.Merge) == 0 {
		return nil
	}
	cat, err := s.cache.Catalog(ctx, s.network.ID)
	if err != nil && ErrorCode(err) != ENotFound {
		return err
	}
	st := cat.Study(study)
	if st == nil {
		return Errorf(EInvalid, "study %s is not in the catalog; refresh the catalog first", study)
	}
	missing := map[string][]string{}
	for name := range spec.Merge {
		if v := st.Variable(name); v != nil && v.Type == protocol.Categorical && spec.Levels[name] == nil {
			missing[name] = slices.Clone(v.Categories)
		}
	}
	merged, err := CheckIPWMerge(st, spec.Confounders, spec.Merge, missing)
	if err != nil {
		return err
	}
	if len(merged) > 0 {
		levels := maps2(spec.Levels)
		for name, lv := range merged {
			levels[name] = lv
		}
		spec.Levels = levels
	}
	return nil
}
