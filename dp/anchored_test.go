package dp

import (
	"math"
	"math/rand/v2"
	"slices"
	"testing"
)

// oldAnchoredColumns is the two-column rule as it was before anchoredK, kept to check that the
// k-column generalisation leaves Kaplan–Meier releases bit-identical.
func oldAnchoredColumns(erev, crev []float64) (events, censored []int64) {
	se, sc := suffixSums(erev), suffixSums(crev)
	n1 := max(math.Round(se[0]+sc[0]), 0)
	e1 := math.Round(min(max(se[0]-(se[0]+sc[0]-n1)/2, 0), n1))
	return boundedSuffixCells(se, e1), boundedSuffixCells(sc, n1-e1)
}

func TestAnchoredKTwoColumnsBitIdentical(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 11))
	for trial := range 20000 {
		T := 1 + rng.IntN(60)
		e, c := make([]float64, T), make([]float64, T)
		scale := []float64{0.5, 3, 20, 200}[trial%4]
		for i := range T {
			e[i] = rng.NormFloat64()*scale + float64(rng.IntN(5))
			c[i] = rng.NormFloat64()*scale + float64(rng.IntN(5))
		}
		we, wc := oldAnchoredColumns(e, c)
		ge, gc := anchoredColumns(e, c)
		if !slices.Equal(we, ge) || !slices.Equal(wc, gc) {
			t.Fatalf("trial %d: old (%v, %v) new (%v, %v)", trial, we, wc, ge, gc)
		}
	}
}

func TestAnchoredKConsistent(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 5))
	for trial := range 5000 {
		T, k := 1+rng.IntN(40), 2+rng.IntN(4)
		rev := make([][]float64, k)
		sum := 0.0
		for j := range rev {
			rev[j] = make([]float64, T)
			for i := range T {
				rev[j][i] = rng.NormFloat64()*10 + 2
				sum += rev[j][i]
			}
		}
		cols := anchoredK(rev)
		var total int64
		for _, col := range cols {
			for _, v := range col {
				if v < 0 {
					t.Fatalf("trial %d: negative cell %v", trial, cols)
				}
				total += v
			}
		}
		if want := int64(max(math.Round(sum), 0)); total != want {
			t.Fatalf("trial %d: size %d, want the anchored %d", trial, total, want)
		}
	}
}

func TestSimplexProjection(t *testing.T) {
	for _, tc := range []struct {
		x     []float64
		total float64
		want  []float64
	}{
		{[]float64{1, 2, 3}, 6, []float64{1, 2, 3}},
		{[]float64{1, 2, 3}, 3, []float64{0, 1, 2}},
		{[]float64{-5, 2, 10}, 4, []float64{0, 0, 4}},
		{[]float64{1, 1}, 0, []float64{0, 0}},
	} {
		got := simplexProjection(tc.x, tc.total)
		for i := range got {
			if math.Abs(got[i]-tc.want[i]) > 1e-12 {
				t.Errorf("simplexProjection(%v, %v) = %v, want %v", tc.x, tc.total, got, tc.want)
			}
		}
	}
}
