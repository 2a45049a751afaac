package analysis

import (
	"fmt"
	"math"
	"slices"
)

// The two-phase pooled Cox round (docs/cox-protocol.md). The WebDISCO form (RiskSetRows,
// PooledCoxContribution) ships R2 = Σ w x x' per distinct time: O(T p²) per site and round.
// The p×p part of the pooled information is, with su_t, sv_t the Efron weights of pooled event
// time t (see coxAccum.eventTerm),
//
//	Σ_t [S2(t) su_t − E2(t) sv_t] − Σ_t [S1 S1' suu_t − (S1 E1' + E1 S1') suv_t + E1 E1' svv_t],
//
// and S2(t) = Σ_{i: T_i ≥ t} w_i x_i x_i' turns the first sum into a sum over subjects:
//
//	Σ_t S2(t) su_t = Σ_i w_i x_i x_i' A(T_i),   A(T) = Σ_{event times t ≤ T} su_t,
//	Σ_t E2(t) sv_t = Σ_{events i} w_i x_i x_i' B(T_i),   B(t) = sv_t.
//
// So a round has two phases. In phase 1 every site sends, per distinct time, D, R0, R1, E0, E1
// (TimeSums: O(T p)); the client pools them, which gives ℓ and U exactly, and the second sum
// above (client-side, O(T p²) with no wire cost). In phase 2, only for a β the fit accepts, the
// client sends each site A at its own distinct times and B at its own event times (O(T)), and
// the site returns its p×p weighted second moment M = Σ_i w x x' A(T_i) − Σ_events w x x' B(T_i)
// (WeightedSecondMoment). The information is Σ_sites M minus the client's part.

// TimeSums returns the stratum's phase-1 rows at beta: one RiskSetRow per distinct time in
// increasing order with D, R0, R1, E0 and E1 (E1 nil when D = 0) and R2, E2 nil, and
// eventXSum = Σ_events x. Covariates are taken as given: every site must use the same origin
// (a node centres them on the client's cox.origin first, docs/cox-protocol.md).
// O(n p).
func (s *CoxStratum) TimeSums(beta []float64) (rows []RiskSetRow, eventXSum []float64, err error) {
	p := s.p
	if err := checkBeta("CoxStratum.TimeSums", beta, p); err != nil {
		return nil, nil, err
	}
	ngroups := len(s.groups) - 1
	rows = make([]RiskSetRow, ngroups)
	nev := s.eventGroups()
	buf := make([]float64, (ngroups+nev)*p)
	ws, grouped := s.groupedWeights(beta)
	if grouped != nil {
		s.groupedTimeSums(rows, buf, grouped) // cox_rowterms.go: the same bits
		return rows, slices.Clone(s.eventX), nil
	}
	for g := range rows {
		r := &rows[g]
		lo, hi := int(s.groups[g]), int(s.groups[g+1])
		r.Time = s.time[lo]
		r.R1, buf = buf[:p:p], buf[p:]
		for k := lo; k < hi; k++ {
			if s.event[k] {
				r.D++
			}
		}
		if r.D > 0 {
			r.E1, buf = buf[:p:p], buf[p:]
		}
		for k := lo; k < hi; k++ {
			xi := s.x[k*p : (k+1)*p]
			w := ws[k]
			r.R0 += w
			for j, v := range xi {
				r.R1[j] += w * v
			}
			if s.event[k] {
				r.E0 += w
				for j, v := range xi {
					r.E1[j] += w * v
				}
			}
		}
	}
	return rows, slices.Clone(s.eventX), nil
}

// eventGroups counts the distinct times with at least one event.
func (s *CoxStratum) eventGroups() int {
	nev := 0
	for g := 0; g+1 < len(s.groups); g++ {
		for k := s.groups[g]; k < s.groups[g+1]; k++ {
			if s.event[k] {
				nev++
				break
			}
		}
	}
	return nev
}

// DistinctTimes returns the number of distinct times of the stratum and how many of them hold
// an event: the lengths of the A and B weights that WeightedSecondMoment takes.
func (s *CoxStratum) DistinctTimes() (times, eventTimes int) {
	return len(s.groups) - 1, s.eventGroups()
}

// HasEvent reports whether the g-th distinct time of the stratum (in increasing order) holds
// an event.
func (s *CoxStratum) HasEvent(g int) bool {
	for k := s.groups[g]; k < s.groups[g+1]; k++ {
		if s.event[k] {
			return true
		}
	}
	return false
}

func dot(a, b []float64) float64 {
	s := 0.0
	for j, v := range b {
		s += a[j] * v
	}
	return s
}

// WeightedSecondMoment returns the stratum's phase-2 reply at beta: the p×p matrix (row-major,
// symmetric)
//
//	M = Σ_i w_i x_i x_i' a[g(i)] − Σ_{events i} w_i x_i x_i' b[e(i)],   w_i = exp(x_i'β),
//
// g(i) being the index of subject i's time among the stratum's distinct times and e(i) among
// its distinct event times (the rows of TimeSums, and those of them with D > 0). Weights of the
// wrong length or that are not finite return an error. O(n p²), or O(n + u p²) for a design
// of u distinct rows (the subjects of one row are summed first).
func (s *CoxStratum) WeightedSecondMoment(beta, a, b []float64) ([]float64, error) {
	times, err := s.checkSecondMoment("CoxStratum.WeightedSecondMoment", beta, a, b)
	if err != nil {
		return nil, err
	}
	return s.secondMoment(beta, a, b, nil, times), nil
}

// outerSum adds Σ w x x' to the lower triangle of the p×p row-major m, four rows x at a time
// (one pass over m per four subjects: at p = 20 phase 2 is these products, and m's loads and
// stores were half of them).
type outerSum struct {
	m []float64
	w [4]float64
	x [4][]float64
	n int
}

func (o *outerSum) add(w float64, x []float64) {
	o.w[o.n], o.x[o.n] = w, x
	if o.n++; o.n == 4 {
		o.flush()
	}
}

func (o *outerSum) flush() {
	if o.n < 4 {
		for k := 0; k < o.n; k++ {
			addOuterLower(o.m, o.w[k], o.x[k])
		}
		o.n = 0
		return
	}
	o.n = 0
	x0, x1, x2, x3 := o.x[0], o.x[1], o.x[2], o.x[3]
	p := len(x0)
	x1, x2, x3 = x1[:p], x2[:p], x3[:p]
	for i := 0; i < p; i++ {
		w0, w1, w2, w3 := o.w[0]*x0[i], o.w[1]*x1[i], o.w[2]*x2[i], o.w[3]*x3[i]
		row := o.m[i*p : i*p+i+1]
		a0, a1, a2, a3 := x0[:len(row)], x1[:len(row)], x2[:len(row)], x3[:len(row)]
		for j := range row {
			row[j] += w0*a0[j] + w1*a1[j] + w2*a2[j] + w3*a3[j]
		}
	}
}

// addOuterLower adds w x x' to the lower triangle of the p×p row-major m.
func addOuterLower(m []float64, w float64, x []float64) {
	p := len(x)
	for i, xi := range x {
		wi := w * xi
		row := m[i*p : i*p+i+1]
		for j := range row {
			row[j] += wi * x[j]
		}
	}
}

func allFiniteValues(xs []float64) bool {
	for _, x := range xs {
		if math.IsNaN(x) || math.IsInf(x, 0) {
			return false
		}
	}
	return true
}

// PooledCoxStep is the client's side of one two-phase round at one β: built from the sites'
// phase-1 rows (PooledCoxSums), it holds ℓ and U exactly, the phase-2 weights of every site,
// and the client's part of the information; Complete adds the sites' phase-2 replies.
type PooledCoxStep struct {
	p       int
	contrib CoxContribution // ℓ and U; Hessian nil
	a, b    [][]float64     // per site: A at its rows, B at its rows with D > 0
	// outer is the lower triangle (p×p row-major) of
	// Σ_t [S1 S1' suu − (S1 E1' + E1 S1') suv + E1 E1' svv].
	outer []float64
}

// PooledCoxSums computes, on the client, the pooled log partial likelihood and gradient at beta
// from every site's phase-1 rows (TimeSums; R2 and E2 are ignored), exactly as
// PooledCoxContribution does, and prepares the phase-2 weights. Rows with equal Time across
// sites are one distinct time. Malformed rows return an error naming the site and row. Cost
// O(R (K + p²)) for R rows from K sites.
func PooledCoxSums(sites [][]RiskSetRow, eventXSum [][]float64, p int, beta []float64, ties Ties) (*PooledCoxStep, error) {
	if len(beta) != p {
		panic(fmt.Sprintf("analysis: PooledCoxSums: %d coefficients for p = %d", len(beta), p))
	}
	if len(eventXSum) != len(sites) {
		return nil, fmt.Errorf("analysis: PooledCoxSums: %d sites but %d event sums", len(sites), len(eventXSum))
	}
	eventX := make([]float64, p)
	for s, rows := range sites {
		if err := checkTimeSums(s, rows, p); err != nil {
			return nil, err
		}
		if len(eventXSum[s]) != p {
			return nil, fmt.Errorf("analysis: PooledCoxSums: site %d: %d event sums for p = %d", s, len(eventXSum[s]), p)
		}
		for j, v := range eventXSum[s] {
			eventX[j] += v
		}
	}
	st := &PooledCoxStep{p: p, outer: make([]float64, p*p), a: make([][]float64, len(sites)), b: make([][]float64, len(sites))}
	// Walking backwards over the pooled distinct times: su_t and sv_t, kept per site row so the
	// forward pass can accumulate A.
	su := make([][]float64, len(sites))
	for s, rows := range sites {
		su[s] = make([]float64, len(rows))
		st.a[s] = make([]float64, len(rows))
		st.b[s] = make([]float64, eventRows(rows))
	}
	var loglik float64
	var events int
	grad := make([]float64, p)
	_ = walkPooledBackward(sites, p, func(at *pooledAtTime) error {
		var u, v float64 // su_t, sv_t
		if at.D > 0 {
			events += at.D
			var suu, suv, svv float64
			u, v, suu, suv, svv, loglik = efronWeights(at.S0, at.E0, at.D, ties, loglik)
			s1, e1 := at.S1, at.E1
			for i := 0; i < p; i++ {
				grad[i] -= s1[i]*u - e1[i]*v
				row := st.outer[i*p : i*p+i+1]
				for j := range row {
					row[j] += s1[i]*s1[j]*suu - (s1[i]*e1[j]+e1[i]*s1[j])*suv + e1[i]*e1[j]*svv
				}
			}
		}
		for _, r := range at.Rows {
			su[r.s][r.k] = u
			if r.e >= 0 {
				st.b[r.s][r.e] = v
			}
		}
		return nil
	})
	// A(T) = Σ_{event times t ≤ T} su_t at every site row: the pooled su in time order. Each
	// site's rows carry su of their own times only, so merge forward over all sites.
	acc := 0.0
	walkPooledForward(sites, func(rows []siteRow) {
		acc += su[rows[0].s][rows[0].k] // the same value at every site with a row at t
		for _, r := range rows {
			st.a[r.s][r.k] = acc
		}
	})
	st.contrib = CoxContribution{LogLik: loglik + dot(beta, eventX), Gradient: make([]float64, p), Events: events}
	for j := range grad {
		st.contrib.Gradient[j] = eventX[j] + grad[j]
	}
	return st, nil
}

// efronWeights returns, for one event time with d events, risk-set sum s0 and event sum e0,
// su = Σ_l 1/den_l, sv = Σ_l f_l/den_l, suu, suv, svv (their products' sums) with
// den_l = s0 − f_l e0, f_l = l/d under Efron and 0 under Breslow, and loglik minus Σ_l log den_l
// (efronTerms: the client's pooled sums and the sites' fits take the same terms).
func efronWeights(s0, e0 float64, d int, ties Ties, loglik float64) (su, sv, suu, suv, svv, ll float64) {
	su, sv, suu, suv, svv, terms := efronTerms(s0, e0, d, ties)
	return su, sv, suu, suv, svv, loglik + terms
}

// checkTimeSums validates one site's phase-1 rows as received from the network.
func checkTimeSums(site int, rows []RiskSetRow, p int) error {
	for k := range rows {
		r := &rows[k]
		switch {
		case math.IsNaN(r.Time) || math.IsInf(r.Time, 0):
			return fmt.Errorf("analysis: cox time sums: site %d, row %d: time %v is not finite", site, k, r.Time)
		case k > 0 && r.Time <= rows[k-1].Time:
			return fmt.Errorf("analysis: cox time sums: site %d, row %d: time %v does not follow %v", site, k, r.Time, rows[k-1].Time)
		case len(r.R1) != p:
			return fmt.Errorf("analysis: cox time sums: site %d, row %d: %d risk sums for p = %d", site, k, len(r.R1), p)
		case r.D < 0:
			return fmt.Errorf("analysis: cox time sums: site %d, row %d: %d events", site, k, r.D)
		case r.D > 0 && len(r.E1) != p:
			return fmt.Errorf("analysis: cox time sums: site %d, row %d: %d events but %d event sums for p = %d", site, k, r.D, len(r.E1), p)
		case math.IsNaN(r.R0) || r.R0 < 0 || math.IsNaN(r.E0) || r.E0 < 0:
			return fmt.Errorf("analysis: cox time sums: site %d, row %d: negative or NaN weight sum", site, k)
		}
	}
	return nil
}

// Contribution returns ℓ and U at the step's β (Hessian nil; N = 0, the rows carry no subject
// counts).
func (st *PooledCoxStep) Contribution() CoxContribution {
	c := st.contrib
	c.Gradient = slices.Clone(c.Gradient)
	return c
}

// Sites returns the number of sites of the step.
func (st *PooledCoxStep) Sites() int { return len(st.a) }

// Weights returns the phase-2 weights of site s: A at each of its rows (non-decreasing, ≥ 0)
// and B at each of its rows with events (0 ≤ B_k ≤ the increase of A at that row).
func (st *PooledCoxStep) Weights(s int) (a, b []float64) {
	return slices.Clone(st.a[s]), slices.Clone(st.b[s])
}

// Complete returns the full contribution at the step's β from every site's phase-2 reply
// M_s (p×p, WeightedSecondMoment), given in the order of the sites of PooledCoxSums: the
// Hessian is −(Σ_s M_s − the client's part) and SecondMoment the diagonal of Σ_s M_s.
func (st *PooledCoxStep) Complete(moments [][]float64) (CoxContribution, error) {
	p := st.p
	if len(moments) != len(st.a) {
		return CoxContribution{}, fmt.Errorf("analysis: PooledCoxStep.Complete: %d second moments for %d sites", len(moments), len(st.a))
	}
	sum := make([]float64, p*p)
	for s, m := range moments {
		if len(m) != p*p {
			return CoxContribution{}, fmt.Errorf("analysis: PooledCoxStep.Complete: site %d: %d values for p = %d", s, len(m), p)
		}
		for i, v := range m {
			sum[i] += v
		}
	}
	c := st.Contribution()
	c.Hessian = make([]float64, p*p)
	c.SecondMoment = make([]float64, p)
	for i := 0; i < p; i++ {
		c.SecondMoment[i] = sum[i*p+i]
		for j := 0; j <= i; j++ {
			v := -(sum[i*p+j] - st.outer[i*p+j])
			c.Hessian[i*p+j] = v
			c.Hessian[j*p+i] = v
		}
	}
	return c, nil
}

// checkSecondMoment checks the arguments of a phase-2 second moment of the stratum (the method
// named name): β of the design's width, and a weight per distinct time (a) and per distinct
// event time (b), all finite. It returns the number of distinct times.
func (s *CoxStratum) checkSecondMoment(name string, beta, a, b []float64) (int, error) {
	if err := checkBeta(name, beta, s.p); err != nil {
		return 0, err
	}
	times, eventTimes := s.DistinctTimes()
	if len(a) != times || len(b) != eventTimes {
		return 0, fmt.Errorf("analysis: cox weights: %d and %d weights for %d distinct times and %d event times", len(a), len(b), times, eventTimes)
	}
	if !allFiniteValues(a) || !allFiniteValues(b) {
		return 0, fmt.Errorf("analysis: cox weights: a weight is not finite")
	}
	return times, nil
}
