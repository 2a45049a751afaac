package app

import (
	"context"
	"fmt"
	"math"
	"slices"
	"sync"

	"github.com/oncofed/oncofed/analysis"
	"github.com/oncofed/oncofed/protocol"
	"github.com/oncofed/oncofed/report/format"
)

// MinSiteEvents is the fewest events a site needs for its own Cox fit in the per-site view:
// with fewer, a site's log hazard ratio is too unstable to weigh (and often infinite). It is
// the rule of the R reference (analysis/testdata/meta_goldens.R).
const MinSiteEvents = 10

// Heterogeneity is a meta-analysis of the sites' estimates (analysis.MetaAnalyze), named here
// so front ends need not import analysis.
type Heterogeneity = analysis.Heterogeneity

// SiteCoxResult is the per-site view of a site-stratified Cox model: the same model fitted at
// each site alone, for a forest plot of the sites' hazard ratios and their heterogeneity.
type SiteCoxResult struct {
	Terms []string
	Sites []SiteCoxFit // every site of the model, sorted
	// Queries is the number of extra scatter-gathers the per-site fits sent.
	Queries int
	// DP says the fits are of the sites' differentially private tables (no query: the
	// release's post-processing); each site's standard errors then include the noise
	// (SiteCoxFit.NoiseSD).
	DP bool
}

// SiteCoxFit is one site's own fit, or why there is none.
type SiteCoxFit struct {
	Site   string
	N      int
	Events int
	Fit    *analysis.CoxFit // nil when not fitted
	// Excluded says why the site is left out of every term's meta-analysis ("" when fitted
	// and converged); a term may still be left out on its own (Meta).
	Excluded string
	// NoiseSD is, for a model fitted on differentially private tables, the standard deviation
	// each coefficient of the site's fit owes to the release's noise (DPCoxNoiseSD of the
	// site's tables); Meta adds it to the fit's standard error. Nil for exact releases.
	NoiseSD []float64
}

// NoNoiseEstimate is why a site fitted on differentially private tables is left out of the
// meta-analysis when DPCoxNoiseSD has no estimate for it: a small site's fit diverges on most
// noisy copies of its tables, so its estimate cannot be told from the noise.
const NoNoiseEstimate = "its estimate does not survive the release's noise (fewer than half of the simulated noisy copies of its tables give a finite fit)"

// setFit records the site's fit, or why it is left out.
func (sf *SiteCoxFit) setFit(fit *analysis.CoxFit, err error) {
	sf.Fit = fit
	switch {
	case fit == nil && err != nil:
		sf.Excluded = ErrorMessage(err)
	case fit == nil:
		sf.Excluded = "no fit"
	case !fit.Converged:
		sf.Excluded = "the fit did not converge"
		if err != nil {
			sf.Excluded += ": " + ErrorMessage(err)
		}
	}
}

// SiteViewTerms are the terms of r's model that have a per-site view (SiteCox, Meta): the
// estimable terms (a finite coefficient in the model itself) of a model stratified by site or
// fitted on the sites' differentially private tables; none for the pooled form, which releases
// no per-site likelihood. The one rule the desktop's view choice and the CLI's --per-site share.
func SiteViewTerms(r *Result) []string {
	if r == nil || r.Cox == nil || r.Cox.Fit == nil {
		return nil
	}
	switch coxForm(r.Cox.Form) {
	case protocol.CoxStratified, protocol.CoxDPTables:
	default:
		return nil
	}
	var out []string
	for i, term := range r.Cox.Fit.Terms {
		if i < len(r.Cox.Fit.Coef) && !math.IsNaN(r.Cox.Fit.Coef[i]) {
			out = append(out, term)
		}
	}
	return out
}

// SiteCox fits the model of a stratified Cox result at each of its sites alone and returns the
// fits, for Meta.
//
// How: a site's contribution to the stratified model at β (its partial log-likelihood,
// gradient and Hessian) is all a Newton–Raphson fit of that site alone needs. Every fit starts,
// as R's coxph does, at β = 0, whose contributions are the stored first round of r: no query.
// Each further iteration needs the site's contribution at its own β, so one query per site
// and iteration is sent (the sites' fits run concurrently); the protocol sends a query to
// every site of the study, and the other sites' replies are discarded. That costs the
// sites' budgets (K − 1)/K of wasted answers, the price of needing no protocol change; the
// number of queries is reported in Queries. Sites with fewer than MinSiteEvents events are
// not fitted.
//
// The fits equal R's coxph on each site's data (the same FitCox as the pooled model). The
// per-site fits are not stored with r: reopening r from the library and asking for the
// per-site view needs the network again.
func (s *Service) SiteCox(ctx context.Context, r *Result) (*SiteCoxResult, error) {
	if r == nil || r.Request.Kind != protocol.KindCox || r.Request.Cox == nil || len(r.Rounds) == 0 {
		return nil, Errorf(EInvalid, "the per-site view needs a Cox result")
	}
	ties, err := coxTies(r.Request.Cox.Ties)
	if err != nil {
		return nil, err
	}
	switch coxForm(r.Request.Cox.Form) {
	case protocol.CoxDPTables:
		return siteCoxDP(r, ties)
	case protocol.CoxStratified:
	default:
		return nil, Errorf(EInvalid, "the per-site view needs the model stratified by site (the pooled form releases no per-site likelihood)")
	}
	first := r.Rounds[0]
	// The sites' own contributions at β = 0: the trace's first step, or the first round's
	// replies of a result that holds them.
	firstReplies := first.Replies
	if r.Trace != nil && len(r.Trace.Steps) > 0 {
		if firstReplies, err = r.Trace.Steps[0].siteReplies(r.Trace.Columns); err != nil {
			return nil, err
		}
	}
	if first.Query.Cox == nil || len(firstReplies) == 0 {
		return nil, Errorf(EInternal, "the stored Cox rounds are incomplete")
	}
	p := len(first.Query.Cox.Beta)
	for _, b := range first.Query.Cox.Beta {
		if b != 0 {
			return nil, Errorf(EInternal, "the first stored Cox round is not at β = 0")
		}
	}
	out := &SiteCoxResult{}
	if r.Cox != nil && r.Cox.Fit != nil {
		out.Terms = slices.Clone(r.Cox.Fit.Terms)
	}
	for _, rep := range firstReplies {
		if out.Terms == nil && rep.Cox != nil && len(rep.Cox.Columns) == p {
			out.Terms = slices.Clone(rep.Cox.Columns)
		}
	}
	terms := out.Terms
	if len(terms) != p {
		terms = nil
	}
	var (
		wg       sync.WaitGroup
		mu       sync.Mutex
		queries  int
		tried    int
		lostNet  error // the network failed for every site fitted
		netFails int
	)
	out.Sites = make([]SiteCoxFit, len(firstReplies))
	for i, rep := range sortReplies(firstReplies) {
		sf := &out.Sites[i]
		sf.Site = rep.Site
		if rep.Cox == nil {
			sf.Excluded = "no contribution"
			continue
		}
		sf.N, sf.Events = rep.Cox.N, rep.Cox.Events
		if rep.Cox.Events < MinSiteEvents {
			sf.Excluded = fmt.Sprintf("%s, fewer than %d", format.Plural(rep.Cox.Events, "event", "events"), MinSiteEvents)
			continue
		}
		tried++
		wg.Add(1)
		go func(rep protocol.Reply) {
			defer wg.Done()
			calls := 0
			eval := func(beta []float64) (analysis.CoxContribution, error) {
				calls++
				reply := rep
				if calls > 1 {
					q := first.Query
					q.ID = s.newID()
					cox := *first.Query.Cox
					cox.Beta = slices.Clone(beta)
					q.Cox = &cox
					mu.Lock()
					queries++
					mu.Unlock()
					g, err := s.query(ctx, q)
					if err != nil {
						return analysis.CoxContribution{}, err
					}
					found := false
					for _, x := range g.Replies {
						if x.Site == rep.Site {
							reply, found = x, true
						}
					}
					if !found {
						why := "did not answer"
						for _, pr := range append(slices.Clone(g.Refused), g.Invalid...) {
							if pr.Site == rep.Site {
								why = "answered with an error (" + pr.Code + ": " + pr.Message + ")"
							}
						}
						return analysis.CoxContribution{}, Errorf(EUnavailable, "%s in iteration %d", why, calls-1)
					}
				}
				c, _, err := coxRound([]protocol.Reply{reply}, protocol.CoxStratified, ties, beta)
				return c, err
			}
			fit, err := analysis.FitCox(eval, p, analysis.CoxOptions{Terms: terms})
			if err != nil && ErrorCode(err) == EUnavailable && s.Offline() {
				mu.Lock()
				netFails++
				lostNet = err
				mu.Unlock()
			}
			sf.setFit(fit, err)
		}(rep)
	}
	wg.Wait()
	out.Queries = queries
	if err := ctx.Err(); err != nil {
		return nil, WrapError(EUnavailable, err, "the per-site fits were cancelled")
	}
	if tried > 0 && netFails == tried {
		return nil, lostNet
	}
	return out, nil
}

// Meta meta-analyses the sites' log hazard ratios of one term (analysis.MetaAnalyze at the
// given level): the sites' estimates used, and the heterogeneity with every left-out site
// named — not fitted, not converged, the term not estimable there (e.g. one sex only), or its
// coefficient possibly infinite.
func (sc *SiteCoxResult) Meta(term string, level float64) ([]analysis.SiteEstimate, analysis.Heterogeneity, error) {
	j := slices.Index(sc.Terms, term)
	if j < 0 {
		return nil, analysis.Heterogeneity{}, Errorf(EInvalid, "the model has no term %q", term)
	}
	var used []analysis.SiteEstimate
	var excluded []analysis.ExcludedSite
	for _, s := range sc.Sites {
		why := s.Excluded
		if why == "" && s.Fit != nil && s.NoiseSD == nil && sc.DP {
			why = NoNoiseEstimate
		}
		if why == "" && s.Fit != nil {
			switch {
			case slices.Contains(s.Fit.NotEstimable, term) || math.IsNaN(s.Fit.Coef[j]):
				why = "not estimable at this site"
			case slices.Contains(s.Fit.Infinite, term):
				why = "coefficient may be infinite"
			case !(s.Fit.SE[j] > 0) || math.IsInf(s.Fit.SE[j], 0):
				why = "no finite standard error"
			}
		}
		if why != "" {
			excluded = append(excluded, analysis.ExcludedSite{Site: s.Site, Reason: why})
			continue
		}
		se := s.Fit.SE[j]
		if s.NoiseSD != nil {
			se = math.Hypot(se, s.NoiseSD[j])
		}
		used = append(used, analysis.SiteEstimate{Site: s.Site, Estimate: s.Fit.Coef[j], SE: se})
	}
	h, err := analysis.MetaAnalyze(used, level)
	h.Excluded = append(excluded, h.Excluded...)
	if err != nil {
		return used, h, WrapError(EInvalid, err, "no site has its own estimate of %s", term)
	}
	return used, h, nil
}
