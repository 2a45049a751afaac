package app

import (
	"context"

	"github.com/oncofed/oncofed/analysis"
	"github.com/oncofed/oncofed/protocol"
)

// The client's side of the two-phase pooled Cox round (docs/cox-protocol.md): phase 1 is an
// ordinary scatter-gather (protocol.CoxPooledSums) whose replies coxRoundStep pools into ℓ, U
// and the sites' weights; phase 2, asked only for a β the fit accepts, sends each site its own
// weights on its own subject (Network.QueryEach) and completes the Hessian (coxHessianRound).

// queryEach sends qs[site] to each site alone, as query does for a broadcast: malformed queries
// are refused here without sending, and connectivity is recorded.
func (s *Service) queryEach(ctx context.Context, qs map[string]protocol.Query) (*Gathered, error) {
	for site, q := range qs {
		if q.Version == "" {
			q.Version = protocol.Version
			qs[site] = q
		}
		if err := protocol.ValidateQuery(q); err != nil {
			return nil, Errorf(EInvalid, "the %s query to site %s is malformed and was not sent: %s", q.Kind, site, protocolMessage(err))
		}
	}
	if s.net == nil {
		return nil, Errorf(EUnavailable, "offline: no network is connected")
	}
	return s.reached(ctx)(s.net.QueryEach(ctx, qs))
}

// coxHessianQueries builds the phase-2 request of every site of a phase-1 round at beta, each
// with its own weights, and the round's stored form: the template without site and weights
// (the weights follow from the phase-1 replies, so a replay recomputes them).
func coxHessianQueries(phase1 protocol.Query, first []protocol.Reply, step *analysis.PooledCoxStep, newID func() string) (template protocol.Query, qs map[string]protocol.Query) {
	template = phase1
	cox := *phase1.Cox
	cox.Form = protocol.CoxPooledHessian
	template.Cox = &cox
	template.Auth = nil
	qs = make(map[string]protocol.Query, len(first))
	for k, rep := range first {
		q := template
		q.ID = newID()
		c := cox
		a, b := step.Weights(k)
		c.Site, c.Weights = rep.Site, &protocol.CoxWeights{A: a, B: b}
		q.Cox = &c
		qs[rep.Site] = q
	}
	return template, qs
}

// coxHessianRound completes the phase-1 contribution c (with step, from the replies first)
// with the sites' phase-2 replies second: every site of first must have answered.
func coxHessianRound(step *analysis.PooledCoxStep, c analysis.CoxContribution, first, second []protocol.Reply) (analysis.CoxContribution, error) {
	bySite := make(map[string]*protocol.CoxReply, len(second))
	for _, rep := range second {
		bySite[rep.Site] = rep.Cox
	}
	moments := make([][]float64, len(first))
	for k, rep := range first {
		r := bySite[rep.Site]
		if r == nil {
			return analysis.CoxContribution{}, Errorf(EInternal, "site %s: no second moment in the pooled round", rep.Site)
		}
		moments[k] = r.SecondMoment
	}
	full, err := step.Complete(moments)
	if err != nil {
		return full, WrapError(EInvalid, err, "the sites' second moments do not combine")
	}
	full.N, full.Events, full.CoefBound = c.N, c.Events, c.CoefBound
	return full, nil
}

// coxMembersAnswered returns the replies of g from the fit's member sites, or the error that
// aborts the fit when one of them did not contribute to this round.
func coxMembersAnswered(g *Gathered, members map[string]bool, round int) ([]protocol.Reply, error) {
	var kept []protocol.Reply
	got := map[string]bool{}
	for _, r := range sortReplies(g.Replies) {
		if members[r.Site] {
			kept = append(kept, r)
			got[r.Site] = true
		}
	}
	for _, site := range sortedKeys(members) {
		if got[site] {
			continue
		}
		// Say what happened: a refusal is the site's policy (not a lost network), an invalid
		// reply the site's fault; only a silent site is unavailable.
		const aborted = "the fit was aborted because every site must contribute to every round"
		for _, p := range g.Refused {
			if p.Site == site {
				e := Errorf(ERefusedByPolicy, "site %s refused round %d of the fit (%s); %s", site, round, p.Message, aborted)
				e.Refused = []SiteProblem{p}
				return nil, e
			}
		}
		for _, p := range g.Invalid {
			if p.Site == site {
				return nil, Errorf(EInvalid, "site %s sent an invalid reply in round %d of the fit (%s); %s", site, round, p.Message, aborted)
			}
		}
		return nil, Errorf(EUnavailable, "site %s stopped answering in round %d of the fit; %s", site, round, aborted)
	}
	return kept, nil
}

// coxWireForm is the form a Cox request asks on the wire: a pooled model's rounds ask phase 1.
func coxWireForm(form protocol.CoxForm) protocol.CoxForm {
	if form == protocol.CoxPooled {
		return protocol.CoxPooledSums
	}
	return form
}
