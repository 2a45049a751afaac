package app

import (
	"context"
	"math"
	"slices"
	"sync"
	"time"

	"github.com/oncofed/oncofed/protocol"
)

// countMemory is how long Count remembers an answer, and how many cohorts it remembers.
const (
	countMemory  = 2 * time.Minute
	countEntries = 64
)

type countEntry struct {
	at time.Time
	r  *Result
}

// Count gives the approximate size of a cohort for live feasibility (req.Kind is set to
// count): every site answers a feasibility count (protocol.Query.Feasibility), its true count
// plus noise that depends only on the patient set, rounded (CountResult.Approximate, Rounding,
// Noise say so); a cohort too small at a site is refused there, which SmallCohort recognises.
// With req.GroupBy naming a categorical variable of at most maxFeasibilityGroups categories,
// each group is counted the same way as its own cohort (the cohort and GroupBy in {group}),
// concurrently; a group a site refuses as too small is counted there as suppressed below the
// site's min_cohort. The result is rendered with its provenance but not stored in the library,
// and it is not answered from the library when offline (the error then has code EUnavailable).
//
// Privacy: feasibility counts are not remembered by the sites' overlap guards, so editing
// filters does not make a site refuse the exact analysis (Run) of the final cohort; they are
// charged to the sites' daily query budget at a fraction of a query (feasibility_cost), or to
// a dp analyst's ρ budget at dp_rho_feasibility. A site answers the same patient set
// the same way however it is asked, so asking again learns nothing; still, Count answers a
// cohort definition it counted in the last two minutes from memory (the same Result, RanAt
// telling its age), so undoing an edit, toggling a filter back and forth or switching tabs
// sends nothing. The key is the request without its display name.
//
// A count that every site refused is not an error: the Result then has no Count and its
// provenance lists the refusals (feasibility shows why). It is an error (as for Run) when no
// site answered at all. Only Rounds[0] (the cohort's count) is kept in the Result; the
// groups' replies are merged into Count.Groups and PerSite[i].Groups and not kept.
func (s *Service) Count(ctx context.Context, req Request) (*Result, error) {
	req.Kind = protocol.KindCount
	req.CohortName = ""
	req.Endpoint, req.Variables, req.Bins, req.Discrete, req.Landmarks, req.Cox = "", nil, nil, nil, nil, nil
	if err := validate(req); err != nil {
		return nil, err
	}
	key := req.Key()
	now := s.now()
	s.mu.Lock()
	if e, ok := s.counts[key]; ok && now.Sub(e.at) < countMemory {
		s.mu.Unlock()
		return e.r, nil
	}
	s.mu.Unlock()

	groups := s.feasibilityGroups(ctx, req)
	q := s.baseQuery(req)
	q.GroupBy, q.Merge, q.Feasibility = "", nil, true
	q.ID = s.newID()
	// The groups are asked while the cohort is: one round trip for the panel.
	groupGathered := make([]*Gathered, len(groups))
	var wg sync.WaitGroup
	for i, grp := range groups {
		gq := q
		gq.ID = s.newID()
		gq.Cohort = withinGroup(req.Cohort, req.GroupBy, grp.levels)
		wg.Add(1)
		go func() {
			defer wg.Done()
			if g, err := s.query(ctx, gq); err == nil {
				s.excludeImplausible(ctx, g)
				groupGathered[i] = g
			}
		}()
	}
	g, err := s.query(ctx, q)
	wg.Wait()
	if err != nil {
		return nil, err
	}
	s.excludeImplausible(ctx, g)
	r := &Result{Network: s.network.ID, Request: req, Rounds: []Round{{Query: q, Replies: sortReplies(g.Replies)}}}
	if len(g.Replies) == 0 {
		if len(g.Refused) == 0 {
			return nil, noAnswer(g)
		}
		p := &r.Provenance
		p.Expected, p.Missing = sortedCopy(g.Expected), sortedCopy(g.Missing)
		p.Refused, p.Invalid = g.Refused, g.Invalid
	} else if err := s.finish(ctx, r, g, nil); err != nil {
		return nil, err
	} else if len(groups) > 0 {
		mergeFeasibilityGroups(r.Count, groups, groupGathered)
	}
	r.Provenance.RanAt = now
	r.Provenance.Elapsed = s.now().Sub(now)
	// Only a complete answer is remembered: a site that was slow this time is asked again.
	complete := len(g.Missing) == 0
	for _, gg := range groupGathered {
		complete = complete && gg != nil && len(gg.Missing) == 0
	}
	if complete {
		s.mu.Lock()
		if s.counts == nil {
			s.counts = map[string]countEntry{}
		}
		for k, e := range s.counts {
			if now.Sub(e.at) >= countMemory {
				delete(s.counts, k)
			}
		}
		if len(s.counts) >= countEntries {
			oldest := ""
			for k, e := range s.counts {
				if oldest == "" || e.at.Before(s.counts[oldest].at) {
					oldest = k
				}
			}
			delete(s.counts, oldest)
		}
		s.counts[key] = countEntry{at: now, r: r}
		s.mu.Unlock()
	}
	return r, nil
}

// maxFeasibilityGroups bounds the groups Count asks for separately (each is a query to every
// site, charged to their budgets).
const maxFeasibilityGroups = 12

// feasibilityGroup is a group Count asks for as its own cohort: a category, or a merged
// group of several (Request.Merge).
type feasibilityGroup struct {
	name   string
	levels []string
}

// feasibilityGroups returns the groups of req.GroupBy in the cached catalog (its categories,
// with req.Merge's levels merged) that the cohort admits, or nil when there is no grouping,
// the variable is not categorical or has too many categories.
func (s *Service) feasibilityGroups(ctx context.Context, req Request) []feasibilityGroup {
	if req.GroupBy == "" {
		return nil
	}
	cat, err := s.cache.Catalog(ctx, s.network.ID)
	if err != nil || cat == nil {
		return nil
	}
	st := cat.Study(req.Study)
	if st == nil {
		return nil
	}
	v := st.Variable(req.GroupBy)
	if v == nil || v.Type != protocol.Categorical || len(v.Categories) == 0 || len(v.Categories) > maxFeasibilityGroups {
		return nil
	}
	// A category the cohort's filter rules out ("stage in (IVA, IVB)" grouped by stage) is
	// known to be empty from the query alone: asking for it would spend the sites' budgets
	// and come back as "<m", which reads as a group too small to analyse.
	names, members, err := protocol.MergedGroups(v.Categories, req.Merge)
	if err != nil {
		return nil
	}
	var groups []feasibilityGroup
	for k, name := range names {
		admitted := false
		for _, c := range members[k] {
			admitted = admitted || req.Cohort.Admits(req.GroupBy, c)
		}
		if admitted {
			groups = append(groups, feasibilityGroup{name, members[k]})
		}
	}
	return groups
}

// withinGroup is the cohort restricted to one group: cohort AND variable in levels.
func withinGroup(cohort *protocol.Filter, variable string, levels []string) *protocol.Filter {
	in := &protocol.Filter{Op: protocol.OpIn, Var: variable, Values: slices.Clone(levels)}
	if cohort == nil {
		return in
	}
	return &protocol.Filter{Op: protocol.OpAnd, Args: []*protocol.Filter{cohort, in}}
}

// mergeFeasibilityGroups adds the groups' feasibility counts to c: per site the approximate
// count, or suppressed below the site's min_cohort when the site refused the group as too
// small; pooled, their sum over the sites that answered the cohort. A group no site counted
// (unreachable, refused for another reason) is left out.
func mergeFeasibilityGroups(c *CountResult, groups []feasibilityGroup, gathered []*Gathered) {
	sites := map[string]*SiteCount{}
	for i := range c.PerSite {
		sites[c.PerSite[i].Site] = &c.PerSite[i]
	}
	for i, grp := range groups {
		g, name := gathered[i], grp.name
		if g == nil {
			continue
		}
		pooled, counted := Count{}, false
		add := func(site string, n Count) {
			sc := sites[site]
			if sc == nil {
				return // the site did not count the cohort: not in the pooled total either
			}
			if sc.Groups == nil {
				sc.Groups = map[string]Count{}
			}
			sc.Groups[name] = n
			pooled, counted = pooled.Add(n), true
		}
		for _, rep := range g.Replies {
			if rep.Count != nil {
				add(rep.Site, releasedCount(rep.Count.Total, rep.Policy.MinCell))
			}
		}
		for _, p := range g.Refused {
			if m, ok := SmallCohort(p); ok {
				// In 0..m−1 (an empty group is refused too): shown as "<m".
				add(p.Site, Count{Suppressed: true, Max: m - 1})
			}
		}
		if counted {
			c.Groups = append(c.Groups, GroupCount{Group: name, N: pooled})
		}
	}
}

// SmallCohort reports whether a site refused because the cohort (or, for a feasibility count,
// its approximate size) is below the site's min_cohort, and that minimum: the refusal's reason
// protocol.ReasonSmallCohort, which the node gives exact and feasibility counts alike so that
// neither tells more than the other. (A node older than the reason codes is not recognised:
// its refusal is shown as a refusal, with its message.)
func SmallCohort(p SiteProblem) (minCohort int, ok bool) {
	if p.Code != protocol.CodeRefusedByPolicy || p.Reason != protocol.ReasonSmallCohort || p.Limit < 1 || p.Limit > math.MaxInt32 {
		return 0, false
	}
	return int(p.Limit), true
}
