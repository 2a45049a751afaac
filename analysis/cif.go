package analysis

import (
	"errors"
	"fmt"
	"math"
	"sort"

	"gonum.org/v1/gonum/stat/distuv"
)

// CIFEstimate is the Aalen–Johansen estimate of the cumulative incidence of every competing
// cause in one group: one row per distinct time with an event or a censoring, as the rows of
// R's survfit(Surv(time, factor(status)) ~ 1).
type CIFEstimate struct {
	Time    []float64
	NRisk   []int // subjects at risk just before Time[k]
	NEvent  []int // events of any cause at Time[k]
	NCensor []int
	// Surv is the probability of no event of any cause by Time[k] (R's state "(s0)"), the
	// all-cause Kaplan–Meier estimate.
	Surv []float64
	// Causes[c] is the curve of cause c+1.
	Causes []CauseIncidence

	ConfType  ConfType
	ConfLevel float64
	N         int // subjects in the table
}

// CauseIncidence is the cumulative incidence of one cause.
type CauseIncidence struct {
	NEvent []int     // events of this cause at each row
	CIF    []float64 // F̂_c(Time[k])
	// StdErr is the infinitesimal-jackknife standard error of CIF, R's survfit std.err for the
	// state (Therneau, "The survfit function", multi-state curves).
	StdErr       []float64
	Lower, Upper []float64 // pointwise interval (NaN where R reports NA)
	Events       int       // events of this cause in the table
	// NoiseSD is, for an estimate from differentially private tables, the standard deviation
	// their noise adds to CIF at each row, included in StdErr and the interval (WithNoise);
	// nil otherwise.
	NoiseSD []float64
}

// Errors of CumulativeIncidence and GrayTest.
var (
	ErrNoCauses = errors.New("analysis: the table does not split its events by cause")
	// ErrCompetingDelayedEntry: the standard errors of the Aalen–Johansen estimate and Gray's
	// test need each subject's entry and exit together, which a table of counts per time does
	// not hold once subjects enter late.
	ErrCompetingDelayedEntry = errors.New("analysis: cumulative incidence with delayed entries needs each patient's entry and exit together, which aggregate tables do not hold")
)

// CumulativeIncidence estimates the cumulative incidence of each cause from a table whose
// events are split by cause (SurvivalTable.Causes), by the Aalen–Johansen estimator (Aalen &
// Johansen 1978; Kalbfleisch & Prentice 2002, §8.2). With n_j at risk, d_j events of any cause
// and d_jc of cause c at t_j, λ_jc = d_jc/n_j and λ_j = d_j/n_j:
//
//	Ŝ(t_j) = Π_{l ≤ j} (1 − λ_l),    F̂_c(t_j) = Σ_{l ≤ j} Ŝ(t_{l−1}) λ_lc.
//
// The standard error is the infinitesimal jackknife that R's survfit reports for multi-state
// curves: se² = Σ_i U_i², U_i the derivative of F̂_c(t) with respect to subject i's case
// weight, obtained by differentiating the recursions above through
// ∂λ_lc/∂w_i = (dN_ic(t_l) − Y_i(t_l) λ_lc)/n_l. Subjects with the same exit time and status
// have the same U_i, so the sum runs over the table's cells: it needs no patient-level record.
// Intervals are R's survfit_confint on the probability scale (logse = FALSE): se/F̂ is used as
// the standard error of log F̂ in the formulas of KaplanMeier.
//
// The result equals R's survfit(Surv(time, factor(status)) ~ 1)$pstate and $std.err for the
// cause columns. Tables with delayed entries are refused (ErrCompetingDelayedEntry).
func CumulativeIncidence(t SurvivalTable, opts KMOptions) (*CIFEstimate, error) {
	if err := t.Validate(); err != nil {
		return nil, err
	}
	if len(t.Causes) == 0 {
		return nil, ErrNoCauses
	}
	for _, e := range t.Entries {
		if e != 0 {
			return nil, ErrCompetingDelayedEntry
		}
	}
	level := opts.level()
	if opts.ConfType < ConfLog || opts.ConfType > ConfNone {
		panic(fmt.Sprintf("analysis: invalid confidence interval type %d", int(opts.ConfType)))
	}
	if t.Total() == 0 {
		return nil, ErrKMEmpty
	}
	rows := compactRows(t)
	est := ajEstimate(rows, len(t.Causes))
	est.ConfType, est.ConfLevel, est.N = opts.ConfType, level, t.Total()
	for c := range est.Causes {
		est.Causes[c].StdErr = ajStdErr(rows, est, c)
		est.Causes[c].setIntervals(est.ConfType, level)
	}
	return est, nil
}

// setIntervals sets the pointwise intervals of the cause from its CIF and StdErr.
func (cc *CauseIncidence) setIntervals(ct ConfType, level float64) {
	z := distuv.UnitNormal.Quantile(1 - (1-level)/2)
	cc.Lower = make([]float64, len(cc.CIF))
	cc.Upper = make([]float64, len(cc.CIF))
	for j, p := range cc.CIF {
		seLog := 0.0
		if cc.StdErr[j] != 0 {
			seLog = cc.StdErr[j] / p
		}
		cc.Lower[j], cc.Upper[j] = confInt(p, seLog, z, ct)
	}
}

// WithNoise is e with noise[c][j], the standard deviation the noise of differentially private
// tables adds to the cumulative incidence of cause c+1 at Time[j], added in quadrature to the
// standard error (the noise is independent of the patients' times) and the intervals
// recomputed at e's type and level; each cause keeps its noise in NoiseSD. A NaN noise SD (not
// estimated) gives a NaN standard error and interval. e is not changed.
func (e *CIFEstimate) WithNoise(noise [][]float64) *CIFEstimate {
	if len(noise) != len(e.Causes) {
		panic("analysis: CIFEstimate.WithNoise: one noise SD per cause and row")
	}
	out := *e
	out.Causes = make([]CauseIncidence, len(e.Causes))
	for c, cc := range e.Causes {
		if len(noise[c]) != len(cc.CIF) {
			panic("analysis: CIFEstimate.WithNoise: one noise SD per cause and row")
		}
		cc.NoiseSD = noise[c]
		cc.StdErr = make([]float64, len(cc.CIF))
		for j, sd := range noise[c] {
			cc.StdErr[j] = math.Hypot(e.Causes[c].StdErr[j], sd)
		}
		cc.setIntervals(e.ConfType, e.ConfLevel)
		out.Causes[c] = cc
	}
	return &out
}

// NoiseSDs is the noise SD of each cause (WithNoise), nil for an estimate without.
func (e *CIFEstimate) NoiseSDs() [][]float64 {
	var out [][]float64
	for _, cc := range e.Causes {
		if cc.NoiseSD == nil {
			return nil
		}
		out = append(out, cc.NoiseSD)
	}
	return out
}

// ajRows is a table restricted to the times with an event or a censoring, with the numbers at
// risk and the hazard increments of the Aalen–Johansen recursions.
type ajRows struct {
	time       []float64
	risk       []int
	events     []int
	censor     []int
	cause      [][]int     // cause[c][j]
	lambda     []float64   // λ_j = d_j/n_j
	lambdaC    [][]float64 // λ_jc
	afterwards []int       // subjects still under observation after time[j]: n_j − d_j − c_j
}

func compactRows(t SurvivalTable) ajRows {
	risk := t.AtRisk()
	r := ajRows{cause: make([][]int, len(t.Causes)), lambdaC: make([][]float64, len(t.Causes))}
	for k, x := range t.Time {
		d, c := t.Events[k], t.Censor[k]
		if d+c == 0 {
			continue
		}
		n := risk[k]
		r.time = append(r.time, x)
		r.risk = append(r.risk, n)
		r.events = append(r.events, d)
		r.censor = append(r.censor, c)
		r.lambda = append(r.lambda, float64(d)/float64(n))
		r.afterwards = append(r.afterwards, n-d-c)
		for cc := range t.Causes {
			r.cause[cc] = append(r.cause[cc], t.Causes[cc][k])
			r.lambdaC[cc] = append(r.lambdaC[cc], float64(t.Causes[cc][k])/float64(n))
		}
	}
	return r
}

func ajEstimate(r ajRows, causes int) *CIFEstimate {
	m := len(r.time)
	e := &CIFEstimate{
		Time: r.time, NRisk: r.risk, NEvent: r.events, NCensor: r.censor,
		Surv: make([]float64, m), Causes: make([]CauseIncidence, causes),
	}
	for c := range e.Causes {
		e.Causes[c].NEvent = r.cause[c]
		e.Causes[c].CIF = make([]float64, m)
		for _, d := range r.cause[c] {
			e.Causes[c].Events += d
		}
	}
	prev := 1.0
	for j := range m {
		for c := range e.Causes {
			f := 0.0
			if j > 0 {
				f = e.Causes[c].CIF[j-1]
			}
			e.Causes[c].CIF[j] = f + prev*r.lambdaC[c][j]
		}
		prev *= 1 - r.lambda[j]
		e.Surv[j] = prev
	}
	return e
}

// ajStdErr returns the infinitesimal-jackknife standard error of the cumulative incidence of
// cause c at every row (see CumulativeIncidence).
//
// Every subject still at risk at t_j has the same derivative path up to there, (aS_j, aF_j):
// the derivatives of Ŝ and F̂_c with ∂λ_l = −λ_l/n_l at each l ≤ j. A subject leaving at t_m
// (by an event of cause k, or censored) follows that path to t_{m−1}, takes its own step at
// t_m, and afterwards its derivative only propagates: for j > m, ∂Ŝ(t_j) = ∂Ŝ(t_m)·Ŝ(t_j)/Ŝ(t_m)
// and ∂F̂_c(t_j) = ∂F̂_c(t_m) + ∂Ŝ(t_m)·(F̂_c(t_j) − F̂_c(t_m))/Ŝ(t_m).
func ajStdErr(r ajRows, e *CIFEstimate, c int) []float64 {
	m := len(r.time)
	F := e.Causes[c].CIF
	// Common path of the subjects at risk, at every row.
	aS, aF := make([]float64, m), make([]float64, m)
	prevS, prevAS, prevAF := 1.0, 0.0, 0.0
	for j := range m {
		n := float64(r.risk[j])
		aS[j] = prevAS*(1-r.lambda[j]) + prevS*r.lambda[j]/n
		aF[j] = prevAF + prevAS*r.lambdaC[c][j] - prevS*r.lambdaC[c][j]/n
		prevS, prevAS, prevAF = e.Surv[j], aS[j], aF[j]
	}
	variance := make([]float64, m)
	// The subjects still under observation after t_j are on the common path at t_j.
	for j := range m {
		variance[j] = float64(r.afterwards[j]) * aF[j] * aF[j]
	}
	// Each way of leaving at t_m: an event of each cause, or a censoring.
	type exit struct {
		count      int
		dAny, dOwn float64 // dN of any cause and of cause c at t_m
	}
	exits := make([]exit, 0, len(r.cause)+1)
	for mi := range m {
		n := float64(r.risk[mi])
		sPrev, asPrev, afPrev := 1.0, 0.0, 0.0
		if mi > 0 {
			sPrev, asPrev, afPrev = e.Surv[mi-1], aS[mi-1], aF[mi-1]
		}
		exits = exits[:0]
		exits = append(exits, exit{count: r.censor[mi]})
		for k := range r.cause {
			own := 0.0
			if k == c {
				own = 1
			}
			exits = append(exits, exit{count: r.cause[k][mi], dAny: 1, dOwn: own})
		}
		for _, x := range exits {
			if x.count == 0 {
				continue
			}
			dS := asPrev*(1-r.lambda[mi]) - sPrev*(x.dAny-r.lambda[mi])/n
			dF := afPrev + asPrev*r.lambdaC[c][mi] + sPrev*(x.dOwn-r.lambdaC[c][mi])/n
			w := float64(x.count)
			variance[mi] += w * dF * dF
			sm := e.Surv[mi]
			for j := mi + 1; j < m; j++ {
				u := dF
				if sm > 0 {
					u += dS * (F[j] - F[mi]) / sm
				}
				variance[j] += w * u * u
			}
		}
	}
	se := make([]float64, m)
	for j, v := range variance {
		se[j] = math.Sqrt(v)
	}
	return se
}

// CIFPoint is the cumulative incidence of one cause at one time.
type CIFPoint struct {
	Time                      float64
	CIF, StdErr, Lower, Upper float64
	// Beyond is true when Time is later than the last time of the estimate (the value is
	// carried forward, as R's summary(..., extend = TRUE)).
	Beyond bool
}

// At returns the cumulative incidence of cause (1-based) at time t: the estimate at the last
// row at or before t (0, with zero standard error, before the first), as R's
// summary(fit, times = t, extend = TRUE) for that state.
func (e *CIFEstimate) At(cause int, t float64) CIFPoint {
	if cause < 1 || cause > len(e.Causes) {
		panic(fmt.Sprintf("analysis: cause %d of an estimate with %d causes", cause, len(e.Causes)))
	}
	c := e.Causes[cause-1]
	k := sort.SearchFloat64s(e.Time, math.Nextafter(t, math.Inf(1))) - 1 // last row ≤ t
	p := CIFPoint{Time: t, Beyond: len(e.Time) > 0 && t > e.Time[len(e.Time)-1]}
	if k < 0 {
		p.Lower, p.Upper = confInt(0, 0, 0, e.ConfType) // as R's intervals at a probability of 0
		return p
	}
	p.CIF, p.StdErr, p.Lower, p.Upper = c.CIF[k], c.StdErr[k], c.Lower[k], c.Upper[k]
	return p
}
