package analysis

import (
	"errors"
	"fmt"

	"gonum.org/v1/gonum/mat"
	"gonum.org/v1/gonum/stat/distuv"
)

// LogRankResult is a k-group log-rank test, the numbers of R's survdiff (rho = 0).
type LogRankResult struct {
	ChiSq float64
	// DF is the number of groups with a positive expected count minus one, as R's survdiff:
	// groups nobody of which was at risk at any event time drop out of the test.
	DF int
	P  float64 // upper tail of χ²(DF) at ChiSq
	// Per group, in the order given, summed over strata.
	N        []int
	Observed []float64
	Expected []float64
	// Variance is the k×k covariance matrix of Observed − Expected (row-major), summed over
	// strata: R's survdiff(...)$var.
	Variance []float64
	Strata   int // number of strata (1 when unstratified)
}

// Errors of LogRank and StratifiedLogRank.
var (
	ErrLogRankTooFewGroups = errors.New("analysis: log-rank test needs at least two groups")
	ErrLogRankNoEvents     = errors.New("analysis: log-rank test: no events in any group")
	ErrLogRankOneGroup     = errors.New("analysis: log-rank test: fewer than two groups were at risk at any event time")
	ErrLogRankSingular     = errors.New("analysis: log-rank test: the variance matrix is singular (no information to compare the groups)")
)

// LogRank tests the equality of the survival curves of k groups (Mantel 1966; Peto & Peto
// 1972), each given by its (merged) table. At each distinct event time t of the pooled data,
// with n_j at risk and d_j events in group j, n = Σ n_j and d = Σ d_j:
//
//	O_j = Σ_t d_j,   E_j = Σ_t d n_j / n
//	V_jl = Σ_{t: n>1} d (n − d) / (n − 1) · (n_j/n) (δ_jl − n_l/n)
//
// and, over the groups with E_j > 0 less the first of them (R's survdiff),
//
//	χ² = (O − E)ᵀ V⁻¹ (O − E),   df = #{j : E_j > 0} − 1.
//
// The result equals R's survdiff(Surv(time, status) ~ group) on the pooled records (R's timefix
// rounding of near-equal times is not applied). With delayed entries the risk sets are
// entry < t ≤ exit; survdiff does not take such data, and the statistic then equals the score
// test of coxph(Surv(entry, exit, status) ~ group, ties = "exact"), which is survdiff's on
// right-censored data. An empty group is allowed and takes no part, as
// a factor level without records in R. Errors: fewer than two groups, no events at all, fewer
// than two groups at risk at an event time, or a singular variance (where R's solve fails).
func LogRank(groups []SurvivalTable) (*LogRankResult, error) {
	return StratifiedLogRank([][]SurvivalTable{groups})
}

// StratifiedLogRank is the log-rank test stratified by site (or any other stratum): strata[s]
// holds the group tables of stratum s, in the same group order in every stratum (an absent
// group is an empty table). Observed, expected counts and variances are computed within each
// stratum as in LogRank and summed over strata before forming χ², as R's
// survdiff(Surv(time, status) ~ group + strata(site)).
func StratifiedLogRank(strata [][]SurvivalTable) (*LogRankResult, error) {
	if len(strata) == 0 {
		return nil, ErrLogRankTooFewGroups
	}
	k := len(strata[0])
	if k < 2 {
		return nil, ErrLogRankTooFewGroups
	}
	res := &LogRankResult{
		N:        make([]int, k),
		Observed: make([]float64, k),
		Expected: make([]float64, k),
		Variance: make([]float64, k*k),
		Strata:   len(strata),
	}
	for s, groups := range strata {
		if len(groups) != k {
			return nil, fmt.Errorf("analysis: log-rank test: stratum %d has %d groups, stratum 0 has %d", s, len(groups), k)
		}
		for g, t := range groups {
			if err := t.Validate(); err != nil {
				return nil, fmt.Errorf("analysis: log-rank test: stratum %d, group %d: %w", s, g, err)
			}
			res.N[g] += t.Total()
		}
		logRankStratum(groups, res.Observed, res.Expected, res.Variance)
	}
	total := 0.0
	for _, o := range res.Observed {
		total += o
	}
	if total == 0 {
		return nil, ErrLogRankNoEvents
	}
	return res.solve()
}

// solve forms χ² = (O − E)ᵀ V⁻¹ (O − E) of res over the groups with a positive expected count
// but the first, V being res.Variance.
func (res *LogRankResult) solve() (*LogRankResult, error) {
	k := len(res.Observed)
	var keep []int
	for g, e := range res.Expected {
		if e > 0 {
			keep = append(keep, g)
		}
	}
	if len(keep) < 2 {
		return nil, ErrLogRankOneGroup
	}
	m := len(keep) - 1
	diff := mat.NewVecDense(m, nil)
	v := mat.NewDense(m, m, nil)
	for a, ga := range keep[1:] {
		diff.SetVec(a, res.Observed[ga]-res.Expected[ga])
		for b, gb := range keep[1:] {
			v.Set(a, b, res.Variance[ga*k+gb])
		}
	}
	var sol mat.VecDense
	if err := sol.SolveVec(v, diff); err != nil {
		// mat.Condition means (near) singular, where R's solve stops with an error.
		return nil, ErrLogRankSingular
	}
	res.ChiSq = mat.Dot(&sol, diff)
	res.DF = m
	res.P = distuv.ChiSquared{K: float64(m)}.Survival(res.ChiSq)
	return res, nil
}

// WithNoise is the test r of noisy tables (differentially private releases) with noise, the
// k×k covariance (row-major) that the noise adds to Observed − Expected, added to its variance:
// χ² = (O − E)ᵀ (V + C)⁻¹ (O − E). The noise is independent of the patients' survival, so the
// two variances add. r is not changed.
func (r *LogRankResult) WithNoise(noise []float64) (*LogRankResult, error) {
	if len(noise) != len(r.Variance) {
		panic("analysis: LogRankResult.WithNoise: the noise's covariance is not k×k")
	}
	out := *r
	out.Variance = make([]float64, len(r.Variance))
	for i := range noise {
		out.Variance[i] = r.Variance[i] + noise[i]
	}
	return out.solve()
}

// logRankStratum adds the observed and expected counts and the variance of one stratum.
func logRankStratum(groups []SurvivalTable, obs, exp, v []float64) {
	k := len(groups)
	// Walk all groups' times together from the latest down, so that the number at risk of
	// each group accumulates: n_j(t) = Σ_{t' ≥ t} (d_j + c_j).
	pos := make([]int, k)
	for g, t := range groups {
		pos[g] = len(t.Time) - 1
	}
	risk := make([]float64, k)
	deaths := make([]float64, k)
	for {
		// The next (latest not yet visited) time over all groups.
		found := false
		var tt float64
		for g, t := range groups {
			if pos[g] >= 0 && (!found || t.Time[pos[g]] > tt) {
				tt, found = t.Time[pos[g]], true
			}
		}
		if !found {
			return
		}
		d, n := 0.0, 0.0
		for g, t := range groups {
			deaths[g] = 0
			if p := pos[g]; p >= 0 && t.Time[p] == tt {
				deaths[g] = float64(t.Events[p])
				risk[g] += float64(t.Events[p] + t.Censor[p])
				if t.Entries != nil {
					risk[g] -= float64(t.Entries[p]) // entered at tt: at risk only after tt
				}
				pos[g]--
			}
			d += deaths[g]
		}
		for g := range groups {
			n += risk[g]
		}
		if d == 0 {
			continue
		}
		for g := range groups {
			obs[g] += deaths[g]
			exp[g] += d * risk[g] / n
		}
		if n == 1 {
			continue
		}
		kt := d * (n - d) / (n * (n - 1))
		for j := range groups {
			tmp := kt * risk[j]
			v[j*k+j] += tmp
			for l := range groups {
				v[l*k+j] -= tmp * risk[l] / n
			}
		}
	}
}
