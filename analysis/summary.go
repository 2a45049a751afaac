package analysis

import (
	"fmt"
	"math"
	"slices"
	"sort"
	"strconv"

	"gonum.org/v1/gonum/mat"
)

// CellCount is a count as a site released it: exact, or suppressed by the site's small-cell
// rule and then known only to lie in an interval. Sums of counts keep that interval, so a
// merged total that includes a suppressed cell reads "at least N" (or "N–Max").
//
// Convert a released cell with ExactCount(n), or SuppressedCount(minCell) for a suppressed
// one (the true count is then in 1..minCell−1: a suppressed cell is never 0).
type CellCount struct {
	N          int  // the count; when Suppressed, a lower bound of the true count
	Suppressed bool // some part of the count was suppressed: the true count is in [N, Max]
	Max        int  // when Suppressed: an upper bound of the true count, 0 when unknown
}

// ExactCount returns the exact count n.
func ExactCount(n int) CellCount { return CellCount{N: n} }

// SuppressedCount returns a cell suppressed under the small-cell rule "counts 1..minCell−1 are
// not released": its true count is in [1, minCell−1]. minCell ≤ 1 leaves the upper bound unknown.
func SuppressedCount(minCell int) CellCount {
	c := CellCount{N: 1, Suppressed: true}
	if minCell > 1 {
		c.Max = minCell - 1
	}
	return c
}

// Exact reports whether c is an exact count.
func (c CellCount) Exact() bool { return !c.Suppressed }

// upper returns the upper bound of c and whether it is known.
func (c CellCount) upper() (int, bool) {
	if !c.Suppressed {
		return c.N, true
	}
	return c.Max, c.Max > 0
}

// Add returns c + d: lower bounds add, and upper bounds add when both are known.
func (c CellCount) Add(d CellCount) CellCount {
	s := CellCount{N: c.N + d.N, Suppressed: c.Suppressed || d.Suppressed}
	if s.Suppressed {
		cu, ok1 := c.upper()
		du, ok2 := d.upper()
		if ok1 && ok2 {
			s.Max = cu + du
		}
	}
	return s
}

// String renders c for a table: "12" when exact; "<5" for a single suppressed cell (the
// convention sites use: N = 1, Max = 4), and "<273" for any interval wider than its lower
// bound ("9–272" misreads as a number); "13–16" for a narrower sum with known bounds; "≥13"
// otherwise.
func (c CellCount) String() string {
	switch {
	case !c.Suppressed:
		return strconv.Itoa(c.N)
	case c.Max > 0 && (c.N <= 1 || c.Max-c.N > c.N):
		// An interval wider than its lower bound ("9–272") reads best as its bound alone.
		return "<" + strconv.Itoa(c.Max+1)
	case c.Max > 0:
		return strconv.Itoa(c.N) + "–" + strconv.Itoa(c.Max)
	default:
		return "≥" + strconv.Itoa(c.N)
	}
}

// VariableAggregate is what a site releases about one variable in one group (the analysis
// side of protocol.VariableSummary), or the merge of several such aggregates.
//
// For a numeric variable: N non-missing values with sums Σx and Σx², and counts on fixed
// histogram edges e_1 < … < e_m in m+1 cells (−∞, e_1), [e_1, e_2), …, [e_m, ∞). A site that
// suppressed N contributes no sums or histogram; MergeVariables counts its N in Unsummed.
type VariableAggregate struct {
	Name    string
	Numeric bool
	Missing CellCount

	// Categorical: count per category.
	Categories map[string]CellCount

	// Numeric.
	N         CellCount
	Sum       float64
	SumSq     float64
	Edges     []float64
	Histogram []CellCount // len(Edges)+1 cells
	// Unsummed counts the values in N that are not in Sum, SumSq and Histogram: those of
	// sites whose N was suppressed. Set by MergeVariables.
	Unsummed CellCount
}

// Validate reports the first inconsistency of a numeric or categorical aggregate: histogram
// length, edges not strictly increasing or not finite, negative counts, non-finite sums.
func (v VariableAggregate) Validate() error {
	if err := v.validate(); err != nil {
		return fmt.Errorf("analysis: %w", err)
	}
	return nil
}

// validate is Validate without the package prefix, for callers that add their own context.
func (v VariableAggregate) validate() error {
	neg := func(c CellCount) bool { return c.N < 0 || (c.Suppressed && c.Max != 0 && c.Max < c.N) }
	if neg(v.Missing) {
		return fmt.Errorf("variable %q: invalid missing count %+v", v.Name, v.Missing)
	}
	if !v.Numeric {
		for k, c := range v.Categories {
			if neg(c) {
				return fmt.Errorf("variable %q: category %q: invalid count %+v", v.Name, k, c)
			}
		}
		return nil
	}
	if neg(v.N) || neg(v.Unsummed) {
		return fmt.Errorf("variable %q: invalid count n=%+v unsummed=%+v", v.Name, v.N, v.Unsummed)
	}
	if math.IsNaN(v.Sum) || math.IsInf(v.Sum, 0) || math.IsNaN(v.SumSq) || math.IsInf(v.SumSq, 0) || v.SumSq < 0 {
		return fmt.Errorf("variable %q: sums Σx=%v Σx²=%v are not finite", v.Name, v.Sum, v.SumSq)
	}
	for i, e := range v.Edges {
		if math.IsNaN(e) || math.IsInf(e, 0) || (i > 0 && e <= v.Edges[i-1]) {
			return fmt.Errorf("variable %q: histogram edge %d (%v) not finite and increasing", v.Name, i, e)
		}
	}
	if v.Histogram != nil && len(v.Histogram) != len(v.Edges)+1 {
		return fmt.Errorf("variable %q: %d histogram cells for %d edges, want %d", v.Name, len(v.Histogram), len(v.Edges), len(v.Edges)+1)
	}
	for i, c := range v.Histogram {
		if neg(c) {
			return fmt.Errorf("variable %q: histogram cell %d: invalid count %+v", v.Name, i, c)
		}
	}
	return nil
}

// MergeVariables merges aggregates of the same variable from several sites (or groups)
// exactly: counts add (as CellCount intervals), Σx and Σx² add with Neumaier's compensated
// summation, histograms add cell by cell. Parts must agree on name, kind and histogram edges
// (compared exactly); a numeric part whose N is suppressed adds to N and Unsummed only, its
// sums and histogram are ignored (no site should release sums of a suppressed n).
func MergeVariables(parts []VariableAggregate) (VariableAggregate, error) {
	if len(parts) == 0 {
		return VariableAggregate{}, fmt.Errorf("analysis: MergeVariables: nothing to merge")
	}
	m := VariableAggregate{Name: parts[0].Name, Numeric: parts[0].Numeric}
	var sum, sumSq summaryNeumaier
	edgesSet, noHist := false, false
	for i, p := range parts {
		if err := p.validate(); err != nil {
			return VariableAggregate{}, fmt.Errorf("analysis: MergeVariables: part %d: %w", i, err)
		}
		if p.Name != m.Name || p.Numeric != m.Numeric {
			return VariableAggregate{}, fmt.Errorf("analysis: MergeVariables: part %d is %q (numeric %v), want %q (numeric %v)", i, p.Name, p.Numeric, m.Name, m.Numeric)
		}
		m.Missing = m.Missing.Add(p.Missing)
		if !m.Numeric {
			for k, c := range p.Categories {
				if m.Categories == nil {
					m.Categories = map[string]CellCount{}
				}
				m.Categories[k] = m.Categories[k].Add(c)
			}
			continue
		}
		m.N = m.N.Add(p.N)
		if p.N.Suppressed && !p.Unsummed.Suppressed {
			// A site's own suppressed n: its sums and histogram (if any) are not used. A merged
			// part with a suppressed N already carries the suppressed share in Unsummed.
			m.Unsummed = m.Unsummed.Add(p.N)
			continue
		}
		m.Unsummed = m.Unsummed.Add(p.Unsummed)
		sum.add(p.Sum)
		sumSq.add(p.SumSq)
		if p.Histogram == nil {
			if p.N.N-p.Unsummed.N > 0 {
				noHist = true
			}
			continue
		}
		if !edgesSet {
			m.Edges = append([]float64(nil), p.Edges...)
			m.Histogram = make([]CellCount, len(p.Histogram))
			edgesSet = true
		} else if !slices.Equal(m.Edges, p.Edges) {
			return VariableAggregate{}, fmt.Errorf("analysis: MergeVariables: variable %q: part %d has histogram edges %v, want %v", m.Name, i, p.Edges, m.Edges)
		}
		for j, c := range p.Histogram {
			m.Histogram[j] = m.Histogram[j].Add(c)
		}
	}
	if edgesSet && noHist {
		return VariableAggregate{}, fmt.Errorf("analysis: MergeVariables: variable %q: some parts with values have no histogram", m.Name)
	}
	m.Sum, m.SumSq = sum.value(), sumSq.value()
	return m, nil
}

// summaryNeumaier is Neumaier's improved Kahan summation (Neumaier 1974).
type summaryNeumaier struct{ s, c float64 }

func (k *summaryNeumaier) add(x float64) {
	t := k.s + x
	if math.Abs(k.s) >= math.Abs(x) {
		k.c += (k.s - t) + x
	} else {
		k.c += (x - t) + k.s
	}
	k.s = t
}

func (k *summaryNeumaier) value() float64 { return k.s + k.c }

// MeanSD returns the mean Σx/n and the sample standard deviation with the n − 1 denominator
// (R's sd) from n, Σx and Σx²:
//
//	s² = (n·Σx² − (Σx)²) / (n·(n − 1)).
//
// The textbook form loses digits to cancellation when the mean is large against the SD; here
// both products n·Σx² and (Σx)² are formed with their rounding errors (error-free
// transformations with math.FMA, Dekker 1971), so the difference is exact up to one rounding
// when the sums are exact (integer-valued data below 2^53) and the result agrees with R's
// two-pass sd to about 1e-15 relative. What cannot be recovered is the rounding already in a
// site's Σx²: its relative error ε·Σx² becomes ε·Σx²/((n−1)s²) ≈ ε·(1 + mean²/s²) relative in s².
// The mean is NaN when n < 1 and the SD is NaN when n < 2, or when n·Σx² < (Σx)² beyond
// rounding (noisy sums, which no data could give).
func MeanSD(n int, sum, sumSq float64) (mean, sd float64) {
	if n < 1 {
		return math.NaN(), math.NaN()
	}
	fn := float64(n)
	mean = sum / fn
	if n < 2 {
		return mean, math.NaN()
	}
	a := fn * sumSq
	ae := math.FMA(fn, sumSq, -a)
	b := sum * sum
	be := math.FMA(sum, sum, -b)
	num := (a - b) + (ae - be)
	if num < -1e-9*math.Abs(a) {
		// Beyond rounding: sums no data could give (a differentially private release's
		// independent noise on Σx and Σx²). The SD is not available.
		return mean, math.NaN()
	}
	if num < 0 {
		num = 0 // only rounding can make it negative: all values equal
	}
	return mean, math.Sqrt(num / (fn * (fn - 1)))
}

// BinnedQuantile is a quantile interpolated from a histogram, with the interval that is sure
// to hold the exact sample quantile of R's default definition (quantile type 7).
type BinnedQuantile struct {
	P     float64 // probability in [0, 1]
	Value float64 // ogive-interpolated quantile; NaN when not available (see HistogramQuantile)
	Lower float64 // the exact type-7 sample quantile is in [Lower, Upper]; ±Inf at open ends
	Upper float64
}

// HistogramQuantile returns the p-quantile of n values binned on edges e_1 < … < e_m into the
// m+1 cells (−∞, e_1), [e_1, e_2), …, [e_m, ∞) with the given counts (cell k is [lo_k, hi_k)).
//
// Interpolation rule (the ogive, or "grouped median", rule of textbooks; Python's
// statistics.median_grouped for p = ½): the cumulative count is taken to rise linearly across
// each cell, from C_{k−1} at its lower edge to C_k at its upper edge, and the quantile is the
// leftmost point where it reaches p·n:
//
//	k = the first cell with C_k ≥ p·n,  Q(p) = lo_k + (p·n − C_{k−1}) / c_k · (hi_k − lo_k).
//
// p = 0 gives the lower edge of the first non-empty cell and p = 1 the upper edge of the last.
// Value is NaN when that cell is open (below the first edge or at or above the last), when
// any count is suppressed, or when n = 0.
//
// Error bound: R's quantile(x, p) (type 7) interpolates the order statistics of ranks ⌊h⌋ and
// ⌈h⌉, h = 1 + (n − 1)p, so it lies in [Lower, Upper] = [lower edge of the cell holding rank
// ⌊h⌋, upper edge of the cell holding rank ⌈h⌉]; since p·n ∈ [h − 1, h], Value lies there too.
// So |Value − quantile(x, p)| ≤ Upper − Lower: one bin width when both ranks fall in the same
// cell (the usual case), the span of the cells from one to the other otherwise.
//
// Suppressed cells: n must still be the exact number of values (a site's exact N). Then the
// cumulative counts are only known to lie in intervals, Value is NaN, and [Lower, Upper] bounds
// the exact quantile over every completion of the counts consistent with the cell intervals
// and n. When n is outside [Σ lower bounds, Σ upper bounds] everything is NaN.
//
// HistogramQuantile panics if p is not in [0, 1] or len(counts) != len(edges)+1.
func HistogramQuantile(edges []float64, counts []CellCount, n int, p float64) BinnedQuantile {
	if !(p >= 0 && p <= 1) {
		panic(fmt.Sprintf("analysis: HistogramQuantile: p = %v not in [0, 1]", p))
	}
	if len(counts) != len(edges)+1 {
		panic(fmt.Sprintf("analysis: HistogramQuantile: %d counts for %d edges", len(counts), len(edges)))
	}
	q := BinnedQuantile{P: p, Value: math.NaN(), Lower: math.NaN(), Upper: math.NaN()}
	m := len(counts)
	lo := func(k int) float64 {
		if k == 0 {
			return math.Inf(-1)
		}
		return edges[k-1]
	}
	hi := func(k int) float64 {
		if k == m-1 {
			return math.Inf(1)
		}
		return edges[k]
	}
	// Prefix sums of the lower and upper bounds of the cells (upper = n when unknown, as no
	// cell can exceed n), then bounds of each cumulative count C_k given the exact total n:
	//   max(A_k, n − (B_m − B_k)) ≤ C_k ≤ min(B_k, n − (A_m − A_k)).
	A := make([]int, m+1)
	B := make([]int, m+1)
	exact := true
	for k, c := range counts {
		u, ok := c.upper()
		if !ok {
			u = n
		}
		if c.Suppressed {
			exact = false
		}
		A[k+1] = A[k] + c.N
		B[k+1] = B[k] + u
	}
	if n <= 0 || n < A[m] || n > B[m] {
		return q
	}
	cmin := make([]int, m)
	cmax := make([]int, m)
	for k := 0; k < m; k++ {
		cmin[k] = max(A[k+1], n-(B[m]-B[k+1]))
		cmax[k] = min(B[k+1], n-(A[m]-A[k+1]))
	}
	first := func(c []int, r int) int { // first cell with c_k ≥ r; c is non-decreasing, c[m−1] = n ≥ r
		return sort.Search(m, func(k int) bool { return c[k] >= r })
	}
	h := 1 + float64(n-1)*p
	q.Lower = lo(first(cmax, int(math.Floor(h))))
	q.Upper = hi(first(cmin, int(math.Ceil(h))))
	if !exact {
		return q
	}
	var v float64
	switch p {
	case 0:
		v = lo(first(cmin, 1))
	case 1:
		v = hi(first(cmin, n))
	default:
		pn := p * float64(n)
		k := sort.Search(m, func(k int) bool { return float64(cmin[k]) >= pn })
		below := 0
		if k > 0 {
			below = cmin[k-1]
		}
		if k == 0 || k == m-1 {
			return q // open cell: no finite interpolation
		}
		v = lo(k) + (pn-float64(below))/float64(counts[k].N)*(hi(k)-lo(k))
	}
	if !math.IsInf(v, 0) {
		q.Value = v
	}
	return q
}

// NumericSummary describes a numeric variable in one column of a Table 1.
type NumericSummary struct {
	N       CellCount // non-missing values, over all sites
	Missing CellCount
	// UsedN is the number of values behind Mean, SD and Quantiles: N less the values of sites
	// that suppressed their n (Partial is then true and the moments describe the other sites).
	UsedN     int
	Partial   bool
	Mean      float64 // NaN when UsedN = 0
	SD        float64 // n − 1 denominator; NaN when UsedN < 2
	Quantiles []BinnedQuantile
}

// SummarizeNumeric summarizes a (merged) numeric aggregate: n, missing, mean and SD from the
// sums (MeanSD), and the quantiles at probs interpolated from the histogram
// (HistogramQuantile; none when the aggregate has no histogram).
func SummarizeNumeric(v VariableAggregate, probs []float64) NumericSummary {
	if !v.Numeric {
		panic(fmt.Sprintf("analysis: SummarizeNumeric: variable %q is categorical", v.Name))
	}
	s := NumericSummary{N: v.N, Missing: v.Missing, UsedN: v.N.N - v.Unsummed.N, Partial: v.N.Suppressed}
	s.Mean, s.SD = MeanSD(s.UsedN, v.Sum, v.SumSq)
	if v.Histogram != nil {
		for _, p := range probs {
			s.Quantiles = append(s.Quantiles, HistogramQuantile(v.Edges, v.Histogram, s.UsedN, p))
		}
	}
	return s
}

// CategoricalSummary describes a categorical variable in one column of a Table 1. Percentages
// are of the non-missing values (as tableone and most published Tables 1 report them); the
// missing count is reported on its own.
type CategoricalSummary struct {
	Levels     []string    // sorted
	Counts     []CellCount // per level
	Missing    CellCount
	NonMissing CellCount // Σ Counts
	// Percent is 100·count/non-missing; NaN when a count involved is suppressed, and then
	// PercentRange gives the bounds over every count consistent with the intervals.
	Percent      []float64
	PercentRange [][2]float64
}

// SummarizeCategorical summarizes a (merged) categorical aggregate over the given levels
// (sorted category names of v when levels is nil; a level absent from v counts 0).
func SummarizeCategorical(v VariableAggregate, levels []string) CategoricalSummary {
	if v.Numeric {
		panic(fmt.Sprintf("analysis: SummarizeCategorical: variable %q is numeric", v.Name))
	}
	if levels == nil {
		for k := range v.Categories {
			levels = append(levels, k)
		}
		sort.Strings(levels)
	}
	s := CategoricalSummary{Levels: levels, Missing: v.Missing}
	for _, l := range levels {
		c := v.Categories[l]
		s.Counts = append(s.Counts, c)
		s.NonMissing = s.NonMissing.Add(c)
	}
	for _, c := range s.Counts {
		pct, rng := summaryPercent(c, s.NonMissing)
		s.Percent = append(s.Percent, pct)
		s.PercentRange = append(s.PercentRange, rng)
	}
	return s
}

// summaryPercent returns 100·c/total and its bounds when c or total are intervals: c/total =
// c/(c + rest) rises with c and falls with rest, so the bounds take c and rest at opposite ends.
func summaryPercent(c, total CellCount) (float64, [2]float64) {
	if c.Exact() && total.Exact() {
		if total.N == 0 {
			return math.NaN(), [2]float64{math.NaN(), math.NaN()}
		}
		p := 100 * float64(c.N) / float64(total.N)
		return p, [2]float64{p, p}
	}
	cu, cok := c.upper()
	tu, tok := total.upper()
	restLo := total.N - c.N // rest's lower bound: the lower bounds add up
	lower := 0.0
	if tok {
		restHi := tu - cu
		if cok && c.N+restHi > 0 {
			lower = 100 * float64(c.N) / float64(c.N+restHi)
		}
	}
	upper := 100.0
	if cok && cu+restLo > 0 {
		upper = 100 * float64(cu) / float64(cu+restLo)
	}
	return math.NaN(), [2]float64{lower, upper}
}

// SMDNumeric is the standardized mean difference of a numeric variable between two groups
// (Cohen's d with the pooled-variance denominator of Austin 2009, as tableone computes it):
//
//	d = (x̄₁ − x̄₂) / √((s₁² + s₂²) / 2).
//
// It is signed; Table 1 shows |d|. Austin PC (2009), Balance diagnostics for comparing the
// distribution of baseline covariates between treatment groups in propensity-score matched
// samples, Stat Med 28:3083–3107.
func SMDNumeric(mean1, sd1, mean2, sd2 float64) float64 {
	return (mean1 - mean2) / math.Sqrt((sd1*sd1+sd2*sd2)/2)
}

// SMDCategorical is the standardized mean difference of a categorical variable with k levels
// between two groups with level proportions p1 and p2 (each summing to 1), the multivariate
// Mahalanobis form of Yang & Dalton (2012):
//
//	d = √((T − C)ᵀ S⁻ (T − C)),
//
// where T = (p1_2, …, p1_k) and C = (p2_2, …, p2_k) leave out the first level and S is the mean
// of the two groups' multinomial covariance matrices,
//
//	S_jj = (p1_j(1 − p1_j) + p2_j(1 − p2_j)) / 2,  S_jl = −(p1_j p1_l + p2_j p2_l) / 2 (j ≠ l).
//
// S⁻ is the Moore–Penrose pseudo-inverse with MASS::ginv's tolerance (singular values below
// √ε times the largest are dropped), as tableone uses; it handles levels empty in both groups.
// For two levels d reduces to |p1 − p2| / √((p1(1 − p1) + p2(1 − p2))/2). When S = 0 (each
// group entirely in one level) d is 0 if the groups agree and +Inf if not (tableone's ginv
// would give 0 there). Yang D, Dalton JE (2012), A unified approach to measuring the effect size
// between two groups using SAS, SAS Global Forum paper 335-2012.
//
// SMDCategorical panics if len(p1) != len(p2).
func SMDCategorical(p1, p2 []float64) float64 {
	if len(p1) != len(p2) {
		panic(fmt.Sprintf("analysis: SMDCategorical: %d and %d levels", len(p1), len(p2)))
	}
	k := len(p1) - 1
	if k < 1 {
		return 0
	}
	d := make([]float64, k)
	S := mat.NewSymDense(k, nil)
	for j := 0; j < k; j++ {
		a, b := p1[j+1], p2[j+1]
		d[j] = a - b
		S.SetSym(j, j, (a*(1-a)+b*(1-b))/2)
		for l := j + 1; l < k; l++ {
			S.SetSym(j, l, -(a*p1[l+1]+b*p2[l+1])/2)
		}
	}
	var svd mat.SVD
	if !svd.Factorize(S, mat.SVDThin) {
		return math.NaN()
	}
	sv := svd.Values(nil)
	var U, V mat.Dense
	svd.UTo(&U)
	svd.VTo(&V)
	dv := mat.NewVecDense(k, d)
	tol := math.Sqrt(2.220446049250313e-16) * sv[0]
	q := 0.0
	for i, s := range sv {
		if s <= tol || s == 0 {
			continue
		}
		q += mat.Dot(U.ColView(i), dv) * mat.Dot(V.ColView(i), dv) / s
	}
	if sv[0] == 0 {
		if mat.Norm(dv, 2) == 0 {
			return 0
		}
		return math.Inf(1)
	}
	return math.Sqrt(math.Max(0, q))
}
