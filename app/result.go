package app

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"slices"
	"sort"
	"time"

	"github.com/oncofed/oncofed/analysis"
	"github.com/oncofed/oncofed/protocol"
)

// Version is the application version recorded in every result's provenance (set at link time
// with -ldflags "-X github.com/oncofed/oncofed/app.Version=…").
var Version = "0.1.0-dev"

// Request is what the analyst asked for: the analysis kind and the cohort it runs on. It is
// stored with every result, and re-running a result sends the same request again.
type Request struct {
	Kind       protocol.Kind    `json:"kind"` // count, summary, survival (Kaplan–Meier) or cox
	Study      string           `json:"study"`
	CohortName string           `json:"cohort_name,omitempty"` // for display; the Cohort filter is what counts
	Cohort     *protocol.Filter `json:"cohort,omitempty"`
	GroupBy    string           `json:"group_by,omitempty"`
	// Merge joins levels of GroupBy into groups of their own (protocol.Query.Merge).
	Merge     []protocol.LevelGroup    `json:"merge,omitempty"`
	Endpoint  string                   `json:"endpoint,omitempty"`  // survival, cox
	Variables []string                 `json:"variables,omitempty"` // summary
	Bins      []protocol.HistogramSpec `json:"bins,omitempty"`      // summary
	// Discrete names the summary's numeric variables binned on their whole values, which
	// Table 1 shows as counts per value (report.Discrete).
	Discrete  []string    `json:"discrete,omitempty"`
	Landmarks []float64   `json:"landmarks,omitempty"` // survival: days at which to report S(t)
	Cox       *CoxSpec    `json:"cox,omitempty"`
	IPW       *IPWSpec    `json:"ipw,omitempty"`
	Screen    *ScreenSpec `json:"screen,omitempty"` // a biomarker screen (screenrecord.go)

	// CIF, with a survival request, says the analyst computes the cumulative incidence of the
	// endpoint's competing causes: a site where the analyst has the dp role is then asked for
	// its events split by cause (protocol.Query.SplitCauses), a release of its own; without
	// it, such a site releases the Kaplan–Meier table of all causes together, the more
	// accurate one. Rule-based releases always split.
	CIF bool `json:"cif,omitempty"`
}

// CoxSpec is the model of a Cox request.
type CoxSpec struct {
	Covariates []string            `json:"covariates"`
	Ties       string              `json:"ties"` // "efron" (default) or "breslow"
	Form       protocol.CoxForm    `json:"form"` // stratified by site (default) or pooled
	Levels     map[string][]string `json:"levels,omitempty"`
	Strata     string              `json:"strata,omitempty"`
	// Indicators and Interactions are protocol.CoxRequest's: a categorical covariate as one
	// indicator of a level (the treated arm), and products of two covariates' columns.
	Indicators   map[string]string         `json:"indicators,omitempty"`
	Interactions []protocol.CoxInteraction `json:"interactions,omitempty"`
	// Validate "loso" validates the model leave one site out after the fit (ValidateLOSO, at
	// the request's Landmarks for the pooled form); the validation is kept with the result.
	Validate string `json:"validate,omitempty"`
	// Penalty, when not nil, fits the ridge-penalized model (RidgeSpec), its θ fixed or chosen
	// leave one site out.
	Penalty *RidgeSpec `json:"penalty,omitempty"`
	// ZPH names the transform of time ("km", "identity" or "rank") of a proportional-hazards
	// check run after the fit (CoxResult.ZPH, zph.go); "" for none.
	ZPH string `json:"zph,omitempty"`
	// DPPooled, with Form dp_tables, fits the pooled model (one baseline hazard over every
	// site's subjects, which predicts) on the differentially private tables instead of the
	// model stratified by site: post-processing of the same release (docs/dp-validation.md).
	DPPooled bool `json:"dp_pooled,omitempty"`
}

// ReferenceFirst returns levels with ref moved first: the reference level of a categorical
// covariate, whose design columns compare every other level with it (R's relevel). ok is
// false when ref is not one of levels.
func ReferenceFirst(levels []string, ref string) (out []string, ok bool) {
	i := slices.Index(levels, ref)
	if i < 0 {
		return levels, false
	}
	out = append(out, ref)
	out = append(out, levels[:i]...)
	return append(out, levels[i+1:]...), true
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
	// ReplyJSON, when set, holds the JSON of each reply as received and stored: ReplyJSON[i]
	// decodes to Replies[i]. The cache stores these bytes and ContentHash covers them, so a
	// reply is encoded once, by its site. Nil for a round built in code (or from a network
	// without JSON): its replies are then encoded with encoding/json (ReplyBytes).
	ReplyJSON []json.RawMessage `json:"-"`
	// Digests names every reply of the round by its site, SHA-256 and size (see record.go); set
	// on every round of a result once it is kept (Service.Run) or migrated (Compact), nil on a
	// result stored before results were kept compact.
	Digests []ReplyDigest `json:"digests,omitempty"`
}

// ReplyBytes returns the JSON of Replies[i] as it is stored: ReplyJSON[i] when the round
// holds the bytes as received, otherwise the reply encoded by encoding/json.
func (r *Round) ReplyBytes(i int) ([]byte, error) {
	if r.ReplyJSON != nil {
		if len(r.ReplyJSON) != len(r.Replies) {
			panic(fmt.Sprintf("app: round holds %d replies but %d reply JSONs", len(r.Replies), len(r.ReplyJSON)))
		}
		return r.ReplyJSON[i], nil
	}
	return json.Marshal(r.Replies[i])
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
	// ContentHash is ResultHash: the SHA-256 of the request, every round's query and reply
	// digests and a Cox result's trace (for a result stored before results were kept compact,
	// ContentHash of every reply); a result whose stored aggregates no longer hash to it is
	// refused on opening.
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

// ReleaseDP is ReleaseSummary.Kind of a result that at least one site released with
// differential privacy.
const ReleaseDP = "differentially private"

// ReleaseSummary says what kind of release a result is made of and what it cost.
type ReleaseSummary struct {
	// Kind is "exact", "coarsened" (times binned, cells suppressed or rows merged at some
	// site) or ReleaseDP (at least one site noised its reply).
	Kind string
	// DPSites lists the sites that released with differential privacy; Rho is the largest ρ
	// one of them charged (each site charges its own budget), LeftToday and LeftTotal the
	// smallest budget one of them has left.
	DPSites              []string
	Rho                  float64
	LeftToday, LeftTotal float64
}

// Release summarises the answering sites' releases; both front ends print it under a result.
func (p *Provenance) Release() ReleaseSummary {
	s := ReleaseSummary{Kind: "exact"}
	for _, site := range p.Sites {
		e := site.Policy
		if e.BinDays > 0 || e.SuppressedCells > 0 || e.MergedRows > 0 || e.TruncatedAfter != nil || e.FeasibilityRounding > 1 {
			s.Kind = "coarsened"
		}
		if e.DP == nil {
			continue
		}
		if len(s.DPSites) == 0 || e.DP.LeftToday < s.LeftToday {
			s.LeftToday = e.DP.LeftToday
		}
		if len(s.DPSites) == 0 || e.DP.LeftTotal < s.LeftTotal {
			s.LeftTotal = e.DP.LeftTotal
		}
		s.DPSites = append(s.DPSites, site.Site)
		s.Rho = max(s.Rho, e.DP.Rho)
	}
	if len(s.DPSites) > 0 {
		s.Kind = ReleaseDP
		sort.Strings(s.DPSites)
	}
	return s
}

// DPText is "differentially private at 3 sites: ρ=0.02 each, left today ≥ 0.23 (lifetime
// ≥ 1.98)", or "" when no site noised its reply.
func (s ReleaseSummary) DPText() string {
	if len(s.DPSites) == 0 {
		return ""
	}
	where := s.DPSites[0]
	if len(s.DPSites) > 1 {
		where = fmt.Sprintf("%d sites", len(s.DPSites))
	}
	return fmt.Sprintf("differentially private at %s: ρ=%.4g each, left today ≥ %.4g (lifetime ≥ %.4g)", where, s.Rho, s.LeftToday, s.LeftTotal)
}

// OpenSites lists, sorted, the answering sites that run insecure-open (PolicyEffects.Auth):
// they answer unsigned queries and trust declared analyst names, so their budget, overlap
// guard and audit protect nothing against a determined analyst. Both front ends say so.
func (p *Provenance) OpenSites() []string {
	var open []string
	for _, s := range p.Sites {
		if s.Policy.Auth == protocol.AuthOpen {
			open = append(open, s.Site)
		}
	}
	sort.Strings(open)
	return open
}

// SitesLine is "5 of 6 sites" (with "all" when complete).
func (p *Provenance) SitesLine() string {
	if !p.Partial() {
		return fmt.Sprintf("all %d sites", len(p.Expected))
	}
	return fmt.Sprintf("%d of %d sites", len(p.Answered), len(p.Expected))
}

// Result is a stored analysis: the request, its provenance, the per-site aggregates it was
// computed from (Rounds, and for a Cox model its Trace) and the computed payload — exactly one
// of Count, Summary, KM, Cox. The payload is never stored: opening a result recomputes it from
// the aggregates, so a cached result renders exactly as it was. A Cox result keeps its rounds'
// queries and reply digests but not the replies (record.go).
type Result struct {
	ID     int64
	Name   string
	Pinned bool
	// Display is how the result was shown when it was pinned (nil: the defaults); its slide
	// and its page of the deck draw it so.
	Display    *Display
	Network    string
	Request    Request
	Provenance Provenance
	Rounds     []Round
	// Trace is a Cox result's fit, step by step (nil for the other kinds, and for a Cox result
	// whose rounds still hold their replies).
	Trace *CoxTrace
	// ScreenTrace is a biomarker screen's markers' fits (screenrecord.go).
	ScreenTrace *ScreenTrace

	Count   *CountResult
	Summary *SummaryResult
	KM      *KMResult
	Cox     *CoxResult
	IPW     *IPWResult
	Screen  *ScreenResult

	// Cached is set when the result was served from the cache rather than computed now.
	Cached bool
}

// Display is how a result was shown on its tab: which view, in which time unit, with which
// parts of the figure. Pinning keeps it, so the tumor board sees the figure the analyst chose.
type Display struct {
	// View is "" for the default figure (pooled curves, a model's forest plot, weighted
	// curves), or one of the views below.
	View        string `json:"view,omitempty"`
	Unit        string `json:"unit,omitempty"` // "days", "months" or "years"; "" is months
	HideBands   bool   `json:"hide_bands,omitempty"`
	HideCensor  bool   `json:"hide_censor,omitempty"`
	MedianLines bool   `json:"median_lines,omitempty"`
	Percent     bool   `json:"percent,omitempty"`
	// Profile and Times are the patient of a model's ViewPatient: the covariate values and the
	// landmark days of the predicted curve. They are kept in this computer's cache only, as the
	// Model tab keeps them (docs/prediction.md); no query carries them.
	Profile map[string]string `json:"profile,omitempty"`
	Times   []float64         `json:"times,omitempty"`
	// Order is the analyst's order of a Kaplan–Meier result's groups (their values, "" for an
	// ungrouped cohort) in legends, tables and slides; nil keeps the study's declared order
	// (InOrder).
	Order []string `json:"order,omitempty"`
}

// The views besides the default one (Display.View): a Kaplan–Meier result's cumulative
// incidence or one group's curve per site; a treatment comparison's Love plot or propensity
// overlap (its default is the weighted curves).
const (
	ViewCIF     = "cif"
	ViewBySite  = "site:"
	ViewLove    = "love"
	ViewOverlap = "overlap"
	// A model's views (Model tab): the validation's forest of per-site C, one patient's curve.
	ViewValidation = "validation"
	ViewPatient    = "patient"
)

// ResultSummary is a result as listed in the library: only what the list shows (listing
// 10,000 of them must stay well under 50 ms).
type ResultSummary struct {
	ID       int64
	Network  string // the ID of the network that computed it
	Name     string
	Kind     protocol.Kind
	Study    string
	Pinned   bool
	RanAt    time.Time
	Expected int
	Answered int
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

// ContentHash returns the hex SHA-256 of the request and rounds in their JSON form as stored
// before results were kept compact (the content hash of such results; see ResultHash):
// the stream encoding/json's Encoder writes for the request and then each round, where a round's
// replies are the bytes ReplyBytes returns (the JSON as received, when the round holds it). For a
// round without ReplyJSON that is exactly json.NewEncoder(h).Encode(round); with it, the same
// bytes whenever the site's JSON is what encoding/json would write (as a Go node's is), so
// results stored either way keep their hash.
func ContentHash(req Request, rounds []Round) string {
	h := sha256.New()
	enc := json.NewEncoder(h)
	if err := enc.Encode(req); err != nil {
		panic("app: request does not marshal: " + err.Error())
	}
	for _, r := range rounds {
		if r.ReplyJSON == nil {
			if err := enc.Encode(r); err != nil {
				panic("app: round does not marshal: " + err.Error())
			}
			continue
		}
		q, err := json.Marshal(r.Query)
		if err != nil {
			panic("app: query does not marshal: " + err.Error())
		}
		h.Write([]byte(`{"query":`))
		h.Write(q)
		h.Write([]byte(`,"replies":`))
		if r.Replies == nil {
			h.Write([]byte("null"))
		} else {
			h.Write([]byte("["))
			for i := range r.Replies {
				if i > 0 {
					h.Write([]byte(","))
				}
				b, _ := r.ReplyBytes(i) // never fails with ReplyJSON set
				h.Write(b)
			}
			h.Write([]byte("]"))
		}
		h.Write([]byte("}\n"))
	}
	return hex.EncodeToString(h.Sum(nil))
}

// Count is a released count merged over sites: exact, or — when some site suppressed a small
// cell — an interval [N, Max] (see analysis.CellCount; String renders "12", "<5", "13–16").
type Count = analysis.CellCount

// releasedCount converts a site's released count; minCell is the site's small-cell threshold
// (a suppressed count is then known to lie in 1..minCell−1).
func releasedCount(r protocol.Count, minCell int) Count {
	if r.Suppressed {
		return analysis.SuppressedCount(minCell)
	}
	return analysis.ExactCount(r.N)
}

// CountResult is the payload of a count: the pooled cohort size, per group, and per site.
type CountResult struct {
	Total   Count
	Groups  []GroupCount // in the study's declared order
	Missing Count        // patients whose group value is missing
	PerSite []SiteCount  // sorted by site

	// Approximate is set on feasibility counts (Service.Count): every site released its
	// count plus noise in [−Noise, +Noise], rounded to a multiple of Rounding (the largest
	// over the answering sites), so the pooled Total is a sum of approximations. Show them
	// as such ("≈1,230"); exact numbers come only with a Run.
	Approximate     bool
	Rounding, Noise int
}

// GroupCount is one group's pooled count.
type GroupCount struct {
	Group string
	N     Count
}

// SiteGroups returns the groups of one site's counts in the order of c.Groups (the study's
// declared order), then any the pooled counts do not list, by name.
func (c *CountResult) SiteGroups(s SiteCount) []string {
	out := make([]string, 0, len(s.Groups))
	for _, g := range c.Groups {
		if _, ok := s.Groups[g.Group]; ok {
			out = append(out, g.Group)
		}
	}
	for _, g := range sortedKeys(s.Groups) {
		if !slices.Contains(out, g) {
			out = append(out, g)
		}
	}
	return out
}

// SiteCount is one site's released counts.
type SiteCount struct {
	Site    string
	Total   Count
	Groups  map[string]Count
	Missing Count
	// Rounding is the multiple to which the site rounded a feasibility count (0: exact).
	Rounding int
}

// SummaryResult is the payload of a summary: Table 1 with one column per group, overall and
// SMD (analysis.BuildTable1), and the same per site (analysis.BuildTable1BySite).
type SummaryResult struct {
	Table        analysis.Table1
	BySite       analysis.Table1
	MissingGroup Count // cohort patients without a group value, left out
}

// KMResult is the payload of a Kaplan–Meier analysis: one curve per group, medians, landmark
// survival and the log-rank test between groups (pooled, and stratified by site).
type KMResult struct {
	Endpoint string
	// BinDays is the coarsest time bin any answering site applied (0 = exact times): the
	// curves equal R's survfit on the pooled data with times coarsened to that bin.
	BinDays      float64
	Groups       []KMGroup // in the study's declared category order (groupOrder); a single group "" when ungrouped
	MissingGroup Count     // cohort patients without a group value, left out
	// LogRank compares the groups on the pooled tables (R's survdiff); nil with one group or
	// when the test is undefined (then LogRankError says why).
	LogRank *analysis.LogRankResult
	// StratifiedLogRank compares the groups within sites (survdiff(… + strata(site))).
	StratifiedLogRank *analysis.LogRankResult
	LogRankError      string
	// LogRankWithNoise: the sites' releases were differentially private, and both tests hold
	// the noise in their variance (DPLogRank) so that they keep their level.
	LogRankWithNoise bool
	// Causes is the number of competing causes the sites split their events by (0: none);
	// each group's CIF then holds the cumulative incidence of each, and Gray compares the
	// groups cause by cause (cmprsk's cuminc). CIFError and GrayError say why not when they
	// could not be estimated (e.g. delayed entries: see analysis.ErrCompetingDelayedEntry).
	Causes    int
	Gray      []analysis.GrayResult
	CIFError  string
	GrayError string
	// GrayWithNoise: the sites' releases were differentially private, and Gray's tests hold
	// the noise in their variance, the cumulative incidence's standard errors and intervals
	// its SD (DPCompeting; CauseIncidence.NoiseSD).
	GrayWithNoise bool
	// DelayedEntries is the number of patients reported as entering observation after time 0
	// (released in blocks of min_cell): the risk sets hold patients from entry on.
	DelayedEntries int
}

// KMGroup is the Kaplan–Meier curve of one group on the pooled survival table, with its median
// (and 95 % CI) and the survival at the requested landmark times.
type KMGroup struct {
	Group     string
	Table     analysis.SurvivalTable // the merged table (number at risk for the chart)
	Curve     *analysis.KMEstimate   // 95 % log-scale CIs, R's survfit defaults
	Median    analysis.QuantileEstimate
	Landmarks []analysis.Landmark
	PerSite   []SiteEvents // what each site contributed, sorted by site
	// CIF is the Aalen–Johansen cumulative incidence of each cause (nil without causes).
	CIF *analysis.CIFEstimate
}

// SiteEvents is the patients and events one site contributed.
type SiteEvents struct {
	Site     string
	Patients int
	Events   int
}

// CoxResult is the payload of a Cox model fitted over the sites.
type CoxResult struct {
	Form protocol.CoxForm
	Ties string
	Fit  *analysis.CoxFit
	// FitError is set when the fit did not converge (Fit then holds the last good iterate).
	FitError string
	PerSite  []SiteEvents
	// Excluded is the number of cohort patients left out for a missing covariate, all sites,
	// as released: a site whose count was below its min_cell reports it suppressed, so the
	// total may be an interval ("<5", "13–16").
	Excluded Count
	// Baseline is the pooled model's baseline hazard at β̂ (analysis.PooledCoxBaseline), from
	// the fit's own phase-1 sums: what Predict needs. Nil for the model stratified by site, a
	// fit that did not converge, or a result stored before prediction existed; NoBaseline then
	// says why when the pooled fit could not build it.
	Baseline   *analysis.CoxBaseline
	NoBaseline string
	// Validation is the leave-one-site-out validation asked with the model (CoxSpec.Validate),
	// kept in the stored trace; nil when not asked.
	Validation *LOSOResult
	// RidgeChoice is the leave-one-site-out choice of the ridge penalty's θ (RidgeSpec.Choose),
	// kept in the stored trace; nil when θ was given or there is no penalty.
	RidgeChoice *RidgeChoice
	// RidgeScale holds, for a ridge penalty with scale = TRUE, each design column's variance
	// over the cohort (the penalty's weights), kept in the stored trace.
	RidgeScale []float64
	// ZPH is the proportional-hazards check asked with the model (CoxSpec.ZPH), kept in the
	// stored trace; nil when not asked.
	ZPH *ZPHResult
	// NoiseSD is, for a model fitted on differentially private tables (Form dp_tables), the
	// standard deviation each coefficient owes to the release's noise, which Fit's standard
	// errors leave out; nil otherwise.
	NoiseSD []float64
	// NoiseCov is, for such a model, the noise's whole covariance of the coefficients (p×p,
	// row-major; NoiseSD² on its diagonal), over the same simulated releases; nil otherwise.
	NoiseCov []float64
	// WithNoise: the model was fitted on differentially private tables and its terms' p-values
	// and 95% intervals use √(SE² + NoiseSD²), its Wald test V + NoiseCov (setDPNoise).
	WithNoise bool
	// TestsWithheld is, for such a model, why Fit's likelihood ratio and score tests (and, when
	// the noise could not be estimated, its Wald test) are NaN (ErrCoxTestsNoisy); "" otherwise.
	TestsWithheld string
	// DPTablesFrom is, for a model fitted on the differentially private tables of an earlier
	// result (reused: nothing was asked), that result's ID; 0 otherwise.
	DPTablesFrom int64
}
