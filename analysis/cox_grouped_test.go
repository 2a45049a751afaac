package analysis

import (
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
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
	for q := 1; q <= p; q++ { // the first q columns: rows of 1 + q + q(q+1)/2 terms
		xq := make([]float64, 0, n*q)
		for i := 0; i < n; i++ {
			xq = append(xq, x[i*p:i*p+q]...)
		}
		t.Run(fmt.Sprintf("p%d", q), func(t *testing.T) { groupedEqualsPerSubject(t, time, entry, event, xq, q, beta[:q]) })
	}
}

func groupedEqualsPerSubject(t *testing.T, time, entry []float64, event []bool, x []float64, p int, beta []float64) {
	n := len(time)
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

// distinctRows numbers a matrix's rows as the whole-row lookup does: the same rows in the same
// order, −0 apart from +0, and nil past the limit; with columns of few and of many values.
func TestDistinctRowsEqualHashed(t *testing.T) {
	r := rand.New(rand.NewPCG(15, 8))
	// A negative level count: whole numbers around 0 (ages centred on an origin), from −l/2.
	for _, levels := range [][]int{{2}, {2, 60}, {3, 20, 2}, {12, 12}, {900, 2}, {1500, 1500}, {-60, 2}, {2, -1400}} {
		p, n := len(levels), 2000
		x := make([]float64, n*p)
		for i := range n {
			for j, l := range levels {
				if l < 0 {
					x[i*p+j] = float64(r.IntN(-l) + l/2)
					continue
				}
				x[i*p+j] = float64(r.IntN(l)) - 0.5*float64(j)
			}
		}
		x[0] = math.Copysign(0, -1) // −0 differs from +0, bit for bit
		for _, limit := range []int{n, 25} {
			rows1, uniq1 := distinctRows(x, p, limit)
			rows2, uniq2 := distinctRowsHashed(x, p, limit)
			if (rows1 == nil) != (rows2 == nil) || len(rows1) != len(rows2) || !EqualBits(uniq1, uniq2) {
				t.Fatalf("levels %v, limit %d: %d/%d distinct rows", levels, limit, len(uniq1)/p, len(uniq2)/p)
			}
			for k := range rows1 {
				if rows1[k] != rows2[k] {
					t.Fatalf("levels %v: row %d numbered %d, hashed %d", levels, k, rows1[k], rows2[k])
				}
			}
			if limit == n && rows1 == nil {
				t.Fatalf("levels %v: not grouped", levels)
			}
		}
	}
}

// ColumnValues numbers a column's values in order of first occurrence, past the few it
// searches in order.
func TestColumnValues(t *testing.T) {
	x := []float64{}
	for i := range 40 {
		x = append(x, float64(i%13), float64(i%3)) // column 0: 13 values, beyond the searched few
	}
	codes, values := ColumnValues(x, 2, 0)
	if len(values) != 13 || len(codes) != 40 {
		t.Fatalf("%d values, %d codes", len(values), len(codes))
	}
	for k, c := range codes {
		if values[c] != x[2*k] || int(c) != k%13 {
			t.Fatalf("row %d: code %d (value %v) for %v", k, c, values[c], x[2*k])
		}
	}
}

// ExtremeGaps over a stratum's distinct rows equals the per-subject scan, for shares of the
// rows that reach past one distinct row and past several.
func TestExtremeGapsGroupedEqualsPerSubject(t *testing.T) {
	r := rand.New(rand.NewPCG(15, 9))
	n, p := 400, 2
	time, event, x := make([]float64, n), make([]bool, n), make([]float64, n*p)
	for i := range n {
		time[i], event[i] = float64(1+r.IntN(50)), r.IntN(2) == 0
		x[i*p], x[i*p+1] = float64(r.IntN(2)), float64(r.IntN(6))
	}
	x[0], x[1] = 5, 40 // one subject far above the others
	beta := []float64{0.7, -0.2}
	gaps := func(share, k int) (float64, float64) {
		defer func(v int) { maxDistinctShare = v }(maxDistinctShare)
		maxDistinctShare = share
		s, err := NewCoxStratum(time, event, x, p)
		if err != nil {
			t.Fatal(err)
		}
		return s.ExtremeGaps(beta, k)
	}
	for _, k := range []int{1, 2, 3, 10, 50, 200, n, n + 1} {
		gt, gb := gaps(1, k)
		ut, ub := gaps(2*n, k)
		if gt != ut || gb != ub {
			t.Errorf("k = %d: grouped %v, %v; per subject %v, %v", k, gt, gb, ut, ub)
		}
	}
	if _, bottom := gaps(1, 2); bottom < 3 { // η = −4.5 against at least −1 for the others
		t.Errorf("the outlier's gap is %v", bottom)
	}
}

// A grouped stratum's phase-1 time sums are the per-subject walk's bit for bit (each row's
// terms w, w·x computed once: cox_rowterms.go), with ties and with events and censorings
// sharing times; and so is its phase-2 second moment at that β.
func TestTimeSumsGroupedEqualsPerSubject(t *testing.T) {
	r := rand.New(rand.NewPCG(15, 10))
	n, p := 3000, 3
	time, event, x := make([]float64, n), make([]bool, n), make([]float64, n*p)
	for i := 0; i < n; i++ {
		time[i] = float64(1 + r.IntN(150))
		event[i] = r.IntN(3) > 0
		x[i*p] = float64(r.IntN(2))
		x[i*p+1] = float64(r.IntN(30)) - 12 // centred ages: negative and positive values
		x[i*p+2] = x[i*p] * x[i*p+1]
	}
	beta := []float64{0.4, -0.03, 0.01}
	sums := func(share int) ([]RiskSetRow, []float64, []float64) {
		defer func(v int) { maxDistinctShare = v }(maxDistinctShare)
		maxDistinctShare = share
		s, err := NewCoxStratum(time, event, x, p)
		if err != nil {
			t.Fatal(err)
		}
		rows, exs, err := s.TimeSums(beta)
		if err != nil {
			t.Fatal(err)
		}
		if _, g := s.groupedWeights(beta); (g != nil) != (share == 1) {
			t.Fatalf("share %d: grouped = %v", share, g != nil)
		}
		times, eventTimes := s.DistinctTimes()
		a, b := make([]float64, times), make([]float64, eventTimes)
		for k := range a {
			a[k] = 1e-3 * float64(k+1)
		}
		for k := range b {
			b[k] = 1e-4
		}
		m, err := s.WeightedSecondMoment(beta, a, b)
		if err != nil {
			t.Fatal(err)
		}
		return rows, exs, m
	}
	g, gx, gm := sums(1)
	u, ux, um := sums(2 * n)
	if len(g) != len(u) || len(g) < 100 || !EqualBits(gx, ux) {
		t.Fatalf("%d grouped rows, %d per subject; event sums %v, %v", len(g), len(u), gx, ux)
	}
	for k := range g {
		a, b := g[k], u[k]
		if a.Time != b.Time || a.D != b.D || math.Float64bits(a.R0) != math.Float64bits(b.R0) || math.Float64bits(a.E0) != math.Float64bits(b.E0) ||
			!EqualBits(a.R1, b.R1) || !EqualBits(a.E1, b.E1) || (a.E1 == nil) != (a.D == 0) {
			t.Fatalf("row %d: grouped %+v, per subject %+v", k, a, b)
		}
	}
	// The second moment sums a row's subjects first (its documented rounding), so it is
	// compared to a relative 1e-13.
	for i := range gm {
		if math.Abs(gm[i]-um[i]) > 1e-13*math.Abs(um[i]) || um[i] == 0 {
			t.Fatalf("second moment %d: grouped %v, per subject %v", i, gm[i], um[i])
		}
	}
}

// keyedRows groups exactly as distinctRows, whether the keys number the rows exactly, finer
// than their values (two codes of one level: merged), or wrongly (two rows under one key, or
// a key out of range: not ok, the stratum numbers the rows itself); and a stratum given keys
// gives the contribution of one without, bit for bit.
func TestKeyedRowsEqualDistinctRows(t *testing.T) {
	r := rand.New(rand.NewPCG(15, 11))
	n, p := 3000, 2
	time, event, x := make([]float64, n), make([]bool, n), make([]float64, n*p)
	level, age := make([]int32, n), make([]int32, n)
	for i := range n {
		time[i], event[i] = float64(1+i/20), r.IntN(3) > 0 // in time order, as a node's designs
		level[i], age[i] = int32(r.IntN(4)), int32(r.IntN(50))
		x[i*p] = float64(min(level[i], 1)) // codes 1, 2, 3 are one level: "not 0"
		x[i*p+1] = float64(age[i]) - 20.5
	}
	wantRows, wantUniq := distinctRows(x, p, n/8)
	cases := []struct {
		name  string
		keys  func(i int) int32
		nkeys int
		ok    bool
	}{
		{"exact", func(i int) int32 { return min(level[i], 1)*50 + age[i] }, 100, true},
		{"finer", func(i int) int32 { return level[i]*50 + age[i] }, 200, true},
		{"coarse", func(i int) int32 { return age[i] }, 50, false},
		{"range", func(i int) int32 { return level[i]*50 + age[i] - 1 }, 200, false},
	}
	for _, c := range cases {
		keys := make([]int32, n)
		for i := range keys {
			keys[i] = c.keys(i)
		}
		rows, uniq, ok := keyedRows(x, p, keys, c.nkeys, n/8)
		if ok != c.ok {
			t.Fatalf("%s: ok %v", c.name, ok)
		}
		if ok && (!EqualBits(uniq, wantUniq) || !slices.Equal(rows, wantRows)) {
			t.Fatalf("%s: %d rows, want %d", c.name, len(uniq)/p, len(wantUniq)/p)
		}
		if _, _, ok := keyedRows(x, p, keys, c.nkeys, 20); ok {
			t.Fatalf("%s: past the limit", c.name)
		}
		beta := []float64{0.3, -0.02}
		contribution := func(keys []int32) CoxContribution {
			s, err := NewCoxStratumSorted(nil, time, event, x, p)
			if err != nil {
				t.Fatal(err)
			}
			if keys != nil {
				s.SetRowKeys(keys, c.nkeys)
			}
			ct, err := s.Contribution(beta, Efron)
			if err != nil {
				t.Fatal(err)
			}
			return ct
		}
		got, want := contribution(keys), contribution(nil)
		if got.LogLik != want.LogLik || !EqualBits(got.Hessian, want.Hessian) || !EqualBits(got.Gradient, want.Gradient) {
			t.Errorf("%s: with keys %v, without %v", c.name, got, want)
		}
	}
}
