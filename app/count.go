package app

import (
	"context"
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

// Count counts a cohort (req.Kind is set to count) on the network for live feasibility: the
// result is rendered with its provenance but not stored in the library, and it is not
// answered from the library when offline (the error then has code EUnavailable).
//
// Privacy: every count a site answers is charged to the analyst's query budget and its
// patient set is remembered by the site's overlap guard, so a feasibility panel that counted
// on every edit would use up the budget and trip the guard on the analyst's own near-identical
// cohorts. The UI debounces edits; Count in addition answers a cohort definition it counted in
// the last two minutes from memory (the same Result, RanAt telling its age), so undoing an
// edit, toggling a filter back and forth or switching tabs sends nothing. The key is the
// request without its display name.
//
// A count that every site refused is not an error: the Result then has no Count and its
// provenance lists the refusals (feasibility shows why). It is an error (as for Run) when no
// site answered at all.
func (s *Service) Count(ctx context.Context, req Request) (*Result, error) {
	req.Kind = protocol.KindCount
	req.CohortName = ""
	req.Endpoint, req.Variables, req.Bins, req.Landmarks, req.Cox = "", nil, nil, nil, nil
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

	q := s.baseQuery(req)
	q.ID = s.newID()
	g, err := s.query(ctx, q)
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
	} else if err := s.finish(ctx, r, g); err != nil {
		return nil, err
	}
	r.Provenance.RanAt = now
	r.Provenance.Elapsed = s.now().Sub(now)
	// Only a complete answer is remembered: a site that was slow this time is asked again.
	if len(g.Missing) == 0 {
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
