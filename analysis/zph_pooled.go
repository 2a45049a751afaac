package analysis

import (
	"fmt"
	"maps"
	"math"
	"slices"
	"sort"
)

// The proportional-hazards test of the pooled (unstratified) model, from the two-phase pooled
// round's releases only (cox_twophase.go): its x̄(t) and V_t are the pooled risk sets', so the
// sums of ZPHSums do not split by site, but every part of them is a sum over pooled times of
// what the rounds already release:
//
//   - r_t = X_t − (S1 su_t − E1 sv_t): S1, E1 from the phase-1 rows at β̂, and X_t, the events'
//     unweighted Σ x at t, from the phase-1 rows at β = 0 (where E1 is that sum);
//   - V_t = [S2 su_t − E2 sv_t] − [S1 S1' suu_t − (S1 E1' + E1 S1') suv_t + E1 E1' svv_t]: the
//     second part the client's, the first Σ_t h_t^k (S2 su − E2 sv) a phase-2 second moment
//     with the weights A(T) = Σ_{t ≤ T} h_t^k su_t, B = h_t^k sv_t (k = 0, 1, 2).
//
// Since h ≥ 0 for every transform (km, identity and rank), those weights are phase-2 weights
// like any other: A non-decreasing and ≥ 0, 0 ≤ B ≤ the increase of A. A site checks them as
// it checks a fit's, and learns nothing of h it could not learn of a fit's weights.

// PooledZPHStep holds the client's part of the pooled model's test at β̂ and, per site, the
// three sets of phase-2 weights; Complete adds the sites' second moments.
type PooledZPHStep struct {
	p    int
	sums ZPHSums // U, UH, Events, HSum complete; I, IH, IHH hold minus the client's parts
	// weights[k][s] are site s's phase-2 weights for h^k.
	a, b [3][][]float64
}

// NewPooledZPH prepares the pooled model's test at beta (the fit's β̂) for the transform h,
// given at every pooled event time (times increasing, values ≥ 0): at0 are the sites' phase-1
// rows at β = 0 and at the sites' phase-1 rows at beta, both on the same released times, in the
// same site order. Malformed rows, rows that differ in their times between the two rounds and
// an event time without a value of h return errors.
func NewPooledZPH(at0, at [][]RiskSetRow, p int, beta []float64, ties Ties, times, h []float64) (*PooledZPHStep, error) {
	if len(at0) != len(at) {
		return nil, fmt.Errorf("analysis: NewPooledZPH: %d and %d sites", len(at0), len(at))
	}
	for s := range at {
		if err := checkTimeSums(s, at0[s], p); err != nil {
			return nil, err
		}
		if err := checkTimeSums(s, at[s], p); err != nil {
			return nil, err
		}
		if len(at0[s]) != len(at[s]) {
			return nil, fmt.Errorf("analysis: NewPooledZPH: site %d released %d and %d times in the two rounds", s, len(at0[s]), len(at[s]))
		}
		for k := range at[s] {
			if at0[s][k].Time != at[s][k].Time || at0[s][k].D != at[s][k].D {
				return nil, fmt.Errorf("analysis: NewPooledZPH: site %d, row %d differs between the two rounds", s, k)
			}
		}
	}
	hAt := func(t float64) (float64, error) {
		i := sort.SearchFloat64s(times, t)
		if i == len(times) || times[i] != t {
			return 0, fmt.Errorf("analysis: NewPooledZPH: the transform has no value at event time %v", t)
		}
		if h[i] < 0 || math.IsNaN(h[i]) || math.IsInf(h[i], 0) {
			return 0, fmt.Errorf("analysis: NewPooledZPH: transform value %v at %v is not finite and ≥ 0", h[i], t)
		}
		return h[i], nil
	}
	st := &PooledZPHStep{p: p, sums: NewZPHSums(p)}
	su := make([][]float64, len(at)) // per site row: su_t of its time (0 without events)
	hs := make([][]float64, len(at)) // and h_t
	for s, rows := range at {
		su[s], hs[s] = make([]float64, len(rows)), make([]float64, len(rows))
		for k := range st.a {
			st.a[k] = append(st.a[k], make([]float64, len(rows)))
			st.b[k] = append(st.b[k], make([]float64, eventRows(rows)))
		}
	}
	x0, r, outer := make([]float64, p), make([]float64, p), make([]float64, p*p)
	err := walkPooledBackward(at, p, func(pt *pooledAtTime) error {
		var u, v, ht float64
		if pt.D > 0 {
			var err error
			if ht, err = hAt(pt.T); err != nil {
				return err
			}
			clear(x0) // the events' unweighted Σ x at t: E1 of the rows at β = 0
			for _, row := range pt.Rows {
				if row.e >= 0 {
					accumulate(x0, at0[row.s][row.k].E1)
				}
			}
			var suu, suv, svv float64
			u, v, suu, suv, svv, _ = efronWeights(pt.S0, pt.E0, pt.D, ties, 0)
			s1, e1 := pt.S1, pt.E1
			for i := 0; i < p; i++ {
				r[i] = x0[i] - (s1[i]*u - e1[i]*v)
				for j := 0; j <= i; j++ {
					outer[i*p+j] = s1[i]*s1[j]*suu - (s1[i]*e1[j]+e1[i]*s1[j])*suv + e1[i]*e1[j]*svv
				}
			}
			st.addEventTime(pt.D, ht, r, outer)
		}
		for _, row := range pt.Rows {
			su[row.s][row.k], hs[row.s][row.k] = u, ht
			if row.e >= 0 {
				hk := 1.0
				for pw := range st.b {
					st.b[pw][row.s][row.e] = hk * v
					hk *= ht
				}
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	// A(T) = Σ_{pooled event times t ≤ T} h_t^k su_t at every site row, merged forward.
	var acc [3]float64
	walkPooledForward(at, func(rows []siteRow) {
		first := rows[0] // su_t and h_t are the same at every site with a row at t
		hk := 1.0
		for pw := range acc {
			acc[pw] += hk * su[first.s][first.k]
			hk *= hs[first.s][first.k]
		}
		for _, row := range rows {
			for pw := range acc {
				st.a[pw][row.s][row.k] = acc[pw]
			}
		}
	})
	return st, nil
}

// addEventTime adds one pooled event time's terms (d events, transform value ht, residual r and
// the client's part outer of V_t, lower triangle) to the test's sums.
func (st *PooledZPHStep) addEventTime(d int, ht float64, r, outer []float64) {
	p, z := st.p, &st.sums
	z.Events += d
	z.HSum += float64(d) * ht
	for i := 0; i < p; i++ {
		z.U[i] += r[i]
		z.UH[i] += ht * r[i]
		for j := 0; j <= i; j++ {
			z.I[i*p+j] -= outer[i*p+j]
			z.IH[i*p+j] -= ht * outer[i*p+j]
			z.IHH[i*p+j] -= ht * ht * outer[i*p+j]
		}
	}
}

// Weights returns site s's phase-2 weights for h^k, k = 0 (the fit's own), 1 and 2.
func (st *PooledZPHStep) Weights(s, k int) (a, b []float64) {
	return slices.Clone(st.a[k][s]), slices.Clone(st.b[k][s])
}

// Complete returns the test's sums from every site's three phase-2 replies (moments[k][s]
// for the weights of h^k, p×p), in the order of the sites of NewPooledZPH.
func (st *PooledZPHStep) Complete(moments [3][][]float64) (ZPHSums, error) {
	p := st.p
	z := st.sums
	z.U, z.UH = slices.Clone(z.U), slices.Clone(z.UH)
	mats := [3][]float64{slices.Clone(z.I), slices.Clone(z.IH), slices.Clone(z.IHH)}
	for k, ms := range moments {
		if len(ms) != len(st.a[k]) {
			return ZPHSums{}, fmt.Errorf("analysis: PooledZPHStep.Complete: %d second moments for %d sites", len(ms), len(st.a[k]))
		}
		for s, m := range ms {
			if len(m) != p*p {
				return ZPHSums{}, fmt.Errorf("analysis: PooledZPHStep.Complete: site %d: %d values for p = %d", s, len(m), p)
			}
			for i := 0; i < p; i++ {
				for j := 0; j <= i; j++ {
					mats[k][i*p+j] += m[i*p+j]
				}
			}
		}
		symmetrizeLower(mats[k], p)
	}
	z.I, z.IH, z.IHH = mats[0], mats[1], mats[2]
	return z, nil
}

// ZPHTableFromRows returns the pooled survival table of the sites' phase-1 rows at β = 0, where
// R0 counts the subjects at each time: the table ZPHTransform takes for km and rank.
func ZPHTableFromRows(at0 [][]RiskSetRow) (SurvivalTable, error) {
	counts := map[float64][2]int{}
	for s, rows := range at0 {
		for k, r := range rows {
			n := math.Round(r.R0)
			if math.Abs(r.R0-n) > 1e-6*math.Max(1, n) || r.D < 0 || float64(r.D) > n {
				return SurvivalTable{}, fmt.Errorf("analysis: ZPHTableFromRows: site %d, row %d: %v subjects and %d events is not a count at β = 0", s, k, r.R0, r.D)
			}
			c := counts[r.Time]
			c[0] += r.D
			c[1] += int(n) - r.D
			counts[r.Time] = c
		}
	}
	var t SurvivalTable
	for _, tm := range slices.Sorted(maps.Keys(counts)) {
		t.Time = append(t.Time, tm)
		t.Events = append(t.Events, counts[tm][0])
		t.Censor = append(t.Censor, counts[tm][1])
	}
	return t, nil
}

// ZPHEventValues returns h at the event times of the table t (h from ZPHTransform): what a
// zph request or NewPooledZPH takes.
func ZPHEventValues(t SurvivalTable, h []float64) (times, values []float64) {
	for k, tm := range t.Time {
		if t.Events[k] > 0 {
			times, values = append(times, tm), append(values, h[k])
		}
	}
	return times, values
}
