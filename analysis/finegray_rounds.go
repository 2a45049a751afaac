package analysis

import (
	"fmt"
	"math"
	"slices"
	"sort"
)

// Fine–Gray over the network in the rounds of the two-phase pooled Cox fit (docs/cox-protocol.md,
// docs/competing-risks.md). FineGrayContribution needs every site's R2 and C2 per time, O(T p²)
// a round; as for Cox, the p×p part is a sum over patients. With the pooled Breslow weights
// d_t/S0(t) at the event times t of the cause,
//
//	Σ_t d_t S2(t)/S0(t) = Σ_i w_i x_i x_i' [A(T_i) + c_i B(T_i)],
//	A(T) = Σ_{t ≤ T} d_t/S0(t),   B(T) = Σ_{t > T} d_t Ĝ(t−) / (S0(t) Ĝ(T−)),
//
// c_i = 1 for a patient who failed from a competing cause (they stay in the subdistribution
// risk sets after T_i with weight Ĝ(t−)/Ĝ(T_i−)). So a round is: phase 1 (FineGraySite.TimeSums,
// O(T p)) to every site, pooled by FineGrayPooledSums into ℓ and U; phase 2, for a β the fit
// accepts, each site's A and B at its own times (FineGrayStep.Weights) and its p×p
// WeightedSecondMoment back. Ĝ reaches the sites only through B (and the variance's weights).
//
// The sandwich variance (FineGraySite.Meat) likewise needs at each of a site's times only
// pooled numbers at that time (FineGrayMeatWeights): each patient's η_i + ψ_i is
//
//	δ_i (x_i − x̄(T_i)) − w_i x_i [A(T_i) + c_i B(T_i)] + w_i [A1(T_i) + c_i B1(T_i)] − Ψ(T_i) + e_i q(T_i)/π(T_i)
//
// with A1, B1 as A, B with x̄(t) in the sums, Ψ(T) = Σ_{censoring times u ≤ T} q(u) nc(u)/π(u)²,
// δ_i = 1 for an event of the cause and e_i = 1 for a censoring.

// FineGrayStep is the client's side of one phase-1 round at one β: ℓ and U exactly, the phase-2
// weights of every site and the client's part of the information.
type FineGrayStep struct {
	p       int
	contrib CoxContribution
	a, b    [][]float64 // per site: A at its rows, B at its rows with competing events
	outer   []float64   // Σ_t d_t x̄ x̄', p×p
}

// competingAt returns the number of patients of row r who failed from a competing cause.
func (r FineGrayRow) competingAt() int { return r.N - r.NC - r.D }

// CensoringFromRows is Ĝ from the sites' rows (their counts N and NC per time), the censoring
// distribution of the pooled patients the rows describe.
func CensoringFromRows(sites [][]FineGrayRow) (CensoringDistribution, error) {
	byTime := map[float64][2]int{}
	for s, rows := range sites {
		for k, r := range rows {
			if r.N < 0 || r.NC < 0 || r.D < 0 || r.competingAt() < 0 {
				return CensoringDistribution{}, fmt.Errorf("analysis: Fine-Gray rows: site %d, row %d: counts %d, %d censored, %d events", s, k, r.N, r.NC, r.D)
			}
			c := byTime[r.Time]
			byTime[r.Time] = [2]int{c[0] + r.N - r.NC, c[1] + r.NC}
		}
	}
	var t SurvivalTable
	for tm := range byTime {
		t.Time = append(t.Time, tm)
	}
	sort.Float64s(t.Time)
	for _, tm := range t.Time {
		t.Events = append(t.Events, byTime[tm][0])
		t.Censor = append(t.Censor, byTime[tm][1])
	}
	if len(t.Time) == 0 {
		return CensoringDistribution{}, ErrFineGrayNoEvents
	}
	return NewCensoringDistribution(t)
}

// checkFineGrayRows validates one site's rows as received: increasing finite times, counts that
// add up, sums of length p, no R2 or C2 (phase 1).
func checkFineGrayRows(site int, rows []FineGrayRow, p int) error {
	for k, r := range rows {
		switch {
		case math.IsNaN(r.Time) || math.IsInf(r.Time, 0) || r.Time < 0:
			return fmt.Errorf("analysis: Fine-Gray rows: site %d, row %d: time %v", site, k, r.Time)
		case k > 0 && r.Time <= rows[k-1].Time:
			return fmt.Errorf("analysis: Fine-Gray rows: site %d, row %d: time %v does not follow %v", site, k, r.Time, rows[k-1].Time)
		case r.D < 0 || r.NC < 0 || r.competingAt() < 0 || r.N == 0:
			return fmt.Errorf("analysis: Fine-Gray rows: site %d, row %d: %d patients, %d events, %d censored", site, k, r.N, r.D, r.NC)
		case len(r.R1) != p || len(r.C1) != p || len(r.EX) != p || r.R2 != nil || r.C2 != nil:
			return fmt.Errorf("analysis: Fine-Gray rows: site %d, row %d: malformed for p = %d", site, k, p)
		case !(r.R0 > 0) || r.C0 < 0 || math.IsInf(r.R0, 0) || math.IsInf(r.C0, 0) || math.IsNaN(r.C0):
			return fmt.Errorf("analysis: Fine-Gray rows: site %d, row %d: weight sums %v, %v", site, k, r.R0, r.C0)
		}
	}
	return nil
}

// FineGrayPooledSums computes, on the client, the pooled log pseudo-likelihood and gradient at
// beta from every site's phase-1 rows (TimeSums), exactly as FineGrayContribution does, and
// prepares the phase-2 weights.
func FineGrayPooledSums(sites [][]FineGrayRow, g CensoringDistribution, p int, beta []float64) (*FineGrayStep, error) {
	if len(beta) != p {
		panic(fmt.Sprintf("analysis: FineGrayPooledSums: %d coefficients for p = %d", len(beta), p))
	}
	for s, rows := range sites {
		if err := checkFineGrayRows(s, rows, p); err != nil {
			return nil, err
		}
	}
	ts, err := fineGrayTimes(sites, g, p, false)
	if err != nil {
		return nil, err
	}
	st := &FineGrayStep{p: p}
	st.contrib, st.outer = fineGrayScore(ts, beta, p)
	st.a, st.b = make([][]float64, len(sites)), make([][]float64, len(sites))
	w := newFGWeights(ts, g, p)
	for s, rows := range sites {
		for _, r := range rows {
			a, b := w.at(r.Time)
			st.a[s] = append(st.a[s], a)
			if r.competingAt() > 0 {
				st.b[s] = append(st.b[s], b)
			}
		}
	}
	return st, nil
}

// fgWeights holds the cumulative sums over the pooled event times behind A, A1, B, B1.
type fgWeights struct {
	p      int
	ts     []fgTime
	g      CensoringDistribution
	a      []float64 // a[j] = Σ_{i < j} d_i/S0_i
	a1     [][]float64
	b, b1t [][]float64 // b[j] = {Σ_{i ≥ j} d_i Ĝ(t_i−)/S0_i}, b1t[j] likewise with x̄_i
}

func newFGWeights(ts []fgTime, g CensoringDistribution, p int) *fgWeights {
	n := len(ts)
	w := &fgWeights{p: p, ts: ts, g: g, a: make([]float64, n+1), a1: make([][]float64, n+1), b: make([][]float64, n+1), b1t: make([][]float64, n+1)}
	w.a1[0] = make([]float64, p)
	for j, ft := range ts {
		f := float64(ft.d) / ft.s0
		w.a[j+1] = w.a[j] + f
		w.a1[j+1] = addVec(w.a1[j], ft.s1, f/ft.s0)
	}
	w.b[n], w.b1t[n] = []float64{0}, make([]float64, p)
	for j := n - 1; j >= 0; j-- {
		ft := ts[j]
		f := float64(ft.d) * ft.gBefore / ft.s0
		w.b[j] = []float64{w.b[j+1][0] + f}
		w.b1t[j] = addVec(w.b1t[j+1], ft.s1, f/ft.s0)
	}
	return w
}

// at returns A(T) and B(T).
func (w *fgWeights) at(t float64) (a, b float64) {
	j := sort.Search(len(w.ts), func(j int) bool { return w.ts[j].t > t }) // event times ≤ t
	return w.a[j], w.b[j][0] / w.g.Before(t)
}

// at1 returns A1(T) and B1(T).
func (w *fgWeights) at1(t float64) (a1, b1 []float64) {
	j := sort.Search(len(w.ts), func(j int) bool { return w.ts[j].t > t })
	return w.a1[j], addVec(make([]float64, w.p), w.b1t[j], 1/w.g.Before(t))
}

// Contribution returns ℓ and U at the step's β (Hessian nil).
func (st *FineGrayStep) Contribution() CoxContribution {
	c := st.contrib
	c.Gradient = slices.Clone(c.Gradient)
	return c
}

// Weights returns the phase-2 weights of site s: A at each of its rows (non-decreasing, ≥ 0)
// and B at each of its rows with competing events (≥ 0).
func (st *FineGrayStep) Weights(s int) (a, b []float64) {
	return slices.Clone(st.a[s]), slices.Clone(st.b[s])
}

// Complete returns the full contribution from every site's WeightedSecondMoment, in the order
// of the sites of FineGrayPooledSums: Hessian = −(Σ_s M_s − Σ_t d_t x̄ x̄').
func (st *FineGrayStep) Complete(moments [][]float64) (CoxContribution, error) {
	p := st.p
	if len(moments) != len(st.a) {
		return CoxContribution{}, fmt.Errorf("analysis: FineGrayStep.Complete: %d second moments for %d sites", len(moments), len(st.a))
	}
	c := st.Contribution()
	c.Hessian = make([]float64, p*p)
	for s, m := range moments {
		if len(m) != p*p || !allFiniteValues(m) {
			return CoxContribution{}, fmt.Errorf("analysis: FineGrayStep.Complete: site %d: second moment of %d values for p = %d", s, len(m), p)
		}
		for k, v := range m {
			c.Hessian[k] -= v
		}
	}
	for k, v := range st.outer {
		c.Hessian[k] += v
	}
	return c, nil
}

// groupsOf returns, per distinct time of the site, the range [lo, hi) of its patients.
func (s *FineGraySite) groupsOf() [][2]int {
	var out [][2]int
	for i, t := range s.time {
		if i == 0 || s.time[i-1] != t {
			out = append(out, [2]int{i, i})
		}
		out[len(out)-1][1] = i + 1
	}
	return out
}

// RowCounts returns, per distinct time, the number of events of the cause, of competing events
// and of censorings: the lengths the phase-2 and variance weights must have.
func (s *FineGraySite) RowCounts() (d, comp, cens []int) {
	for _, g := range s.groupsOf() {
		var nd, nc, ne int
		for i := g[0]; i < g[1]; i++ {
			switch {
			case s.code[i] == s.cause:
				nd++
			case s.code[i] == 0:
				ne++
			default:
				nc++
			}
		}
		d, comp, cens = append(d, nd), append(comp, nc), append(cens, ne)
	}
	return d, comp, cens
}

// WeightedSecondMoment returns the site's phase-2 reply at beta: Σ_i w_i x_i x_i' [a[g(i)] +
// c_i b[k(i)]] (p×p row-major), g(i) the index of patient i's time among the site's distinct
// times and k(i) among those with competing events.
func (s *FineGraySite) WeightedSecondMoment(beta, a, b []float64) ([]float64, error) {
	p := s.p
	if err := checkBeta("FineGraySite.WeightedSecondMoment", beta, p); err != nil {
		return nil, err
	}
	groups := s.groupsOf()
	_, comp, _ := s.RowCounts()
	ncomp := 0
	for _, c := range comp {
		if c > 0 {
			ncomp++
		}
	}
	if len(a) != len(groups) || len(b) != ncomp || !allFiniteValues(a) || !allFiniteValues(b) {
		return nil, fmt.Errorf("analysis: Fine-Gray weights: %d and %d weights for %d times, %d with competing events", len(a), len(b), len(groups), ncomp)
	}
	m := make([]float64, p*p)
	k := 0
	for g, r := range groups {
		for i := r[0]; i < r[1]; i++ {
			f := a[g]
			if s.code[i] > 0 && s.code[i] != s.cause {
				f += b[k]
			}
			xi := s.x[i*p : (i+1)*p]
			w := math.Exp(dot(beta, xi)) * f
			for u, xu := range xi {
				for v, xv := range xi[:u+1] {
					m[u*p+v] += w * xu * xv
				}
			}
		}
		if comp[g] > 0 {
			k++
		}
	}
	for u := range p { // symmetric bit for bit, as protocol checks
		for v := range u {
			m[v*p+u] = m[u*p+v]
		}
	}
	return m, nil
}

// FineGrayMeatWeights are the pooled numbers a site needs at its own times for its part of the
// sandwich variance: A and A1 (rows × p) at every row, B and B1 at the rows with competing
// events, x̄ at the rows with events of the cause, Ψ at every row, and q/π at the rows with
// censorings (all row-major, rows in increasing time).
type FineGrayMeatWeights struct {
	A, B           []float64
	A1, B1         []float64
	XBar, Psi, QPi []float64
}

// NewFineGrayMeatWeights computes each site's variance weights at β̂ from the sites' phase-1
// rows at β̂ and Ĝ.
func NewFineGrayMeatWeights(sites [][]FineGrayRow, g CensoringDistribution, p int, beta []float64) ([]FineGrayMeatWeights, error) {
	gl, err := NewFineGrayGlobals(sites, g, p, beta)
	if err != nil {
		return nil, err
	}
	ts, err := fineGrayTimes(sites, g, p, false)
	if err != nil {
		return nil, err
	}
	w := newFGWeights(ts, g, p)
	cum := make([][]float64, len(gl.CensorTime)+1)
	cum[0] = make([]float64, p)
	for k := range gl.CensorTime {
		f := float64(gl.NC[k]) / (float64(gl.AtRisk[k]) * float64(gl.AtRisk[k]))
		cum[k+1] = addVec(cum[k], gl.Q[k], f)
	}
	out := make([]FineGrayMeatWeights, len(sites))
	for s, rows := range sites {
		o := &out[s]
		for _, r := range rows {
			a, b := w.at(r.Time)
			a1, b1 := w.at1(r.Time)
			o.A, o.A1 = append(o.A, a), append(o.A1, a1...)
			if r.competingAt() > 0 {
				o.B, o.B1 = append(o.B, b), append(o.B1, b1...)
			}
			if r.D > 0 {
				j := sort.SearchFloat64s(gl.EventTime, r.Time)
				o.XBar = append(o.XBar, gl.XBar[j]...)
			}
			c := sort.Search(len(gl.CensorTime), func(k int) bool { return gl.CensorTime[k] > r.Time })
			o.Psi = append(o.Psi, cum[c]...)
			if r.NC > 0 {
				o.QPi = append(o.QPi, addVec(make([]float64, p), gl.Q[c-1], 1/float64(gl.AtRisk[c-1]))...)
			}
		}
	}
	return out, nil
}

// WeightedMeat returns the site's part of the middle of the sandwich, Σ_i (η_i + ψ_i)(η_i + ψ_i)',
// from its variance weights (as Meat does from the globals).
func (s *FineGraySite) WeightedMeat(beta []float64, w FineGrayMeatWeights) ([]float64, error) {
	p := s.p
	if err := checkBeta("FineGraySite.WeightedMeat", beta, p); err != nil {
		return nil, err
	}
	groups := s.groupsOf()
	d, comp, cens := s.RowCounts()
	nd, nc, ne := 0, 0, 0
	for g := range groups {
		nd, nc, ne = nd+min(d[g], 1), nc+min(comp[g], 1), ne+min(cens[g], 1)
	}
	T := len(groups)
	if len(w.A) != T || len(w.A1) != T*p || len(w.Psi) != T*p || len(w.B) != nc || len(w.B1) != nc*p ||
		len(w.XBar) != nd*p || len(w.QPi) != ne*p {
		return nil, fmt.Errorf("analysis: Fine-Gray variance weights: lengths do not match the site's %d times (%d with events, %d with competing events, %d with censorings) for p = %d", T, nd, nc, ne, p)
	}
	for _, v := range [][]float64{w.A, w.B, w.A1, w.B1, w.XBar, w.Psi, w.QPi} {
		if !allFiniteValues(v) {
			return nil, fmt.Errorf("analysis: Fine-Gray variance weights: a weight is not finite")
		}
	}
	meat := make([]float64, p*p)
	u := make([]float64, p)
	kd, kc, ke := 0, 0, 0
	for g, r := range groups {
		for i := r[0]; i < r[1]; i++ {
			xi := s.x[i*p : (i+1)*p]
			wi := math.Exp(dot(beta, xi))
			competing := s.code[i] > 0 && s.code[i] != s.cause
			for k := range p {
				u[k] = -wi*xi[k]*w.A[g] + wi*w.A1[g*p+k] - w.Psi[g*p+k]
				if competing {
					u[k] += -wi*xi[k]*w.B[kc] + wi*w.B1[kc*p+k]
				}
				switch {
				case s.code[i] == s.cause:
					u[k] += xi[k] - w.XBar[kd*p+k]
				case s.code[i] == 0:
					u[k] += w.QPi[ke*p+k]
				}
			}
			for a := range p {
				for b := range p {
					meat[a*p+b] += u[a] * u[b]
				}
			}
		}
		if d[g] > 0 {
			kd++
		}
		if comp[g] > 0 {
			kc++
		}
		if cens[g] > 0 {
			ke++
		}
	}
	return meat, nil
}
