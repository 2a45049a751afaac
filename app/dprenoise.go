package app

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"math/big"
	"math/rand/v2"
	"runtime"
	"slices"
	"sync"

	"github.com/oncofed/oncofed/analysis"
	"github.com/oncofed/oncofed/dp"
	"github.com/oncofed/oncofed/protocol"
)

// The release's noise, simulated: every figure computed from differentially private tables
// (the Cox model, its per-site view, the screen, the validation, the comparison) states how
// much of its spread the noise adds, by computing it again on copies of the released tables
// noised again with each site's mechanism and ρ (a parametric bootstrap; post-processing,
// nothing asked or spent). Approximation, said where it is shown: the tables noised again are
// the released ones, not the true ones. This file is the one home of reading a reply's grid
// and drawing the copies.

// dpRenoiser holds the released tables of every reply on its site's public grid, ready to be
// noised again: per site its ρ, bin width, patterns' design rows and tables, and the smallest
// of the sites' β limits (for refits).
type dpRenoiser struct {
	sites []string
	rho   []*big.Rat
	w     []float64
	x     [][][]float64
	grid  [][]dp.SurvivalTable
	bound []float64
}

// newDPRenoiser reads the grid of every reply (in the order given): its bin width, its
// truncation, its ρ and its patterns' tables. Every pattern's design row has p values (any
// number when p < 0).
func newDPRenoiser(replies []protocol.Reply, p int) (*dpRenoiser, error) {
	rn := &dpRenoiser{}
	for _, rep := range replies {
		d, c := rep.Policy.DP, rep.Cox
		if d == nil || !(d.Rho > 0) || !(rep.Policy.BinDays > 0) || rep.Policy.TruncatedAfter == nil || c == nil {
			return nil, fmt.Errorf("site %s: the reply lacks the release's parameters", rep.Site)
		}
		w := rep.Policy.BinDays
		bins := int(math.Ceil(*rep.Policy.TruncatedAfter / w))
		if bins < 1 || bins > dp.MaxSurvivalBins {
			return nil, fmt.Errorf("site %s: %d bins", rep.Site, bins)
		}
		var xs [][]float64
		var grid []dp.SurvivalTable
		for _, pt := range c.Patterns {
			if p >= 0 && len(pt.X) != p {
				return nil, fmt.Errorf("site %s: a pattern of %d values, want %d", rep.Site, len(pt.X), p)
			}
			t := dp.SurvivalTable{Events: make([]int64, bins), Censored: make([]int64, bins)}
			for k, tm := range pt.Time {
				b := int(math.Round(tm/w)) - 1
				if b < 0 || b >= bins {
					return nil, fmt.Errorf("site %s: time %v off the grid", rep.Site, tm)
				}
				t.Events[b] += int64(pt.Events[k])
				t.Censored[b] += int64(pt.Censor[k])
			}
			xs, grid = append(xs, pt.X), append(grid, t)
		}
		rn.sites = append(rn.sites, rep.Site)
		rn.rho = append(rn.rho, new(big.Rat).SetFloat64(d.Rho))
		rn.w = append(rn.w, w)
		rn.x = append(rn.x, xs)
		rn.grid = append(rn.grid, grid)
		if c.BetaLimit != nil {
			rn.bound = analysis.MinBound(rn.bound, c.BetaLimit)
		}
	}
	return rn, nil
}

// survivalDraw noises one table again at ρ with the DP survival mechanism.
type survivalDraw func(t dp.SurvivalTable, rho *big.Rat) (dp.SurvivalTable, error)

// exactDraws draws with the mechanism's own exact sampler, from seed.
func exactDraws(seed [32]byte) survivalDraw {
	s := dp.NewSampler(rand.NewChaCha8(seed))
	return func(t dp.SurvivalTable, rho *big.Rat) (dp.SurvivalTable, error) {
		r, _, err := dp.ReleaseSurvival(s, t, rho, dp.SurvivalSqrt)
		return r, err
	}
}

// simulatedDraws draws with dp.SimulateSurvival (a rounded continuous Gaussian of the
// mechanism's σ², much faster), from seed: for figures that need hundreds of copies.
func simulatedDraws(seed [32]byte) survivalDraw {
	rng := rand.New(rand.NewChaCha8(seed))
	return func(t dp.SurvivalTable, rho *big.Rat) (dp.SurvivalTable, error) {
		return dp.SimulateSurvival(rng, t, rho, dp.SurvivalSqrt)
	}
}

// copySeed is the seed of noisy copy k: base with k in its last eight bytes (big-endian), so
// that each copy draws its own noise whichever core draws it, and in whichever order.
func copySeed(base [32]byte, k int) [32]byte {
	binary.BigEndian.PutUint64(base[24:], uint64(k))
	return base
}

// onCores runs do(k) for every k in [0, n) on min(GOMAXPROCS, n) goroutines and returns when
// all have run.
func onCores(n int, do func(k int)) {
	work := make(chan int)
	var wg sync.WaitGroup
	for range min(runtime.GOMAXPROCS(0), n) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for k := range work {
				do(k)
			}
		}()
	}
	for k := range n {
		work <- k
	}
	close(work)
	wg.Wait()
}

// refitCopies is what fit gives on releases noisy copies of the tables, in copy order, the
// copies it gives nil for (a refit that did not converge) left out. Copy k draws its noise from
// its own seed, copySeed(base, k), through newDraw, so that the copies are drawn and refitted on
// every core (drawing is most of the time) and the result is bit for bit the one of drawing and
// refitting them in turn. A draw's error is returned.
func (rn *dpRenoiser) refitCopies(base [32]byte, newDraw func(seed [32]byte) survivalDraw, releases int,
	fit func(tables [][]analysis.CoxPatternTable) []float64) ([][]float64, error) {
	vals := make([][]float64, releases)
	errs := make([]error, releases)
	onCores(releases, func(k int) {
		var tables [][]analysis.CoxPatternTable
		if tables, errs[k] = rn.renoise(newDraw(copySeed(base, k))); errs[k] == nil {
			vals[k] = fit(tables)
		}
	})
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return slices.DeleteFunc(vals, func(v []float64) bool { return v == nil }), nil
}

// renoise returns one noisy copy of every site's tables, drawn site by site, pattern by pattern.
func (rn *dpRenoiser) renoise(draw survivalDraw) ([][]analysis.CoxPatternTable, error) {
	out := make([][]analysis.CoxPatternTable, len(rn.grid))
	for s, grid := range rn.grid {
		for k, t := range grid {
			r, err := draw(t, rn.rho[s])
			if err != nil {
				return nil, err
			}
			pt := analysis.CoxPatternTable{X: rn.x[s][k]}
			for b := range r.Events {
				if d, c := r.Events[b], r.Censored[b]; d+c > 0 {
					pt.Time = append(pt.Time, float64(b+1)*rn.w[s])
					pt.Events, pt.Censor = append(pt.Events, int(d)), append(pt.Censor, int(c))
				}
			}
			out[s] = append(out[s], pt)
		}
	}
	return out, nil
}

// renoiseReplies is renoise as replies: a copy of each of replies (those newDPRenoiser read,
// in the same order) whose patterns are the noisy copy's.
func (rn *dpRenoiser) renoiseReplies(draw survivalDraw, replies []protocol.Reply) ([]protocol.Reply, error) {
	tables, err := rn.renoise(draw)
	if err != nil {
		return nil, err
	}
	out := make([]protocol.Reply, len(replies))
	for s, rep := range replies {
		c := *rep.Cox
		c.Patterns = make([]protocol.CoxPattern, len(tables[s]))
		for k, t := range tables[s] {
			c.Patterns[k] = protocol.CoxPattern{X: t.X, Time: t.Time, Events: t.Events, Censor: t.Censor}
		}
		out[s] = protocol.Reply{Site: rep.Site, Cox: &c, Policy: rep.Policy}
	}
	return out, nil
}

// noiseSD is the sample standard deviation of xs, NaN when fewer than half of releases copies
// (or fewer than 2) gave a value.
func noiseSD(xs []float64, releases int) float64 {
	if len(xs) < releases/2 || len(xs) < 2 {
		return math.NaN()
	}
	var mean, ss float64
	for _, x := range xs {
		mean += x
	}
	mean /= float64(len(xs))
	for _, x := range xs {
		ss += (x - mean) * (x - mean)
	}
	return math.Sqrt(ss / float64(len(xs)-1))
}

// columnNoiseSDs is noiseSD of each of the p columns of rows (one row per copy that gave a
// value), nil when some column's is NaN.
func columnNoiseSDs(rows [][]float64, p, releases int) []float64 {
	sd := make([]float64, p)
	col := make([]float64, len(rows))
	for j := range sd {
		for i, r := range rows {
			col[i] = r[j]
		}
		if sd[j] = noiseSD(col, releases); math.IsNaN(sd[j]) {
			return nil
		}
	}
	return sd
}
