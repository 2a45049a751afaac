package analysis

import (
	"errors"
	"fmt"
	"math"
	"slices"

	"gonum.org/v1/gonum/mat"
)

// LogisticContribution is the Bernoulli log-likelihood of a logistic regression, its gradient
// and its Hessian at some β, for the patients of one or more sites. Log-likelihoods of
// independent patients add up, so the contributions of sites add up (Add) and Newton–Raphson on
// the sum is the pooled fit: a federated propensity model without any patient leaving a site.
type LogisticContribution struct {
	LogLik   float64
	Gradient []float64 // Σ (y − π) x
	Hessian  []float64 // −Σ π(1−π) x x', p×p row-major
	N        int       // patients
	Treated  int       // patients with y = 1
}

// Add adds o to c in place; an empty c becomes a copy of o. A different number of columns is a
// programming error and panics.
func (c *LogisticContribution) Add(o LogisticContribution) {
	if c.Gradient == nil {
		*c = LogisticContribution{LogLik: o.LogLik, Gradient: slices.Clone(o.Gradient),
			Hessian: slices.Clone(o.Hessian), N: o.N, Treated: o.Treated}
		return
	}
	if len(c.Gradient) != len(o.Gradient) || len(c.Hessian) != len(o.Hessian) {
		panic(fmt.Sprintf("analysis: LogisticContribution.Add: %d columns added to %d", len(o.Gradient), len(c.Gradient)))
	}
	c.LogLik += o.LogLik
	for i, v := range o.Gradient {
		c.Gradient[i] += v
	}
	for i, v := range o.Hessian {
		c.Hessian[i] += v
	}
	c.N += o.N
	c.Treated += o.Treated
}

// LogisticSiteContribution returns the contribution of one site's patients: design rows
// x[i*p:(i+1)*p] (the intercept column included by the caller) and outcomes y, at beta:
//
//	ℓ(β) = Σ y η − log(1 + e^η),  U = Σ (y − π) x,  H = −Σ π(1−π) x x',  η = x'β, π = 1/(1+e^−η).
//
// Length mismatches panic; a non-finite value returns an error naming the record.
func LogisticSiteContribution(x []float64, p int, y []bool, beta []float64) (LogisticContribution, error) {
	n := len(y)
	if p < 1 || len(x) != n*p || len(beta) != p {
		panic(fmt.Sprintf("analysis: LogisticSiteContribution: %d values, %d outcomes, %d coefficients for p = %d", len(x), n, len(beta), p))
	}
	for j, b := range beta {
		if math.IsNaN(b) || math.IsInf(b, 0) {
			return LogisticContribution{}, fmt.Errorf("analysis: logistic: coefficient %d is %v", j, b)
		}
	}
	c := LogisticContribution{Gradient: make([]float64, p), Hessian: make([]float64, p*p), N: n}
	for i := 0; i < n; i++ {
		row := x[i*p : (i+1)*p]
		eta := 0.0
		for j, v := range row {
			if math.IsNaN(v) || math.IsInf(v, 0) {
				return LogisticContribution{}, fmt.Errorf("analysis: logistic: record %d, column %d: value %v is not finite", i, j, v)
			}
			eta += beta[j] * v
		}
		pi := 1 / (1 + math.Exp(-eta))
		r := -pi
		if y[i] {
			c.Treated++
			r = 1 - pi
			c.LogLik -= log1pExp(-eta)
		} else {
			c.LogLik -= log1pExp(eta)
		}
		v := pi * (1 - pi)
		for a, xa := range row {
			c.Gradient[a] += r * xa
			h := c.Hessian[a*p : a*p+a+1]
			for b := range h {
				h[b] -= v * xa * row[b]
			}
		}
	}
	for a := 0; a < p; a++ {
		for b := 0; b < a; b++ {
			c.Hessian[b*p+a] = c.Hessian[a*p+b]
		}
	}
	return c, nil
}

// log1pExp returns log(1 + e^x) without overflow.
func log1pExp(x float64) float64 {
	if x > 35 {
		return x
	}
	return math.Log1p(math.Exp(x))
}

// LogisticEvaluator returns the summed contribution of every site at beta (one round of
// messages in a federated fit). It must not keep beta.
type LogisticEvaluator func(beta []float64) (LogisticContribution, error)

// LogisticOptions controls FitLogistic; the zero value gives the defaults.
type LogisticOptions struct {
	Terms   []string // design column names, for messages and results
	MaxIter int      // default 25 (R's glm.control maxit)
	// Tol is the convergence criterion on the Newton step: max_j |Δβ_j| / (|β_j| + 0.1) ≤ Tol;
	// default 1e-10. A step criterion, not R's deviance one: under separation the deviance
	// settles while a coefficient keeps growing, which a step criterion does not call converged.
	Tol float64
}

// LogisticFit is a fitted logistic regression, as R's summary(glm(..., binomial)) reports it.
type LogisticFit struct {
	Terms      []string
	Coef, SE   []float64
	Vcov       []float64 // inverse of the information at β̂, p×p row-major
	LogLik     float64
	Iterations int
	Converged  bool
	N, Treated int
}

// ErrSeparation is wrapped by FitLogistic's error when a coefficient grows without bound: the
// outcome (treatment) is perfectly or quasi-perfectly predicted by the design (separation), so
// no finite maximum likelihood estimate exists. Test with errors.Is.
var ErrSeparation = errors.New("analysis: logistic: separation")

// FitLogistic fits a logistic regression by Newton–Raphson on the log-likelihood that eval
// returns (summed over sites), starting at β = 0, halving a step that lowers the likelihood. At
// convergence it equals R's glm(y ~ ..., family = binomial) run to the same precision (its
// IRLS is Newton–Raphson for the canonical link), with SE from the inverse information.
//
// When the fit does not converge within MaxIter iterations, the error names the terms whose
// coefficients are still moving: it wraps ErrSeparation when those coefficients are large
// (|β| > 10: fitted probabilities of some patients at 0 or 1), ErrNotConverged otherwise. A
// singular information (a constant or collinear column, or no patient in one arm) is an error
// naming the problem. The fit is returned with the error, for display.
func FitLogistic(eval LogisticEvaluator, p int, opts LogisticOptions) (*LogisticFit, error) {
	if p < 1 || eval == nil || (opts.Terms != nil && len(opts.Terms) != p) {
		panic(fmt.Sprintf("analysis: FitLogistic: p = %d, %d terms", p, len(opts.Terms)))
	}
	terms := opts.Terms
	if terms == nil {
		for j := 0; j < p; j++ {
			terms = append(terms, fmt.Sprintf("x%d", j+1))
		}
	}
	maxIter, tol := opts.MaxIter, opts.Tol
	if maxIter <= 0 {
		maxIter = 25
	}
	if tol <= 0 {
		tol = 1e-10
	}
	beta := make([]float64, p)
	c, err := eval(beta)
	if err != nil {
		return nil, err
	}
	fit := &LogisticFit{Terms: terms, N: c.N, Treated: c.Treated}
	if c.Treated == 0 || c.Treated == c.N {
		return nil, fmt.Errorf("analysis: logistic: %d of %d patients treated: both arms need patients", c.Treated, c.N)
	}
	var lastStep []float64
	for iter := 1; iter <= maxIter; iter++ {
		step, err := newtonStep(c, terms)
		if err != nil {
			if big := largeTerms(beta, terms); len(big) > 0 {
				// The information vanishes along a direction whose coefficients have grown
				// large: fitted propensities of some patients are numerically 0 or 1.
				return nil, separationError(big, iter-1)
			}
			return nil, err
		}
		next := make([]float64, p)
		var nc LogisticContribution
		for h := 0; ; h++ {
			f := math.Ldexp(1, -h)
			for j := range next {
				next[j] = beta[j] + f*step[j]
			}
			if nc, err = eval(next); err != nil {
				return nil, err
			}
			if nc.LogLik >= c.LogLik-1e-12*math.Abs(c.LogLik) || h == 30 {
				break
			}
		}
		lastStep = step
		converged := true
		for j := range step {
			if math.Abs(next[j]-beta[j]) > tol*(math.Abs(next[j])+0.1) {
				converged = false
			}
		}
		beta, c = next, nc
		fit.Iterations = iter
		if converged {
			fit.Converged = true
			break
		}
	}
	fit.finish(c, beta)
	if !fit.Converged {
		var moving []string
		large := false
		for j, s := range lastStep {
			if math.Abs(s) > 1e-3*(math.Abs(beta[j])+0.1) {
				moving = append(moving, terms[j])
				large = large || math.Abs(beta[j]) > 10
			}
		}
		if large {
			return fit, separationError(moving, maxIter)
		}
		return fit, fmt.Errorf("analysis: logistic: did not converge in %d iterations (still moving: %v)", maxIter, moving)
	}
	return fit, nil
}

func separationError(terms []string, iter int) error {
	return fmt.Errorf("%w: after %d iterations the coefficients of %v grow without bound: treatment is (almost) perfectly predicted by them, so some patients have no counterpart in the other arm — drop or merge these confounders, or restrict the cohort to where both treatments occur", ErrSeparation, iter, terms)
}

// largeTerms returns the terms with |β| > 10: a propensity beyond e^±10 is not a comparison.
func largeTerms(beta []float64, terms []string) []string {
	var big []string
	for j, b := range beta {
		if math.Abs(b) > 10 {
			big = append(big, terms[j])
		}
	}
	return big
}

// newtonStep solves I δ = U with I = −H by Cholesky; a singular I is an error naming why.
func newtonStep(c LogisticContribution, terms []string) ([]float64, error) {
	p := len(c.Gradient)
	info := mat.NewSymDense(p, nil)
	for a := 0; a < p; a++ {
		for b := a; b < p; b++ {
			info.SetSym(a, b, -c.Hessian[a*p+b])
		}
	}
	var ch mat.Cholesky
	if !ch.Factorize(info) || ch.Cond() > 1e14 {
		return nil, fmt.Errorf("analysis: logistic: the information matrix is singular: a confounder among %v is constant in the cohort or collinear with others", terms)
	}
	var d mat.VecDense
	if err := ch.SolveVecTo(&d, mat.NewVecDense(p, slices.Clone(c.Gradient))); err != nil {
		return nil, fmt.Errorf("analysis: logistic: %v", err)
	}
	return d.RawVector().Data, nil
}

// finish fills the coefficients, the variance (inverse information at β) and the SEs.
func (fit *LogisticFit) finish(c LogisticContribution, beta []float64) {
	p := len(beta)
	info := mat.NewSymDense(p, nil)
	for a := 0; a < p; a++ {
		for b := a; b < p; b++ {
			info.SetSym(a, b, -c.Hessian[a*p+b])
		}
	}
	var ch mat.Cholesky
	var inv mat.SymDense
	fit.Coef = slices.Clone(beta)
	fit.LogLik = c.LogLik
	fit.Vcov = make([]float64, p*p)
	fit.SE = make([]float64, p)
	if !ch.Factorize(info) || ch.InverseTo(&inv) != nil {
		for j := range fit.SE {
			fit.SE[j] = math.Inf(1)
		}
		return
	}
	for a := 0; a < p; a++ {
		for b := 0; b < p; b++ {
			fit.Vcov[a*p+b] = inv.At(a, b)
		}
		fit.SE[a] = math.Sqrt(inv.At(a, a))
	}
}

// Propensity returns π = 1/(1 + e^−x'β) for one design row.
func Propensity(row, beta []float64) float64 {
	eta := 0.0
	for j, v := range row {
		eta += beta[j] * v
	}
	return 1 / (1 + math.Exp(-eta))
}
