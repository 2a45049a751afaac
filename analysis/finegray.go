package analysis

import (
	"errors"
	"fmt"
	"math"
	"sort"
)

// Fine–Gray regression of the subdistribution hazard of one cause (Fine & Gray 1999, JASA
// 94:496), fitted over sites without pooling records, in three steps:
//
//  1. The censoring distribution Ĝ is the Kaplan–Meier estimate of the censorings of the merged
//     tables of all sites (CensoringDistribution).
//  2. Newton–Raphson on the pooled pseudo-likelihood: at each β every site returns, per distinct
//     time T of its patients, the sums of e^{x'β}·{1, x, xx'} over all its patients leaving at T
//     and over those leaving at T by a competing cause (FineGraySite.Rows), with the count and
//     Σx of its events of the cause. The subdistribution risk set at an event time t holds the
//     patients still at risk (T ≥ t), and those who failed from another cause before t with
//     weight Ĝ(t−)/Ĝ(T−), so its sums are Σ_{T ≥ t} R + Ĝ(t−) Σ_{T < t} C/Ĝ(T−): the client forms
//     them exactly (FineGrayContribution), with Breslow's handling of ties, as cmprsk::crr.
//  3. The sandwich variance crr reports: H⁻¹ (Σ_i (η_i + ψ_i)(η_i + ψ_i)') H⁻¹, where η_i is
//     patient i's score residual and ψ_i the correction for estimating Ĝ (Fine & Gray 1999, §3).
//     Both depend on the patient's own time, cause and covariates and on pooled quantities the
//     client sends back (FineGrayGlobals), so each site returns its p×p sum (FineGraySite.Meat).
//
// The result equals cmprsk::crr(time, status, cov, failcode) on the pooled records (tested on
// survival::mgus2 for both causes). Only the pooled fit is exact this way; a site-stratified
// model (separate baseline subdistribution hazards and censoring distributions per site) has no
// counterpart in crr, which takes no strata.

// FineGraySite is one site's patient-level data for the Fine–Gray fit: time, cause code (0
// censored, 1..k) and covariates (n×p row-major), sorted by time once.
type FineGraySite struct {
	p     int
	cause int // the cause modelled
	time  []float64
	code  []int
	x     []float64
}

// NewFineGraySite copies and sorts one site's data for cause (1-based). Length mismatches panic;
// non-finite values return an error.
func NewFineGraySite(time []float64, code []int, x []float64, p, cause int) (*FineGraySite, error) {
	if len(code) != len(time) || len(x) != len(time)*p {
		panic(fmt.Sprintf("analysis: NewFineGraySite: %d times, %d codes, %d covariates for p = %d", len(time), len(code), len(x), p))
	}
	if cause < 1 {
		return nil, fmt.Errorf("analysis: Fine-Gray: cause %d is not a cause code (1..k)", cause)
	}
	s := &FineGraySite{p: p, cause: cause, time: make([]float64, len(time)), code: make([]int, len(time)), x: make([]float64, len(x))}
	for k, i := range orderByTime(time) {
		t := time[i]
		if math.IsNaN(t) || math.IsInf(t, 0) || t < 0 || code[i] < 0 {
			return nil, fmt.Errorf("analysis: Fine-Gray: record %d: time %v, cause %d", i, t, code[i])
		}
		for j := range p {
			if v := x[int(i)*p+j]; math.IsNaN(v) || math.IsInf(v, 0) {
				return nil, fmt.Errorf("analysis: Fine-Gray: record %d: covariate %d is %v", i, j, v)
			}
		}
		s.time[k], s.code[k] = t, code[i]
		copy(s.x[k*p:(k+1)*p], x[int(i)*p:(int(i)+1)*p])
	}
	return s, nil
}

// FineGrayRow is a site's sums at one of its distinct times T at some β: R over every patient
// leaving at T, C over those leaving at T by a competing cause (k = 0, 1, 2: e^{x'β}, e^{x'β}x,
// e^{x'β}xx' row-major), D the number of events of the cause at T and EX their Σx.
type FineGrayRow struct {
	Time       float64
	R0, C0     float64
	R1, C1, EX []float64
	R2, C2     []float64
	D          int
	// N is the number of patients leaving at T, NC the number censored at T (for the risk
	// sets of the censoring distribution in the variance).
	N, NC int
}

// Rows returns the site's rows at beta, in increasing time.
func (s *FineGraySite) Rows(beta []float64) ([]FineGrayRow, error) {
	return s.rows("FineGraySite.Rows", beta, true)
}

// TimeSums returns the site's phase-1 rows at beta (FineGrayPooledSums): Rows without the
// second moments R2 and C2, O(n p).
func (s *FineGraySite) TimeSums(beta []float64) ([]FineGrayRow, error) {
	return s.rows("FineGraySite.TimeSums", beta, false)
}

func (s *FineGraySite) rows(fn string, beta []float64, second bool) ([]FineGrayRow, error) {
	p := s.p
	if err := checkBeta(fn, beta, p); err != nil {
		return nil, err
	}
	var rows []FineGrayRow
	for i, t := range s.time {
		if len(rows) == 0 || rows[len(rows)-1].Time != t {
			r := FineGrayRow{Time: t, R1: make([]float64, p), C1: make([]float64, p), EX: make([]float64, p)}
			if second {
				r.R2, r.C2 = make([]float64, p*p), make([]float64, p*p)
			}
			rows = append(rows, r)
		}
		r := &rows[len(rows)-1]
		r.N++
		if s.code[i] == 0 {
			r.NC++
		}
		xi := s.x[i*p : (i+1)*p]
		w := math.Exp(dot(beta, xi))
		r.R0 += w
		addFull(r.R1, r.R2, w, xi)
		switch {
		case s.code[i] == s.cause:
			r.D++
			for j, v := range xi {
				r.EX[j] += v
			}
		case s.code[i] > 0:
			r.C0 += w
			addFull(r.C1, r.C2, w, xi)
		}
	}
	return rows, nil
}

// addFull adds w·x to s1 and w·xx' (full p×p) to s2 (when s2 is not nil).
func addFull(s1, s2 []float64, w float64, x []float64) {
	p := len(x)
	for a, xa := range x {
		s1[a] += w * xa
		if s2 == nil {
			continue
		}
		for b, xb := range x {
			s2[a*p+b] += w * xa * xb
		}
	}
}

// CensoringDistribution is Ĝ, the Kaplan–Meier estimate of the censoring distribution of the
// merged table of all sites (censorings as events, events of any cause as censorings), as a
// step function.
type CensoringDistribution struct {
	Time []float64 // times with a censoring, increasing
	Surv []float64 // Ĝ at Time[k]
}

// NewCensoringDistribution estimates Ĝ from the merged table (every site's, all groups).
func NewCensoringDistribution(t SurvivalTable) (CensoringDistribution, error) {
	e, err := ReverseKaplanMeier(t, KMOptions{ConfType: ConfNone})
	if err != nil {
		return CensoringDistribution{}, err
	}
	var g CensoringDistribution
	for k := range e.Time {
		if e.NEvent[k] > 0 {
			g.Time = append(g.Time, e.Time[k])
			g.Surv = append(g.Surv, e.Surv[k])
		}
	}
	return g, nil
}

// Before returns Ĝ(t−), the estimate just before t (1 before the first censoring).
func (g CensoringDistribution) Before(t float64) float64 {
	k := sort.SearchFloat64s(g.Time, t) // first censoring time ≥ t
	if k == 0 {
		return 1
	}
	return g.Surv[k-1]
}

// fgTime is the pooled subdistribution risk set at one event time of the cause.
type fgTime struct {
	t       float64
	d       int
	s0      float64
	s1, s2  []float64 // full p×p
	ex      []float64 // Σx over the events
	gBefore float64   // Ĝ(t−)
}

// ErrFineGrayNoEvents: no event of the cause at any site.
var ErrFineGrayNoEvents = errors.New("analysis: Fine-Gray: no event of the cause")

// fineGrayTimes merges the sites' rows into the pooled risk-set sums at every event time. With
// second false the rows carry no R2, C2 (TimeSums) and the times no s2.
func fineGrayTimes(sites [][]FineGrayRow, g CensoringDistribution, p int, second bool) ([]fgTime, error) {
	var all []FineGrayRow
	p2 := p * p
	if !second {
		p2 = 0
	}
	for s, rows := range sites {
		for k, r := range rows {
			if len(r.R1) != p || len(r.C1) != p || len(r.EX) != p || len(r.R2) != p2 || len(r.C2) != p2 || r.D < 0 {
				return nil, fmt.Errorf("analysis: Fine-Gray rows: site %d, row %d: malformed for p = %d", s, k, p)
			}
			all = append(all, r)
		}
	}
	sort.SliceStable(all, func(a, b int) bool { return all[a].Time < all[b].Time })
	// Backward: Σ_{T ≥ t} R. Forward: Σ_{T < t} C/Ĝ(T−).
	n := len(all)
	tailR0 := make([]float64, n+1)
	tailR1 := make([][]float64, n+1)
	tailR2 := make([][]float64, n+1)
	tailR1[n], tailR2[n] = make([]float64, p), make([]float64, p2)
	for k := n - 1; k >= 0; k-- {
		tailR0[k] = tailR0[k+1] + all[k].R0
		tailR1[k], tailR2[k] = addVec(tailR1[k+1], all[k].R1, 1), addVec(tailR2[k+1], all[k].R2, 1)
	}
	var out []fgTime
	c0, c1, c2 := 0.0, make([]float64, p), make([]float64, p2)
	for k := 0; k < n; {
		t := all[k].Time
		j := k
		d, ex := 0, make([]float64, p)
		for ; j < n && all[j].Time == t; j++ {
			d += all[j].D
			ex = addVec(ex, all[j].EX, 1)
		}
		if d > 0 {
			gb := g.Before(t)
			ft := fgTime{t: t, d: d, ex: ex, gBefore: gb, s0: tailR0[k] + gb*c0,
				s1: addVec(tailR1[k], c1, gb), s2: addVec(tailR2[k], c2, gb)}
			out = append(out, ft)
		}
		gt := g.Before(t)
		for ; k < j; k++ {
			if all[k].C0 > 0 {
				c0 += all[k].C0 / gt
				c1 = addVec(c1, all[k].C1, 1/gt)
				c2 = addVec(c2, all[k].C2, 1/gt)
			}
		}
	}
	if len(out) == 0 {
		return nil, ErrFineGrayNoEvents
	}
	return out, nil
}

// addVec returns a + f·b in a new slice.
func addVec(a, b []float64, f float64) []float64 {
	out := make([]float64, len(a))
	for i := range a {
		out[i] = a[i] + f*b[i]
	}
	return out
}

// FineGrayContribution is the pooled log pseudo-likelihood, its gradient and Hessian at beta
// from every site's rows at beta (Breslow's ties, as crr), for FitCox.
func FineGrayContribution(sites [][]FineGrayRow, g CensoringDistribution, p int, beta []float64) (CoxContribution, error) {
	ts, err := fineGrayTimes(sites, g, p, true)
	if err != nil {
		return CoxContribution{}, err
	}
	c, outer := fineGrayScore(ts, beta, p)
	c.Hessian = outer
	for _, ft := range ts {
		fd := float64(ft.d)
		for k, s2 := range ft.s2 {
			c.Hessian[k] -= fd * s2 / ft.s0
		}
	}
	return c, nil
}

// fineGrayScore returns the log pseudo-likelihood and its gradient over the pooled event times
// ts, and Σ_t d_t x̄(t) x̄(t)' (p×p), the Hessian's part without second moments.
func fineGrayScore(ts []fgTime, beta []float64, p int) (CoxContribution, []float64) {
	c := CoxContribution{Gradient: make([]float64, p)}
	outer := make([]float64, p*p)
	for _, ft := range ts {
		fd := float64(ft.d)
		c.LogLik += dot(beta, ft.ex) - fd*math.Log(ft.s0)
		c.Events += ft.d
		for a := range p {
			ma := ft.s1[a] / ft.s0
			c.Gradient[a] += ft.ex[a] - fd*ma
			for b := range p {
				outer[a*p+b] += fd * ma * ft.s1[b] / ft.s0
			}
		}
	}
	return c, outer
}

// FineGrayGlobals are the pooled quantities at β̂ every site needs for its part of the
// sandwich variance: at each event time of the cause, the number of events, Ĝ(t−), S0 and the
// risk-set mean x̄ = S1/S0; at each time with a censoring, q(u) (Fine & Gray's eq. for the
// effect of estimating Ĝ), the number censored and the number at risk; and Ĝ itself.
type FineGrayGlobals struct {
	G CensoringDistribution
	// Event times of the cause, increasing.
	EventTime []float64
	D         []int
	GBefore   []float64
	S0        []float64
	XBar      [][]float64
	// Censoring times, increasing.
	CensorTime []float64
	Q          [][]float64
	NC         []int
	AtRisk     []int
}

// NewFineGrayGlobals computes the globals at beta from every site's rows at beta (Rows or
// TimeSums: the second moments are not used).
func NewFineGrayGlobals(sites [][]FineGrayRow, g CensoringDistribution, p int, beta []float64) (*FineGrayGlobals, error) {
	second := false
	for _, rows := range sites {
		if len(rows) > 0 {
			second = rows[0].R2 != nil
			break
		}
	}
	ts, err := fineGrayTimes(sites, g, p, second)
	if err != nil {
		return nil, err
	}
	gl := &FineGrayGlobals{G: g}
	for _, ft := range ts {
		gl.EventTime = append(gl.EventTime, ft.t)
		gl.D = append(gl.D, ft.d)
		gl.GBefore = append(gl.GBefore, ft.gBefore)
		gl.S0 = append(gl.S0, ft.s0)
		xbar := make([]float64, p)
		for a := range p {
			xbar[a] = ft.s1[a] / ft.s0
		}
		gl.XBar = append(gl.XBar, xbar)
	}
	// Pooled by time: patients leaving, censored, and the competing events' Σ e^{x'β}{1, x}/Ĝ(T−).
	type agg struct {
		t     float64
		n, nc int
		c0    float64
		c1    []float64
	}
	byTime := map[float64]*agg{}
	for _, rows := range sites {
		for _, r := range rows {
			a := byTime[r.Time]
			if a == nil {
				a = &agg{t: r.Time, c1: make([]float64, p)}
				byTime[r.Time] = a
			}
			a.n += r.N
			a.nc += r.NC
			gt := g.Before(r.Time)
			a.c0 += r.C0 / gt
			for j := range p {
				a.c1[j] += r.C1[j] / gt
			}
		}
	}
	times := make([]float64, 0, len(byTime))
	total := 0
	for t, a := range byTime {
		times = append(times, t)
		total += a.n
	}
	sort.Float64s(times)
	// q(u) = Σ_{t_j ≥ u} d_j Ĝ(t_j−) [C1(<u) − x̄(t_j) C0(<u)] / S0(t_j), with C the competing
	// events' sums over T < u.
	c0, c1 := 0.0, make([]float64, p)
	atRisk := total
	for _, t := range times {
		a := byTime[t]
		if a.nc > 0 {
			q := make([]float64, p)
			for j := sort.SearchFloat64s(gl.EventTime, t); j < len(gl.EventTime); j++ {
				f := float64(gl.D[j]) * gl.GBefore[j] / gl.S0[j]
				for k := range p {
					q[k] += f * (c1[k] - gl.XBar[j][k]*c0)
				}
			}
			gl.CensorTime = append(gl.CensorTime, t)
			gl.Q = append(gl.Q, q)
			gl.NC = append(gl.NC, a.nc)
			gl.AtRisk = append(gl.AtRisk, atRisk)
		}
		c0 += a.c0
		for k := range p {
			c1[k] += a.c1[k]
		}
		atRisk -= a.n
	}
	return gl, nil
}

// Meat returns the site's part of the middle of the sandwich at beta: Σ_i (η_i + ψ_i)(η_i + ψ_i)'
// over its patients (p×p row-major), with η_i patient i's score residual and ψ_i the
// censoring-estimation term (Fine & Gray 1999, §3; cmprsk's crrvv).
func (s *FineGraySite) Meat(beta []float64, gl *FineGrayGlobals) ([]float64, error) {
	p := s.p
	if err := checkBeta("FineGraySite.Meat", beta, p); err != nil {
		return nil, err
	}
	// Ψ(T) = Σ_{u ≤ T} q(u)·nc(u)/π(u)²: cumulative over the censoring times.
	cum := make([][]float64, len(gl.CensorTime)+1)
	cum[0] = make([]float64, p)
	for k := range gl.CensorTime {
		f := float64(gl.NC[k]) / (float64(gl.AtRisk[k]) * float64(gl.AtRisk[k]))
		cum[k+1] = addVec(cum[k], gl.Q[k], f)
	}
	meat := make([]float64, p*p)
	u := make([]float64, p)
	for i, t := range s.time {
		xi := s.x[i*p : (i+1)*p]
		w := math.Exp(dot(beta, xi))
		clear(u)
		competing := s.code[i] > 0 && s.code[i] != s.cause
		for j, tj := range gl.EventTime {
			var wij float64
			switch {
			case t >= tj:
				wij = w
			case competing:
				wij = w * gl.GBefore[j] / gl.G.Before(t)
			default:
				continue
			}
			f := float64(gl.D[j]) * wij / gl.S0[j]
			for k := range p {
				u[k] -= f * (xi[k] - gl.XBar[j][k])
			}
		}
		if s.code[i] == s.cause {
			j := sort.SearchFloat64s(gl.EventTime, t)
			for k := range p {
				u[k] += xi[k] - gl.XBar[j][k]
			}
		}
		c := sort.Search(len(gl.CensorTime), func(k int) bool { return gl.CensorTime[k] > t }) // censoring times ≤ t
		for k := range p {
			u[k] -= cum[c][k]
		}
		if s.code[i] == 0 && c > 0 && gl.CensorTime[c-1] == t {
			for k := range p {
				u[k] += gl.Q[c-1][k] / float64(gl.AtRisk[c-1])
			}
		}
		for a := range p {
			for b := range p {
				meat[a*p+b] += u[a] * u[b]
			}
		}
	}
	return meat, nil
}
