package app

import (
	"fmt"
	"math"
	"slices"
	"sort"

	"github.com/oncofed/oncofed/analysis"
	"github.com/oncofed/oncofed/protocol"
)

// Render computes r's payload (Count, Summary, KM or Cox) from its stored rounds, with no
// network: a result opened from the cache is rendered by the same code, from the same
// aggregates, as when it was computed, so it shows exactly the same numbers.
func Render(r *Result) error {
	r.Count, r.Summary, r.KM, r.Cox, r.IPW, r.Screen = nil, nil, nil, nil, nil, nil
	if len(r.Rounds) == 0 {
		return Errorf(EInternal, "result %q holds no aggregates", r.Name)
	}
	replies := r.Rounds[0].Replies
	var err error
	switch r.Request.Kind {
	case protocol.KindCount:
		r.Count, err = renderCount(replies)
	case protocol.KindSummary:
		r.Summary, err = renderSummary(replies, r.Request.Discrete)
	case protocol.KindSurvival:
		r.KM, err = renderKM(replies, r.Request.Landmarks)
	case protocol.KindCox:
		r.Cox, err = renderCox(r)
	case protocol.KindIPW:
		r.IPW, err = renderIPW(r.Request, r.Rounds)
	case protocol.KindScreen:
		r.Screen, err = renderStoredScreen(r)
	default:
		return Errorf(EInvalid, "unknown analysis kind %q", r.Request.Kind)
	}
	return err
}

func renderCount(replies []protocol.Reply) (*CountResult, error) {
	out := &CountResult{}
	groups := map[string]Count{}
	for _, rep := range replies {
		c := rep.Count
		if c == nil {
			return nil, Errorf(EInternal, "site %s: count reply without counts", rep.Site)
		}
		mc := rep.Policy.MinCell
		sc := SiteCount{Site: rep.Site, Total: releasedCount(c.Total, mc), Missing: releasedCount(c.Missing, mc), Rounding: rep.Policy.FeasibilityRounding}
		if sc.Rounding > 0 {
			out.Approximate = true
			out.Rounding = max(out.Rounding, sc.Rounding)
			out.Noise = max(out.Noise, rep.Policy.FeasibilityNoise)
		}
		if len(c.Groups) > 0 {
			// The groups and the missing group partition the total.
			sc.Groups, sc.Missing = releasedLevels(c.Groups, c.Missing, sc.Total, mc)
			for g, n := range sc.Groups {
				groups[g] = groups[g].Add(n)
			}
		}
		out.Total = out.Total.Add(sc.Total)
		out.Missing = out.Missing.Add(sc.Missing)
		out.PerSite = append(out.PerSite, sc)
	}
	// The groups in the study's declared order as the sites list it (older sites do not:
	// their groups follow, by name).
	order := appearanceOrder(replies, func(r protocol.Reply) []string { return r.Count.Order })
	for _, g := range sortedKeys(groups) {
		if !slices.Contains(order, g) {
			order = append(order, g)
		}
	}
	for _, g := range order {
		if n, ok := groups[g]; ok {
			out.Groups = append(out.Groups, GroupCount{Group: g, N: n})
		}
	}
	sort.Slice(out.PerSite, func(i, j int) bool { return out.PerSite[i].Site < out.PerSite[j].Site })
	return out, nil
}

// releasedLevels reads the released counts of named cells that, with missing, partition total
// (a count's groups, a categorical variable's categories) with the bounds releasedPartition
// gives them.
func releasedLevels(cells map[string]protocol.Count, missing protocol.Count, total Count, minCell int) (map[string]Count, Count) {
	names := sortedKeys(cells)
	in := make([]protocol.Count, 0, len(names)+1)
	for _, n := range names {
		in = append(in, cells[n])
	}
	part := releasedLevelPartition(append(in, missing), len(names), total, minCell)
	out := make(map[string]Count, len(names))
	for i, n := range names {
		out[n] = part[i]
	}
	return out, part[len(names)]
}

func renderSummary(replies []protocol.Reply, discrete []string) (*SummaryResult, error) {
	out := &SummaryResult{}
	sites, missing, err := summarySites(replies)
	if err != nil {
		return nil, err
	}
	out.MissingGroup = missing
	// The group columns in the study's declared order, as the sites list them.
	opts := analysis.Table1Options{Columns: appearanceOrder(replies, func(r protocol.Reply) []string {
		var names []string
		for _, g := range r.Summary.Groups {
			names = append(names, g.Group)
		}
		return names
	}), Discrete: discrete}
	if out.Table, err = analysis.BuildTable1(sites, opts); err != nil {
		return nil, WrapError(EInvalid, err, "the sites' summaries do not merge")
	}
	if out.BySite, err = analysis.BuildTable1BySite(sites, opts); err != nil {
		return nil, WrapError(EInvalid, err, "the sites' summaries do not merge")
	}
	return out, nil
}

// summarySites reads the sites' summary replies as analysis aggregates, every released count
// with its bounds, and adds up the patients without a group value.
func summarySites(replies []protocol.Reply) ([]analysis.SiteAggregate, Count, error) {
	var sites []analysis.SiteAggregate
	var missingGroup Count
	for _, rep := range replies {
		s := rep.Summary
		if s == nil {
			return nil, Count{}, Errorf(EInternal, "site %s: summary reply without summaries", rep.Site)
		}
		mc := rep.Policy.MinCell
		missingGroup = missingGroup.Add(releasedCount(s.MissingGroup, mc))
		sa := analysis.SiteAggregate{Site: rep.Site}
		for _, g := range s.Groups {
			ga := analysis.GroupAggregate{Group: g.Group, N: releasedCount(g.N, mc)}
			for _, v := range g.Variables {
				va := analysis.VariableAggregate{Name: v.Variable, Missing: releasedCount(v.Missing, mc)}
				if v.Categories != nil {
					// The categories and the missing values partition the group.
					va.Categories, va.Missing = releasedLevels(v.Categories, v.Missing, ga.N, mc)
				} else {
					va.Numeric = true
					// Present and missing partition the group; the histogram's cells the present.
					nm := releasedPartition([]protocol.Count{v.N, v.Missing}, ga.N, mc)
					va.N, va.Missing = nm[0], nm[1]
					va.Sum, va.SumSq, va.Edges = v.Sum, v.SumSq, v.Edges
					if v.Histogram != nil {
						va.Histogram = releasedPartition(v.Histogram, va.N, mc)
					}
				}
				ga.Variables = append(ga.Variables, va)
			}
			sa.Groups = append(sa.Groups, ga)
		}
		sites = append(sites, sa)
	}
	return sites, missingGroup, nil
}

// SummaryVariable returns variable name of a summary result merged over the sites within each
// group of its Table 1 (groups in the table's column order, without the overall column), from
// the same aggregates, with the same bounds on suppressed counts, as the table: what a figure
// of the variable draws. A group no site reported the variable for is left out; no groups
// means no site reported it.
func SummaryVariable(r *Result, name string) (groups []string, vs []analysis.VariableAggregate, err error) {
	if r.Summary == nil || len(r.Rounds) == 0 {
		return nil, nil, Errorf(EInvalid, "result %q is not a summary", r.Name)
	}
	sites, _, err := summarySites(r.Rounds[0].Replies)
	if err != nil {
		return nil, nil, err
	}
	parts := map[string][]analysis.VariableAggregate{}
	for _, s := range sites {
		for _, g := range s.Groups {
			for _, v := range g.Variables {
				if v.Name == name {
					parts[g.Group] = append(parts[g.Group], v)
				}
			}
		}
	}
	cols := r.Summary.Table.Columns
	for _, g := range cols[:max(len(cols)-1, 0)] {
		if len(parts[g]) == 0 {
			continue
		}
		m, err := analysis.MergeVariables(parts[g])
		if err != nil {
			return nil, nil, WrapError(EInvalid, err, "group %q: variable %q does not merge", g, name)
		}
		groups, vs = append(groups, g), append(vs, m)
	}
	return groups, vs, nil
}

// renderKM merges each group's survival tables over the sites and estimates the curves; the
// log-rank test uses the merged tables, the stratified one each site's tables as a stratum.
func renderKM(replies []protocol.Reply, landmarks []float64) (*KMResult, error) {
	return renderKMGroups(replies, landmarks, groupOrder(replies))
}

// renderKMGroups is renderKM with the groups in the order names gives.
func renderKMGroups(replies []protocol.Reply, landmarks []float64, names []string) (*KMResult, error) {
	out := &KMResult{}
	noisy := false // some site released with differential privacy
	perGroup := map[string][]analysis.SurvivalTable{}
	perSite := map[string][]SiteEvents{}
	bySite := map[string]map[string]analysis.SurvivalTable{}
	for _, rep := range replies {
		s := rep.Survival
		if s == nil {
			return nil, Errorf(EInternal, "site %s: survival reply without tables", rep.Site)
		}
		if out.Endpoint == "" {
			out.Endpoint = s.Endpoint
		}
		out.BinDays = math.Max(out.BinDays, rep.Policy.BinDays)
		noisy = noisy || rep.Policy.DP != nil
		out.MissingGroup = out.MissingGroup.Add(releasedCount(s.MissingGroup, rep.Policy.MinCell))
		bySite[rep.Site] = map[string]analysis.SurvivalTable{}
		for _, g := range s.Groups {
			t := SurvivalTableOf(g)
			if err := t.Validate(); err != nil {
				return nil, WrapError(EInvalid, err, "site %s, group %q: the survival table is not valid", rep.Site, g.Group)
			}
			perGroup[g.Group] = append(perGroup[g.Group], t)
			bySite[rep.Site][g.Group] = t
			perSite[g.Group] = append(perSite[g.Group], SiteEvents{Site: rep.Site, Patients: t.Total(), Events: t.TotalEvents()})
		}
	}
	merged := make([]analysis.SurvivalTable, len(names))
	for i, name := range names {
		merged[i] = analysis.MergeTables(perGroup[name]...)
		g := KMGroup{Group: name, Table: merged[i], PerSite: perSite[name]}
		sort.Slice(g.PerSite, func(a, b int) bool { return g.PerSite[a].Site < g.PerSite[b].Site })
		if merged[i].Total() > 0 {
			curve, err := analysis.KaplanMeier(merged[i], analysis.KMOptions{})
			if err != nil {
				return nil, WrapError(EInvalid, err, "group %q: no Kaplan–Meier estimate", name)
			}
			g.Curve = curve
			g.Median = curve.Median()
			if len(landmarks) > 0 {
				if g.Landmarks, err = curve.At(landmarks); err != nil {
					return nil, WrapError(EInvalid, err, "group %q: landmarks", name)
				}
			}
		} else {
			g.Median = analysis.QuantileEstimate{Prob: 0.5, Time: math.NaN(), Lower: math.NaN(), Upper: math.NaN()}
		}
		out.Groups = append(out.Groups, g)
	}
	addCompeting(out, merged, noisy)
	var strata [][]analysis.SurvivalTable // per site (sorted), its table of each group
	for _, site := range sortedKeys(bySite) {
		row := make([]analysis.SurvivalTable, len(names))
		for i, name := range names {
			row[i] = bySite[site][name]
		}
		strata = append(strata, row)
	}
	if noisy {
		return out, addDPTests(out, strata, replies)
	}
	if len(names) >= 2 {
		lr, err := analysis.LogRank(merged)
		if err != nil {
			out.LogRankError = err.Error()
		}
		out.LogRank = lr
		if slr, err := analysis.StratifiedLogRank(strata); err == nil {
			out.StratifiedLogRank = slr
		}
	}
	return out, nil
}

// addDPTests adds what the noise of dp releases changes, the noise in their variance: the
// log-rank tests (DPLogRank) with two groups or more, the cumulative incidence's intervals and
// Gray's test (DPCompeting) when the sites split their events by cause; strata in the order of
// the replies' sites sorted.
func addDPTests(out *KMResult, strata [][]analysis.SurvivalTable, replies []protocol.Reply) error {
	if len(out.Groups) < 2 && out.Causes == 0 {
		return nil
	}
	grid := map[string]DPSiteGrid{}
	for _, rep := range replies {
		g, err := dpSiteGrid(rep)
		if err != nil {
			return WrapError(EInvalid, err, "the tests of dp releases")
		}
		grid[rep.Site] = g
	}
	var grids []DPSiteGrid
	for _, site := range sortedKeys(grid) {
		grids = append(grids, grid[site])
	}
	if out.Causes > 0 {
		if err := addDPCompeting(out, strata, grids); err != nil {
			return err
		}
	}
	if len(out.Groups) < 2 {
		return nil
	}
	pooled, bySite, errPooled, _ := DPLogRank(strata, grids, dpLogRankSeed)
	out.LogRank, out.StratifiedLogRank, out.LogRankWithNoise = pooled, bySite, true
	if errPooled != nil {
		out.LogRankError = errPooled.Error()
	}
	return nil
}

// coxTies parses the ties method of a request ("" = efron, R's default).
func coxTies(s string) (analysis.Ties, error) {
	if s == "" {
		return analysis.Efron, nil
	}
	t, err := analysis.ParseTies(s)
	if err != nil {
		return 0, WrapError(EInvalid, err, "unknown ties method %q", s)
	}
	return t, nil
}

// coxRound sums the contribution of every site's reply in one round at beta: stratified
// replies add up, pooled replies are combined into the exact pooled partial likelihood.
func coxRound(replies []protocol.Reply, form protocol.CoxForm, ties analysis.Ties, beta []float64) (analysis.CoxContribution, []string, error) {
	c, columns, _, err := coxRoundStep(replies, form, ties, beta)
	return c, columns, err
}

// coxRoundStep is coxRound that also returns, for phase 1 of a two-phase pooled round
// (protocol.CoxPooledSums), the client's step, which completes the contribution (its Hessian)
// with the sites' phase-2 replies (coxHessianRound). The contribution of a phase-1 round has
// no Hessian.
func coxRoundStep(replies []protocol.Reply, form protocol.CoxForm, ties analysis.Ties, beta []float64) (analysis.CoxContribution, []string, *analysis.PooledCoxStep, error) {
	p := len(beta)
	var columns []string
	var total analysis.CoxContribution
	var rows [][]analysis.RiskSetRow
	var exs [][]float64
	var bound []float64 // the smallest β limit of the sites (nil: none has one)
	for i, rep := range replies {
		c := rep.Cox
		if c == nil {
			return total, nil, nil, Errorf(EInternal, "site %s: cox reply without a contribution", rep.Site)
		}
		if i == 0 {
			columns = c.Columns
		} else if !equalStrings(columns, c.Columns) {
			return total, nil, nil, Errorf(EInvalid, "site %s built design columns %v, other sites %v", rep.Site, c.Columns, columns)
		}
		if len(c.Columns) != p {
			return total, nil, nil, Errorf(EInvalid, "site %s returned %d design columns for %d coefficients", rep.Site, len(c.Columns), p)
		}
		if c.BetaLimit != nil {
			if len(c.BetaLimit) != p {
				return total, nil, nil, Errorf(EInvalid, "site %s returned %d β limits for %d coefficients", rep.Site, len(c.BetaLimit), p)
			}
			bound = analysis.MinBound(bound, c.BetaLimit)
		}
		switch form {
		case protocol.CoxPooled, protocol.CoxPooledSums:
			sr := make([]analysis.RiskSetRow, len(c.Rows))
			for k, r := range c.Rows {
				sr[k] = analysis.RiskSetRow{Time: r.Time, D: r.D, R0: r.R0, R1: r.R1, R2: r.R2, E0: r.E0, E1: r.E1, E2: r.E2}
			}
			rows = append(rows, sr)
			exs = append(exs, c.EventXSum)
			total.N += c.N
			total.Events += c.Events
		default:
			if len(c.Gradient) != p || len(c.Hessian) != p*p {
				return total, nil, nil, Errorf(EInvalid, "site %s returned a gradient of %d and a Hessian of %d values for %d coefficients", rep.Site, len(c.Gradient), len(c.Hessian), p)
			}
			contrib := analysis.CoxContribution{LogLik: c.LogLik, Gradient: c.Gradient, Hessian: c.Hessian, N: c.N, Events: c.Events}
			if i == 0 {
				total = analysis.CoxContribution{Gradient: make([]float64, p), Hessian: make([]float64, p*p)}
			}
			total.Add(contrib)
		}
	}
	var step *analysis.PooledCoxStep
	switch form {
	case protocol.CoxPooled:
		n, events := total.N, total.Events
		var err error
		total, err = analysis.PooledCoxContribution(rows, exs, p, beta, ties)
		if err != nil {
			return total, nil, nil, WrapError(EInvalid, err, "the sites' risk-set sums do not combine")
		}
		// The risk-set rows carry no subject counts: take them from the sites' replies.
		total.N, total.Events = n, events
	case protocol.CoxPooledSums:
		n, events := total.N, total.Events
		var err error
		if step, err = analysis.PooledCoxSums(rows, exs, p, beta, ties); err != nil {
			return total, nil, nil, WrapError(EInvalid, err, "the sites' per-time sums do not combine")
		}
		total = step.Contribution()
		total.N, total.Events = n, events
	}
	total.CoefBound = bound
	return total, columns, step, nil
}

// renderCox refits a Cox model from its trace (renderCoxTrace), or from its rounds' replies
// when it has none (a result built in code, or stored before results were kept compact).
func renderCox(r *Result) (*CoxResult, error) {
	if r.Request.Cox == nil {
		return nil, Errorf(EInvalid, "a Cox result without a model")
	}
	tr := r.Trace
	if tr == nil {
		steps, err := traceFromRounds(r.Request, r.Rounds)
		if err != nil {
			return nil, err
		}
		if tr, err = buildTrace(r.Request, r.Rounds, steps); err != nil {
			return nil, err
		}
	}
	out, err := renderCoxTrace(r.Request, tr)
	if err == nil && coxForm(r.Request.Cox.Form) == protocol.CoxDPTables {
		out.setDPNoise(slices.Clone(tr.NoiseSD), slices.Clone(tr.NoiseCov))
	}
	return out, err
}

// coxTerms names the p design columns after the first reply's columns (x1, x2, … when it
// has none of that length): terms are only known from the replies.
func coxTerms(first []protocol.Reply, p int) []string {
	terms := make([]string, p)
	if len(first) > 0 && first[0].Cox != nil && len(first[0].Cox.Columns) == p {
		copy(terms, first[0].Cox.Columns)
	} else {
		for i := range terms {
			terms[i] = fmt.Sprintf("x%d", i+1)
		}
	}
	return terms
}

// fitCox runs FitCox with eval and terms and builds the CoxResult without its per-site part
// (addSites).
func fitCox(eval analysis.CoxStepEvaluator, p int, req Request, form protocol.CoxForm, terms []string) (*CoxResult, error) {
	out := &CoxResult{Form: form, Ties: req.Cox.Ties}
	if out.Ties == "" {
		out.Ties = "efron"
	}
	if pen := req.Cox.Penalty; pen != nil && pen.Scale && len(pen.weights) != p {
		return nil, Errorf(EInternal, "the ridge penalty's scale has %d column variances for %d columns", len(pen.weights), p)
	}
	fit, err := analysis.FitCoxSteps(eval, p, analysis.CoxOptions{Terms: terms, Ridge: req.Cox.Penalty.ridge()})
	if fit == nil {
		if err == nil {
			err = fmt.Errorf("no fit")
		}
		var ae *Error
		if asError(err, &ae) {
			return nil, err
		}
		return nil, WrapError(EInvalid, err, "the Cox model could not be fitted")
	}
	if err != nil {
		out.FitError = err.Error()
	}
	out.Fit = fit
	return out, nil
}

// addSites fills the per-site counts of a Cox result from its trace's sites.
func (out *CoxResult) addSites(sites []CoxSiteSummary) {
	for _, s := range sites {
		out.PerSite = append(out.PerSite, SiteEvents{Site: s.Site, Patients: s.N, Events: s.Events})
		out.Excluded = out.Excluded.Add(releasedCount(s.Excluded, s.MinCell))
	}
}

func coxForm(f protocol.CoxForm) protocol.CoxForm {
	if f == "" {
		return protocol.CoxStratified
	}
	return f
}

func equalStrings(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// groupOrder returns the survival groups of the replies in the order the sites list them:
// the study's declared category order (stage I before II before IV), not the names' sort
// order. Each site lists its groups in that order; a group first seen at a later site goes
// right after the group the site lists before it.
func groupOrder(replies []protocol.Reply) []string {
	return appearanceOrder(replies, func(r protocol.Reply) []string {
		var names []string
		for _, g := range r.Survival.Groups {
			names = append(names, g.Group)
		}
		return names
	})
}

// appearanceOrder merges the name lists the replies give (each in the study's order) into
// one list in that order: a name first seen at a later reply goes right after the name that
// reply lists before it.
func appearanceOrder(replies []protocol.Reply, names func(protocol.Reply) []string) []string {
	var out []string
	for _, rep := range replies {
		pos := -1
		for _, name := range names(rep) {
			if i := slices.Index(out, name); i >= 0 {
				pos = i
				continue
			}
			out = slices.Insert(out, pos+1, name)
			pos++
		}
	}
	return out
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
