package dp

import (
	"math"
	"math/big"
	"math/rand/v2"
)

// CompetingTable is a survival table with the events split by cause: Events[j][t] patients
// had an event of cause j+1 in bin t, Censored[t] were censored there. Each patient is in
// exactly one cell (an event of one cause, or censored), so the table has L2 sensitivity 1
// under add/remove-one-patient, as a SurvivalTable: releasing it costs what a Kaplan–Meier
// release costs, one ρ for all causes together.
type CompetingTable struct {
	Events   [][]int64
	Censored []int64
}

// Len is the number of time bins T.
func (t CompetingTable) Len() int { return len(t.Censored) }

// AllCauses is the table with every cause counted as an event (the Kaplan–Meier of any event).
func (t CompetingTable) AllCauses() SurvivalTable {
	ev := make([]int64, t.Len())
	for _, col := range t.Events {
		for i, v := range col {
			ev[i] += v
		}
	}
	return SurvivalTable{Events: ev, Censored: t.Censored}
}

func (t CompetingTable) check() error {
	if len(t.Events) == 0 {
		return ErrEmptyTable
	}
	for _, col := range t.Events {
		if len(col) != t.Len() {
			return ErrEmptyTable
		}
		for _, v := range col {
			if v < 0 {
				return ErrNegativeCount
			}
		}
	}
	return t.AllCauses().check()
}

// columns returns the causes then the censoring column.
func (t CompetingTable) columns() [][]int64 {
	return append(append([][]int64{}, t.Events...), t.Censored)
}

// ReleaseCompeting releases a competing-risks table under rho-zCDP with a factored mechanism
// (SurvivalSqrt or SurvivalTree): every column (each cause, the censoring) is noised as
// ReleaseSurvival noises its two, at the same σ, and the k+1 least-squares columns are made
// consistent by anchoredK (size unbiased, split between the columns by the simplex projection,
// non-negative, at-risk non-increasing). With one cause it is ReleaseSurvival. Disjoint groups
// compose in parallel, as for ReleaseSurvival.
func ReleaseCompeting(s *Sampler, t CompetingTable, rho *big.Rat, m SurvivalMechanism) (CompetingTable, Noise, error) {
	if s == nil {
		panic("dp: nil Sampler")
	}
	if rho == nil || rho.Sign() <= 0 {
		panic("dp: ReleaseCompeting needs ρ > 0")
	}
	if err := t.check(); err != nil {
		return CompetingTable{}, Noise{}, err
	}
	st := factoredStrategy(t.Len(), m)
	sens2 := big.NewRat(st.sens2(), 1)
	sigma2, actual := SigmaSquared(sens2, rho)
	cols, err := factoredColumns(t.columns(), st, func() (int64, error) { return s.DiscreteGaussian(sigma2) })
	if err != nil {
		return CompetingTable{}, Noise{}, err
	}
	k := len(t.Events)
	return CompetingTable{Events: cols[:k], Censored: cols[k]}, Noise{Mechanism: m.String(), Sigma2: sigma2, Sens2: sens2, Rho: actual}, nil
}

// SimulateCompeting is to ReleaseCompeting what SimulateSurvival is to ReleaseSurvival: a fast
// simulation with rounded continuous Gaussian noise, NOT a release (app's noise-SD bootstrap).
func SimulateCompeting(rng *rand.Rand, t CompetingTable, rho *big.Rat, m SurvivalMechanism) (CompetingTable, error) {
	if rho == nil || rho.Sign() <= 0 {
		panic("dp: SimulateCompeting needs ρ > 0")
	}
	if err := t.check(); err != nil {
		return CompetingTable{}, err
	}
	st := factoredStrategy(t.Len(), m)
	sigma2, _ := SigmaSquared(big.NewRat(st.sens2(), 1), rho)
	s2, _ := sigma2.Float64()
	sigma := math.Sqrt(s2)
	cols, _ := factoredColumns(t.columns(), st, func() (int64, error) {
		return int64(math.Round(rng.NormFloat64() * sigma)), nil
	})
	k := len(t.Events)
	return CompetingTable{Events: cols[:k], Censored: cols[k]}, nil
}

// factoredStrategy is the strategy matrix of a factored mechanism for T bins.
func factoredStrategy(T int, m SurvivalMechanism) strategy {
	switch m {
	case SurvivalSqrt:
		return sqrtStrategy(T)
	case SurvivalTree:
		return treeStrategy(T)
	}
	panic("dp: mechanism without a factorisation")
}

// factoredColumns noises R·x for each column x (reversed in time, so that R's prefix sums are
// the suffix sums making up the at-risk counts), decodes by least squares and makes the columns
// consistent together (anchoredK). noise draws one coordinate's noise.
func factoredColumns(cols [][]int64, st strategy, noise func() (int64, error)) ([][]int64, error) {
	ls := make([][]float64, len(cols))
	for k, col := range cols {
		y := st.apply(reversed(col))
		for i := range y {
			z, err := noise()
			if err != nil {
				return nil, err
			}
			y[i] += z
		}
		ls[k] = st.leastSquares(y)
	}
	return anchoredK(ls), nil
}
