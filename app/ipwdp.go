package app

import (
	"context"
	"math"
	"math/big"
	"math/rand/v2"
	"slices"
	"sort"

	"github.com/oncofed/oncofed/analysis"
	"github.com/oncofed/oncofed/dp"
	"github.com/oncofed/oncofed/protocol"
)

// A propensity-weighted comparison for an analyst of role dp (docs/dp-compare.md): one
// dp_tables Cox release per site (node/dpcox.go) of the treatment and the confounders, and
// everything else on the client. The release's covariate patterns are the cells a propensity
// analysis needs: each pattern's table describes its pseudo-patients (so many events and
// censorings at each bin's end, with the pattern's design row), and the propensity model, the
// weights, the balance, the weighted Kaplan–Meier curves and the weighted Cox model are the
// existing statistics (analysis/ipw.go, logistic.go, wkm.go, wcox.go, ipwcox.go) run on those
// pseudo-patients — R's glm, survfit and coxph on them give the same numbers. It is
// post-processing of the one release: one query per site, one dp_rho_cox, nothing more asked.

// IPWDP says how a comparison computed from differentially private tables was released, and
// how much its hazard ratio owes to the noise.
type IPWDP struct {
	// Rho is the largest ρ a site charged for its release (each site charges its own
	// dp_rho_cox once).
	Rho float64
	// NoiseSD is, per coefficient of the weighted Cox model, the standard deviation of the
	// estimate over copies of the release noised again with each site's mechanism and ρ (the
	// whole comparison recomputed on each copy); nil when fewer than half the copies could be
	// compared. The robust SE is the sampling error of the pseudo-patients and leaves it out.
	NoiseSD []float64
	// Copies is how many of the IPWDPNoiseReleases copies were compared.
	Copies int
	// Patients is the number of pseudo-patients the comparison is computed on (noisy).
	Patients int
	// Dropped patterns, and their pseudo-patients, whose released size the noise alone
	// explains (IPWSpec.DPAllPatterns keeps them).
	DroppedPatterns, DroppedPatients int
}

// IPWDPNoiseReleases is the number of re-noised copies behind IPWDP.NoiseSD.
const IPWDPNoiseReleases = 50

// ipwDPSite is one site's pseudo-patients: the propensity design (intercept first), the arm,
// the time at the bin's end and the status.
type ipwDPSite struct {
	site    string
	x       []float64 // n × p, row-major
	treated []bool
	time    []float64
	event   []bool
	// dropped patterns (and their pseudo-patients) whose released size the noise alone
	// explains (ipwDPEmptyBound).
	dropped, droppedPatients int
}

// ipwDPEmptyZ is the one-sided 95% normal quantile of ipwDPEmptyBound.
const ipwDPEmptyZ = 1.6448536269514722

// ipwDPEmptyBound is the released size below which a pattern's table cannot be told from an
// empty one's: 1.645 times the standard deviation the release's noise gives one table's size
// (dp.SurvivalSizeSD of the site's public grid and ρ). An empty pattern is released with a
// positive size as often as not (the tables are made non-negative and consistent: on the 122
// monthly bins of ten years at ρ = 0.05 an empty table's size is 4 on average and above 14 one
// time in ten), and a comparison over many patterns then holds many pseudo-patients who are
// noise, of random arm and outcome, which pull the hazard ratio to 1 (docs/dp-compare.md
// measures it). Leaving the patterns below the bound out is post-processing on public
// numbers; it also leaves out true patterns that small, as trimming leaves out patients
// without overlap, and the result says how many. Zero when the reply lacks the grid or ρ.
func ipwDPEmptyBound(pol protocol.PolicyEffects) float64 {
	d := pol.DP
	if d == nil || !(d.Rho > 0) || !(pol.BinDays > 0) || pol.TruncatedAfter == nil {
		return 0
	}
	bins := int(math.Ceil(*pol.TruncatedAfter / pol.BinDays))
	if bins < 1 || bins > dp.MaxSurvivalBins {
		return 0
	}
	return ipwDPEmptyZ * dp.SurvivalSizeSD(bins, new(big.Rat).SetFloat64(d.Rho), dp.SurvivalSqrt)
}

// ipwDPCoxRequest is the dp_tables request of a comparison: the treatment (an indicator of
// the treated level, two cells) and the confounders, or with a treated site the confounders
// alone (the arm is the site the tables come from).
func ipwDPCoxRequest(s *IPWSpec) *protocol.CoxRequest {
	ties := s.Ties
	if ties == "" {
		ties = "efron"
	}
	c := &protocol.CoxRequest{Form: protocol.CoxDPTables, Ties: ties, Covariates: slices.Clone(s.Confounders), Levels: s.Levels}
	if s.TreatedSite == "" {
		c.Covariates = append([]string{s.Treatment}, c.Covariates...)
		c.Indicators = map[string]string{s.Treatment: s.Treated}
	}
	c.Beta = make([]float64, len(ipwDesignColumns(s.Confounders, s.Levels))+len(c.Indicators))
	return c
}

// runIPWDP runs the comparison of a dp analyst: one scatter-gather of a dp_tables Cox query,
// then renderIPWDP.
func (s *Service) runIPWDP(ctx context.Context, req Request) (*Result, error) {
	spec := req.IPW
	if len(spec.Merge) > 0 {
		return nil, Errorf(EInvalid, "merging confounder levels is not available to a differentially private comparison: the sites release the declared levels' patterns; leave out a confounder or compare within a narrower cohort (docs/dp-compare.md)")
	}
	q := s.baseQuery(req)
	q.Kind = protocol.KindCox
	q.ID = s.newID()
	q.IPW = nil
	q.Cox = ipwDPCoxRequest(spec)
	g, err := s.query(ctx, q)
	if err != nil {
		return nil, err
	}
	if err := noAnswer(g); err != nil {
		return nil, err
	}
	replies := sortReplies(g.Replies)
	if ts := spec.TreatedSite; ts != "" && !slices.ContainsFunc(replies, func(r protocol.Reply) bool { return r.Site == ts }) {
		return nil, Errorf(EUnavailable, "the treated arm is site %s's patients, but %s did not answer (see the sites' status); the comparison needs it", ts, ts)
	}
	r := &Result{Network: s.network.ID, Request: req, Rounds: []Round{newRound(q, replies, g)}}
	if r.IPW, err = renderIPWDP(req, r.Rounds); err != nil {
		return nil, err
	}
	if err := s.finish(ctx, r, g, nil); err != nil {
		return nil, err
	}
	return r, nil
}

// isIPWDP reports whether the stored rounds of a comparison are one dp_tables release.
func isIPWDP(rounds []Round) bool {
	return len(rounds) == 1 && rounds[0].Query.Kind == protocol.KindCox && rounds[0].Query.Cox != nil &&
		rounds[0].Query.Cox.Form == protocol.CoxDPTables
}

// renderIPWDP computes the comparison from the stored release, and the noise's spread.
func renderIPWDP(req Request, rounds []Round) (*IPWResult, error) {
	if !isIPWDP(rounds) {
		return nil, Errorf(EInternal, "the stored rounds of the differentially private comparison are not one dp_tables release")
	}
	replies := rounds[0].Replies
	sites, err := ipwDPSites(req.IPW, replies)
	if err != nil {
		return nil, err
	}
	res, err := ipwOnPseudoPatients(req.IPW, sites, false)
	if err != nil {
		kept, dropped, droppedPatients := 0, 0, 0
		for _, st := range sites {
			kept += len(st.time)
			dropped, droppedPatients = dropped+st.dropped, droppedPatients+st.droppedPatients
		}
		if dropped > 0 {
			return nil, WrapError(ErrorCode(err), err, "%s (the sites' tables held %d pseudo-patients after %d patterns of %d were left out as within the noise of an empty table: with these confounders the cohort is too small for a differentially private comparison; choose fewer confounders, or ones with fewer levels)",
				ErrorMessage(err), kept, dropped, droppedPatients)
		}
		return nil, err
	}
	res.DP = &IPWDP{}
	for _, rep := range replies {
		if d := rep.Policy.DP; d != nil {
			res.DP.Rho = max(res.DP.Rho, d.Rho)
		}
	}
	for _, st := range sites {
		res.DP.Patients += len(st.time)
		res.DP.DroppedPatterns += st.dropped
		res.DP.DroppedPatients += st.droppedPatients
	}
	res.DP.NoiseSD, res.DP.Copies = ipwDPNoiseSD(req.IPW, replies, len(res.Cox.Coef))
	return res, nil
}

// ipwDPSites reads the sites' released tables as pseudo-patients, checking that every site
// built the design the comparison asked for.
func ipwDPSites(spec *IPWSpec, replies []protocol.Reply) ([]ipwDPSite, error) {
	want := ipwDesignColumns(spec.Confounders, spec.Levels)
	arm := 0 // design columns before the confounders': the treatment's indicator
	if spec.TreatedSite == "" {
		arm = 1
	}
	var out []ipwDPSite
	for _, rep := range replies {
		c := rep.Cox
		if c == nil {
			return nil, Errorf(EInvalid, "site %s: a reply without its tables", rep.Site)
		}
		if len(c.Columns) != arm+len(want) || !equalStrings(c.Columns[arm:], want) {
			return nil, Errorf(EInvalid, "site %s built design columns %v; the comparison needs the treatment and %v", rep.Site, c.Columns, want)
		}
		st := ipwDPSite{site: rep.Site}
		tau := 0.0
		if !spec.DPAllPatterns {
			tau = ipwDPEmptyBound(rep.Policy)
		}
		for k, pt := range c.Patterns {
			if len(pt.X) != len(c.Columns) || len(pt.Time) != len(pt.Events) || len(pt.Time) != len(pt.Censor) {
				return nil, Errorf(EInvalid, "site %s: table %d has the wrong shape", rep.Site, k+1)
			}
			size := 0
			for b := range pt.Time {
				size += pt.Events[b] + pt.Censor[b]
			}
			if float64(size) < tau {
				st.dropped, st.droppedPatients = st.dropped+1, st.droppedPatients+size
				continue
			}
			treated := rep.Site == spec.TreatedSite
			if arm == 1 {
				treated = pt.X[0] == 1
			}
			row := append([]float64{1}, pt.X[arm:]...)
			for b, t := range pt.Time {
				if pt.Events[b] < 0 || pt.Censor[b] < 0 || !(t > 0) {
					return nil, Errorf(EInvalid, "site %s: table %d, row %d is not a count at a positive time", rep.Site, k+1, b+1)
				}
				for i := range pt.Events[b] + pt.Censor[b] {
					st.x = append(st.x, row...)
					st.treated = append(st.treated, treated)
					st.time = append(st.time, t)
					st.event = append(st.event, i < pt.Events[b])
				}
			}
		}
		out = append(out, st)
	}
	return out, nil
}

// ipwWeighted is the comparison's pseudo-patients with their propensities and weights.
type ipwDPWeighted struct {
	ps, w []float64
	kept  []bool
}

// ipwOnPseudoPatients is the comparison on the sites' pseudo-patients; coefOnly stops after the
// weighted Cox model's coefficients (no robust variance, curves or balance: a noise copy).
func ipwOnPseudoPatients(spec *IPWSpec, sites []ipwDPSite, coefOnly bool) (*IPWResult, error) {
	columns := append([]string{"(Intercept)"}, ipwDesignColumns(spec.Confounders, spec.Levels)...)
	p := len(columns)
	fit, err := analysis.FitLogistic(func(beta []float64) (analysis.LogisticContribution, error) {
		var sum analysis.LogisticContribution
		for _, st := range sites {
			c, err := analysis.LogisticSiteContribution(st.x, p, st.treated, beta)
			if err != nil {
				return sum, err
			}
			sum.Add(c)
		}
		return sum, nil
	}, p, analysis.LogisticOptions{Terms: columns})
	if err != nil {
		return nil, WrapError(EInvalid, err, "the propensity model could not be fitted on the released tables")
	}
	est, _ := analysis.ParseEstimand(ipwEstimand(spec))
	opts := analysis.WeightOptions{Estimand: est, Stabilise: spec.Stabilise, Trim: spec.Trim,
		TreatedShare: float64(fit.Treated) / float64(fit.N)}
	weighted := make([]ipwDPWeighted, len(sites))
	for k, st := range sites {
		n := len(st.time)
		wt := ipwDPWeighted{ps: make([]float64, n), w: make([]float64, n), kept: make([]bool, n)}
		for i := range n {
			wt.ps[i] = analysis.Propensity(st.x[i*p:(i+1)*p], fit.Coef)
			w, kept := analysis.IPWeight(wt.ps[i], st.treated[i], opts)
			if kept && w > 0 && !math.IsInf(w, 0) {
				wt.w[i], wt.kept[i] = w, true
			}
		}
		weighted[k] = wt
	}
	res := &IPWResult{Estimand: ipwEstimand(spec), Strata: ipwStrata(spec), Propensity: fit, Edges: IPWEdges}
	if res.Cox, res.Robust, err = ipwDPCox(spec, sites, weighted, columns, coefOnly); err != nil {
		return nil, err
	}
	if coefOnly {
		return res, nil
	}
	if err := res.ipwDPOutcome(sites, weighted, p); err != nil {
		return nil, err
	}
	return res, nil
}

// ipwDPOutcome fills the balance, the arms' counts, histograms and weighted curves.
func (res *IPWResult) ipwDPOutcome(sites []ipwDPSite, weighted []ipwDPWeighted, p int) error {
	bal := analysis.NewBalanceSums(p - 1)
	var tables [2][]analysis.WeightedSurvivalTable
	hist := [2][]int{make([]int, len(res.Edges)-1), make([]int, len(res.Edges)-1)}
	var trimmed [2]int
	for k, st := range sites {
		res.Sites = append(res.Sites, st.site)
		wt := weighted[k]
		var time [2][]float64
		var event [2][]bool
		var w [2][]float64
		for i := range st.time {
			a := 0
			if st.treated[i] {
				a = 1
			}
			bal.Add(st.x[i*p+1:(i+1)*p], st.treated[i], wt.w[i], wt.kept[i])
			if b := ipwBin(res.Edges, wt.ps[i]); b >= 0 {
				hist[a][b]++
			}
			if !wt.kept[i] {
				trimmed[a]++
				continue
			}
			time[a], event[a], w[a] = append(time[a], st.time[i]), append(event[a], st.event[i]), append(w[a], wt.w[i])
		}
		for a := range tables {
			t, err := analysis.NewWeightedSurvivalTable(time[a], event[a], w[a])
			if err != nil {
				return WrapError(EInvalid, err, "site %s: the weighted table cannot be built", st.site)
			}
			tables[a] = append(tables[a], t)
		}
	}
	res.Balance = analysis.Balance(bal, res.Propensity.Terms[1:])
	for a, sums := range []analysis.ArmSums{bal.Control, bal.Treated} {
		out := &res.Control
		if a == 1 {
			out = &res.Treated
		}
		out.N, out.Kept, out.ESS, out.WeightSum = sums.N, sums.Kept, sums.ESS(), sums.W
		out.Trimmed = analysis.ExactCount(trimmed[a])
		for _, n := range hist[a] {
			out.Histogram = append(out.Histogram, analysis.ExactCount(n))
		}
		km, err := analysis.WeightedKaplanMeier(analysis.MergeWeightedTables(tables[a]...), analysis.KMOptions{})
		if err != nil {
			return WrapError(EInvalid, err, "the weighted Kaplan–Meier curve of the %s arm could not be computed", []string{"control", "treated"}[a])
		}
		out.KM = km
	}
	return nil
}

// ipwBin is the bin [edges[k], edges[k+1]) holding x, the last bin closed; −1 outside.
func ipwBin(edges []float64, x float64) int {
	if len(edges) < 2 || !(x >= edges[0] && x <= edges[len(edges)-1]) {
		return -1
	}
	k := sort.SearchFloat64s(edges, x)
	if k < len(edges) && edges[k] == x {
		return min(k, len(edges)-2)
	}
	return k - 1
}

// ipwDPCox fits the weighted Cox model on the kept pseudo-patients: of the treatment (and the
// adjusting confounders' columns), stratified by site or with one baseline hazard, with its
// robust variance unless coefOnly.
func ipwDPCox(spec *IPWSpec, sites []ipwDPSite, weighted []ipwDPWeighted, columns []string, coefOnly bool) (*analysis.CoxFit, *analysis.RobustCox, error) {
	terms := ipwCoxTerms(spec)
	var adjust []int // propensity design columns of the adjusting covariates
	for _, c := range terms[1:] {
		adjust = append(adjust, slices.Index(columns, c))
	}
	q, p := len(terms), len(columns)
	ties, err := coxTies(spec.Ties)
	if err != nil {
		return nil, nil, err
	}
	var strata []*analysis.WeightedCoxStratum
	for k, st := range sites {
		wt := weighted[k]
		var time, x, w []float64
		var event []bool
		for i := range st.time {
			if !wt.kept[i] {
				continue
			}
			time, event, w = append(time, st.time[i]), append(event, st.event[i]), append(w, wt.w[i])
			x = append(x, float64(armOf(st.treated[i])))
			for _, j := range adjust {
				x = append(x, st.x[i*p+j])
			}
		}
		if len(time) == 0 {
			continue
		}
		s, err := analysis.NewWeightedCoxStratum(time, event, x, q, w)
		if err != nil {
			return nil, nil, WrapError(EInvalid, err, "site %s: the weighted Cox model cannot be built", st.site)
		}
		strata = append(strata, s)
	}
	if len(strata) == 0 {
		return nil, nil, Errorf(EInvalid, "no patient is left after trimming")
	}
	opts := analysis.CoxOptions{Terms: terms}
	var fit *analysis.CoxFit
	var rob *analysis.RobustCox
	switch {
	case coefOnly && ipwStrata(spec) == "site":
		fit, err = analysis.FitCox(func(beta []float64) (analysis.CoxContribution, error) {
			var sum analysis.CoxContribution
			for _, s := range strata {
				c, err := s.Contribution(beta, ties)
				if err != nil {
					return c, err
				}
				sum.Add(c)
			}
			return sum, nil
		}, q, opts)
	case ipwStrata(spec) == "site":
		fit, rob, err = analysis.FitWeightedStratifiedCox(strata, ties, opts)
	default:
		fit, rob, err = analysis.FitWeightedPooledCox(strata, ties, opts)
	}
	if err != nil {
		return nil, nil, WrapError(EInvalid, err, "the weighted Cox model could not be fitted on the released tables")
	}
	return fit, rob, nil
}

// armOf is 1 for the treated arm, 0 for the control arm.
func armOf(treated bool) int {
	if treated {
		return 1
	}
	return 0
}

// ipwDPNoiseSD is the spread of the weighted Cox model's coefficients over IPWDPNoiseReleases
// copies of the release noised again with each site's mechanism and ρ (a parametric bootstrap,
// as DPCoxNoiseSD does for the Cox model; the noise drawn by dp.SimulateSurvival, a fast
// simulation of the mechanism, from a fixed seed, so the same replies give the same number):
// post-processing, nothing asked or spent. Approximations, as there: the tables noised
// again are the released ones, and patterns released empty are left out.
func ipwDPNoiseSD(spec *IPWSpec, replies []protocol.Reply, q int) ([]float64, int) {
	type siteTables struct {
		rho    *big.Rat
		w      float64
		tables []dp.SurvivalTable
	}
	sites := make([]siteTables, len(replies))
	for s, rep := range replies {
		d := rep.Policy.DP
		if d == nil || !(d.Rho > 0) || !(rep.Policy.BinDays > 0) || rep.Policy.TruncatedAfter == nil || rep.Cox == nil {
			return nil, 0
		}
		w := rep.Policy.BinDays
		bins := int(math.Ceil(*rep.Policy.TruncatedAfter / w))
		if bins < 1 || bins > dp.MaxSurvivalBins {
			return nil, 0
		}
		sites[s] = siteTables{rho: new(big.Rat).SetFloat64(d.Rho), w: w}
		for _, pt := range rep.Cox.Patterns {
			t := dp.SurvivalTable{Events: make([]int64, bins), Censored: make([]int64, bins)}
			for k, tm := range pt.Time {
				b := int(math.Round(tm/w)) - 1
				if b < 0 || b >= bins {
					return nil, 0
				}
				t.Events[b] += int64(pt.Events[k])
				t.Censored[b] += int64(pt.Censor[k])
			}
			sites[s].tables = append(sites[s].tables, t)
		}
	}
	rng := rand.New(rand.NewChaCha8([32]byte{'d', 'p', 'i', 'p', 'w'}))
	var coefs [][]float64
	for range IPWDPNoiseReleases {
		copies := make([]protocol.Reply, len(replies))
		for s, rep := range replies {
			c := *rep.Cox
			c.Patterns = nil
			for k, t := range sites[s].tables {
				r, err := dp.SimulateSurvival(rng, t, sites[s].rho, dp.SurvivalSqrt)
				if err != nil {
					return nil, 0
				}
				pt := protocol.CoxPattern{X: rep.Cox.Patterns[k].X}
				for b := range r.Events {
					if d, ce := r.Events[b], r.Censored[b]; d+ce > 0 {
						pt.Time = append(pt.Time, float64(b+1)*sites[s].w)
						pt.Events, pt.Censor = append(pt.Events, int(d)), append(pt.Censor, int(ce))
					}
				}
				c.Patterns = append(c.Patterns, pt)
			}
			copies[s] = protocol.Reply{Site: rep.Site, Cox: &c, Policy: rep.Policy}
		}
		ps, err := ipwDPSites(spec, copies)
		if err != nil {
			continue
		}
		res, err := ipwOnPseudoPatients(spec, ps, true)
		if err == nil && res.Cox.Converged && len(res.Cox.Coef) == q {
			coefs = append(coefs, res.Cox.Coef)
		}
	}
	if len(coefs) < IPWDPNoiseReleases/2 {
		return nil, len(coefs)
	}
	sd := make([]float64, q)
	for j := range sd {
		var mean, ss float64
		for _, c := range coefs {
			mean += c[j]
		}
		mean /= float64(len(coefs))
		for _, c := range coefs {
			ss += (c[j] - mean) * (c[j] - mean)
		}
		sd[j] = math.Sqrt(ss / float64(len(coefs)-1))
	}
	return sd, len(coefs)
}

// NoiseInterval is the 95% interval of the treatment's hazard ratio widened by the release's
// noise: exp(β̂ ∓ 1.96 √(robust SE² + noise SD²)); ok is false for a comparison that is not
// differentially private or whose noise SD is unknown.
func (r *IPWResult) NoiseInterval() (lower, upper float64, ok bool) {
	if r.DP == nil || len(r.DP.NoiseSD) == 0 || r.Cox == nil || r.Robust == nil {
		return 0, 0, false
	}
	h := 1.959963984540054 * math.Hypot(r.Robust.SE[0], r.DP.NoiseSD[0])
	return math.Exp(r.Cox.Coef[0] - h), math.Exp(r.Cox.Coef[0] + h), true
}
