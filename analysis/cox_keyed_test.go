package analysis

import (
	"math"
	"math/rand/v2"
	"reflect"
	"slices"
	"testing"
)

// A stratum built from one design row per key (NewCoxStratumRows) answers every method with
// the bits of the stratum of the materialised n×p design: the contribution (Efron, Breslow,
// with and without delayed entry), the phase-1 time sums, the risk-set rows, the linear
// predictors, the zph sums and the extreme gaps. Two keys share a row (they must be merged as
// the materialised stratum's grouping merges them), and one test feeds times out of order.
func TestCoxStratumRowsEqualsMaterialised(t *testing.T) {
	r := rand.New(rand.NewPCG(15, 3))
	n, p := 3001, 3
	// Keys: marker code × age number; key rows (marker, age − 60, marker·age), keys 0 and 1
	// both the row of marker 0 at age 60 (an indicator's "not l" codes).
	ages := []float64{50, 60, 60, 71.5, 80}
	var keyRows []float64
	for m := 0; m < 2; m++ {
		for _, a := range ages {
			keyRows = append(keyRows, float64(m), a-60, float64(m)*a)
		}
	}
	nkeys := len(keyRows) / p
	time, entry := make([]float64, n), make([]float64, n)
	event := make([]bool, n)
	rowOf := make([]int32, n)
	for i := range time {
		time[i] = float64(1 + r.IntN(300))
		event[i] = r.IntN(3) > 0
		rowOf[i] = int32(r.IntN(nkeys))
		if r.IntN(6) == 0 {
			entry[i] = math.Floor(time[i] * r.Float64())
		}
	}
	beta := []float64{0.3, -0.02, 0.004}
	check := func(t *testing.T, time, entry []float64, event []bool, rowOf []int32, keyRows []float64) {
		x := expandRows(rowOf, keyRows, p)
		want, err := NewCoxStratumSorted(entry, slices.Clone(time), slices.Clone(event), x, p)
		if err != nil {
			t.Fatal(err)
		}
		got, err := NewCoxStratumRows(entry, slices.Clone(time), slices.Clone(event), slices.Clone(rowOf), slices.Clone(keyRows), p)
		if err != nil {
			t.Fatal(err)
		}
		if !EqualBits(got.center, want.center) || !EqualBits(got.eventX, want.eventX) {
			t.Fatalf("centres %v / %v, event sums %v / %v", got.center, want.center, got.eventX, want.eventX)
		}
		for _, ties := range []Ties{Efron, Breslow} {
			g, err1 := got.Contribution(beta, ties)
			w, err2 := want.Contribution(beta, ties)
			if err1 != nil || err2 != nil || !reflect.DeepEqual(g, w) {
				t.Fatalf("%v: contribution %+v (%v), want %+v (%v)", ties, g, err1, w, err2)
			}
		}
		if top, bot := got.ExtremeGaps(beta, 5); true {
			wtop, wbot := want.ExtremeGaps(beta, 5)
			if top != wtop || bot != wbot {
				t.Fatalf("gaps %v %v, want %v %v", top, bot, wtop, wbot)
			}
		}
		glp, _ := got.LinearPredictors(beta)
		wlp, _ := want.LinearPredictors(beta)
		if !EqualBits(glp, wlp) {
			t.Fatal("linear predictors differ")
		}
		if entry != nil {
			return // the sums below refuse delayed entry
		}
		gr, ge, err1 := got.TimeSums(beta)
		wr, we, err2 := want.TimeSums(beta)
		if err1 != nil || err2 != nil || !reflect.DeepEqual(gr, wr) || !EqualBits(ge, we) {
			t.Fatalf("time sums differ (%v, %v)", err1, err2)
		}
		gr, ge, err1 = got.RiskSetRows(beta)
		wr, we, err2 = want.RiskSetRows(beta)
		if err1 != nil || err2 != nil || !reflect.DeepEqual(gr, wr) || !EqualBits(ge, we) {
			t.Fatalf("risk-set rows differ (%v, %v)", err1, err2)
		}
		h := make([]float64, got.eventGroups())
		for k := range h {
			h[k] = float64(k)
		}
		gz, err1 := got.ZPHSums(beta, Efron, h)
		wz, err2 := want.ZPHSums(beta, Efron, h)
		if err1 != nil || err2 != nil || !reflect.DeepEqual(gz, wz) {
			t.Fatalf("zph sums differ (%v, %v)", err1, err2)
		}
	}
	order := orderByTime(time)
	st, se, sev, srow := make([]float64, n), make([]float64, n), make([]bool, n), make([]int32, n)
	for k, i := range order {
		st[k], se[k], sev[k], srow[k] = time[i], entry[i], event[i], rowOf[i]
	}
	t.Run("sorted", func(t *testing.T) { check(t, st, nil, sev, srow, keyRows) })
	t.Run("entry", func(t *testing.T) { check(t, st, se, sev, srow, keyRows) })
	t.Run("unsorted", func(t *testing.T) { check(t, time, nil, event, rowOf, keyRows) })
	// A key row no subject holds (here: marker 2 where every subject has 0 or 1) must not
	// make a column look non-constant: no subject of marker 1 either, so column 0 is constant.
	onlyZero := slices.Clone(srow)
	for k, r := range onlyZero {
		onlyZero[k] = r % int32(len(ages))
	}
	unused := append(slices.Clone(keyRows), 2, 0, 0)
	t.Run("unused row", func(t *testing.T) { check(t, st, nil, sev, onlyZero, unused) })
	// The merged rows: fewer distinct rows than keys.
	s, _ := NewCoxStratumRows(nil, st, sev, slices.Clone(srow), keyRows, p)
	if _, uniq := s.rowGrouping(); len(uniq)/p != nkeys-2 { // 60 twice for each marker level
		t.Fatalf("%d distinct rows, want %d", len(uniq)/p, nkeys-2)
	}
	if s.x != nil {
		t.Fatal("a stratum of rows holds an n×p design after its grouped walks")
	}
}

// A non-finite row value is an error, a row number out of range a panic.
func TestCoxStratumRowsChecks(t *testing.T) {
	if _, err := NewCoxStratumRows(nil, []float64{1, 2}, []bool{true, false}, []int32{0, 0}, []float64{math.NaN()}, 1); err == nil {
		t.Fatal("NaN row accepted")
	}
	defer func() {
		if recover() == nil {
			t.Fatal("row number out of range accepted")
		}
	}()
	NewCoxStratumRows(nil, []float64{1, 2}, []bool{true, false}, []int32{0, 1}, []float64{1}, 1)
}
