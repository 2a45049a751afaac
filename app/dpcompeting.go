package app

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"

	"github.com/oncofed/oncofed/analysis"
)

// The cumulative incidence and Gray's test of a dp analyst's per-cause release, with the noise.
// Computed from the noisy tables as if they were exact, Gray's test rejected two equal groups in
// 16–32% of releases at 5% and the intervals left the noise out (node.TestDPGrayNull,
// docs/competing-risks.md). As for the log-rank test (dplogrank.go), the noise's law is public,
// so the released per-cause tables are noised again DPLogRankCopies times with each site's
// mechanism and ρ (noisyCopy), and over the copies: the covariance of Gray's score is added to
// its variance (analysis.GrayResult.WithNoise), and the standard deviation of each group's
// cumulative incidence at each time to its standard error (analysis.CIFEstimate.WithNoise).
// Post-processing only: nothing is asked or spent. Approximation, as in dprenoise.go: the
// tables noised again are the released ones.

// DPCompetingResult is what DPCompeting gives.
type DPCompetingResult struct {
	CIF     []*analysis.CIFEstimate // per group, the noise in the standard errors and intervals
	Gray    []analysis.GrayResult   // per cause, the noise in the variance; nil with GrayErr
	GrayErr error
}

// DPCompeting is the cumulative incidence and Gray's test of released dp tables split by cause,
// with the noise: strata[s][g] is site s's release of group g on grids[s] (as DPLogRank), cifs[g]
// the Aalen–Johansen estimate of group g's tables merged over the sites (nil: none), causes the
// number of causes. Gray's test (pooled over the sites, cmprsk's cuminc) is computed with two
// groups or more; copies are drawn from seed. An error is a release that cannot be noised again.
func DPCompeting(strata [][]analysis.SurvivalTable, grids []DPSiteGrid, cifs []*analysis.CIFEstimate, causes int, seed [32]byte) (*DPCompetingResult, error) {
	grid, err := dpGrid(strata, grids)
	if err != nil {
		return nil, err
	}
	merged := mergedGroups(strata)
	out := &DPCompetingResult{CIF: make([]*analysis.CIFEstimate, len(cifs))}
	var gray []analysis.GrayResult // on the released tables
	if len(merged) >= 2 {
		for c := 1; c <= causes && out.GrayErr == nil; c++ {
			var g analysis.GrayResult
			g, out.GrayErr = analysis.GrayTest([][]analysis.SurvivalTable{merged}, c, 0)
			gray = append(gray, g)
		}
		if out.GrayErr != nil {
			gray = nil
		}
	}
	if len(gray) == 0 && !slices.ContainsFunc(cifs, func(e *analysis.CIFEstimate) bool { return e != nil }) {
		return out, nil
	}
	scores := make([][][]float64, DPLogRankCopies)   // [copy][cause]: Gray's score, nil when undefined
	curves := make([][][][]float64, DPLogRankCopies) // [copy][group][cause][row of cifs[g]]
	errs := make([]error, DPLogRankCopies)
	onCores(DPLogRankCopies, func(k int) {
		copyStrata, err := noisyCopy(strata, grid, grids, rand.New(rand.NewChaCha8(copySeed(seed, k))))
		if err != nil {
			errs[k] = err
			return
		}
		copyMerged := mergedGroups(copyStrata)
		scores[k] = make([][]float64, len(gray))
		for c, g := range gray {
			if r, err := analysis.GrayTest([][]analysis.SurvivalTable{copyMerged}, g.Cause, 0); err == nil && r.DF == g.DF {
				scores[k][c] = r.Score
			}
		}
		curves[k] = cifsOnRows(copyMerged, cifs)
	})
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	out.Gray, err = grayWithNoise(gray, scores)
	if err != nil {
		out.Gray, out.GrayErr = nil, err
	}
	for g, est := range cifs {
		if est != nil {
			out.CIF[g] = est.WithNoise(cifNoiseSD(curves, g, est))
		}
	}
	return out, nil
}

// dpCompetingSeed seeds the noisy copies of DPCompeting in a result: the same replies give the
// same p-values and intervals.
var dpCompetingSeed = [32]byte{'d', 'p', 'c', 'o', 'm', 'p', 'e', 't', 'i', 'n', 'g'}

// cifsOnRows is, per group of a noisy copy (merged over the sites), the cumulative incidence of
// each cause at the rows of cifs[g] (nil for a group without an estimate in either).
func cifsOnRows(copyMerged []analysis.SurvivalTable, cifs []*analysis.CIFEstimate) [][][]float64 {
	out := make([][][]float64, len(cifs))
	for g, est := range cifs {
		if est == nil || copyMerged[g].Total() == 0 {
			continue
		}
		ce, err := analysis.CumulativeIncidence(copyMerged[g], analysis.KMOptions{})
		if err != nil || len(ce.Causes) != len(est.Causes) {
			continue
		}
		out[g] = make([][]float64, len(est.Causes))
		for c := range est.Causes {
			out[g][c] = make([]float64, len(est.Time))
			for j, tm := range est.Time {
				out[g][c][j] = ce.At(c+1, tm).CIF
			}
		}
	}
	return out
}

// cifNoiseSD is the standard deviation over the copies of group g's cumulative incidence of each
// cause at each row of est (noiseSD: NaN when fewer than half of the copies gave an estimate).
func cifNoiseSD(curves [][][][]float64, g int, est *analysis.CIFEstimate) [][]float64 {
	sd := make([][]float64, len(est.Causes))
	col := make([]float64, 0, len(curves))
	for c := range sd {
		sd[c] = make([]float64, len(est.Time))
		for j := range sd[c] {
			col = col[:0]
			for _, cp := range curves {
				if cp[g] != nil {
					col = append(col, cp[g][c][j])
				}
			}
			sd[c][j] = noiseSD(col, DPLogRankCopies)
		}
	}
	return sd
}

// grayWithNoise is each of gray with the covariance of its score over the copies (scores[copy]
// [cause], nil where the copy gave no test) added to its variance; an error when fewer than
// half of the copies gave a test.
func grayWithNoise(gray []analysis.GrayResult, scores [][][]float64) ([]analysis.GrayResult, error) {
	var out []analysis.GrayResult
	for c, g := range gray {
		var rows [][]float64
		for _, s := range scores {
			if s[c] != nil {
				rows = append(rows, s[c])
			}
		}
		if len(rows) < DPLogRankCopies/2 {
			return nil, fmt.Errorf("the noise's variance could not be simulated: %d of %d noisy copies gave Gray's test of cause %d", len(rows), DPLogRankCopies, g.Cause)
		}
		r, err := g.WithNoise(sampleCov(rows, g.DF))
		if err != nil {
			return nil, err
		}
		out = append(out, r)
	}
	return out, nil
}
