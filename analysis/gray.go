package analysis

import (
	"errors"
	"fmt"
	"math"

	"gonum.org/v1/gonum/mat"
	"gonum.org/v1/gonum/stat/distuv"
)

// GrayResult is Gray's k-sample test of the cumulative incidence of one cause: a row of
// cmprsk::cuminc(...)$Tests.
type GrayResult struct {
	Cause int // 1-based
	Stat  float64
	DF    int     // groups with subjects, minus one
	P     float64 // upper tail of χ²(DF) at Stat
	// Score is the test's score of the first DF groups with subjects, Variance its variance
	// (DF×DF, row-major): Stat = Scoreᵀ Variance⁻¹ Score.
	Score, Variance []float64
}

// Errors of GrayTest.
var (
	ErrGrayTooFewGroups = errors.New("analysis: Gray's test needs at least two groups with subjects")
	ErrGraySingular     = errors.New("analysis: Gray's test: the variance matrix is singular")
)

// GrayTest compares the cumulative incidence of cause (1-based) across groups (Gray 1988,
// Ann. Stat. 16:1141), with weight (1 − F̂(t−))^rho as cmprsk's rho (0 in cuminc's default).
// Each group is a table whose events are split by cause; groups without any subject take no
// part, as cuminc drops factor levels without records. strata[s] holds the group tables of
// stratum s (e.g. site), in the same group order in every stratum; scores and variances add
// over strata, as cuminc(..., strata = ). The result equals cmprsk::cuminc(time, status,
// group, strata)$Tests for that cause. Tables with delayed entries are refused.
//
// At each time with an event, with R_g = n_g/Ŝ_g(t−) the group's subdistribution risk set,
// the score of group g is Σ_t w(t)·(d_g1 − d_1·R_g(1 − F̂_g(t−))/Σ_h R_h(1 − F̂_h(t−))); its
// variance is Gray's estimator (§2 of the paper), built from the same per-group counts, so the
// test needs nothing beyond the tables.
func GrayTest(strata [][]SurvivalTable, cause int, rho float64) (GrayResult, error) {
	if len(strata) == 0 {
		return GrayResult{}, ErrGrayTooFewGroups
	}
	ng := len(strata[0])
	present := make([]bool, ng)
	for s, groups := range strata {
		if len(groups) != ng {
			return GrayResult{}, fmt.Errorf("analysis: Gray's test: stratum %d has %d groups, stratum 0 has %d", s, len(groups), ng)
		}
		for g, t := range groups {
			if err := checkCompeting(t, cause); err != nil {
				return GrayResult{}, fmt.Errorf("analysis: Gray's test: stratum %d, group %d: %w", s, g, err)
			}
			present[g] = present[g] || t.Total() > 0
		}
	}
	var keep []int
	for g, p := range present {
		if p {
			keep = append(keep, g)
		}
	}
	k := len(keep)
	if k < 2 {
		return GrayResult{}, ErrGrayTooFewGroups
	}
	score := make([]float64, k-1)
	v := mat.NewSymDense(k-1, nil)
	for _, groups := range strata {
		kept := make([]SurvivalTable, k)
		for i, g := range keep {
			kept[i] = groups[g]
		}
		grayStratum(kept, cause-1, rho, score, v)
	}
	res := GrayResult{Cause: cause, DF: k - 1, Score: score, Variance: make([]float64, 0, (k-1)*(k-1))}
	for i := range k - 1 {
		for j := range k - 1 {
			res.Variance = append(res.Variance, v.At(i, j))
		}
	}
	return res.solve()
}

// WithNoise is the test r of noisy tables (differentially private releases) with noise, the
// DF×DF covariance (row-major) that the noise adds to the score, added to its variance:
// Stat = Uᵀ (V + C)⁻¹ U. The noise is independent of the patients' times, so the two variances
// add (as LogRankResult.WithNoise). r is not changed.
func (r GrayResult) WithNoise(noise []float64) (GrayResult, error) {
	if len(noise) != len(r.Variance) {
		panic("analysis: GrayResult.WithNoise: the noise's covariance is not DF×DF")
	}
	out := r
	out.Variance = make([]float64, len(r.Variance))
	for i := range noise {
		out.Variance[i] = r.Variance[i] + noise[i]
	}
	return out.solve()
}

// solve sets Stat and P from Score and Variance.
func (r GrayResult) solve() (GrayResult, error) {
	k := r.DF
	var qr mat.QR
	qr.Factorize(mat.NewDense(k, k, r.Variance))
	var sol mat.VecDense
	u := mat.NewVecDense(k, r.Score)
	if err := qr.SolveVecTo(&sol, false, u); err != nil {
		return GrayResult{}, ErrGraySingular
	}
	r.Stat = mat.Dot(&sol, u)
	r.P = distuv.ChiSquared{K: float64(k)}.Survival(r.Stat)
	return r, nil
}

// checkCompeting checks that t is a valid table split by cause, with the cause among them,
// and without delayed entries.
func checkCompeting(t SurvivalTable, cause int) error {
	if err := t.Validate(); err != nil {
		return err
	}
	if t.Total() > 0 && len(t.Causes) == 0 {
		return ErrNoCauses
	}
	if cause < 1 || (t.Total() > 0 && cause > len(t.Causes)) {
		return fmt.Errorf("analysis: cause %d is not among the table's %d causes", cause, len(t.Causes))
	}
	for _, e := range t.Entries {
		if e != 0 {
			return ErrCompetingDelayedEntry
		}
	}
	return nil
}

// grayGroup is one group's running state in grayStratum.
type grayGroup struct {
	risk        float64 // at risk at the current time
	survBefore  float64 // all-cause Kaplan–Meier just before the current time
	survAfter   float64 // … and at it
	cifBefore   float64 // cumulative incidence of the cause just before the current time
	cifAfter    float64
	own, other  float64 // events of the cause, of other causes, at the current time
	leaving     float64 // events and censorings at the current time
	varOwn      float64 // Σ of the variance terms that involve only this group
	cross       []float64
	pos         int
	table       SurvivalTable
	causeColumn []int
}

// grayStratum adds one stratum's scores (first k−1 groups) and their covariance to score and v.
func grayStratum(groups []SurvivalTable, cause int, rho float64, score []float64, v *mat.SymDense) {
	k := len(groups)
	gs := make([]grayGroup, k)
	for g, t := range groups {
		gs[g] = grayGroup{risk: float64(t.Total()), survBefore: 1, survAfter: 1, table: t, cross: make([]float64, k-1)}
		if len(t.Causes) > cause {
			gs[g].causeColumn = t.Causes[cause]
		}
	}
	c := mat.NewDense(k, k, nil) // Σ_t a(t)·d_1/(T(1 − F̂)) — the weights of the variance terms
	a := mat.NewDense(k, k, nil)
	vAcc := make([]float64, (k-1)*(k-1))
	pooledBefore := 0.0
	for {
		tt, ok := nextGrayTime(gs)
		if !ok {
			break
		}
		own, other := 0.0, 0.0
		for g := range gs {
			x := &gs[g]
			x.own, x.other, x.leaving = 0, 0, 0
			if p := x.pos; p < len(x.table.Time) && x.table.Time[p] == tt {
				if x.causeColumn != nil {
					x.own = float64(x.causeColumn[p])
				}
				x.other = float64(x.table.Events[p]) - x.own
				x.leaving = float64(x.table.Events[p] + x.table.Censor[p])
				x.pos++
			}
			own += x.own
			other += x.other
		}
		if own+other > 0 {
			pooledBefore = grayEventTime(gs, own, other, rho, pooledBefore, score, a, c, vAcc)
		}
		for g := range gs {
			x := &gs[g]
			x.risk -= x.leaving
			x.cifBefore, x.survBefore = x.cifAfter, x.survAfter
		}
	}
	// Complete the variance with the terms weighted by c (Gray's eq. for σ̂).
	for i := 0; i < k-1; i++ {
		for j := 0; j <= i; j++ {
			sum := vAcc[i*(k-1)+j]
			for h := range gs {
				sum += c.At(i, h)*c.At(j, h)*gs[h].varOwn + c.At(i, h)*gs[h].cross[j] + c.At(j, h)*gs[h].cross[i]
			}
			v.SetSym(i, j, v.At(i, j)+sum)
		}
	}
}

// nextGrayTime returns the earliest time not yet visited in any group.
func nextGrayTime(gs []grayGroup) (float64, bool) {
	tt, found := math.Inf(1), false
	for _, x := range gs {
		if x.pos < len(x.table.Time) && x.table.Time[x.pos] < tt {
			tt, found = x.table.Time[x.pos], true
		}
	}
	return tt, found
}

// grayEventTime adds one event time's terms and returns the pooled cumulative incidence after it.
func grayEventTime(gs []grayGroup, own, other, rho, fBefore float64, score []float64, a, c *mat.Dense, vAcc []float64) float64 {
	k := len(gs)
	sumR, sumQ := 0.0, 0.0 // Σ R_g and Σ R_g (1 − F̂_g(t−))
	for g := range gs {
		x := &gs[g]
		if x.risk <= 0 {
			continue
		}
		x.survAfter = x.survBefore * (x.risk - x.own - x.other) / x.risk
		x.cifAfter = x.cifBefore + x.survBefore*x.own/x.risk
		sumR += x.risk / x.survBefore
		sumQ += x.risk * (1 - x.cifBefore) / x.survBefore
	}
	fAfter := fBefore + own/sumR
	w := math.Pow(1-fBefore, rho)
	a.Zero()
	for i := range gs {
		if gs[i].risk <= 0 {
			continue
		}
		ri := gs[i].risk / gs[i].survBefore
		a.Set(i, i, w*ri*(1-ri/sumR))
		for j := i + 1; j < k; j++ {
			if gs[j].risk > 0 {
				a.Set(i, j, -w*ri*gs[j].risk/(gs[j].survBefore*sumR))
				a.Set(j, i, a.At(i, j))
			}
		}
	}
	scale := own / (sumR * (1 - fBefore))
	for i := range k {
		for j := i; j < k; j++ {
			c.Set(i, j, c.At(i, j)+a.At(i, j)*scale)
			c.Set(j, i, c.At(i, j))
		}
	}
	for i := 0; i < k-1; i++ {
		if gs[i].risk > 0 {
			score[i] += w * (gs[i].own - own*gs[i].risk*(1-gs[i].cifBefore)/(gs[i].survBefore*sumQ))
		}
	}
	if own > 0 {
		for h := range gs {
			x := &gs[h]
			if x.risk <= 0 {
				continue
			}
			t4 := 1.0
			if x.survAfter > 0 {
				t4 = 1 - (1-fAfter)/x.survAfter
			}
			t5 := 1.0
			if own > 1 {
				t5 = 1 - (own-1)/(sumR*x.survBefore-1)
			}
			t3 := t5 * x.survBefore * own / (sumR * x.risk)
			x.varOwn += t4 * t4 * t3
			for i := 0; i < k-1; i++ {
				ci := a.At(i, h) - t4*c.At(i, h)
				x.cross[i] += ci * t4 * t3
				for j := 0; j <= i; j++ {
					vAcc[i*(k-1)+j] += ci * (a.At(j, h) - t4*c.At(j, h)) * t3
				}
			}
		}
	}
	if other > 0 {
		for h := range gs {
			x := &gs[h]
			if x.survAfter <= 0 || x.other <= 0 {
				continue
			}
			t4 := (1 - fAfter) / x.survAfter
			t5 := 1.0
			if x.other > 1 {
				t5 = 1 - (x.other-1)/(x.risk-1)
			}
			t3 := t5 * x.survBefore * x.survBefore * x.other / (x.risk * x.risk)
			x.varOwn += t4 * t4 * t3
			for i := 0; i < k-1; i++ {
				ci := t4 * c.At(i, h)
				x.cross[i] -= ci * t4 * t3
				for j := 0; j <= i; j++ {
					vAcc[i*(k-1)+j] += ci * t4 * c.At(j, h) * t3
				}
			}
		}
	}
	return fAfter
}
