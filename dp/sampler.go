package dp

import (
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"math/big"
	"math/bits"
)

// Sampler draws exact discrete noise from a stream of uniformly random
// bytes. Every decision is an exact comparison of integers, so the output
// distribution is exactly the one stated, given a perfect source (Canonne,
// Kamath & Steinke 2020, Section 5).
//
// A Sampler is safe for concurrent use if its reader is; crypto/rand.Reader is.
type Sampler struct {
	r io.Reader
}

// NewSampler returns a Sampler reading random bytes from r, or from
// crypto/rand.Reader when r is nil. Inject a seeded reader (for example a
// math/rand/v2 ChaCha8) only in tests and simulations: releases need a
// cryptographically secure source.
func NewSampler(r io.Reader) *Sampler {
	if r == nil {
		r = rand.Reader
	}
	return &Sampler{r: r}
}

// ErrRandomness reports that the random source failed; nothing was released.
var ErrRandomness = errors.New("dp: random source failed")

// uniform64 returns an integer uniform on [0, n) by rejection sampling on the
// smallest number of random bytes that covers n; it never uses modulo
// reduction, which would bias small values.
func (s *Sampler) uniform64(n uint64) (uint64, error) {
	if n == 0 {
		panic("dp: uniform64 on an empty range")
	}
	if n == 1 {
		return 0, nil
	}
	nbits := bits.Len64(n - 1)
	nbytes := (nbits + 7) / 8
	mask := uint64(1)<<nbits - 1
	if nbits == 64 {
		mask = ^uint64(0)
	}
	var buf [8]byte
	for {
		if _, err := io.ReadFull(s.r, buf[:nbytes]); err != nil {
			return 0, fmt.Errorf("%w: %v", ErrRandomness, err)
		}
		var v uint64
		for _, b := range buf[:nbytes] {
			v = v<<8 | uint64(b)
		}
		if v &= mask; v < n {
			return v, nil
		}
	}
}

// uniformBig returns an integer uniform on [0, n), n > 0, exactly.
func (s *Sampler) uniformBig(n *big.Int) (*big.Int, error) {
	if n.IsUint64() {
		v, err := s.uniform64(n.Uint64())
		return new(big.Int).SetUint64(v), err
	}
	v, err := rand.Int(s.r, n) // rejection sampling, exact for any reader
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrRandomness, err)
	}
	return v, nil
}

// bernoulli returns true with probability num/den exactly, 0 ≤ num ≤ den.
func (s *Sampler) bernoulli(num, den *big.Int) (bool, error) {
	if num.Sign() < 0 || den.Sign() <= 0 || num.Cmp(den) > 0 {
		panic("dp: bernoulli probability outside [0, 1]")
	}
	if num.IsUint64() && den.IsUint64() {
		u, err := s.uniform64(den.Uint64())
		return u < num.Uint64(), err
	}
	u, err := s.uniformBig(den)
	if err != nil {
		return false, err
	}
	return u.Cmp(num) < 0, nil
}

var bigOne = big.NewInt(1)

// BernoulliExp returns true with probability exp(−γ), γ = num/den ≥ 0, exactly.
//
// Canonne, Kamath & Steinke (2020), Algorithm 1: for γ ∈ [0, 1] draw
// A_k ~ Bernoulli(γ/k) for k = 1, 2, … until the first A_k = 0 and return
// true iff that k is odd (the alternating series of exp(−γ)); for γ > 1 it
// is the product of ⌊γ⌋ draws of Bernoulli(exp(−1)) and one of
// Bernoulli(exp(−(γ − ⌊γ⌋))), stopping at the first failure.
func (s *Sampler) BernoulliExp(gamma *big.Rat) (bool, error) {
	if gamma == nil || gamma.Sign() < 0 {
		panic("dp: BernoulliExp needs γ ≥ 0")
	}
	return s.bernoulliExp(gamma.Num(), gamma.Denom())
}

func (s *Sampler) bernoulliExp(num, den *big.Int) (bool, error) {
	if num.Cmp(den) <= 0 {
		return s.bernoulliExpUnit(num, den)
	}
	whole, frac := new(big.Int).QuoRem(num, den, new(big.Int))
	for i := new(big.Int); i.Cmp(whole) < 0; i.Add(i, bigOne) {
		ok, err := s.bernoulliExpUnit(bigOne, bigOne)
		if err != nil || !ok {
			return false, err
		}
	}
	return s.bernoulliExpUnit(frac, den)
}

// bernoulliExpUnit is Algorithm 1 for γ = num/den ∈ [0, 1].
func (s *Sampler) bernoulliExpUnit(num, den *big.Int) (bool, error) {
	k := int64(1)
	kden := new(big.Int)
	for {
		kden.Mul(den, big.NewInt(k))
		a, err := s.bernoulli(num, kden)
		if err != nil {
			return false, err
		}
		if !a {
			return k%2 == 1, nil
		}
		k++
	}
}

// DiscreteLaplace returns an integer with P(Y = y) ∝ exp(−|y|/scale),
// scale = t/s > 0 rational.
//
// Canonne, Kamath & Steinke (2020), Algorithm 2: draw U uniform on
// {0, …, t−1} and accept it with probability exp(−U/t); count V, the number
// of successes of Bernoulli(exp(−1)) before the first failure (geometric);
// X = U + t·V is then geometric with parameter exp(−1/t), Y = ⌊X/s⌋ is
// geometric with parameter exp(−s/t); a fair sign B makes it two-sided,
// rejecting (B = 1, Y = 0) so that zero is not counted twice.
func (s *Sampler) DiscreteLaplace(scale *big.Rat) (int64, error) {
	if scale == nil || scale.Sign() <= 0 {
		panic("dp: DiscreteLaplace needs scale > 0")
	}
	if !scale.Num().IsInt64() || !scale.Denom().IsInt64() {
		panic("dp: DiscreteLaplace scale too large for int64")
	}
	return s.discreteLaplace(scale.Num().Int64(), scale.Denom().Int64())
}

func (s *Sampler) discreteLaplace(t, sd int64) (int64, error) {
	bt := big.NewInt(t)
	for {
		u, err := s.uniform64(uint64(t))
		if err != nil {
			return 0, err
		}
		d, err := s.bernoulliExp(new(big.Int).SetUint64(u), bt)
		if err != nil {
			return 0, err
		}
		if !d {
			continue
		}
		v := int64(0)
		for {
			a, err := s.bernoulliExpUnit(bigOne, bigOne)
			if err != nil {
				return 0, err
			}
			if !a {
				break
			}
			v++
		}
		y := (int64(u) + t*v) / sd
		neg, err := s.uniform64(2)
		if err != nil {
			return 0, err
		}
		if neg == 1 && y == 0 {
			continue
		}
		if neg == 1 {
			return -y, nil
		}
		return y, nil
	}
}

// DiscreteGaussian returns an integer Y with
//
//	P(Y = y) = exp(−y²/(2σ²)) / Σ_{z∈ℤ} exp(−z²/(2σ²)),
//
// the discrete Gaussian N_ℤ(0, σ²) of Canonne, Kamath & Steinke (2020),
// whose release of an integer query with L2 sensitivity Δ satisfies
// Δ²/(2σ²)-zCDP (their Theorem 4 and Theorem 15 for vectors). Its variance
// is slightly below σ² (their Corollary 9).
//
// Algorithm 3 of the paper: with t = ⌊σ⌋ + 1, draw Y from the discrete
// Laplace with scale t and accept it with probability
// exp(−(|Y| − σ²/t)² / (2σ²)). Here σ² = p/q and the acceptance exponent is
// the exact rational (|Y|·q·t − p)² / (2·p·q·t²).
func (s *Sampler) DiscreteGaussian(sigma2 *big.Rat) (int64, error) {
	if sigma2 == nil || sigma2.Sign() <= 0 {
		panic("dp: DiscreteGaussian needs σ² > 0")
	}
	p, q := sigma2.Num(), sigma2.Denom()
	// ⌊σ⌋ = ⌊√⌊σ²⌋⌋ for σ² ≥ 0.
	t := new(big.Int).Sqrt(new(big.Int).Quo(p, q))
	t.Add(t, bigOne)
	if !t.IsInt64() {
		panic("dp: DiscreteGaussian σ too large for int64")
	}
	ti := t.Int64()
	// den = 2·p·q·t² does not depend on Y.
	den := new(big.Int).Mul(p, q)
	den.Mul(den, t).Mul(den, t).Lsh(den, 1)
	qt := new(big.Int).Mul(q, t)
	num := new(big.Int)
	for {
		y, err := s.discreteLaplace(ti, 1)
		if err != nil {
			return 0, err
		}
		ay := y
		if ay < 0 {
			ay = -ay
		}
		num.Mul(big.NewInt(ay), qt)
		num.Sub(num, p)
		num.Mul(num, num)
		c, err := s.bernoulliExp(num, den)
		if err != nil {
			return 0, err
		}
		if c {
			return y, nil
		}
	}
}
