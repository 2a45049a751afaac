package protocol

import (
	"fmt"
	"slices"
)

// LevelGroup is a group of levels of a grouping variable answered as one group, named Name.
type LevelGroup struct {
	Name   string   `json:"name"`
	Levels []string `json:"levels"`
}

// MaxMerged bounds the merged groups of a query.
const MaxMerged = 16

// validateMerge checks a query's Merge without the study: a grouping to merge, named groups
// of at least two distinct levels, no level in two groups, no two groups of one name.
func validateMerge(q Query) error {
	if len(q.Merge) == 0 {
		return nil
	}
	if q.GroupBy == "" {
		return queryErrorf(CodeInvalid, "merge: levels are merged only in a grouping (group_by)")
	}
	return validateLevelGroups("merge", q.Merge)
}

// validateLevelGroups checks the merged groups of one variable (path names them in errors):
// named groups of at least two distinct levels, no level in two groups, no two groups of one
// name.
func validateLevelGroups(path string, groups []LevelGroup) error {
	if len(groups) > MaxMerged {
		return queryErrorf(CodeInvalid, "%s: at most %d merged groups, got %d", path, MaxMerged, len(groups))
	}
	names, levels := map[string]bool{}, map[string]bool{}
	for i, g := range groups {
		if g.Name == "" || len(g.Name) > MaxNameLen {
			return queryErrorf(CodeInvalid, "%s[%d]: a merged group needs a name of at most %d bytes", path, i, MaxNameLen)
		}
		if names[g.Name] {
			return queryErrorf(CodeInvalid, "%s[%d]: group %q named twice", path, i, clipName(g.Name))
		}
		names[g.Name] = true
		if len(g.Levels) < 2 || len(g.Levels) > 256 {
			return queryErrorf(CodeInvalid, "%s[%d]: %q merges 2 to 256 levels, got %d", path, i, clipName(g.Name), len(g.Levels))
		}
		for _, l := range g.Levels {
			if l == "" || len(l) > MaxNameLen {
				return queryErrorf(CodeInvalid, "%s[%d]: an empty or too long level", path, i)
			}
			if levels[l] {
				return queryErrorf(CodeInvalid, "%s[%d]: level %q is merged twice", path, i, clipName(l))
			}
			levels[l] = true
		}
	}
	return nil
}

// MergedGroups are the groups of a variable with levels (in the study's declared order) once
// merge is applied: each merged group takes the place of its first level, the other levels
// keep theirs. members[k] are the levels of group names[k]. A merged level that is not one of
// levels, or a group named like a level it does not contain, is an error naming it.
func MergedGroups(levels []string, merge []LevelGroup) (names []string, members [][]string, err error) {
	into := map[string]int{}
	for i, g := range merge {
		for _, l := range g.Levels {
			if !slices.Contains(levels, l) {
				return nil, nil, fmt.Errorf("merge: %q is not a level (levels: %v)", l, levels)
			}
			into[l] = i
		}
		if slices.Contains(levels, g.Name) && !slices.Contains(g.Levels, g.Name) {
			return nil, nil, fmt.Errorf("merge: the merged group %q is named like another level", g.Name)
		}
	}
	placed := map[int]int{}
	for _, l := range levels {
		i, merged := into[l]
		switch {
		case !merged:
			names, members = append(names, l), append(members, []string{l})
		case placed[i] == 0:
			names, members = append(names, merge[i].Name), append(members, []string{l})
			placed[i] = len(names)
		default:
			k := placed[i] - 1
			members[k] = append(members[k], l)
		}
	}
	return names, members, nil
}
