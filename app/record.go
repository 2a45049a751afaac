package app

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"slices"

	"github.com/oncofed/oncofed/analysis"
	"github.com/oncofed/oncofed/protocol"
)

// A result is kept compact: what re-rendering and verifying it need, not every reply of every
// round. A pooled Cox fit at 1M patients on 10 sites received 68.8 MiB of replies (risk-set
// sums per distinct time, every Newton step); its compact form is a few KiB.
//
//   - Every round keeps its query and, per reply, the site and the SHA-256 and size of the
//     reply's JSON as received (ReplyDigest): provenance that names exactly what was merged,
//     which a site can match against its audit log, without keeping the bytes.
//   - A count, summary or Kaplan–Meier result keeps its one round's replies too: they are the
//     per-site tables the result is drawn from (and the per-site views, PerSiteKM).
//   - A Cox result keeps a CoxTrace instead of its replies: β and the merged contribution
//     (log-likelihood, gradient, Hessian) at every step of the fit, each site's own
//     contribution at every step where the protocol releases one (the model stratified by
//     site), and the sites' counts. Reopening replays FitCox over the trace, checking that it
//     asks for the very β of every step, so the fit renders bit for bit as it was computed.
//
// The trace does not depend on how the sites' replies are shaped: it records what the fit
// consumed (analysis.CoxContribution), however many scatter-gathers a step took.

// ReplyDigest identifies one reply of a round: its site and the SHA-256 and size of its JSON
// as received.
type ReplyDigest struct {
	Site   string `json:"site"`
	SHA256 string `json:"sha256"`
	Bytes  int    `json:"bytes"`
}

// CoxTrace is the compact record of a Cox fit: everything Render needs to show it again.
type CoxTrace struct {
	// Columns names the design columns (the model's terms), in β order.
	Columns []string `json:"columns"`
	// Sites are the sites of the model with what they contributed, sorted by site.
	Sites []CoxSiteSummary `json:"sites"`
	// Steps are the evaluations of the fit, in the order FitCox asked for them.
	Steps []CoxStep `json:"steps"`
	// Baseline is the pooled model's baseline hazard at β̂ (CoxResult.Baseline), for
	// prediction: kept because the phase-1 replies it comes from are not. Nil otherwise.
	Baseline *CoxBaselineRecord `json:"baseline,omitempty"`
	// Validation is the leave-one-site-out validation asked with the model: what each site
	// released about the model fitted on the others (its pooling is recomputed on opening).
	Validation *LOSORecord `json:"validation,omitempty"`
	// RidgeChoice is the leave-one-site-out choice of the ridge penalty's θ, when asked.
	RidgeChoice *RidgeChoiceRecord `json:"ridge_choice,omitempty"`
	// RidgeScale is the ridge penalty's column variances (scale = TRUE), as fitted with.
	RidgeScale protocol.Float64s `json:"ridge_scale,omitempty"`
	// ZPH is the proportional-hazards check asked with the model: its pooled sums (the table
	// is recomputed on opening), or why there is none.
	ZPH *ZPHRecord `json:"zph,omitempty"`
	// NoiseSD is, for a model fitted on differentially private tables, the standard deviation
	// of each coefficient under the release's noise (DPCoxNoiseSD), computed when it was fitted.
	NoiseSD protocol.Float64s `json:"noise_sd,omitempty"`
	// NoiseCov is the noise's whole covariance of the coefficients (p×p, row-major), from the
	// same simulated releases: the Wald test's share of the noise. Absent from results stored
	// before it was kept (their Wald test is then withheld).
	NoiseCov protocol.Float64s `json:"noise_cov,omitempty"`
	// DPReplies are, for a model fitted on differentially private tables, the sites' replies
	// (their noisy tables and the release's public parameters): the per-site view fits each
	// site's tables alone (SiteCox), post-processing that needs no query. Small: a table per
	// covariate pattern on the site's time grid.
	DPReplies []protocol.Reply `json:"dp_replies,omitempty"`
}

// CoxBaselineRecord is analysis.CoxBaseline as stored, its numbers kept exactly.
type CoxBaselineRecord struct {
	Ties     string            `json:"ties"`
	P        int               `json:"p"`
	Time     protocol.Float64s `json:"time"`
	Events   []int             `json:"events"`
	CumHaz   protocol.Float64s `json:"cumhaz"`
	VarHaz   protocol.Float64s `json:"varhaz"`
	XBar     protocol.Float64s `json:"xbar"`
	LastTime float64           `json:"last_time"`
	Origin   protocol.Float64s `json:"origin,omitempty"` // the sites' centring (analysis.CoxBaseline.Origin)
}

func baselineRecord(b *analysis.CoxBaseline) *CoxBaselineRecord {
	if b == nil {
		return nil
	}
	return &CoxBaselineRecord{Ties: b.Ties.String(), P: b.P, Time: b.Time, Events: b.Events, CumHaz: b.CumHaz,
		VarHaz: b.VarHaz, XBar: b.XBar, LastTime: b.LastTime, Origin: b.Origin}
}

// baseline returns the stored baseline, checked for shape.
func (r *CoxBaselineRecord) baseline(p int) (*analysis.CoxBaseline, error) {
	ties, err := coxTies(r.Ties)
	if err != nil {
		return nil, err
	}
	n := len(r.Time)
	if r.P != p || n == 0 || len(r.Events) != n || len(r.CumHaz) != n || len(r.VarHaz) != n || len(r.XBar) != n*p || (len(r.Origin) != 0 && len(r.Origin) != p) {
		return nil, Errorf(EInternal, "the stored baseline hazard is incomplete")
	}
	return &analysis.CoxBaseline{Ties: ties, P: p, Time: slices.Clone(r.Time), Events: slices.Clone(r.Events),
		CumHaz: slices.Clone(r.CumHaz), VarHaz: slices.Clone(r.VarHaz), XBar: slices.Clone(r.XBar), LastTime: r.LastTime,
		Origin: slices.Clone(r.Origin)}, nil
}

// CoxSiteSummary is one site's part of a Cox model: its subjects and events, and the patients
// left out for a missing covariate as released under the site's min_cell.
type CoxSiteSummary struct {
	Site     string         `json:"site"`
	N        int            `json:"n"`
	Events   int            `json:"events"`
	Excluded protocol.Count `json:"excluded"`
	MinCell  int            `json:"min_cell"`
}

// CoxStep is one evaluation of the fit: β and the merged contribution there (CoxValues). In
// the two-phase pooled form the contribution is first known without its Hessian, which a second
// phase completes only where the fit uses it (analysis.FitCoxSteps): Complete then holds the
// completed contribution.
type CoxStep struct {
	Beta protocol.Float64s `json:"beta"`
	CoxValues
	Complete *CoxValues `json:"complete,omitempty"`
	// Sites holds each site's own contribution at this β where the sites release one (the
	// model stratified by site; the merged contribution is their sum, which opening checks),
	// sorted by site; nil for the pooled form.
	Sites []CoxSiteStep `json:"sites,omitempty"`
}

// CoxValues is a merged contribution (analysis.CoxContribution), its numbers kept exactly
// (protocol.Float64s: base64 of IEEE-754 bits, NaN and ±Inf included — a step the fit halved
// back from may have a non-finite log-likelihood).
type CoxValues struct {
	LogLik       protocol.Float64s `json:"loglik"` // one value
	Gradient     protocol.Float64s `json:"gradient"`
	Hessian      protocol.Float64s `json:"hessian,omitempty"` // nil: not known before the step is completed
	SecondMoment protocol.Float64s `json:"second_moment,omitempty"`
	CoefBound    protocol.Float64s `json:"coef_bound,omitempty"`
	N            int               `json:"n"`
	Events       int               `json:"events"`
}

// CoxSiteStep is one site's own contribution to a step of a stratified fit, as it sent it.
type CoxSiteStep struct {
	Site      string            `json:"site"`
	LogLik    protocol.Float64s `json:"loglik"` // one value
	Gradient  protocol.Float64s `json:"gradient"`
	Hessian   protocol.Float64s `json:"hessian"`
	BetaLimit protocol.Float64s `json:"beta_limit,omitempty"`
	N         int               `json:"n"`
	Events    int               `json:"events"`
}

func newCoxValues(c analysis.CoxContribution) CoxValues {
	return CoxValues{
		LogLik: protocol.Float64s{c.LogLik}, Gradient: slices.Clone(c.Gradient), Hessian: slices.Clone(c.Hessian),
		SecondMoment: slices.Clone(c.SecondMoment), CoefBound: slices.Clone(c.CoefBound),
		N: c.N, Events: c.Events,
	}
}

func newCoxStep(beta []float64, c analysis.CoxContribution) CoxStep {
	return CoxStep{Beta: slices.Clone(beta), CoxValues: newCoxValues(c)}
}

// contribution is the recorded contribution for p coefficients.
func (s *CoxValues) contribution(p int) (analysis.CoxContribution, error) {
	if len(s.LogLik) != 1 || len(s.Gradient) != p || (s.Hessian != nil && len(s.Hessian) != p*p) ||
		(s.SecondMoment != nil && len(s.SecondMoment) != p) || (s.CoefBound != nil && len(s.CoefBound) != p) {
		return analysis.CoxContribution{}, Errorf(EInternal, "a stored Cox step has the wrong number of values for %d coefficients", p)
	}
	return analysis.CoxContribution{
		LogLik: s.LogLik[0], Gradient: slices.Clone(s.Gradient), Hessian: slices.Clone(s.Hessian),
		SecondMoment: slices.Clone(s.SecondMoment), CoefBound: slices.Clone(s.CoefBound),
		N: s.N, Events: s.Events,
	}, nil
}

// siteReplies turns the step's per-site contributions back into the replies coxRound merges.
func (s *CoxStep) siteReplies(columns []string) ([]protocol.Reply, error) {
	out := make([]protocol.Reply, len(s.Sites))
	for i, ss := range s.Sites {
		if len(ss.LogLik) != 1 {
			return nil, Errorf(EInternal, "the stored contribution of site %s has no log-likelihood", ss.Site)
		}
		out[i] = protocol.Reply{Site: ss.Site, Cox: &protocol.CoxReply{Columns: columns, N: ss.N, Events: ss.Events,
			LogLik: ss.LogLik[0], Gradient: ss.Gradient, Hessian: ss.Hessian, BetaLimit: ss.BetaLimit}}
	}
	return out, nil
}

// coxRecorder records every evaluation of a live fit that succeeded, and its completion.
type coxRecorder struct{ steps []CoxStep }

// wrap returns eval recording each contribution it returns, and the completed one when the fit
// asks for it and it differs.
func (rec *coxRecorder) wrap(eval analysis.CoxStepEvaluator) analysis.CoxStepEvaluator {
	return func(beta []float64) (analysis.CoxContribution, func() (analysis.CoxContribution, error), error) {
		c, complete, err := eval(beta)
		if err != nil {
			return c, complete, err
		}
		k := len(rec.steps)
		rec.steps = append(rec.steps, newCoxStep(beta, c))
		return c, func() (analysis.CoxContribution, error) {
			full, err := complete()
			if err == nil && !sameContribution(full, c) {
				v := newCoxValues(full)
				rec.steps[k].Complete = &v
			}
			return full, err
		}, nil
	}
}

// traceFromRounds computes the steps of a Cox result that holds its replies (a result stored
// before results were kept compact, or one built in code): it refits the model replaying the
// rounds (replayRounds) and records every evaluation, as the live fit records them.
func traceFromRounds(req Request, rounds []Round) ([]CoxStep, error) {
	eval, err := replayRounds(req, rounds)
	if err != nil {
		return nil, err
	}
	rec := &coxRecorder{}
	if _, err := fitCox(rec.wrap(eval), len(rounds[0].Query.Cox.Beta), req, coxForm(req.Cox.Form), coxTerms(rounds[0].Replies, len(rounds[0].Query.Cox.Beta))); err != nil {
		return nil, err
	}
	return rec.steps, nil
}

// replayRounds returns the evaluator that hands FitCox the contribution of the stored rounds at
// each of its calls, checking that FitCox asks for the very β each round was computed at: a
// round per evaluation, and in the two-phase pooled form the phase-2 round after it when the fit
// completes that evaluation. A pooled result stored before the two-phase round holds one-phase
// rounds.
func replayRounds(req Request, rounds []Round) (analysis.CoxStepEvaluator, error) {
	ties, err := coxTies(req.Cox.Ties)
	if err != nil {
		return nil, err
	}
	form := coxForm(req.Cox.Form)
	if len(rounds) == 0 || rounds[0].Query.Cox == nil || len(rounds[0].Replies) == 0 {
		return nil, Errorf(EInternal, "the stored Cox rounds are incomplete")
	}
	if form == protocol.CoxDPTables && req.Cox.DPPooled {
		eval, _, err := dpPooledEvaluator(rounds[0].Replies, len(rounds[0].Query.Cox.Beta), ties)
		return eval, err
	}
	if form == protocol.CoxDPTables {
		return dpCoxEvaluator(rounds[0].Replies, len(rounds[0].Query.Cox.Beta), ties) // one release, fitted locally
	}
	k := 0
	next := func(beta []float64, want protocol.CoxForm) (Round, error) {
		if k >= len(rounds) {
			return Round{}, Errorf(EInternal, "the refit asks for more rounds (%d) than were stored", k+1)
		}
		round := rounds[k]
		if round.Query.Cox == nil || !analysis.EqualBits(round.Query.Cox.Beta, beta) || (want != "" && round.Query.Cox.Form != want) {
			return Round{}, Errorf(EInternal, "the refit diverges from the stored rounds at round %d", k)
		}
		k++
		return round, nil
	}
	return func(beta []float64) (analysis.CoxContribution, func() (analysis.CoxContribution, error), error) {
		round, err := next(beta, "")
		if err != nil {
			return analysis.CoxContribution{}, nil, err
		}
		rf := round.Query.Cox.Form
		if rf != protocol.CoxPooledSums {
			rf = form
		}
		c, _, step, err := coxRoundStep(round.Replies, rf, ties, beta)
		if err != nil || step == nil {
			return c, func() (analysis.CoxContribution, error) { return c, nil }, err
		}
		b := slices.Clone(beta)
		return c, func() (analysis.CoxContribution, error) {
			second, err := next(b, protocol.CoxPooledHessian)
			if err != nil {
				return analysis.CoxContribution{}, err
			}
			return coxHessianRound(step, c, round.Replies, second.Replies)
		}, nil
	}, nil
}

// buildTrace makes the trace of a Cox result from its rounds, which still hold their replies,
// and the steps of its fit.
func buildTrace(req Request, rounds []Round, steps []CoxStep) (*CoxTrace, error) {
	if len(rounds) == 0 || len(rounds[0].Replies) == 0 || len(steps) == 0 || rounds[0].Query.Cox == nil {
		return nil, Errorf(EInternal, "the Cox rounds are incomplete")
	}
	first := rounds[0].Replies
	tr := &CoxTrace{Columns: coxTerms(first, len(steps[0].Beta)), Steps: steps, Sites: coxSiteSummaries(first)}
	if coxForm(req.Cox.Form) == protocol.CoxDPTables {
		tr.DPReplies = sortReplies(first)
	}
	if coxForm(req.Cox.Form) != protocol.CoxStratified {
		return tr, nil
	}
	// Stratified: a round per step, each reply a site's own contribution.
	if len(rounds) != len(steps) {
		return nil, Errorf(EInternal, "%d rounds for %d steps of a stratified Cox fit", len(rounds), len(steps))
	}
	for k, round := range rounds {
		for _, rep := range sortReplies(round.Replies) {
			c := rep.Cox
			if c == nil {
				return nil, Errorf(EInternal, "site %s: cox reply without a contribution", rep.Site)
			}
			tr.Steps[k].Sites = append(tr.Steps[k].Sites, CoxSiteStep{Site: rep.Site, LogLik: protocol.Float64s{c.LogLik},
				Gradient: slices.Clone(c.Gradient), Hessian: slices.Clone(c.Hessian), BetaLimit: slices.Clone(c.BetaLimit),
				N: c.N, Events: c.Events})
		}
	}
	return tr, nil
}

// coxSiteSummaries are the sites of a Cox model, from the replies of its first round.
func coxSiteSummaries(first []protocol.Reply) []CoxSiteSummary {
	var out []CoxSiteSummary
	for _, rep := range sortReplies(first) {
		if rep.Cox != nil {
			out = append(out, CoxSiteSummary{Site: rep.Site, N: rep.Cox.N, Events: rep.Cox.Events,
				Excluded: rep.Cox.ExcludedCount(), MinCell: rep.Policy.MinCell})
		}
	}
	return out
}

// digestReplies returns the digest of every reply of round.
func digestReplies(round *Round) ([]ReplyDigest, error) {
	out := make([]ReplyDigest, len(round.Replies))
	for i, rep := range round.Replies {
		b, err := round.ReplyBytes(i)
		if err != nil {
			return nil, WrapError(EInvalid, err, "the reply of site %s cannot be stored", rep.Site)
		}
		h := sha256.Sum256(b)
		out[i] = ReplyDigest{Site: rep.Site, SHA256: hex.EncodeToString(h[:]), Bytes: len(b)}
	}
	return out, nil
}

// compact brings r, whose rounds hold their replies, into the form it is stored in: every
// round with the digests of its replies; a Cox result with its trace (from steps, the
// evaluations of its fit) and without its replies. It sets the content hash.
func compact(r *Result, steps []CoxStep) error {
	for i := range r.Rounds {
		if r.Rounds[i].Replies == nil && r.Rounds[i].Digests != nil {
			continue // digested as it arrived (a screen's rounds)
		}
		d, err := digestReplies(&r.Rounds[i])
		if err != nil {
			return err
		}
		r.Rounds[i].Digests = d
	}
	if r.Request.Kind == protocol.KindScreen {
		for i := range r.Rounds {
			r.Rounds[i].Replies, r.Rounds[i].ReplyJSON = nil, nil
		}
	}
	if r.Request.Kind == protocol.KindCox {
		tr, err := buildTrace(r.Request, r.Rounds, steps)
		if err != nil {
			return err
		}
		if r.Cox != nil {
			tr.Baseline = baselineRecord(r.Cox.Baseline)
			tr.Validation = losoRecord(r.Cox.Validation)
			tr.RidgeChoice = ridgeChoiceRecord(r.Cox.RidgeChoice)
			tr.RidgeScale = slices.Clone(r.Cox.RidgeScale)
			tr.ZPH = zphRecord(r.Cox.ZPH)
			tr.NoiseSD, tr.NoiseCov = slices.Clone(r.Cox.NoiseSD), slices.Clone(r.Cox.NoiseCov)
		}
		r.Trace = tr
		for i := range r.Rounds {
			r.Rounds[i].Replies, r.Rounds[i].ReplyJSON = nil, nil
		}
	}
	r.Provenance.ContentHash = ResultHash(r)
	return nil
}

// Compact converts a result stored before results were kept compact (its rounds hold every
// reply, and its content hash is ContentHash's) to the compact form, after checking it
// against its content hash: the cache's migration calls it for every stored result. A result
// already compact is left as it is. The payload is not rendered.
func Compact(r *Result) error {
	if r.compact() {
		return nil
	}
	if ContentHash(r.Request, r.Rounds) != r.Provenance.ContentHash {
		return Errorf(EInternal, "the cached result %d (%s) does not match its content hash; it may be damaged", r.ID, r.Name)
	}
	var steps []CoxStep
	if r.Request.Kind == protocol.KindCox {
		if r.Request.Cox == nil {
			return Errorf(EInvalid, "a Cox result without a model")
		}
		var err error
		if steps, err = traceFromRounds(r.Request, r.Rounds); err != nil {
			return err
		}
	}
	old := *r
	old.Rounds = slices.Clone(r.Rounds)
	if err := compact(r, steps); err != nil {
		return err
	}
	// The compact form must render what the stored rounds rendered.
	if r.Request.Kind == protocol.KindCox {
		if _, err := renderCoxTrace(r.Request, r.Trace); err != nil {
			*r = old
			return err
		}
	}
	return nil
}

// compact reports whether r is in the compact form: every round names its replies' digests.
func (r *Result) compact() bool {
	if len(r.Rounds) == 0 {
		return false
	}
	for _, round := range r.Rounds {
		if round.Digests == nil {
			return false
		}
	}
	return true
}

// ResultHash is the content hash of a compact result: the SHA-256 of the request, every
// round's query and reply digests and, for a Cox result, its trace, as encoding/json writes
// them. Replies a result keeps are checked against their digests (verify).
func ResultHash(r *Result) string {
	h := sha256.New()
	enc := json.NewEncoder(h)
	must := func(v any) {
		if err := enc.Encode(v); err != nil {
			panic("app: result does not marshal: " + err.Error())
		}
	}
	must("oncofed result v2")
	must(r.Request)
	for _, round := range r.Rounds {
		must(struct {
			Query   protocol.Query `json:"query"`
			Replies []ReplyDigest  `json:"replies"`
		}{round.Query, round.Digests})
	}
	if r.Trace != nil {
		must(r.Trace)
	}
	if r.ScreenTrace != nil {
		must(r.ScreenTrace)
	}
	return hex.EncodeToString(h.Sum(nil))
}

// verify checks a result loaded from the cache against its content hash: a compact result's
// request, digests and trace, and each reply it keeps against its digest; a result in the
// form before compaction, every reply of every round (ContentHash).
func verify(r *Result) error {
	damaged := Errorf(EInternal, "the cached result %d (%s) does not match its content hash; it may be damaged", r.ID, r.Name)
	if !r.compact() {
		if ContentHash(r.Request, r.Rounds) != r.Provenance.ContentHash {
			return damaged
		}
		return nil
	}
	if ResultHash(r) != r.Provenance.ContentHash {
		return damaged
	}
	for i := range r.Rounds {
		round := &r.Rounds[i]
		if round.Replies == nil {
			continue
		}
		d, err := digestReplies(round)
		if err != nil || !slices.Equal(d, round.Digests) {
			return damaged
		}
	}
	if (r.Request.Kind == protocol.KindCox && r.Trace == nil) || (r.Request.Kind == protocol.KindScreen && r.ScreenTrace == nil) {
		return damaged
	}
	return nil
}

// renderCoxTrace refits the model from its trace: the replay evaluator hands FitCox the
// contribution of step k at its k-th call and checks that FitCox asks for the very β that step
// was computed at and uses every step, so the refit retraces the original iterations bit for
// bit. In the stratified form each step's merged contribution must also be what the sites'
// own contributions add up to.
func renderCoxTrace(req Request, tr *CoxTrace) (*CoxResult, error) {
	if req.Cox == nil {
		return nil, Errorf(EInvalid, "a Cox result without a model")
	}
	ties, err := coxTies(req.Cox.Ties)
	if err != nil {
		return nil, err
	}
	form := coxForm(req.Cox.Form)
	if len(tr.Steps) == 0 || len(tr.Steps[0].Beta) == 0 || len(tr.Columns) != len(tr.Steps[0].Beta) {
		return nil, Errorf(EInternal, "the stored Cox fit is incomplete")
	}
	p := len(tr.Steps[0].Beta)
	k := 0
	eval := func(beta []float64) (analysis.CoxContribution, func() (analysis.CoxContribution, error), error) {
		if k >= len(tr.Steps) {
			return analysis.CoxContribution{}, nil, Errorf(EInternal, "the refit asks for more steps (%d) than were stored", k+1)
		}
		st := &tr.Steps[k]
		if !analysis.EqualBits(st.Beta, beta) {
			return analysis.CoxContribution{}, nil, Errorf(EInternal, "the refit diverges from the stored fit at step %d", k)
		}
		k++
		c, err := st.contribution(p)
		if err != nil {
			return c, nil, err
		}
		complete := func() (analysis.CoxContribution, error) {
			if st.Complete == nil {
				return c, nil
			}
			return st.Complete.contribution(p)
		}
		if form != protocol.CoxStratified {
			return c, complete, nil
		}
		replies, err := st.siteReplies(tr.Columns)
		if err != nil {
			return c, nil, err
		}
		sum, _, err := coxRound(replies, form, ties, beta)
		if err != nil {
			return c, nil, err
		}
		if !sameContribution(sum, c) {
			return c, nil, Errorf(EInternal, "step %d of the stored fit: the sites' contributions do not add up to the stored total", k-1)
		}
		return c, complete, nil
	}
	var choice *RidgeChoice
	if tr.RidgeChoice != nil {
		if choice, err = tr.RidgeChoice.result(); err != nil {
			return nil, err
		}
	}
	out, err := fitCox(eval, p, fittedRequest(req, choice, tr.RidgeScale), form, slices.Clone(tr.Columns))
	if err != nil {
		return nil, err
	}
	out.RidgeChoice, out.RidgeScale = choice, slices.Clone(tr.RidgeScale)
	if k != len(tr.Steps) {
		return nil, Errorf(EInternal, "the refit used %d of the %d stored steps", k, len(tr.Steps))
	}
	out.addSites(tr.Sites)
	if tr.Baseline != nil {
		if out.Baseline, err = tr.Baseline.baseline(p); err != nil {
			return nil, err
		}
	}
	if tr.Validation != nil {
		if out.Validation, err = tr.Validation.result(tr.Columns); err != nil {
			return nil, err
		}
	}
	out.NoiseSD = slices.Clone(tr.NoiseSD)
	if tr.ZPH != nil {
		if out.ZPH, err = tr.ZPH.result(); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// sameContribution reports whether a and b hold the same bits.
func sameContribution(a, b analysis.CoxContribution) bool {
	return analysis.EqualBits([]float64{a.LogLik}, []float64{b.LogLik}) && analysis.EqualBits(a.Gradient, b.Gradient) &&
		analysis.EqualBits(a.Hessian, b.Hessian) && analysis.EqualBits(a.SecondMoment, b.SecondMoment) &&
		analysis.EqualBits(a.CoefBound, b.CoefBound) && a.N == b.N && a.Events == b.Events &&
		(a.SecondMoment == nil) == (b.SecondMoment == nil) && (a.CoefBound == nil) == (b.CoefBound == nil)
}
