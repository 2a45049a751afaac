package analysis

import (
	"fmt"
	"math"
)

// TwoArmWeightedCox is the weighted Cox model of an endpoint on treatment alone — x = 1 in the
// treated arm, 0 in the control arm — with one baseline hazard for everyone (the pooled, or
// shared-baseline, form), computed from the two arms' weighted survival tables.
//
// With treatment the only covariate, every quantity of the model is a sum over cells of
// subjects that share arm, time and status: the risk-set sums are S0 = Y_c + e^β Y_t,
// S1 = S2 = e^β Y_t (x² = x) with Y the arms' summed case weights at risk, the events' sums
// likewise, and two subjects of one cell have the same score residual r, so the robust
// variance's meat Σ_i (w_i r_i)² is Σ_cells r² Σw² and the weighted score Σ_cells r Σw. The
// arms' tables (Σw, Σw² and the numbers of events and of censorings per time) are therefore
// sufficient: merged over sites (MergeWeightedTables) they give exactly what R's
// coxph(Surv(time, status) ~ trt, weights = w, robust = TRUE) gives on the pooled patients,
// Efron or Breslow — and, with one arm per site, it is the only form in which treatment is
// membership in a site (every stratum of a site-stratified model would hold one arm).
type TwoArmWeightedCox struct {
	time []float64
	// per arm (0 control, 1 treated), per time of the union: summed weights, summed squared
	// weights and numbers of events and censorings
	ev, ce, ev2, ce2 [2][]float64
	nev              [2][]int
	n                int
}

// NewTwoArmWeightedCox builds the model from the control and treated arms' tables (each
// already merged over sites). A malformed table or an empty arm is an error.
func NewTwoArmWeightedCox(control, treated WeightedSurvivalTable) (*TwoArmWeightedCox, error) {
	m := &TwoArmWeightedCox{}
	for a, t := range []WeightedSurvivalTable{control, treated} {
		if err := t.Validate(); err != nil {
			return nil, err
		}
		if len(t.Time) == 0 {
			return nil, fmt.Errorf("analysis: weighted Cox: the %s arm has no patients", armName(a))
		}
	}
	u := MergeWeightedTables(control, treated)
	m.time = u.Time
	for a, t := range []WeightedSurvivalTable{control, treated} {
		al := MergeWeightedTables(t, WeightedSurvivalTable{Time: u.Time, Events: make([]float64, len(u.Time)),
			Censor: make([]float64, len(u.Time)), Events2: make([]float64, len(u.Time)), Censor2: make([]float64, len(u.Time)),
			NEvent: make([]int, len(u.Time)), NCensor: make([]int, len(u.Time))})
		m.ev[a], m.ce[a], m.ev2[a], m.ce2[a], m.nev[a] = al.Events, al.Censor, al.Events2, al.Censor2, al.NEvent
		for k := range al.Time {
			m.n += al.NEvent[k] + al.NCensor[k]
		}
	}
	return m, nil
}

func armName(a int) string {
	if a == 1 {
		return "treated"
	}
	return "control"
}

// Contribution returns the weighted log partial likelihood of the treatment's log hazard
// ratio beta[0], its gradient and Hessian, as WeightedCoxStratum.Contribution does for the
// patients themselves (R's coxph weights: each of the d Efron terms of a time counts the
// events' mean weight). Use it with FitCox.
func (m *TwoArmWeightedCox) Contribution(beta []float64, ties Ties) (CoxContribution, error) {
	if err := checkBeta("TwoArmWeightedCox.Contribution", beta, 1); err != nil {
		return CoxContribution{}, err
	}
	acc := newCoxAccum(1, ties)
	acc.weighted = true
	theta := math.Exp(beta[0])
	eventX := []float64{0}
	x := [2][]float64{{0}, {1}}
	rw := [2]float64{1, theta}
	for k := len(m.time) - 1; k >= 0; k-- {
		acc.beginTime()
		for a := 0; a < 2; a++ {
			if m.nev[a][k] > 0 {
				acc.addCell(m.nev[a][k], m.ev[a][k], rw[a]*m.ev[a][k], x[a], true)
			}
			if c := m.ce[a][k]; c > 0 {
				acc.addCell(0, c, rw[a]*c, x[a], false)
			}
		}
		acc.eventTerm()
		eventX[0] += m.ev[1][k]
	}
	return acc.contribution(m.n, beta[0]*eventX[0], eventX), nil
}

// ScoreMeat returns the meat Σ_i (w_i r_i)² of the robust variance and the weighted score
// Σ_i w_i r_i at beta, over the cells of the tables, with r the score residual of
// WeightedCoxStratum.ScoreMeat (Efron's share (1 − l/d) of each tied term for the dying; R's
// coxscore2). Sandwich combines them with the fit into R's robust = TRUE variance and the
// robust score (weighted log-rank) test.
func (m *TwoArmWeightedCox) ScoreMeat(beta []float64, ties Ties) (meat, score []float64, err error) {
	if err := checkBeta("TwoArmWeightedCox.ScoreMeat", beta, 1); err != nil {
		return nil, nil, err
	}
	T := len(m.time)
	theta := math.Exp(beta[0])
	rw := [2]float64{1, theta}
	// Per time: hazard increments and their x̄-weighted sums for those at risk who do not die
	// then (dh, dA) and for those who die then (dhD, dAD), and the x̄ the deaths compare with.
	dh, dhD, dA, dAD, xbarD := make([]float64, T), make([]float64, T), make([]float64, T), make([]float64, T), make([]float64, T)
	var s0, s1 float64
	s1v, e1v := make([]float64, 1), make([]float64, 1)
	for k := T - 1; k >= 0; k-- {
		var e0, e1, dw float64
		d := 0
		for a := 0; a < 2; a++ {
			r := rw[a] * (m.ev[a][k] + m.ce[a][k])
			s0 += r
			s1 += float64(a) * r
			if m.nev[a][k] > 0 {
				d += m.nev[a][k]
				dw += m.ev[a][k]
				e0 += rw[a] * m.ev[a][k]
				e1 += float64(a) * rw[a] * m.ev[a][k]
			}
		}
		if d == 0 {
			continue
		}
		s1v[0], e1v[0] = s1, e1
		dh[k], dhD[k] = scoreIncrements(ties, d, dw, s0, e0, s1v, e1v, dA[k:k+1], dAD[k:k+1], xbarD[k:k+1])
	}
	var m0, u0, cumH, cumA float64
	for k := 0; k < T; k++ {
		for a := 0; a < 2; a++ {
			x := float64(a)
			if m.nev[a][k] > 0 {
				r := x - xbarD[k] - rw[a]*(x*(cumH+dhD[k])-(cumA+dAD[k]))
				m0 += r * r * m.ev2[a][k]
				u0 += r * m.ev[a][k]
			}
			if m.ce[a][k] > 0 {
				r := -rw[a] * (x*(cumH+dh[k]) - (cumA + dA[k]))
				m0 += r * r * m.ce2[a][k]
				u0 += r * m.ce[a][k]
			}
		}
		cumH += dh[k]
		cumA += dA[k]
	}
	return []float64{m0}, []float64{u0}, nil
}

// Len returns the number of subjects and Events the number of events of both arms.
func (m *TwoArmWeightedCox) Len() int { return m.n }
func (m *TwoArmWeightedCox) Events() int {
	e := 0
	for a := range m.nev {
		for _, d := range m.nev[a] {
			e += d
		}
	}
	return e
}

// FitTwoArmWeightedCox fits the pooled weighted Cox model of treatment from the arms' merged
// tables (NewTwoArmWeightedCox) by FitCox with opts, and returns it with its robust variance
// and robust score test (Sandwich, with the meats at β̂ and at 0).
func FitTwoArmWeightedCox(control, treated WeightedSurvivalTable, ties Ties, opts CoxOptions) (*CoxFit, *RobustCox, error) {
	m, err := NewTwoArmWeightedCox(control, treated)
	if err != nil {
		return nil, nil, err
	}
	fit, err := FitCox(func(beta []float64) (CoxContribution, error) { return m.Contribution(beta, ties) }, 1, opts)
	if err != nil {
		return nil, nil, err
	}
	meat, _, err := m.ScoreMeat(fit.Coef, ties)
	if err != nil {
		return nil, nil, err
	}
	meat0, score0, err := m.ScoreMeat([]float64{0}, ties)
	if err != nil {
		return nil, nil, err
	}
	rob, err := Sandwich(fit, meat, meat0, score0)
	if err != nil {
		return nil, nil, err
	}
	return fit, rob, nil
}

// FitWeightedStratifiedCox fits the weighted Cox model stratified by the strata (each site its
// own stratum: R's coxph(... + strata(site), weights = w, robust = TRUE)) from the strata's
// summed contributions, as the network's cox rounds do, with its robust variance and robust
// score test (Sandwich, with the strata's summed meats at β̂ and at 0; each subject's score
// residual from its own stratum's risk sets).
func FitWeightedStratifiedCox(strata []*WeightedCoxStratum, ties Ties, opts CoxOptions) (*CoxFit, *RobustCox, error) {
	if len(strata) == 0 {
		return nil, nil, fmt.Errorf("analysis: FitWeightedStratifiedCox: no strata")
	}
	q := strata[0].s.p
	fit, err := FitCox(func(beta []float64) (CoxContribution, error) {
		var sum CoxContribution
		for _, s := range strata {
			c, err := s.Contribution(beta, ties)
			if err != nil {
				return c, err
			}
			sum.Add(c)
		}
		return sum, nil
	}, q, opts)
	if err != nil {
		return nil, nil, err
	}
	rob, err := sandwichOf(fit, func(beta []float64) (m, u []float64, err error) {
		m, u = make([]float64, q*q), make([]float64, q)
		for _, s := range strata {
			ms, us, err := s.ScoreMeat(beta, ties)
			if err != nil {
				return nil, nil, err
			}
			accumulate(m, ms)
			accumulate(u, us)
		}
		return m, u, nil
	})
	return fit, rob, err
}

// sandwichOf is the robust variance of fit and the robust score test from meat, the summed
// meat and weighted score at a β: at β̂ and at 0.
func sandwichOf(fit *CoxFit, meat func(beta []float64) (m, u []float64, err error)) (*RobustCox, error) {
	m, _, err := meat(fit.Coef)
	if err != nil {
		return nil, err
	}
	m0, u0, err := meat(make([]float64, len(fit.Coef)))
	if err != nil {
		return nil, err
	}
	return Sandwich(fit, m, m0, u0)
}
