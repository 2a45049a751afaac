package analysis

import (
	"fmt"
	"math"
	"slices"

	"gonum.org/v1/gonum/stat/distuv"
)

// Ridge is an L2 penalty on the coefficients of a Cox model with a fixed θ, exactly R's
// coxph(Surv ~ ridge(x1, …, theta = θ, scale = …)) (survival's ridge.R, fitted by
// coxpenal.fit):
//
//	ℓ_p(β) = ℓ(β) − θ/2 Σ_j w_j β_j²,   U_p = U − θ w∘β,   H_p = H − θ diag(w),
//
// with w_j = 1 for scale = FALSE, and for scale = TRUE w_j the sample variance (n − 1
// denominator) of design column j, R's var(z[!is.na(z)]) (the variance, not the standard
// deviation, despite the option's name). The penalty is applied to the aggregate ℓ, U and H,
// so it is post-processing of whatever the data's holders released.
type Ridge struct {
	Theta float64
	// Scale holds w_j per design column; nil means 1 for every column (scale = FALSE).
	Scale []float64
}

// check validates r for p design columns.
func (r *Ridge) check(p int) error {
	if !(r.Theta >= 0) || math.IsInf(r.Theta, 0) {
		return fmt.Errorf("analysis: ridge: θ = %v is not a finite non-negative number", r.Theta)
	}
	if r.Scale != nil && len(r.Scale) != p {
		return fmt.Errorf("analysis: ridge: %d scale values for p = %d", len(r.Scale), p)
	}
	for j, w := range r.Scale {
		if !(w > 0) || math.IsInf(w, 0) {
			return fmt.Errorf("analysis: ridge: the scale of column %d is %v (a constant column has no variance to scale by)", j+1, w)
		}
	}
	return nil
}

func (r *Ridge) weight(j int) float64 {
	if r.Scale == nil {
		return 1
	}
	return r.Scale[j]
}

// Penalty returns θ/2 Σ w_j β_j², what the penalized log-likelihood subtracts (R's
// fit$penalty with the sign it prints).
func (r *Ridge) Penalty(beta []float64) float64 {
	s := 0.0
	for j, b := range beta {
		s += r.weight(j) * b * b
	}
	return r.Theta / 2 * s
}

// Penalize returns c with the penalty at beta applied to ℓ, U and (when present) H; c's slices
// are not modified.
func (r *Ridge) Penalize(c CoxContribution, beta []float64) CoxContribution {
	out := c
	out.LogLik = c.LogLik - r.Penalty(beta)
	if c.Gradient != nil {
		out.Gradient = slices.Clone(c.Gradient)
		for j := range out.Gradient {
			out.Gradient[j] -= r.Theta * r.weight(j) * beta[j]
		}
	}
	if c.Hessian != nil {
		p := len(beta)
		out.Hessian = slices.Clone(c.Hessian)
		for j := 0; j < p; j++ {
			out.Hessian[j*p+j] -= r.Theta * r.weight(j)
		}
	}
	return out
}

// penalized wraps eval so that every contribution it returns is penalized at its β.
func (r *Ridge) penalized(eval CoxStepEvaluator) CoxStepEvaluator {
	return func(beta []float64) (CoxContribution, func() (CoxContribution, error), error) {
		at := slices.Clone(beta)
		c, complete, err := eval(beta)
		if err != nil {
			return c, complete, err
		}
		var done func() (CoxContribution, error)
		if complete != nil {
			done = func() (CoxContribution, error) {
				full, err := complete()
				if err != nil {
					return full, err
				}
				return r.Penalize(full, at), nil
			}
		}
		return r.Penalize(c, at), done, nil
	}
}

// finishRidge turns the fit of the penalized likelihood into R's report of a penalized fit:
// LogLik is the unpenalized ℓ(β̂) (R's fit$loglik[2]) and Penalty θ/2 Σ w β̂²; Vcov stays the
// inverse of the penalized information H_p⁻¹ (R's fit$var, its "se(coef)"), Vcov2 and SE2 are
// H_p⁻¹ I H_p⁻¹ = V − θ V W V (R's fit$var2, "se2"); DFEffective is tr(I V) = p − θ tr(W V)
// (R's fit$df) and the likelihood-ratio test 2 (ℓ(β̂) − ℓ(0)) is on those degrees of freedom,
// as R prints it (its DF field rounds them). The Wald test is β̂' V⁻¹ β̂ with V = H_p⁻¹ (R's
// fit$wald.test), on the same degrees of freedom as R prints for it (the number of terms).
func (r *Ridge) finish(fit *CoxFit) {
	p := len(fit.Coef)
	fit.Ridge = r
	estimable := make([]bool, p)
	beta := make([]float64, p)
	for j := range fit.Coef {
		estimable[j] = !math.IsNaN(fit.Coef[j])
		if estimable[j] {
			beta[j] = fit.Coef[j]
		}
	}
	fit.Penalty = r.Penalty(beta)
	fit.LogLik += fit.Penalty
	v := fit.Vcov
	fit.Vcov2 = make([]float64, p*p)
	fit.SE2 = make([]float64, p)
	trace := 0.0
	for i := 0; i < p; i++ {
		for j := 0; j < p; j++ {
			if !estimable[i] || !estimable[j] {
				fit.Vcov2[i*p+j] = math.NaN()
				continue
			}
			s := 0.0
			for k := 0; k < p; k++ {
				if estimable[k] {
					s += v[i*p+k] * r.Theta * r.weight(k) * v[k*p+j]
				}
			}
			fit.Vcov2[i*p+j] = v[i*p+j] - s
		}
		if estimable[i] {
			fit.SE2[i] = math.Sqrt(fit.Vcov2[i*p+i])
			trace += r.Theta * r.weight(i) * v[i*p+i]
		} else {
			fit.SE2[i] = math.NaN()
		}
	}
	df := float64(fit.LRT.DF) - trace
	fit.DFEffective = df
	lrt := 2 * (fit.LogLik - fit.LogLik0)
	fit.LRT = Test{Stat: lrt, DF: int(math.Round(df)), P: 1}
	if df > 0 {
		fit.LRT.P = distuv.ChiSquared{K: df}.Survival(lrt)
	}
}

// RidgeCVPoint is one θ of a leave-one-site-out choice of the ridge penalty: for each site,
// the partial log-likelihood of its own patients at the β̂ fitted on all other sites with
// penalty θ (HeldOut, in the order of Sites), and their sum.
type RidgeCVPoint struct {
	Theta   float64
	Sites   []string
	HeldOut []float64
	Total   float64
}

// BestRidgeTheta returns the index of the point with the largest summed held-out partial
// log-likelihood (the first of equal ones, as R's which.max), the cross-validated choice of
// Verweij & van Houwelingen (1993) with sites as folds; -1 when no point has a finite total.
func BestRidgeTheta(curve []RidgeCVPoint) int {
	best := -1
	for i, pt := range curve {
		if math.IsNaN(pt.Total) || math.IsInf(pt.Total, 0) {
			continue
		}
		if best < 0 || pt.Total > curve[best].Total {
			best = i
		}
	}
	return best
}
