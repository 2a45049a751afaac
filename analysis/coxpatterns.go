package analysis

import (
	"fmt"
	"math"
)

// CoxPatternTable is the survival table of one covariate pattern: Events[k] subjects with
// an event and Censor[k] censored subjects at Time[k], every one of them with the design row
// X. A differentially private Cox release (protocol.CoxPattern) is a set of them per site.
type CoxPatternTable struct {
	X      []float64
	Time   []float64
	Events []int
	Censor []int
}

// NewCoxStratumPatterns returns the stratum of the subjects the tables describe (p design
// columns each). A Cox fit on it is R's coxph on the same rows, or equally on one row per
// table cell with the count as a case weight (frequency weights give the same partial
// likelihood, Efron's ties included). A negative count, a non-finite time or covariate, or a
// row of the wrong length returns an error naming the table and row.
func NewCoxStratumPatterns(tables []CoxPatternTable, p int) (*CoxStratum, error) {
	var (
		times  []float64
		events []bool
		x      []float64
	)
	for k, t := range tables {
		if len(t.X) != p {
			return nil, fmt.Errorf("analysis: pattern %d has %d covariates, want %d", k, len(t.X), p)
		}
		if len(t.Events) != len(t.Time) || len(t.Censor) != len(t.Time) {
			return nil, fmt.Errorf("analysis: pattern %d has %d times, %d event counts and %d censoring counts", k, len(t.Time), len(t.Events), len(t.Censor))
		}
		for i, tm := range t.Time {
			d, c := t.Events[i], t.Censor[i]
			if d < 0 || c < 0 || math.IsNaN(tm) || math.IsInf(tm, 0) || tm < 0 {
				return nil, fmt.Errorf("analysis: pattern %d, row %d: %d events and %d censorings at time %v", k, i, d, c, tm)
			}
			for j := range d + c {
				times = append(times, tm)
				events = append(events, j < d)
				x = append(x, t.X...)
			}
		}
	}
	return NewCoxStratum(times, events, x, p)
}

// FitCoxPatterns fits the Cox model stratified by site on the sites' pattern tables (one
// stratum per site; a site without any subject is skipped) with FitCox, keeping every iterate
// within bound (nil: none), as the client does with a differentially private release.
func FitCoxPatterns(sites [][]CoxPatternTable, p int, ties Ties, bound []float64, opts CoxOptions) (*CoxFit, error) {
	var strata []*CoxStratum
	for s, tables := range sites {
		st, err := NewCoxStratumPatterns(tables, p)
		if err != nil {
			return nil, fmt.Errorf("analysis: site %d: %w", s, err)
		}
		if st.Len() > 0 {
			strata = append(strata, st)
		}
	}
	return FitCox(func(beta []float64) (CoxContribution, error) {
		var sum CoxContribution
		for _, st := range strata {
			c, err := st.Contribution(beta, ties)
			if err != nil {
				return CoxContribution{}, err
			}
			sum.Add(c)
		}
		if sum.Gradient == nil {
			sum.Gradient, sum.Hessian = make([]float64, p), make([]float64, p*p)
		}
		sum.CoefBound = bound
		return sum, nil
	}, p, opts)
}
