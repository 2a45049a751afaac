package analysis

import (
	"fmt"
	"math"
	"slices"
	"strings"

	"gonum.org/v1/gonum/mat"
	"gonum.org/v1/gonum/stat/distuv"
)

// CoxEvaluator returns the (summed) contribution at beta; a federated implementation runs one
// network round per call and returns an error if a site drops out (the fit then aborts).
// The evaluator must not keep beta: FitCox reuses the slice.
type CoxEvaluator func(beta []float64) (CoxContribution, error)

// CoxStepEvaluator is a CoxEvaluator in two parts, for a federated form whose Hessian costs a
// second network round (the two-phase pooled form, PooledCoxSums): it returns ℓ and U at beta
// (the Hessian may be nil) and complete, which returns the full contribution at the same beta.
// FitCoxSteps calls complete only for a β whose Hessian the fit uses (β = 0, an accepted or
// converged step, the final β), never for a step it rejects and halves. The evaluator must not
// keep beta.
type CoxStepEvaluator func(beta []float64) (c CoxContribution, complete func() (CoxContribution, error), err error)

// CoxOptions controls FitCox. The zero value gives R's coxph.control defaults.
type CoxOptions struct {
	Terms     []string // design column names, for messages and results (default x1, x2, …)
	MaxIter   int      // default 20 (as R's coxph.control iter.max)
	Eps       float64  // default 1e-9 (R's coxph.control eps: relative change in loglik)
	TolerChol float64  // default .Machine$double.eps^0.75 (R's toler.chol), for non-estimable terms
	// TolerInf is the relative tolerance of the "coefficient may be infinite" check; default
	// √Eps (R's toler.inf).
	TolerInf float64
	// Ridge, when not nil, fits the ridge-penalized likelihood (R's ridge() term with a fixed
	// θ): the evaluator's ℓ, U and H are penalized before Newton–Raphson sees them, and the
	// fit is reported as R reports a penalized one (Ridge.finish).
	Ridge *Ridge
}

// Test is a chi-square test: statistic, degrees of freedom and upper-tail p-value.
type Test struct {
	Stat float64
	DF   int
	P    float64
}

// CoxFit is a fitted Cox proportional hazards model, as R's summary(coxph(...)) reports it.
type CoxFit struct {
	Terms []string
	// Coef is β̂; SE the square roots of the diagonal of Vcov; HR = exp(β̂) with the 95% Wald
	// interval [Lower, Upper] = exp(β̂ ∓ z_{0.975} SE); Z = β̂/SE and P = 2 (1 − Φ(|Z|)).
	Coef, SE, HR, Lower, Upper, Z, P []float64
	// Vcov is the inverse of the information −H(β̂) (p×p row-major); rows and columns of
	// non-estimable terms are NaN.
	Vcov []float64
	// LogLik0 is ℓ(0) and LogLik ℓ(β̂).
	LogLik0, LogLik float64
	// LRT = 2 (ℓ(β̂) − ℓ(0)); Wald = β̂' V⁻¹ β̂; Score = U(0)' I(0)⁻ U(0) (the log-rank test for
	// a single binary covariate). DF = number of estimable terms.
	LRT, Wald, Score Test
	// Iterations is the number of Newton–Raphson iterations as R's fit$iter counts them when
	// the fit converged (evaluations after the one at β = 0).
	Iterations int
	Converged  bool
	N, Events  int
	// NotEstimable lists the terms dropped as constant or collinear with earlier terms (R
	// reports NA for them); their Coef, SE, … are NaN.
	NotEstimable []string
	// Infinite lists the terms whose coefficient may be infinite (monotone likelihood,
	// separation), as R's warning "Loglik converged before variable …; coefficient may be
	// infinite" says; the fit is still returned and Converged reports the loglik criterion.
	Infinite []string
	// Warnings holds R's warnings for this fit, in R's words, for display.
	Warnings []string
	// Ridge is the penalty of a penalized fit (CoxOptions.Ridge), nil otherwise. Then LogLik is
	// the unpenalized ℓ(β̂), Penalty θ/2 Σ w β̂², Vcov (and SE) the inverse of the penalized
	// information (R's var, "se(coef)"), Vcov2 and SE2 R's var2 ("se2"), and DFEffective R's
	// df, on which LRT is tested.
	Ridge       *Ridge
	Penalty     float64
	Vcov2, SE2  []float64
	DFEffective float64
}

// constantTol is the relative variance (information over uncentered second moment) below
// which a covariate counts as constant in every risk set when its contribution was computed
// without centring (pooled form). Rounding of the uncentered sums leaves a relative residue of
// order n·ε; a genuine covariate with a coefficient of variation above ~1e-4 passes.
var constantTol = math.Sqrt(0x1p-52)

// FitCox fits a Cox proportional hazards model by Newton–Raphson on the log partial likelihood
// that eval returns, exactly as R's coxph (survival's coxfit6; Therneau & Grambsch 2000, §3):
//
//   - start at β = 0; the score test U(0)' I(0)⁻ U(0) comes from that evaluation;
//   - next β = β + I(β)⁻ U(β), I = −H; iteration k evaluates ℓ at the new β;
//   - it has converged when |1 − ℓ_best/ℓ_new| ≤ Eps, ℓ_best being the largest loglik so far;
//   - otherwise, if ℓ_new < ℓ_best (or anything is not finite) the step is halved towards the
//     last good β (with h halvings in a row: β_new = (β_new + h β)/(h + 1)), else it is accepted;
//   - when the evaluation at β = 0 carries a CoefBound (the sites' cap), a step beyond it is cut
//     back to it; a fit that ends on the bound with the likelihood still rising outward is
//     reported with an error wrapping ErrBeyondBound and the terms in Infinite (a fit that never
//     reaches the bound takes R's path exactly);
//   - after MaxIter iterations it stops: the fit at the last good β is returned with
//     Converged = false and an error wrapping ErrNotConverged.
//
// Like R, the problem is solved in scaled coordinates (here each covariate is scaled by the
// square root of its information at β = 0, R uses its mean absolute deviation), where a
// generalized Cholesky decomposition drops a term whose pivot is below TolerChol times the
// largest diagonal element: such terms (constant, or collinear with earlier terms) keep β = 0,
// are reported in NotEstimable and get NaN estimates, as R reports NA.
//
// Differences from R, on purpose: when the fit does not converge, R reports fit$iter =
// iter.max + 1 and a variance that is only the inverse of the information's diagonal; FitCox
// reports Iterations = MaxIter and the full inverse at the returned β.
//
// An error from eval aborts the fit (nil fit, the error wrapped). No events returns ErrNoEvents.
// p < 1 or Terms of the wrong length panic.
func FitCox(eval CoxEvaluator, p int, opts CoxOptions) (*CoxFit, error) {
	if eval == nil {
		panic("analysis: FitCox: nil evaluator")
	}
	return FitCoxSteps(func(beta []float64) (CoxContribution, func() (CoxContribution, error), error) {
		c, err := eval(beta)
		return c, func() (CoxContribution, error) { return c, nil }, err
	}, p, opts)
}

// FitCoxSteps is FitCox with an evaluator whose Hessian is fetched apart (CoxStepEvaluator):
// it takes the same path as FitCox with the full evaluator, bit for bit, and asks for the
// Hessian only where that path uses it. A step that FitCox halves because its Hessian is not
// finite is halved here too, after the Hessian was fetched.
func FitCoxSteps(eval CoxStepEvaluator, p int, opts CoxOptions) (*CoxFit, error) {
	if p < 1 {
		panic(fmt.Sprintf("analysis: FitCox: p = %d covariates", p))
	}
	if eval == nil {
		panic("analysis: FitCox: nil evaluator")
	}
	terms := opts.Terms
	if terms == nil {
		terms = make([]string, p)
		for j := range terms {
			terms[j] = fmt.Sprintf("x%d", j+1)
		}
	}
	if len(terms) != p {
		panic(fmt.Sprintf("analysis: FitCox: %d terms for p = %d", len(terms), p))
	}
	maxIter := opts.MaxIter
	if maxIter <= 0 {
		maxIter = 20
	}
	eps := opts.Eps
	if eps <= 0 {
		eps = 1e-9
	}
	toler := opts.TolerChol
	if toler <= 0 {
		toler = math.Pow(0x1p-52, 0.75)
	}
	tolerInf := opts.TolerInf
	if tolerInf <= 0 {
		tolerInf = math.Sqrt(eps)
	}

	if opts.Ridge != nil {
		if err := opts.Ridge.check(p); err != nil {
			return nil, err
		}
		eval = opts.Ridge.penalized(eval)
	}
	fs := &coxFitState{eval: eval, p: p, toler: toler, betaOrig: make([]float64, p), terms: terms}
	beta := make([]float64, p) // scaled coordinates
	c0, err := fs.evaluateFull(beta, 0)
	if err != nil {
		return nil, err
	}
	if c0.Events == 0 {
		return nil, ErrNoEvents
	}
	if math.IsNaN(c0.LogLik) || math.IsInf(c0.LogLik, 0) {
		return nil, fmt.Errorf("analysis: cox: log-likelihood at β = 0 is %v", c0.LogLik)
	}
	fs.setScale(c0)
	if err := fs.setBound(c0.CoefBound); err != nil {
		return nil, err
	}
	sys0 := fs.system(c0)

	fit := &CoxFit{Terms: terms, N: c0.N, Events: c0.Events, LogLik0: c0.LogLik}
	if sys0.finite && len(sys0.kept) == 0 {
		// No term has any information (all constant, or a single subject): R's first Newton
		// step is zero and it stops after one iteration with every coefficient NA. The second
		// evaluation would be at the same β, so it is skipped.
		fit.Iterations, fit.Converged, fit.LogLik = 1, true, c0.LogLik
		fs.finish(fit, sys0, c0, make([]float64, p), tolerInf, eps)
		fit.LRT, fit.Wald, fit.Score = chiSquareTest(0, 0), chiSquareTest(0, 0), chiSquareTest(0, 0)
		return fit, nil
	}
	a := sys0.solve(sys0.u)
	score := 0.0
	for i := range a {
		score += sys0.u[i] * a[i]
	}

	llBest := c0.LogLik
	newBeta := make([]float64, p)
	for i := range newBeta {
		newBeta[i] = beta[i] + a[i]
	}
	fs.clamp(newBeta)
	halving := 0
	var final *coxSystem
	var finalC CoxContribution
	converged := false
	iter := 1
	for ; iter <= maxIter; iter++ {
		c, complete, err := fs.evaluateRaw(newBeta, iter)
		if err != nil {
			return nil, err
		}
		newLL := c.LogLik
		finite := allFiniteValues(c.Gradient) && !math.IsNaN(newLL) && !math.IsInf(newLL, 0)
		var sys *coxSystem
		if finite && (math.Abs(1-llBest/newLL) <= eps || newLL >= llBest) {
			// Converged or accepted: the path needs the Hessian at this β.
			if c, err = fs.complete(complete, iter); err != nil {
				return nil, err
			}
			sys = fs.system(c)
			finite = sys.finite
		}
		if finite && math.Abs(1-llBest/newLL) <= eps {
			copy(beta, newBeta)
			final, finalC, converged = sys, c, true
			break
		}
		if !finite || newLL < llBest {
			halving++
			h := float64(halving)
			for i := range newBeta {
				newBeta[i] = (newBeta[i] + h*beta[i]) / (h + 1)
			}
			continue
		}
		halving = 0
		llBest = newLL
		step := sys.solve(sys.u)
		for i := range newBeta {
			beta[i] = newBeta[i]
			newBeta[i] += step[i]
		}
		fs.clamp(newBeta)
	}
	if !converged {
		iter = maxIter
		c, err := fs.evaluateFull(beta, iter+1)
		if err != nil {
			return nil, err
		}
		final, finalC = fs.system(c), c
	}
	fit.Iterations = iter
	fit.Converged = converged
	fit.LogLik = finalC.LogLik
	fs.finish(fit, final, finalC, beta, tolerInf, eps)

	df := p - len(fit.NotEstimable)
	fit.LRT = chiSquareTest(2*(fit.LogLik-fit.LogLik0), df)
	fit.Score = chiSquareTest(score, df)
	fit.Wald = chiSquareTest(fs.wald(final, beta), df)
	if opts.Ridge != nil {
		opts.Ridge.finish(fit)
	}
	if err := fs.beyondBound(fit, finalC, beta); err != nil {
		return fit, err
	}
	if !converged {
		fit.Warnings = append(fit.Warnings, "Ran out of iterations and did not converge")
		return fit, fmt.Errorf("%w after %d iterations (relative change in loglik above %g)", ErrNotConverged, maxIter, eps)
	}
	return fit, nil
}

// setBound fixes the bound of each coefficient in scaled coordinates from the evaluator's
// CoefBound (nil: none), a hair inside it so that the original-scale β sent never exceeds it by
// a rounding.
func (fs *coxFitState) setBound(bound []float64) error {
	if bound == nil {
		return nil
	}
	if len(bound) != fs.p {
		return fmt.Errorf("analysis: cox: %d coefficient bounds for p = %d", len(bound), fs.p)
	}
	fs.bound = make([]float64, fs.p)
	for j, b := range bound {
		if !(b > 0) {
			return fmt.Errorf("analysis: cox: coefficient bound %v of %s is not positive", b, fs.terms[j])
		}
		fs.bound[j] = b * (1 - 1e-9) / fs.scale[j]
	}
	return nil
}

// clamp brings each coefficient of the scaled beta into its bound (a Newton step that
// overshoots it is cut back to it; the step-halving that follows stays inside, as it averages
// points inside).
func (fs *coxFitState) clamp(beta []float64) {
	if fs.bound == nil {
		return
	}
	for j, b := range fs.bound {
		beta[j] = math.Max(-b, math.Min(b, beta[j]))
	}
}

// beyondBound reports the terms whose coefficient ended on its bound with the score still
// pointing outward: the likelihood keeps increasing beyond what the sites answer, so the
// estimate is infinite (or at least beyond the bound). They are added to fit.Infinite, the fit
// is marked not converged and the error wraps ErrBeyondBound.
func (fs *coxFitState) beyondBound(fit *CoxFit, c CoxContribution, betaScaled []float64) error {
	if fs.bound == nil {
		return nil
	}
	var terms []string
	for j, b := range fs.bound {
		if fs.zeroInfo[j] || math.Abs(betaScaled[j]) < b*(1-1e-6) || c.Gradient[j]*betaScaled[j] <= 0 {
			continue
		}
		terms = append(terms, fmt.Sprintf("%s (|β| ≤ %.4g)", fit.Terms[j], b*fs.scale[j]/(1-1e-9)))
		if !slices.Contains(fit.Infinite, fit.Terms[j]) {
			fit.Infinite = append(fit.Infinite, fit.Terms[j])
		}
	}
	if terms == nil {
		return nil
	}
	fit.Converged = false
	msg := fmt.Sprintf("the coefficient of %s reached the largest value the sites answer and the likelihood still increases beyond it: the estimate is infinite (monotone likelihood: a level without events, or a covariate that separates the events) or at least beyond the sites' cap; drop or merge the covariate", strings.Join(terms, ", "))
	fit.Warnings = append(fit.Warnings, msg)
	return fmt.Errorf("%w: %s", ErrBeyondBound, msg)
}

// chiSquareTest returns the test with its upper-tail p-value; with df = 0 (nothing estimable)
// the p-value is 1, as R prints it.
func chiSquareTest(stat float64, df int) Test {
	t := Test{Stat: stat, DF: df, P: 1}
	if df > 0 {
		t.P = distuv.ChiSquared{K: float64(df)}.Survival(stat)
	}
	return t
}

// coxFitState holds what stays fixed during a fit: the scaling and the terms that have no
// information at all.
type coxFitState struct {
	eval     CoxStepEvaluator
	p        int
	toler    float64
	scale    []float64 // original β_j = scaled β_j × scale_j
	bound    []float64 // |scaled β_j| ≤ bound_j; nil: unbounded
	terms    []string
	zeroInfo []bool
	betaOrig []float64
}

// evaluateRaw calls eval at the scaled beta and validates the shape of ℓ and U.
func (fs *coxFitState) evaluateRaw(betaScaled []float64, iter int) (CoxContribution, func() (CoxContribution, error), error) {
	for j, b := range betaScaled {
		s := 1.0
		if fs.scale != nil {
			s = fs.scale[j]
		}
		fs.betaOrig[j] = b * s
	}
	c, complete, err := fs.eval(fs.betaOrig)
	if err != nil {
		return c, nil, fmt.Errorf("analysis: cox: iteration %d: %w", iter, err)
	}
	if len(c.Gradient) != fs.p {
		return c, nil, fmt.Errorf("analysis: cox: iteration %d: contribution has %d gradient values for p = %d", iter, len(c.Gradient), fs.p)
	}
	return c, complete, nil
}

// complete fetches the Hessian of the last evaluation and validates the shape of the answer.
func (fs *coxFitState) complete(complete func() (CoxContribution, error), iter int) (CoxContribution, error) {
	c, err := complete()
	if err != nil {
		return c, fmt.Errorf("analysis: cox: iteration %d: %w", iter, err)
	}
	if len(c.Gradient) != fs.p || len(c.Hessian) != fs.p*fs.p {
		return c, fmt.Errorf("analysis: cox: iteration %d: contribution has %d gradient and %d Hessian values for p = %d", iter, len(c.Gradient), len(c.Hessian), fs.p)
	}
	return c, nil
}

// evaluateFull evaluates ℓ, U and the Hessian at the scaled beta.
func (fs *coxFitState) evaluateFull(betaScaled []float64, iter int) (CoxContribution, error) {
	_, complete, err := fs.evaluateRaw(betaScaled, iter)
	if err != nil {
		return CoxContribution{}, err
	}
	return fs.complete(complete, iter)
}

// setScale fixes the scaling from the information at β = 0 and marks the terms without any
// information (constant in every risk set).
func (fs *coxFitState) setScale(c0 CoxContribution) {
	p := fs.p
	fs.scale = make([]float64, p)
	fs.zeroInfo = make([]bool, p)
	for j := 0; j < p; j++ {
		d := -c0.Hessian[j*p+j]
		fs.scale[j] = 1
		switch {
		case !(d > 0) || math.IsInf(d, 0):
			fs.zeroInfo[j] = true
		case c0.SecondMoment != nil && len(c0.SecondMoment) == p && d <= constantTol*c0.SecondMoment[j]:
			fs.zeroInfo[j] = true
		default:
			fs.scale[j] = 1 / math.Sqrt(d)
		}
	}
}

// coxSystem is the Newton–Raphson system at one β in scaled coordinates: score u and
// information imat, with the terms the generalized Cholesky keeps.
type coxSystem struct {
	u      []float64
	imat   []float64
	kept   []int // indices of the kept terms
	chol   mat.Cholesky
	lu     *mat.LU // fallback when the kept block is numerically not positive definite
	finite bool
}

func (fs *coxFitState) system(c CoxContribution) *coxSystem {
	p := fs.p
	sys := &coxSystem{u: make([]float64, p), imat: make([]float64, p*p), finite: true}
	for i := 0; i < p; i++ {
		if fs.zeroInfo[i] {
			continue
		}
		sys.u[i] = c.Gradient[i] * fs.scale[i]
		for j := 0; j < p; j++ {
			if fs.zeroInfo[j] {
				continue
			}
			sys.imat[i*p+j] = -c.Hessian[i*p+j] * fs.scale[i] * fs.scale[j]
		}
	}
	for _, v := range sys.u {
		if math.IsNaN(v) || math.IsInf(v, 0) {
			sys.finite = false
		}
	}
	for _, v := range sys.imat {
		if math.IsNaN(v) || math.IsInf(v, 0) {
			sys.finite = false
		}
	}
	if !sys.finite {
		return sys
	}
	sys.kept = keptTerms(sys.imat, p, fs.toler)
	k := len(sys.kept)
	if k == 0 {
		return sys
	}
	sub := mat.NewSymDense(k, nil)
	for a, i := range sys.kept {
		for b := a; b < k; b++ {
			sub.SetSym(a, b, sys.imat[i*p+sys.kept[b]])
		}
	}
	if !sys.chol.Factorize(sub) {
		sys.lu = new(mat.LU)
		sys.lu.Factorize(sub)
	}
	return sys
}

// keptTerms runs a Cholesky (LDL') factorization of the symmetric p×p matrix a that skips a
// column whose pivot is not finite or below toler × the largest diagonal element, and returns
// the columns it kept (R's cholesky2 rule, which decides what coxph reports as NA). gonum's
// Cholesky has no such rank-revealing mode, hence this loop; solves use gonum on the kept block.
func keptTerms(a []float64, p int, toler float64) []int {
	m := make([]float64, p*p)
	copy(m, a)
	largest := 0.0
	for i := 0; i < p; i++ {
		largest = math.Max(largest, m[i*p+i])
	}
	if largest == 0 {
		return nil
	}
	limit := largest * toler
	var kept []int
	for i := 0; i < p; i++ {
		pivot := m[i*p+i]
		if math.IsNaN(pivot) || math.IsInf(pivot, 0) || pivot < limit {
			continue
		}
		kept = append(kept, i)
		for j := i + 1; j < p; j++ {
			l := m[j*p+i] / pivot
			for k := j; k < p; k++ {
				m[k*p+j] -= l * m[k*p+i]
			}
		}
	}
	return kept
}

// solve returns I⁻ v: the solution on the kept terms, zero for the dropped ones.
func (sys *coxSystem) solve(v []float64) []float64 {
	p := len(v)
	out := make([]float64, p)
	k := len(sys.kept)
	if k == 0 || !sys.finite {
		return out
	}
	rhs := mat.NewVecDense(k, nil)
	for a, i := range sys.kept {
		rhs.SetVec(a, v[i])
	}
	var x mat.VecDense
	var err error
	if sys.lu != nil {
		err = sys.lu.SolveVecTo(&x, false, rhs)
	} else {
		err = sys.chol.SolveVecTo(&x, rhs)
	}
	if err != nil {
		return out
	}
	for a, i := range sys.kept {
		out[i] = x.AtVec(a)
	}
	return out
}

// inverse returns I⁻ (p×p, zero rows and columns for dropped terms) in scaled coordinates.
func (sys *coxSystem) inverse(p int) []float64 {
	out := make([]float64, p*p)
	k := len(sys.kept)
	if k == 0 || !sys.finite {
		return out
	}
	var inv mat.Dense
	if sys.lu != nil {
		if err := inv.Inverse(sys.lu); err != nil {
			return out
		}
	} else {
		var s mat.SymDense
		if err := sys.chol.InverseTo(&s); err != nil {
			return out
		}
		inv.CloneFrom(&s)
	}
	for a, i := range sys.kept {
		for b, j := range sys.kept {
			out[i*p+j] = inv.At(a, b)
		}
	}
	return out
}

// finish fills coefficients, variance, Wald statistics and R's warnings from the final system.
func (fs *coxFitState) finish(fit *CoxFit, sys *coxSystem, c CoxContribution, betaScaled []float64, tolerInf, eps float64) {
	p := fs.p
	varS := sys.inverse(p)
	kept := make([]bool, p)
	for _, i := range sys.kept {
		kept[i] = true
	}
	fit.Coef = make([]float64, p)
	fit.SE = make([]float64, p)
	fit.HR = make([]float64, p)
	fit.Lower = make([]float64, p)
	fit.Upper = make([]float64, p)
	fit.Z = make([]float64, p)
	fit.P = make([]float64, p)
	fit.Vcov = make([]float64, p*p)
	z975 := distuv.UnitNormal.Quantile(0.975)
	for i := 0; i < p; i++ {
		for j := 0; j < p; j++ {
			if kept[i] && kept[j] {
				fit.Vcov[i*p+j] = varS[i*p+j] * fs.scale[i] * fs.scale[j]
			} else {
				fit.Vcov[i*p+j] = math.NaN()
			}
		}
		if !kept[i] {
			fit.NotEstimable = append(fit.NotEstimable, fit.Terms[i])
			for _, s := range []*[]float64{&fit.Coef, &fit.SE, &fit.HR, &fit.Lower, &fit.Upper, &fit.Z, &fit.P} {
				(*s)[i] = math.NaN()
			}
			continue
		}
		b := betaScaled[i] * fs.scale[i]
		se := math.Sqrt(fit.Vcov[i*p+i])
		fit.Coef[i] = b
		fit.SE[i] = se
		fit.HR[i] = math.Exp(b)
		fit.Lower[i] = math.Exp(b - z975*se)
		fit.Upper[i] = math.Exp(b + z975*se)
		fit.Z[i] = b / se
		fit.P[i] = 2 * distuv.UnitNormal.Survival(math.Abs(fit.Z[i]))
	}
	if !fit.Converged {
		return
	}
	// R's check for a monotone likelihood: the remaining Newton step |U' V| is not negligible
	// relative to the coefficient although the loglik no longer moves.
	var infinite []string
	var positions []string
	for j := 0; j < p; j++ {
		if !kept[j] {
			continue
		}
		step := 0.0
		for i := 0; i < p; i++ {
			if kept[i] {
				step += c.Gradient[i] * fit.Vcov[i*p+j]
			}
		}
		step = math.Abs(step)
		g := c.Gradient[j]
		if math.IsNaN(g) || math.IsInf(g, 0) || (step > eps && step > tolerInf*math.Abs(fit.Coef[j])) {
			infinite = append(infinite, fit.Terms[j])
			positions = append(positions, fmt.Sprint(j+1))
		}
	}
	if len(infinite) > 0 {
		fit.Infinite = infinite
		fit.Warnings = append(fit.Warnings, fmt.Sprintf("Loglik converged before variable %s (%s); coefficient may be infinite.",
			strings.Join(positions, ","), strings.Join(infinite, ", ")))
	}
}

// wald returns β̂' V⁻¹ β̂ over the estimable terms, V⁻¹ being the information at β̂.
func (fs *coxFitState) wald(sys *coxSystem, betaScaled []float64) float64 {
	p := fs.p
	w := 0.0
	for _, i := range sys.kept {
		for _, j := range sys.kept {
			w += betaScaled[i] * sys.imat[i*p+j] * betaScaled[j]
		}
	}
	return w
}
