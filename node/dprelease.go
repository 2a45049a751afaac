package node

import (
	"context"
	"fmt"
	"math"
	"math/big"
	"slices"
	"time"

	"github.com/oncofed/oncofed/dp"
	"github.com/oncofed/oncofed/protocol"
)

// Differentially private releases: what an analyst of role dp gets (Analysts, RoleDP).
//
// A count (grouped or not, feasibility counts too) is released through dp.ReleaseCounts at
// the policy's dp_rho_count; a survival query through dp.ReleaseSurvival (the square-root
// factorisation mechanism, dp/UTILITY.md) at dp_rho_survival, one table per declared group on
// dp_bin_days-wide bins up to the endpoint's declared horizon_days (the study's dictionary),
// else the policy's dp_horizon_days (patients followed longer are censored there), so the
// tables' shape is public (dpGrid). Each patient is in exactly one group (or the missing-group
// cell), so the whole reply costs one ρ (parallel composition). A query that asks for the split
// by cause (split_causes) of an endpoint with causes gets each table's event column split per
// cause (dp.ReleaseCompeting, the same ρ); any other gets the Kaplan–Meier table.
//
// The rules mode's thresholds stay in force on top of the noise, decided on the noisy values
// (post-processing, so the release stays differentially private): a cohort whose noisy size is
// below min_cohort is refused, a group or cell whose noisy count is below min_cell is
// suppressed — and the ρ of such a refusal is charged, as its decision used the data. The
// overlap guard does not apply: its refusal depends on the exact patient sets, which would
// break the guarantee, and differencing is what the ρ budget accounts for.
//
// Whether to answer at all is decided from public information only: the query's kind gives
// its cost, the audit log the analyst's spending; a query that would exceed the daily or the
// lifetime budget for its study is refused before anything is computed (and again within the
// release transaction, so replicas cannot overspend).

// dpCost is the ρ a dp analyst's query costs, from the policy and the query's kind alone; 0
// for kinds without a differentially private release.
func (e *Engine) dpCost(q *protocol.Query) float64 {
	switch {
	case q.Feasibility:
		return e.policy.DPRhoFeasibility
	case q.Kind == protocol.KindCount:
		return e.policy.DPRhoCount
	case q.Kind == protocol.KindSurvival:
		return e.policy.DPRhoSurvival
	case q.Kind == protocol.KindSummary:
		return e.policy.DPRhoSummary // dpsummary.go
	case q.Kind == protocol.KindCox && q.Cox != nil && q.Cox.Form == protocol.CoxDPTables:
		return e.policy.DPRhoCox // dpcox.go
	case isDPScreen(q):
		return e.dpScreenRho(q) // screen_dp.go
	}
	return 0
}

// dpBudgetEpsilon absorbs the rounding of summed float64 costs: ten queries at 0.02 must fit
// a budget of 0.2.
const dpBudgetEpsilon = 1e-9

// checkDPBudget refuses, within tx, a release of cost that would take analyst's spending on
// study past the daily or the lifetime budget; it returns what would be left after it.
func (e *Engine) checkDPBudget(ctx context.Context, tx ReleaseTx, analyst, study string, cost float64) (leftToday, leftTotal float64, err error) {
	now := e.now().UTC()
	day := time.Date(now.Year(), now.Month(), now.Day(), 0, 0, 0, 0, time.UTC)
	today, err := tx.SpentRho(ctx, study, day)
	if err != nil {
		return 0, 0, errorf(protocol.CodeInternal, "privacy budget unavailable")
	}
	ever, err := tx.SpentRho(ctx, study, time.Time{})
	if err != nil {
		return 0, 0, errorf(protocol.CodeInternal, "privacy budget unavailable")
	}
	leftToday, leftTotal = e.policy.DPRhoDaily-today-cost, e.policy.DPRhoTotal-ever-cost
	switch {
	case leftTotal < -dpBudgetEpsilon:
		return 0, 0, refusef(protocol.ReasonPrivacyBudget, e.policy.DPRhoTotal, "privacy budget: analyst %q has spent ρ=%.4g of the lifetime budget of %g for study %q; this query costs %g", clip(analyst), ever, e.policy.DPRhoTotal, clip(study), cost)
	case leftToday < -dpBudgetEpsilon:
		return 0, 0, refusef(protocol.ReasonPrivacyBudget, e.policy.DPRhoDaily, "privacy budget: analyst %q has spent ρ=%.4g of today's budget of %g for study %q; this query costs %g (the budget renews at 00:00 UTC)", clip(analyst), today, e.policy.DPRhoDaily, clip(study), cost)
	}
	return max(leftToday, 0), max(leftTotal, 0), nil
}

// preCheckDPBudget refuses a dp analyst's query that would exceed the budget before its
// answer is computed. The decision is taken again within the release transaction.
func (e *Engine) preCheckDPBudget(ctx context.Context, analyst string, q *protocol.Query) error {
	var err error
	if txErr := e.store.Release(ctx, analyst, func(tx ReleaseTx) error {
		_, _, err = e.checkDPBudget(ctx, tx, analyst, q.Study, e.dpCost(q))
		return nil
	}); txErr != nil {
		return errorf(protocol.CodeInternal, "privacy budget unavailable")
	}
	return err
}

// ratOf is x as an exact rational (a float64 is a dyadic rational).
func ratOf(x float64) *big.Rat { return new(big.Rat).SetFloat64(x) }

func floatOf(r *big.Rat) float64 {
	f, _ := r.Float64()
	return f
}

// dpEffects labels a reply with its mechanism and cost; the budget left is filled in within
// the release transaction.
func dpEffects(n dp.Noise) *protocol.DPEffects {
	return &protocol.DPEffects{Mechanism: n.Mechanism, Rho: floatOf(n.Rho), Sigma2: floatOf(n.Sigma2)}
}

// dpCount releases the cohort's size (and its groups' and the missing group's sizes) with
// discrete Gaussian noise; a feasibility count is the noisy size rounded to the policy's
// feasibility_rounding.
func (e *Engine) dpCount(c *cohort, q *protocol.Query, reply *protocol.Reply) (answer, error) {
	counts := []int64{int64(c.n)}
	var sizes []int
	missing := 0
	if c.group != nil {
		_, sizes, missing = c.groupSets()
		counts = counts[:0]
		for _, s := range sizes {
			counts = append(counts, int64(s))
		}
		counts = append(counts, int64(missing))
	}
	noisy, noise, err := dp.ReleaseCounts(e.sampler, counts, ratOf(e.dpCost(q)))
	if err != nil {
		return answer{}, errorf(protocol.CodeInternal, "noise source unavailable")
	}
	ans := answer{dp: dpEffects(noise)}
	ans.dp.SizeSD = math.Sqrt(ans.dp.Sigma2 * float64(len(counts))) // the total sums every cell
	if e.policy.MinCell == 0 && len(noisy) > 1 {
		// Without min_cell a cell at or below zero shows as 0 (dpCell): the total must be the
		// sum of what is shown, or the reply contradicts itself.
		for i := range noisy {
			noisy[i] = max(noisy[i], 0)
		}
	}
	var total int64
	for _, v := range noisy {
		total += v // the groups and the missing cell partition the cohort
	}
	if total < int64(e.policy.MinCohort) {
		return ans, errSmallCohort(e.policy.MinCohort)
	}
	cr := &protocol.CountReply{Total: protocol.Count{N: int(total)}}
	if q.Feasibility {
		r := int64(e.policy.FeasibilityRounding)
		rounded := (total + r/2) / r * r
		if rounded < int64(e.policy.MinCohort) {
			return ans, errSmallCohort(e.policy.MinCohort)
		}
		cr.Total.N = int(rounded)
		reply.Policy.FeasibilityRounding = int(r)
	}
	if c.group != nil {
		cr.Groups = make(map[string]protocol.Count, len(sizes))
		cr.Order = slices.Clone(c.group.Categories)
		for g, name := range c.group.Categories {
			cr.Groups[name] = e.dpCell(noisy[g], reply)
		}
		cr.Missing = e.dpCell(noisy[len(sizes)], reply)
	}
	reply.Count = cr
	ans.released = fmt.Sprintf("dp count n=%d released=%d groups=%d", c.n, cr.Total.N, len(cr.Groups))
	return ans, nil
}

// dpCell is a noisy count as released: suppressed below min_cell (decided on the noisy value).
// A noisy count at or below zero is suppressed too (never shown as 0), or 0 without min_cell.
func (e *Engine) dpCell(v int64, reply *protocol.Reply) protocol.Count {
	switch {
	case v > 0 && v >= int64(e.policy.MinCell):
		return protocol.Count{N: int(v)}
	case e.policy.MinCell > 0:
		reply.Policy.SuppressedCells++
		return protocol.Count{Suppressed: true}
	}
	return protocol.Count{}
}

// dpGrid is the public grid of a differentially private survival release of ep: bins of the
// policy's dp_bin_days up to the horizon the study's dictionary declares for the endpoint, else
// the policy's dp_horizon_days. Bins are widened when the horizon would need more than
// maxDPBins of them (as withDPDefaults does for the policy's own horizon).
func (e *Engine) dpGrid(ep *EndpointData) (binDays, horizon float64) {
	binDays, horizon = e.policy.DPBinDays, e.policy.DPHorizonDays
	if ep.HorizonDays != nil && *ep.HorizonDays > 0 && !math.IsInf(*ep.HorizonDays, 0) {
		horizon = *ep.HorizonDays
	}
	if horizon/binDays > maxDPBins {
		binDays = math.Ceil(horizon / maxDPBins)
	}
	return binDays, horizon
}

// dpSurvival releases one noisy survival table per group of the cohort on the policy's DP
// bins; groups whose noisy size is below min_cell are left out, like empty groups.
func (e *Engine) dpSurvival(c *cohort, q *protocol.Query, reply *protocol.Reply) (answer, error) {
	ep := c.study.eps[q.Endpoint]
	if ep.Entry != nil {
		// Decided from the declaration (the catalog lists the endpoint under delayed_entry),
		// not from the rows.
		return answer{}, errorf(protocol.CodeRefusedByPolicy, "endpoint %q records delayed entry at this site, and its entry times have no differentially private release yet: ask as a trusted analyst (rule-based release, entries in blocks of min_cell)", ep.Name)
	}
	// The split by cause only when the query asks for it (a cumulative incidence): its extra
	// noisy column would make the Kaplan–Meier of all causes less accurate at the same ρ.
	// Unsplit, the release is the Kaplan–Meier of an endpoint without causes, noise for noise.
	split := ep.Causes != nil && q.SplitCauses
	switch {
	case split:
		note(&reply.Policy, "endpoint %q: differentially private release split by cause (one ρ for all causes: each patient is in one cell)", ep.Name)
	case ep.Causes != nil:
		note(&reply.Policy, "endpoint %q: differentially private release of all causes together (Kaplan–Meier); a cumulative incidence asks for the split by cause (split_causes), a release of its own", ep.Name)
	}
	w, horizon := e.dpGrid(ep)
	bins := int(math.Ceil(horizon / w))
	k, codes := c.groups()
	causes := 1 // a table without the split has one cause: all of them
	if split {
		causes = len(ep.Causes)
	}
	tables := make([]dp.CompetingTable, k)
	for g := range tables {
		tables[g] = dp.CompetingTable{Events: make([][]int64, causes), Censored: make([]int64, bins)}
		for j := range causes {
			tables[g].Events[j] = make([]int64, bins)
		}
	}
	missing := 0
	c.rows.forEach(func(i int) {
		g := 0
		if codes != nil {
			if g = int(codes[i]); g < 0 {
				missing++
				return
			}
		}
		b := int(math.Ceil(ep.Time[i] / w))
		event := ep.Event[i]
		switch {
		case b < 1:
			b = 1
		case b > bins:
			b, event = bins, false // followed past the horizon: censored there
		}
		if event {
			cause := 0
			if split {
				cause = int(ep.Cause[i])
			}
			tables[g].Events[cause][b-1]++
		} else {
			tables[g].Censored[b-1]++
		}
	})
	rho := ratOf(e.policy.DPRhoSurvival)
	// With one cause, ReleaseCompeting is ReleaseSurvival (dp's tests): the KM release unchanged.
	released := make([]dp.CompetingTable, k)
	var noise dp.Noise
	var total int64
	for g := range tables {
		var err error
		if released[g], noise, err = dp.ReleaseCompeting(e.sampler, tables[g], rho, dp.SurvivalSqrt); err != nil {
			return answer{}, errorf(protocol.CodeInternal, "noise source unavailable")
		}
		total += released[g].AllCauses().AtRisk()[0]
	}
	ans := answer{dp: dpEffects(noise)}
	sd := dp.SurvivalSizeSD(bins, rho, dp.SurvivalSqrt)
	// SurvivalSizeSD counts two columns; a table with causes has causes+1.
	ans.dp.SizeSD = math.Sqrt(float64(k) * sd * sd * float64(causes+1) / 2) // one table per group
	sr := &protocol.SurvivalReply{Endpoint: ep.Name, Groups: []protocol.SurvivalGroup{}}
	if c.group != nil {
		m, mn, err := dp.ReleaseCount(e.sampler, int64(missing), rho)
		if err != nil {
			return answer{}, errorf(protocol.CodeInternal, "noise source unavailable")
		}
		total += max(m, 0)
		sr.MissingGroup = e.dpCell(m, reply)
		ans.dp.SizeSD = math.Sqrt(ans.dp.SizeSD*ans.dp.SizeSD + floatOf(mn.Sigma2))
	}
	if total < int64(e.policy.MinCohort) {
		return ans, errSmallCohort(e.policy.MinCohort)
	}
	for g, ct := range released {
		t := ct.AllCauses()
		if n := t.AtRisk()[0]; n < int64(max(e.policy.MinCell, 1)) {
			if n > 0 {
				reply.Policy.SuppressedCells++
			}
			continue
		}
		sg := protocol.SurvivalGroup{}
		if c.group != nil {
			sg.Group = c.group.Categories[g]
		}
		if split {
			sg.Causes = make([]protocol.Ints, causes)
		}
		for b := range t.Events {
			if d, ce := t.Events[b], t.Censored[b]; d+ce > 0 {
				sg.Time = append(sg.Time, float64(b+1)*w)
				sg.Events = append(sg.Events, int(d))
				sg.Censor = append(sg.Censor, int(ce))
				for j := range sg.Causes {
					sg.Causes[j] = append(sg.Causes[j], int(ct.Events[j][b]))
				}
			}
		}
		sr.Groups = append(sr.Groups, sg)
	}
	reply.Policy.BinDays = w
	reply.Policy.TruncatedAfter = &horizon
	reply.Survival = sr
	ans.released = fmt.Sprintf("dp survival %s n=%d groups=%d bins=%d", ep.Name, c.n, len(sr.Groups), bins)
	return ans, nil
}

// standing is what the analyst may still ask of this site, for the catalog: whole queries left
// today of the budget they share with feasibility counts
// and, for a dp analyst, the ρ left per study of cat, today and for good. It reads the audit
// log within a release transaction, as the budget checks do.
func (e *Engine) standing(ctx context.Context, who identity, cat *protocol.Catalog) (*protocol.AnalystBudget, error) {
	b := &protocol.AnalystBudget{Name: who.name, Role: string(who.role), QueriesLeft: -1}
	if who.role == RoleDP {
		b.RhoLeftToday, b.RhoLeftTotal = map[string]float64{}, map[string]float64{}
	}
	err := e.store.Release(ctx, who.name, func(tx ReleaseTx) error {
		if limit := e.policy.DailyQueryBudget; limit > 0 {
			spent, _, _, err := e.dailySpent(ctx, tx)
			if err != nil {
				return err
			}
			b.QueriesLeft = max(int(math.Floor(float64(limit)-spent+budgetEpsilon)), 0)
		}
		if who.role != RoleDP {
			return nil
		}
		for _, st := range cat.Studies {
			today, total, err := e.checkDPBudget(ctx, tx, who.name, st.Name, 0)
			if err != nil {
				return err
			}
			b.RhoLeftToday[st.Name], b.RhoLeftTotal[st.Name] = today, total
		}
		return nil
	})
	if err != nil {
		return nil, errorf(protocol.CodeInternal, "budget unavailable")
	}
	return b, nil
}
