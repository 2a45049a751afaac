package app

import (
	"context"
	"slices"

	"github.com/oncofed/oncofed/analysis"
	"github.com/oncofed/oncofed/protocol"
)

// FineGrayModel is a pooled Fine–Gray model of one cause's subdistribution hazard fitted over
// the network (docs/competing-risks.md): the fit (coefficients; Fit.SE and Fit.Vcov are the
// model-based variance, which crr does not report) and its sandwich variance, the variance
// cmprsk::crr reports (Robust: SE, 95% intervals of exp(β), Wald p).
type FineGrayModel struct {
	Request Request
	Cause   string
	Cox     *CoxResult // Form pooled, Ties breslow
	Robust  *analysis.RobustCox
	Rounds  []Round
	// Provenance is the fit's sites and what their policies did, from the first round (as a
	// stored result's; the model is not stored, so it has no content hash).
	Provenance Provenance
}

// FitFineGray fits the Fine–Gray model of cause on req's endpoint with req.Cox's covariates,
// pooled over the sites (Ĝ, the censoring distribution, estimated from all of them), without
// storing it. Every site that answers the first round must answer every later one. Rounds:
// per β the fit evaluates, phase 1 to every site (kind finegray, pooled_sums); where the fit
// uses the Hessian, phase 2 to each site alone with its weights (pooled_hessian); at β̂ the
// variance round to each site alone (meat).
func (s *Service) FitFineGray(ctx context.Context, req Request, cause string) (*FineGrayModel, error) {
	if cause == "" {
		return nil, Errorf(EInvalid, "choose the cause to model")
	}
	if req.Cox == nil {
		return nil, Errorf(EInvalid, "choose at least one covariate")
	}
	if req.Cox.Strata != "" || (req.Cox.Form != "" && req.Cox.Form != protocol.CoxPooled) {
		return nil, Errorf(EInvalid, "the Fine–Gray model is pooled over sites (as cmprsk::crr, which has no strata)")
	}
	req.Kind = protocol.KindCox // its covariates' levels come from the catalog as a Cox model's
	spec := *req.Cox
	spec.Ties, spec.Form = "breslow", protocol.CoxPooled
	req.Cox = &spec
	if err := s.prepare(ctx, &req); err != nil {
		return nil, err
	}
	if req.Cox.Form == protocol.CoxDPTables { // fillLevels' choice for an analyst of role dp
		return nil, Errorf(EInvalid, "a Fine–Gray model is not available to an analyst of role dp: the sites release to it the cumulative incidence's tables (events by cause, without covariates) and a Cox model's tables by covariate pattern (without the split by cause), and the model needs both together, which no differentially private release carries yet (docs/competing-risks.md); nothing was asked of the sites. The cumulative incidence and Gray's test, their intervals and variance including the noise, are available (cif); a site can list the analyst as trusted (under a data-use agreement)")
	}
	req.Kind = protocol.KindFineGray
	p, err := s.coxColumns(ctx, req)
	if err != nil {
		return nil, err
	}
	base := s.baseQuery(req)
	base.GroupBy = ""
	start := s.now()
	fr := &fineGrayRounds{s: s, base: base, req: req, cause: cause}
	terms := make([]string, p)
	eval := func(beta []float64) (analysis.CoxContribution, func() (analysis.CoxContribution, error), error) {
		c, step, replies, err := fr.sums(ctx, beta)
		if err != nil {
			return c, nil, err
		}
		if len(fr.rounds) == 1 {
			copy(terms, coxTerms(replies, p))
		}
		b := slices.Clone(beta)
		return c, func() (analysis.CoxContribution, error) {
			full, err := fr.hessian(ctx, b, step, replies)
			full.CoefBound = c.CoefBound
			return full, err
		}, nil
	}
	out, err := fitCox(eval, p, req, protocol.CoxPooled, terms)
	if err != nil {
		return nil, err
	}
	out.addSites(coxSiteSummaries(fr.rounds[0].Replies))
	meat, err := fr.meat(ctx, out.Fit.Coef)
	if err != nil {
		return nil, err
	}
	req.Kind = protocol.KindFineGray
	m := &FineGrayModel{Request: req, Cause: cause, Cox: out, Robust: analysis.SandwichVariance(out.Fit, meat), Rounds: fr.rounds}
	if err := s.provenanceOf(ctx, &m.Provenance, req.Study, fr.first, fr.rounds[0].Replies); err != nil {
		return nil, err
	}
	m.Provenance.RanAt, m.Provenance.Elapsed = start, s.now().Sub(start)
	return m, nil
}

// fineGrayRounds runs the rounds of one fit: Ĝ from the first round's counts, the member sites
// of the first round.
type fineGrayRounds struct {
	s       *Service
	base    protocol.Query
	req     Request
	cause   string
	g       analysis.CensoringDistribution
	members map[string]bool
	rounds  []Round
	first   *Gathered // the first round's scatter-gather (the provenance's)
}

func (fr *fineGrayRounds) request(form protocol.CoxForm, beta []float64) *protocol.CoxRequest {
	c := fr.req.Cox
	return &protocol.CoxRequest{Form: form, Ties: "breslow", Covariates: c.Covariates, Levels: c.Levels,
		Beta: slices.Clone(beta), Indicators: c.Indicators, Interactions: c.Interactions, Cause: fr.cause}
}

// sums asks phase 1 at beta of every site and pools it.
func (fr *fineGrayRounds) sums(ctx context.Context, beta []float64) (analysis.CoxContribution, *analysis.FineGrayStep, []protocol.Reply, error) {
	var c analysis.CoxContribution
	q := fr.base
	q.ID = fr.s.newID()
	q.Cox = fr.request(protocol.CoxPooledSums, beta)
	g, err := fr.s.query(ctx, q)
	if err != nil {
		if len(fr.rounds) > 0 {
			return c, nil, nil, WrapError(EUnavailable, err, "the network was lost in round %d of the Fine–Gray fit; the fit was aborted", len(fr.rounds)+1)
		}
		return c, nil, nil, err
	}
	replies := sortReplies(g.Replies)
	if fr.members == nil {
		if err := noAnswer(g); err != nil {
			return c, nil, nil, err
		}
		fr.members, fr.first = map[string]bool{}, g
		for _, r := range replies {
			fr.members[r.Site] = true
		}
	} else if replies, err = coxMembersAnswered(g, fr.members, len(fr.rounds)+1); err != nil {
		return c, nil, nil, err
	}
	fr.rounds = append(fr.rounds, newRound(q, replies, g))
	rows := fineGrayRowsOf(replies)
	if len(fr.rounds) == 1 {
		if fr.g, err = analysis.CensoringFromRows(rows); err != nil {
			return c, nil, nil, WrapError(EInvalid, err, "the sites' rows give no censoring distribution")
		}
	}
	step, err := analysis.FineGrayPooledSums(rows, fr.g, len(beta), beta)
	if err != nil {
		return c, nil, nil, WrapError(EInvalid, err, "the sites' Fine–Gray rows do not combine")
	}
	c = step.Contribution()
	for _, r := range replies {
		c.N += r.Cox.N
		if !equalStrings(r.Cox.Columns, replies[0].Cox.Columns) || len(r.Cox.Columns) != len(beta) {
			return c, nil, nil, Errorf(EInvalid, "site %s built design columns %v, site %s %v", r.Site, r.Cox.Columns, replies[0].Site, replies[0].Cox.Columns)
		}
		if r.Cox.BetaLimit != nil {
			if len(r.Cox.BetaLimit) != len(beta) {
				return c, nil, nil, Errorf(EInvalid, "site %s returned %d β limits for %d coefficients", r.Site, len(r.Cox.BetaLimit), len(beta))
			}
			c.CoefBound = analysis.MinBound(c.CoefBound, r.Cox.BetaLimit) // the fit stays within every site's cap
		}
	}
	return c, step, replies, nil
}

// fineGrayRowsOf converts the replies' rows (in the replies' order) for analysis.
func fineGrayRowsOf(replies []protocol.Reply) [][]analysis.FineGrayRow {
	out := make([][]analysis.FineGrayRow, len(replies))
	for k, rep := range replies {
		p := len(rep.Cox.EventXSum)
		placed := false
		for _, r := range rep.Cox.FineGrayRows {
			row := analysis.FineGrayRow{Time: r.Time, N: r.N, D: r.D, NC: r.NC, R0: r.R0, R1: r.R1, C0: r.C0, C1: r.C1,
				EX: make([]float64, p)}
			if row.C1 == nil {
				row.C1 = make([]float64, p)
			}
			if r.D > 0 && !placed {
				// Only the total Σx over the events enters the fit (at an event time).
				copy(row.EX, rep.Cox.EventXSum)
				placed = true
			}
			out[k] = append(out[k], row)
		}
	}
	return out
}

// each sends every member site its own request (built by build from its index among the
// replies) on its own subject and returns their replies in the same order.
func (fr *fineGrayRounds) each(ctx context.Context, replies []protocol.Reply, form protocol.CoxForm, beta []float64, weights func(k int) *protocol.CoxWeights) ([]protocol.Reply, error) {
	qs := make(map[string]protocol.Query, len(replies))
	template := fr.base
	template.Cox = fr.request(form, beta)
	for k, rep := range replies {
		q := template
		q.ID = fr.s.newID()
		c := *template.Cox
		c.Site, c.Weights = rep.Site, weights(k)
		q.Cox = &c
		qs[rep.Site] = q
	}
	g, err := fr.s.queryEach(ctx, qs)
	if err != nil {
		return nil, WrapError(EUnavailable, err, "the network was lost in round %d of the Fine–Gray fit; the fit was aborted", len(fr.rounds)+1)
	}
	second, err := coxMembersAnswered(g, fr.members, len(fr.rounds)+1)
	if err != nil {
		return nil, err
	}
	fr.rounds = append(fr.rounds, newRound(template, second, g))
	bySite := map[string]protocol.Reply{}
	for _, r := range second {
		bySite[r.Site] = r
	}
	out := make([]protocol.Reply, len(replies))
	for k, rep := range replies {
		out[k] = bySite[rep.Site]
		if out[k].Cox == nil {
			return nil, Errorf(EInternal, "site %s: no reply in the Fine–Gray round", rep.Site)
		}
	}
	return out, nil
}

// hessian completes the contribution at beta with phase 2.
func (fr *fineGrayRounds) hessian(ctx context.Context, beta []float64, step *analysis.FineGrayStep, first []protocol.Reply) (analysis.CoxContribution, error) {
	second, err := fr.each(ctx, first, protocol.CoxPooledHessian, beta, func(k int) *protocol.CoxWeights {
		a, b := step.Weights(k)
		return &protocol.CoxWeights{A: a, B: b}
	})
	if err != nil {
		return analysis.CoxContribution{}, err
	}
	moments := make([][]float64, len(second))
	for k, r := range second {
		moments[k] = r.Cox.SecondMoment
	}
	full, err := step.Complete(moments)
	if err != nil {
		return full, WrapError(EInvalid, err, "the sites' second moments do not combine")
	}
	for _, r := range first {
		full.N += r.Cox.N
	}
	return full, nil
}

// meat asks phase 1 at β̂ again (the rows the variance weights are made of) and then each
// site's part of the sandwich's middle; it returns their sum.
func (fr *fineGrayRounds) meat(ctx context.Context, beta []float64) ([]float64, error) {
	_, _, replies, err := fr.sums(ctx, beta)
	if err != nil {
		return nil, err
	}
	p := len(beta)
	ws, err := analysis.NewFineGrayMeatWeights(fineGrayRowsOf(replies), fr.g, p, beta)
	if err != nil {
		return nil, WrapError(EInvalid, err, "the sites' Fine–Gray rows give no variance weights")
	}
	second, err := fr.each(ctx, replies, protocol.CoxMeat, beta, func(k int) *protocol.CoxWeights {
		w := ws[k]
		return &protocol.CoxWeights{A: w.A, B: w.B, A1: w.A1, B1: w.B1, XBar: w.XBar, Psi: w.Psi, QPi: w.QPi}
	})
	if err != nil {
		return nil, err
	}
	meat := make([]float64, p*p)
	for _, r := range second {
		for k, v := range r.Cox.Meat {
			meat[k] += v
		}
	}
	return meat, nil
}
