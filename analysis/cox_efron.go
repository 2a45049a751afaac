package analysis

import "math"

// efronTermsLogFloor: the running product of efronTerms is taken into the logarithm once it
// falls below this (each factor is at least 1/d, so it stays far above the smallest normal
// number).
const efronTermsLogFloor = 0x1p-900

// efronTerms is efronWeights (the sums su, sv, suu, suv, svv of one event time's d Efron terms,
// bit for bit) with their log denominators taken one logarithm per batch rather than one per
// event: Σ_l log den_l = d log s0 + log Π_l (1 − f_l e0/s0), f_l = l/d, the product taken
// into the logarithm whenever it nears the bottom of the floating-point range. Logarithms were
// most of a tied time's cost (a site's time bins hold hundreds of events each); the loglik
// agrees with the per-term sum to rounding (TestEfronTermsEqualWeights). It returns the event
// time's contribution to the log-likelihood, −Σ_l log den_l.
func efronTerms(s0, e0 float64, d int, ties Ties) (su, sv, suu, suv, svv, terms float64) {
	fd := float64(d)
	if ties == Breslow || d == 1 {
		return fd / s0, 0, fd / (s0 * s0), 0, 0, -fd * math.Log(s0)
	}
	ratio := e0 / s0
	logs, prod := fd*math.Log(s0), 1.0
	for l := 0; l < d; l++ {
		f := float64(l) / fd
		den := s0 - f*e0
		u := 1 / den
		v := f * u
		su += u
		sv += v
		suu += u * u
		suv += u * v
		svv += v * v
		prod *= 1 - f*ratio
		if prod < efronTermsLogFloor {
			logs += math.Log(prod)
			prod = 1
		}
	}
	return su, sv, suu, suv, svv, -(logs + math.Log(prod))
}
