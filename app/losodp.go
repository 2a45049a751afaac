package app

import (
	"errors"
	"math"
	"slices"
	"strings"
	"sync/atomic"

	"github.com/oncofed/oncofed/analysis"
	"github.com/oncofed/oncofed/protocol"
)

// Leave-one-site-out validation of a model fitted on differentially private tables
// (docs/dp-validation.md). A dp_tables release (docs/dp-cox.md) is, per site, one noisy survival
// table per covariate pattern: the subjects it describes (each cell's events and censorings at
// the bin's end, with the pattern's design row) are pseudo-patients the client holds. Every
// figure of the validation — the fit on the other sites, the held-out site's C, calibration
// slope, calibration in the large and Brier score — is a function of those tables alone:
// post-processing of the release. It sends no query and spends no ρ beyond the release's.

// LOSONoise is the spread of a site's validation figures under the release's noise: the
// standard deviation over DPLOSONoiseReleases copies of every site's tables noised again with
// its mechanism and ρ (the parametric bootstrap of DPCoxNoiseSD), each copy validated as the
// tables were. NaN when fewer than half of the copies gave the figure.
type LOSONoise struct {
	HarrellC, UnoC, Slope float64
}

// LOSODP says that a validation was computed from differentially private tables, and what it
// cost: nothing beyond the release its tables came from.
type LOSODP struct {
	// Rho is the ρ the tables' release charged at each site (the largest, when sites differ):
	// spent once, by the fit, whatever is computed from the tables afterwards.
	Rho float64
	// Queries is the number of queries the validation itself sent: none.
	Queries int
	// Releases is the number of simulated noisy copies behind the noise figures (0: none
	// could be simulated); PooledCNoiseSD is the pooled C's spread over them.
	Releases       int
	PooledCNoiseSD float64
	// TablesFrom is the library result whose kept tables were reused (nothing was asked for
	// this fit and validation); 0 when the tables were asked for this result.
	TablesFrom int64
}

// DPLOSONoiseReleases is the number of simulated releases behind LOSONoise.
const DPLOSONoiseReleases = 50

// dpSite is one site's released tables as pseudo-patients.
type dpSite struct {
	site   string
	tables []analysis.CoxPatternTable
	st     *analysis.CoxStratum
}

// dpSites reads the sites' dp_tables replies (checked by dpCoxEvaluator: the same design
// columns everywhere) and their β limits.
func dpSites(replies []protocol.Reply, p int, ties analysis.Ties) ([]dpSite, []float64, error) {
	if _, err := dpCoxEvaluator(replies, p, ties); err != nil {
		return nil, nil, err
	}
	var out []dpSite
	var bound []float64
	for _, rep := range sortReplies(replies) {
		if rep.Cox.BetaLimit != nil {
			bound = analysis.MinBound(bound, rep.Cox.BetaLimit)
		}
		ts := dpPatternTables(rep.Cox.Patterns)
		st, err := analysis.NewCoxStratumPatterns(ts, p)
		if err != nil {
			return nil, nil, WrapError(EInvalid, err, "site %s sent tables that cannot be fitted", rep.Site)
		}
		out = append(out, dpSite{site: rep.Site, tables: ts, st: st})
	}
	return out, bound, nil
}

func dpPatternTables(ps []protocol.CoxPattern) []analysis.CoxPatternTable {
	out := make([]analysis.CoxPatternTable, len(ps))
	for k, pt := range ps {
		out[k] = analysis.CoxPatternTable{X: pt.X, Time: pt.Time, Events: pt.Events, Censor: pt.Censor}
	}
	return out
}

// dpLOSOConfig is what every validation of one model on tables shares.
type dpLOSOConfig struct {
	p         int
	ties      analysis.Ties
	terms     []string
	bound     []float64
	pooled    bool      // the pooled (one baseline) model, else stratified by site
	landmarks []float64 // calibration landmarks (pooled model only)
}

// fitOn fits the model on the tables of the sites but held: stratified by site, or pooled
// (one stratum of every other site's pseudo-patients) with its Breslow/Efron baseline.
func (c dpLOSOConfig) fitOn(sites []dpSite, held int) (*analysis.CoxFit, *analysis.CoxBaseline, error) {
	var strata [][]analysis.CoxPatternTable
	for i, s := range sites {
		if i == held {
			continue
		}
		if c.pooled && len(strata) == 1 {
			strata[0] = append(strata[0], s.tables...)
			continue
		}
		strata = append(strata, slices.Clone(s.tables))
	}
	fit, err := analysis.FitCoxPatterns(strata, c.p, c.ties, c.bound, analysis.CoxOptions{Terms: c.terms})
	if err != nil || fit == nil || !c.pooled || len(fit.NotEstimable) > 0 {
		return fit, nil, err
	}
	base, err := dpPooledBaseline(strata[0], c.p, c.ties, fit.Coef)
	return fit, base, err
}

// dpPooledBaseline is the pooled model's baseline hazard at β on the pseudo-patients of
// tables (uncentred: lp = x'β): R's survfit.coxph on the same rows.
func dpPooledBaseline(tables []analysis.CoxPatternTable, p int, ties analysis.Ties, beta []float64) (*analysis.CoxBaseline, error) {
	st, err := analysis.NewCoxStratumPatterns(tables, p)
	if err != nil {
		return nil, err
	}
	rows, _, err := st.RiskSetRows(beta)
	if err != nil {
		return nil, err
	}
	return analysis.PooledCoxBaseline([][]analysis.RiskSetRow{rows}, p, ties)
}

// validateSite is site held's validation: the model fitted on the others, evaluated on held's
// pseudo-patients (analysis.ValidateAtSite, the very statistics a site computes in the rules
// mode). A site whose tables hold no subject, no event or no comparable pair sits out, named.
func (c dpLOSOConfig) validateSite(sites []dpSite, held int) LOSOSite {
	site := LOSOSite{Site: sites[held].site, CalibrationSlope: math.NaN(), CalibrationSlopeSE: math.NaN()}
	st := sites[held].st
	site.N, site.Events = st.Len(), st.Events()
	if st.Events() == 0 {
		site.SatOut = "its released tables hold no event: no concordance"
		return site
	}
	fit, base, err := c.fitOn(sites, held)
	if err != nil || fit == nil || len(fit.NotEstimable) > 0 {
		site.SatOut = "the model could not be fitted on the other sites' tables"
		if err != nil {
			site.SatOut += ": " + err.Error()
		}
		return site
	}
	var marks, cumHaz []float64
	if base != nil {
		for _, t := range c.landmarks {
			if t > 0 && t <= base.LastTime && len(marks) < protocol.MaxLandmarks {
				marks = append(marks, t)
			}
		}
		if cumHaz, err = base.CumHazAt(marks); err != nil {
			marks, cumHaz = nil, nil
		}
	}
	v, err := st.Validate(fit.Coef, c.ties, marks, cumHaz)
	if errors.Is(err, analysis.ErrNoComparablePairs) {
		site.SatOut = "its released tables hold no comparable pair (no event before another subject's time): no concordance"
		return site
	}
	if err != nil {
		site.SatOut = "its tables could not be evaluated: " + err.Error()
		return site
	}
	site.Coef = fit.Coef
	site.HarrellC, site.HarrellSE, site.UnoC, site.UnoSE = v.Harrell.C, v.Harrell.SE, v.Uno.C, v.Uno.SE
	site.CalibrationSlope, site.CalibrationSlopeSE = v.Slope, v.SlopeSE
	site.Calibration = v.Calibration
	return site
}

// loso validates every site in turn.
func (c dpLOSOConfig) loso(sites []dpSite) []LOSOSite {
	out := make([]LOSOSite, len(sites))
	for i := range sites {
		out[i] = c.validateSite(sites, i)
	}
	return out
}

// validateDPTables is the leave-one-site-out validation of the model of spec on the sites'
// dp_tables replies (the release behind the model), computed locally; satOut are the sites
// that did not release tables (refused, invalid or missing), named with their reason. The
// pooled form (spec.DPPooled) also gives calibration in the large and the Brier score at
// landmarks. At least two sites must have released tables.
func validateDPTables(replies []protocol.Reply, satOut []SiteProblem, spec *CoxSpec, landmarks []float64) (*LOSOResult, error) {
	if spec.Penalty != nil {
		return nil, Errorf(EInvalid, "leave-one-site-out validation on differentially private tables takes no ridge penalty")
	}
	ties, err := coxTies(spec.Ties)
	if err != nil {
		return nil, err
	}
	if len(replies) < 2 {
		return nil, Errorf(ERefusedByPolicy, "leave-one-site-out validation needs two sites or more; %d released tables", len(replies))
	}
	for _, rep := range replies {
		if rep.Cox == nil {
			return nil, Errorf(EInternal, "site %s: cox reply without tables", rep.Site)
		}
	}
	p := len(replies[0].Cox.Columns)
	sites, bound, err := dpSites(replies, p, ties)
	if err != nil {
		return nil, err
	}
	c := dpLOSOConfig{p: p, ties: ties, terms: coxTerms(sortReplies(replies), p), bound: bound, pooled: spec.DPPooled}
	if c.pooled {
		c.landmarks = landmarks
	}
	out := &LOSOResult{Terms: c.terms, Sites: c.loso(sites), DP: &LOSODP{Rho: dpRho(replies), PooledCNoiseSD: math.NaN()}}
	c.addNoise(out, replies)
	for _, pr := range satOut {
		out.Sites = append(out.Sites, LOSOSite{Site: pr.Site, SatOut: "released no tables: " + pr.Message,
			CalibrationSlope: math.NaN(), CalibrationSlopeSE: math.NaN()})
	}
	slices.SortFunc(out.Sites, func(a, b LOSOSite) int { return strings.Compare(a.Site, b.Site) })
	out.pool()
	return out, nil
}

// dpRho is the largest ρ the sites' releases charged.
func dpRho(replies []protocol.Reply) float64 {
	rho := 0.0
	for _, rep := range replies {
		if d := rep.Policy.DP; d != nil {
			rho = math.Max(rho, d.Rho)
		}
	}
	return rho
}

// addNoise fills each site's LOSONoise and the pooled C's spread: the validation of
// DPLOSONoiseReleases copies of every site's tables noised again (dpRenoiser; the noise's
// distribution is public, so this is post-processing too). Copy k draws its noise from its own
// fixed seed, so the figures are the same at every computation from the same replies however
// the copies are spread over the processor's cores. Left unset when the replies lack what the
// simulation needs.
func (c dpLOSOConfig) addNoise(out *LOSOResult, replies []protocol.Reply) {
	rn, err := newDPRenoiser(sortReplies(replies), c.p)
	if err != nil {
		return
	}
	copies := make([]*LOSOResult, DPLOSONoiseReleases)
	var failed atomic.Bool
	onCores(len(copies), func(k int) {
		cp, err := c.noisyCopy(rn, k)
		if err != nil {
			failed.Store(true)
		}
		copies[k] = cp
	})
	if failed.Load() {
		return
	}
	n := len(out.Sites)
	hc, uc, sl := make([][]float64, n), make([][]float64, n), make([][]float64, n)
	var pooled []float64
	for _, cp := range copies {
		for i, s := range cp.Sites {
			if s.SatOut != "" {
				continue
			}
			hc[i], uc[i] = append(hc[i], s.HarrellC), append(uc[i], s.UnoC)
			if !math.IsNaN(s.CalibrationSlope) {
				sl[i] = append(sl[i], s.CalibrationSlope)
			}
		}
		if cp.PooledC != nil {
			pooled = append(pooled, cp.PooledC.C)
		}
	}
	out.DP.Releases = DPLOSONoiseReleases
	for i := range out.Sites {
		if out.Sites[i].SatOut == "" {
			out.Sites[i].Noise = &LOSONoise{HarrellC: noiseSD(hc[i], DPLOSONoiseReleases), UnoC: noiseSD(uc[i], DPLOSONoiseReleases), Slope: noiseSD(sl[i], DPLOSONoiseReleases)}
		}
	}
	out.DP.PooledCNoiseSD = noiseSD(pooled, DPLOSONoiseReleases)
}

// noisyCopy is the validation, pooled, of the k-th noisy copy of the tables (seed k).
func (c dpLOSOConfig) noisyCopy(rn *dpRenoiser, k int) (*LOSOResult, error) {
	tables, err := rn.renoise(exactDraws(copySeed([32]byte{'d', 'p', 'l', 'o', 's', 'o'}, k)))
	if err != nil {
		return nil, err
	}
	sites := make([]dpSite, len(tables))
	for i, ts := range tables {
		st, err := analysis.NewCoxStratumPatterns(ts, c.p)
		if err != nil {
			return nil, err
		}
		sites[i] = dpSite{site: rn.sites[i], tables: ts, st: st}
	}
	res := &LOSOResult{Sites: c.loso(sites)}
	res.pool()
	return res, nil
}
