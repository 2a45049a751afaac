package analysis

import (
	"fmt"
	"math"
	"math/rand/v2"
	"sync"
	"testing"
)

// The cached, grouped weights are exp(x_i'β) of each subject bit for bit, whether the design's
// rows are few (grouped) or all distinct (not), and a new β is not answered from the cache.
func TestCoxWeightsBitForBit(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	n, p := 4000, 3
	for _, distinct := range []bool{false, true} {
		time := make([]float64, n)
		event := make([]bool, n)
		x := make([]float64, n*p)
		for i := 0; i < n; i++ {
			time[i] = float64(1 + r.IntN(300))
			event[i] = r.IntN(3) > 0
			x[i*p] = float64(r.IntN(2))
			x[i*p+1] = float64(40 + r.IntN(50)) // age in years
			x[i*p+2] = float64(r.IntN(4))
			if distinct {
				x[i*p+1] += r.Float64()
			}
		}
		s, err := NewCoxStratum(time, event, x, p)
		if err != nil {
			t.Fatal(err)
		}
		for _, beta := range [][]float64{{0.3, -0.02, 0.1}, {0.3, -0.02, 0.1}, {-1, 0.05, 0}, {0, 0, 0}} {
			w := subjectWeights(s, beta)
			for k := 0; k < n; k++ {
				if want := math.Exp(dot(beta, s.x[k*p:(k+1)*p])); math.Float64bits(w[k]) != math.Float64bits(want) {
					t.Fatalf("distinct=%v beta %v subject %d: %v, want %v", distinct, beta, k, w[k], want)
				}
			}
		}
		if grouped := s.wcache.rowOf != nil; grouped == distinct {
			t.Errorf("distinct rows %v: grouped %v", distinct, grouped)
		}
	}
}

// Rounds at different β on one stratum at once (two analysts, or a fit and a screen) each get
// their own β's weights.
func TestCoxWeightsConcurrent(t *testing.T) {
	time, event, x := []float64{1, 2, 3, 4, 5, 6}, []bool{true, false, true, true, false, true}, []float64{1, 0, 2, 1, 0, 3}
	s, err := NewCoxStratum(time, event, x, 1)
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	for g := 0; g < 8; g++ {
		wg.Add(1)
		go func(b float64) {
			defer wg.Done()
			for i := 0; i < 200; i++ {
				w := subjectWeights(s, []float64{b})
				for k := range w {
					if w[k] != math.Exp(b*s.x[k]) {
						t.Errorf("beta %v subject %d: %v", b, k, w[k])
						return
					}
				}
			}
		}(float64(g) / 10)
	}
	wg.Wait()
}

// subjectWeights is each subject's weight at beta from the stratum's cache: its own, or its
// design row's when the stratum is grouped.
func subjectWeights(s *CoxStratum, beta []float64) []float64 {
	w, g := s.groupedWeights(beta)
	if g == nil {
		return w
	}
	w = make([]float64, len(g.rowOf))
	for k, r := range g.rowOf {
		w[k] = g.w[r]
	}
	return w
}

func TestDistinctRowsLimit(t *testing.T) {
	x := []float64{1, 2, 1, 2, 3, 4, 1, 2}
	rowOf, uniq := distinctRows(x, 2, 2)
	if len(uniq) != 4 || rowOf[0] != 0 || rowOf[1] != 0 || rowOf[2] != 1 || rowOf[3] != 0 {
		t.Fatalf("rowOf %v uniq %v", rowOf, uniq)
	}
	if rowOf, uniq := distinctRows(x, 2, 1); rowOf != nil || uniq != nil {
		t.Fatalf("over the limit: %v %v", rowOf, uniq)
	}
}

// BenchmarkWeightedSecondMoment is a pooled round's phase 2 at a site of 100,000 patients with
// continuous covariates (every design row distinct: the per-subject path).
func BenchmarkWeightedSecondMoment(b *testing.B) {
	for _, p := range []int{5, 20} {
		b.Run(fmt.Sprintf("p%d", p), func(b *testing.B) {
			time, event, x := synthCox(100000, p, 5)
			s, err := NewCoxStratum(time, event, x, p)
			if err != nil {
				b.Fatal(err)
			}
			beta := make([]float64, p)
			times, eventTimes := s.DistinctTimes()
			a, w := make([]float64, times), make([]float64, eventTimes)
			for g := range a {
				a[g] = 1e-5 * float64(g+1)
			}
			s.groupedWeights(beta)
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				if _, err := s.WeightedSecondMoment(beta, a, w); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
