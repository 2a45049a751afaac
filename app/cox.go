package app

// Cox models over the network: the Newton–Raphson rounds, centring and estimable columns.

import (
	"context"
	"math"
	"slices"

	"github.com/oncofed/oncofed/analysis"
	"github.com/oncofed/oncofed/protocol"
)

func (s *Service) runCox(ctx context.Context, req Request) (*Result, error) {
	// The request is stored as asked; a θ chosen leave one site out is kept with the result
	// (RidgeChoice) and fitted with (chosen).
	chosen, choice, err := s.preparePenalty(ctx, req)
	if err != nil {
		return nil, err
	}
	m, err := s.fitCoxModel(ctx, chosen)
	if err != nil {
		return nil, err
	}
	m.Cox.RidgeChoice = choice
	if pen := chosen.Cox.Penalty; pen != nil && pen.Scale {
		m.Cox.RidgeScale = pen.weights
		if err := sameSites(pen.moments, m.Cox.PerSite); err != nil {
			return nil, err
		}
	}
	if req.Cox.Validate == ValidateLOSO {
		if coxForm(chosen.Cox.Form) == protocol.CoxDPTables {
			// From the tables the model was fitted on: no query (losodp.go).
			g := m.First
			if m.Cox.Validation, err = validateDPTables(m.Rounds[0].Replies, dpSatOut(&Provenance{Refused: g.Refused, Invalid: g.Invalid, Missing: g.Missing}), chosen.Cox, chosen.Landmarks); err == nil {
				m.Cox.Validation.DP.TablesFrom = m.Cox.DPTablesFrom
			}
		} else {
			m.Cox.Validation, err = s.ValidateLOSO(ctx, chosen)
		}
		if err != nil {
			return nil, err
		}
	}
	if req.Cox.ZPH != "" {
		m.Cox.ZPH = s.zphWithModel(ctx, req, m)
	}
	r := &Result{Network: s.network.ID, Request: req, Rounds: m.Rounds, Cox: m.Cox}
	if err := s.finish(ctx, r, m.First, m.Steps); err != nil {
		return nil, err
	}
	return r, nil
}

// CoxModel is a Cox model fitted over the network and not stored: its payload, its rounds and
// the first round's scatter-gather (which sites were asked, answered, refused or missed it;
// the sites that answer the first round are the model's sites).
type CoxModel struct {
	Request Request // as prepared: the categorical covariates' levels filled from the catalog
	Cox     *CoxResult
	Rounds  []Round
	First   *Gathered
	// Steps are the fit's evaluations, the trace of the result when it is stored.
	Steps []CoxStep
}

// FitCoxModel fits the Cox model of req (its Kind is taken as cox) over the network without
// storing it: the entry point of every analysis built from many Cox models (the biomarker
// screen), so that they share the protocol and its rules with Run. An error from the first
// round (every site refused, the network is down) carries the sites' refusals (Error.Refused).
func (s *Service) FitCoxModel(ctx context.Context, req Request) (*CoxModel, error) {
	req.Kind = protocol.KindCox
	if err := s.prepare(ctx, &req); err != nil {
		return nil, err
	}
	return s.fitCoxModel(ctx, req)
}

// fitCoxModel fits the prepared Cox request req (see runCox).
func (s *Service) fitCoxModel(ctx context.Context, req Request) (*CoxModel, error) {
	return s.fitCoxModelVia(ctx, req, s)
}

// coxTransport carries the scatter-gathers of one Cox fit: the service's own (one query per
// round), or a screen's batch (screenBatch), which carries the rounds of every marker's fit in
// one screen query.
type coxTransport interface {
	query(ctx context.Context, q protocol.Query) (*Gathered, error)
	queryEach(ctx context.Context, qs map[string]protocol.Query) (*Gathered, error)
}

// fitCoxModelVia fits the prepared Cox request req with its rounds sent through tr.
func (s *Service) fitCoxModelVia(ctx context.Context, req Request, tr coxTransport) (*CoxModel, error) {
	ties, err := coxTies(req.Cox.Ties)
	if err != nil {
		return nil, err
	}
	form := coxForm(req.Cox.Form)
	if form == protocol.CoxDPTables {
		return s.fitDPModel(ctx, req)
	}
	base := s.baseQuery(req)
	var origin map[string]float64
	if form == protocol.CoxPooled {
		origin = s.coxOrigin(ctx, req)
	}
	var (
		rounds  []Round
		first   *Gathered
		members map[string]bool
		terms   []string
	)
	eval := func(beta []float64) (contrib analysis.CoxContribution, complete func() (analysis.CoxContribution, error), err error) {
		q := base
		q.ID = s.newID()
		q.Cox = &protocol.CoxRequest{Form: coxWireForm(form), Ties: ties.String(), Covariates: req.Cox.Covariates,
			Levels: req.Cox.Levels, Beta: slices.Clone(beta), Strata: req.Cox.Strata,
			Indicators: req.Cox.Indicators, Interactions: req.Cox.Interactions, Origin: origin}
		g, err := tr.query(ctx, q)
		if err != nil {
			if len(rounds) > 0 {
				return contrib, nil, WrapError(EUnavailable, err, "the network was lost in round %d of the Cox fit; the fit was aborted", len(rounds)+1)
			}
			return contrib, nil, err
		}
		replies := sortReplies(g.Replies)
		if first == nil {
			if err := noAnswer(g); err != nil {
				return contrib, nil, err
			}
			first, members = g, map[string]bool{}
			for _, r := range replies {
				members[r.Site] = true
			}
		} else if replies, err = coxMembersAnswered(g, members, len(rounds)+1); err != nil {
			return contrib, nil, err
		}
		rounds = append(rounds, newRound(q, replies, g))
		if len(rounds) == 1 {
			copy(terms, coxTerms(replies, len(beta)))
		}
		c, _, step, err := coxRoundStep(replies, q.Cox.Form, ties, beta)
		if err != nil || step == nil {
			return c, func() (analysis.CoxContribution, error) { return c, nil }, err
		}
		// Phase 2, only when the fit uses this β's Hessian: each site gets its own weights.
		return c, func() (analysis.CoxContribution, error) {
			template, qs := coxHessianQueries(q, replies, step, s.newID)
			g2, err := tr.queryEach(ctx, qs)
			if err != nil {
				return c, WrapError(EUnavailable, err, "the network was lost in round %d of the Cox fit; the fit was aborted", len(rounds)+1)
			}
			second, err := coxMembersAnswered(g2, members, len(rounds)+1)
			if err != nil {
				return c, err
			}
			rounds = append(rounds, newRound(template, second, g2))
			return coxHessianRound(step, c, replies, second)
		}, nil
	}
	p, err := s.coxColumns(ctx, req)
	if err != nil {
		return nil, err
	}
	// The live fit is the result's payload. Its evaluations are recorded as the result's trace,
	// and reopening the result replays them through the same FitCox (renderCoxTrace: the same
	// contributions at the same β, the terms named by the first round), so it renders the same
	// bits without a second fit here; TestOfflineOpenEveryKind checks that. FitCox reads the
	// terms only after its first evaluation, which names them.
	terms = make([]string, p)
	rec := &coxRecorder{}
	out, err := fitCox(rec.wrap(eval), p, req, form, terms)
	if err != nil {
		return nil, err
	}
	// The per-site counts for a model that is not stored (the trace keeps them for one that is).
	out.addSites(coxSiteSummaries(rounds[0].Replies))
	if form == protocol.CoxPooled && out.FitError == "" {
		// The baseline for prediction, from the replies the fit already has (docs/prediction.md);
		// kept in the trace, since the replies are not.
		if out.Baseline, err = coxBaseline(rounds, out.Fit, ties); err != nil {
			out.NoBaseline = err.Error()
		}
	}
	return &CoxModel{Request: req, Cox: out, Rounds: rounds, First: first, Steps: rec.steps}, nil
}

// coxColumns counts the design columns of a Cox request from the catalog: one per numeric
// covariate, levels−1 per categorical one (treatment contrasts).
func (s *Service) coxColumns(ctx context.Context, req Request) (int, error) {
	p := 0
	width := map[string]int{}
	for _, v := range req.Cox.Covariates {
		w := 1
		if lv, ok := req.Cox.Levels[v]; ok {
			w = len(lv) - 1
		}
		width[v] = w
		p += w
	}
	for _, in := range req.Cox.Interactions {
		p += width[in.A] * width[in.B]
	}
	if p < 1 {
		return 0, Errorf(EInvalid, "the Cox model has no estimable column")
	}
	return p, nil
}

// coxOrigin is the origin a pooled fit asks every site to centre its numeric covariates on
// (protocol.CoxRequest.Origin): the midpoint of each one's declared range in the catalog, a
// public constant and the same for every site. A covariate without a declared range, or a
// catalog that cannot be read, is left uncentred (the fit is the same, with fewer digits for
// a column far from 0: docs/cox-protocol.md, "Centring").
func (s *Service) coxOrigin(ctx context.Context, req Request) map[string]float64 {
	return s.numericOrigin(ctx, req.Study, req.Cox.Covariates)
}

// numericOrigin is coxOrigin for any covariates of a study (the adjusted pooled weighted Cox
// model's too).
func (s *Service) numericOrigin(ctx context.Context, study string, covariates []string) map[string]float64 {
	cat, err := s.cache.Catalog(ctx, s.network.ID)
	if err != nil {
		return nil
	}
	st := cat.Study(study)
	if st == nil {
		return nil
	}
	var origin map[string]float64
	for _, v := range covariates {
		vr := st.Variable(v)
		if vr == nil || vr.Type != protocol.Numeric || vr.Min == nil || vr.Max == nil || len(vr.TypeConflict) > 0 {
			continue
		}
		if mid := *vr.Min/2 + *vr.Max/2; mid != 0 && !math.IsInf(mid, 0) && !math.IsNaN(mid) {
			if origin == nil {
				origin = map[string]float64{}
			}
			origin[v] = mid
		}
	}
	return origin
}
