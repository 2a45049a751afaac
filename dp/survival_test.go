package dp

import (
	"errors"
	"math"
	"slices"
	"testing"

	"gonum.org/v1/gonum/floats/scalar"
)

// TestSurvivalTableKM checks the table helpers on a hand-made table:
// n = (6, 4, 2, 1); S = 1 − 2/6, then × (1 − 1/4) = 1/2, unchanged, then × 0.
func TestSurvivalTableKM(t *testing.T) {
	tab := SurvivalTable{Events: []int64{2, 1, 0, 1}, Censored: []int64{0, 1, 1, 0}}
	if got := tab.AtRisk(); !slices.Equal(got, []int64{6, 4, 2, 1}) {
		t.Errorf("AtRisk = %v", got)
	}
	want := []float64{2.0 / 3, 0.5, 0.5, 0}
	for i, s := range tab.KaplanMeier() {
		if !scalar.EqualWithinAbs(s, want[i], 1e-15) {
			t.Errorf("S(%d) = %v, want %v", i+1, s, want[i])
		}
	}
	if m := tab.MedianBin(); m != 2 {
		t.Errorf("MedianBin = %d, want 2", m)
	}
}

// TestStrategies checks Δ² against theory and that least squares recovers a
// noise-free x exactly (so decoding adds no error of its own).
func TestStrategies(t *testing.T) {
	sqrtSens := func(n int) int64 { // Σ_{k<n} round(1000·C(2k,k)/4^k)², straight from the definition
		s, c := int64(0), 1.0
		for k := range n {
			if k > 0 {
				c = c * float64(2*k-1) / float64(2*k)
			}
			r := int64(math.Round(1000 * c))
			s += r * r
		}
		return s
	}
	for _, tc := range []struct {
		name  string
		st    strategy
		sens2 int64
	}{
		{"identity 60", identityStrategy(60), 1},
		{"tree 60", treeStrategy(60), 7}, // ⌈log₂ 60⌉ + 1 levels
		{"tree 64", treeStrategy(64), 7},
		{"tree 65", treeStrategy(65), 8},
		{"tree 1", treeStrategy(1), 1},
		{"sqrt 60", sqrtStrategy(60), sqrtSens(60)},
		{"sqrt 1", sqrtStrategy(1), 1000 * 1000},
	} {
		if got := tc.st.sens2(); got != tc.sens2 {
			t.Errorf("%s: Δ² = %d, want %d", tc.name, got, tc.sens2)
		}
		x := make([]int64, tc.st.cols())
		for i := range x {
			x[i] = int64((i*37 + 11) % 23)
		}
		for i, v := range tc.st.leastSquares(tc.st.apply(x)) {
			if !scalar.EqualWithinAbs(v, float64(x[i]), 1e-6) {
				t.Fatalf("%s: decoded x[%d] = %v, want %d", tc.name, i, v, x[i])
			}
		}
	}
	// 1 + ln(60)/π ≈ 2.30 is the asymptotic Σ c_k²; the rounded sum is close.
	if r := float64(sqrtSens(60)) / 1e6; r < 2.2 || r > 2.4 {
		t.Errorf("sqrt Δ²/M² = %v, want ≈ 2.3", r)
	}
}

func TestNonIncreasing(t *testing.T) {
	for _, tc := range []struct{ in, want []float64 }{
		{[]float64{3, 2, 2, 1}, []float64{3, 2, 2, 1}},  // already monotone
		{[]float64{1, 3, 2}, []float64{2, 2, 2}},        // pool all
		{[]float64{3, 1, 2}, []float64{3, 1.5, 1.5}},    // pool the tail
		{[]float64{5, -1, 0, 4}, []float64{5, 1, 1, 1}}, // one violator pools back
		{[]float64{1}, []float64{1}},
	} {
		got := nonIncreasing(tc.in)
		for i := range got {
			if !scalar.EqualWithinAbs(got[i], tc.want[i], 1e-12) {
				t.Errorf("nonIncreasing(%v) = %v, want %v", tc.in, got, tc.want)
				break
			}
		}
	}
}

var mechanisms = []SurvivalMechanism{SurvivalSqrt, SurvivalTree, SurvivalIndependent}

// TestReleaseSurvivalConsistent: every release, however noisy, is a
// survival table a KM routine can take: non-negative counts, so at-risk
// n_t = Σ_{s≥t}(d_s + c_s) is non-increasing and d_t ≤ n_t.
func TestReleaseSurvivalConsistent(t *testing.T) {
	tables := map[string]SurvivalTable{
		"cohort 2000":  cohort(2000, 2000),
		"cohort 30":    cohort(30, 30),
		"empty cohort": {Events: make([]int64, 12), Censored: make([]int64, 12)},
		"one bin":      {Events: []int64{4}, Censored: []int64{1}},
	}
	s := seeded(50)
	for name, tab := range tables {
		for _, m := range mechanisms {
			for _, rho := range []string{"0.001", "0.1"} {
				for range 30 {
					r, noise, err := ReleaseSurvival(s, tab, Rho(rho), m)
					if err != nil {
						t.Fatal(err)
					}
					if noise.Rho.Cmp(Rho(rho)) > 0 || noise.Mechanism != m.String() {
						t.Fatalf("%s %v: noise %+v", name, m, noise)
					}
					if msg := inconsistency(tab, r); msg != "" {
						t.Fatalf("%s %v ρ=%s: %s: %+v", name, m, rho, msg, r)
					}
				}
			}
		}
	}
}

func inconsistency(in, r SurvivalTable) string {
	if r.Len() != in.Len() || len(r.Censored) != in.Len() {
		return "length changed"
	}
	n := r.AtRisk()
	for i := range r.Events {
		switch {
		case r.Events[i] < 0 || r.Censored[i] < 0:
			return "negative count"
		case r.Events[i] > n[i]:
			return "events above at risk"
		case i > 0 && n[i] > n[i-1]:
			return "at risk increases"
		}
	}
	return ""
}

// TestReleaseSurvivalAccuracy pins the measured utility (UTILITY.md, 200
// releases each, same cohorts and seed family) with margin: at ρ = 0.1 the
// square-root mechanism's median max|ΔS| for n = 2000 was 0.0069, here it
// must stay under 0.012; its advantage over the baseline was 2.4× (n = 1000)
// and 2.6× (n = 2000), here it must stay at least 2× (the goal).
// With 100 releases the median is known to about ±5%, so the margins are
// several standard errors.
func TestReleaseSurvivalAccuracy(t *testing.T) {
	for _, n := range []int{1000, 2000} {
		tab := cohort(n, uint64(n))
		base := measure(t, tab, Rho("0.1"), SurvivalIndependent, 100, 3)
		best := measure(t, tab, Rho("0.1"), SurvivalSqrt, 100, 4)
		if ratio := base.medErr / best.medErr; ratio < 2 {
			t.Errorf("n=%d: baseline %.4f / sqrt %.4f = %.2f, want ≥ 2", n, base.medErr, best.medErr, ratio)
		}
		if n == 2000 && best.medErr > 0.012 {
			t.Errorf("n=2000: median max|ΔS| %.4f > 0.012", best.medErr)
		}
	}
}

// TestMoreRhoLessError: the error falls with ρ for every mechanism, and
// like 1/√ρ (noise sd ∝ 1/√ρ): 100× the ρ should give about 10× less error;
// we ask for at least 5×, a margin covering the rounding and clamping that
// do not scale.
func TestMoreRhoLessError(t *testing.T) {
	tab := cohort(1000, 1000)
	for _, m := range mechanisms {
		var errs []float64
		for i, rho := range []string{"0.01", "0.1", "1"} {
			errs = append(errs, measure(t, tab, Rho(rho), m, 60, uint64(10+i)).medErr)
		}
		if !(errs[0] > errs[1] && errs[1] > errs[2]) || errs[0]/errs[2] < 5 {
			t.Errorf("%v: median max|ΔS| at ρ = 0.01, 0.1, 1: %v", m, errs)
		}
	}
}

func TestReleaseSurvivalErrors(t *testing.T) {
	s := seeded(51)
	for name, tc := range map[string]struct {
		tab  SurvivalTable
		want error
	}{
		"empty":             {SurvivalTable{}, ErrEmptyTable},
		"ragged":            {SurvivalTable{Events: []int64{1, 2}, Censored: []int64{1}}, ErrEmptyTable},
		"negative":          {SurvivalTable{Events: []int64{1, -2}, Censored: []int64{1, 0}}, ErrNegativeCount},
		"too many bins":     {SurvivalTable{Events: make([]int64, MaxSurvivalBins+1), Censored: make([]int64, MaxSurvivalBins+1)}, ErrTableTooLarge},
		"too many patients": {SurvivalTable{Events: []int64{1 << 39, 1 << 39}, Censored: []int64{1 << 39, 0}}, ErrTableTooLarge},
	} {
		if _, _, err := ReleaseSurvival(s, tc.tab, Rho("0.1"), SurvivalSqrt); !errors.Is(err, tc.want) {
			t.Errorf("%s: %v, want %v", name, err, tc.want)
		}
	}
	ok := SurvivalTable{Events: []int64{1}, Censored: []int64{0}}
	expectPanic(t, "nil sampler", func() { _, _, _ = ReleaseSurvival(nil, ok, Rho("0.1"), SurvivalSqrt) })
	expectPanic(t, "ρ=0", func() { _, _, _ = ReleaseSurvival(s, ok, Rho("0"), SurvivalSqrt) })
	expectPanic(t, "mechanism", func() { _, _, _ = ReleaseSurvival(s, ok, Rho("0.1"), SurvivalMechanism(9)) })
}

// SurvivalSizeSD matches the spread of the released cohort size n̂_1 around the true N over
// repeated releases (a cohort far from zero, so the clamping steps do not bind at n_1).
func TestSurvivalSizeSD(t *testing.T) {
	tab := cohort(2000, 7)
	rho := Rho("0.015")
	for _, m := range []SurvivalMechanism{SurvivalSqrt, SurvivalTree, SurvivalIndependent} {
		s := seeded(byte(11 + m))
		const reps = 400
		var ss float64
		n := float64(tab.AtRisk()[0])
		for i := 0; i < reps; i++ {
			r, _, err := ReleaseSurvival(s, tab, rho, m)
			if err != nil {
				t.Fatal(err)
			}
			d := float64(r.AtRisk()[0]) - n
			ss += d * d
		}
		got, want := math.Sqrt(ss/reps), SurvivalSizeSD(tab.Len(), rho, m)
		// 400 draws estimate an sd within ±7% (1 se ≈ sd/√800, ×2); rounding and isotonic
		// smoothing only shrink the spread. Accept 0.75–1.15.
		if got < 0.75*want || got > 1.15*want {
			t.Errorf("%s: empirical sd of n̂_1 %.2f, SurvivalSizeSD %.2f", m, got, want)
		}
	}
}

// TestReleaseSurvivalSizeUnbiased: the released cohort size n̂₁ is the unbiased least-squares
// estimate (rounded), not inflated by the consistency step. One site: mean(n̂₁ − n) over 300
// seeded releases lies within 3 standard errors of 0. Many small tables (the lung data's 18
// sites on the node's 122 bins at ρ = 0.015): the isotonic regression of all the suffix sums
// that ReleaseSurvival used before added +268 patients to the 227 of the pooled table
// (dp/phantom_test.go); what is left now comes only from clamping each site's n̂₁ at zero.
func TestReleaseSurvivalSizeUnbiased(t *testing.T) {
	rho := Rho("0.015")
	t.Run("one site", func(t *testing.T) {
		tab := padded(cohort(500, 500), 122)
		n := float64(tab.AtRisk()[0])
		s := seeded(61)
		const reps = 300
		var sum, sum2 float64
		for range reps {
			r, _, err := ReleaseSurvival(s, tab, rho, SurvivalSqrt)
			if err != nil {
				t.Fatal(err)
			}
			d := float64(r.AtRisk()[0]) - n
			sum, sum2 = sum+d, sum2+d*d
		}
		mean := sum / reps
		sd := math.Sqrt((sum2 - reps*mean*mean) / (reps - 1))
		if se := sd / math.Sqrt(reps); math.Abs(mean) > 3*se {
			t.Errorf("mean(n̂₁ − n) = %+.2f, sd %.1f: more than 3 standard errors (%.2f) from 0", mean, sd, 3*se)
		}
		t.Logf("n = %.0f: mean(n̂₁ − n) = %+.2f, sd %.1f", n, mean, sd)
	})
	t.Run("18 small sites", func(t *testing.T) {
		sites := lungSiteTables(t, 122)
		s := seeded(62)
		const reps = 100
		var bias float64
		for range reps {
			for _, tab := range sites {
				r, _, err := ReleaseSurvival(s, tab, rho, SurvivalSqrt)
				if err != nil {
					t.Fatal(err)
				}
				bias += float64(r.AtRisk()[0] - tab.AtRisk()[0])
			}
		}
		// Measured: +80 now (sd of the mean ≈ 4), +268 with the old consistency step.
		if bias /= reps; bias > 120 {
			t.Errorf("pooled n̂₁ − n = %+.1f over %d sites, want ≤ +120 (the old isotonic step: ≈ +268)", bias, len(sites))
		}
		t.Logf("pooled n̂₁ − n = %+.1f over %d sites", bias, len(sites))
	})
}
