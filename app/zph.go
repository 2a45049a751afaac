package app

import (
	"context"
	"slices"
	"strings"

	"github.com/oncofed/oncofed/analysis"
	"github.com/oncofed/oncofed/protocol"
)

// The proportional-hazards check of a fitted Cox model, R's cox.zph (docs/cox-zph.md):
//
//   - stratified by site: every site of the model answers the zph form at β̂ with its sums
//     over its own event times; for km and rank the client first pools the sites' phase-1
//     rows at β = 0 (pooled_sums: the model's complete cases per released time) into the
//     table the transform is computed on.
//   - pooled: from the two-phase round's own forms — phase 1 at β = 0 and at β̂, and three
//     phase-2 second moments per site with the transform's weights (analysis.NewPooledZPH).
//
// km and rank need the pooled form's releases, which a site answers only under
// allow_pooled_cox; identity works everywhere.

// ZPHResult is the test's table for one transform: a row per term and GLOBAL, or Error when it
// could not be computed (a site refused, the fit did not converge), in words for the analyst.
type ZPHResult struct {
	Transform string
	Rows      []analysis.ZPHRow
	Error     string
	// Sums are the pooled parts of the test the rows come from (kept with the result).
	Sums  *analysis.ZPHSums
	Terms []analysis.ZPHTerm
}

// ZPHTransformDefault is cox.zph's default transform.
const ZPHTransformDefault = analysis.ZPHKM

// checkZPHTransform refuses a transform cox.zph does not name.
func checkZPHTransform(t string) error {
	if t != "" && !slices.Contains(analysis.ZPHTransforms, t) {
		return Errorf(EInvalid, "unknown proportional-hazards transform %q (%s)", t, strings.Join(analysis.ZPHTransforms, ", "))
	}
	return nil
}

// CoxZPH checks the proportional-hazards assumption of the Cox result r for transform ("" is
// km) over the network: one more query per site for identity, a few for km and rank (see
// above). r's stored table is not changed.
func (s *Service) CoxZPH(ctx context.Context, r *Result, transform string) (*ZPHResult, error) {
	if r == nil || r.Request.Kind != protocol.KindCox || r.Request.Cox == nil || r.Cox == nil || r.Cox.Fit == nil {
		return nil, Errorf(EInvalid, "the proportional-hazards check needs a fitted Cox model")
	}
	members := map[string]bool{}
	for _, se := range r.Cox.PerSite {
		members[se.Site] = true
	}
	return s.coxZPH(ctx, r.Request, r.Cox.Fit, members, transform)
}

// coxZPH runs the check of the prepared request req, fitted as fit at the sites members.
func (s *Service) coxZPH(ctx context.Context, req Request, fit *analysis.CoxFit, members map[string]bool, transform string) (*ZPHResult, error) {
	if transform == "" {
		transform = ZPHTransformDefault
	}
	if err := checkZPHTransform(transform); err != nil {
		return nil, err
	}
	switch {
	case !fit.Converged:
		return nil, Errorf(EInvalid, "the proportional-hazards check needs a converged fit")
	case len(fit.NotEstimable) > 0:
		return nil, Errorf(EInvalid, "the model has terms that are not estimable (%s): drop them before checking proportional hazards", strings.Join(fit.NotEstimable, ", "))
	case len(members) == 0:
		return nil, Errorf(EInvalid, "the model names no sites")
	}
	terms := zphTerms(req, fit.Terms)
	ties, err := coxTies(req.Cox.Ties)
	if err != nil {
		return nil, err
	}
	var sums analysis.ZPHSums
	switch coxForm(req.Cox.Form) {
	case protocol.CoxStratified:
		sums, err = s.zphStratified(ctx, req, fit.Coef, ties, members, transform)
	case protocol.CoxPooled:
		sums, err = s.zphPooled(ctx, req, fit.Coef, ties, members, transform)
	default:
		return nil, Errorf(EInvalid, "a model fitted on differentially private tables has no proportional-hazards check: the sites release no exact sums to a dp analyst")
	}
	if err != nil {
		return nil, err
	}
	rows, err := analysis.ZPHTest(sums, terms)
	if err != nil {
		return nil, WrapError(EInvalid, err, "the proportional-hazards test")
	}
	return &ZPHResult{Transform: transform, Rows: rows, Sums: &sums, Terms: terms}, nil
}

// zphTerms groups the design columns into the model's terms, as cox.zph's default terms =
// TRUE: a covariate's columns (a factor's levels but the reference), then each interaction.
func zphTerms(req Request, columns []string) []analysis.ZPHTerm {
	width := map[string]int{}
	var out []analysis.ZPHTerm
	j := 0
	for _, v := range req.Cox.Covariates {
		w := 1
		if lv, ok := req.Cox.Levels[v]; ok {
			w = len(lv) - 1
		}
		width[v] = w
		out = append(out, analysis.ZPHTerm{Name: v, Columns: columnRange(j, w)})
		j += w
	}
	for _, in := range req.Cox.Interactions {
		w := width[in.A] * width[in.B]
		out = append(out, analysis.ZPHTerm{Name: in.A + ":" + in.B, Columns: columnRange(j, w)})
		j += w
	}
	if j != len(columns) { // a design the request does not explain: one term per column
		out = out[:0]
		for k, c := range columns {
			out = append(out, analysis.ZPHTerm{Name: c, Columns: []int{k}})
		}
	}
	return out
}

func columnRange(from, n int) []int {
	out := make([]int, n)
	for k := range out {
		out[k] = from + k
	}
	return out
}

// zphQuery is the Cox request of req at beta for form (the fit's design).
func (s *Service) zphQuery(req Request, form protocol.CoxForm, beta []float64, origin map[string]float64) protocol.Query {
	q := s.baseQuery(req)
	q.Kind = protocol.KindCox
	q.ID = s.newID()
	q.Cox = &protocol.CoxRequest{Form: form, Ties: req.Cox.Ties, Covariates: req.Cox.Covariates,
		Levels: req.Cox.Levels, Beta: slices.Clone(beta), Indicators: req.Cox.Indicators,
		Interactions: req.Cox.Interactions, Origin: origin}
	if q.Cox.Ties == "" {
		q.Cox.Ties = analysis.Efron.String()
	}
	return q
}

// zphAsk sends q to every site and returns the replies of the model's sites, or an error
// naming a member that refused or did not answer (every site must take part, as in the fit).
func (s *Service) zphAsk(ctx context.Context, q protocol.Query, members map[string]bool, what string) ([]protocol.Reply, error) {
	g, err := s.query(ctx, q)
	if err != nil {
		return nil, err
	}
	return zphMembers(g, members, what)
}

// zphMembers keeps the replies of the members of g, or says which member is missing and why.
func zphMembers(g *Gathered, members map[string]bool, what string) ([]protocol.Reply, error) {
	var kept []protocol.Reply
	for _, r := range sortReplies(g.Replies) {
		if members[r.Site] && r.Cox != nil {
			kept = append(kept, r)
		}
	}
	if len(kept) == len(members) {
		return kept, nil
	}
	for _, site := range sortedKeys(members) {
		if slices.ContainsFunc(kept, func(r protocol.Reply) bool { return r.Site == site }) {
			continue
		}
		for _, p := range g.Refused {
			if p.Site == site {
				e := Errorf(ERefusedByPolicy, "site %s refused the %s (%s)", site, what, p.Message)
				e.Refused = []SiteProblem{p}
				return nil, e
			}
		}
		for _, p := range g.Invalid {
			if p.Site == site {
				return nil, Errorf(EInvalid, "site %s sent an invalid reply to the %s (%s)", site, what, p.Message)
			}
		}
		return nil, Errorf(EUnavailable, "site %s did not answer the %s", site, what)
	}
	return kept, nil
}

// zphPooledRows asks the phase-1 rows of every member at beta (the pooled form's released
// times), in site order.
func (s *Service) zphPooledRows(ctx context.Context, req Request, beta []float64, origin map[string]float64, members map[string]bool, what string) ([]protocol.Reply, [][]analysis.RiskSetRow, error) {
	q := s.zphQuery(req, protocol.CoxPooledSums, beta, origin)
	replies, err := s.zphAsk(ctx, q, members, what)
	if err != nil {
		return nil, nil, err
	}
	rows := make([][]analysis.RiskSetRow, len(replies))
	for k, r := range replies {
		for _, w := range r.Cox.Rows {
			rows[k] = append(rows[k], analysis.RiskSetRow{Time: w.Time, D: w.D, R0: w.R0, R1: w.R1, E0: w.E0, E1: w.E1})
		}
	}
	return replies, rows, nil
}

// zphTransformValues computes h at the pooled event times from the β = 0 rows.
func zphTransformValues(transform string, at0 [][]analysis.RiskSetRow) (times, values []float64, err error) {
	tab, err := analysis.ZPHTableFromRows(at0)
	if err != nil {
		return nil, nil, WrapError(EInvalid, err, "the sites' counts per time")
	}
	h, err := analysis.ZPHTransform(transform, tab)
	if err != nil {
		return nil, nil, WrapError(EInvalid, err, "the %s transform", transform)
	}
	times, values = analysis.ZPHEventValues(tab, h)
	return times, values, nil
}

// zphStratified is the check of the model stratified by site: the sums of the sites' zph
// replies.
func (s *Service) zphStratified(ctx context.Context, req Request, beta []float64, ties analysis.Ties, members map[string]bool, transform string) (analysis.ZPHSums, error) {
	z := &protocol.CoxZPHRequest{Transform: transform}
	if transform != analysis.ZPHIdentity {
		if req.Cox.Strata != "" {
			return analysis.ZPHSums{}, Errorf(EInvalid, "the %s transform of a model with strata within the sites is not supported: check it with the identity transform", transform)
		}
		_, at0, err := s.zphPooledRows(ctx, req, make([]float64, len(beta)), nil, members, "counts per time of the "+transform+" transform")
		if e, ok := err.(*Error); ok && e.Code == ERefusedByPolicy && len(e.Refused) == 1 {
			out := Errorf(ERefusedByPolicy, "the %s transform is computed from the sites' counts per time, which site %s does not release (its policy does not allow the pooled Cox form: allow_pooled_cox is false); the identity transform is answered by every site", transform, e.Refused[0].Site)
			out.Refused = e.Refused
			return analysis.ZPHSums{}, out
		}
		if err != nil {
			return analysis.ZPHSums{}, err
		}
		if z.Times, z.Values, err = zphTransformValues(transform, at0); err != nil {
			return analysis.ZPHSums{}, err
		}
	}
	q := s.zphQuery(req, protocol.CoxZPH, beta, nil)
	q.Cox.Strata, q.Cox.Ties, q.Cox.ZPH = req.Cox.Strata, ties.String(), z
	replies, err := s.zphAsk(ctx, q, members, "proportional-hazards check")
	if err != nil {
		return analysis.ZPHSums{}, err
	}
	sum := analysis.NewZPHSums(len(beta))
	for _, r := range replies {
		c := r.Cox.ZPH
		sum.Add(analysis.ZPHSums{P: len(beta), Events: c.Events, HSum: c.HSum, U: c.U, UH: c.UH, I: c.I, IH: c.IH, IHH: c.IHH})
	}
	return sum, nil
}

// zphPooled is the check of the pooled model from the two-phase round's forms.
func (s *Service) zphPooled(ctx context.Context, req Request, beta []float64, ties analysis.Ties, members map[string]bool, transform string) (analysis.ZPHSums, error) {
	origin := s.coxOrigin(ctx, req)
	p := len(beta)
	first, at0, err := s.zphPooledRows(ctx, req, make([]float64, p), origin, members, "proportional-hazards check (phase 1 at β = 0)")
	if err != nil {
		return analysis.ZPHSums{}, err
	}
	_, at, err := s.zphPooledRows(ctx, req, beta, origin, members, "proportional-hazards check (phase 1 at the fit)")
	if err != nil {
		return analysis.ZPHSums{}, err
	}
	times, values, err := zphTransformValues(transform, at0)
	if err != nil {
		return analysis.ZPHSums{}, err
	}
	step, err := analysis.NewPooledZPH(at0, at, p, beta, ties, times, values)
	if err != nil {
		return analysis.ZPHSums{}, WrapError(EInvalid, err, "the sites' sums do not combine")
	}
	var moments [3][][]float64
	for k := range moments {
		template := s.zphQuery(req, protocol.CoxPooledHessian, beta, origin)
		qs := make(map[string]protocol.Query, len(first))
		for si, rep := range first {
			q := template
			q.ID = s.newID()
			c := *template.Cox
			a, b := step.Weights(si, k)
			c.Site, c.Weights = rep.Site, &protocol.CoxWeights{A: a, B: b}
			q.Cox = &c
			qs[rep.Site] = q
		}
		g, err := s.queryEach(ctx, qs)
		if err != nil {
			return analysis.ZPHSums{}, err
		}
		second, err := zphMembers(g, members, "proportional-hazards check (phase 2)")
		if err != nil {
			return analysis.ZPHSums{}, err
		}
		bySite := map[string][]float64{}
		for _, r := range second {
			bySite[r.Site] = r.Cox.SecondMoment
		}
		for _, rep := range first {
			moments[k] = append(moments[k], bySite[rep.Site])
		}
	}
	sums, err := step.Complete(moments)
	if err != nil {
		return analysis.ZPHSums{}, WrapError(EInvalid, err, "the sites' second moments do not combine")
	}
	return sums, nil
}

// zphWithModel runs the check asked with the model m (CoxSpec.ZPH) at its sites; a check that
// cannot be made leaves the fit standing and says why.
func (s *Service) zphWithModel(ctx context.Context, req Request, m *CoxModel) *ZPHResult {
	members := map[string]bool{}
	for _, r := range m.First.Replies {
		members[r.Site] = true
	}
	if m.Cox.Fit == nil {
		return &ZPHResult{Transform: req.Cox.ZPH, Error: "the model was not fitted"}
	}
	z, err := s.coxZPH(ctx, req, m.Cox.Fit, members, req.Cox.ZPH)
	if err != nil {
		return &ZPHResult{Transform: req.Cox.ZPH, Error: ErrorMessage(err)}
	}
	return z
}

// ZPHRecord is a ZPHResult as stored: the pooled sums and terms, from which opening recomputes
// the table, or the error.
type ZPHRecord struct {
	Transform string             `json:"transform"`
	Error     string             `json:"error,omitempty"`
	Terms     []analysis.ZPHTerm `json:"terms,omitempty"`
	P         int                `json:"p,omitempty"`
	Events    int                `json:"events,omitempty"`
	HSum      float64            `json:"h_sum,omitempty"`
	U         protocol.Float64s  `json:"u,omitempty"`
	UH        protocol.Float64s  `json:"uh,omitempty"`
	I         protocol.Float64s  `json:"i,omitempty"`
	IH        protocol.Float64s  `json:"ih,omitempty"`
	IHH       protocol.Float64s  `json:"ihh,omitempty"`
}

func zphRecord(z *ZPHResult) *ZPHRecord {
	if z == nil {
		return nil
	}
	rec := &ZPHRecord{Transform: z.Transform, Error: z.Error, Terms: z.Terms}
	if z.Sums != nil {
		s := z.Sums
		rec.P, rec.Events, rec.HSum, rec.U, rec.UH, rec.I, rec.IH, rec.IHH = s.P, s.Events, s.HSum, s.U, s.UH, s.I, s.IH, s.IHH
	}
	return rec
}

// result recomputes the stored check's table.
func (rec *ZPHRecord) result() (*ZPHResult, error) {
	out := &ZPHResult{Transform: rec.Transform, Error: rec.Error, Terms: rec.Terms}
	if rec.Error != "" {
		return out, nil
	}
	p := rec.P
	if p < 1 || len(rec.U) != p || len(rec.UH) != p || len(rec.I) != p*p || len(rec.IH) != p*p || len(rec.IHH) != p*p {
		return nil, Errorf(EInternal, "the stored proportional-hazards check is malformed")
	}
	for _, t := range rec.Terms {
		for _, j := range t.Columns {
			if j < 0 || j >= p {
				return nil, Errorf(EInternal, "the stored proportional-hazards check names column %d of %d", j, p)
			}
		}
	}
	sums := analysis.ZPHSums{P: p, Events: rec.Events, HSum: rec.HSum, U: rec.U, UH: rec.UH, I: rec.I, IH: rec.IH, IHH: rec.IHH}
	rows, err := analysis.ZPHTest(sums, rec.Terms)
	if err != nil {
		return nil, WrapError(EInternal, err, "the stored proportional-hazards check")
	}
	out.Rows, out.Sums = rows, &sums
	return out, nil
}
