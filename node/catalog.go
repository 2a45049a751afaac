package node

import (
	"context"
	"sort"

	"github.com/oncofed/oncofed/protocol"
)

// catalog lists the studies (one when name is set) as released under the policy.
func (e *Engine) catalog(ctx context.Context, name string) (*protocol.Catalog, error) {
	infos, err := e.store.Studies(ctx)
	if err != nil {
		return nil, err
	}
	cat := &protocol.Catalog{Site: e.site, Policy: e.policy, Auth: e.Auth(), Studies: []protocol.StudyCatalog{}}
	for _, info := range infos {
		if name != "" && info.Name != name {
			continue
		}
		ls, err := e.study(ctx, info.Name)
		if err != nil {
			return nil, err
		}
		// The dictionary part (variables, categories, ranges, endpoints, version, hash) is the
		// study's declared one, the same bytes at every site of the study whatever its rows.
		sc := protocol.StudyCatalog{Name: info.Name, DataCut: ls.data.DataCut, StudyVersion: ls.data.StudyVersion, Title: ls.data.Title}
		sc.Patients, sc.Suppressed = e.catalogCount(ls.data.Len())
		sc.Variables, sc.Endpoints = ls.data.Dictionary()
		for _, ep := range ls.data.Endpoints {
			if ep.Entry != nil { // declared at import (--entry), whatever the rows hold
				sc.DelayedEntry = append(sc.DelayedEntry, ep.Name)
			}
		}
		if ls.info.DictionaryHash != "" {
			// Not for a study imported before dictionaries were declared (its categories were
			// read off its rows): clients label it instead of taking it for a declared one.
			sc.DictionaryHash = protocol.DictionaryHash(sc.StudyVersion, sc.Variables, sc.Endpoints)
		}
		cat.Studies = append(cat.Studies, sc)
	}
	if name != "" && len(cat.Studies) == 0 {
		return nil, errorf(protocol.CodeNotFound, "no study %q at site %q", clip(name), e.site)
	}
	sort.Slice(cat.Studies, func(i, j int) bool { return cat.Studies[i].Name < cat.Studies[j].Name })
	return cat, nil
}

// catalogCount is a study's size as the catalog shows it: suppressed below min_cohort,
// otherwise rounded UP to a multiple of 10 (so a released count never exceeds it) unless the
// policy releases exact cells (min_cell 0).
func (e *Engine) catalogCount(n int) (int, bool) {
	if n < e.policy.MinCohort {
		return 0, true
	}
	if e.policy.MinCell > 0 {
		return (n + 9) / 10 * 10, false
	}
	return n, false
}
