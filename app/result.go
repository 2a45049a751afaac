package app

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"math"
	"time"

	"github.com/oncofed/oncofed/protocol"
)

// Version is the application version recorded in every result's provenance (set at link time
// with -ldflags "-X github.com/oncofed/oncofed/app.Version=…").
var Version = "0.1.0-dev"

// Request is what the analyst asked for: the analysis kind and the cohort it runs on. It is
// stored with every result, and re-running a result sends the same request again.
type Request struct {
	Kind       protocol.Kind            `json:"kind"` // count, summary, survival (Kaplan–Meier) or cox
	Study      string                   `json:"study"`
	CohortName string                   `json:"cohort_name,omitempty"` // for display; the Cohort filter is what counts
	Cohort     *protocol.Filter         `json:"cohort,omitempty"`
	GroupBy    string                   `json:"group_by,omitempty"`
	Endpoint   string                   `json:"endpoint,omitempty"`  // survival, cox
	Variables  []string                 `json:"variables,omitempty"` // summary
	Bins       []protocol.HistogramSpec `json:"bins,omitempty"`      // summary
	Landmarks  []float64                `json:"landmarks,omitempty"` // survival: days at which to report S(t)
	Cox        *CoxSpec                 `json:"cox,omitempty"`
}

// CoxSpec is the model of a Cox request.
type CoxSpec struct {
	Covariates []string            `json:"covariates"`
	Ties       string              `json:"ties"` // "efron" (default) or "breslow"
	Form       protocol.CoxForm    `json:"form"` // stratified by site (default) or pooled
	Levels     map[string][]string `json:"levels,omitempty"`
	Strata     string              `json:"strata,omitempty"`
}

// Key returns a stable digest of the request, used to find earlier results of the same request
// (offline answers, what-changed). Equal requests have equal keys.
func (r Request) Key() string {
	b, err := json.Marshal(r)
	if err != nil {
		panic("app: request does not marshal: " + err.Error())
	}
	h := sha256.Sum256(b)
	return hex.EncodeToString(h[:16])
}

// Round is one scatter-gather: the query sent and the valid replies received. A Cox fit has one
// round per Newton–Raphson iteration; every other kind has one round.
type Round struct {
	Query   protocol.Query   `json:"query"`
	Replies []protocol.Reply `json:"replies"`
}

// Provenance is how a result was made: when, from which sites and under which policies, by
// which version, and a content hash of the stored request and aggregates.
type Provenance struct {
	RanAt   time.Time     `json:"ran_at"`
	Elapsed time.Duration `json:"elapsed"`
	// Expected are the sites the query was sent to; Answered those whose replies were merged.
	Expected []string      `json:"expected"`
	Answered []string      `json:"answered"`
	Missing  []string      `json:"missing,omitempty"`
	Refused  []SiteProblem `json:"refused,omitempty"`
	Invalid  []SiteProblem `json:"invalid,omitempty"`
	// Sites holds, per answering site, its data-cut date and what its policy did.
	Sites           []SiteProvenance `json:"sites"`
	AppVersion      string           `json:"app_version"`
	ProtocolVersion string           `json:"protocol_version"`
	// ContentHash is the SHA-256 of the request and every round's query and replies; a result
	// whose stored aggregates no longer hash to it is refused on opening.
	ContentHash string `json:"content_hash"`
}

// SiteProvenance is one answering site's data cut and policy effects (from its first reply).
type SiteProvenance struct {
	Site    string                 `json:"site"`
	DataCut string                 `json:"data_cut,omitempty"`
	Policy  protocol.PolicyEffects `json:"policy"`
}

// Partial reports whether some expected site did not contribute.
func (p *Provenance) Partial() bool { return len(p.Answered) < len(p.Expected) }

// SitesLine is "5 of 6 sites" (with "all" when complete).
func (p *Provenance) SitesLine() string {
	if !p.Partial() {
		return fmt.Sprintf("all %d sites", len(p.Expected))
	}
	return fmt.Sprintf("%d of %d sites", len(p.Answered), len(p.Expected))
}

// Result is a stored analysis: the request, its provenance, the per-site aggregates it was
// computed from (Rounds) and the computed payload — exactly one of Count, Summary, KM, Cox.
// The payload is never stored: opening a result recomputes it from Rounds, so a cached result
// renders exactly as it was.
type Result struct {
	ID         int64
	Name       string
	Pinned     bool
	Network    string
	Request    Request
	Provenance Provenance
	Rounds     []Round

	Count   *CountResult
	Summary *SummaryResult
	KM      *KMResult
	Cox     *CoxResult

	// Cached is set when the result was served from the cache rather than computed now.
	Cached bool
}

// ResultSummary is a result as listed in the library (no aggregates, no payload).
type ResultSummary struct {
	ID          int64
	Name        string
	Kind        protocol.Kind
	Study       string
	Pinned      bool
	RanAt       time.Time
	Expected    int
	Answered    int
	RequestKey  string
	ContentHash string
}

// AsOf describes the age of a cached result for the offline banner, e.g.
// "as of 3 days ago, 5 of 6 sites".
func AsOf(now time.Time, p *Provenance) string {
	return "as of " + Age(now, p.RanAt) + ", " + p.SitesLine()
}

// Age says how long ago t was, in the largest whole unit: "just now", "5 minutes ago",
// "1 hour ago", "3 days ago".
func Age(now, t time.Time) string {
	d := now.Sub(t)
	plural := func(n int64, unit string) string {
		if n == 1 {
			return "1 " + unit + " ago"
		}
		return fmt.Sprintf("%d %ss ago", n, unit)
	}
	switch {
	case d < time.Minute:
		return "just now"
	case d < time.Hour:
		return plural(int64(d/time.Minute), "minute")
	case d < 24*time.Hour:
		return plural(int64(d/time.Hour), "hour")
	default:
		return plural(int64(d/(24*time.Hour)), "day")
	}
}

// ContentHash returns the hex SHA-256 of the request and rounds in their JSON form.
func ContentHash(req Request, rounds []Round) string {
	h := sha256.New()
	enc := json.NewEncoder(h)
	if err := enc.Encode(req); err != nil {
		panic("app: request does not marshal: " + err.Error())
	}
	for _, r := range rounds {
		if err := enc.Encode(r); err != nil {
			panic("app: round does not marshal: " + err.Error())
		}
	}
	return hex.EncodeToString(h.Sum(nil))
}

// Count is a released count merged over sites. When some site's count was suppressed (a true
// value in 1..min_cell−1), the merged value is only known to lie in [N, Max] and Suppressed is
// true; otherwise N == Max is exact.
type Count struct {
	N          int  `json:"n"`
	Max        int  `json:"max"`
	Suppressed bool `json:"suppressed,omitempty"`
}

// String renders the count as the UI shows it: "412", or "≥ 3" when suppressed cells make it a range.
func (c Count) String() string {
	if !c.Suppressed {
		return fmt.Sprint(c.N)
	}
	return fmt.Sprintf("%d–%d", c.N, c.Max)
}

// addCount adds a site's released count; minCell is the site's small-cell threshold.
func addCount(c Count, r protocol.Count, minCell int) Count {
	if !r.Suppressed {
		c.N += r.N
		c.Max += r.N
		return c
	}
	c.Suppressed = true
	c.N++
	if minCell > 1 {
		c.Max += minCell - 1
	} else {
		c.Max++
	}
	return c
}

// CountResult is the payload of a count: the pooled cohort size, per group, and per site.
type CountResult struct {
	Total   Count
	Groups  []GroupCount // sorted by group
	Missing Count        // patients whose group value is missing
	PerSite []SiteCount  // sorted by site
}

// GroupCount is one group's pooled count.
type GroupCount struct {
	Group string
	N     Count
}

// SiteCount is one site's released counts (N exact, or Suppressed).
type SiteCount struct {
	Site   string
	Total  protocol.Count
	Groups map[string]protocol.Count
}

// SummaryResult is the payload of a summary ("Table 1"): per group, per variable.
type SummaryResult struct {
	Groups []SummaryGroup // sorted by group; "" is the whole cohort when ungrouped
}

// SummaryGroup is one column of Table 1.
type SummaryGroup struct {
	Group     string
	N         Count
	Variables []SummaryVariable
}

// SummaryVariable is one variable of one group. Categorical variables fill Categories;
// numeric ones fill N, Mean, SD and the histogram.
type SummaryVariable struct {
	Variable   string
	Missing    Count
	Categories []CategoryCount // sorted by category
	// Numeric: mean and SD (n−1 denominator) from the pooled n, Σx, Σx²:
	// mean = Σx/n, SD = sqrt((Σx² − n·mean²)/(n−1)). NaN when n < 1 (mean) or n < 2 (SD), or
	// when a site suppressed its n (the sums are then not usable).
	N         Count
	Mean, SD  float64
	Edges     []float64
	Histogram []Count
}

// CategoryCount is a category's pooled count and its percentage of the group's non-missing
// values (NaN when that total is zero).
type CategoryCount struct {
	Category string
	N        Count
	Percent  float64
}

// KMResult is the payload of a Kaplan–Meier analysis: one curve per group, medians, landmark
// survival and the log-rank test between groups (pooled, and stratified by site).
type KMResult struct {
	Endpoint string
	// BinDays is the coarsest time bin any answering site applied (0 = exact times).
	BinDays      float64
	Groups       []KMGroup // sorted by group; a single group "" when ungrouped
	MissingGroup Count     // cohort patients without a group value, left out
	// LogRank compares the groups on the pooled tables (survdiff); nil with one group.
	LogRank *TestResult
	// StratifiedLogRank compares the groups within sites (survdiff … + strata(site)); nil
	// with one group.
	StratifiedLogRank *TestResult
}

// KMGroup is the Kaplan–Meier curve of one group, on the pooled survival table. The slices
// are parallel, one entry per distinct time (as R's summary(survfit, censored = TRUE)).
// Confidence limits are 95 % on the log scale (R's default conf.type = "log"); NaN where
// undefined.
type KMGroup struct {
	Group   string
	N       int
	Events  int
	Time    []float64
	AtRisk  []int
	NEvent  []int
	NCensor []int
	Surv    []float64
	StdErr  []float64 // standard error of S(t) (R's summary(fit)$std.err)
	Lower   []float64
	Upper   []float64
	// Median survival and its 95 % CI; NaN when not reached.
	Median, MedianLower, MedianUpper float64
	Landmarks                        []Landmark
	PerSite                          []SiteEvents // contribution of each site
}

// Landmark is S(t) at a fixed time with its CI and the number at risk.
type Landmark struct {
	Time, Surv, Lower, Upper float64
	AtRisk                   int
}

// SiteEvents is the patients and events one site contributed to a group.
type SiteEvents struct {
	Site          string
	Patients      int
	Events        int
	BinDays       float64
	TruncatedTail bool
}

// TestResult is a chi-square test.
type TestResult struct {
	Chisq    float64
	DF       int
	P        float64
	Observed []float64 // per group (log-rank), when available
	Expected []float64
}

// CoxResult is the payload of a Cox model.
type CoxResult struct {
	Form                  protocol.CoxForm
	Ties                  string
	Terms                 []CoxTerm
	N, Events             int
	LogLik0, LogLik       float64
	LRT, Wald, Score      TestResult
	Iterations            int
	Converged             bool
	NotEstimable          []string
	Vcov                  []float64 // p×p, row-major
	PerSite               []SiteEvents
	ExcludedMissingValues int // patients left out for a missing covariate, all sites
}

// CoxTerm is one coefficient: log hazard ratio, its SE, the HR with 95 % CI, z and p.
type CoxTerm struct {
	Term                       string
	Coef, SE, HR, Lower, Upper float64
	Z, P                       float64
}

func nan() float64 { return math.NaN() }
