package app

import (
	"fmt"
	"slices"

	"github.com/oncofed/oncofed/analysis"
	"github.com/oncofed/oncofed/protocol"
	"github.com/oncofed/oncofed/report/format"
)

// siteCoxDP is the per-site view of a model fitted on differentially private tables (form
// dp_tables): each site's own fit on the noisy tables it released, computed locally — it sends
// no query, spends no ρ and learns nothing the release did not hold (post-processing). A
// site's estimate then owes its spread to two sources: the sampling error of the fit's
// standard error and the release's noise, estimated per site by DPCoxNoiseSD (the noise's
// distribution is public) and added in quadrature before the meta-analysis (SiteCoxFit.NoiseSD).
// The site's counts shown (N, events) are the released noisy ones.
func siteCoxDP(r *Result, ties analysis.Ties) (*SiteCoxResult, error) {
	replies := r.Rounds[0].Replies
	if len(replies) == 0 && r.Trace != nil {
		replies = r.Trace.DPReplies
	}
	if len(replies) == 0 || r.Rounds[0].Query.Cox == nil {
		return nil, Errorf(EInvalid, "this differentially private model was stored without its sites' tables (before they were kept): run it again for the per-site view")
	}
	p := len(r.Rounds[0].Query.Cox.Beta)
	out := &SiteCoxResult{DP: true, Terms: coxTerms(replies, p)}
	if r.Cox != nil && r.Cox.Fit != nil {
		out.Terms = slices.Clone(r.Cox.Fit.Terms)
	}
	for _, rep := range sortReplies(replies) {
		sf := SiteCoxFit{Site: rep.Site}
		switch {
		case rep.Cox == nil:
			sf.Excluded = "no tables"
		case rep.Cox.Events < MinSiteEvents:
			sf.N, sf.Events = rep.Cox.N, rep.Cox.Events
			sf.Excluded = fmt.Sprintf("%s (a noisy count), fewer than %d", format.Plural(rep.Cox.Events, "event", "events"), MinSiteEvents)
		default:
			sf.N, sf.Events = rep.Cox.N, rep.Cox.Events
			one := []protocol.Reply{rep}
			eval, err := dpCoxEvaluator(one, p, ties)
			if err != nil {
				sf.Excluded = ErrorMessage(err)
				break
			}
			fit, err := analysis.FitCoxSteps(eval, p, analysis.CoxOptions{Terms: out.Terms})
			sf.setFit(fit, err)
			if sf.Excluded == "" {
				sf.NoiseSD = DPCoxNoiseSD(one, p, ties)
			}
		}
		out.Sites = append(out.Sites, sf)
	}
	return out, nil
}
