package app

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/oncofed/oncofed/analysis"
	"github.com/oncofed/oncofed/protocol"
)

// IPWSpec is a propensity-weighted comparison of two treatments (docs/ipw.md).
type IPWSpec struct {
	Treatment string `json:"treatment"` // a categorical variable
	Treated   string `json:"treated"`   // its level of the treated arm; every other level is control
	// TreatedSite, instead of Treatment and Treated, makes the treatment membership in a site:
	// that site's patients (a single-arm trial) against every other site's (external
	// controls). Only the pooled Cox form exists then.
	TreatedSite string `json:"treated_site,omitempty"`
	// Strata is the weighted Cox model's form: "site" (the default for a treatment variable:
	// stratified by site, one Cox round per Newton step) or "none" (one baseline hazard,
	// computed from the outcome stage's weighted tables with no further round; the only form
	// with a treated site).
	Strata      string              `json:"strata,omitempty"`
	Confounders []string            `json:"confounders"`
	Levels      map[string][]string `json:"levels,omitempty"`
	// Merge coarsens discrete confounders (protocol.IPWRequest.Merge): groups of a confounder's
	// levels, or of a discrete numeric one's values, treated as one everywhere (the merged
	// group takes its first level's place; Levels then name the merged categories).
	Merge     map[string][]protocol.LevelGroup `json:"merge,omitempty"`
	Estimand  string                           `json:"estimand"` // ATE (default), ATT or overlap
	Stabilise bool                             `json:"stabilise,omitempty"`
	Trim      float64                          `json:"trim,omitempty"`
	Ties      string                           `json:"ties,omitempty"` // efron (default) or breslow
	// Adjust adds covariates (confounders, with their levels) to the weighted Cox model:
	// coxph(Surv ~ treatment + Adjust [+ strata(site)], weights = w, robust = TRUE). Stratified
	// by site it takes the cox stage's rounds (each site's contribution is its own); pooled
	// (Strata "none") it is fitted in rounds of its own under the sites' allow_pooled_cox
	// (docs/ipw.md).
	Adjust []string `json:"adjust,omitempty"`
	// DPAllPatterns keeps, in a differentially private comparison (an analyst of role dp,
	// ipwdp.go), the patterns whose released size the noise alone explains; by default they
	// are left out (ipwDPEmptyBound).
	DPAllPatterns bool `json:"dp_all_patterns,omitempty"`
}

// IPWEdges are the propensity histogram's bins: twenty of width 0.05.
var IPWEdges = func() []float64 {
	e := make([]float64, 21)
	for k := range e {
		e[k] = float64(k) / 20
	}
	return e
}()

// IPWArm is one arm of a weighted comparison: its weighted Kaplan–Meier curve, effective
// sample size, and what trimming and the sites' weight cap did.
type IPWArm struct {
	KM              *analysis.WeightedKMEstimate
	N, Kept         int
	ESS, WeightSum  float64
	Trimmed, Capped Count
	Histogram       []Count // per bin of IPWEdges
}

// IPWResult is the payload of a propensity-weighted comparison.
type IPWResult struct {
	Estimand string
	// Strata is the weighted Cox model's form: "site" or "none" (IPWSpec.Strata resolved).
	Strata     string
	Propensity *analysis.LogisticFit
	Balance    []analysis.BalanceRow
	Treated    IPWArm
	Control    IPWArm
	Edges      []float64
	// Cox is the weighted Cox model of the endpoint on treatment, stratified by site or pooled
	// (Strata), with its naive variance; Robust its sandwich variance and the robust score
	// (log-rank) test.
	Cox    *analysis.CoxFit
	Robust *analysis.RobustCox
	Sites  []string
	// DP is set when the comparison was computed from one differentially private release per
	// site (an analyst of role dp; ipwdp.go): the noise's part in the hazard ratio.
	DP *IPWDP
}

// Warnings are what a reader must know before trusting the comparison: collapsed effective
// sample sizes and columns still out of balance.
func (r *IPWResult) Warnings() []string {
	var out []string
	for _, a := range []struct {
		name string
		arm  IPWArm
	}{{"treated", r.Treated}, {"control", r.Control}} {
		if a.arm.Kept > 0 && a.arm.ESS < 0.2*float64(a.arm.Kept) {
			out = append(out, fmt.Sprintf("the %s arm's effective sample size collapsed to %.1f of %d patients: a few weights dominate", a.name, a.arm.ESS, a.arm.Kept))
		}
	}
	if r.DP != nil {
		out = append(out, "differentially private: the noise of the release pulls the hazard ratio towards 1, by more than its stated noise SD says (docs/dp-compare.md measures 0.09–0.12 on the log scale for 3,000 patients at 4 sites in 16–48 covariate patterns, 0.02–0.04 for 12,000); the fewer patterns and the more patients, the less")
	}
	for _, b := range r.Balance {
		if b.SMDAfter > 0.1 || b.SMDAfter < -0.1 {
			out = append(out, fmt.Sprintf("%s is not balanced after weighting (SMD %.2f, above 0.1 in absolute value)", b.Column, b.SMDAfter))
		}
	}
	return out
}

func validateIPW(req Request) error {
	if req.Endpoint == "" {
		return Errorf(EInvalid, "choose an endpoint")
	}
	s := req.IPW
	if s == nil {
		return Errorf(EInvalid, "choose the treatment variable and its treated level")
	}
	if s.TreatedSite != "" {
		if s.Treatment != "" || s.Treated != "" {
			return Errorf(EInvalid, "the treatment is either a variable and its level or membership in a site, not both")
		}
		if s.Strata == "site" {
			return Errorf(EInvalid, "the treatment is membership in site %s: every site holds one arm, so a Cox model stratified by site compares nothing; use the pooled form (one baseline hazard)", s.TreatedSite)
		}
	} else if s.Treatment == "" || s.Treated == "" {
		return Errorf(EInvalid, "choose the treatment variable and its treated level")
	}
	if s.Strata != "" && s.Strata != "site" && s.Strata != "none" {
		return Errorf(EInvalid, "unknown Cox form %q (site or none)", s.Strata)
	}
	if len(s.Confounders) == 0 {
		return Errorf(EInvalid, "choose at least one confounder")
	}
	for v := range s.Merge {
		if !slices.Contains(s.Confounders, v) {
			return Errorf(EInvalid, "levels of %s are merged, but it is not a confounder", v)
		}
	}
	for i, v := range s.Adjust {
		if !slices.Contains(s.Confounders, v) || slices.Index(s.Adjust, v) != i {
			return Errorf(EInvalid, "the Cox model's covariate %s must be a confounder, chosen once", v)
		}
	}
	if _, err := analysis.ParseEstimand(ipwEstimand(s)); err != nil {
		return WrapError(EInvalid, err, "unknown estimand %q (ATE, ATT or overlap)", s.Estimand)
	}
	if !(s.Trim >= 0 && s.Trim < 0.5) {
		return Errorf(EInvalid, "trim %v must lie in [0, 0.5)", s.Trim)
	}
	_, err := coxTies(s.Ties)
	return err
}

// TreatmentNames names the treatment and its treated arm as the user chose them: a variable
// and its level, or "site" and the trial site.
func (s *IPWSpec) TreatmentNames() (treatment, treated string) {
	if s.TreatedSite != "" {
		return "site", s.TreatedSite
	}
	return s.Treatment, s.Treated
}

// ipwStrata resolves the weighted Cox model's form: stratified by site unless asked otherwise
// or the treatment is membership in a site.
func ipwStrata(s *IPWSpec) string {
	if s.Strata == "" && s.TreatedSite == "" {
		return "site"
	}
	if s.Strata == "" {
		return "none"
	}
	return s.Strata
}

// ipwTerm names the treatment's coefficient.
func ipwTerm(s *IPWSpec) string {
	if s.TreatedSite != "" {
		return "site" + s.TreatedSite
	}
	return s.Treatment + s.Treated
}

func ipwEstimand(s *IPWSpec) string {
	if s.Estimand == "" {
		return "ATE"
	}
	return s.Estimand
}

// ipwRequest is the protocol request of one stage.
func ipwRequest(s *IPWSpec, stage protocol.IPWStage, beta []float64) *protocol.IPWRequest {
	ties := s.Ties
	if ties == "" {
		ties = "efron"
	}
	return &protocol.IPWRequest{Stage: stage, Treatment: s.Treatment, Treated: s.Treated, TreatedSite: s.TreatedSite, Confounders: s.Confounders,
		Levels: s.Levels, Merge: s.Merge, Beta: slices.Clone(beta), Estimand: ipwEstimand(s), Stabilise: s.Stabilise, Trim: s.Trim, Ties: ties}
}

// runIPW runs the three stages, one scatter-gather per round: the propensity fit (Newton–
// Raphson), the outcome round with the fitted model, and the weighted Cox fit stratified by
// site (the pooled form needs no round of its own: renderIPW computes it from the outcome
// round's weighted tables, analysis.TwoArmWeightedCox). The sites that
// answer the first round are the comparison's sites; each later round must be answered by all
// of them. The payload is then computed from the rounds by renderIPW, as when reopened.
func (s *Service) runIPW(ctx context.Context, req Request) (*Result, error) {
	if dpRole, err := s.dpRole(ctx, req.Study); err != nil {
		return nil, err
	} else if dpRole {
		return s.runIPWDP(ctx, req)
	}
	if len(req.IPW.Adjust) > 0 && ipwStrata(req.IPW) == "none" {
		if refuse := s.pooledRefusedByCatalog(ctx, req.Study); len(refuse) > 0 {
			return nil, Errorf(ERefusedByPolicy, "adjusting the pooled weighted Cox model needs every site to allow pooled models, and the published policies of %s do not (allow_pooled_cox: the model's sums per time disclose covariate values); nothing was asked", strings.Join(refuse, ", "))
		}
	}
	base := s.baseQuery(req)
	var (
		rounds  []Round
		first   *Gathered
		members map[string]bool
		satOut  []SiteProblem // sites that refused the outcome round: they sit out from there on
	)
	ask := func(ir *protocol.IPWRequest) ([]protocol.Reply, error) {
		q := base
		q.ID = s.newID()
		q.IPW = ir
		g, err := s.query(ctx, q)
		if err != nil {
			if len(rounds) > 0 {
				return nil, WrapError(EUnavailable, err, "the network was lost in round %d of the weighted comparison; it was aborted", len(rounds)+1)
			}
			return nil, err
		}
		if ir.Stage == protocol.IPWOutcome {
			if satOut, err = sitOut(g, members, req.IPW.TreatedSite); err != nil {
				return nil, err
			}
		}
		replies, err := s.keepMembers(g, &first, &members, len(rounds)+1)
		if err != nil {
			return nil, err
		}
		rounds = append(rounds, newRound(q, replies, g))
		return replies, nil
	}
	var treated, total int
	eval := func(beta []float64) (analysis.LogisticContribution, error) {
		replies, err := ask(ipwRequest(req.IPW, protocol.IPWPropensity, beta))
		if err != nil {
			return analysis.LogisticContribution{}, err
		}
		if ts := req.IPW.TreatedSite; ts != "" && !members[ts] {
			return analysis.LogisticContribution{}, Errorf(EUnavailable, "the treated arm is site %s's patients, but %s did not answer the propensity round (see the sites' status); the comparison needs it", ts, ts)
		}
		c, err := propensityRound(replies, beta)
		treated, total = c.Treated, c.N
		return c, err
	}
	columns := ipwColumns(req)
	fit, err := analysis.FitLogistic(eval, len(columns), analysis.LogisticOptions{Terms: columns})
	if err != nil {
		var ae *Error
		if asError(err, &ae) {
			return nil, err
		}
		return nil, WrapError(EInvalid, err, "the propensity model could not be fitted")
	}
	out := ipwRequest(req.IPW, protocol.IPWOutcome, fit.Coef)
	out.Edges = IPWEdges
	out.TreatedShare = float64(treated) / float64(total)
	if _, err := ask(out); err != nil {
		return nil, err
	}
	if ipwStrata(req.IPW) == "site" {
		if err := s.runIPWStratifiedCox(req, fit, out.TreatedShare, ask); err != nil {
			return nil, err
		}
	} else if len(req.IPW.Adjust) > 0 {
		askEach := func(template *protocol.IPWRequest, first []protocol.Reply, weights func(k int) *protocol.IPWCoxWeights) ([]protocol.Reply, error) {
			return s.askEachIPW(ctx, base, template, first, weights, members, &rounds)
		}
		origin := s.numericOrigin(ctx, req.Study, req.IPW.Adjust)
		if err := runIPWPooledCox(req, fit.Coef, out.TreatedShare, origin, ask, askEach); err != nil {
			return nil, err
		}
	}
	r := &Result{Network: s.network.ID, Request: req, Rounds: rounds}
	if r.IPW, err = renderIPW(req, rounds); err != nil {
		return nil, err
	}
	if err := s.finish(ctx, r, first, nil); err != nil {
		return nil, err
	}
	for _, p := range satOut {
		r.Provenance.Answered = slices.DeleteFunc(r.Provenance.Answered, func(site string) bool { return site == p.Site })
		p.Message = "sat out after the propensity model, which holds its patients: " + p.Message
		r.Provenance.Refused = append(r.Provenance.Refused, p)
	}
	return r, nil
}

// sitOut takes the sites that refused the outcome round by their policy out of members, and
// returns them: the weights are known only from that round on, so trimming can leave an arm
// or a class of a site too small then although the propensity rounds were answered (the
// site's rule of min_cohort per arm after trimming, or of min_cell per class). Such a site sits
// out of the outcome and the weighted Cox model — named in the result — instead of aborting
// everyone's comparison; its patients stay in the propensity model, as any fitted model's do.
// Without any site left, or without the treated site, there is nothing to compare.
func sitOut(g *Gathered, members map[string]bool, treatedSite string) ([]SiteProblem, error) {
	var out []SiteProblem
	for _, p := range g.Refused {
		if !members[p.Site] || p.Code != string(ERefusedByPolicy) {
			continue
		}
		if p.Site == treatedSite {
			e := Errorf(ERefusedByPolicy, "the treated arm is site %s's patients, and %s refused the outcome round (%s); the comparison was aborted", p.Site, p.Site, p.Message)
			e.Refused = []SiteProblem{p}
			return nil, e
		}
		delete(members, p.Site)
		out = append(out, p)
	}
	if len(members) == 0 {
		e := Errorf(ERefusedByPolicy, "every site refused the outcome round of the weighted comparison: %s", problemList(out))
		e.Refused = out
		return nil, e
	}
	return out, nil
}

func problemList(ps []SiteProblem) string {
	parts := make([]string, len(ps))
	for i, p := range ps {
		parts[i] = p.Site + ": " + p.Message
	}
	return strings.Join(parts, "; ")
}

// runIPWStratifiedCox runs the rounds of the weighted Cox model stratified by site (adjusted
// for the covariates of Adjust, if any).
func (s *Service) runIPWStratifiedCox(req Request, fit *analysis.LogisticFit, share float64, ask func(*protocol.IPWRequest) ([]protocol.Reply, error)) error {
	terms := ipwCoxTerms(req.IPW)
	coxEval := func(beta []float64) (analysis.CoxContribution, error) {
		cr := ipwRequest(req.IPW, protocol.IPWCox, fit.Coef)
		cr.TreatedShare = share
		cr.Adjust = slices.Clone(req.IPW.Adjust)
		cr.CoxBeta = slices.Clone(beta)
		replies, err := ask(cr)
		if err != nil {
			return analysis.CoxContribution{}, err
		}
		c, _, _, err := ipwCoxRound(replies, len(terms))
		return c, err
	}
	if _, err := analysis.FitCox(coxEval, len(terms), analysis.CoxOptions{Terms: terms}); err != nil {
		var ae *Error
		if asError(err, &ae) {
			return ae // a site's refusal or a lost network, said as such
		}
		return WrapError(EInvalid, err, "the weighted Cox model could not be fitted")
	}
	return nil
}

// ipwCoxTerms names the weighted Cox model's terms: the treatment, then the design columns of
// the adjusting covariates.
func ipwCoxTerms(s *IPWSpec) []string {
	return append([]string{ipwTerm(s)}, ipwAdjustColumns(s)...)
}

// ipwColumns names the propensity design's columns from the prepared request (levels filled
// from the catalog): the intercept, each numeric confounder, and name+level for each level of
// a categorical one after its reference, as the sites' analysis.BuildDesign names them.
func ipwColumns(req Request) []string {
	return append([]string{"(Intercept)"}, ipwDesignColumns(req.IPW.Confounders, req.IPW.Levels)...)
}

// ipwDesignColumns names the design columns of variables with levels (the categorical ones'):
// a numeric variable under its name, a categorical one as name+level after the reference.
func ipwDesignColumns(vars []string, levels map[string][]string) []string {
	var cols []string
	for _, v := range vars {
		lv, ok := levels[v]
		if !ok {
			cols = append(cols, v)
			continue
		}
		for _, l := range lv[1:] {
			cols = append(cols, v+l)
		}
	}
	return cols
}

// keepMembers fixes the answering sites at the first round and, later, keeps only their
// replies, failing when one of them is missing.
func (s *Service) keepMembers(g *Gathered, first **Gathered, members *map[string]bool, round int) ([]protocol.Reply, error) {
	replies := sortReplies(g.Replies)
	if *first == nil {
		if err := noAnswer(g); err != nil {
			return nil, err
		}
		*first, *members = g, map[string]bool{}
		for _, r := range replies {
			(*members)[r.Site] = true
		}
		return replies, nil
	}
	return coxMembersAnswered(g, *members, round)
}

// propensityRound sums the sites' logistic contributions at beta.
func propensityRound(replies []protocol.Reply, beta []float64) (analysis.LogisticContribution, error) {
	var sum analysis.LogisticContribution
	p := len(beta)
	var columns []string
	for i, rep := range replies {
		r := rep.IPW
		if r == nil || len(r.Gradient) != p || len(r.Hessian) != p*p {
			return sum, Errorf(EInvalid, "site %s: a propensity reply without a contribution of %d columns", rep.Site, p)
		}
		if i == 0 {
			columns = r.Columns
		} else if !equalStrings(columns, r.Columns) {
			return sum, Errorf(EInvalid, "site %s built design columns %v, other sites %v", rep.Site, r.Columns, columns)
		}
		sum.Add(analysis.LogisticContribution{LogLik: r.LogLik, Gradient: r.Gradient, Hessian: r.Hessian, N: r.N, Treated: r.Treated})
	}
	return sum, nil
}

// ipwCoxRound sums the sites' weighted Cox contributions of q coefficients, meats and scores;
// with covariates (q > 1) every site must have built the same outcome columns, and the fit
// stays within every site's cap on the coefficients.
func ipwCoxRound(replies []protocol.Reply, q int) (c analysis.CoxContribution, meat, score []float64, err error) {
	meat, score = make([]float64, q*q), make([]float64, q)
	for _, rep := range replies {
		r := rep.IPW
		if r == nil || len(r.Gradient) != q || len(r.Hessian) != q*q || len(r.Meat) != q*q || len(r.Score) != q {
			return c, nil, nil, Errorf(EInvalid, "site %s: a weighted Cox reply without its contribution of %d coefficients", rep.Site, q)
		}
		if q > 1 && !equalStrings(r.CoxColumns, replies[0].IPW.CoxColumns) {
			return c, nil, nil, Errorf(EInvalid, "site %s built outcome columns %v, site %s %v", rep.Site, r.CoxColumns, replies[0].Site, replies[0].IPW.CoxColumns)
		}
		if r.BetaLimit != nil {
			if len(r.BetaLimit) != q {
				return c, nil, nil, Errorf(EInvalid, "site %s returned %d β limits for %d coefficients", rep.Site, len(r.BetaLimit), q)
			}
			c.CoefBound = analysis.MinBound(c.CoefBound, r.BetaLimit)
		}
		c.Add(analysis.CoxContribution{LogLik: r.LogLik, Gradient: r.Gradient, Hessian: r.Hessian, N: r.N, Events: r.Events})
		for k, v := range r.Meat {
			meat[k] += v
		}
		for k, v := range r.Score {
			score[k] += v
		}
	}
	return c, meat, score, nil
}

// renderIPW computes the payload from the stored rounds: the propensity and Cox fits are
// replayed round by round (each asked β must be the stored one), the outcome round merged.
func renderIPW(req Request, rounds []Round) (*IPWResult, error) {
	if req.IPW == nil {
		return nil, Errorf(EInvalid, "a weighted comparison without its specification")
	}
	if isIPWDP(rounds) {
		return renderIPWDP(req, rounds)
	}
	byStage := map[protocol.IPWStage][]Round{}
	for _, r := range rounds {
		if r.Query.IPW == nil {
			return nil, Errorf(EInternal, "a stored round of the weighted comparison has no ipw query")
		}
		byStage[r.Query.IPW.Stage] = append(byStage[r.Query.IPW.Stage], r)
	}
	prop, outc, cox := byStage[protocol.IPWPropensity], byStage[protocol.IPWOutcome], byStage[protocol.IPWCox]
	strata := ipwStrata(req.IPW)
	adjusted := strata == "none" && len(req.IPW.Adjust) > 0
	if len(prop) == 0 || len(outc) != 1 || (len(cox) == 0) != (strata == "none") || len(prop[0].Replies) == 0 ||
		(len(byStage[protocol.IPWPooledSums]) > 0) != adjusted {
		return nil, Errorf(EInternal, "the stored rounds of the weighted comparison are incomplete")
	}
	columns := prop[0].Replies[0].IPW.Columns
	k := 0
	fit, err := analysis.FitLogistic(func(beta []float64) (analysis.LogisticContribution, error) {
		if k >= len(prop) || !analysis.EqualBits(prop[k].Query.IPW.Beta, beta) {
			return analysis.LogisticContribution{}, Errorf(EInternal, "the propensity refit diverges from the stored rounds at round %d", k)
		}
		k++
		return propensityRound(prop[k-1].Replies, beta)
	}, len(columns), analysis.LogisticOptions{Terms: columns})
	if err != nil {
		return nil, WrapError(EInvalid, err, "the propensity model could not be fitted")
	}
	res := &IPWResult{Estimand: ipwEstimand(req.IPW), Strata: strata, Propensity: fit, Edges: outc[0].Query.IPW.Edges}
	tables, err := res.mergeOutcome(outc[0].Replies, columns[1:])
	if err != nil {
		return nil, err
	}
	ties, err := coxTies(req.IPW.Ties)
	if err != nil {
		return nil, err
	}
	if adjusted {
		res.Cox, res.Robust, err = renderIPWPooled(req.IPW, byStage[protocol.IPWPooledSums], byStage[protocol.IPWPooledHessian], byStage[protocol.IPWPooledMeat])
		return res, err
	}
	if strata == "none" {
		res.Cox, res.Robust, err = analysis.FitTwoArmWeightedCox(tables[0], tables[1], ties, analysis.CoxOptions{Terms: []string{ipwTerm(req.IPW)}})
		if err != nil {
			return nil, WrapError(EInvalid, err, "the pooled weighted Cox model could not be fitted")
		}
		return res, nil
	}
	k = 0
	var meat []float64
	terms := ipwCoxTerms(req.IPW)
	coxFit, err := analysis.FitCox(func(beta []float64) (analysis.CoxContribution, error) {
		if k >= len(cox) || !analysis.EqualBits(cox[k].Query.IPW.CoxBeta, beta) {
			return analysis.CoxContribution{}, Errorf(EInternal, "the Cox refit diverges from the stored rounds at round %d", k)
		}
		k++
		c, m, _, err := ipwCoxRound(cox[k-1].Replies, len(terms))
		meat = m
		return c, err
	}, len(terms), analysis.CoxOptions{Terms: terms})
	if err != nil {
		return nil, WrapError(EInvalid, err, "the weighted Cox model could not be fitted")
	}
	_, meat0, score0, err := ipwCoxRound(cox[0].Replies, len(terms))
	if err != nil {
		return nil, err
	}
	if res.Robust, err = analysis.Sandwich(coxFit, meat, meat0, score0); err != nil {
		return nil, WrapError(EInvalid, err, "the robust variance could not be computed")
	}
	res.Cox = coxFit
	return res, nil
}

// mergeOutcome merges the sites' outcome replies: balance sums, histograms, counts and the
// weighted survival tables of each arm, which it returns (control, treated).
func (res *IPWResult) mergeOutcome(replies []protocol.Reply, columns []string) ([2]analysis.WeightedSurvivalTable, error) {
	var merged [2]analysis.WeightedSurvivalTable
	bal := analysis.NewBalanceSums(len(columns))
	var tables [2][]analysis.WeightedSurvivalTable
	for _, rep := range replies {
		r := rep.IPW
		if r == nil || r.TreatedArm == nil || r.ControlArm == nil {
			return merged, Errorf(EInvalid, "site %s: an outcome reply without its arms", rep.Site)
		}
		res.Sites = append(res.Sites, rep.Site)
		mc := rep.Policy.MinCell
		for a, arm := range []*protocol.IPWArm{r.ControlArm, r.TreatedArm} {
			if len(arm.Sum) != len(columns) || len(arm.Histogram) != len(res.Edges)-1 {
				return merged, Errorf(EInvalid, "site %s: an outcome reply of the wrong shape", rep.Site)
			}
			sums := analysis.ArmSums{N: arm.N, Kept: arm.Kept, Sum: arm.Sum, SumSq: arm.SumSq, W: arm.W, W2: arm.W2, WSum: arm.WSum}
			out := &res.Control
			other := analysis.BalanceSums{Control: sums, Treated: zeroArm(len(columns))}
			if a == 1 {
				out = &res.Treated
				other = analysis.BalanceSums{Treated: sums, Control: zeroArm(len(columns))}
			}
			bal.Merge(other)
			out.Trimmed = out.Trimmed.Add(releasedCount(arm.Trimmed, mc))
			out.Capped = out.Capped.Add(releasedCount(arm.Capped, mc))
			if out.Histogram == nil {
				out.Histogram = make([]Count, len(arm.Histogram))
			}
			for b, c := range arm.Histogram {
				out.Histogram[b] = out.Histogram[b].Add(releasedCount(c, mc))
			}
			t := arm.Table
			tables[a] = append(tables[a], analysis.WeightedSurvivalTable{Time: t.Time, Events: t.Events, Censor: t.Censor,
				Events2: t.Events2, Censor2: t.Censor2, NEvent: t.NEvent, NCensor: t.NCensor})
		}
	}
	res.Balance = analysis.Balance(bal, columns)
	for a, arm := range []analysis.ArmSums{bal.Control, bal.Treated} {
		out := &res.Control
		if a == 1 {
			out = &res.Treated
		}
		out.N, out.Kept, out.ESS, out.WeightSum = arm.N, arm.Kept, arm.ESS(), arm.W
		merged[a] = analysis.MergeWeightedTables(tables[a]...)
		km, err := analysis.WeightedKaplanMeier(merged[a], analysis.KMOptions{})
		if err != nil {
			return merged, WrapError(EInvalid, err, "the weighted Kaplan–Meier curve of the %s arm could not be computed", []string{"control", "treated"}[a])
		}
		out.KM = km
	}
	return merged, nil
}

func zeroArm(p int) analysis.ArmSums {
	return analysis.NewBalanceSums(p).Control
}
