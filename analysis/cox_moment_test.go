package analysis

import (
	"math"
	"testing"
)

// The weighted second moment takes the grouped path (subjects summed per distinct design row,
// their case weights inside the sum) where a large site's categorical design has few distinct
// rows: every golden IPW case, with every design grouped, still equals R through the pooled
// rounds (the goldens' data are too small to be grouped otherwise).
func TestIPWGoldensGroupedSecondMoment(t *testing.T) {
	defer func(v int) { maxDistinctShare = v }(maxDistinctShare)
	maxDistinctShare = 1
	var g ipwGoldens
	loadGolden(t, "r/ipw_goldens.json", &g)
	for _, c := range g.Cases {
		if len(c.OutcomeCovs) == 0 {
			continue
		}
		t.Run(c.Name, func(t *testing.T) { checkIPWCase(t, g, c) })
	}
}

// With case weights the second moment is Σ cw e^{x'β} x x' (a − b) over the subjects, grouped
// or not, and with none (CoxStratum's) the same with every case weight 1.
func TestSecondMomentCaseWeights(t *testing.T) {
	time := []float64{1, 2, 2, 3, 3, 3, 4, 5}
	event := []bool{true, false, true, true, true, false, false, true}
	x := []float64{0, 1, 1, 0, 0, 1, 1, 1, 0, 0, 1, 0, 0, 1, 1, 1}
	w := []float64{0.5, 2, 1.5, 1, 3, 0.25, 1, 2}
	beta := []float64{0.3, -0.7}
	a := []float64{0.1, 0.2, 0.4, 0.5, 0.9} // per distinct time
	b := []float64{0.05, 0.1, 0.15, 0.3}    // per event time
	gOf := []int{0, 1, 1, 2, 2, 2, 3, 4}    // distinct time of each subject
	eOf := []int{0, -1, 1, 2, 2, -1, -1, 3} // event time of each event
	want := func(cw []float64) []float64 {
		m := make([]float64, 4)
		for i := range time {
			xi := x[2*i : 2*i+2]
			c := a[gOf[i]]
			if event[i] {
				c -= b[eOf[i]]
			}
			r := cw[i] * math.Exp(dot(beta, xi)) * c
			for j := 0; j < 2; j++ {
				for k := 0; k < 2; k++ {
					m[2*j+k] += r * xi[j] * xi[k]
				}
			}
		}
		return m
	}
	for _, share := range []int{1, 1 << 30} { // grouped, then not
		func() {
			defer func(v int) { maxDistinctShare = v }(maxDistinctShare)
			maxDistinctShare = share
			ws, err := NewWeightedCoxStratum(time, event, x, 2, w)
			if err != nil {
				t.Fatal(err)
			}
			got, err := ws.WeightedSecondMoment(beta, a, b)
			if err != nil {
				t.Fatal(err)
			}
			st, err := NewCoxStratum(time, event, x, 2)
			if err != nil {
				t.Fatal(err)
			}
			plain, err := st.WeightedSecondMoment(beta, a, b)
			if err != nil {
				t.Fatal(err)
			}
			ones := []float64{1, 1, 1, 1, 1, 1, 1, 1}
			for k := range got {
				closeTo(t, "weighted", got[k], want(w)[k], 1e-13)
				closeTo(t, "unweighted", plain[k], want(ones)[k], 1e-13)
			}
		}()
	}
}
