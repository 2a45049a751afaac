package analysis

import (
	"math"
	"math/rand/v2"
	"testing"
)

// A stratum grouped by its distinct design rows (rowGrouping) gives the contribution of the
// per-subject walk bit for bit: with ties, Efron and Breslow, and with delayed entry.
func TestContributionGroupedEqualsPerSubject(t *testing.T) {
	r := rand.New(rand.NewPCG(15, 7))
	n, p := 3000, 3
	time, entry := make([]float64, n), make([]float64, n)
	event := make([]bool, n)
	x := make([]float64, n*p)
	for i := 0; i < n; i++ {
		time[i] = float64(1 + r.IntN(200)) // many ties
		event[i] = r.IntN(3) > 0
		x[i*p] = float64(r.IntN(2))
		x[i*p+1] = float64(50 + r.IntN(30))
		x[i*p+2] = x[i*p] * x[i*p+1]
		if r.IntN(5) == 0 {
			entry[i] = math.Floor(time[i] * r.Float64())
		}
	}
	beta := []float64{0.4, -0.03, 0.01}
	fit := func(share int, entry []float64, ties Ties) CoxContribution {
		defer func(v int) { maxDistinctShare = v }(maxDistinctShare)
		maxDistinctShare = share
		s, err := NewCoxStratumEntry(entry, time, event, x, p)
		if err != nil {
			t.Fatal(err)
		}
		if rowOf, _ := s.rowGrouping(); (rowOf != nil) != (share == 1) {
			t.Fatalf("share %d: grouped = %v", share, rowOf != nil)
		}
		c, err := s.Contribution(beta, ties)
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	for _, ties := range []Ties{Efron, Breslow} {
		for _, ent := range [][]float64{nil, entry} {
			g, u := fit(1, ent, ties), fit(2*n, ent, ties)
			if g.LogLik != u.LogLik || !EqualBits(g.Gradient, u.Gradient) || !EqualBits(g.Hessian, u.Hessian) || !EqualBits(g.SecondMoment, u.SecondMoment) {
				t.Errorf("%v, entry %v: grouped %v %v, per subject %v %v", ties, ent != nil, g.LogLik, g.Gradient, u.LogLik, u.Gradient)
			}
			if g.Events == 0 || g.LogLik == 0 {
				t.Errorf("%v: empty contribution", ties)
			}
		}
	}
}
