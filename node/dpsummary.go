package node

import (
	"fmt"
	"math"
	"math/big"
	"sort"

	"github.com/oncofed/oncofed/dp"
	"github.com/oncofed/oncofed/protocol"
)

// Differentially private summaries (Table 1) for analysts of role dp.
//
// A summary query costs dp_rho_summary whatever its number of variables and groups. Its
// released components are
//
//   - the group sizes (with the missing-group cell; one cell when ungrouped),
//   - per categorical variable, its category cells and missing cell in every group,
//   - per numeric variable, its n and missing cells; its Σ(x−c); its Σ(x−c)²; and, when the
//     query gives edges, its histogram cells,
//
// and ρ is split evenly across them: with K components each is released at ρ/K (K = 1 +
// Σ 1 per categorical variable + Σ (3, or 4 with edges) per numeric variable), and the reply
// costs their sum (sequential composition), at most dp_rho_summary. Every component is one
// vector over the groups: a patient is in one group (or the missing-group cell, which only
// the sizes count), so adding or removing them changes one coordinate of each vector —
// parallel composition across groups — by at most:
//
//   - 1 for the sizes, a categorical variable's cells (one category, or missing), a numeric
//     variable's n/missing pair and its histogram cells (Δ² = 1 each);
//   - (max−min)/2 for Σ(x−c) and ((max−min)/2)² for Σ(x−c)², x clipped to the variable's
//     declared range [min, max] (public, from the study's dictionary) and centred on its
//     midpoint c, which halves the sensitivity of Σx (max(|min|, |max|) uncentred) and
//     quarters more that of Σx². A numeric variable without a declared range has no bound on
//     a patient's contribution, and the query is refused (not charged: the dictionary is
//     public).
//
// The discrete Gaussian needs integers: x − c is quantised to the public grid h = (max−min)/10⁴
// (q = round((x−c)/h), |q| ≤ 5000, an error of at most h/2 per value), so Σq has Δ = 5000 and
// Σq² Δ = 5000²; the released Σx = h·Σq' + c·n' and Σx² = h²·Σq²' + 2ch·Σq' + c²·n' are
// post-processing of the noisy Σq', Σq²' and n', linear in them, so they stay unbiased
// estimates to pool across sites.
//
// Post-processing for a reply the client accepts (protocol.ValidateReply): the cohort's noisy
// size is the sum of the groups' and the missing group's noisy sizes; below min_cohort the
// query is refused, and charged. A group whose noisy size is below min_cell (or 1) is left
// out. Within a shown group every partition (a categorical variable's cells, a numeric one's
// n and missing, a histogram's cells within n) is fitted to its noisy total: the difference
// is spread evenly over the cells (linear, so unbiased up to less than one patient of
// integer rounding), and a cell left negative is raised to 0 by taking patients from the
// largest cells — a bias only for cells within a few noise sd of 0, which min_cell then
// suppresses anyway. Fitted cells below min_cell are suppressed. Σx is clipped to
// [n·min, n·max] and Σx² to [n·lo², n·hi²] (lo, hi the smallest and largest |x| in the range),
// which binds only when the noise is of the order of the sums themselves. Σx² is not raised
// to (Σx)²/n: at n ≈ 100 the noise on Σ(x−c)² is of the order of n·variance, so that clip
// would bind often and bias every site's variance upwards when pooled; a noisy reply may
// therefore imply a negative variance (protocol.ValidateReply allows it on dp replies), and
// the client shows that standard deviation as not available (analysis.MeanSD). A numeric
// variable whose fitted n is suppressed releases no sums nor histogram, as in the rule-based
// summary.

// dpSummaryGrid is the number of quantisation steps across a numeric variable's declared range.
const dpSummaryGrid = 10000

// dpSummaryComponents is K, the number of components a summary query releases.
func dpSummaryComponents(ls *loadedStudy, q *protocol.Query) int {
	k := 1
	edges := map[string]bool{}
	for _, b := range q.Bins {
		edges[b.Variable] = true
	}
	for _, name := range q.Variables {
		v := ls.vars[name]
		switch {
		case v.Type == protocol.Categorical:
			k++
		case edges[name]:
			k += 4
		default:
			k += 3
		}
	}
	return k
}

// checkDPSummaryRanges refuses a dp summary of a numeric variable without a declared range.
func checkDPSummaryRanges(ls *loadedStudy, q *protocol.Query) error {
	for _, name := range q.Variables {
		v := ls.vars[name]
		if v.Type != protocol.Numeric {
			continue
		}
		if v.Min == nil || v.Max == nil || !(*v.Max > *v.Min) || math.IsInf(*v.Min, 0) || math.IsInf(*v.Max, 0) {
			return errorf(protocol.CodeRefusedByPolicy, "variable %q is numeric without a declared range: a differentially private summary needs its min and max in the study's dictionary to bound one patient's contribution; declare them (every site of the study), or ask as a trusted analyst", clip(name))
		}
	}
	return nil
}

// dpSummary releases a noisy Table 1 (see above).
func (e *Engine) dpSummary(c *cohort, q *protocol.Query, reply *protocol.Reply) (answer, error) {
	ls := c.study
	if err := checkDPSummaryRanges(ls, q); err != nil {
		return answer{}, err
	}
	rho := new(big.Rat).Quo(ratOf(e.policy.DPRhoSummary), big.NewRat(int64(dpSummaryComponents(ls, q)), 1))
	k, codes := c.groups()
	groupOf := func(i int) int {
		if codes == nil {
			return 0
		}
		return int(codes[i])
	}
	var spent []*big.Rat
	release := func(v []int64, sens2 *big.Rat) ([]int64, dp.Noise, error) {
		out, noise, err := dp.ReleaseVector(e.sampler, v, sens2, rho)
		if err != nil {
			return nil, noise, errorf(protocol.CodeInternal, "noise source unavailable")
		}
		spent = append(spent, noise.Rho)
		return out, noise, nil
	}
	one := big.NewRat(1, 1)

	// The sizes: k groups and the missing group (grouped), or the cohort.
	sizes := make([]int64, k)
	missingGroup := int64(0)
	c.rows.forEach(func(i int) {
		if g := groupOf(i); g >= 0 {
			sizes[g]++
		} else {
			missingGroup++
		}
	})
	sizeVec := sizes
	if c.group != nil {
		sizeVec = append(append([]int64(nil), sizes...), missingGroup)
	}
	noisySizes, sizeNoise, err := release(sizeVec, one)
	if err != nil {
		return answer{}, err
	}

	// Every variable's components, released before anything is decided on the noisy values.
	edges := map[string][]float64{}
	for _, b := range q.Bins {
		edges[b.Variable] = b.Edges
	}
	type numeric struct {
		nm, sum, sumSq, hist []int64 // noisy: per group (n, missing) pairs, Σq, Σq², histogram cells
		lo, hi, mid, step    float64
		edges                []float64
	}
	cats := map[string][]int64{} // noisy: per group len(categories)+1 cells
	nums := map[string]*numeric{}
	for _, name := range q.Variables {
		v := ls.vars[name]
		if v.Type == protocol.Categorical {
			w := len(v.Categories) + 1
			cells := make([]int64, k*w)
			c.rows.forEach(func(i int) {
				g := groupOf(i)
				if g < 0 {
					return
				}
				if code := v.Codes[i]; code >= 0 {
					cells[g*w+int(code)]++
				} else {
					cells[g*w+w-1]++
				}
			})
			if cats[name], _, err = release(cells, one); err != nil {
				return answer{}, err
			}
			continue
		}
		nv := &numeric{lo: *v.Min, hi: *v.Max, edges: edges[name]}
		nv.mid = nv.lo + (nv.hi-nv.lo)/2
		nv.step = (nv.hi - nv.lo) / dpSummaryGrid
		const half = dpSummaryGrid / 2
		nm := make([]int64, 2*k)
		sum := make([]int64, k)
		sumSq := make([]int64, k)
		hw := len(nv.edges) + 1
		var hist []int64
		if nv.edges != nil {
			hist = make([]int64, k*hw)
		}
		c.rows.forEach(func(i int) {
			g := groupOf(i)
			if g < 0 {
				return
			}
			x := v.Numeric[i]
			if x != x {
				nm[2*g+1]++
				return
			}
			nm[2*g]++
			qx := int64(math.Round((min(max(x, nv.lo), nv.hi) - nv.mid) / nv.step))
			qx = min(max(qx, -half), half)
			sum[g] += qx
			sumSq[g] += qx * qx
			if hist != nil {
				hist[g*hw+sort.Search(len(nv.edges), func(j int) bool { return nv.edges[j] > x })]++
			}
		})
		// ReleaseVector takes non-negative integers: Σq is released shifted by a constant that
		// is subtracted again exactly, so the output is Σq + noise whatever the constant.
		shift := int64(half) * int64(c.n)
		for g := range sum {
			sum[g] += shift
		}
		if nv.nm, _, err = release(nm, one); err != nil {
			return answer{}, err
		}
		if nv.sum, _, err = release(sum, big.NewRat(half*half, 1)); err != nil {
			return answer{}, err
		}
		for g := range nv.sum {
			nv.sum[g] -= shift
		}
		if nv.sumSq, _, err = release(sumSq, big.NewRat(half*half*half*half, 1)); err != nil {
			return answer{}, err
		}
		if hist != nil {
			if nv.hist, _, err = release(hist, one); err != nil {
				return answer{}, err
			}
		}
		nums[name] = nv
	}

	ans := answer{dp: dpEffects(sizeNoise)}
	ans.dp.Rho = floatOf(dp.Compose(spent...))
	ans.dp.SizeSD = math.Sqrt(ans.dp.Sigma2 * float64(len(sizeVec))) // the total sums every cell
	var total int64
	for _, v := range noisySizes {
		total += v
	}
	if total < int64(e.policy.MinCohort) {
		return ans, errSmallCohort(e.policy.MinCohort)
	}
	minShown := int64(max(e.policy.MinCell, 1))
	sr := &protocol.SummaryReply{Groups: []protocol.GroupSummary{}}
	if c.group != nil {
		sr.MissingGroup = e.dpCell(noisySizes[k], reply)
	}
	for g := 0; g < k; g++ {
		n := noisySizes[g]
		if c.group == nil {
			n = total
		}
		if n < minShown {
			if n > 0 {
				reply.Policy.SuppressedCells++
			}
			continue
		}
		gs := protocol.GroupSummary{N: protocol.Count{N: int(n)}, Variables: []protocol.VariableSummary{}}
		if c.group != nil {
			gs.Group = c.group.Categories[g]
		}
		for _, name := range q.Variables {
			v := ls.vars[name]
			vs := protocol.VariableSummary{Variable: name}
			if v.Type == protocol.Categorical {
				w := len(v.Categories) + 1
				cells := fitPartition(cats[name][g*w:(g+1)*w], n)
				vs.Categories = make(map[string]protocol.Count, len(v.Categories))
				present := int64(0)
				for j, cat := range v.Categories {
					vs.Categories[cat] = e.dpFitted(cells[j], reply)
					present += cells[j]
				}
				vs.Missing = e.dpFitted(cells[w-1], reply)
				vs.N = protocol.Count{N: int(present)}
				if vs.Missing.Suppressed {
					vs.N = protocol.Count{Suppressed: true} // it would give the missing count away
				}
				gs.Variables = append(gs.Variables, vs)
				continue
			}
			nv := nums[name]
			nm := fitPartition(nv.nm[2*g:2*g+2], n)
			vs.N, vs.Missing = e.dpFitted(nm[0], reply), e.dpFitted(nm[1], reply)
			if nv.edges != nil {
				vs.Edges = nv.edges
				vs.Histogram = make([]protocol.Count, len(nv.edges)+1)
			}
			if vs.N.Suppressed || vs.N.N == 0 {
				for j := range vs.Histogram {
					vs.Histogram[j] = protocol.Count{Suppressed: true}
				}
				gs.Variables = append(gs.Variables, vs)
				continue
			}
			vs.Sum, vs.SumSq = dpMoments(nm[0], nv.sum[g], nv.sumSq[g], nv.lo, nv.hi, nv.mid, nv.step)
			if nv.edges != nil {
				hw := len(nv.edges) + 1
				for j, cell := range fitPartition(nv.hist[g*hw:(g+1)*hw], nm[0]) {
					vs.Histogram[j] = e.dpFitted(cell, reply)
				}
			}
			gs.Variables = append(gs.Variables, vs)
		}
		sr.Groups = append(sr.Groups, gs)
	}
	reply.Summary = sr
	ans.released = fmt.Sprintf("dp summary n=%d released=%d groups=%d variables=%d", c.n, total, len(sr.Groups), len(q.Variables))
	return ans, nil
}

// dpFitted is a fitted (non-negative) cell as released: suppressed below min_cell.
func (e *Engine) dpFitted(v int64, reply *protocol.Reply) protocol.Count {
	if v > 0 && v < int64(e.policy.MinCell) {
		reply.Policy.SuppressedCells++
		return protocol.Count{Suppressed: true}
	}
	if v <= 0 && e.policy.MinCell > 0 {
		// Never shown as 0 when min_cell is set: an empty cell looks like a small one.
		reply.Policy.SuppressedCells++
		return protocol.Count{Suppressed: true}
	}
	return protocol.Count{N: int(v)}
}

// dpMoments turns the noisy n, Σq and Σq² of a numeric variable into Σx and Σx² (see the
// comment at the top), clipped to what n values in [lo, hi] can give.
func dpMoments(n, sumQ, sumSqQ int64, lo, hi, mid, step float64) (sum, sumSq float64) {
	fn := float64(n)
	sq, ssq := float64(sumQ), float64(sumSqQ)
	sum = step*sq + mid*fn
	sumSq = step*step*ssq + 2*mid*step*sq + mid*mid*fn
	sum = min(max(sum, fn*lo), fn*hi)
	absLo, absHi := math.Abs(lo), math.Abs(hi)
	smallest := min(absLo, absHi)
	if lo <= 0 && hi >= 0 {
		smallest = 0
	}
	largest := max(absLo, absHi)
	sumSq = min(max(sumSq, fn*smallest*smallest), fn*largest*largest)
	return sum, sumSq
}

// fitPartition returns noisy cells fitted to a noisy total ≥ 0: the difference spread evenly
// (the first cells take the remainder of the integer division, less than one patient each),
// then any negative cell raised to 0 with the patients taken one by one from the largest cell.
func fitPartition(noisy []int64, total int64) []int64 {
	cells := append([]int64(nil), noisy...)
	k := int64(len(cells))
	d := total
	for _, c := range cells {
		d -= c
	}
	base := d / k
	r := d - base*k
	if r < 0 {
		base, r = base-1, r+k
	}
	for i := range cells {
		cells[i] += base
		if int64(i) < r {
			cells[i]++
		}
	}
	var deficit int64
	for i, c := range cells {
		if c < 0 {
			deficit -= c
			cells[i] = 0
		}
	}
	for deficit > 0 {
		top, second := 0, int64(-1)
		for i, c := range cells {
			if c > cells[top] {
				top = i
			}
		}
		for i, c := range cells {
			if i != top && c > second {
				second = c
			}
		}
		take := min(deficit, max(cells[top]-second, 1))
		cells[top] -= take
		deficit -= take
	}
	return cells
}
