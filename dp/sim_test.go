package dp

import (
	"math"
	"math/big"
	"math/rand/v2"
	"slices"
	"testing"
)

// cohort is the simulated NSCLC-like cohort every utility number uses:
// survival exponential with median 12 months (30-day months), administrative
// censoring uniform between 36 and 60 months (staggered accrual), random loss
// to follow-up exponential with median 120 months; monthly bins
// t = ⌈days/30⌉, T = 60. The seed fixes the patients.
func cohort(n int, seed uint64) SurvivalTable {
	rng := rand.New(rand.NewPCG(seed, 0x0c0fed))
	const bins = 60
	t := SurvivalTable{Events: make([]int64, bins), Censored: make([]int64, bins)}
	for range n {
		event := rng.ExpFloat64() * 360 / math.Ln2
		admin := 30 * (36 + 24*rng.Float64())
		loss := rng.ExpFloat64() * 3600 / math.Ln2
		days := min(event, admin, loss)
		b := min(max(int(math.Ceil(days/30)), 1), bins) - 1
		if event == days {
			t.Events[b]++
		} else {
			t.Censored[b]++
		}
	}
	return t
}

// kmError is the accuracy measure of the issue: max |S_dp(t) − S(t)| over
// bins whose true number at risk is at least 50 (none: 0).
func kmError(exact, noisy SurvivalTable) float64 {
	s, sn, n := exact.KaplanMeier(), noisy.KaplanMeier(), exact.AtRisk()
	worst := 0.0
	for i := range s {
		if n[i] >= 50 {
			worst = max(worst, math.Abs(s[i]-sn[i]))
		}
	}
	return worst
}

// medianShift is |median_dp − median| in bins (months); a curve that does
// not reach one half counts as median T+1.
func medianShift(exact, noisy SurvivalTable) float64 {
	m := func(t SurvivalTable) int {
		if b := t.MedianBin(); b > 0 {
			return b
		}
		return t.Len() + 1
	}
	return math.Abs(float64(m(exact) - m(noisy)))
}

type accuracy struct {
	medErr, p90Err     float64 // max|ΔS| over bins with ≥ 50 at risk
	medShift, p90Shift float64 // |Δ median| in months
}

// quantile is the type-7 (R default) sample quantile of sorted x.
func quantile(sorted []float64, p float64) float64 {
	h := p * float64(len(sorted)-1)
	lo := math.Floor(h)
	if int(lo)+1 >= len(sorted) {
		return sorted[len(sorted)-1]
	}
	return sorted[int(lo)] + (h-lo)*(sorted[int(lo)+1]-sorted[int(lo)])
}

// measure releases the same table reps times with noise from a ChaCha8
// stream seeded by seed and summarizes the error distribution.
func measure(tb testing.TB, t SurvivalTable, rho *big.Rat, m SurvivalMechanism, reps int, seed uint64) accuracy {
	var key [32]byte
	key[0], key[1] = byte(seed), byte(seed>>8)
	s := NewSampler(rand.NewChaCha8(key))
	errs, shifts := make([]float64, reps), make([]float64, reps)
	for i := range reps {
		r, _, err := ReleaseSurvival(s, t, rho, m)
		if err != nil {
			tb.Fatal(err)
		}
		errs[i], shifts[i] = kmError(t, r), medianShift(t, r)
	}
	slices.Sort(errs)
	slices.Sort(shifts)
	return accuracy{quantile(errs, 0.5), quantile(errs, 0.9), quantile(shifts, 0.5), quantile(shifts, 0.9)}
}
