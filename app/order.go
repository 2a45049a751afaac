package app

import (
	"slices"
	"strings"
)

// InOrder is r with its Kaplan–Meier groups in the analyst's order: the groups order names
// first, as listed, then any other group in the study's declared order. Names that are not a
// group of r are ignored. r itself is not changed; with no order, or a result that is not a
// Kaplan–Meier one, InOrder returns r.
func InOrder(r *Result, order []string) *Result {
	if r == nil || r.KM == nil || len(order) == 0 {
		return r
	}
	groups := make([]KMGroup, 0, len(r.KM.Groups))
	for _, name := range order {
		if i := slices.IndexFunc(r.KM.Groups, func(g KMGroup) bool { return g.Group == name }); i >= 0 &&
			!slices.ContainsFunc(groups, func(g KMGroup) bool { return g.Group == name }) {
			groups = append(groups, r.KM.Groups[i])
		}
	}
	for _, g := range r.KM.Groups {
		if !slices.Contains(order, g.Group) {
			groups = append(groups, g)
		}
	}
	km := *r.KM
	km.Groups = groups
	out := *r
	out.KM = &km
	return &out
}

// ParseOrder reads an order of groups as the CLI's --group-order takes it, comma-separated
// values ("IV,III,II,I"), and checks each against the groups there will be (the grouping's
// levels, after any merge: protocol.MergedGroups). Unknown and repeated values are errors
// that name them.
func ParseOrder(s string, groups []string) ([]string, error) {
	var out []string
	for v := range strings.SplitSeq(s, ",") {
		if v = strings.TrimSpace(v); v == "" {
			continue
		}
		if slices.Contains(out, v) {
			return nil, Errorf(EInvalid, "group %q is listed twice", v)
		}
		if !slices.Contains(groups, v) {
			return nil, Errorf(EInvalid, "%q is not a group (the groups are %s)", v, strings.Join(groups, ", "))
		}
		out = append(out, v)
	}
	return out, nil
}
