package protocol

import "math"

// IPWStage is one step of a federated propensity-weighted treatment comparison (docs/ipw.md):
//
//   - propensity: one Newton–Raphson round of the logistic model of treatment on the
//     confounders, at Beta: the site's log-likelihood, gradient and Hessian;
//   - outcome: with the fitted model (Beta), the site weighs its own patients and returns
//     balance sums per arm, the propensity histogram per arm, and the weighted survival
//     table of each arm; weights never leave the site;
//   - cox: one round of the weighted Cox model of the endpoint on treatment (and the design
//     columns of Adjust, if any), stratified by site, at CoxBeta: log-likelihood, gradient,
//     Hessian and the robust variance's "meat".
type IPWStage string

const (
	IPWPropensity IPWStage = "propensity"
	IPWOutcome    IPWStage = "outcome"
	IPWCox        IPWStage = "cox"
)

// IPWRequest is the treatment comparison a site takes part in.
type IPWRequest struct {
	Stage IPWStage `json:"stage"`
	// Treatment is a categorical variable; patients at level Treated form the treated arm,
	// every other patient with a value the control arm.
	Treatment string `json:"treatment"`
	Treated   string `json:"treated"`
	// TreatedSite, instead of Treatment and Treated, makes the treatment membership in a
	// site: every patient of the site named TreatedSite is treated (a single-arm trial), every
	// other site's patient a control (an external control arm). Each site then holds one arm;
	// a model stratified by site compares nothing, so the cox stage is refused and the client
	// fits the pooled weighted Cox model from the outcome stage's tables (docs/ipw.md).
	TreatedSite string   `json:"treated_site,omitempty"`
	Confounders []string `json:"confounders"`
	// Levels fixes the design order of categorical confounders (the first is the reference).
	Levels map[string][]string `json:"levels,omitempty"`
	// Merge coarsens discrete confounders before anything is computed: per confounder, groups
	// of its declared levels (a categorical one's, or a discrete numeric one's values) that the
	// propensity and outcome designs and the weights' classes treat as one — a merged group
	// takes the place of its first level (MergedGroups; a numeric one its first value). Levels,
	// if given, names the merged categories.
	Merge map[string][]LevelGroup `json:"merge,omitempty"`
	// Beta holds the propensity coefficients, intercept first: the current iterate in the
	// propensity stage, the fitted model in the others.
	Beta []float64 `json:"beta"`
	// Estimand is ATE, ATT or overlap; Stabilise, TreatedShare (pooled P(treated)) and Trim as
	// analysis.WeightOptions. Used by the outcome and cox stages.
	Estimand     string  `json:"estimand,omitempty"`
	Stabilise    bool    `json:"stabilise,omitempty"`
	TreatedShare float64 `json:"treated_share,omitempty"`
	Trim         float64 `json:"trim,omitempty"`
	// Edges are the propensity histogram's bin edges (outcome stage), in [0, 1].
	Edges []float64 `json:"edges,omitempty"`
	// Ties and CoxBeta (the treatment's log hazard ratio) for the cox stage.
	Ties    string    `json:"ties,omitempty"`
	CoxBeta []float64 `json:"cox_beta,omitempty"`
	// Adjust are the covariates of the adjusted weighted Cox model (the cox stage, stratified
	// by site, and the pooled stages; each a confounder, with the confounder's levels): CoxBeta
	// then holds the treatment's coefficient and one per design column of Adjust, in that order
	// (ipwpooled.go).
	Adjust []string `json:"adjust,omitempty"`
	// Site addresses a pooled_hessian or pooled_meat request to one site, which CoxWeights are
	// for (sent on that site's own subject).
	Site       string         `json:"site,omitempty"`
	CoxWeights *IPWCoxWeights `json:"cox_weights,omitempty"`
	// Origin is, for numeric covariates of Adjust, the public constant each site subtracts from
	// the covariate's column before it forms the pooled stages' sums (as CoxRequest.Origin:
	// the fit is unchanged, its sums keep their digits).
	Origin map[string]float64 `json:"origin,omitempty"`
}

// IPWArm is one arm's balance sums: unweighted over its patients (N, Sum, SumSq), weighted over
// those kept after trimming (Kept, W, W2, WSum), for every design column but the intercept.
type IPWArm struct {
	N     int       `json:"n"`
	Kept  int       `json:"kept"`
	Sum   []float64 `json:"sum"`
	SumSq []float64 `json:"sum_sq"`
	W     float64   `json:"w"`
	W2    float64   `json:"w2"`
	WSum  []float64 `json:"w_sum"`
	// Trimmed is the number of the arm's patients left out by trimming (suppressed below
	// min_cell); Capped the number whose weight was capped (see docs/ipw.md).
	Trimmed Count `json:"trimmed"`
	Capped  Count `json:"capped"`
	// Histogram counts the arm's propensities per bin of the request's Edges (suppressed cells
	// below min_cell).
	Histogram []Count `json:"histogram"`
	// Table is the arm's weighted survival table, on released times.
	Table WeightedTable `json:"table"`
}

// WeightedTable is a weighted survival table (analysis.WeightedSurvivalTable) on the wire.
type WeightedTable struct {
	Time    []float64 `json:"time"`
	Events  []float64 `json:"events"`
	Censor  []float64 `json:"censor"`
	Events2 []float64 `json:"events2"`
	Censor2 []float64 `json:"censor2"`
	NEvent  []int     `json:"n_event"`
	NCensor []int     `json:"n_censor"`
}

// IPWReply is a site's answer to one stage.
type IPWReply struct {
	Columns []string `json:"columns"` // propensity design columns, intercept first
	N       int      `json:"n"`       // complete cases
	Treated int      `json:"treated"`
	// Propensity and cox stages: the contribution at the request's β (p×p Hessian row-major).
	LogLik   float64   `json:"loglik,omitempty"`
	Gradient []float64 `json:"gradient,omitempty"`
	Hessian  []float64 `json:"hessian,omitempty"`
	// Cox stage: Σ (w r)(w r)' over the site's patients and the weighted score Σ w r.
	Meat  []float64 `json:"meat,omitempty"`
	Score []float64 `json:"score,omitempty"`
	// Cox stage: patients and events in the weighted model.
	Events int `json:"events,omitempty"`
	// Outcome stage.
	TreatedArm *IPWArm `json:"treated_arm,omitempty"`
	ControlArm *IPWArm `json:"control_arm,omitempty"`
	// Pooled stages (ipwpooled.go), and the cox stage with Adjust: the outcome model's design
	// columns (the treatment first); pooled stages: phase 1's rows and Σ_events w x, phase 2's
	// second moment; the meat in Meat and Score.
	CoxColumns   []string    `json:"cox_columns,omitempty"`
	Rows         []IPWCoxRow `json:"rows,omitempty"`
	EventXSum    []float64   `json:"event_x_sum,omitempty"`
	SecondMoment []float64   `json:"second_moment,omitempty"`
	// BetaLimit is the site's cap on each outcome coefficient (as CoxReply.BetaLimit; none
	// under an exact policy): the client's fit stays within every site's.
	BetaLimit []float64 `json:"beta_limit,omitempty"`
}

func validateIPWRequest(r *IPWRequest) error {
	if r == nil {
		return queryErrorf(CodeInvalid, "ipw query without ipw parameters")
	}
	switch r.Stage {
	case IPWPropensity, IPWOutcome, IPWCox, IPWPooledSums, IPWPooledHessian, IPWPooledMeat:
	default:
		return queryErrorf(CodeInvalid, "ipw.stage %q: want propensity, outcome, cox, pooled_sums, pooled_hessian or pooled_meat", clipName(string(r.Stage)))
	}
	if r.TreatedSite != "" {
		if r.Treatment != "" || r.Treated != "" || len(r.TreatedSite) > MaxNameLen {
			return queryErrorf(CodeInvalid, "ipw.treated_site makes the treatment membership in a site: it takes no treatment variable or level")
		}
		if r.Stage == IPWCox {
			return queryErrorf(CodeInvalid, "ipw: with the treatment membership in site %q every site holds one arm, so a Cox model stratified by site compares nothing; the pooled model is computed from the outcome stage", clipName(r.TreatedSite))
		}
	} else if r.Treatment == "" || len(r.Treatment) > MaxNameLen || r.Treated == "" || len(r.Treated) > MaxNameLen {
		return queryErrorf(CodeInvalid, "ipw needs a treatment variable and its treated level, or a treated site")
	}
	if len(r.Confounders) == 0 || len(r.Confounders) > MaxCovariates {
		return queryErrorf(CodeInvalid, "ipw needs 1 to %d confounders, got %d", MaxCovariates, len(r.Confounders))
	}
	seen := map[string]bool{r.Treatment: true}
	for i, v := range r.Confounders {
		if v == "" || len(v) > MaxNameLen || seen[v] {
			return queryErrorf(CodeInvalid, "ipw.confounders[%d]: empty, too long, repeated or the treatment itself", i)
		}
		seen[v] = true
	}
	if len(r.Merge) > MaxCovariates {
		return queryErrorf(CodeInvalid, "ipw.merge: at most %d confounders", MaxCovariates)
	}
	for v, groups := range r.Merge {
		if !seen[v] || v == r.Treatment || len(groups) == 0 {
			return queryErrorf(CodeInvalid, "ipw.merge: %q is not a confounder, or merges nothing", clipName(v))
		}
		if err := validateLevelGroups("ipw.merge["+clipName(v)+"]", groups); err != nil {
			return err
		}
	}
	for v, lv := range r.Levels {
		if !seen[v] || v == r.Treatment {
			return queryErrorf(CodeInvalid, "ipw.levels: %q is not a confounder", clipName(v))
		}
		if len(lv) == 0 || len(lv) > MaxFilterValues {
			return queryErrorf(CodeInvalid, "ipw.levels[%q]: 1 to %d levels needed", v, MaxFilterValues)
		}
	}
	if len(r.Beta) > MaxDesignCols+1 || (r.Stage != IPWPropensity && len(r.Beta) == 0) {
		return queryErrorf(CodeInvalid, "ipw.beta: the %s stage needs the propensity coefficients (at most %d)", r.Stage, MaxDesignCols+1)
	}
	for _, xs := range [][]float64{r.Beta, r.CoxBeta, r.Edges, {r.TreatedShare, r.Trim}} {
		for _, x := range xs {
			if math.IsNaN(x) || math.IsInf(x, 0) {
				return queryErrorf(CodeInvalid, "ipw: a coefficient, edge or share is not finite")
			}
		}
	}
	if err := validatePooledIPW(r); err != nil {
		return err
	}
	if r.Stage == IPWPropensity {
		return nil
	}
	switch r.Estimand {
	case "ATE", "ATT", "overlap":
	default:
		return queryErrorf(CodeInvalid, "ipw.estimand %q: want ATE, ATT or overlap", clipName(r.Estimand))
	}
	if !(r.Trim >= 0 && r.Trim < 0.5) {
		return queryErrorf(CodeInvalid, "ipw.trim %v: want [0, 0.5)", r.Trim)
	}
	if r.Stabilise && !(r.TreatedShare > 0 && r.TreatedShare < 1) {
		return queryErrorf(CodeInvalid, "ipw.treated_share %v: stabilised weights need a share in (0, 1)", r.TreatedShare)
	}
	if r.Stage == IPWOutcome {
		if len(r.Edges) < 2 || len(r.Edges) > MaxEdges {
			return queryErrorf(CodeInvalid, "ipw.edges: 2 to %d edges needed", MaxEdges)
		}
		for k, x := range r.Edges {
			if x < 0 || x > 1 || (k > 0 && x <= r.Edges[k-1]) {
				return queryErrorf(CodeInvalid, "ipw.edges[%d]: edges must increase within [0, 1]", k)
			}
		}
	}
	if r.Stage == IPWCox {
		if r.Ties != "efron" && r.Ties != "breslow" {
			return queryErrorf(CodeInvalid, "ipw.ties %q: want efron or breslow", clipName(r.Ties))
		}
		if len(r.Adjust) == 0 && len(r.CoxBeta) != 1 {
			return queryErrorf(CodeInvalid, "ipw.cox_beta: one coefficient (the treatment) expected, got %d", len(r.CoxBeta))
		}
		if len(r.Adjust) > 0 && (len(r.CoxBeta) < 2 || len(r.CoxBeta) > MaxDesignCols) {
			return queryErrorf(CodeInvalid, "ipw.cox_beta: the treatment and the covariates' columns (2 to %d coefficients), got %d", MaxDesignCols, len(r.CoxBeta))
		}
	}
	return nil
}

// ipw checks the shape of a site's answer against its query.
func (v *validator) ipw(q Query, r *IPWReply) {
	if q.IPW == nil {
		v.failf("ipw", "reply to a query without an ipw request")
		return
	}
	p := len(r.Columns)
	v.nonNegative("ipw.n", r.N)
	v.nonNegative("ipw.treated", r.Treated)
	if r.Treated > r.N {
		v.failf("ipw.treated", "%d treated among %d patients", r.Treated, r.N)
	}
	switch q.IPW.Stage {
	case IPWPropensity:
		v.length("ipw.columns", p, len(q.IPW.Beta))
		v.finite("ipw.loglik", r.LogLik)
		v.length("ipw.gradient", len(r.Gradient), p)
		v.length("ipw.hessian", len(r.Hessian), p*p)
		v.finites("ipw.gradient", r.Gradient)
		v.finites("ipw.hessian", r.Hessian)
	case IPWOutcome:
		for name, a := range map[string]*IPWArm{"ipw.treated_arm": r.TreatedArm, "ipw.control_arm": r.ControlArm} {
			if a == nil {
				v.failf(name, "missing")
				continue
			}
			for _, xs := range [][]float64{a.Sum, a.SumSq, a.WSum} {
				v.length(name+".sums", len(xs), p-1)
				v.finites(name+".sums", xs)
			}
			v.finites(name+".w", []float64{a.W, a.W2})
			v.length(name+".histogram", len(a.Histogram), len(q.IPW.Edges)-1)
			t := a.Table
			n := len(t.Time)
			for _, l := range []int{len(t.Events), len(t.Censor), len(t.Events2), len(t.Censor2), len(t.NEvent), len(t.NCensor)} {
				v.length(name+".table", l, n)
			}
			for _, xs := range [][]float64{t.Time, t.Events, t.Censor, t.Events2, t.Censor2} {
				v.finites(name+".table", xs)
			}
		}
	case IPWPooledSums, IPWPooledHessian, IPWPooledMeat:
		v.pooledIPW(q, r)
	case IPWCox:
		q := len(q.IPW.CoxBeta)
		v.finite("ipw.loglik", r.LogLik)
		v.length("ipw.gradient", len(r.Gradient), q)
		v.length("ipw.hessian", len(r.Hessian), q*q)
		v.length("ipw.score", len(r.Score), q)
		if q > 1 { // adjusted: the columns, the sites' caps and a symmetric meat
			v.length("ipw.cox_columns", len(r.CoxColumns), q)
			if r.BetaLimit != nil {
				v.length("ipw.beta_limit", len(r.BetaLimit), q)
				v.finites("ipw.beta_limit", r.BetaLimit)
			}
			v.symmetricPSD("ipw.meat", r.Meat, q)
		} else {
			v.length("ipw.meat", len(r.Meat), 1)
		}
		for _, xs := range [][]float64{r.Gradient, r.Hessian, r.Meat, r.Score} {
			v.finites("ipw.cox", xs)
		}
	}
}
