package analysis

import (
	"fmt"
	"math"
)

// The covariate-adjusted pooled weighted Cox model over the network (docs/ipw.md, "The
// adjusted pooled model"): R's coxph(Surv ~ trt + covariates, weights = w, robust = TRUE) on
// every site's patients with one baseline hazard, in the rounds of the two-phase pooled Cox
// fit (cox_twophase.go) with case weights w_i (each site's own IPW weights) and a third phase
// for the robust variance.
//
// With risk weights r_i = w_i exp(x_i'β) in the sums and, at a time with d events of summed case
// weight D, each of Efron's d terms counted D/d times (R's coxfit6), the weighted partial
// likelihood's sums are those of the unweighted one with r_i in place of exp(x_i'β) and the
// Efron weights su, sv, suu, suv, svv multiplied by D/d. So:
//
//   - phase 1 (WeightedCoxStratum.TimeSums): per distinct time D, R0 = Σ r, R1 = Σ r x, E0, E1
//     and the events' summed case weight DW; Σ_events w x;
//   - phase 2 (WeightedCoxStratum.WeightedSecondMoment): M = Σ_i r_i x_i x_i' A(T_i) −
//     Σ_events r_i x_i x_i' B(T_i), A and B the pooled weighted Efron weights
//     (WeightedPooledCoxSums gives them and completes the Hessian with PooledCoxStep.Complete);
//   - phase 3, the meat (WeightedCoxStratum.PooledScoreMeat): each patient's score residual
//
//     r_i = δ_i (x_i − x̄_D(T_i)) − e^{x_i'β} (x_i H(T_i) − Ā(T_i))
//
//     needs only pooled numbers at the patient's own time: the cumulative hazard H and
//     Ā = Σ x̄ dΛ up to T_i (for a death at T_i, Efron's share of the increments at T_i, and the
//     mean x̄_D the deaths compare with). The site returns Σ_i (w_i r_i)(w_i r_i)' and Σ_i w_i r_i
//     (O(p²)); the client sends H, Ā at its times and H_D, Ā_D, x̄_D at its event times
//     (WeightedPooledMeatWeights, O(T p)). The sum over sites is R's robust meat exactly (every
//     patient her own cluster, as R's dfbeta residuals summed per patient).

// TimeSums returns the stratum's phase-1 rows at beta with case weights: per distinct time in
// increasing order D, R0 = Σ w e^{x'β}, R1 = Σ w e^{x'β} x, and at times with events E0, E1
// over the events; dw[k] the events' summed case weight at row k; eventXSum = Σ_events w x.
// Covariates are taken as given (uncentred): every site must use the same origin.
func (ws *WeightedCoxStratum) TimeSums(beta []float64) (rows []RiskSetRow, dw, eventXSum []float64, err error) {
	s := ws.s
	p := s.p
	if err := checkBeta("WeightedCoxStratum.TimeSums", beta, p); err != nil {
		return nil, nil, nil, err
	}
	G := len(s.groups) - 1
	rows, dw, eventXSum = make([]RiskSetRow, G), make([]float64, G), make([]float64, p)
	for g := range rows {
		r := &rows[g]
		lo, hi := int(s.groups[g]), int(s.groups[g+1])
		r.Time = s.time[lo]
		r.R1 = make([]float64, p)
		for k := lo; k < hi; k++ {
			xi := s.x[k*p : (k+1)*p]
			cw := ws.w[k]
			rk := cw * math.Exp(dot(beta, xi))
			r.R0 += rk
			for j, v := range xi {
				r.R1[j] += rk * v
			}
			if !s.event[k] {
				continue
			}
			if r.E1 == nil {
				r.E1 = make([]float64, p)
			}
			r.D++
			dw[g] += cw
			r.E0 += rk
			for j, v := range xi {
				r.E1[j] += rk * v
				eventXSum[j] += cw * v
			}
		}
	}
	return rows, dw, eventXSum, nil
}

// WeightedSecondMoment returns the stratum's phase-2 reply at beta with case weights: the p×p
// M = Σ_i w_i e^{x_i'β} x_i x_i' a[g(i)] − Σ_events w_i e^{x_i'β} x_i x_i' b[e(i)] (row-major,
// symmetric), g(i) the index of subject i's time among the distinct times and e(i) among those
// with events (the rows of TimeSums).
func (ws *WeightedCoxStratum) WeightedSecondMoment(beta, a, b []float64) ([]float64, error) {
	times, err := ws.s.checkSecondMoment("WeightedCoxStratum.WeightedSecondMoment", beta, a, b)
	if err != nil {
		return nil, err
	}
	return ws.s.secondMoment(beta, a, b, ws.w, times), nil
}

// pooledTime is one distinct time of the pooled rows: where each site holds it, and the sums
// over every site's rows at that time.
type pooledTime struct {
	t      float64
	at     [][2]int // (site, row)
	d      int
	dw     float64
	r0, e0 float64
	r1, e1 []float64
}

// poolRows merges the sites' rows by time (increasing), checking them as PooledCoxSums does.
// Each site's rows are in increasing time, so the merge walks them together: O(R K) for R rows
// of K sites, with the pooled sums in one buffer.
func poolRows(sites [][]RiskSetRow, dw [][]float64, p int) ([]pooledTime, error) {
	if len(dw) != len(sites) {
		return nil, fmt.Errorf("analysis: weighted pooled Cox: %d sites but %d event weight sums", len(sites), len(dw))
	}
	total := 0
	for s, rows := range sites {
		if err := checkTimeSums(s, rows, p); err != nil {
			return nil, err
		}
		if len(dw[s]) != len(rows) {
			return nil, fmt.Errorf("analysis: weighted pooled Cox: site %d: %d event weight sums for %d rows", s, len(dw[s]), len(rows))
		}
		for k, r := range rows {
			if v := dw[s][k]; math.IsNaN(v) || math.IsInf(v, 0) || v < 0 || (r.D > 0) != (v > 0) {
				return nil, fmt.Errorf("analysis: weighted pooled Cox: site %d, row %d: %d events of summed weight %v", s, k, r.D, v)
			}
		}
		total += len(rows)
	}
	out := make([]pooledTime, 0, total)
	buf := make([]float64, 2*p*total)
	at := make([][2]int, 0, total)
	walkPooledForward(sites, func(rows []siteRow) {
		o := pooledTime{t: sites[rows[0].s][rows[0].k].Time, r1: buf[:p:p], e1: buf[p : 2*p : 2*p]}
		buf = buf[2*p:]
		start := len(at)
		for _, sr := range rows {
			at = append(at, [2]int{sr.s, sr.k})
			r := &sites[sr.s][sr.k]
			o.r0 += r.R0
			accumulate(o.r1, r.R1)
			if r.D > 0 {
				o.d += r.D
				o.dw += dw[sr.s][sr.k]
				o.e0 += r.E0
				accumulate(o.e1, r.E1)
			}
		}
		o.at = at[start:len(at):len(at)]
		out = append(out, o)
	})
	return out, nil
}

// WeightedPooledCoxSums computes, on the client, the pooled weighted log partial likelihood and
// gradient at beta from every site's weighted phase-1 rows (WeightedCoxStratum.TimeSums: rows,
// their events' summed case weights dw, and Σ_events w x), and the phase-2 weights of every site;
// PooledCoxStep.Complete adds the sites' WeightedSecondMoment replies. Equal to
// WeightedCoxStratum.Contribution on the pooled patients.
func WeightedPooledCoxSums(sites [][]RiskSetRow, dw, eventXSum [][]float64, p int, beta []float64, ties Ties) (*PooledCoxStep, error) {
	if len(beta) != p {
		panic(fmt.Sprintf("analysis: WeightedPooledCoxSums: %d coefficients for p = %d", len(beta), p))
	}
	if len(eventXSum) != len(sites) {
		return nil, fmt.Errorf("analysis: weighted pooled Cox: %d sites but %d event sums", len(sites), len(eventXSum))
	}
	ts, err := poolRows(sites, dw, p)
	if err != nil {
		return nil, err
	}
	eventX := make([]float64, p)
	for s, ex := range eventXSum {
		if len(ex) != p || !allFiniteValues(ex) {
			return nil, fmt.Errorf("analysis: weighted pooled Cox: site %d: %d event sums for p = %d", s, len(ex), p)
		}
		accumulate(eventX, ex)
	}
	st := &PooledCoxStep{p: p, outer: make([]float64, p*p), a: make([][]float64, len(sites)), b: make([][]float64, len(sites))}
	for s, rows := range sites {
		st.a[s] = make([]float64, len(rows))
		for _, r := range rows {
			if r.D > 0 {
				st.b[s] = append(st.b[s], 0)
			}
		}
	}
	su := make([]float64, len(ts))
	sv := make([]float64, len(ts))
	s0, s1 := 0.0, make([]float64, p)
	loglik, events := 0.0, 0
	grad := make([]float64, p)
	for i := len(ts) - 1; i >= 0; i-- {
		pt := &ts[i]
		s0 += pt.r0
		accumulate(s1, pt.r1)
		if pt.d == 0 {
			continue
		}
		events += pt.d
		mult := pt.dw / float64(pt.d)
		u, v, uu, uv, vv, terms := efronWeights(s0, pt.e0, pt.d, ties, 0)
		loglik += mult * terms
		u, v, uu, uv, vv = mult*u, mult*v, mult*uu, mult*uv, mult*vv
		su[i], sv[i] = u, v
		for a := 0; a < p; a++ {
			grad[a] -= s1[a]*u - pt.e1[a]*v
			row := st.outer[a*p : a*p+a+1]
			for b := range row {
				row[b] += s1[a]*s1[b]*uu - (s1[a]*pt.e1[b]+pt.e1[a]*s1[b])*uv + pt.e1[a]*pt.e1[b]*vv
			}
		}
	}
	next := make([]int, len(sites)) // next B to fill per site
	cum := 0.0
	for i, pt := range ts {
		cum += su[i]
		for _, sk := range pt.at {
			s, k := sk[0], sk[1]
			st.a[s][k] = cum
			if sites[s][k].D > 0 {
				st.b[s][next[s]] = sv[i]
				next[s]++
			}
		}
	}
	st.contrib = CoxContribution{LogLik: loglik + dot(beta, eventX), Gradient: make([]float64, p), Events: events}
	for j := range grad {
		st.contrib.Gradient[j] = eventX[j] + grad[j]
	}
	return st, nil
}

// PooledMeatWeights are the pooled numbers one site needs at its own times for its part of the
// robust meat (WeightedCoxStratum.PooledScoreMeat): at each of its rows (distinct times, the rows
// of TimeSums) the cumulative hazard H and the p-vector Ā = Σ x̄ dΛ up to and including that
// time, as a patient who does not die then sees them; at each of its rows with events, HD and
// ĀD as a patient who dies then sees them (Efron: her share of the increments at that time) and
// the mean XBarD her covariates are compared with. Matrices are row-major (rows × p).
type PooledMeatWeights struct {
	H, A, HD, AD, XBarD []float64
}

// WeightedPooledMeatWeights computes every site's meat weights at beta from the sites' weighted
// phase-1 rows at beta.
func WeightedPooledMeatWeights(sites [][]RiskSetRow, dw [][]float64, p int, beta []float64, ties Ties) ([]PooledMeatWeights, error) {
	if len(beta) != p {
		panic(fmt.Sprintf("analysis: WeightedPooledMeatWeights: %d coefficients for p = %d", len(beta), p))
	}
	ts, err := poolRows(sites, dw, p)
	if err != nil {
		return nil, err
	}
	n := len(ts)
	dh, dhD := make([]float64, n), make([]float64, n)
	dA, dAD, xbarD := make([]float64, n*p), make([]float64, n*p), make([]float64, n*p)
	s0, s1 := 0.0, make([]float64, p)
	for i := n - 1; i >= 0; i-- {
		pt := &ts[i]
		s0 += pt.r0
		accumulate(s1, pt.r1)
		if pt.d > 0 {
			dh[i], dhD[i] = scoreIncrements(ties, pt.d, pt.dw, s0, pt.e0, s1, pt.e1, dA[i*p:(i+1)*p], dAD[i*p:(i+1)*p], xbarD[i*p:(i+1)*p])
		}
	}
	out := make([]PooledMeatWeights, len(sites))
	cumH, cumA := 0.0, make([]float64, p)
	for i, pt := range ts {
		for _, sk := range pt.at {
			o := &out[sk[0]]
			o.H = append(o.H, cumH+dh[i])
			o.A = append(o.A, addVec(cumA, dA[i*p:(i+1)*p], 1)...)
			if sites[sk[0]][sk[1]].D > 0 {
				o.HD = append(o.HD, cumH+dhD[i])
				o.AD = append(o.AD, addVec(cumA, dAD[i*p:(i+1)*p], 1)...)
				o.XBarD = append(o.XBarD, xbarD[i*p:(i+1)*p]...)
			}
		}
		cumH += dh[i]
		accumulate(cumA, dA[i*p:(i+1)*p])
	}
	return out, nil
}

// CheckPooledMeatWeights checks the shape of meat weights for a site with the given distinct
// times and event times, and the structure every honest weight has: finite, H ≥ 0 and
// non-decreasing over the rows, HD ≥ 0.
func CheckPooledMeatWeights(w PooledMeatWeights, times, eventTimes, p int) error {
	if len(w.H) != times || len(w.A) != times*p || len(w.HD) != eventTimes || len(w.AD) != eventTimes*p || len(w.XBarD) != eventTimes*p {
		return fmt.Errorf("analysis: meat weights: lengths %d, %d, %d, %d, %d for %d times, %d with events, p = %d", len(w.H), len(w.A), len(w.HD), len(w.AD), len(w.XBarD), times, eventTimes, p)
	}
	for _, v := range [][]float64{w.H, w.A, w.HD, w.AD, w.XBarD} {
		if !allFiniteValues(v) {
			return fmt.Errorf("analysis: meat weights: a weight is not finite")
		}
	}
	for k, h := range w.H {
		if h < 0 || (k > 0 && h < w.H[k-1]) {
			return fmt.Errorf("analysis: meat weights: the cumulative hazard H must be non-negative and non-decreasing (row %d)", k)
		}
	}
	for _, h := range w.HD {
		if h < 0 {
			return fmt.Errorf("analysis: meat weights: HD must be non-negative")
		}
	}
	return nil
}

// PooledScoreMeat returns the site's part of the robust meat at beta, Σ_i (w_i r_i)(w_i r_i)'
// (p×p row-major), and of the weighted score Σ_i w_i r_i, r_i the score residual of subject i
// computed from the pooled meat weights at its own time (WeightedPooledMeatWeights).
func (ws *WeightedCoxStratum) PooledScoreMeat(beta []float64, w PooledMeatWeights) (meat, score []float64, err error) {
	s := ws.s
	p := s.p
	if err := checkBeta("WeightedCoxStratum.PooledScoreMeat", beta, p); err != nil {
		return nil, nil, err
	}
	times, eventTimes := s.DistinctTimes()
	if err := CheckPooledMeatWeights(w, times, eventTimes, p); err != nil {
		return nil, nil, err
	}
	meat, score = make([]float64, p*p), make([]float64, p)
	res := make([]float64, p)
	e := 0
	for g := 0; g < times; g++ {
		if s.HasEvent(g) {
			// A death at this time sees the hazard up to the time before and part of its own
			// increment: between the previous row's H and this row's.
			lo, hi := 0.0, w.H[g]
			if g > 0 {
				lo = w.H[g-1]
			}
			if hd := w.HD[e]; hd < lo*(1-1e-9) || hd > hi*(1+1e-9) {
				return nil, nil, fmt.Errorf("analysis: meat weights: HD[%d] = %g lies outside [%g, %g], the hazard before and at its time", e, hd, lo, hi)
			}
		}
		hadEvent := false
		for k := int(s.groups[g]); k < int(s.groups[g+1]); k++ {
			xi := s.x[k*p : (k+1)*p]
			risk := math.Exp(dot(beta, xi))
			h, a := w.H[g], w.A[g*p:(g+1)*p]
			ev := s.event[k]
			if ev {
				hadEvent = true
				h, a = w.HD[e], w.AD[e*p:(e+1)*p]
			}
			cw := ws.w[k]
			for j := 0; j < p; j++ {
				r := -risk * (xi[j]*h - a[j])
				if ev {
					r += xi[j] - w.XBarD[e*p+j]
				}
				res[j] = cw * r
				score[j] += res[j]
			}
			for i := 0; i < p; i++ {
				for j := 0; j <= i; j++ {
					meat[i*p+j] += res[i] * res[j]
				}
			}
		}
		if hadEvent {
			e++
		}
	}
	for i := 0; i < p; i++ {
		for j := 0; j < i; j++ {
			meat[j*p+i] = meat[i*p+j]
		}
	}
	return meat, score, nil
}

// accumulate adds src to dst in place.
func accumulate(dst, src []float64) {
	for i, v := range src {
		dst[i] += v
	}
}

// FitWeightedPooledCox fits the pooled weighted Cox model of the sites' strata (one baseline
// hazard over all of them) in process, through the three phases the network runs: phase 1
// (TimeSums) pooled by WeightedPooledCoxSums, phase 2 (WeightedSecondMoment) for each Hessian
// the fit uses, and the meat phase (PooledScoreMeat) at β̂ and at 0 for the robust variance and
// score test. For tests and benchmarks of the network form without a network.
func FitWeightedPooledCox(strata []*WeightedCoxStratum, ties Ties, opts CoxOptions) (*CoxFit, *RobustCox, error) {
	if len(strata) == 0 {
		return nil, nil, fmt.Errorf("analysis: FitWeightedPooledCox: no strata")
	}
	q := strata[0].s.p
	phase1 := func(beta []float64) (rows [][]RiskSetRow, dw, ex [][]float64, err error) {
		rows, dw, ex = make([][]RiskSetRow, len(strata)), make([][]float64, len(strata)), make([][]float64, len(strata))
		for s, st := range strata {
			if rows[s], dw[s], ex[s], err = st.TimeSums(beta); err != nil {
				return nil, nil, nil, err
			}
		}
		return rows, dw, ex, nil
	}
	fit, err := FitCoxSteps(func(beta []float64) (CoxContribution, func() (CoxContribution, error), error) {
		rows, dw, ex, err := phase1(beta)
		if err != nil {
			return CoxContribution{}, nil, err
		}
		step, err := WeightedPooledCoxSums(rows, dw, ex, q, beta, ties)
		if err != nil {
			return CoxContribution{}, nil, err
		}
		return step.Contribution(), func() (CoxContribution, error) {
			moments := make([][]float64, len(strata))
			for s, st := range strata {
				a, b := step.Weights(s)
				if moments[s], err = st.WeightedSecondMoment(beta, a, b); err != nil {
					return CoxContribution{}, err
				}
			}
			return step.Complete(moments)
		}, nil
	}, q, opts)
	if err != nil {
		return nil, nil, err
	}
	meat := func(beta []float64) (m, u []float64, err error) {
		rows, dw, _, err := phase1(beta)
		if err != nil {
			return nil, nil, err
		}
		ws, err := WeightedPooledMeatWeights(rows, dw, q, beta, ties)
		if err != nil {
			return nil, nil, err
		}
		m, u = make([]float64, q*q), make([]float64, q)
		for s, st := range strata {
			ms, us, err := st.PooledScoreMeat(beta, ws[s])
			if err != nil {
				return nil, nil, err
			}
			accumulate(m, ms)
			accumulate(u, us)
		}
		return m, u, nil
	}
	rob, err := sandwichOf(fit, meat)
	return fit, rob, err
}
