package analysis

import (
	"math"
	"testing"
)

// efronTerms gives efronWeights's sums bit for bit and its log terms to rounding, for tie sets
// from 2 events to more than the product's range holds at once.
func TestEfronTermsEqualWeights(t *testing.T) {
	for _, d := range []int{1, 2, 3, 17, 250, 1000, 5000} {
		for _, share := range []float64{0.001, 0.3, 0.999, 1} {
			s0 := 1234.5 * float64(d)
			e0 := share * s0
			for _, ties := range []Ties{Efron, Breslow} {
				u1, v1, uu1, uv1, vv1, ll1 := efronWeights(s0, e0, d, ties, 0)
				u2, v2, uu2, uv2, vv2, ll2 := efronTerms(s0, e0, d, ties)
				if !EqualBits([]float64{u1, v1, uu1, uv1, vv1}, []float64{u2, v2, uu2, uv2, vv2}) {
					t.Errorf("d=%d share=%g %v: sums differ", d, share, ties)
				}
				if math.Abs(ll1-ll2) > 1e-13*math.Abs(ll1) || math.IsNaN(ll2) || ll2 == 0 {
					t.Errorf("d=%d share=%g %v: log terms %v, per term %v", d, share, ties, ll2, ll1)
				}
			}
		}
	}
}
