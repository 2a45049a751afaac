package app

import (
	"context"
	"fmt"
	"math"
	"sort"

	"github.com/oncofed/oncofed/protocol"
)

// A reply can be well formed (protocol.ValidateReply) and still impossible: a site that lies
// may release more patients than the study it published in its catalog holds. Such a reply
// is excluded from the merge and its site named among the invalid ones.

// releasedPatients is the number of patients a reply accounts for: the cohort of a count, the
// groups (and those without a group) of a summary or survival table, the complete cases and
// the excluded ones of a Cox contribution. ok is false for replies without a payload.
func releasedPatients(r protocol.Reply) (n int, ok bool) {
	switch {
	case r.Count != nil:
		return r.Count.Total.N, true
	case r.Summary != nil:
		n = r.Summary.MissingGroup.N
		for _, g := range r.Summary.Groups {
			n += g.N.N
		}
		return n, true
	case r.Survival != nil:
		n = r.Survival.MissingGroup.N
		for _, g := range r.Survival.Groups {
			for i := range g.Events {
				n += g.Events[i] + g.Censor[i]
			}
		}
		return n, true
	case r.Cox != nil:
		return r.Cox.N + r.Cox.Excluded, true // a suppressed Excluded is 0: a lower bound
	}
	return 0, false
}

// excludeImplausible moves to g.Invalid every reply that accounts for more patients than its
// site's catalog entry for the study (the released size, rounded up, so never below the
// truth). It checks a reply only against a catalog of the same data cut (a re-import may
// legitimately grow a study) and only when the cache holds the network's catalog.
func (s *Service) excludeImplausible(ctx context.Context, g *Gathered) {
	cat, err := s.cache.Catalog(ctx, s.network.ID)
	if err != nil || cat == nil {
		return
	}
	size := map[string]protocol.StudyCatalog{}
	for _, sc := range cat.Sites {
		for _, st := range sc.Studies {
			if st.Name == g.Query.Study {
				size[sc.Site] = st
			}
		}
	}
	kept := g.Replies[:0:0]
	for _, r := range g.Replies {
		st, known := size[r.Site]
		n, ok := releasedPatients(r)
		// A feasibility count is the size plus noise, rounded: it may exceed the true size by
		// the noise bound plus half the rounding.
		limit := st.Patients + r.Policy.FeasibilityNoise + r.Policy.FeasibilityRounding/2
		if d := r.Policy.DP; d != nil {
			// A differentially private size has Gaussian noise of the stated sd: 6 sd is
			// exceeded once in 10⁹ honest replies.
			limit += int(math.Ceil(6 * d.SizeSD))
		}
		if known && ok && !st.Suppressed && st.DataCut != "" && r.DataCut == st.DataCut && n > limit {
			g.Invalid = append(g.Invalid, SiteProblem{Site: r.Site, Code: protocol.CodeInvalid,
				Message: fmt.Sprintf("the reply accounts for %d patients, more than the %d its catalog lists for study %s (data cut %s)", n, st.Patients, st.Name, st.DataCut)})
			continue
		}
		kept = append(kept, r)
	}
	g.Replies = kept
	sort.Slice(g.Invalid, func(i, j int) bool { return g.Invalid[i].Site < g.Invalid[j].Site })
}
