package dp

import (
	"errors"
	"math/big"
)

// Noise describes what was done to a release, for the audit log and for the
// policy effects shown under a figure.
type Noise struct {
	Mechanism string // "discrete-gaussian", "survival-sqrt", …
	// Sigma2 is the discrete Gaussian parameter per noisy coordinate and
	// Sens2 the squared L2 sensitivity of what was noised. For the
	// factorized survival mechanisms that is R·x in the strategy's integer
	// units (scaled by 1000 for sqrt), so only Sigma2/Sens2 = 1/(2ρ)
	// compares across mechanisms.
	Sigma2, Sens2 *big.Rat
	Rho           *big.Rat // zCDP cost actually spent (≤ the ρ asked for)
}

// ErrNegativeCount reports a negative count in the input: bad data.
var ErrNegativeCount = errors.New("dp: negative count")

// ReleaseCount releases one patient count under rho-zCDP: count + N_ℤ(0, σ²)
// with σ² = 1/(2ρ) rounded up (adding or removing one patient moves a count
// by 1, Δ = 1).
//
// The noisy value is returned as is, possibly negative: a node's count is
// summed with other sites' counts, and clamping at zero here would bias that
// sum upwards. Clamp for display only, after pooling.
func ReleaseCount(s *Sampler, count int64, rho *big.Rat) (int64, Noise, error) {
	v, noise, err := ReleaseCounts(s, []int64{count}, rho)
	if err != nil {
		return 0, noise, err
	}
	return v[0], noise, nil
}

// ReleaseCounts releases a vector of disjoint group counts (each patient in
// exactly one group, so Δ² = 1 for the whole vector, however many groups)
// under rho-zCDP, each with independent N_ℤ(0, σ²), σ² = 1/(2ρ) rounded up.
// Like ReleaseCount it does not clamp, for unbiased pooling across sites.
//
// The groups must be disjoint: a vector where one patient counts in k groups
// (overlapping categories, several diagnoses) has Δ² = k; release it with
// ReleaseVector and the right sensitivity.
func ReleaseCounts(s *Sampler, counts []int64, rho *big.Rat) ([]int64, Noise, error) {
	return ReleaseVector(s, counts, big.NewRat(1, 1), rho)
}

// ReleaseVector adds N_ℤ(0, σ²) to every coordinate of an integer vector
// whose squared L2 sensitivity under add/remove-one-patient is sens2, with
// σ² = Δ²/(2ρ) rounded up so that the cost is at most rho.
func ReleaseVector(s *Sampler, v []int64, sens2, rho *big.Rat) ([]int64, Noise, error) {
	if s == nil {
		panic("dp: nil Sampler")
	}
	if len(v) == 0 {
		panic("dp: ReleaseVector of nothing")
	}
	for _, c := range v {
		if c < 0 {
			return nil, Noise{}, ErrNegativeCount
		}
	}
	sigma2, actual := SigmaSquared(sens2, rho)
	noise := Noise{Mechanism: "discrete-gaussian", Sigma2: sigma2, Sens2: new(big.Rat).Set(sens2), Rho: actual}
	out := make([]int64, len(v))
	for i, c := range v {
		z, err := s.DiscreteGaussian(sigma2)
		if err != nil {
			return nil, Noise{}, err
		}
		out[i] = c + z
	}
	return out, noise, nil
}
