package analysis

import (
	"errors"
	"fmt"
	"math"

	"gonum.org/v1/gonum/mat"
	"gonum.org/v1/gonum/stat/distuv"
)

// The proportional-hazards test of R's cox.zph (survival ≥ 3; Grambsch & Therneau 1994): the
// score test, at the fitted β̂, of adding for every design column x_j the time-varying term
// θ_j x_j g(t), g = h − h̄ a transform of time centred on its mean over the events
// (h̄ = Σ_events h(T_i) / D). With, at each event time t of a stratum (Efron: the l-th of
// the d tied events uses the risk-set sums minus l/d of the events'; Breslow: d times the full
// sums),
//
//	r_t = Σ_{events at t} x_i − Σ_l m_l,   m_l = (S1 − f_l E1)/(S0 − f_l E0),
//	V_t = Σ_l [(S2 − f_l E2)/(S0 − f_l E0) − m_l m_l'],
//
// the test's score is U_θ = Σ_t g_t r_t and the information the 2p×2p matrix with blocks
// I = Σ V_t, Σ g_t V_t and Σ g_t² V_t; R takes the score of β as 0 (β̂ is its root). A term of
// columns J gets u'(I_KK)⁻¹u over the p columns of β and the θ_J (df |J|), GLOBAL all 2p
// (df p). zph1 in survival's src/zph1.c is the reference.
//
// Everything above is a sum over strata, and g enters only through h: with the sums of h r_t,
// h V_t and h² V_t (and of r_t, V_t, h over events), the centring happens at the end. So a site
// of a model stratified by site returns ZPHSums over its own event times (its x̄(t) and V_t
// are its own, as R's with strata(site)) for an h the client computes from the pooled data,
// and the client adds the sites' sums and calls ZPHTest.

// ZPHSums are one stratum's (or several strata's, added) parts of cox.zph's score test for a
// transform h of time (p design columns; the matrices p×p row-major, symmetric).
type ZPHSums struct {
	P      int
	Events int
	// HSum is Σ_events h(T_i), for the centring h̄ = HSum / Events.
	HSum float64
	// U = Σ_t r_t (the score at β) and UH = Σ_t h_t r_t.
	U, UH []float64
	// I = Σ_t V_t (the information at β), IH = Σ_t h_t V_t and IHH = Σ_t h_t² V_t.
	I, IH, IHH []float64
}

// NewZPHSums returns zero sums for p design columns.
func NewZPHSums(p int) ZPHSums {
	return ZPHSums{P: p, U: make([]float64, p), UH: make([]float64, p),
		I: make([]float64, p*p), IH: make([]float64, p*p), IHH: make([]float64, p*p)}
}

// Add adds o to z in place (both for the same p).
func (z *ZPHSums) Add(o ZPHSums) {
	if o.P != z.P || len(o.U) != z.P || len(o.I) != z.P*z.P {
		panic(fmt.Sprintf("analysis: ZPHSums.Add: p = %d and %d", z.P, o.P))
	}
	z.Events += o.Events
	z.HSum += o.HSum
	for j := range z.U {
		z.U[j] += o.U[j]
		z.UH[j] += o.UH[j]
	}
	for k := range z.I {
		z.I[k] += o.I[k]
		z.IH[k] += o.IH[k]
		z.IHH[k] += o.IHH[k]
	}
}

// ErrZPHDelayedEntry: the test's risk sets would need entry times (R's zph2); not supported.
var ErrZPHDelayedEntry = errors.New("analysis: the proportional-hazards test does not take delayed entry")

// ZPHSums returns the stratum's parts of cox.zph's test at beta for the transform h, given at
// each of the stratum's distinct event times in increasing order (DistinctTimes' eventTimes of
// them). A stratum with delayed entry returns ErrZPHDelayedEntry. O(n p²).
func (s *CoxStratum) ZPHSums(beta []float64, ties Ties, h []float64) (ZPHSums, error) {
	p := s.p
	if err := checkBeta("CoxStratum.ZPHSums", beta, p); err != nil {
		return ZPHSums{}, err
	}
	if s.leaving != nil {
		return ZPHSums{}, ErrZPHDelayedEntry
	}
	if nev := s.eventGroups(); len(h) != nev {
		return ZPHSums{}, fmt.Errorf("analysis: cox.zph transform: %d values for %d event times", len(h), nev)
	}
	for k, v := range h {
		if math.IsNaN(v) || math.IsInf(v, 0) {
			return ZPHSums{}, fmt.Errorf("analysis: cox.zph transform: value %d is %v", k, v)
		}
	}
	n := len(s.time)
	// Centred covariates and weights relative to the largest linear predictor: neither changes
	// r_t or V_t (as R's zph1 recentres X and η), and exp cannot overflow.
	xc := make([]float64, n*p)
	lp := make([]float64, n)
	maxLP := math.Inf(-1)
	x := s.design()
	for i := 0; i < n; i++ {
		for j := 0; j < p; j++ {
			xc[i*p+j] = x[i*p+j] - s.center[j]
		}
		lp[i] = dot(xc[i*p:(i+1)*p], beta)
		maxLP = math.Max(maxLP, lp[i])
	}
	z := NewZPHSums(p)
	var s0, e0 float64
	s1, e1, xd := make([]float64, p), make([]float64, p), make([]float64, p)
	s2, e2 := make([]float64, p*p), make([]float64, p*p)
	m, r, v := make([]float64, p), make([]float64, p), make([]float64, p*p)
	k := len(h) - 1
	for g := len(s.groups) - 2; g >= 0; g-- {
		lo, hi := int(s.groups[g]), int(s.groups[g+1])
		d := 0
		e0 = 0
		clear(e1)
		clear(e2)
		clear(xd)
		for i := lo; i < hi; i++ {
			xi := xc[i*p : (i+1)*p]
			w := math.Exp(lp[i] - maxLP)
			s0 += w
			addWeighted(s1, s2, w, xi)
			if s.event[i] {
				d++
				e0 += w
				addWeighted(e1, e2, w, xi)
				for j, x := range xi {
					xd[j] += x
				}
			}
		}
		if d == 0 {
			continue
		}
		copy(r, xd)
		clear(v)
		terms, mult := d, 1.0
		if ties == Breslow {
			terms, mult = 1, float64(d)
		}
		for l := 0; l < terms; l++ {
			f := 0.0
			if ties != Breslow {
				f = float64(l) / float64(d)
			}
			den := s0 - f*e0
			for j := range m {
				m[j] = (s1[j] - f*e1[j]) / den
				r[j] -= mult * m[j]
			}
			for a := 0; a < p; a++ {
				for b := 0; b <= a; b++ {
					v[a*p+b] += mult * ((s2[a*p+b]-f*e2[a*p+b])/den - m[a]*m[b])
				}
			}
		}
		ht := h[k]
		k--
		z.Events += d
		z.HSum += float64(d) * ht
		for j := range r {
			z.U[j] += r[j]
			z.UH[j] += ht * r[j]
		}
		for a := 0; a < p; a++ {
			for b := 0; b <= a; b++ {
				x := v[a*p+b]
				z.I[a*p+b] += x
				z.IH[a*p+b] += ht * x
				z.IHH[a*p+b] += ht * ht * x
			}
		}
	}
	for _, mm := range [][]float64{z.I, z.IH, z.IHH} {
		symmetrizeLower(mm, p)
	}
	return z, nil
}

// symmetrizeLower copies the lower triangle of the p×p row-major m to its upper one.
func symmetrizeLower(m []float64, p int) {
	for a := 0; a < p; a++ {
		for b := 0; b < a; b++ {
			m[b*p+a] = m[a*p+b]
		}
	}
}

// ZPHTerm is one term of the test: a name and its design columns (a factor's k−1 columns are
// one term, as cox.zph's default terms = TRUE).
type ZPHTerm struct {
	Name    string `json:"name"`
	Columns []int  `json:"columns"`
}

// ZPHRow is one row of cox.zph's table: a term, or GLOBAL.
type ZPHRow struct {
	Term  string
	ChiSq float64
	DF    int
	P     float64
}

// ZPHGlobal names the last row of the table, the test of all terms at once.
const ZPHGlobal = "GLOBAL"

// ZPHTest returns cox.zph's table from the (summed) parts z: a row per term and GLOBAL.
// An information matrix that is singular for a term returns an error naming it.
func ZPHTest(z ZPHSums, terms []ZPHTerm) ([]ZPHRow, error) {
	p := z.P
	if z.Events == 0 {
		return nil, errors.New("analysis: cox.zph: no events")
	}
	c := z.HSum / float64(z.Events)
	// g = h − c: Σ g r = UH − c U; Σ g V = IH − c I; Σ g² V = IHH − 2c IH + c² I.
	full := mat.NewSymDense(2*p, nil)
	u := make([]float64, 2*p)
	for a := 0; a < p; a++ {
		u[p+a] = z.UH[a] - c*z.U[a]
		for b := 0; b < p; b++ {
			i, ih, ihh := z.I[a*p+b], z.IH[a*p+b], z.IHH[a*p+b]
			full.SetSym(a, b, i)
			full.SetSym(p+a, p+b, ihh-2*c*ih+c*c*i)
			g := ih - c*i
			full.SetSym(a, p+b, g)
		}
	}
	test := func(name string, cols []int) (ZPHRow, error) {
		kk := make([]int, 0, p+len(cols))
		for j := 0; j < p; j++ {
			kk = append(kk, j)
		}
		for _, j := range cols {
			if j < 0 || j >= p {
				panic(fmt.Sprintf("analysis: ZPHTest: term %s: column %d of %d", name, j, p))
			}
			kk = append(kk, p+j)
		}
		sub := mat.NewSymDense(len(kk), nil)
		uk := mat.NewVecDense(len(kk), nil)
		for a, ia := range kk {
			uk.SetVec(a, u[ia])
			for b := a; b < len(kk); b++ {
				sub.SetSym(a, b, full.At(ia, kk[b]))
			}
		}
		var x mat.VecDense
		var lu mat.LU
		lu.Factorize(sub)
		if err := lu.SolveVecTo(&x, false, uk); err != nil {
			return ZPHRow{}, fmt.Errorf("analysis: cox.zph: term %s: the information is singular", name)
		}
		stat := mat.Dot(&x, uk)
		return ZPHRow{Term: name, ChiSq: stat, DF: len(cols), P: distuv.ChiSquared{K: float64(len(cols))}.Survival(stat)}, nil
	}
	rows := make([]ZPHRow, 0, len(terms)+1)
	all := make([]int, p)
	for j := range all {
		all[j] = j
	}
	for _, t := range terms {
		row, err := test(t.Name, t.Columns)
		if err != nil {
			return nil, err
		}
		rows = append(rows, row)
	}
	row, err := test(ZPHGlobal, all)
	if err != nil {
		return nil, err
	}
	return append(rows, row), nil
}

// ZPH transforms of time, by R's names.
const (
	ZPHKM       = "km"       // 1 − the pooled Kaplan–Meier estimate just before t (R's default)
	ZPHIdentity = "identity" // t
	ZPHRank     = "rank"     // the mid-rank of t among all subjects' times
)

// ZPHTransforms lists the transforms in a stable order, R's default first.
var ZPHTransforms = []string{ZPHKM, ZPHIdentity, ZPHRank}

// ZPHTransform returns the transform h at every time of the pooled table t (all subjects of
// the model, every stratum together, as cox.zph computes it): "km" 1 − Ŝ(t−) of the table,
// "identity" t, "rank" the average rank of t among the subjects' times (R's rank with ties
// averaged). A table with delayed entries returns ErrZPHDelayedEntry.
func ZPHTransform(name string, t SurvivalTable) ([]float64, error) {
	if t.Entries != nil {
		return nil, ErrZPHDelayedEntry
	}
	h := make([]float64, len(t.Time))
	switch name {
	case ZPHIdentity:
		copy(h, t.Time)
	case ZPHRank:
		below := 0
		for k := range t.Time {
			m := t.Events[k] + t.Censor[k]
			h[k] = float64(below) + float64(m+1)/2
			below += m
		}
	case ZPHKM:
		atRisk := t.AtRisk()
		surv := 1.0
		for k := range t.Time {
			h[k] = 1 - surv // left-continuous: the estimate before this time's events
			if atRisk[k] > 0 {
				surv *= 1 - float64(t.Events[k])/float64(atRisk[k])
			}
		}
	default:
		return nil, fmt.Errorf("analysis: cox.zph: unknown transform %q (km, identity or rank)", name)
	}
	return h, nil
}

// EventTimes returns the stratum's distinct event times in increasing order: where ZPHSums
// takes its transform's values.
func (s *CoxStratum) EventTimes() []float64 {
	var out []float64
	for g := 0; g+1 < len(s.groups); g++ {
		if s.HasEvent(g) {
			out = append(out, s.time[s.groups[g]])
		}
	}
	return out
}
