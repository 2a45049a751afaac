// Package protocol is the versioned wire format between the analyst's client and the site
// nodes: the queries a node may answer (and nothing else), the cohort filter language, and
// the aggregate replies with what the site's disclosure policy did to them. It imports only
// the standard library, so the client, the node and the tests share one definition.
//
// Messages are JSON. A node refuses a message whose Version it does not speak.
package protocol

// Version is the protocol version carried in every query and in the NATS subjects.
const Version = "v1"

// Kind names one of the whitelisted query kinds. A node answers these and nothing else.
type Kind string

const (
	KindCatalog  Kind = "catalog"  // studies, variables, endpoints, counts, data cut, policy
	KindCount    Kind = "count"    // cohort size, optionally by group
	KindSummary  Kind = "summary"  // per group: category counts; n, Σx, Σx², histogram
	KindSurvival Kind = "survival" // per group: survival table (time, events, censorings)
	KindCox      Kind = "cox"      // per site at a given β: stratum contributions or risk-set sums
	KindIPW      Kind = "ipw"      // propensity weighting: model rounds, weighted outcome tables, weighted Cox
	// KindFineGray: one round of a pooled Fine–Gray model of one cause's subdistribution hazard
	// (docs/competing-risks.md), its parameters in Query.Cox (Cause set; forms pooled_sums,
	// pooled_hessian and meat).
	KindFineGray Kind = "finegray"
	KindScreen   Kind = "screen" // a batch of Cox models of one cohort (a biomarker screen's round): screen.go
)

// Kinds lists every query kind in a stable order.
var Kinds = []Kind{KindCatalog, KindCount, KindSummary, KindSurvival, KindCox, KindIPW, KindFineGray, KindScreen}

// Query is what the client sends to every site of a study.
type Query struct {
	Version string `json:"version"`
	Kind    Kind   `json:"kind"`
	// ID identifies the query for deduplication and the audit log (random, client-chosen).
	ID string `json:"id"`
	// Analyst is the identity the client declares. A node that verifies signatures ignores it
	// and uses the name its analysts list gives the signing key.
	Analyst string  `json:"analyst,omitempty"`
	Study   string  `json:"study,omitempty"`
	Cohort  *Filter `json:"cohort,omitempty"` // nil = every patient of the study
	// GroupBy names a categorical variable, or an integer-coded numeric one with at most 12
	// distinct values in the study (e.g. ECOG 0–4), whose groups are then named by the value
	// ("0", "1", …).
	GroupBy string `json:"group_by,omitempty"`
	// Merge joins levels of the categorical GroupBy variable into groups of their own name
	// ("Other": IIIC and IVB), so that a level too small at some site no longer makes the
	// site refuse the whole grouping (MergedGroups gives the groups and their order).
	Merge []LevelGroup `json:"merge,omitempty"`

	Endpoint  string          `json:"endpoint,omitempty"`  // survival, cox
	Variables []string        `json:"variables,omitempty"` // summary
	Bins      []HistogramSpec `json:"bins,omitempty"`      // summary: fixed bin edges per numeric variable
	Cox       *CoxRequest     `json:"cox,omitempty"`       // cox, finegray
	IPW       *IPWRequest     `json:"ipw,omitempty"`       // ipw
	Screen    *ScreenRequest  `json:"screen,omitempty"`    // screen

	// Feasibility asks for an approximate count that the site does not remember: the cohort
	// size plus noise that depends only on the patient set, rounded (Reply.Policy says how),
	// never below min_cohort. It is what a live feasibility panel asks while the analyst edits
	// filters: such counts are not recorded by the overlap guard, so they cannot make the site
	// refuse the exact analysis of the final cohort, and they are charged to the site's
	// feasibility budget instead of its daily query budget. Valid only with KindCount and
	// without GroupBy; exact numbers come only from a query without it.
	Feasibility bool `json:"feasibility,omitempty"`

	// SplitCauses asks, of a survival query on an endpoint with competing causes, for the events
	// split by cause (SurvivalGroup.Causes): what a cumulative incidence needs. A rule-based
	// release always splits them; a differentially private one splits them only when asked,
	// else it releases the Kaplan–Meier table of all causes together, which the split's extra
	// noisy column would make less accurate (docs/competing-risks.md). Either form costs
	// dp_rho_survival, and asking both is two releases. Omitted when false, so a query without
	// it is the query of a client older than the field. Valid only with KindSurvival.
	SplitCauses bool `json:"split_causes,omitempty"`

	// Auth is the analyst's signature (Signer.Sign), required by a node that keeps a list of
	// authorised analyst keys. It is the last field, and QuerySigningBytes covers every other.
	Auth *Auth `json:"auth,omitempty"`
}

// HistogramSpec gives the fixed edges on which a numeric variable is binned (no raw min/max
// ever leaves a site).
type HistogramSpec struct {
	Variable string    `json:"variable"`
	Edges    []float64 `json:"edges"`
}

// Op is a cohort filter operator.
type Op string

const (
	OpAnd     Op = "and"     // all of Args
	OpOr      Op = "or"      // any of Args
	OpNot     Op = "not"     // negation of Args[0]
	OpEq      Op = "eq"      // categorical Var equals Value
	OpIn      Op = "in"      // categorical Var in Values
	OpRange   Op = "range"   // numeric Var in [Min, Max] (either bound may be absent)
	OpMissing Op = "missing" // Var is missing
	OpPresent Op = "present" // Var is not missing
)

// Filter is a cohort definition: a tree of conditions over the study's variables.
// A patient with a missing value fails eq, in and range.
type Filter struct {
	Op     Op        `json:"op"`
	Args   []*Filter `json:"args,omitempty"`
	Var    string    `json:"var,omitempty"`
	Value  string    `json:"value,omitempty"`
	Values []string  `json:"values,omitempty"`
	Min    *float64  `json:"min,omitempty"`
	Max    *float64  `json:"max,omitempty"`
	// MinOpen / MaxOpen make a bound strict (x > Min, x < Max).
	MinOpen bool `json:"min_open,omitempty"`
	MaxOpen bool `json:"max_open,omitempty"`
}

// CoxForm selects how a site contributes to a Cox fit.
type CoxForm string

const (
	// CoxStratified: the site is its own stratum and returns log-likelihood, gradient and
	// Hessian at Beta; contributions add up across sites.
	CoxStratified CoxForm = "stratified"
	// CoxPooled names the pooled (unstratified) model. On the wire it was the one-phase
	// WebDISCO round (risk-set sums S0, S1, S2 per distinct time: O(T p²) a site and round),
	// which nodes now refuse with CodeUnsupported; results stored with it still open. A pooled
	// fit asks CoxPooledSums and CoxPooledHessian instead (docs/cox-protocol.md).
	CoxPooled CoxForm = "pooled"
	// CoxPooledSums is phase 1 of a pooled round: per distinct time of the site D, R0, R1 and,
	// at times with events, E0 and E1 (CoxReply.Rows without R2 and E2), and EventXSum: O(T p).
	// The client pools them into the exact log partial likelihood and gradient.
	CoxPooledSums CoxForm = "pooled_sums"
	// CoxPooledHessian is phase 2, addressed to one site (CoxRequest.Site) with that site's
	// weights (CoxRequest.Weights) at the same β: the site returns its p×p weighted second
	// moment (CoxReply.SecondMoment), from which the client completes the Hessian. Asked only
	// for a β the fit accepts.
	CoxPooledHessian CoxForm = "pooled_hessian"
	// CoxValidate evaluates a model fitted without this site (leave one site out) on the site's
	// own patients at the broadcast β: the site returns CoxReply.Validation (Harrell's and Uno's
	// C with their standard errors, the calibration slope, and calibration in the large at
	// CoxRequest.Landmarks given the model's cumulative baseline hazard there), never the
	// patients' linear predictors or the pair counts (docs/validation.md).
	CoxValidate CoxForm = "validate"
	// CoxMeat is the last round of a Fine–Gray fit (KindFineGray only), addressed to one site
	// with its variance weights at β̂ (CoxWeights' A, B, A1, B1, XBar, Psi, QPi): the site returns
	// its p×p part of the sandwich's middle (CoxReply.Meat).
	CoxMeat CoxForm = "meat"
	// CoxLPHistogram asks the distribution of the model's linear predictor x'β over the site's
	// complete cases, binned on the grid of width CoxRequest.LPBinWidth anchored at 0 and merged
	// to min_cell patients a bin with open extremes (CoxReply.LPHistogram): where a patient's
	// profile lies among the cohort's. Part of prediction for one patient, so, as the pooled form
	// whose baseline hazard it complements, answered only under allow_pooled_cox
	// (docs/prediction.md).
	CoxLPHistogram CoxForm = "lp_histogram"
	// CoxDPTables is the differentially private form, answered to analysts of role dp only
	// (docs/dp-cox.md): one release, at no β, of one noisy survival table per covariate
	// pattern (CoxReply.Patterns) on the site's public DP time grid. The client fits the
	// model on them (post-processing, no further query); Beta is sent as zeros.
	CoxDPTables CoxForm = "dp_tables"
)

// CoxWeights are the phase-2 weights of one site (CoxPooledHessian) at β: A[k] for the k-th of
// the site's distinct released times (the rows of its phase-1 reply, in order) and B[k] for the
// k-th of those that hold events. A is the pooled Efron (Breslow) cumulative sum
// Σ_{pooled event times t ≤ T} Σ_l 1/(S0(t) − (l/d) E0(t)), so it is non-decreasing and ≥ 0;
// B is Σ_l (l/d)/(S0(t) − (l/d) E0(t)) at the site's event time t (0 under Breslow), so
// 0 ≤ B[k] ≤ the increase of A at that time.
//
// In a Fine–Gray round (KindFineGray) B is per row with competing events instead: the weight
// Σ_{t > T} d_t Ĝ(t−)/(S0(t) Ĝ(T−)) ≥ 0 with which a patient who failed from a competing cause
// at T stays in the later subdistribution risk sets; the meat form adds, row-major (rows × p),
// A1 and B1 (A and B with the pooled x̄(t) in the sums), XBar (x̄ at the rows with events of the
// cause), Psi (at every row) and QPi (q/π at the rows with censorings) —
// analysis.FineGrayMeatWeights.
type CoxWeights struct {
	A    Float64s `json:"a"`
	B    Float64s `json:"b"`
	A1   Float64s `json:"a1,omitempty"`
	B1   Float64s `json:"b1,omitempty"`
	XBar Float64s `json:"xbar,omitempty"`
	Psi  Float64s `json:"psi,omitempty"`
	QPi  Float64s `json:"qpi,omitempty"`
}

// CoxRequest asks a site for its Cox contribution at one Newton–Raphson iterate.
type CoxRequest struct {
	Form       CoxForm  `json:"form"`
	Ties       string   `json:"ties"`       // "efron" or "breslow"
	Covariates []string `json:"covariates"` // variables; categorical ones expand to treatment contrasts
	// Levels fixes, for each categorical covariate, its levels in design order; the first is
	// the reference. The client sets it from the catalog so every site builds the same design.
	Levels map[string][]string `json:"levels,omitempty"`
	Beta   []float64           `json:"beta"` // one per design column
	// Strata optionally stratifies within the site as well (by a categorical variable).
	Strata string `json:"strata,omitempty"`
	// Site addresses a CoxPooledHessian request to one site (it goes to that site's subject;
	// a node refuses one addressed to another site). Empty for every other form.
	Site string `json:"site,omitempty"`
	// Weights are the phase-2 weights of Site (CoxPooledHessian only).
	Weights *CoxWeights `json:"weights,omitempty"`
	// Landmarks (days, increasing, at most MaxLandmarks) and BaselineCumHaz, the model's
	// cumulative baseline hazard H₀ at each landmark for x'β = 0, ask a CoxValidate request for
	// calibration in the large there. Both empty, or of equal length; CoxValidate only.
	Landmarks      []float64 `json:"landmarks,omitempty"`
	BaselineCumHaz []float64 `json:"baseline_cumhaz,omitempty"`
	// LPBinWidth is the grid width of a CoxLPHistogram request (in units of x'β); that form only.
	LPBinWidth float64 `json:"lp_bin_width,omitempty"`
	// Indicators turns a categorical covariate into one indicator column, 1 when the patient
	// is at the given level (named covariate+level, its reference "not "+level): the treated
	// arm of a predictive screen, whatever the other arms.
	Indicators map[string]string `json:"indicators,omitempty"`
	// Interactions adds, after every covariate's columns, the products of two covariates'
	// columns (R's a:b, named colA+":"+colB, a's columns varying fastest).
	Interactions []CoxInteraction `json:"interactions,omitempty"`
	// Origin gives, for numeric covariates of a pooled model (pooled_sums and pooled_hessian
	// only), a public constant each site subtracts from the covariate's design column before it
	// forms its sums: the client sends the midpoint of the declared range from the catalog, the
	// same to every site. β, ℓ, U and H do not change (the constant is absorbed by the baseline
	// hazard), but a column such as the year of diagnosis (values near 2020) no longer loses
	// digits to cancellation in the pooled sums (docs/cox-protocol.md, "Centring").
	Origin map[string]float64 `json:"origin,omitempty"`
	// Cause is the label of the cause whose subdistribution hazard a Fine–Gray round models
	// (KindFineGray only; the endpoint's other causes are the competing ones).
	Cause string `json:"cause,omitempty"`
	// ZPH is the transform of a CoxZPH request (zph.go); that form only.
	ZPH *CoxZPHRequest `json:"zph,omitempty"`
}

// CoxInteraction names two covariates of a Cox request whose columns interact.
type CoxInteraction struct {
	A string `json:"a"`
	B string `json:"b"`
}

// MaxLandmarks bounds the landmark times of a validation request.
const MaxLandmarks = 10

// MinLPBinWidth and MaxLPBinWidth bound the grid width of a CoxLPHistogram request.
const (
	MinLPBinWidth = 0.01
	MaxLPBinWidth = 10
)

// Error codes carried in a refusal (and in the NATS reply header), after wtf's.
const (
	CodeInvalid         = "invalid"
	CodeNotFound        = "not_found"
	CodeUnavailable     = "unavailable"
	CodeRefusedByPolicy = "refused_by_policy"
	CodeInternal        = "internal"
	CodeUnsupported     = "unsupported_version"
)

// Error is a coded refusal from a node. A refusal by the disclosure policy names its Reason
// (one of the Reason constants) and the Limit that was reached, so that a client decides on
// them and shows Message, written for people, as it is.
type Error struct {
	Code    string `json:"code"`
	Message string `json:"message"`
	// Reason says, for code refused_by_policy, which rule refused: one of the Reason
	// constants, or "" for a refusal by another rule (Message says which).
	Reason string `json:"reason,omitempty"`
	// Limit is the rule's limit in its own unit (see the Reason constants); ≥ 0.
	Limit float64 `json:"limit,omitempty"`
}

// Reasons of a refusal by policy (Error.Reason) and the unit of their Limit.
const (
	ReasonSmallCohort       = "small_cohort"       // the cohort (or its noisy size) is below min_cohort; Limit: min_cohort patients
	ReasonDailyBudget       = "daily_budget"       // the analyst's daily query budget (shared by queries and feasibility counts) cannot pay for this query; Limit: queries a day
	ReasonFeasibilityBudget = "feasibility_budget" // the optional extra cap on feasibility counts a day is reached; Limit: counts a day
	ReasonPrivacyBudget     = "privacy_budget"     // the query would overspend the zCDP budget; Limit: the budget's ρ (daily or lifetime)
	ReasonOverlapGuard      = "overlap_guard"      // the patient set differs from a released one by fewer than min_cell; Limit: min_cell
	ReasonAnalystRole       = "analyst_role"       // the analyst's role (dp) has no release of this query kind or form, decided before any data is read; no Limit
)

// Reasons lists every refusal reason this version knows.
var Reasons = []string{ReasonSmallCohort, ReasonDailyBudget, ReasonFeasibilityBudget, ReasonPrivacyBudget, ReasonOverlapGuard, ReasonAnalystRole}

func (e *Error) Error() string { return e.Code + ": " + e.Message }
