package protocol

// Reply is a node's answer to one Query. Exactly one payload is set when Error is nil.
type Reply struct {
	Version string `json:"version"`
	QueryID string `json:"query_id"`
	Site    string `json:"site"`
	Kind    Kind   `json:"kind"`
	Error   *Error `json:"error,omitempty"`
	// Policy says what the site's disclosure policy did to this reply, so the client can
	// show it in the privacy line under every figure.
	Policy PolicyEffects `json:"policy"`
	// DataCut is the data-cut date (YYYY-MM-DD) of the study the answer was computed from,
	// for the result's provenance (set on answers to study queries).
	DataCut string `json:"data_cut,omitempty"`

	Catalog  *Catalog       `json:"catalog,omitempty"`
	Count    *CountReply    `json:"count,omitempty"`
	Summary  *SummaryReply  `json:"summary,omitempty"`
	Survival *SurvivalReply `json:"survival,omitempty"`
	Cox      *CoxReply      `json:"cox,omitempty"`
	IPW      *IPWReply      `json:"ipw,omitempty"`
	Screen   *ScreenReply   `json:"screen,omitempty"`
}

// PolicyEffects records what the policy did: the bin width applied to times, how many cells
// were suppressed, whether survival rows were merged or the tail truncated.
type PolicyEffects struct {
	BinDays         float64 `json:"bin_days"`
	MinCell         int     `json:"min_cell"`
	MinCohort       int     `json:"min_cohort"`
	SuppressedCells int     `json:"suppressed_cells,omitempty"`
	// LinkedCells counts the cells among SuppressedCells that the small-cell rules alone would
	// release: suppressed because, with what was released before, they would re-derive a
	// handful of patients (the overlap guard's linked-cell suppression of Table 1).
	LinkedCells    int      `json:"linked_cells,omitempty"`
	MergedRows     int      `json:"merged_rows,omitempty"`
	TruncatedAfter *float64 `json:"truncated_after,omitempty"` // no survival row released after this time
	Notes          []string `json:"notes,omitempty"`
	// FeasibilityRounding is set (≥ 1) on the answer to a feasibility count only: the count
	// is a multiple of it, the cohort size plus noise rounded to the nearest multiple.
	FeasibilityRounding int `json:"feasibility_rounding,omitempty"`
	// FeasibilityNoise is the bound k of the integer noise, uniform in [−k, +k], added to a
	// feasibility count before rounding (0: none).
	FeasibilityNoise int `json:"feasibility_noise,omitempty"`
	// Auth is "open" on a reply of a node started insecure-open: it answers unsigned queries
	// and trusts the analyst name they declare. Empty on a node that verifies signatures.
	Auth string `json:"auth,omitempty"`
	// DP describes a differentially private release (nil on rule-based ones).
	DP *DPEffects `json:"dp,omitempty"`
}

// DPEffects says how a differentially private reply was noised and what it cost: the
// analyst's ρ spent by this reply (zero-concentrated DP), what remains of the day's and the
// lifetime budget for this study after it, the discrete Gaussian's parameter per noisy
// coordinate (for counts the variance of each count; for survival tables that of the
// mechanism's integer strategy, see package dp) and the standard deviation of the noise in
// the cohort size the reply implies, so that a client can tell a noisy size from an
// impossible one.
type DPEffects struct {
	Mechanism string  `json:"mechanism"` // "discrete-gaussian", "survival-sqrt"
	Rho       float64 `json:"rho"`
	Sigma2    float64 `json:"sigma2"`
	SizeSD    float64 `json:"size_sd"`
	LeftToday float64 `json:"left_today"`
	LeftTotal float64 `json:"left_total"`
}

// AuthOpen is PolicyEffects.Auth (and Catalog.Auth) of a node that runs insecure-open.
const AuthOpen = "open"

// Policy is a site's disclosure policy as published in its catalog. The node package
// documents each rule (node.DefaultPolicy gives the safe defaults).
type Policy struct {
	MinCohort    int     `json:"min_cohort"`
	MinCell      int     `json:"min_cell"`
	BinDays      float64 `json:"bin_days"`
	OverlapGuard bool    `json:"overlap_guard"`
	// OverlapGuardScope is whose releases the overlap guard remembers together: "analyst"
	// (or "", the default) each analyst key's own; "study" those of every analyst of the
	// study, so that two keys cannot split a differencing attack between them.
	OverlapGuardScope string `json:"overlap_guard_scope,omitempty"`
	DailyQueryBudget  int    `json:"daily_query_budget"`
	// EventsPerCoxCovariate is the number of events a Cox query needs per design column
	// (e.g. 10: p columns need 10·p events among the complete cases); 0 = no cap.
	EventsPerCoxCovariate int `json:"events_per_cox_covariate"`
	// AllowPooledCox lets the site answer the pooled (WebDISCO) Cox form. Its risk-set sums
	// per released time approach single patients' covariate values as β grows, so it is an
	// opt-in for trusted networks; without it the site refuses the pooled form (code
	// refused_by_policy) and answers the stratified-by-site form only.
	AllowPooledCox bool `json:"allow_pooled_cox"`
	// MaxCoxLogHR caps the β of a Cox query, whatever the data: |β_j|·w_j ≤ MaxCoxLogHR, w_j
	// being 1 for an indicator column and the width of the declared range (Variable.Min/Max)
	// for a numeric one, so that no column can weigh one patient more than e^MaxCoxLogHR times
	// another. Exact policies have no cap (the field is then ignored).
	MaxCoxLogHR float64 `json:"max_cox_log_hr"`
	// FeasibilityRounding, FeasibilityNoise: a feasibility count (Query.Feasibility) is the
	// cohort size plus integer noise uniform in [−noise, +noise], drawn deterministically from
	// the patient set, rounded to the nearest multiple of the rounding and never released below
	// min_cohort. A feasibility count draws on the same daily budget as the other queries
	// (DailyQueryBudget): it costs FeasibilityCost of a query (0 < cost ≤ 1; 0.25 by default,
	// so 2,000 counts use a budget of 500). FeasibilityBudget is an optional extra cap on the
	// number of feasibility counts an analyst may ask per day (0 = no extra cap).
	FeasibilityRounding int     `json:"feasibility_rounding"`
	FeasibilityNoise    int     `json:"feasibility_noise"`
	FeasibilityBudget   int     `json:"feasibility_budget"`
	FeasibilityCost     float64 `json:"feasibility_cost,omitempty"`
	// Differentially private releases (analysts of role dp), under zero-concentrated DP with
	// exact discrete Gaussian noise. DPRhoCount is the ρ a count or a grouped count costs
	// (feasibility counts too), DPRhoSurvival the ρ of a survival query (every group's table,
	// on DPBinDays-wide bins up to DPHorizonDays; later patients are censored there).
	// DPRhoDaily bounds what one analyst spends on one study per UTC day, DPRhoTotal what
	// they spend on it ever.
	// DPRhoFeasibility is the ρ of a feasibility count (the cohort panel's live estimate,
	// asked at every edit of a filter): small, as the answer is rounded anyway.
	// DPRhoSummary is the ρ of a summary (Table 1) query whatever its number of variables
	// and groups, split evenly across its released components (node/dpsummary.go).
	DPRhoCount       float64 `json:"dp_rho_count"`
	DPRhoFeasibility float64 `json:"dp_rho_feasibility"`
	DPRhoSurvival    float64 `json:"dp_rho_survival"`
	DPRhoSummary     float64 `json:"dp_rho_summary"`
	// DPRhoCox is the ρ of a differentially private Cox release (form dp_tables): every
	// covariate pattern's table at once (node/dpcox.go).
	DPRhoCox float64 `json:"dp_rho_cox,omitempty"`
	// DPRhoScreen is the ρ a differentially private biomarker screen (a screen of dp_tables
	// models) spends in all when the analyst does not choose one, split evenly over its
	// markers (node/screen_dp.go); by default dp_rho_cox: a screen costs what one model costs.
	DPRhoScreen   float64 `json:"dp_rho_screen,omitempty"`
	DPRhoDaily    float64 `json:"dp_rho_daily"`
	DPRhoTotal    float64 `json:"dp_rho_total"`
	DPBinDays     float64 `json:"dp_bin_days"`
	DPHorizonDays float64 `json:"dp_horizon_days"`
}

// Catalog lists what a site holds, as released under its policy.
type Catalog struct {
	Site   string `json:"site"`
	Policy Policy `json:"policy"`
	// Auth says how the site identifies analysts: "signed" (queries must carry a valid
	// signature by an authorised analyst key, whose name keys the budget, the overlap guard
	// and the audit log) or "open" (the declared analyst name is trusted: demos and tests).
	Auth    string         `json:"auth,omitempty"`
	Studies []StudyCatalog `json:"studies"`
	// You is what the asking analyst may still ask of this site (nil on an insecure-open
	// node, where names are not verified).
	You *AnalystBudget `json:"you,omitempty"`
}

// AnalystBudget is one analyst's standing at a site, as the catalog tells them: their role
// (trusted: rule-based releases; dp: differentially private ones), the queries left today,
// and for a dp analyst the ρ left per study, today and for good.
type AnalystBudget struct {
	Name string `json:"name"`
	Role string `json:"role"`
	// QueriesLeft is the whole queries left of the daily budget that exact queries and
	// feasibility counts share (a feasibility count costs Policy.FeasibilityCost of one);
	// -1: no daily query budget.
	QueriesLeft  int                `json:"queries_left"`
	RhoLeftToday map[string]float64 `json:"rho_left_today,omitempty"`
	RhoLeftTotal map[string]float64 `json:"rho_left_total,omitempty"`
}

// StudyCatalog describes one study at a site.
type StudyCatalog struct {
	Name    string `json:"name"`
	DataCut string `json:"data_cut"` // YYYY-MM-DD
	// Patients is the count as released: suppressed (then Suppressed is true and Patients 0)
	// below min_cohort, otherwise rounded UP to a multiple of 10 when min_cell > 0 (so no
	// released count exceeds it), exact when min_cell is 0.
	Patients   int        `json:"patients"`
	Suppressed bool       `json:"suppressed,omitempty"`
	Variables  []Variable `json:"variables"`
	Endpoints  []Endpoint `json:"endpoints"`
	// StudyVersion is the study's declared version (its dictionary's "version", or
	// oncofed-node import --study-version); a site cannot change its dictionary without
	// changing it. DictionaryHash is DictionaryHash(StudyVersion, Variables, Endpoints): every
	// site of a study publishes the same one, so a client tells sites that disagree. Both are
	// empty for a study imported before dictionaries were declared.
	StudyVersion   string `json:"study_version,omitempty"`
	DictionaryHash string `json:"dictionary_hash,omitempty"`
	// Title is the study's title in words, as its dictionary declares it ("" when none). It
	// is not part of DictionaryHash: sites that word it differently still agree.
	Title string `json:"title,omitempty"`
	// DelayedEntry lists the endpoints for which this site records when each patient entered
	// observation (a registry enrolling after diagnosis): its survival replies then carry
	// entry counts, and risk sets hold the patients with entry < t ≤ exit. Site-specific, so
	// not part of DictionaryHash.
	DelayedEntry []string `json:"delayed_entry,omitempty"`
}

// VariableType is categorical or numeric.
type VariableType string

const (
	Categorical VariableType = "categorical"
	Numeric     VariableType = "numeric"
)

// Variable is one entry of a study's data dictionary.
type Variable struct {
	Name  string       `json:"name"`
	Type  VariableType `json:"type"`
	Label string       `json:"label,omitempty"`
	Unit  string       `json:"unit,omitempty"`
	// Categories are the study's declared levels, the same at every site of the study
	// (never read off one site's rows: a category absent at a site is an empty set there).
	Categories []string `json:"categories,omitempty"`
	// Min and Max are a numeric variable's declared range (public, from the study's
	// dictionary): values outside it are refused at import, and releases that need a bound
	// on one patient's contribution (clipped sums, Cox β caps, differentially private
	// noise) take it from here, never from the data. Nil when not declared.
	Min *float64 `json:"min,omitempty"`
	Max *float64 `json:"max,omitempty"`
	// Discrete marks a numeric variable whose values are the whole numbers of its declared
	// range (a performance status, a count of lines): Table 1 shows how many patients have
	// each value rather than a mean, and a model says it treats it as numeric. Declared by
	// the dictionary; values that are not whole numbers are refused at import.
	Discrete bool `json:"discrete,omitempty"`
	// Panel names the test that measures the variable (a sequencing panel giving EGFR, ALK
	// and KRAS together), declared by the dictionary: the variables of one panel are missing
	// together — a patient was tested by it or not — and a row where some are missing and
	// others not is refused at import. The overlap guard takes it as a public fact (a model's
	// complete cases on EGFR are those on ALK by definition).
	Panel string `json:"panel,omitempty"`
}

// MaxDiscreteValues bounds the values of a discrete variable (Max − Min + 1): each is a row
// of Table 1.
const MaxDiscreteValues = 25

// Endpoint is a time-to-event outcome: time in days and an event flag.
type Endpoint struct {
	Name  string `json:"name"`
	Label string `json:"label,omitempty"`
	// HorizonDays is the endpoint's declared horizon in days (public, from the study's
	// dictionary; the same at every site of the study): a differentially private survival
	// release of it has bins up to there (patients followed longer are censored there)
	// instead of the site policy's dp_horizon_days. Nil when not declared.
	HorizonDays *float64 `json:"horizon_days,omitempty"`
	// Causes names the endpoint's competing causes: an event has cause 1..len(Causes), and
	// Causes[c-1] is the label of cause c ("progression", "death from other causes"). Empty
	// for an endpoint with one kind of event. Declared at import (--causes), the same at every
	// site of the study (part of DictionaryHash); survival replies split their events by it.
	Causes []string `json:"causes,omitempty"`
}

// Count is a released count: either a number or suppressed (a true count in 1..min_cell-1,
// shown to users as "<min_cell", never as 0).
type Count struct {
	N          int  `json:"n"`
	Suppressed bool `json:"suppressed,omitempty"`
	// Linked marks a suppressed cell of a partition in which the overlap guard suppressed cells
	// that the small-cell rules alone would release (linked to earlier releases): such a cell
	// may hold any number of patients, and is not bounded by the smallest released cell.
	Linked bool `json:"linked,omitempty"`
}

// CountReply is the cohort size, and per group when the query has GroupBy. A patient whose
// group value is missing is counted under Missing.
type CountReply struct {
	Total   Count            `json:"total"`
	Groups  map[string]Count `json:"groups,omitempty"`
	Missing Count            `json:"missing,omitempty"`
	// Order lists the groups in the study's declared order (stage I < II < III), which the
	// Groups map does not keep.
	Order []string `json:"order,omitempty"`
}

// SummaryReply holds, per group ("" when ungrouped), the summary of each requested variable.
type SummaryReply struct {
	Groups []GroupSummary `json:"groups"`
	// MissingGroup is the number of cohort patients left out because their group value is
	// missing (grouped queries only).
	MissingGroup Count `json:"missing_group,omitempty"`
}

// GroupSummary is one group's summaries.
type GroupSummary struct {
	Group     string            `json:"group"`
	N         Count             `json:"n"`
	Variables []VariableSummary `json:"variables"`
}

// VariableSummary is the aggregate of one variable in one group.
type VariableSummary struct {
	Variable string `json:"variable"`
	Missing  Count  `json:"missing"`
	// Categorical:
	Categories map[string]Count `json:"categories,omitempty"`
	// Numeric: n, Σx, Σx² and counts on the requested fixed edges (len(Edges)+1 cells:
	// below the first edge, between edges, at or above the last).
	N         Count     `json:"n"`
	Sum       float64   `json:"sum"`
	SumSq     float64   `json:"sum_sq"`
	Edges     []float64 `json:"edges,omitempty"`
	Histogram []Count   `json:"histogram,omitempty"`
}

// SurvivalReply holds one survival table per group ("" when ungrouped).
type SurvivalReply struct {
	Endpoint string          `json:"endpoint"`
	Groups   []SurvivalGroup `json:"groups"`
	// MissingGroup is the number of cohort patients left out because their group value is missing.
	MissingGroup Count `json:"missing_group"`
}

// SurvivalGroup is a survival table: for each released time, events and censorings.
// Times are in days (coarsened per Policy.BinDays). Rows are never suppressed.
type SurvivalGroup struct {
	Group  string   `json:"group"`
	Time   Float64s `json:"time"`
	Events Ints     `json:"events"`
	Censor Ints     `json:"censor"`
	// Causes splits Events by competing cause for an endpoint that declares causes:
	// Causes[c][k] is the number of events of cause c+1 at Time[k]; the causes of a row add up
	// to its events. Nil for an endpoint without causes.
	Causes []Ints `json:"causes,omitempty"`
	// EntryTime and Entries are the delayed entries of an endpoint with entry times: Entries[k]
	// patients entered observation at EntryTime[k] (strictly increasing, > 0) and are at risk
	// only after it. Released in blocks of at least min_cell patients, each at the earliest
	// entry time of its block (an entry is never reported later than it happened, so every
	// patient stays at risk where they were). Patients entering at time 0 are not listed.
	EntryTime Float64s `json:"entry_time,omitempty"`
	Entries   Ints     `json:"entries,omitempty"`
}

// CoxReply is a site's contribution at the requested β.
type CoxReply struct {
	Columns []string `json:"columns"` // design column names, in β order
	N       int      `json:"n"`       // complete cases used
	Events  int      `json:"events"`
	// Excluded is the number of cohort patients left out for a missing covariate, released
	// under min_cell like every count: a true count in 1..min_cell-1 is released as 0 with
	// ExcludedSuppressed set (ExcludedCount gives both as a Count).
	Excluded int `json:"excluded"`
	// ExcludedSuppressed says Excluded was suppressed (the true count is in 1..min_cell-1).
	ExcludedSuppressed bool `json:"excluded_suppressed,omitempty"`
	// BetaLimit, per design column, is the largest |β_j| the site answers (its policy's
	// max_cox_log_hr over the column's declared width); nil when the site has no cap. The
	// client keeps its Newton–Raphson iterates within the smallest limit of all sites.
	BetaLimit []float64 `json:"beta_limit,omitempty"`

	// Stratified form: log-likelihood, gradient, Hessian (p×p, row-major) of the site's
	// partial log-likelihood at β.
	LogLik   float64   `json:"loglik,omitempty"`
	Gradient []float64 `json:"gradient,omitempty"`
	Hessian  []float64 `json:"hessian,omitempty"`

	// Pooled form: per distinct time of the site, the sums the client needs for the exact
	// pooled partial likelihood, plus Σ x over all events.
	Rows      CoxRows   `json:"rows,omitempty"`
	EventXSum []float64 `json:"event_x_sum,omitempty"`
	// RowsFramed is, on the wire, the byte length of Rows' binary block in a framed reply
	// (MarshalReply: the JSON leaves the rows out and the block follows it). 0 in a decoded
	// reply and in plain JSON.
	RowsFramed int `json:"rows_framed,omitempty"`

	// SecondMoment is the phase-2 reply of the pooled form (CoxPooledHessian): the site's
	// Σ_i w_i x_i x_i' A(T_i) − Σ_events w_i x_i x_i' B(T_i), p×p row-major, symmetric.
	SecondMoment Float64s `json:"second_moment,omitempty"`

	// Validation is the reply of the validate form: the model's performance at this site.
	Validation *CoxValidation `json:"validation,omitempty"`

	// FineGrayRows are a Fine–Gray round's phase-1 rows (KindFineGray, pooled_sums), one per
	// released time of the site; EventXSum then sums x over the events of the cause.
	FineGrayRows []FineGrayRow `json:"fine_gray_rows,omitempty"`
	// Meat is the site's part of the sandwich's middle (KindFineGray, form meat), p×p.
	Meat Float64s `json:"meat,omitempty"`
	// LPHistogram is the reply of the lp_histogram form.
	LPHistogram *LPHistogram `json:"lp_histogram,omitempty"`

	// Patterns is the reply of the dp_tables form: per covariate pattern (a design row), its
	// differentially private survival table on the DP grid (Policy.BinDays wide bins, up to
	// Policy.TruncatedAfter). N, Events and Excluded are then noisy too.
	Patterns []CoxPattern `json:"patterns,omitempty"`

	// ZPH is the reply of the zph form: the site's part of the proportional-hazards test.
	ZPH *CoxZPHReply `json:"zph,omitempty"`
}

// FineGrayRow is one released time of a site in a Fine–Gray round at β (w = exp(x'β)): N
// patients leave at Time, D of them by the modelled cause, NC censored and the rest (N − D − NC)
// by a competing cause; R0 = Σ w and R1 = Σ w x over all of them, C0 and C1 over those who
// failed from a competing cause (C1 empty when there are none). Under a protective policy each
// of D, NC and N − D − NC is 0 or at least min_cell.
type FineGrayRow struct {
	Time float64  `json:"time"`
	N    int      `json:"n"`
	D    int      `json:"d"`
	NC   int      `json:"nc"`
	R0   float64  `json:"r0"`
	R1   Float64s `json:"r1"`
	C0   float64  `json:"c0,omitempty"`
	C1   Float64s `json:"c1,omitempty"`
}

// LPHistogram is the site's distribution of x'β over its complete cases on the grid of the
// request's width (analysis.LPHistogram): Cuts are grid indices k of the bin boundaries k·width,
// increasing; Counts has one more entry, the first bin open below and the last open above.
type LPHistogram struct {
	Cuts   []int `json:"cuts"`
	Counts []int `json:"counts"`
}

// CoxPattern is one covariate pattern of a dp_tables reply: its design row X (one value per
// column; a numeric covariate at the midpoint of its public bin) and its noisy, consistent
// survival table: Events[k] events and Censor[k] censorings at Time[k] (bin ends, increasing;
// rows without either are left out).
type CoxPattern struct {
	X      Float64s `json:"x"`
	Time   Float64s `json:"time"`
	Events Ints     `json:"events"`
	Censor Ints     `json:"censor"`
}

// CoxValidation is what a site releases about a model fitted without it (N and Events are the
// CoxReply's): discrimination, its standard errors and calibration, all aggregates over its
// own complete cases, as analysis.ValidateAtSite computes them.
type CoxValidation struct {
	HarrellC  float64 `json:"harrell_c"`
	HarrellSE float64 `json:"harrell_se"`
	UnoC      float64 `json:"uno_c"`
	UnoSE     float64 `json:"uno_se"`
	// CalibrationSlope is the coefficient of the linear predictor in a Cox model at the site,
	// with its standard error; absent (NaN) when it could not be fitted.
	CalibrationSlope   *float64 `json:"calibration_slope,omitempty"`
	CalibrationSlopeSE *float64 `json:"calibration_slope_se,omitempty"`
	// Calibration is calibration in the large at the requested landmarks.
	Calibration []CalibrationAt `json:"calibration,omitempty"`
}

// CalibrationAt is the site's Kaplan–Meier survival at a landmark against the mean survival
// the model predicts for its patients.
type CalibrationAt struct {
	Time      float64 `json:"time"`
	Observed  float64 `json:"observed"`
	Predicted float64 `json:"predicted"`
	// Brier is the IPCW time-dependent Brier score of the model's predictions at Time
	// (analysis.BrierScore); absent from nodes that predate it.
	Brier *float64 `json:"brier,omitempty"`
}

// ExcludedCount returns the released count of patients left out for a missing covariate.
func (c *CoxReply) ExcludedCount() Count {
	return Count{N: c.Excluded, Suppressed: c.ExcludedSuppressed}
}

// CoxRiskSetRow holds, for the subjects whose time equals Time, with w = exp(x'β):
// R0 = Σ w, R1 = Σ w x, R2 = Σ w x x' (row-major) over all of them (the client forms
// the risk-set sums S_k(t) = Σ_{time ≥ t} R_k), and E0, E1, E2 the same sums over the
// events only (for Efron's tie correction), and D the number of events.
type CoxRiskSetRow struct {
	Time float64  `json:"time"`
	D    int      `json:"d"`
	R0   float64  `json:"r0"`
	R1   Float64s `json:"r1"`
	R2   Float64s `json:"r2"`
	E0   float64  `json:"e0,omitempty"`
	E1   Float64s `json:"e1,omitempty"`
	E2   Float64s `json:"e2,omitempty"`
}
