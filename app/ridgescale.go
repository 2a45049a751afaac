package app

import (
	"context"
	"math"
	"strings"

	"github.com/oncofed/oncofed/protocol"
)

// ridge(scale = TRUE) weighs each design column's penalty by its variance, R's
// var(z[!is.na(z)]) over the data the model is fitted on (docs/prediction.md, "Ridge
// penalty"). Here those are the cohort's patients with a value of the covariate, and the
// variance comes from the cohort summary the sites already release (protocol.VariableSummary:
// n, Σx, Σx² of a numeric variable, the count of each level of a categorical one), asked once
// before the fit; nothing new leaves a site. A leave-one-site-out loop uses, for each
// complement, the variance over the complement's sites, as R's ridge() computes it on the data
// it is given.

// columnMoments are one site's sums behind the variance of every design column: for column j,
// the number of patients with a value, Σx and Σx² (an indicator's Σx = Σx² is its level's
// count).
type columnMoments struct {
	n, sum, sumSq []float64
}

// ridgeMoments asks the cohort summary of the model's covariates and returns each site's
// column moments, in design-column order. Every site of the model must answer it with nothing
// suppressed (a suppressed count would make the variance wrong): otherwise the error names the
// site and says to fit with scale = FALSE.
func (s *Service) ridgeMoments(ctx context.Context, req Request) (map[string]columnMoments, error) {
	if len(req.Cox.Interactions) > 0 || len(req.Cox.Indicators) > 0 {
		return nil, Errorf(EInvalid, "ridge scale = TRUE is offered for covariates without interactions or single-level indicators; fit with scale = FALSE")
	}
	q := s.baseQuery(Request{Kind: protocol.KindSummary, Study: req.Study, Cohort: req.Cohort, Endpoint: req.Endpoint,
		Variables: req.Cox.Covariates})
	q.ID = s.newID()
	g, err := s.query(ctx, q)
	if err != nil {
		return nil, err
	}
	if err := noAnswer(g); err != nil {
		return nil, err
	}
	const why = "ridge scale = TRUE needs the variance of every covariate over the whole cohort (the sites' cohort summary); "
	for _, p := range append(append([]SiteProblem(nil), g.Refused...), g.Invalid...) {
		return nil, Errorf(ERefusedByPolicy, why+"site %s did not give it (%s); fit with scale = FALSE", p.Site, p.Message)
	}
	if len(g.Missing) > 0 {
		return nil, Errorf(EUnavailable, why+"%s did not answer; fit with scale = FALSE", strings.Join(g.Missing, ", "))
	}
	out := map[string]columnMoments{}
	for _, r := range g.Replies {
		if r.Summary == nil || len(r.Summary.Groups) != 1 {
			return nil, Errorf(EInvalid, "site %s: no cohort summary for the ridge scale", r.Site)
		}
		m, err := siteColumnMoments(r.Summary.Groups[0], req.Cox)
		if err != nil {
			return nil, WrapError(ERefusedByPolicy, err, why+"site %s", r.Site)
		}
		out[r.Site] = m
	}
	return out, nil
}

// siteColumnMoments turns one site's summary into its design columns' moments: a numeric
// covariate's n, Σx, Σx²; for each non-reference level of a categorical one, the indicator's
// over the patients with a level.
func siteColumnMoments(g protocol.GroupSummary, spec *CoxSpec) (columnMoments, error) {
	var m columnMoments
	add := func(n, sum, sumSq float64) {
		m.n, m.sum, m.sumSq = append(m.n, n), append(m.sum, sum), append(m.sumSq, sumSq)
	}
	for _, v := range spec.Covariates {
		var vs *protocol.VariableSummary
		for i := range g.Variables {
			if g.Variables[i].Variable == v {
				vs = &g.Variables[i]
			}
		}
		if vs == nil {
			return m, Errorf(EInvalid, "no summary of %s", v)
		}
		levels, categorical := spec.Levels[v]
		if !categorical {
			if vs.N.Suppressed {
				return m, Errorf(ERefusedByPolicy, "the count of patients with %s is suppressed (below min_cell)", v)
			}
			add(float64(vs.N.N), vs.Sum, vs.SumSq)
			continue
		}
		total := 0
		for level, c := range vs.Categories {
			if c.Suppressed {
				return m, Errorf(ERefusedByPolicy, "the count of %s = %s is suppressed (below min_cell)", v, level)
			}
			total += c.N
		}
		for _, level := range levels[1:] {
			k := float64(vs.Categories[level].N)
			add(float64(total), k, k)
		}
	}
	return m, nil
}

// ridgeWeights are the columns' variances over the given sites (nil: all of them), with the
// n − 1 denominator.
func ridgeWeights(moments map[string]columnMoments, sites map[string]bool) ([]float64, error) {
	var n, sum, sumSq []float64
	for site, m := range moments {
		if sites != nil && !sites[site] {
			continue
		}
		if n == nil {
			n, sum, sumSq = make([]float64, len(m.n)), make([]float64, len(m.n)), make([]float64, len(m.n))
		}
		for j := range m.n {
			n[j] += m.n[j]
			sum[j] += m.sum[j]
			sumSq[j] += m.sumSq[j]
		}
	}
	out := make([]float64, len(n))
	for j := range n {
		if n[j] < 2 {
			return nil, Errorf(ERefusedByPolicy, "ridge scale = TRUE: design column %d has %v patients with a value, too few for a variance", j+1, n[j])
		}
		out[j] = (sumSq[j] - sum[j]*sum[j]/n[j]) / (n[j] - 1)
		if !(out[j] > 0) || math.IsInf(out[j], 0) {
			return nil, Errorf(ERefusedByPolicy, "ridge scale = TRUE: design column %d does not vary over the cohort", j+1)
		}
	}
	return out, nil
}

// sameSites checks that the model was fitted on the sites whose summaries gave the ridge
// scale: a site in one and not the other would make the variances those of other data.
func sameSites(moments map[string]columnMoments, fitted []SiteEvents) error {
	n := 0
	for _, s := range fitted {
		if _, ok := moments[s.Site]; !ok {
			return Errorf(ERefusedByPolicy, "ridge scale = TRUE: site %s took part in the fit but gave no cohort summary; fit with scale = FALSE", s.Site)
		}
		n++
	}
	if n != len(moments) {
		return Errorf(ERefusedByPolicy, "ridge scale = TRUE: %d sites gave the cohort summary but %d took part in the fit; fit with scale = FALSE", len(moments), n)
	}
	return nil
}
