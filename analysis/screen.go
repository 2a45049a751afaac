package analysis

import (
	"errors"
	"fmt"
	"math"
	"slices"
	"sort"

	"gonum.org/v1/gonum/mat"
	"gonum.org/v1/gonum/stat/distuv"
)

// The statistics of a biomarker screen: one Cox model per candidate marker, the joint Wald
// test of the marker's terms, Benjamini–Hochberg q-values over the markers tested, and the
// heterogeneity of the marker's effect across sites. analysis/testdata/r/screen_goldens.R
// checks each against R (coxph, p.adjust, metafor).

// ErrNotEstimable is returned by JointWald when a term of the marker has no estimate (R
// reports NA): the marker is not a test.
var ErrNotEstimable = errors.New("analysis: a term of the marker is not estimable")

// JointWald returns the Wald test of H0: β_T = 0 over the terms T (indexes into fit.Terms),
//
//	W = β̂_T' (V_TT)⁻¹ β̂_T ~ χ²_|T|,
//
// V_TT being the block of the fit's variance over T; with one term it is the square of the
// term's z. In R: b <- coef(fit)[T]; drop(t(b) %*% solve(vcov(fit)[T, T], b)). A term that
// is not estimable (NaN coefficient or variance) or a block that is not positive definite
// returns ErrNotEstimable. An empty or out-of-range T panics.
func JointWald(fit *CoxFit, terms []int) (Test, error) {
	q := len(terms)
	if q == 0 {
		panic("analysis: JointWald: no terms")
	}
	p := len(fit.Coef)
	b := make([]float64, q)
	v := mat.NewSymDense(q, nil)
	for a, i := range terms {
		if i < 0 || i >= p {
			panic(fmt.Sprintf("analysis: JointWald: term %d of %d", i, p))
		}
		b[a] = fit.Coef[i]
		for c, j := range terms[:a+1] {
			v.SetSym(a, c, fit.Vcov[i*p+j])
		}
	}
	for a := range b {
		if math.IsNaN(b[a]) || math.IsInf(b[a], 0) || !(v.At(a, a) > 0) || math.IsInf(v.At(a, a), 0) {
			return Test{}, ErrNotEstimable
		}
	}
	var ch mat.Cholesky
	if !ch.Factorize(v) {
		return Test{}, ErrNotEstimable
	}
	var x mat.VecDense
	if err := ch.SolveVecTo(&x, mat.NewVecDense(q, b)); err != nil {
		return Test{}, ErrNotEstimable
	}
	return chiSquareTest(mat.Dot(mat.NewVecDense(q, b), &x), q), nil
}

// BenjaminiHochberg returns the Benjamini–Hochberg (1995) adjusted p-values (q-values) of p,
// as R's p.adjust(p, "BH"): with the m non-NaN p-values sorted, p_(1) ≤ … ≤ p_(m),
//
//	q_(i) = min_{j ≥ i} min(1, m p_(j) / j).
//
// NaN entries (markers that are not a test) get NaN and do not count in m.
func BenjaminiHochberg(p []float64) []float64 {
	q := make([]float64, len(p))
	var idx []int
	for i, x := range p {
		if math.IsNaN(x) {
			q[i] = math.NaN()
			continue
		}
		idx = append(idx, i)
	}
	m := len(idx)
	sort.SliceStable(idx, func(a, b int) bool { return p[idx[a]] < p[idx[b]] })
	run := 1.0
	for k := m - 1; k >= 0; k-- {
		i := idx[k]
		run = math.Min(run, float64(m)*p[i]/float64(k+1))
		q[i] = run
	}
	return q
}

// OneStep returns one site's estimate of the terms T of a model fitted on every site,
// without fitting the site alone: one Newton step of the site's own partial likelihood from
// the pooled estimate β̂,
//
//	θ_s = β̂ + I_s(β̂)⁻¹ U_s(β̂),  Var(θ_s) = I_s(β̂)⁻¹,  I_s = −H_s,
//
// restricted to T (the coefficients and the T×T block). c is the site's contribution at β̂
// (a site-stratified fit's last round holds it, so the per-site view costs no query). A
// site whose information is singular (a marker level it does not hold) returns an error.
// In R: f <- coxph(formula, data = site, init = b, iter.max = 0); b + f$var %*%
// colSums(residuals(f, "score")).
func OneStep(beta []float64, c CoxContribution, terms []int) (est, cov []float64, err error) {
	p := len(beta)
	if len(c.Gradient) != p || len(c.Hessian) != p*p {
		panic(fmt.Sprintf("analysis: OneStep: contribution of %d terms for β of %d", len(c.Gradient), p))
	}
	info := mat.NewSymDense(p, nil)
	for i := 0; i < p; i++ {
		for j := 0; j <= i; j++ {
			info.SetSym(i, j, -c.Hessian[i*p+j])
		}
	}
	var ch mat.Cholesky
	if !ch.Factorize(info) || ch.Cond() > 1e12 {
		return nil, nil, errors.New("the site's information is singular (a term does not vary there)")
	}
	var inv mat.SymDense
	if err := ch.InverseTo(&inv); err != nil {
		return nil, nil, errors.New("the site's information is singular (a term does not vary there)")
	}
	step := mat.NewVecDense(p, nil)
	step.MulVec(&inv, mat.NewVecDense(p, slices.Clone(c.Gradient)))
	q := len(terms)
	est = make([]float64, q)
	cov = make([]float64, q*q)
	for a, i := range terms {
		est[a] = beta[i] + step.AtVec(i)
		for b, j := range terms {
			cov[a*q+b] = inv.At(i, j)
		}
	}
	return est, cov, nil
}

// MarkerHeterogeneity is the heterogeneity across sites of a marker's effect.
type MarkerHeterogeneity struct {
	Sites []string
	// Q is Cochran's Q, with DF = (k − 1)·|T| degrees of freedom and QP = P(χ²_DF ≥ Q); I2 =
	// 100%·max(0, (Q − DF)/Q). Tau2 is the DerSimonian–Laird τ² for a one-term marker and
	// NaN for a marker of several terms (a between-site covariance matrix has no one τ²).
	Q, QP, I2, Tau2 float64
	DF              int
}

// SiteTerms is one site's estimate of a marker's terms with its covariance (|T|×|T|).
type SiteTerms struct {
	Site string
	Est  []float64
	Cov  []float64
}

// HeterogeneityOf returns the heterogeneity of a marker's effect over the sites' estimates.
// One term: MetaAnalyze (metafor::rma, method "DL"). Several terms: the multivariate Q
// (Jackson, White & Riley 2012) about the fixed-effect pooled estimate θ̂ = (Σ V_s⁻¹)⁻¹ Σ V_s⁻¹
// θ_s,
//
//	Q = Σ_s (θ_s − θ̂)' V_s⁻¹ (θ_s − θ̂),  DF = (k − 1)·|T|,
//
// as metafor::rma.mv(yi, V, mods = ~ term − 1, method = "FE") reports it (QE), and I² =
// 100%·max(0, (Q − DF)/Q). Fewer than two sites give ErrNoUsableSite.
func HeterogeneityOf(sites []SiteTerms) (MarkerHeterogeneity, error) {
	h := MarkerHeterogeneity{Tau2: math.NaN()}
	if len(sites) < 2 {
		return h, ErrNoUsableSite
	}
	q := len(sites[0].Est)
	for _, s := range sites {
		h.Sites = append(h.Sites, s.Site)
	}
	if q == 1 {
		est := make([]SiteEstimate, len(sites))
		for i, s := range sites {
			est[i] = SiteEstimate{Site: s.Site, Estimate: s.Est[0], SE: math.Sqrt(s.Cov[0])}
		}
		m, err := MetaAnalyze(est, 0.95)
		if err != nil {
			return h, err
		}
		h.Q, h.QP, h.I2, h.Tau2, h.DF = m.Q, m.QP, m.I2, m.Tau2, m.DF
		return h, nil
	}
	winv := make([]*mat.SymDense, len(sites))
	sumW := mat.NewSymDense(q, nil)
	sumWx := mat.NewVecDense(q, nil)
	for i, s := range sites {
		var ch mat.Cholesky
		if !ch.Factorize(mat.NewSymDense(q, slices.Clone(s.Cov))) {
			return h, fmt.Errorf("analysis: heterogeneity: site %s: covariance not positive definite", s.Site)
		}
		winv[i] = mat.NewSymDense(q, nil)
		if err := ch.InverseTo(winv[i]); err != nil {
			return h, err
		}
		sumW.AddSym(sumW, winv[i])
		var wx mat.VecDense
		wx.MulVec(winv[i], mat.NewVecDense(q, s.Est))
		sumWx.AddVec(sumWx, &wx)
	}
	var ch mat.Cholesky
	if !ch.Factorize(sumW) {
		return h, errors.New("analysis: heterogeneity: pooled information not positive definite")
	}
	var pooled mat.VecDense
	if err := ch.SolveVecTo(&pooled, sumWx); err != nil {
		return h, err
	}
	for i, s := range sites {
		d := mat.NewVecDense(q, nil)
		d.SubVec(mat.NewVecDense(q, s.Est), &pooled)
		h.Q += mat.Inner(d, winv[i], d)
	}
	h.DF = (len(sites) - 1) * q
	h.QP = distuv.ChiSquared{K: float64(h.DF)}.Survival(h.Q)
	if h.Q > 0 {
		h.I2 = 100 * math.Max(0, (h.Q-float64(h.DF))/h.Q)
	}
	return h, nil
}
