package network

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/nats-io/nuid"

	"github.com/oncofed/oncofed/analysis"
	"github.com/oncofed/oncofed/app"
	"github.com/oncofed/oncofed/protocol"
)

// CoxOptions configures FederatedCox.
type CoxOptions struct {
	// Fit is passed to analysis.FitCox (iterations, tolerances); Terms is filled from the
	// sites' design columns when empty.
	Fit analysis.CoxOptions
	// RequireAll refuses to start when a site of the study does not answer the first round
	// (by default the fit runs on the sites that answered it, and the result says which
	// were left out).
	RequireAll bool
}

// CoxResult is a federated Cox fit with what it was computed from.
type CoxResult struct {
	Fit     *analysis.CoxFit
	Form    protocol.CoxForm
	Ties    analysis.Ties
	Columns []string // design columns, in β order
	// Sites are the sites whose data the fit uses: those that answered the first round, and
	// then every round. First is the first round's scatter-gather, with the sites that were
	// missing, refused or invalid then (a partial fit is labelled by them).
	Sites  []string
	First  *app.Gathered
	Rounds int
	// Excluded is the number of cohort patients the sites left out for a missing covariate,
	// over the sites that released it; ExcludedSuppressed counts the sites that suppressed it
	// (each left out 1..min_cell-1 more).
	Excluded           int
	ExcludedSuppressed int
	// Policy is each site's policy effects from the first round.
	Policy map[string]protocol.PolicyEffects
}

// DesignColumns returns the number of design columns of a Cox request: one per numeric
// covariate and len(levels)−1 per categorical covariate (those listed in req.Levels).
func DesignColumns(req *protocol.CoxRequest) int {
	p := 0
	for _, c := range req.Covariates {
		if lv, ok := req.Levels[c]; ok {
			p += len(lv) - 1
		} else {
			p++
		}
	}
	return p
}

// FederatedCox fits a Cox model over the network: analysis.FitCox drives the Newton–Raphson
// iterations and every evaluation of the log partial likelihood at a β is one scatter-gather
// round of q (kind cox) with Cox.Beta = β. In the stratified form each site is a stratum and
// the sites' log-likelihoods, gradients and Hessians add up; in the pooled form the sites'
// risk-set sums give the exact pooled partial likelihood (analysis.PooledCoxContribution).
//
// The set of sites is fixed by the first round. A site of that set that is missing, refuses
// or sends an invalid reply in a later round aborts the fit with an error naming the site
// and the round: continuing without it would silently change the cohort between iterations.
// q.Cox.Levels must fix the levels of every categorical covariate so all sites build the same
// design.
//
// Deprecated: app.Service.Run fits Cox models for the CLI and the desktop app with the same
// rounds and the same abort rule (tested over a real hub in cmd/oncofed-cli); this duplicate
// makes network depend on analysis against the layering. It stays only while bench/ calls it.
func FederatedCox(ctx context.Context, net app.Network, q protocol.Query, opts CoxOptions) (*CoxResult, error) {
	if q.Kind != protocol.KindCox || q.Cox == nil {
		return nil, &app.Error{Code: app.EInvalid, Message: "federated cox: the query is not a cox query"}
	}
	ties, err := analysis.ParseTies(q.Cox.Ties)
	if err != nil {
		return nil, &app.Error{Code: app.EInvalid, Message: "federated cox: " + err.Error()}
	}
	p := DesignColumns(q.Cox)
	if p < 1 {
		return nil, &app.Error{Code: app.EInvalid, Message: "federated cox: no design column (a categorical covariate needs at least two levels)"}
	}
	res := &CoxResult{Form: q.Cox.Form, Ties: ties, Policy: map[string]protocol.PolicyEffects{}}
	round := 0
	eval := func(beta []float64) (analysis.CoxContribution, error) {
		round++
		rq := q
		rc := *q.Cox
		rc.Beta = slices.Clone(beta)
		rq.Cox = &rc
		rq.ID = nuid.Next()
		g, err := net.Query(ctx, rq)
		if err != nil {
			return analysis.CoxContribution{}, err
		}
		if round == 1 {
			if err := res.start(g, p, opts); err != nil {
				return analysis.CoxContribution{}, err
			}
		}
		replies, err := res.sameSites(g, round)
		if err != nil {
			return analysis.CoxContribution{}, err
		}
		return res.contribution(replies, p, beta)
	}
	if len(opts.Fit.Terms) == 0 {
		// FitCox wants the names before the first round: evaluate at β = 0 once to learn
		// them, and hand FitCox that very contribution as its own first evaluation.
		zero := make([]float64, p)
		c0, err := eval(zero)
		if err != nil {
			return nil, err
		}
		opts.Fit.Terms = res.Columns
		first := true
		inner := eval
		eval = func(beta []float64) (analysis.CoxContribution, error) {
			if first && allZero(beta) {
				first = false
				return c0, nil
			}
			first = false
			return inner(beta)
		}
	}
	fit, err := analysis.FitCox(eval, p, opts.Fit)
	res.Rounds = round
	if fit == nil {
		return nil, fmt.Errorf("federated cox: %w", err)
	}
	res.Fit = fit
	return res, err
}

func allZero(x []float64) bool {
	for _, v := range x {
		if v != 0 {
			return false
		}
	}
	return true
}

// start fixes the fit's sites and columns from the first round.
func (res *CoxResult) start(g *app.Gathered, p int, opts CoxOptions) error {
	res.First = g
	if opts.RequireAll && g.Partial() {
		return &app.Error{Code: app.EUnavailable, Message: "federated cox: not every site answered: " + problems(g)}
	}
	if len(g.Replies) == 0 {
		return &app.Error{Code: app.EUnavailable, Message: "federated cox: no site answered: " + problems(g)}
	}
	for _, r := range g.Replies {
		res.Sites = append(res.Sites, r.Site)
		res.Excluded += r.Cox.Excluded
		if r.Cox.ExcludedSuppressed {
			res.ExcludedSuppressed++
		}
		res.Policy[r.Site] = r.Policy
		if res.Columns == nil {
			res.Columns = slices.Clone(r.Cox.Columns)
		}
	}
	if len(res.Columns) != p {
		return &app.Error{Code: app.EInvalid, Message: fmt.Sprintf("federated cox: sites built %d design columns, the request implies %d", len(res.Columns), p)}
	}
	return nil
}

// sameSites returns the round's replies of the fit's sites, in the order of res.Sites, or an
// error when one of them did not contribute.
func (res *CoxResult) sameSites(g *app.Gathered, round int) ([]protocol.Reply, error) {
	bySite := map[string]protocol.Reply{}
	for _, r := range g.Replies {
		bySite[r.Site] = r
	}
	out := make([]protocol.Reply, 0, len(res.Sites))
	for _, s := range res.Sites {
		r, ok := bySite[s]
		if !ok {
			return nil, &app.Error{Code: app.EUnavailable, Message: fmt.Sprintf(
				"federated cox: site %s dropped out in round %d (%s); the fit is aborted rather than continued on a different cohort", s, round, why(g, s))}
		}
		if !slices.Equal(r.Cox.Columns, res.Columns) {
			return nil, &app.Error{Code: app.EInvalid, Message: fmt.Sprintf(
				"federated cox: site %s built columns %v in round %d, others %v", s, r.Cox.Columns, round, res.Columns)}
		}
		out = append(out, r)
	}
	return out, nil
}

func (res *CoxResult) contribution(replies []protocol.Reply, p int, beta []float64) (analysis.CoxContribution, error) {
	var total analysis.CoxContribution
	switch res.Form {
	case protocol.CoxStratified:
		for _, r := range replies {
			total.Add(analysis.CoxContribution{
				LogLik: r.Cox.LogLik, Gradient: r.Cox.Gradient, Hessian: r.Cox.Hessian,
				N: r.Cox.N, Events: r.Cox.Events,
			})
		}
		return total, nil
	case protocol.CoxPooled:
		rows := make([][]analysis.RiskSetRow, len(replies))
		sums := make([][]float64, len(replies))
		for i, r := range replies {
			rows[i] = make([]analysis.RiskSetRow, len(r.Cox.Rows))
			for k, w := range r.Cox.Rows {
				rows[i][k] = analysis.RiskSetRow{Time: w.Time, D: w.D, R0: w.R0, R1: w.R1, R2: w.R2, E0: w.E0, E1: w.E1, E2: w.E2}
			}
			sums[i] = r.Cox.EventXSum
		}
		c, err := analysis.PooledCoxContribution(rows, sums, p, beta, res.Ties)
		if err != nil {
			return c, &app.Error{Code: app.EInvalid, Message: "federated cox: " + err.Error()}
		}
		// Risk-set rows hold sums, not subjects: the sites' counts say how many they cover.
		c.N, c.Events = 0, 0
		for _, r := range replies {
			c.N += r.Cox.N
			c.Events += r.Cox.Events
		}
		return c, nil
	}
	return total, &app.Error{Code: app.EInvalid, Message: fmt.Sprintf("federated cox: unknown form %q", res.Form)}
}

// why says what happened to site in a round.
func why(g *app.Gathered, site string) string {
	if slices.Contains(g.Missing, site) {
		return "no answer before the deadline"
	}
	for _, p := range append(slices.Clone(g.Refused), g.Invalid...) {
		if p.Site == site {
			return p.Code + ": " + p.Message
		}
	}
	return "not among the answering sites"
}

// problems lists the sites that did not contribute to g, with the reason.
func problems(g *app.Gathered) string {
	var parts []string
	for _, s := range g.Missing {
		parts = append(parts, s+" (no answer)")
	}
	for _, p := range g.Refused {
		parts = append(parts, fmt.Sprintf("%s (%s: %s)", p.Site, p.Code, p.Message))
	}
	for _, p := range g.Invalid {
		parts = append(parts, fmt.Sprintf("%s (invalid: %s)", p.Site, p.Message))
	}
	if len(parts) == 0 {
		return "no site serves the study"
	}
	return strings.Join(parts, ", ")
}
