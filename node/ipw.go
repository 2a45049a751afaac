package node

import (
	"fmt"
	"math"
	"slices"
	"sort"

	"github.com/oncofed/oncofed/analysis"
	"github.com/oncofed/oncofed/protocol"
)

// ipw answers one stage of a federated propensity-weighted treatment comparison (docs/ipw.md).
// The site builds the propensity design (intercept and confounders) over the complete cases,
// splits them into arms by the treatment's level, and
//
//   - propensity: returns its logistic log-likelihood, gradient and Hessian at β;
//   - outcome: weighs its own patients with the broadcast model and returns balance sums,
//     the propensity histogram and the weighted survival table of each arm;
//   - cox: returns its weighted Cox contribution and robust-variance meat at the treatment's
//     log hazard ratio, or with Adjust at the coefficients of the treatment and the adjusting
//     covariates (the site is its own stratum).
//
// Individual weights never leave the site. Each weight is capped at e² times the arm's
// min_cell-th heaviest weight, so that no patient can outweigh min_cell others by more than
// e²; every released survival row holds min_cell patients (times merged forward as for
// survival tables), small counts are suppressed, and the design-column rule holds in both
// arms.
func (e *Engine) ipw(c *cohort, q *protocol.Query, reply *protocol.Reply) (answer, error) {
	req := q.IPW
	if c.group != nil {
		return answer{}, errorf(protocol.CodeInvalid, "ipw queries take no group_by (the treatment is the grouping)")
	}
	if c.study.eps[q.Endpoint].Entry != nil {
		// From the declaration (the catalog's delayed_entry), not the rows: the weighted
		// tables and the weighted Cox model's risk sets do not take entry times.
		return answer{}, errorf(protocol.CodeInvalid, "endpoint %q records delayed entry at this site: the weighted comparison's tables and Cox model do not take entry times", q.Endpoint)
	}
	if len(req.Merge) > 0 { // the coarsened confounders, from here on (ipwmerge.go)
		view, err := ipwMergedStudy(c.study, req.Merge)
		if err != nil {
			return answer{}, err
		}
		merged := *c
		merged.study = view
		c = &merged
	}
	pooled := req.Stage == protocol.IPWPooledSums || req.Stage == protocol.IPWPooledHessian || req.Stage == protocol.IPWPooledMeat
	if pooled {
		if err := e.ipwPooledGate(req); err != nil {
			return answer{}, err
		}
	}
	prep, err := e.ipwPrepare(c, q)
	if err != nil {
		return answer{}, err
	}
	p := len(prep.names)
	out := &protocol.IPWReply{Columns: prep.names, N: prep.n, Treated: prep.treatedN}
	var ans answer
	ans.addComplete(prep.complete, c.filter, ipwModelVars(req))
	classSets(&ans, c, req, prep, prep.row)
	switch req.Stage {
	case protocol.IPWPooledSums, protocol.IPWPooledHessian, protocol.IPWPooledMeat:
		if ans.released, err = e.ipwPooled(c, req, prep, out); err != nil {
			return answer{}, err
		}
	case protocol.IPWPropensity:
		beta := req.Beta
		if len(beta) == 0 {
			beta = make([]float64, p)
		}
		if len(beta) != p {
			return answer{}, errorf(protocol.CodeInvalid, "ipw.beta has %d coefficients for %d design columns %q", len(beta), p, prep.names)
		}
		// A Newton iterate is checked like the final model: at a crafted β the Hessian's
		// π(1−π) terms would single out the patients at the model's threshold.
		if !IsExact(e.policy) && !e.withoutModelRules && !e.withoutWeightSpread {
			if err := checkPropensitySpread(prep, beta, e.policy.MinCell); err != nil {
				return answer{}, err
			}
		}
		lc, err := analysis.LogisticSiteContribution(prep.x, p, prep.treated, beta)
		if err != nil {
			return answer{}, errorf(protocol.CodeInvalid, "ipw: %s", trimPrefix(err.Error()))
		}
		out.LogLik, out.Gradient, out.Hessian = lc.LogLik, lc.Gradient, lc.Hessian
		ans.released = fmt.Sprintf("ipw propensity p=%d n=%d treated=%d", p, prep.n, prep.treatedN)
	case protocol.IPWOutcome, protocol.IPWCox:
		if req.Stage == protocol.IPWCox && req.TreatedSite != "" {
			// protocol.ValidateQuery refuses it first; kept here for direct callers.
			return answer{}, errorf(protocol.CodeInvalid, "ipw: with the treatment membership in site %q this site holds one arm: a Cox model stratified by site compares nothing; fit the pooled form", clip(req.TreatedSite))
		}
		if len(req.Beta) != p {
			return answer{}, errorf(protocol.CodeInvalid, "ipw.beta has %d coefficients for %d design columns %q", len(req.Beta), p, prep.names)
		}
		if req.Stage == protocol.IPWCox && len(req.Adjust) > 0 {
			if err := e.ipwCoxAdjusted(c.study, prep, req, out); err != nil {
				return answer{}, err
			}
			ans.released = fmt.Sprintf("ipw cox %s %s adjust=%v p=%d n=%d events=%d", req.Estimand, req.Ties, req.Adjust, len(req.CoxBeta), out.N, out.Events)
			break
		}
		wt, err := e.ipwWeights(prep, req)
		if err != nil {
			return answer{}, err
		}
		if req.Stage == protocol.IPWOutcome {
			if err := e.ipwOutcome(prep, req, wt, out, reply); err != nil {
				return answer{}, err
			}
			ans.released = fmt.Sprintf("ipw outcome %s n=%d treated=%d", req.Estimand, prep.n, prep.treatedN)
		} else {
			if err := e.ipwCox(prep, req, wt, out); err != nil {
				return answer{}, err
			}
			ans.released = fmt.Sprintf("ipw cox %s %s n=%d events=%d", req.Estimand, req.Ties, out.N, out.Events)
		}
	}
	reply.IPW = out
	return ans, nil
}

// ipwPrepared is the part of an ipw query that depends neither on β nor on the weights.
type ipwPrepared struct {
	names       []string  // design columns, intercept first
	x           []float64 // n×p design rows of the complete cases
	treated     []bool
	time        []float64 // endpoint, raw (policy applied per release)
	event       []bool
	n, treatedN int
	complete    bitset
	// cell numbers each complete case's combination of the discrete confounders' values
	// (categorical levels, and numeric ones declared as at most 12 integers): the classes of
	// patients whose weights an attacker who chose the model knows to be equal.
	cell []int32
	// continuous is set when a confounder is continuous: weights then differ within a cell.
	continuous bool
	// discrete names the discrete confounders whose value combinations make the cells, and
	// levels[d][i] is complete case i's level of discrete[d] (classRefusal says which is rare).
	discrete []string
	levels   [][]int32
	row      []int // each complete case's row in the study
}

// ipwIntercept names the propensity model's intercept column, as R's model.matrix does.
const ipwIntercept = "(Intercept)"

func (e *Engine) ipwPrepare(c *cohort, q *protocol.Query) (*ipwPrepared, error) {
	req := q.IPW
	ls := c.study
	ep := ls.eps[q.Endpoint]
	// isTreated tells a patient's arm; with the treatment membership in a site (a single-arm
	// trial against external controls), every patient of this site is in the same arm.
	var isTreated func(i int) bool
	var rows []int
	if req.TreatedSite != "" {
		trial := req.TreatedSite == e.site
		isTreated = func(int) bool { return trial }
		c.rows.forEach(func(i int) { rows = append(rows, i) })
	} else {
		trt := ls.vars[req.Treatment]
		level := int32(ls.catIndex[req.Treatment][req.Treated])
		isTreated = func(i int) bool { return trt.Codes[i] == level }
		c.rows.forEach(func(i int) {
			if trt.Codes[i] >= 0 { // a patient without a treatment value is in neither arm
				rows = append(rows, i)
			}
		})
	}
	cols := make([]analysis.CovariateColumn, len(req.Confounders))
	for k, name := range req.Confounders {
		v := ls.vars[name]
		cols[k].Name = name
		if v.Type == protocol.Numeric {
			cols[k].Numeric = make([]float64, len(rows))
			for r, i := range rows {
				cols[k].Numeric[r] = v.Numeric[i]
			}
			continue
		}
		cols[k].Categorical = make([]string, len(rows))
		for r, i := range rows {
			if code := v.Codes[i]; code >= 0 {
				cols[k].Categorical[r] = v.Categories[code]
			}
		}
	}
	levels := ipwLevels(ls, req)
	x, p, names, keep, err := analysis.BuildDesign(cols, levels)
	if err != nil {
		return nil, errorf(protocol.CodeInvalid, "ipw design: %s", trimPrefix(err.Error()))
	}
	prep := &ipwPrepared{names: append([]string{ipwIntercept}, names...), complete: newBitset(ls.data.Len())}
	var plain []float64 // design without the intercept, for the design-column rule
	var discrete []*VariableData
	for _, name := range req.Confounders {
		v := ls.vars[name]
		if v.Type != protocol.Categorical {
			v = ls.integerGroups(v) // nil: a continuous confounder
		}
		if v != nil {
			discrete = append(discrete, v)
			prep.discrete = append(prep.discrete, name)
		} else {
			prep.continuous = true
		}
	}
	cells := map[string]int32{}
	prep.levels = make([][]int32, len(discrete))
	k := 0 // x holds the complete cases' rows only
	for r, i := range rows {
		if !keep[r] {
			continue
		}
		row := x[k*p : (k+1)*p]
		k++
		prep.complete.set(i)
		prep.row = append(prep.row, i)
		prep.n++
		isT := isTreated(i)
		if isT {
			prep.treatedN++
		}
		prep.treated = append(prep.treated, isT)
		prep.x = append(prep.x, 1)
		prep.x = append(prep.x, row...)
		plain = append(plain, row...)
		prep.time = append(prep.time, ep.Time[i])
		prep.event = append(prep.event, ep.Event[i])
		key := make([]byte, 0, 4*len(discrete))
		for d, v := range discrete {
			c := v.Codes[i]
			prep.levels[d] = append(prep.levels[d], c)
			key = append(key, byte(c), byte(c>>8), byte(c>>16), byte(c>>24))
		}
		id, ok := cells[string(key)]
		if !ok {
			id = int32(len(cells))
			cells[string(key)] = id
		}
		prep.cell = append(prep.cell, id)
	}
	if IsExact(e.policy) || e.withoutModelRules {
		return prep, nil
	}
	// Each arm the site holds (both, or with a treated site its own) needs min_cohort complete
	// cases, and each group a confounder column distinguishes min_cell of its patients: the
	// model then never singles out who, in a small group, got which treatment.
	control := make([]bool, len(prep.treated))
	for i, t := range prep.treated {
		control[i] = !t
	}
	blocks := designBlocks(ls, req.Confounders, levels)
	for a, arm := range [][]bool{control, prep.treated} {
		n := []int{prep.n - prep.treatedN, prep.treatedN}[a]
		if req.TreatedSite != "" && n == 0 {
			continue // the other arm is at other sites
		}
		if n < e.policy.MinCohort {
			if req.TreatedSite != "" {
				return nil, refusef(protocol.ReasonSmallCohort, float64(e.policy.MinCohort), "the treatment is membership in site %q: this site's patients (its arm) need min_cohort=%d complete cases", clip(req.TreatedSite), e.policy.MinCohort)
			}
			return nil, refusef(protocol.ReasonSmallCohort, float64(e.policy.MinCohort), "each treatment arm needs min_cohort=%d complete cases", e.policy.MinCohort)
		}
		where := []string{" among the controls", " among the treated"}[a]
		if req.TreatedSite != "" {
			// Every patient of the site is in this arm, as the analyst knows: the rule that each
			// group holds patients of both arms (so that a group does not tell the treatment of
			// its members) has nothing to protect, and could never hold at one site.
			arm, where = nil, " at this site (its patients are all "+[]string{"controls", "treated"}[a]+")"
		}
		if err := checkDesignColumns(plain, p, names, blocks, arm, e.policy.MinCell, where); err != nil {
			return nil, err
		}
	}
	if !e.withoutWeightSpread { // tests of the attacks switch the ipw rules off
		if err := checkClasses(prep, e.policy.MinCell); err != nil {
			return nil, err
		}
	}
	return prep, nil
}

// ipwWeighted is the site's patients' weights, kept flags and propensities, and what capping
// and trimming did per arm (index 0 control, 1 treated).
type ipwWeighted struct {
	w, ps           []float64
	kept            []bool
	trimmed, capped [2]int
	keptN           [2]int
}

// ipwWeights computes the weights of the site's patients from the broadcast model, trims, and
// caps each arm's weights at e² × its min_cell-th heaviest weight.
func (e *Engine) ipwWeights(prep *ipwPrepared, req *protocol.IPWRequest) (*ipwWeighted, error) {
	est, err := analysis.ParseEstimand(req.Estimand)
	if err != nil {
		return nil, errorf(protocol.CodeInvalid, "ipw: %s", trimPrefix(err.Error()))
	}
	opts := analysis.WeightOptions{Estimand: est, Stabilise: req.Stabilise, TreatedShare: req.TreatedShare, Trim: req.Trim}
	p := len(prep.names)
	if !IsExact(e.policy) && !e.withoutModelRules && !e.withoutWeightSpread {
		if err := checkPropensitySpread(prep, req.Beta, e.policy.MinCell); err != nil {
			return nil, err
		}
	}
	wt := &ipwWeighted{w: make([]float64, prep.n), ps: make([]float64, prep.n), kept: make([]bool, prep.n)}
	var arms [2][]float64
	for i := 0; i < prep.n; i++ {
		ps := analysis.Propensity(prep.x[i*p:(i+1)*p], req.Beta)
		a := armOf(prep.treated[i])
		wt.ps[i] = ps
		w, kept := analysis.IPWeight(ps, prep.treated[i], opts)
		if !kept || !(w > 0) || math.IsInf(w, 0) {
			wt.trimmed[a]++
			continue
		}
		wt.w[i], wt.kept[i] = w, true
		wt.keptN[a]++
		arms[a] = append(arms[a], w)
	}
	k := max(e.policy.MinCell, 1)
	uncapped := IsExact(e.policy) || e.withoutWeightSpread // tests of the attack switch both off
	var caps [2]float64
	for a := range arms {
		if req.TreatedSite != "" && wt.keptN[a]+wt.trimmed[a] == 0 {
			caps[a] = math.Inf(1) // the arm is at other sites
			continue
		}
		if len(arms[a]) < max(e.policy.MinCohort, 1) && !IsExact(e.policy) {
			return nil, refusef(protocol.ReasonSmallCohort, float64(e.policy.MinCohort), "after trimming, each treatment arm needs min_cohort=%d patients", e.policy.MinCohort)
		}
		if len(arms[a]) == 0 || uncapped {
			caps[a] = math.Inf(1)
			continue
		}
		sort.Sort(sort.Reverse(sort.Float64Slice(arms[a])))
		caps[a] = math.E * math.E * arms[a][min(k, len(arms[a]))-1]
	}
	for i, w := range wt.w {
		if a := armOf(prep.treated[i]); wt.kept[i] && w > caps[a] {
			wt.w[i] = caps[a]
			wt.capped[a]++
		}
	}
	return wt, nil
}

func armOf(treated bool) int {
	if treated {
		return 1
	}
	return 0
}

// ipwOutcome fills the outcome stage's reply: per arm balance sums, histogram, counts and the
// weighted survival table on released times.
func (e *Engine) ipwOutcome(prep *ipwPrepared, req *protocol.IPWRequest, wt *ipwWeighted, out *protocol.IPWReply, reply *protocol.Reply) error {
	p := len(prep.names)
	bal := analysis.NewBalanceSums(p - 1)
	for i := 0; i < prep.n; i++ {
		bal.Add(prep.x[i*p+1:(i+1)*p], prep.treated[i], wt.w[i], wt.kept[i])
	}
	minCell := e.policy.MinCell
	for a, sums := range []analysis.ArmSums{bal.Control, bal.Treated} {
		arm := &protocol.IPWArm{N: sums.N, Kept: sums.Kept, Sum: sums.Sum, SumSq: sums.SumSq, W: sums.W, W2: sums.W2, WSum: sums.WSum}
		var sup int
		arm.Trimmed, sup = releaseCount(wt.trimmed[a], minCell)
		reply.Policy.SuppressedCells += sup
		arm.Capped, sup = releaseCount(wt.capped[a], minCell)
		reply.Policy.SuppressedCells += sup
		counts := make([]int, len(req.Edges)-1)
		var time, w []float64
		var event []bool
		var cell []int32
		for i := 0; i < prep.n; i++ {
			if armOf(prep.treated[i]) != a {
				continue
			}
			if b := binOf(req.Edges, wt.ps[i]); b >= 0 {
				counts[b]++
			}
			if wt.kept[i] {
				time = append(time, prep.time[i])
				event = append(event, prep.event[i])
				w = append(w, wt.w[i])
				cell = append(cell, prep.cell[i])
			}
		}
		for _, n := range counts {
			cnt, sup := releaseCount(n, minCell)
			arm.Histogram = append(arm.Histogram, cnt)
			reply.Policy.SuppressedCells += sup
		}
		if e.withoutWeightSpread {
			cell = nil // tests of the attacks switch the ipw rules off
		}
		time, event, merged, truncated, err := cellPolicyTimes(time, event, cell, prep.continuous, e.policy.BinDays, minCell)
		if err == errRareClass {
			return classRefusal(prep, wt, a, minCell)
		}
		if err != nil {
			return err
		}
		reply.Policy.MergedRows += merged
		if truncated != nil && (reply.Policy.TruncatedAfter == nil || *truncated < *reply.Policy.TruncatedAfter) {
			reply.Policy.TruncatedAfter = truncated
		}
		tab, err := analysis.NewWeightedSurvivalTable(time, event, w)
		if err != nil {
			return errorf(protocol.CodeInvalid, "ipw: %s", trimPrefix(err.Error()))
		}
		arm.Table = protocol.WeightedTable{Time: tab.Time, Events: tab.Events, Censor: tab.Censor,
			Events2: tab.Events2, Censor2: tab.Censor2, NEvent: tab.NEvent, NCensor: tab.NCensor}
		if a == 1 {
			out.TreatedArm = arm
		} else {
			out.ControlArm = arm
		}
	}
	return nil
}

// binOf returns the bin [edges[k], edges[k+1]) holding x (the last bin closed), or −1.
func binOf(edges []float64, x float64) int {
	k := sort.SearchFloat64s(edges, x)
	switch {
	case k < len(edges) && edges[k] == x && k < len(edges)-1:
		return k
	case k == len(edges)-1 && edges[k] == x:
		return k - 1
	case k == 0 || k == len(edges):
		return -1
	}
	return k - 1
}

// ipwCox fills the cox stage's reply: the site's weighted Cox contribution of treatment at
// CoxBeta and its robust-variance meat, on the released times of each arm.
func (e *Engine) ipwCox(prep *ipwPrepared, req *protocol.IPWRequest, wt *ipwWeighted, out *protocol.IPWReply) error {
	if lim := e.policy.MaxCoxLogHR; lim > 0 && math.Abs(req.CoxBeta[0]) > lim && !e.withoutModelRules {
		return errorf(protocol.CodeRefusedByPolicy, "ipw.cox_beta %v is beyond this site's max_cox_log_hr=%v", req.CoxBeta[0], lim)
	}
	idx, time, event, err := e.ipwReleased(prep, wt, false)
	if err != nil {
		return err
	}
	x, w := make([]float64, len(idx)), make([]float64, len(idx))
	for r, i := range idx {
		x[r], w[r] = float64(armOf(prep.treated[i])), wt.w[i]
	}
	for _, ev := range event {
		if ev {
			out.Events++
		}
	}
	// N and Treated are the kept patients (after trimming), whom the contribution holds.
	out.N, out.Treated = len(time), 0
	for _, i := range idx {
		out.Treated += armOf(prep.treated[i])
	}
	ties, _ := analysis.ParseTies(req.Ties)
	st, err := analysis.NewWeightedCoxStratum(time, event, x, 1, w)
	if err != nil {
		return errorf(protocol.CodeInvalid, "ipw: %s", trimPrefix(err.Error()))
	}
	c, err := st.Contribution(req.CoxBeta, ties)
	if err != nil {
		return errorf(protocol.CodeInvalid, "ipw: %s", trimPrefix(err.Error()))
	}
	meat, score, err := st.ScoreMeat(req.CoxBeta, ties)
	if err != nil {
		return errorf(protocol.CodeInvalid, "ipw: %s", trimPrefix(err.Error()))
	}
	out.LogLik, out.Gradient, out.Hessian, out.Meat, out.Score = c.LogLik, c.Gradient, c.Hessian, meat, score
	if slices.ContainsFunc(append(append(slices.Clone(c.Gradient), c.Hessian...), c.LogLik), func(v float64) bool { return math.IsNaN(v) || math.IsInf(v, 0) }) {
		return errorf(protocol.CodeInvalid, "ipw: the Cox contribution at this beta overflows")
	}
	return nil
}

// checkIPWNames resolves the treatment, its level, the confounders and their levels.
func checkIPWNames(ls *loadedStudy, r *protocol.IPWRequest) error {
	if r.TreatedSite == "" {
		t := ls.vars[r.Treatment]
		if t == nil {
			return errorf(protocol.CodeNotFound, "ipw.treatment: no variable %q", clip(r.Treatment))
		}
		if t.Type != protocol.Categorical {
			return errorf(protocol.CodeInvalid, "ipw.treatment: %q is numeric; the treatment is a categorical variable", r.Treatment)
		}
		if _, ok := ls.catIndex[r.Treatment][r.Treated]; !ok {
			return errorf(protocol.CodeNotFound, "ipw.treated: %q has no category %q", r.Treatment, clip(r.Treated))
		}
	}
	for i, name := range r.Confounders {
		if ls.vars[name] == nil {
			return errorf(protocol.CodeNotFound, "ipw.confounders[%d]: no variable %q", i, clip(name))
		}
	}
	// Levels name the merged categories of a merged confounder.
	ls, err := ipwMergedStudy(ls, r.Merge)
	if err != nil {
		return err
	}
	if err := checkClassCount(ls, r.Confounders); err != nil {
		return err
	}
	for name, lv := range r.Levels {
		v := ls.vars[name]
		if v.Type != protocol.Categorical {
			return errorf(protocol.CodeInvalid, "ipw.levels: %q is numeric", name)
		}
		for _, l := range lv {
			if _, ok := ls.catIndex[name][l]; !ok {
				return errorf(protocol.CodeNotFound, "ipw.levels[%q]: no category %q", name, clip(l))
			}
		}
		if len(lv) != len(v.Categories) {
			return errorf(protocol.CodeInvalid, "ipw.levels[%q]: give every declared category (%d), the reference first", name, len(v.Categories))
		}
	}
	return nil
}

// checkPropensitySpread refuses a propensity model that singles out fewer than minCell
// patients of an arm: within each arm, the minCell-th largest (smallest) linear predictor
// x'β must lie within maxWeightSpread of the largest (smallest). A fitted model on data that
// pass the design-column rule is far inside it; a model crafted to give one patient (known by
// its confounders) a weight all others lack is not — its weight would otherwise stand out of
// every weighted sum it enters (TestAttackIPWDominantWeight). With it, the heaviest patient
// weighs at most about e^maxWeightSpread times as much as minCell−1 others of its arm.
func checkPropensitySpread(prep *ipwPrepared, beta []float64, minCell int) error {
	if minCell <= 1 {
		return nil
	}
	p := len(prep.names)
	var etas [2][]float64
	for i := 0; i < prep.n; i++ {
		eta := 0.0
		for j, v := range prep.x[i*p : (i+1)*p] {
			eta += beta[j] * v
		}
		a := armOf(prep.treated[i])
		etas[a] = append(etas[a], eta)
	}
	for a := range etas {
		xs := etas[a]
		if len(xs) < minCell {
			continue // refused by the arm size rule
		}
		slices.Sort(xs)
		k := minCell - 1
		if xs[k]-xs[0] > maxWeightSpread || xs[len(xs)-1]-xs[len(xs)-1-k] > maxWeightSpread {
			return errorf(protocol.CodeRefusedByPolicy, "at this propensity model the confounders single out fewer than min_cell=%d patients of an arm: the %d most extreme linear predictors do not lie within %d of the extreme one, so one patient's weight would stand out; a fitted model does not get there", minCell, minCell, maxWeightSpread)
		}
	}
	return nil
}

// cellPolicyTimes releases an arm's times when its patients fall into classes of equal weight
// as far as the analyst can know (cell: the discrete confounders' value combination). A
// released row's weighted sums with its numbers would otherwise tell how many of its events
// come from each class — a table grouped by, say, sex, whose rows were merged for the arm only
// (TestAttackIPWClassCounts). Times are coarsened to binDays; then, walking forward, a row is
// closed at the first time where every class has none or at least minCell patients in it — the
// rule of a survival table grouped by the class. With strict (a continuous confounder: the
// weights differ patient by patient), the arm's rows are then merged further until each holds
// none or at least minCell events and none or at least minCell censorings: a row's weighted sum
// over one event would be that patient's weight, 1/e(x), a function of the patient's
// confounders the analyst can invert with the broadcast model (the strict rule of pooled-Cox
// rows; TestAttackIPWOneEventWeight). Patients after the last closed row are censored at it; while that
// breaks the rule for the last row, the last row is folded into them. No row left: refused.
// With cell nil (or minCell ≤ 1) it is policyTimes' strict release.
func cellPolicyTimes(time []float64, event []bool, cell []int32, strict bool, binDays float64, minCell int) ([]float64, []bool, int, *float64, error) {
	if minCell <= 1 || len(time) == 0 || cell == nil {
		t, e, merged, trunc := policyTimes(time, event, nil, binDays, minCell, true)
		return t, e, merged, trunc, nil
	}
	classes := 0
	for _, c := range cell {
		classes = max(classes, int(c)+1)
	}
	ct := make([]float64, len(time))
	for i, t := range time {
		ct[i] = analysis.CoarsenTime(t, binDays)
	}
	order := make([]int, len(time))
	for i := range order {
		order[i] = i
	}
	sort.SliceStable(order, func(a, b int) bool { return ct[order[a]] < ct[order[b]] })
	type row struct {
		end    float64
		counts []int // per class: events, censorings
	}
	ok := func(counts []int) bool {
		for c := 0; c < classes; c++ {
			if n := counts[2*c] + counts[2*c+1]; n > 0 && n < minCell {
				return false
			}
		}
		return true
	}
	var rows []row
	acc := make([]int, 2*classes)
	distinct := 0
	for k := 0; k < len(order); {
		t := ct[order[k]]
		distinct++
		for ; k < len(order) && ct[order[k]] == t; k++ {
			i := order[k]
			if event[i] {
				acc[2*cell[i]]++
			} else {
				acc[2*cell[i]+1]++
			}
		}
		if ok(acc) {
			rows = append(rows, row{t, acc})
			acc = make([]int, 2*classes)
		}
	}
	// acc holds the patients after the last row; they are censored at its end.
	for len(rows) > 0 {
		last := rows[len(rows)-1]
		final := slices.Clone(last.counts)
		for c := 0; c < classes; c++ {
			final[2*c+1] += acc[2*c] + acc[2*c+1]
		}
		if ok(final) {
			break
		}
		rows = rows[:len(rows)-1]
		for j := range acc {
			acc[j] += last.counts[j]
		}
	}
	if len(rows) == 0 {
		return nil, nil, 0, nil, errRareClass
	}
	bounds := make([]float64, len(rows))
	for j, r := range rows {
		bounds[j] = r.end
	}
	last := bounds[len(bounds)-1]
	var truncated *float64
	t2 := make([]float64, len(time))
	e2 := slices.Clone(event)
	for i, t := range ct {
		k := sort.SearchFloat64s(bounds, t)
		if k == len(bounds) {
			t2[i], e2[i] = last, false
			truncated = &last
			continue
		}
		t2[i] = bounds[k]
	}
	merged := distinct - len(bounds)
	if strict { // times already coarsened
		var m int
		var tr *float64
		t2, e2, m, tr = policyTimes(t2, e2, nil, 0, minCell, true)
		merged += m
		if tr != nil && (truncated == nil || *tr < *truncated) {
			truncated = tr
		}
	}
	return t2, e2, merged, truncated, nil
}

// ipwModelVars are the variables an IPW query's complete cases must have: the confounders and,
// unless the treatment is membership in a site, the treatment.
func ipwModelVars(req *protocol.IPWRequest) []string {
	vars := slices.Clone(req.Confounders)
	if req.TreatedSite == "" {
		vars = append(vars, req.Treatment)
	}
	return vars
}
