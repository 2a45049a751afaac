package app

import (
	"errors"
	"fmt"
	"math"
	"math/big"
	"math/rand/v2"
	"slices"

	"github.com/oncofed/oncofed/analysis"
	"github.com/oncofed/oncofed/dp"
	"github.com/oncofed/oncofed/protocol"
)

// The log-rank test of a dp analyst's Kaplan–Meier release. Computed from the noisy tables as
// if they were exact, it rejects two equal groups far more often than its level: at the default
// ρ, 34% of releases at 5% for 500 patients at one site and 18% for 2,000, 42–44% and 29–32%
// over four sites; with the noise in the variance 3.8–6.6% (node.TestDPLogRankNull, README's
// "What a dp analyst gets for tests"). The noise is public in law — each site's mechanism, ρ and
// grid — so its share of the variance of Observed − Expected is simulated, as the dp Cox fit's
// is (dprenoise.go): the released tables are noised again DPLogRankCopies times with each
// site's mechanism, and the covariance of Observed − Expected over the copies is added to the
// test's variance (analysis.LogRankResult.WithNoise). Post-processing only: nothing is asked
// or spent. Approximation, as in dprenoise.go: the tables noised again are the released ones.

// DPLogRankCopies is how many noisy copies estimate the noise's variance.
const DPLogRankCopies = 200

// DPSiteGrid is how one site released its tables: its ρ per table, bin width and number of
// bins (the horizon over the bin width). A nil Rho is a site that released exact tables (to a
// trusted analyst): its tables are not noised again.
type DPSiteGrid struct {
	Rho  *big.Rat
	W    float64
	Bins int
}

// DPLogRank is the log-rank test of released dp tables with the noise in its variance:
// strata[s][g] is site s's release of group g (an empty table when the site released none),
// on grids[s]. It returns the test on the tables merged over the sites and the test stratified
// by site (either nil, with its error, when undefined), copies drawn from seed.
func DPLogRank(strata [][]analysis.SurvivalTable, grids []DPSiteGrid, seed [32]byte) (pooled, bySite *analysis.LogRankResult, errPooled, errBySite error) {
	grid, err := dpGrid(strata, grids)
	if err != nil {
		return nil, nil, err, err
	}
	p0, errPooled := analysis.LogRank(mergedGroups(strata))
	s0, errBySite := analysis.StratifiedLogRank(strata)
	if errPooled != nil && errBySite != nil {
		return nil, nil, errPooled, errBySite
	}
	k := len(strata[0])
	pooledOE, bySiteOE := make([][]float64, DPLogRankCopies), make([][]float64, DPLogRankCopies)
	errs := make([]error, DPLogRankCopies)
	onCores(DPLogRankCopies, func(c int) {
		var copyStrata [][]analysis.SurvivalTable
		if copyStrata, errs[c] = noisyCopy(strata, grid, grids, rand.New(rand.NewChaCha8(copySeed(seed, c)))); errs[c] != nil {
			return
		}
		if r, err := analysis.LogRank(mergedGroups(copyStrata)); err == nil {
			pooledOE[c] = observedMinusExpected(r)
		}
		if r, err := analysis.StratifiedLogRank(copyStrata); err == nil {
			bySiteOE[c] = observedMinusExpected(r)
		}
	})
	if err := errors.Join(errs...); err != nil {
		return nil, nil, err, err
	}
	isNil := func(v []float64) bool { return v == nil }
	pooledOE, bySiteOE = slices.DeleteFunc(pooledOE, isNil), slices.DeleteFunc(bySiteOE, isNil)
	if errPooled == nil {
		pooled, errPooled = logRankWithNoise(p0, pooledOE, k)
	}
	if errBySite == nil {
		bySite, errBySite = logRankWithNoise(s0, bySiteOE, k)
	}
	return pooled, bySite, errPooled, errBySite
}

// dpLogRankSeed seeds the noisy copies of DPLogRank in a result: the same replies give the
// same p-value.
var dpLogRankSeed = [32]byte{'d', 'p', 'l', 'o', 'g', 'r', 'a', 'n', 'k'}

// dpSiteGrid is the grid of rep's release, the zero grid (exact) when it is not dp.
func dpSiteGrid(rep protocol.Reply) (DPSiteGrid, error) {
	d := rep.Policy.DP
	if d == nil {
		return DPSiteGrid{}, nil
	}
	if !(d.Rho > 0) || !(rep.Policy.BinDays > 0) || rep.Policy.TruncatedAfter == nil {
		return DPSiteGrid{}, fmt.Errorf("site %s: the reply lacks the release's parameters", rep.Site)
	}
	w := rep.Policy.BinDays
	return DPSiteGrid{Rho: new(big.Rat).SetFloat64(d.Rho), W: w, Bins: int(math.Ceil(*rep.Policy.TruncatedAfter / w))}, nil
}

// noisyCopy is one noisy copy of the released tables strata (on grid), drawn from rng: each
// dp table noised again with its site's mechanism and ρ, keeping its split by cause (when it had
// one) and its delayed entries; exact and empty (not released) tables as they are.
func noisyCopy(strata [][]analysis.SurvivalTable, grid [][]dp.CompetingTable, grids []DPSiteGrid, rng *rand.Rand) ([][]analysis.SurvivalTable, error) {
	out := make([][]analysis.SurvivalTable, len(grid))
	for s, row := range grid {
		for g, ct := range row {
			if grids[s].Rho == nil || strata[s][g].Total() == 0 {
				out[s] = append(out[s], strata[s][g])
				continue
			}
			nt, err := dp.SimulateCompeting(rng, ct, grids[s].Rho, dp.SurvivalSqrt)
			if err != nil {
				return nil, err
			}
			c := dpAnalysisTable(nt, grids[s].W, len(strata[s][g].Causes) > 0)
			if e := entriesOf(strata[s][g]); len(e.Time) > 0 {
				c = analysis.MergeTables(c, e)
			}
			out[s] = append(out[s], c)
		}
	}
	return out, nil
}

// logRankWithNoise is r with the covariance of oe (one Observed − Expected per copy) added to its
// variance; an error when fewer than half of the copies gave a test.
func logRankWithNoise(r *analysis.LogRankResult, oe [][]float64, k int) (*analysis.LogRankResult, error) {
	if len(oe) < DPLogRankCopies/2 {
		return nil, fmt.Errorf("the noise's variance could not be simulated: %d of %d noisy copies gave a test", len(oe), DPLogRankCopies)
	}
	return r.WithNoise(sampleCov(oe, k))
}

// observedMinusExpected is O − E per group of r.
func observedMinusExpected(r *analysis.LogRankResult) []float64 {
	out := make([]float64, len(r.Observed))
	for g := range out {
		out[g] = r.Observed[g] - r.Expected[g]
	}
	return out
}

// mergedGroups merges each group's tables over the strata.
func mergedGroups(strata [][]analysis.SurvivalTable) []analysis.SurvivalTable {
	out := make([]analysis.SurvivalTable, len(strata[0]))
	for g := range out {
		var col []analysis.SurvivalTable
		for _, row := range strata {
			col = append(col, row[g])
		}
		out[g] = analysis.MergeTables(col...)
	}
	return out
}

// dpGrid puts every released table back on its site's grid, with its causes when it has them
// (a table with causes was released with one column per cause: dp.ReleaseCompeting).
func dpGrid(strata [][]analysis.SurvivalTable, grids []DPSiteGrid) ([][]dp.CompetingTable, error) {
	if len(strata) == 0 || len(strata) != len(grids) {
		return nil, fmt.Errorf("%d strata and %d grids", len(strata), len(grids))
	}
	out := make([][]dp.CompetingTable, len(strata))
	for s, row := range strata {
		g := grids[s]
		if g.Rho == nil {
			out[s] = make([]dp.CompetingTable, len(row))
			continue
		}
		if !(g.W > 0) || g.Bins < 1 || g.Bins > dp.MaxSurvivalBins || g.Rho == nil || g.Rho.Sign() <= 0 {
			return nil, fmt.Errorf("stratum %d: not a dp release's grid", s)
		}
		for _, t := range row {
			causes := max(len(t.Causes), 1)
			ct := dp.CompetingTable{Events: make([][]int64, causes), Censored: make([]int64, g.Bins)}
			for j := range ct.Events {
				ct.Events[j] = make([]int64, g.Bins)
			}
			for i, tm := range t.Time {
				if t.Events[i]+t.Censor[i] == 0 {
					continue // a row of delayed entries only: not noised (entriesOf)
				}
				b := int(math.Round(tm/g.W)) - 1
				if b < 0 || b >= g.Bins {
					return nil, fmt.Errorf("stratum %d: time %v off the grid", s, tm)
				}
				ct.Censored[b] += int64(t.Censor[i])
				if len(t.Causes) == 0 {
					ct.Events[0][b] += int64(t.Events[i])
				}
				for j := range t.Causes {
					ct.Events[j][b] += int64(t.Causes[j][i])
				}
			}
			out[s] = append(out[s], ct)
		}
	}
	return out, nil
}

// dpAnalysisTable is a dp table on bins of w days as the client reads it: the events of all
// causes together, and their split by cause when split.
func dpAnalysisTable(ct dp.CompetingTable, w float64, split bool) analysis.SurvivalTable {
	var out analysis.SurvivalTable
	st := ct.AllCauses()
	if split {
		out.Causes = make([][]int, len(ct.Events))
	}
	for b := range st.Events {
		if d, c := st.Events[b], st.Censored[b]; d+c > 0 {
			out.Time = append(out.Time, float64(b+1)*w)
			out.Events, out.Censor = append(out.Events, int(d)), append(out.Censor, int(c))
			for j := range out.Causes {
				out.Causes[j] = append(out.Causes[j], int(ct.Events[j][b]))
			}
		}
	}
	return out
}

// entriesOf is t's delayed entries alone (released in blocks, not noised): what a noisy copy of
// t keeps of it.
func entriesOf(t analysis.SurvivalTable) analysis.SurvivalTable {
	var out analysis.SurvivalTable
	for i, e := range t.Entries {
		if e > 0 {
			out.Time = append(out.Time, t.Time[i])
			out.Events, out.Censor, out.Entries = append(out.Events, 0), append(out.Censor, 0), append(out.Entries, e)
		}
	}
	return out
}
