package dp

import (
	"math"
	"math/bits"

	"gonum.org/v1/gonum/mat"
)

// A strategy is the integer matrix R of a factorization mechanism (Li et al.
// 2010, "Optimizing linear counting queries under differential privacy"):
// the node releases y = R·x + z with z discrete Gaussian, and everything else
// (here: prefix sums) is computed from y by least squares, which is
// post-processing and costs no privacy. R is integer so that R·x and its
// change under one patient are integer vectors, which is what the discrete
// Gaussian's privacy guarantee covers (Canonne, Kamath & Steinke 2020,
// Theorem 15); its cost is ρ = max_j ‖R e_j‖² / (2σ²), the largest squared
// column norm, because one patient changes exactly one coordinate of x by 1.
type strategy struct {
	rows [][]int64 // m × T
}

func (st strategy) cols() int { return len(st.rows[0]) }

// sens2 is the largest squared column norm of R.
func (st strategy) sens2() int64 {
	best := int64(0)
	for j := range st.cols() {
		s := int64(0)
		for _, r := range st.rows {
			s += r[j] * r[j]
		}
		best = max(best, s)
	}
	return best
}

// apply returns R·x exactly.
func (st strategy) apply(x []int64) []int64 {
	y := make([]int64, len(st.rows))
	for i, r := range st.rows {
		for j, v := range r {
			y[i] += v * x[j]
		}
	}
	return y
}

// leastSquares returns x̂ = argmin ‖R x − y‖₂, the best linear unbiased
// estimate of x when the noise on y is independent with equal variance; for
// a square R it is R⁻¹y, for the tree it is the consistent estimate of Hay
// et al. (2010).
func (st strategy) leastSquares(y []int64) []float64 {
	m, n := len(st.rows), st.cols()
	if m == n && st.lowerTriangular() {
		return st.forwardSubstitute(y)
	}
	r := mat.NewDense(m, n, nil)
	for i, row := range st.rows {
		for j, v := range row {
			r.Set(i, j, float64(v))
		}
	}
	var ata mat.SymDense
	ata.SymOuterK(1, r.T())
	var chol mat.Cholesky
	if !chol.Factorize(&ata) {
		panic("dp: strategy matrix without full column rank")
	}
	yv := mat.NewVecDense(m, nil)
	for i, v := range y {
		yv.SetVec(i, float64(v))
	}
	var aty, x mat.VecDense
	aty.MulVec(r.T(), yv)
	if err := chol.SolveVecTo(&x, &aty); err != nil {
		panic("dp: least squares: " + err.Error())
	}
	return x.RawVector().Data
}

func (st strategy) lowerTriangular() bool {
	for i, r := range st.rows {
		if r[i] == 0 {
			return false
		}
		for _, v := range r[i+1:] {
			if v != 0 {
				return false
			}
		}
	}
	return true
}

// forwardSubstitute solves R x = y for square lower-triangular R in O(n²),
// without forming RᵀR (whose condition number is the square of R's).
func (st strategy) forwardSubstitute(y []int64) []float64 {
	x := make([]float64, len(y))
	for i, r := range st.rows {
		acc := float64(y[i])
		for j, v := range r[:i] {
			acc -= float64(v) * x[j]
		}
		x[i] = acc / float64(r[i])
	}
	return x
}

// identityStrategy noises every cell on its own: R = I, Δ² = 1.
func identityStrategy(n int) strategy {
	rows := make([][]int64, n)
	for i := range rows {
		rows[i] = make([]int64, n)
		rows[i][i] = 1
	}
	return strategy{rows}
}

// treeStrategy is the binary mechanism (Dwork et al. 2010; Chan, Shi & Song
// 2011): one row per dyadic interval of the (padded) index range, so every
// prefix sum is a sum of at most log₂ n noisy nodes. Each cell lies in
// h+1 nodes, Δ² = h+1 with h = ⌈log₂ n⌉.
func treeStrategy(n int) strategy {
	h := bits.Len(uint(n - 1))
	var rows [][]int64
	for level := 0; level <= h; level++ {
		width := 1 << level
		for lo := 0; lo < n; lo += width {
			row := make([]int64, n)
			for j := lo; j < min(lo+width, n); j++ {
				row[j] = 1
			}
			rows = append(rows, row)
		}
	}
	return strategy{rows}
}

// sqrtScale is the integer scale M of the square-root factorization; the
// rounding it causes changes R a little but not the privacy accounting,
// which uses the rounded integers themselves.
const sqrtScale = 1000

// sqrtStrategy is the square-root factorization of the prefix-sum matrix
// (Henzinger, Upadhyay & Upadhyay 2023; Fichtenberger, Henzinger &
// Upadhyay 2023): the lower-triangular all-ones matrix A = L·L with L
// lower-triangular Toeplitz, L_ij = c_{i−j}, c_k = C(2k, k)/4^k (the
// coefficients of (1 − x)^{−1/2}). Releasing L·x + z and multiplying by L
// gives every prefix sum with variance σ²·Σ_{k<i} c_k² ≈ σ²·(1 + ln(i)/π),
// while Δ² = Σ_{k<n} c_k² grows only like ln(n)/π: for n = 60 bins a prefix
// sum costs about 5σ₀² instead of up to 60σ₀² when every cell is noised
// alone. R = round(M·L), M = 1000.
func sqrtStrategy(n int) strategy {
	coef := make([]int64, n)
	c := 1.0
	for k := range n {
		if k > 0 {
			c *= float64(2*k-1) / float64(2*k)
		}
		coef[k] = int64(math.Round(sqrtScale * c))
	}
	rows := make([][]int64, n)
	for i := range rows {
		rows[i] = make([]int64, n)
		for j := 0; j <= i; j++ {
			rows[i][j] = coef[i-j]
		}
	}
	return strategy{rows}
}
