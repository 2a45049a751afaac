package dp

import (
	"flag"
	"fmt"
	"maps"
	"math"
	"math/big"
	"math/rand/v2"
	"slices"
	"strconv"
	"testing"

	"github.com/oncofed/oncofed/internal/lungtest"
)

// Phantom patients: where the pooled size bias of survival releases from many small sites
// comes from, and what post-processing would avoid it. Node-level numbers are in README's
// "Differential privacy: what it costs" (go test ./node -run TestDPUtility -dputility); this
// replays the sqrt mechanism on the NCCTG lung data's 18 sites with the node's public bins
// (30 days, 3650-day horizon: T = 122), decodes each release by least squares, and compares
// consistency steps on the same noise:
//
//   - per site, isotonic (what ReleaseSurvival did until the anchored fix): isotonic regression
//     of each site's suffix sums, clamped at zero and rounded, then the sites' tables summed
//     (the client's merge);
//   - per site, anchored per column: each column's total kept at its unbiased least-squares
//     estimate (rounded, at least 0), the other suffix sums isotonic and clipped to [0, total];
//   - per site, anchored n₁ (what ReleaseSurvival does, anchoredColumns): the size n₁ = Ê + Ĉ
//     kept at its unbiased estimate and clamped once, split between the columns by projection;
//   - pooled: the sites' least-squares estimates summed first, then one isotonic regression —
//     what a release of the raw noisy strategy answers (integers, R public) would allow.
//
// go test ./dp -run TestPhantomPatients -phantom -v

var phantomFlag = flag.Bool("phantom", false, "measure the pooled size bias of survival releases from the 18 lung sites")

const (
	nodeBins = 122  // ⌈3650/30⌉: the node's default dp_horizon_days / dp_bin_days
	nodeRho  = 0.02 // node.DefaultDP.DPRhoSurvival
)

// lungSiteTables returns the lung data's sites as tables on the node's public bins.
func lungSiteTables(tb testing.TB, nodeBins int) []SurvivalTable {
	header, rows := lungtest.Read(tb)
	site, tm, ev := lungtest.Column(tb, header, "site"), lungtest.Column(tb, header, "time"), lungtest.Column(tb, header, "event")
	bySite := map[string]*SurvivalTable{}
	for _, r := range rows {
		t := bySite[r[site]]
		if t == nil {
			t = &SurvivalTable{Events: make([]int64, nodeBins), Censored: make([]int64, nodeBins)}
			bySite[r[site]] = t
		}
		days, err := strconv.ParseFloat(r[tm], 64)
		if err != nil {
			tb.Fatal(err)
		}
		b := min(max(int(math.Ceil(days/30)), 1), nodeBins) - 1
		if r[ev] == "1" {
			t.Events[b]++
		} else {
			t.Censored[b]++
		}
	}
	var out []SurvivalTable
	for _, name := range slices.Sorted(maps.Keys(bySite)) {
		out = append(out, *bySite[name])
	}
	return out
}

// noisyLS is one release's least-squares estimates of a table's two columns (reversed time),
// before any consistency step.
func noisyLS(tb testing.TB, s *Sampler, st strategy, sigma2 *big.Rat, t SurvivalTable) [2][]float64 {
	var out [2][]float64
	for k, col := range [2][]int64{t.Events, t.Censored} {
		y := st.apply(reversed(col))
		for i := range y {
			z, err := s.DiscreteGaussian(sigma2)
			if err != nil {
				tb.Fatal(err)
			}
			y[i] += z
		}
		out[k] = st.leastSquares(y)
	}
	return out
}

// isotonicSuffixCells is the consistency step ReleaseSurvival used before anchoredColumns, kept
// to measure against: isotonic regression of all the suffix sums S_1…S_T, clamped at zero,
// rounded.
func isotonicSuffixCells(xrev []float64) []int64 {
	iso := nonIncreasing(suffixSums(xrev))
	n := len(iso)
	cells := make([]int64, n)
	next := int64(0)
	for i := n - 1; i >= 0; i-- {
		cur := max(int64(math.Round(iso[i])), next)
		cells[i] = cur - next
		next = cur
	}
	return cells
}

func isotonicTable(ls [2][]float64) SurvivalTable {
	return SurvivalTable{Events: isotonicSuffixCells(ls[0]), Censored: isotonicSuffixCells(ls[1])}
}

func anchoredTable(ls [2][]float64) SurvivalTable {
	e, c := anchoredColumns(ls[0], ls[1])
	return SurvivalTable{Events: e, Censored: c}
}

// anchoredSuffixCells anchors one column on its own: its total kept at its least-squares estimate
// (rounded, at least 0), the later suffix sums non-increasing and clipped to [0, total].
func anchoredSuffixCells(xrev []float64) []int64 {
	suffix := suffixSums(xrev)
	return boundedSuffixCells(suffix, max(math.Round(suffix[0]), 0))
}

func addTables(a, b SurvivalTable) SurvivalTable {
	out := SurvivalTable{Events: slices.Clone(a.Events), Censored: slices.Clone(a.Censored)}
	for i := range b.Events {
		out.Events[i] += b.Events[i]
		out.Censored[i] += b.Censored[i]
	}
	return out
}

type phantomResult struct {
	nBias, kmErr []float64
	excess       [3][2]float64 // mean excess events, censorings in bins 1–12, 13–36, 37–122
}

func (r *phantomResult) add(exact, pooled SurvivalTable) {
	r.nBias = append(r.nBias, float64(pooled.AtRisk()[0]-exact.AtRisk()[0]))
	r.kmErr = append(r.kmErr, kmError(exact, pooled))
	for b := range exact.Events {
		p := 2
		if b < 12 {
			p = 0
		} else if b < 36 {
			p = 1
		}
		if b >= len(pooled.Events) {
			break
		}
		r.excess[p][0] += float64(pooled.Events[b] - exact.Events[b])
		r.excess[p][1] += float64(pooled.Censored[b] - exact.Censored[b])
	}
}

func (r *phantomResult) String() string {
	slices.Sort(r.kmErr)
	m := 0.0
	for _, x := range r.nBias {
		m += x
	}
	k := float64(len(r.nBias))
	e := r.excess
	return fmt.Sprintf("n̂ − n %+.1f | max|ΔS| %.3f (%.3f) | excess events, censorings: months 1–12 %+.1f, %+.1f; 13–36 %+.1f, %+.1f; 37–122 %+.1f, %+.1f",
		m/k, quantile(r.kmErr, 0.5), quantile(r.kmErr, 0.9), e[0][0]/k, e[0][1]/k, e[1][0]/k, e[1][1]/k, e[2][0]/k, e[2][1]/k)
}

func TestPhantomPatients(t *testing.T) {
	if !*phantomFlag {
		t.Skip("runs with -phantom")
	}
	// 122 bins: the node's 3650-day horizon; 35: a horizon of 1050 days, just past the lung
	// data's longest follow-up (1022 days), as a study's public accrual and data-cut dates
	// could give it.
	for _, bins := range []int{nodeBins, 35} {
		phantomPatients(t, bins)
	}
}

func phantomPatients(t *testing.T, nodeBins int) {
	sites := lungSiteTables(t, nodeBins)
	st := sqrtStrategy(nodeBins)
	sigma2, _ := SigmaSquared(big.NewRat(st.sens2(), 1), ratFloat(nodeRho))
	s := NewSampler(rand.NewChaCha8([32]byte{7}))
	exact := SurvivalTable{Events: make([]int64, nodeBins), Censored: make([]int64, nodeBins)}
	for _, tab := range sites {
		exact = addTables(exact, tab)
	}
	var perSite, perColumn, anchored, pooled, oneSite, oneColumn, oneAnchored phantomResult
	const reps = 400
	for range reps {
		sum := [2][]float64{make([]float64, nodeBins), make([]float64, nodeBins)}
		cur := SurvivalTable{Events: make([]int64, nodeBins), Censored: make([]int64, nodeBins)}
		anc, col := cur, cur
		for _, tab := range sites {
			ls := noisyLS(t, s, st, sigma2, tab)
			cur = addTables(cur, isotonicTable(ls))
			col = addTables(col, SurvivalTable{Events: anchoredSuffixCells(ls[0]), Censored: anchoredSuffixCells(ls[1])})
			anc = addTables(anc, anchoredTable(ls))
			for k := range sum {
				for i, v := range ls[k] {
					sum[k][i] += v
				}
			}
		}
		perSite.add(exact, cur)
		perColumn.add(exact, col)
		anchored.add(exact, anc)
		pooled.add(exact, isotonicTable(sum))
		ls := noisyLS(t, s, st, sigma2, exact)
		oneSite.add(exact, isotonicTable(ls))
		oneColumn.add(exact, SurvivalTable{Events: anchoredSuffixCells(ls[0]), Censored: anchoredSuffixCells(ls[1])})
		oneAnchored.add(exact, anchoredTable(ls))
	}
	t.Logf("lung, 18 sites, ρ=%g, T=%d, %d releases (no min_cohort refusals here)", nodeRho, nodeBins, reps)
	t.Logf("  per site, isotonic (old):      %s", &perSite)
	t.Logf("  per site, anchored per column: %s", &perColumn)
	t.Logf("  per site, anchored n₁ (now):   %s", &anchored)
	t.Logf("  pooled, then isotonic:         %s", &pooled)
	t.Logf("lung, 1 site")
	t.Logf("  isotonic (old):                %s", &oneSite)
	t.Logf("  anchored per column:           %s", &oneColumn)
	t.Logf("  anchored n₁ (now):             %s", &oneAnchored)
}

func ratFloat(x float64) *big.Rat { return new(big.Rat).SetFloat64(x) }

// padded is t with empty bins appended up to T bins: the node releases every bin up to its
// public horizon, whether or not anyone is followed that long.
func padded(t SurvivalTable, bins int) SurvivalTable {
	out := SurvivalTable{Events: make([]int64, bins), Censored: make([]int64, bins)}
	copy(out.Events, t.Events)
	copy(out.Censored, t.Censored)
	return out
}

// What the node's horizon costs: UTILITY.md's cohort (T = 60, everyone leaves by month 60)
// released on 60 bins as there, and on the node's 122 bins (the same patients, 62 empty bins
// after them), at the default ρ.
func TestHorizonCost(t *testing.T) {
	if !*phantomFlag {
		t.Skip("runs with -phantom")
	}
	for _, n := range []int{228, 2000} {
		tab := cohort(n, seedOf(n))
		for _, bins := range []int{60, nodeBins} {
			a := measure(t, padded(tab, bins), ratFloat(nodeRho), SurvivalSqrt, 400, seedOf(n, bins))
			sd := SurvivalSizeSD(bins, ratFloat(nodeRho), SurvivalSqrt)
			t.Logf("n=%d T=%d: max|ΔS| %.4f (p90 %.4f), size sd %.1f", n, bins, a.medErr, a.p90Err, sd)
		}
	}
}
