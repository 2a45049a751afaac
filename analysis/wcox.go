package analysis

import (
	"fmt"
	"math"

	"gonum.org/v1/gonum/stat/distuv"
)

// WeightedCoxStratum is one stratum's patient-level data with case weights (for example
// inverse probability of treatment weights), prepared for repeated evaluation at different β:
// the weighted partial likelihood for Newton–Raphson (Contribution, with FitCox) and the
// "meat" of the robust sandwich variance (ScoreMeat). Read-only after construction.
type WeightedCoxStratum struct {
	s *CoxStratum
	w []float64 // case weights in the stratum's time order
}

// NewWeightedCoxStratum copies and sorts one stratum: time[i], event[i], the covariates
// x[i*p:(i+1)*p] and the case weight w[i] > 0 of subject i. Length mismatches panic; a bad
// time, covariate or weight returns an error naming the record.
func NewWeightedCoxStratum(time []float64, event []bool, x []float64, p int, w []float64) (*WeightedCoxStratum, error) {
	if len(w) != len(time) {
		panic(fmt.Sprintf("analysis: NewWeightedCoxStratum: %d weights for %d records", len(w), len(time)))
	}
	for i, v := range w {
		if !(v > 0) || math.IsInf(v, 0) {
			return nil, fmt.Errorf("analysis: NewWeightedCoxStratum: record %d: weight %v is not a positive finite number", i, v)
		}
	}
	s, err := NewCoxStratum(time, event, x, p)
	if err != nil {
		return nil, err
	}
	ws := &WeightedCoxStratum{s: s, w: make([]float64, len(w))}
	for k, i := range orderByTime(time) {
		ws.w[k] = w[i]
	}
	return ws, nil
}

// Len returns the number of subjects; Events the number of events.
func (ws *WeightedCoxStratum) Len() int    { return ws.s.Len() }
func (ws *WeightedCoxStratum) Events() int { return ws.s.Events() }

// Contribution returns the weighted log partial likelihood, its gradient and Hessian at beta,
// as R's coxph(..., weights = w) maximises it: with risk weights r_i = w_i exp(x_i'β) in the
// risk-set sums S_k and, at a time with d events of summed weight D,
//
//	Breslow: ℓ = Σ_events w_i x_i'β − Σ_t D log S0(t),
//	Efron:   each of the d terms l = 0..d−1 uses S_k − (l/d) E_k and counts D/d times.
//
// Centring of covariates as in CoxStratumContribution.
func (ws *WeightedCoxStratum) Contribution(beta []float64, ties Ties) (CoxContribution, error) {
	s := ws.s
	p := s.p
	if err := checkBeta("WeightedCoxStratum.Contribution", beta, p); err != nil {
		return CoxContribution{}, err
	}
	acc := newCoxAccum(p, ties)
	acc.weighted = true
	xc := make([]float64, p)
	eventX := make([]float64, p)
	eventLP := 0.0
	for g := len(s.groups) - 2; g >= 0; g-- {
		acc.beginTime()
		for k := s.groups[g]; k < s.groups[g+1]; k++ {
			lp := ws.centred(int(k), beta, xc)
			cw := ws.w[k]
			ev := s.event[k]
			if ev {
				eventLP += cw * lp
				for j := range xc {
					eventX[j] += cw * xc[j]
				}
			}
			acc.addCase(cw, cw*math.Exp(lp), xc, ev)
		}
		acc.eventTerm()
	}
	return acc.contribution(len(s.time), eventLP, eventX), nil
}

// centred writes row k's centred covariates into xc and returns its linear predictor.
func (ws *WeightedCoxStratum) centred(k int, beta, xc []float64) float64 {
	s := ws.s
	p := s.p
	row := s.x[k*p : (k+1)*p]
	lp := 0.0
	for j := range xc {
		xc[j] = row[j] - s.center[j]
		lp += beta[j] * xc[j]
	}
	return lp
}

// ScoreMeat returns Σ_i (w_i r_i)(w_i r_i)' (p×p, row-major) over the stratum's subjects,
// where r_i is subject i's score residual at beta (Therneau & Grambsch 2000, §7.2; R's
// residuals(fit, type = "score")), and their sum Σ_i w_i r_i, the weighted score. With I the
// information at β̂ of the whole model (all strata and sites), the robust variance is the
// sandwich I⁻¹ M I⁻¹ with M the meats added over strata — R's coxph(..., weights = w,
// robust = TRUE) with every subject its own cluster (Lin & Wei 1989; Binder 1992).
//
// The score residual of subject i, with x̄(t) = S1/S0 and hazard increments dΛ(t) = D/S0(t)
// over the event times t ≤ T_i, is
//
//	r_i = δ_i (x_i − x̄(T_i)) − Σ_{t ≤ T_i} e^{x_i'β} (x_i − x̄(t)) dΛ(t).
//
// With Efron ties, each of the d events at t contributes its l-th term with x̄_l = (S1 −
// (l/d)E1)/(S0 − (l/d)E0) and dΛ_l = (D/d)/(S0 − (l/d)E0); a subject dying at t takes the
// average (1/d) Σ_l x̄_l in its first part and only the share (1 − l/d) of each dΛ_l (R's
// coxscore2). Cost O(n p + n p²) for the meat.
func (ws *WeightedCoxStratum) ScoreMeat(beta []float64, ties Ties) (meat, score []float64, err error) {
	s := ws.s
	p := s.p
	if err := checkBeta("WeightedCoxStratum.ScoreMeat", beta, p); err != nil {
		return nil, nil, err
	}
	G := len(s.groups) - 1
	// Per distinct time: the hazard increments for those at risk who do not die then (dh, dA)
	// and for those who die then (dhD, dAD), and the mean x̄ the deaths are compared with.
	dh, dhD := make([]float64, G), make([]float64, G)
	dA, dAD, xbarD := make([]float64, G*p), make([]float64, G*p), make([]float64, G*p)
	s1, e1 := make([]float64, p), make([]float64, p)
	xc := make([]float64, p)
	var s0 float64
	for g := G - 1; g >= 0; g-- {
		var e0, dw float64
		clear(e1)
		d := 0
		for k := s.groups[g]; k < s.groups[g+1]; k++ {
			r := ws.w[k] * math.Exp(ws.centred(int(k), beta, xc))
			s0 += r
			for j := range xc {
				s1[j] += r * xc[j]
			}
			if s.event[k] {
				d++
				dw += ws.w[k]
				e0 += r
				for j := range xc {
					e1[j] += r * xc[j]
				}
			}
		}
		if d == 0 {
			continue
		}
		if ties == Breslow || d == 1 {
			h := dw / s0
			dh[g], dhD[g] = h, h
			for j := 0; j < p; j++ {
				xb := s1[j] / s0
				xbarD[g*p+j] = xb
				dA[g*p+j] = h * xb
				dAD[g*p+j] = h * xb
			}
			continue
		}
		fd := float64(d)
		meanwt := dw / fd
		for l := 0; l < d; l++ {
			f := float64(l) / fd
			den := s0 - f*e0
			h := meanwt / den
			dh[g] += h
			dhD[g] += (1 - f) * h
			for j := 0; j < p; j++ {
				xb := (s1[j] - f*e1[j]) / den
				xbarD[g*p+j] += xb / fd
				dA[g*p+j] += h * xb
				dAD[g*p+j] += (1 - f) * h * xb
			}
		}
	}
	meat, score = make([]float64, p*p), make([]float64, p)
	cumH := 0.0
	cumA := make([]float64, p)
	res := make([]float64, p)
	for g := 0; g < G; g++ {
		for k := s.groups[g]; k < s.groups[g+1]; k++ {
			risk := math.Exp(ws.centred(int(k), beta, xc))
			ev := s.event[k]
			h, a := dh[g], dA[g*p:(g+1)*p]
			if ev {
				h, a = dhD[g], dAD[g*p:(g+1)*p]
			}
			cw := ws.w[k]
			for j := 0; j < p; j++ {
				r := -risk * (xc[j]*(cumH+h) - (cumA[j] + a[j]))
				if ev {
					r += xc[j] - xbarD[g*p+j]
				}
				res[j] = cw * r
				score[j] += res[j]
			}
			for i := 0; i < p; i++ {
				for j := 0; j <= i; j++ {
					meat[i*p+j] += res[i] * res[j]
				}
			}
		}
		cumH += dh[g]
		for j := 0; j < p; j++ {
			cumA[j] += dA[g*p+j]
		}
	}
	for i := 0; i < p; i++ {
		for j := 0; j < i; j++ {
			meat[j*p+i] = meat[i*p+j]
		}
	}
	return meat, score, nil
}

// RobustCox is the robust (sandwich) variance of a weighted Cox fit and the robust score test.
type RobustCox struct {
	// SE are the square roots of the diagonal of Vcov = I⁻¹ M I⁻¹, with I⁻¹ the fit's naive
	// variance and M the summed meats at β̂.
	SE, Vcov []float64
	// Lower, Upper: 95% interval of the hazard ratio exp(β̂ ∓ z SE); Z = β̂/SE, P two-sided.
	Lower, Upper, Z, P []float64
	// Score is the robust score test at β = 0, U(0)' M(0)⁻¹ U(0) with M(0) the meat at β = 0:
	// the weighted log-rank test made robust to the weights (R's fit$rscore).
	Score Test
}

// Sandwich combines a weighted Cox fit with the sites' summed meats at β̂ (meat) and at β = 0
// (meat0, with the summed weighted scores score0) into the robust variance and tests.
func Sandwich(fit *CoxFit, meat, meat0, score0 []float64) (*RobustCox, error) {
	p := len(fit.Coef)
	if len(meat) != p*p || len(meat0) != p*p || len(score0) != p {
		panic(fmt.Sprintf("analysis: Sandwich: meats of %d and %d values, score of %d for p = %d", len(meat), len(meat0), len(score0), p))
	}
	rc := SandwichVariance(fit, meat)
	sys := &coxFitState{p: p, toler: math.Pow(0x1p-52, 0.75), scale: ones(p), zeroInfo: make([]bool, p)}
	m0 := CoxContribution{Gradient: score0, Hessian: make([]float64, p*p)}
	for i, x := range meat0 {
		m0.Hessian[i] = -x
	}
	s := sys.system(m0)
	if !s.finite {
		return nil, fmt.Errorf("analysis: robust score test: the meat at β = 0 is not finite")
	}
	a := s.solve(score0)
	stat := 0.0
	for j := range a {
		stat += score0[j] * a[j]
	}
	rc.Score = chiSquareTest(stat, len(s.kept))
	return rc, nil
}

// SandwichVariance is the robust variance I⁻¹ M I⁻¹ of a fit with the summed meat M at β̂, its
// standard errors, 95% intervals of exp(β) and Wald tests (Score left zero): Sandwich without
// the score test, and the variance cmprsk::crr reports for a Fine–Gray model.
func SandwichVariance(fit *CoxFit, meat []float64) *RobustCox {
	p := len(fit.Coef)
	if len(meat) != p*p {
		panic(fmt.Sprintf("analysis: SandwichVariance: meat of %d values for p = %d", len(meat), p))
	}
	v := make([]float64, p*p)
	for i := 0; i < p; i++ {
		for j := 0; j < p; j++ {
			var sum float64
			for a := 0; a < p; a++ {
				for b := 0; b < p; b++ {
					sum += fit.Vcov[i*p+a] * meat[a*p+b] * fit.Vcov[b*p+j]
				}
			}
			v[i*p+j] = sum
		}
	}
	rc := &RobustCox{Vcov: v, SE: make([]float64, p), Lower: make([]float64, p), Upper: make([]float64, p),
		Z: make([]float64, p), P: make([]float64, p)}
	z975 := distuv.UnitNormal.Quantile(0.975)
	for j := 0; j < p; j++ {
		se := math.Sqrt(v[j*p+j])
		rc.SE[j] = se
		b := fit.Coef[j]
		rc.Lower[j], rc.Upper[j] = math.Exp(b-z975*se), math.Exp(b+z975*se)
		rc.Z[j] = b / se
		rc.P[j] = 2 * distuv.UnitNormal.Survival(math.Abs(rc.Z[j]))
	}
	return rc
}

func ones(p int) []float64 {
	o := make([]float64, p)
	for i := range o {
		o[i] = 1
	}
	return o
}
