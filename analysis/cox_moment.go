package analysis

// secondMoment is the phase-2 second moment of the stratum at beta with case weights cw (in
// the stratum's time order; nil: every case weight 1), its arguments already checked
// (checkSecondMoment, which returned times):
//
//	M = Σ_i cw_i e^{x_i'β} x_i x_i' a[g(i)] − Σ_events cw_i e^{x_i'β} x_i x_i' b[e(i)],
//
// symmetric, row-major. The one loop of CoxStratum.WeightedSecondMoment (cw nil) and
// WeightedCoxStratum.WeightedSecondMoment (the IPW weights). O(n p²), or O(n + u p²) for a
// design of u distinct rows: the subjects of one row are summed first (their case weights
// times their a − b), then one outer product per row.
func (s *CoxStratum) secondMoment(beta, a, b, cw []float64, times int) []float64 {
	p := s.p
	m := make([]float64, p*p)
	ws, grouped := s.groupedWeights(beta) // phase 1 asked at this β just before: kept
	var coef []float64                    // grouped: Σ of the subjects' cw (a − b) per distinct row
	if grouped != nil {
		coef = make([]float64, len(grouped.w))
	}
	acc := outerSum{m: m}
	e := 0
	for g := 0; g < times; g++ {
		hadEvent := false
		for k := int(s.groups[g]); k < int(s.groups[g+1]); k++ {
			c := a[g]
			if s.event[k] {
				hadEvent = true
				c -= b[e]
			}
			if cw != nil {
				c *= cw[k]
			}
			if coef != nil {
				coef[grouped.rowOf[k]] += c
			} else if c != 0 {
				acc.add(ws[k]*c, s.x[k*p:(k+1)*p])
			}
		}
		if hadEvent {
			e++
		}
	}
	for r, c := range coef {
		if c != 0 {
			acc.add(grouped.w[r]*c, grouped.uniq[r*p:(r+1)*p])
		}
	}
	acc.flush()
	for i := 0; i < p; i++ {
		for j := 0; j < i; j++ {
			m[j*p+i] = m[i*p+j]
		}
	}
	return m
}
