package analysis

import (
	"cmp"
	"errors"
	"fmt"
	"math"
	"slices"
	"sort"
)

// Concordance is a concordance index of a risk score (for a Cox model, the linear predictor
// lp = x'β, higher = worse prognosis) against right-censored survival, as R's
// survival::concordance(Surv(time, status) ~ lp, reverse = TRUE) reports it.
//
// A pair (i, j) is comparable when the shorter time is an event: t_i < t_j with i an event, or
// t_i = t_j with i an event and j censored (the censored one counts as living longer). It is
// concordant when the one who died first has the higher score, discordant when lower, tied on
// x when the scores are equal. Pairs of events at the same time are tied on y (TiedY, and
// TiedXY when their scores are equal too) and are not comparable. Each comparable pair is
// weighted by the time weight of the event time (1 for Harrell's C):
//
//	C = (concordant + tied.x / 2) / (concordant + discordant + tied.x).
//
// SE is R's std err, the square root of the infinitesimal-jackknife variance of C: with n_k
// the (weighted) concordant, discordant and tied-on-x pairs subject k belongs to, N the
// comparable pairs and D = (concordant − discordant)/N (Somers' d),
//
//	dfbeta_k = (c_k − d_k)/N − D/N · (c_k + d_k + t_k),  var(C) = Σ_k dfbeta_k² / 4.
//
// Every figure is computed where the patients are (a site, over its own patients) and is an
// aggregate: the pair counts, C and SE.
type Concordance struct {
	C, SE         float64
	Concordant    float64 // comparable pairs where the earlier death has the higher lp
	Discordant    float64
	TiedX         float64 // comparable pairs with equal lp
	TiedY, TiedXY float64 // events at the same time (not comparable), and those also tied on lp
	N, Events     int
	Weighting     string // "n" (Harrell) or "n/G2" (Uno)
}

// ErrNoComparablePairs is returned when no pair of patients is comparable (no event before
// another patient's time): the concordance is undefined.
var ErrNoComparablePairs = errors.New("analysis: concordance: no comparable pair")

// HarrellC is Harrell's C (Harrell et al. 1982, 1996) of the risk score lp with its standard
// error, equal to R's concordance(Surv(time, status) ~ lp, reverse = TRUE) (survival 3.5;
// analysis/testdata/validation_goldens.R). O(n log n).
func HarrellC(time []float64, event []bool, lp []float64) (Concordance, error) {
	return concordance(time, event, lp, false)
}

// UnoC is Uno's C (Uno et al. 2011, Stat Med 30:1105): each comparable pair whose earlier time
// is t is weighted by 1/G(t−)², G the Kaplan–Meier estimate of the censoring distribution
// (at a time with both events and censorings the events come first), which makes the index
// consistent for a population concordance that does not depend on the study's censoring.
// It equals R's concordance(..., reverse = TRUE, timewt = "n/G2") with its standard error; as
// R, with fewer than two events the weights are 1. No truncation time (R's ymax) is applied.
func UnoC(time []float64, event []bool, lp []float64) (Concordance, error) {
	return concordance(time, event, lp, true)
}

// fenwick is a binary indexed tree of float64 sums over ranks 0..n−1.
type fenwick []float64

func (f fenwick) add(i int, w float64) {
	for i++; i < len(f); i += i & -i {
		f[i] += w
	}
}

// prefix is the sum over ranks < i.
func (f fenwick) prefix(i int) float64 {
	var s float64
	for ; i > 0; i -= i & -i {
		s += f[i]
	}
	return s
}

// rankTree keeps, per rank of lp, the sum of weights inserted, and answers how much weight
// lies below, above and at a rank.
type rankTree struct {
	tree  fenwick
	at    []float64
	total float64
}

func newRankTree(m int) *rankTree { return &rankTree{tree: make(fenwick, m+1), at: make([]float64, m)} }

func (t *rankTree) add(r int, w float64) { t.tree.add(r, w); t.at[r] += w; t.total += w }

// split returns the weight at ranks above, below and equal to r.
func (t *rankTree) split(r int) (above, below, equal float64) {
	below = t.tree.prefix(r)
	equal = t.at[r]
	return t.total - below - equal, below, equal
}

func concordance(time []float64, event []bool, lp []float64, uno bool) (Concordance, error) {
	n := len(time)
	if len(event) != n || len(lp) != n {
		panic(fmt.Sprintf("analysis: concordance: %d times, %d event flags, %d scores", n, len(event), len(lp)))
	}
	for i := range n {
		if math.IsNaN(time[i]) || math.IsInf(time[i], 0) || time[i] < 0 {
			return Concordance{}, fmt.Errorf("analysis: concordance: record %d: time %v is not a finite non-negative number", i+1, time[i])
		}
		if math.IsNaN(lp[i]) || math.IsInf(lp[i], 0) {
			return Concordance{}, fmt.Errorf("analysis: concordance: record %d: score %v is not finite", i+1, lp[i])
		}
	}
	res := Concordance{N: n, Weighting: "n"}
	for _, e := range event {
		if e {
			res.Events++
		}
	}
	// ranks of the distinct scores
	sorted := append([]float64(nil), lp...)
	sort.Float64s(sorted)
	uniq := sorted[:0]
	for i, v := range sorted {
		if i == 0 || v != uniq[len(uniq)-1] {
			uniq = append(uniq, v)
		}
	}
	rank := make([]int, n)
	for i, v := range lp {
		rank[i] = sort.SearchFloat64s(uniq, v)
	}
	// latest time first; at a tied time the censored before the events (they are in the risk
	// set of those events)
	order := make([]int, n)
	for i := range order {
		order[i] = i
	}
	slices.SortFunc(order, func(i, j int) int {
		switch {
		case time[i] != time[j]:
			return cmp.Compare(time[j], time[i])
		case event[i] != event[j]:
			if event[j] {
				return -1
			}
			return 1
		}
		return cmp.Compare(i, j)
	})
	var gWeight map[float64]float64
	if uno && res.Events >= 2 {
		gWeight = unoWeights(time, event, order)
		res.Weighting = "n/G2"
	}

	risk := newRankTree(len(uniq))   // subjects with a later time, or censored at the time
	deaths := newRankTree(len(uniq)) // events so far, weighted by their time weight
	// Influence of each subject (unreversed, as R's imat: "concordant" = the survivor has
	// the larger score).
	conc := make([]float64, n)
	disc := make([]float64, n)
	tied := make([]float64, n)
	var count [5]float64 // concordant, discordant, tied.x, tied.y, tied.xy (unreversed)
	enter := func(i int) {
		above, below, equal := deaths.split(rank[i])
		conc[i] -= below
		disc[i] -= above
		tied[i] -= equal
	}
	for k := 0; k < n; {
		i := order[k]
		if !event[i] {
			enter(i)
			risk.add(rank[i], 1)
			k++
			continue
		}
		end := k
		for end < n && time[order[end]] == time[i] {
			end++
		}
		w := 1.0
		if gWeight != nil {
			w = gWeight[time[i]]
		}
		group := order[k:end]
		for _, j := range group {
			above, below, equal := risk.split(rank[j])
			count[0] += above * w
			count[1] += below * w
			count[2] += equal * w
			conc[j] += above * w
			disc[j] += below * w
			tied[j] += equal * w
			deaths.add(rank[j], w)
		}
		d := float64(len(group))
		count[3] += d * (d - 1) / 2 * w
		count[4] += tiedPairs(group, rank) * w
		for _, j := range group {
			enter(j)
			risk.add(rank[j], 1)
		}
		k = end
	}
	for i := range n {
		above, below, equal := deaths.split(rank[i])
		conc[i] += below
		disc[i] += above
		tied[i] += equal
	}
	count[3] -= count[4]
	npair := count[0] + count[1] + count[2]
	if npair == 0 {
		return res, ErrNoComparablePairs
	}
	somers := (count[0] - count[1]) / npair
	var v float64
	for i := range n {
		db := (conc[i]-disc[i])/npair - somers/npair*(conc[i]+disc[i]+tied[i])
		v += db * db
	}
	// reverse = TRUE: a higher score should die first
	res.Concordant, res.Discordant, res.TiedX = count[1], count[0], count[2]
	res.TiedY, res.TiedXY = count[3], count[4]
	res.C = 1 - (somers+1)/2
	res.SE = math.Sqrt(v / 4)
	return res, nil
}

// tiedPairs counts the pairs of a group of events with the same score rank.
func tiedPairs(group []int, rank []int) float64 {
	byRank := make(map[int]float64, len(group))
	for _, j := range group {
		byRank[rank[j]]++
	}
	var s float64
	for _, m := range byRank {
		s += m * (m - 1) / 2
	}
	return s
}

// unoWeights returns 1/G(t−)² at each event time t, G the Kaplan–Meier estimate of the
// censoring distribution where, at a time with both, the events leave the risk set before the
// censorings (R's fastkm1). order is latest time first.
func unoWeights(time []float64, event []bool, order []int) map[float64]float64 {
	n := len(order)
	w := make(map[float64]float64)
	g := 1.0
	atRisk := n // subjects with time ≥ the current time
	for k := n - 1; k >= 0; {
		t := time[order[k]]
		start := k
		var d, c int
		for start >= 0 && time[order[start]] == t {
			if event[order[start]] {
				d++
			} else {
				c++
			}
			start--
		}
		if d > 0 {
			w[t] = 1 / (g * g)
		}
		if c > 0 {
			g *= float64(atRisk-d-c) / float64(atRisk-d)
		}
		atRisk -= d + c
		k = start
	}
	return w
}
