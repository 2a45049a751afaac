package app

import (
	"sort"

	"github.com/oncofed/oncofed/protocol"
)

// PerSiteKM is group's Kaplan–Meier curve at each answering site, from the survival tables
// the sites released (so under each site's own bins and merging), with the log-rank test
// across sites: a result grouped by "site" whose groups are the site names. The pooled
// result r is not changed. The view is computed from r's aggregates and holds none itself
// (Rounds is nil): it is shown, never stored or rendered again.
func PerSiteKM(r *Result, group string) (*Result, error) {
	if len(r.Rounds) == 0 {
		return nil, Errorf(EInternal, "the result holds no aggregates")
	}
	var replies []protocol.Reply
	for _, rep := range r.Rounds[0].Replies {
		if rep.Survival == nil {
			continue
		}
		for _, g := range rep.Survival.Groups {
			if g.Group != group {
				continue
			}
			// The site's own reply (its policy effects) with only this group, named by the site.
			s := *rep.Survival
			g.Group = rep.Site
			s.Groups = []protocol.SurvivalGroup{g}
			rep.Survival = &s
			replies = append(replies, rep)
		}
	}
	if len(replies) == 0 {
		name := group
		if name == "" {
			name = "all patients"
		}
		return nil, Errorf(ENotFound, "no site released a table for %s", name)
	}
	// Sites in name order, whatever order their replies arrived in.
	var sites []string
	for _, rep := range replies {
		sites = append(sites, rep.Site)
	}
	sort.Strings(sites)
	km, err := renderKMGroups(replies, r.Request.Landmarks, sites)
	if err != nil {
		return nil, err
	}
	km.StratifiedLogRank = nil // one stratum per site: it would repeat the test across sites
	km.MissingGroup = Count{}  // about the grouping of the pooled view, not about the sites
	req := r.Request
	req.GroupBy = "site"
	return &Result{ID: r.ID, Name: r.Name, Network: r.Network, Request: req, Provenance: r.Provenance,
		Cached: r.Cached, KM: km}, nil
}
