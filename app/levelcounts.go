package app

import (
	"context"
	"sort"
	"strings"

	"github.com/oncofed/oncofed/protocol"
)

// Patients and events per level of a Cox model's categorical covariates (the N and events
// columns of R summaries and gtsummary's HR tables).
//
// They are not a new release: they are the totals of the Kaplan–Meier tables by that covariate
// over the model's complete cases (the cohort itself when the model left nobody out, else the
// cohort with every covariate present), which an analyst may ask anyway, through the same release path (min_cohort per group, overlap guard, budget,
// audit; a grouped table's rows are never suppressed, so its totals are exact). So the client
// asks exactly that: one survival query per categorical covariate. A site of the model that
// refuses it (a level below its min_cohort, which the model's own rule, min_cell, allows) or
// does not answer makes the counts incomplete, and they are then not shown, with the reason:
// a partial count next to a model of every site would mislead.

// LevelCount is the model's patients and events at one level.
type LevelCount struct {
	N, Events int
}

// LevelCounts are the counts per level of each categorical covariate of a Cox model, or why
// there are none (Missing).
type LevelCounts struct {
	ByLevel map[string]map[string]LevelCount // covariate → level → counts
	// Missing says, for a covariate without counts, why ("site X refused: …").
	Missing map[string]string
}

// For returns the count of level of covariate v, and whether there is one.
func (lc *LevelCounts) For(v, level string) (LevelCount, bool) {
	if lc == nil {
		return LevelCount{}, false
	}
	c, ok := lc.ByLevel[v][level]
	return c, ok
}

// CoxLevelCounts asks, for each categorical covariate of the Cox result r, the sites' survival
// tables by it over the model's complete cases, and adds their totals per level.
func (s *Service) CoxLevelCounts(ctx context.Context, r *Result) (*LevelCounts, error) {
	if r == nil || r.Request.Kind != protocol.KindCox || r.Request.Cox == nil || r.Cox == nil {
		return nil, Errorf(EInvalid, "counts per level need a Cox result")
	}
	if r.Cox.Form == protocol.CoxDPTables {
		return nil, Errorf(EInvalid, "a model fitted on differentially private tables has no exact counts per level")
	}
	spec := r.Request.Cox
	members := map[string]bool{}
	for _, se := range r.Cox.PerSite {
		members[se.Site] = true
	}
	// When the model left nobody out, its complete cases are the cohort itself: ask the tables
	// by the covariate over the cohort, a patient set the overlap guard knows (a cohort with
	// "present" conditions is one it must treat as possibly a few patients away from it, and
	// refuses next to the model's release).
	cohort := r.Request.Cohort
	if ex := r.Cox.Excluded; ex.N > 0 || ex.Suppressed {
		complete := []*protocol.Filter{}
		if r.Request.Cohort != nil {
			complete = append(complete, r.Request.Cohort)
		}
		for _, v := range append(append([]string(nil), spec.Covariates...), spec.Strata) {
			if v != "" {
				complete = append(complete, &protocol.Filter{Op: protocol.OpPresent, Var: v})
			}
		}
		cohort = &protocol.Filter{Op: protocol.OpAnd, Args: complete}
	}
	out := &LevelCounts{ByLevel: map[string]map[string]LevelCount{}, Missing: map[string]string{}}
	for _, v := range spec.Covariates {
		if _, categorical := spec.Levels[v]; !categorical {
			continue
		}
		req := Request{Kind: protocol.KindSurvival, Study: r.Request.Study, Endpoint: r.Request.Endpoint, GroupBy: v, Cohort: cohort}
		q := s.baseQuery(req)
		q.ID = s.newID()
		g, err := s.query(ctx, q)
		if err != nil {
			return nil, err
		}
		if why := levelCountsMissing(g, members); why != "" {
			out.Missing[v] = why
			continue
		}
		counts := map[string]LevelCount{}
		for _, rep := range g.Replies {
			if !members[rep.Site] || rep.Survival == nil {
				continue
			}
			for _, grp := range rep.Survival.Groups {
				c := counts[grp.Group]
				for k := range grp.Time {
					c.N += grp.Events[k] + grp.Censor[k]
					c.Events += grp.Events[k]
				}
				counts[grp.Group] = c
			}
		}
		out.ByLevel[v] = counts
	}
	return out, nil
}

// levelCountsMissing says which member sites of the model did not answer g, and why; "" when
// every one did.
func levelCountsMissing(g *Gathered, members map[string]bool) string {
	answered := map[string]bool{}
	for _, rep := range g.Replies {
		answered[rep.Site] = rep.Survival != nil
	}
	var why []string
	for _, site := range sortedKeys(members) {
		if answered[site] {
			continue
		}
		reason := "did not answer"
		for _, p := range append(append([]SiteProblem(nil), g.Refused...), g.Invalid...) {
			if p.Site == site {
				reason = "refused: " + p.Message
			}
		}
		why = append(why, site+" "+reason)
	}
	sort.Strings(why)
	return strings.Join(why, "; ")
}
