package app

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"math"
	"net/url"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/oncofed/oncofed/analysis"
	"github.com/oncofed/oncofed/protocol"
)

// Service is the application core that both front ends (the Fyne app and oncofed-cli) drive:
// the study catalog (cache-first), running analyses and storing them with provenance, the
// results library and offline review. It is safe for concurrent use.
type Service struct {
	net     Network // nil: offline only (oncofed-cli --offline)
	cache   Cache
	network NetworkInfo
	now     func() time.Time
	newID   func() string
	analyst string
	notify  func(Notice)

	mu      sync.Mutex
	offline bool
	counts  map[string]countEntry // Count's recent answers by request key
}

// Notice is a change of connectivity the UI shows once, as a banner: going offline (the hub
// cannot be reached, cached results are served) or coming back.
type Notice struct {
	Offline bool
	Message string
	At      time.Time
}

// Option configures a Service.
type Option func(*Service)

// WithClock injects the clock (tests; default time.Now).
func WithClock(now func() time.Time) Option { return func(s *Service) { s.now = now } }

// WithQueryIDs injects the generator of query IDs (default: 128 random bits in hex). It is
// called concurrently and must be safe for that.
func WithQueryIDs(f func() string) Option { return func(s *Service) { s.newID = f } }

// WithAnalyst sets the analyst identity sent with every query.
func WithAnalyst(name string) Option { return func(s *Service) { s.analyst = name } }

// WithNotify sets the function told, once per transition, when the service goes offline or
// comes back online. It is called synchronously from the call that noticed the change, which
// may be a background refresh: it must be safe for concurrent use and must not block.
func WithNotify(f func(Notice)) Option { return func(s *Service) { s.notify = f } }

// NewService returns the service for network n, answering from net (nil for offline use) and
// storing in cache. It does no I/O.
func NewService(net Network, cache Cache, n NetworkInfo, opts ...Option) *Service {
	if cache == nil {
		panic("app: NewService needs a cache")
	}
	if n.ID == "" {
		panic("app: NewService needs a network ID")
	}
	// A hub URL may carry a user and password (nats://user:pass@host): they must never reach
	// the cache, which keys everything by the network ID.
	n.ID, n.Name, n.URL = RedactURL(n.ID), RedactURL(n.Name), RedactURL(n.URL)
	s := &Service{net: net, cache: cache, network: n, now: time.Now, newID: randomID, offline: net == nil}
	for _, o := range opts {
		o(s)
	}
	return s
}

func randomID() string {
	var b [16]byte
	if _, err := rand.Read(b[:]); err != nil {
		panic("app: no randomness: " + err.Error())
	}
	return hex.EncodeToString(b[:])
}

// Network returns the network the service talks to.
func (s *Service) Network() NetworkInfo { return s.network }

// Offline reports whether the last attempt to reach the network failed (or there is none).
func (s *Service) Offline() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.offline
}

// setOffline records connectivity and tells the UI once per change.
func (s *Service) setOffline(off bool) {
	s.mu.Lock()
	changed := s.offline != off
	s.offline = off
	s.mu.Unlock()
	if !changed || s.notify == nil || s.net == nil {
		return
	}
	n := Notice{Offline: off, At: s.now()}
	if off {
		n.Message = "Offline — the network " + s.network.Name + " cannot be reached; showing cached results. New analyses cannot run until it is back."
	} else {
		n.Message = "Back online — connected to " + s.network.Name + "."
	}
	s.notify(n)
}

// CatalogUpdate is the outcome of a catalog refresh: the new catalog and, when a catalog was
// cached before, what changed (CatalogChanges).
type CatalogUpdate struct {
	Catalog *Catalog
	Changes []string
	// First is true when nothing was cached before this refresh.
	First bool
	Err   error
}

// LoadCatalog returns the cached catalog at once (nil when none is cached yet) and refreshes
// it from the network in the background; the refresh's outcome arrives on the returned
// channel, which then closes. Without a network the channel closes without a value.
func (s *Service) LoadCatalog(ctx context.Context) (*Catalog, <-chan CatalogUpdate, error) {
	cached, err := s.cache.Catalog(ctx, s.network.ID)
	if err != nil && ErrorCode(err) != ENotFound {
		return nil, nil, err
	}
	ch := make(chan CatalogUpdate, 1)
	if s.net == nil {
		close(ch)
		return cached, ch, nil
	}
	go func() {
		defer close(ch)
		u, err := s.RefreshCatalog(ctx)
		if err != nil {
			ch <- CatalogUpdate{Err: err}
			return
		}
		ch <- *u
	}()
	return cached, ch, nil
}

// RefreshCatalog asks every site for its catalog, stores the merged catalog and the site list,
// and reports what changed since the cached one.
func (s *Service) RefreshCatalog(ctx context.Context) (*CatalogUpdate, error) {
	g, err := s.query(ctx, protocol.Query{Version: protocol.Version, Kind: protocol.KindCatalog, ID: s.newID(), Analyst: s.analyst})
	if err != nil {
		return nil, err
	}
	var cats []protocol.Catalog
	for _, r := range g.Replies {
		if r.Catalog != nil {
			c := *r.Catalog
			if c.Site == "" {
				c.Site = r.Site
			}
			cats = append(cats, c)
		}
	}
	if len(cats) == 0 {
		// Never replace a cached catalog with an empty one.
		if err := noAnswer(g); err != nil {
			return nil, err
		}
		return nil, Errorf(EUnavailable, "no site sent its catalog")
	}
	var missing []string
	missing = append(missing, g.Missing...)
	for _, p := range append(slices.Clone(g.Refused), g.Invalid...) {
		missing = append(missing, p.Site)
	}
	old, err := s.cache.Catalog(ctx, s.network.ID)
	if err != nil && ErrorCode(err) != ENotFound {
		return nil, err
	}
	// A site that did not answer this time keeps its last known catalog (listed in Missing),
	// so one slow site does not make its studies vanish from the app.
	if old != nil {
		gone := map[string]bool{}
		for _, m := range missing {
			gone[m] = true
		}
		for _, c := range old.Sites {
			if gone[c.Site] {
				cats = append(cats, c)
			}
		}
	}
	now := s.now()
	cur := MergeCatalogs(now, cats, missing)
	n := s.network
	n.LastConnected = now
	if err := s.cache.SaveNetwork(ctx, n); err != nil {
		return nil, err
	}
	if err := s.cache.SaveCatalog(ctx, s.network.ID, cur); err != nil {
		return nil, err
	}
	if err := s.cache.SaveSites(ctx, s.network.ID, s.siteRecords(cur, nil, now)); err != nil {
		return nil, err
	}
	return &CatalogUpdate{Catalog: cur, Changes: CatalogChanges(old, cur), First: old == nil}, nil
}

// siteRecords combines the network's site status with what the catalog published.
func (s *Service) siteRecords(cat *Catalog, status []SiteStatus, now time.Time) []SiteRecord {
	bySite := map[string]*SiteRecord{}
	get := func(site string) *SiteRecord {
		r := bySite[site]
		if r == nil {
			r = &SiteRecord{Site: site, DataCuts: map[string]string{}}
			bySite[site] = r
		}
		return r
	}
	if cat != nil {
		for _, c := range cat.Sites {
			r := get(c.Site)
			// A catalog answer means the site was up when the catalog was fetched; a status
			// list, when given, says whether it is up now.
			r.Online, r.LastSeen = status == nil && !slices.Contains(cat.Missing, c.Site), cat.FetchedAt
			p := c.Policy
			r.Policy = &p
			r.Studies = nil
			for _, st := range c.Studies {
				r.Studies = append(r.Studies, st.Name)
				r.DataCuts[st.Name] = st.DataCut
			}
		}
		for _, m := range cat.Missing {
			get(m)
		}
	}
	for _, st := range status {
		r := get(st.Site)
		r.Online, r.Latency, r.LastSeen = st.Online, st.Latency, st.LastSeen
		if len(st.Studies) > 0 {
			r.Studies = slices.Clone(st.Studies)
		}
	}
	out := make([]SiteRecord, 0, len(bySite))
	for _, site := range sortedKeys(bySite) {
		out = append(out, *bySite[site])
	}
	return out
}

// Sites returns the network's sites with their status, data cuts and policies, and stores
// them. Offline, it returns the cached list (with their last known status) and no error.
func (s *Service) Sites(ctx context.Context) ([]SiteRecord, error) {
	if s.net != nil {
		status, err := s.net.Sites(ctx)
		if err == nil {
			s.setOffline(false)
			cat, cerr := s.cache.Catalog(ctx, s.network.ID)
			if cerr != nil && ErrorCode(cerr) != ENotFound {
				return nil, cerr
			}
			recs := s.siteRecords(cat, status, s.now())
			if err := s.cache.SaveSites(ctx, s.network.ID, recs); err != nil {
				return nil, err
			}
			return recs, nil
		}
		if ErrorCode(err) != EUnavailable && !isUnreachable(err) {
			return nil, err
		}
		s.setOffline(true)
	}
	recs, err := s.cache.Sites(ctx, s.network.ID)
	if err != nil {
		return nil, err
	}
	for i := range recs {
		recs[i].Online = false
	}
	return recs, nil
}

// SaveCohort stores a named cohort of this network (insert when c.ID is 0).
func (s *Service) SaveCohort(ctx context.Context, c *Cohort) error {
	c.Network = s.network.ID
	now := s.now()
	if c.ID == 0 {
		c.CreatedAt = now
	}
	c.UpdatedAt = now
	return s.cache.SaveCohort(ctx, c)
}

// Cohorts lists the saved cohorts of a study ("" = all studies).
func (s *Service) Cohorts(ctx context.Context, study string) ([]Cohort, error) {
	return s.cache.Cohorts(ctx, s.network.ID, study)
}

// DeleteCohort deletes a saved cohort.
func (s *Service) DeleteCohort(ctx context.Context, id int64) error {
	return s.cache.DeleteCohort(ctx, id)
}

// validate checks a request before anything is sent.
func validate(req Request) error {
	if req.Study == "" {
		return Errorf(EInvalid, "choose a study")
	}
	if _, err := json.Marshal(req); err != nil {
		return WrapError(EInvalid, err, "the request holds a number that is not finite")
	}
	switch req.Kind {
	case protocol.KindCount:
	case protocol.KindSummary:
		if len(req.Variables) == 0 {
			return Errorf(EInvalid, "choose at least one variable to summarize")
		}
	case protocol.KindSurvival:
		if req.Endpoint == "" {
			return Errorf(EInvalid, "choose an endpoint")
		}
	case protocol.KindIPW:
		return validateIPW(req)
	case protocol.KindCox:
		if req.Endpoint == "" {
			return Errorf(EInvalid, "choose an endpoint")
		}
		if req.Cox == nil || len(req.Cox.Covariates) == 0 {
			return Errorf(EInvalid, "choose at least one covariate for the Cox model")
		}
		if _, err := coxTies(req.Cox.Ties); err != nil {
			return err
		}
		switch req.Cox.Form {
		case "", protocol.CoxStratified, protocol.CoxPooled, protocol.CoxDPTables:
		default:
			return Errorf(EInvalid, "unknown Cox form %q (stratified, pooled or dp_tables)", req.Cox.Form)
		}
		if v := req.Cox.Validate; v != "" && v != ValidateLOSO {
			return Errorf(EInvalid, "unknown validation %q (loso)", v)
		}
		if err := validateRidge(req.Cox); err != nil {
			return err
		}
	case protocol.KindScreen:
		return Errorf(EInvalid, "a biomarker screen runs from the Biomarkers tab (Service.Screen), not as a single analysis: run it again there")
	default:
		return Errorf(EInvalid, "unknown analysis kind %q", req.Kind)
	}
	return nil
}

// baseQuery is the protocol query of a request (without ID and, for Cox, without β).
func (s *Service) baseQuery(req Request) protocol.Query {
	q := protocol.Query{Version: protocol.Version, Kind: req.Kind, Analyst: s.analyst, Study: req.Study,
		Cohort: req.Cohort, GroupBy: req.GroupBy, Merge: req.Merge, Endpoint: req.Endpoint, Variables: req.Variables, Bins: req.Bins}
	if req.Kind == protocol.KindSurvival || req.Kind == protocol.KindCox || req.Kind == protocol.KindIPW {
		q.Variables, q.Bins = nil, nil
	}
	if req.Kind == protocol.KindCox || req.Kind == protocol.KindIPW {
		q.GroupBy, q.Merge = "", nil
	}
	return q
}

// Run runs an analysis on the network, stores it with its provenance and returns it.
//
// When the network cannot be reached, Run answers from the cache: the newest stored result of
// the same request, with Cached set (show its age with AsOf), and the service goes offline
// (announced once through WithNotify). When nothing is cached for the request the error has
// code EUnavailable. When every site refuses, the error has code ERefusedByPolicy.
func (s *Service) Run(ctx context.Context, req Request) (*Result, error) {
	if err := s.prepare(ctx, &req); err != nil {
		return nil, err
	}
	start := s.now()
	var r *Result
	var err error
	if req.Kind == protocol.KindCox {
		r, err = s.runCox(ctx, req)
	} else if req.Kind == protocol.KindIPW {
		r, err = s.runIPW(ctx, req)
	} else {
		r, err = s.runOnce(ctx, req)
	}
	if ErrorCode(err) == EUnavailable && s.Offline() {
		return s.cachedAnswer(ctx, req, err)
	}
	if err != nil {
		return nil, err
	}
	r.Provenance.RanAt = start
	r.Provenance.Elapsed = s.now().Sub(start)
	if err := s.cache.SaveResult(ctx, r); err != nil {
		return nil, err
	}
	return r, nil
}

// cachedAnswer serves the newest cached result of req after the network failed with cause.
func (s *Service) cachedAnswer(ctx context.Context, req Request, cause error) (*Result, error) {
	r, err := s.latest(ctx, req)
	if ErrorCode(err) == ENotFound {
		return nil, WrapError(EUnavailable, cause, "offline, and this analysis was never run before: there is no cached result to show")
	}
	return r, err
}

// fillLevels fixes the levels of categorical Cox covariates from the catalog, so every site
// builds the same design (first level = reference).
func (s *Service) fillLevels(ctx context.Context, req *Request) error {
	cox := *req.Cox
	// A covariate in Indicators is one column, the indicator of its level: no levels.
	indicator := func(v string) bool { _, ok := cox.Indicators[v]; return ok }
	levels, err := s.catalogLevels(ctx, req.Study, cox.Covariates, cox.Levels, indicator, "a Cox covariate")
	if err != nil {
		return err
	}
	cox.Levels = levels
	if (cox.Form == "" || cox.Form == protocol.CoxStratified) && cox.Strata == "" && len(cox.Interactions) == 0 {
		// An analyst of role dp gets Cox models stratified by site as differentially private
		// tables only (any other form is refused to it).
		dpRole, err := s.dpRole(ctx, req.Study)
		if err != nil {
			return err
		}
		if dpRole {
			cox.Form = protocol.CoxDPTables
		}
	}
	req.Cox = &cox
	return nil
}

// coxOrigin is the origin a pooled fit asks every site to centre its numeric covariates on
// (protocol.CoxRequest.Origin): the midpoint of each one's declared range in the catalog, a
// public constant and the same for every site. A covariate without a declared range, or a
// catalog that cannot be read, is left uncentred (the fit is the same, with fewer digits for
// a column far from 0: docs/cox-protocol.md, "Centring").
func (s *Service) coxOrigin(ctx context.Context, req Request) map[string]float64 {
	cat, err := s.cache.Catalog(ctx, s.network.ID)
	if err != nil {
		return nil
	}
	st := cat.Study(req.Study)
	if st == nil {
		return nil
	}
	var origin map[string]float64
	for _, v := range req.Cox.Covariates {
		vr := st.Variable(v)
		if vr == nil || vr.Type != protocol.Numeric || vr.Min == nil || vr.Max == nil || len(vr.TypeConflict) > 0 {
			continue
		}
		if mid := *vr.Min/2 + *vr.Max/2; mid != 0 && !math.IsInf(mid, 0) && !math.IsNaN(mid) {
			if origin == nil {
				origin = map[string]float64{}
			}
			origin[v] = mid
		}
	}
	return origin
}

// catalogLevels returns given completed with the catalog's categories of every categorical
// variable among vars but those skip says (nil: none), nil when there is none; role names the
// variables in messages.
func (s *Service) catalogLevels(ctx context.Context, study string, vars []string, given map[string][]string, skip func(string) bool, role string) (map[string][]string, error) {
	levels := maps2(given)
	var st *Study
	for _, v := range vars {
		if _, ok := levels[v]; ok {
			continue
		}
		if skip != nil && skip(v) {
			continue
		}
		if st == nil {
			cat, err := s.cache.Catalog(ctx, s.network.ID)
			if err != nil && ErrorCode(err) != ENotFound {
				return nil, err
			}
			if st = cat.Study(study); st == nil {
				return nil, Errorf(EInvalid, "study %s is not in the catalog; refresh the catalog first", study)
			}
		}
		vr := st.Variable(v)
		if vr == nil {
			return nil, Errorf(EInvalid, "study %s has no variable %s", study, v)
		}
		if vr.Type == protocol.Categorical {
			if len(vr.Categories) < 2 {
				return nil, Errorf(EInvalid, "variable %s has fewer than two categories; it cannot be %s", v, role)
			}
			levels[v] = slices.Clone(vr.Categories)
		}
	}
	if len(levels) == 0 {
		levels = nil
	}
	return levels, nil
}

func maps2(m map[string][]string) map[string][]string {
	out := make(map[string][]string, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out
}

// runOnce runs a one-round analysis.
func (s *Service) runOnce(ctx context.Context, req Request) (*Result, error) {
	q := s.baseQuery(req)
	q.ID = s.newID()
	g, err := s.query(ctx, q)
	if err != nil {
		return nil, err
	}
	s.excludeImplausible(ctx, g)
	if err := noAnswer(g); err != nil {
		return nil, err
	}
	r := &Result{Network: s.network.ID, Request: req, Rounds: []Round{newRound(q, sortReplies(g.Replies), g)}}
	if err := s.finish(ctx, r, g, nil); err != nil {
		return nil, err
	}
	return r, nil
}

// noAnswer returns the error of a scatter-gather that got no usable reply.
func noAnswer(g *Gathered) error {
	if len(g.Replies) > 0 {
		return nil
	}
	if len(g.Refused) > 0 {
		var why []string
		code := ERefusedByPolicy
		for _, p := range g.Refused {
			why = append(why, p.Site+": "+p.Message)
			if p.Code == protocol.CodeInvalid {
				code = EInvalid
			}
		}
		e := Errorf(code, "no site answered: %s", strings.Join(why, "; "))
		e.Refused = slices.Clone(g.Refused)
		return e
	}
	if len(g.Invalid) > 0 {
		return Errorf(EInternal, "no site sent a usable reply (%d invalid)", len(g.Invalid))
	}
	if len(g.Expected) == 0 {
		return Errorf(EUnavailable, "no site serves study %s", g.Query.Study)
	}
	return Errorf(EUnavailable, "none of the %d sites answered in time", len(g.Expected))
}

// newRound is the round of query q with the replies kept from g, holding their JSON as
// received when g has it for every one of them (and it is valid UTF-8, as the cache's JSON
// check wants); otherwise the replies are encoded when stored.
func newRound(q protocol.Query, replies []protocol.Reply, g *Gathered) Round {
	r := Round{Query: q, Replies: replies}
	if len(g.ReplyJSON) == 0 {
		return r
	}
	raw := make([]json.RawMessage, len(replies))
	for i, rep := range replies {
		b, ok := g.ReplyJSON[rep.Site]
		if !ok || !utf8.Valid(b) {
			return r
		}
		raw[i] = b
	}
	r.ReplyJSON = raw
	return r
}

func sortReplies(rs []protocol.Reply) []protocol.Reply {
	out := slices.Clone(rs)
	sort.SliceStable(out, func(i, j int) bool { return out[i].Site < out[j].Site })
	return out
}

// finish fills the provenance of r from the scatter-gather of its first round, brings r into
// the compact form it is stored in (steps are a Cox fit's evaluations) and renders it.
func (s *Service) finish(ctx context.Context, r *Result, g *Gathered, steps []CoxStep) error {
	p := &r.Provenance
	p.Expected = sortedCopy(g.Expected)
	for _, rep := range r.Rounds[0].Replies {
		p.Answered = append(p.Answered, rep.Site)
	}
	p.Missing = sortedCopy(g.Missing)
	p.Refused = slices.Clone(g.Refused)
	p.Invalid = slices.Clone(g.Invalid)
	cat, err := s.cache.Catalog(ctx, s.network.ID)
	if err != nil && ErrorCode(err) != ENotFound {
		return err
	}
	st := cat.Study(r.Request.Study)
	for _, rep := range r.Rounds[0].Replies {
		sp := SiteProvenance{Site: rep.Site, Policy: rep.Policy}
		if st != nil {
			sp.DataCut = st.DataCut[rep.Site]
		}
		p.Sites = append(p.Sites, sp)
	}
	p.AppVersion, p.ProtocolVersion = Version, protocol.Version
	// Everything stored must survive JSON (no NaN or ±Inf from a misbehaving site). Replies
	// kept as received are JSON already: they were decoded from it.
	for i, round := range r.Rounds {
		if round.ReplyJSON != nil {
			continue
		}
		for _, rep := range round.Replies {
			if _, err := json.Marshal(rep); err != nil {
				return WrapError(EInvalid, err, "site %s sent a reply (round %d) that cannot be stored", rep.Site, i+1)
			}
		}
	}
	if err := compact(r, steps); err != nil {
		return err
	}
	if r.Name == "" {
		r.Name = DefaultName(r.Request)
	}
	if (r.Request.Kind == protocol.KindCox && r.Cox != nil) || (r.Request.Kind == protocol.KindIPW && r.IPW != nil) || (r.Request.Kind == protocol.KindScreen && r.Screen != nil) {
		// runCox (runIPW) computed the payload from these very evaluations (see there).
		return nil
	}
	return Render(r)
}

// DefaultName names a result after its request, e.g. "Kaplan–Meier of os by sex (lung)".
func DefaultName(req Request) string {
	var s string
	switch req.Kind {
	case protocol.KindCount:
		s = "Count"
	case protocol.KindSummary:
		s = "Summary of " + strings.Join(req.Variables, ", ")
	case protocol.KindSurvival:
		s = "Kaplan–Meier of " + req.Endpoint
	case protocol.KindIPW:
		s = "Weighted comparison of " + req.Endpoint
		if req.IPW != nil {
			trt, level := req.IPW.TreatmentNames()
			s += " by " + trt + "=" + level + " (" + ipwEstimand(req.IPW) + ")"
		}
	case protocol.KindScreen:
		s = screenName(req)
	case protocol.KindCox:
		s = "Cox model of " + req.Endpoint
		if req.Cox != nil {
			s += " on " + strings.Join(req.Cox.Covariates, " + ")
		}
	default:
		s = string(req.Kind)
	}
	if req.GroupBy != "" && req.Kind != protocol.KindCox && req.Kind != protocol.KindIPW {
		s += " by " + req.GroupBy
	}
	if req.CohortName != "" {
		s += ", " + req.CohortName
	}
	return s + " (" + req.Study + ")"
}

// runCox fits a Cox model with one scatter-gather per Newton–Raphson round. The sites that
// answer the first round are the model's sites: each later round must be answered by every one
// of them (a site that drops out aborts the fit, since its absence would change the
// likelihood between iterations), and replies from sites that join later are ignored.
func (s *Service) runCox(ctx context.Context, req Request) (*Result, error) {
	// The request is stored as asked; a θ chosen leave one site out is kept with the result
	// (RidgeChoice) and fitted with (chosen).
	chosen, choice, err := s.chooseRidge(ctx, req)
	if err != nil {
		return nil, err
	}
	m, err := s.fitCoxModel(ctx, chosen)
	if err != nil {
		return nil, err
	}
	m.Cox.RidgeChoice = choice
	if req.Cox.Validate == ValidateLOSO {
		if m.Cox.Validation, err = s.ValidateLOSO(ctx, chosen); err != nil {
			return nil, err
		}
	}
	r := &Result{Network: s.network.ID, Request: req, Rounds: m.Rounds, Cox: m.Cox}
	if err := s.finish(ctx, r, m.First, m.Steps); err != nil {
		return nil, err
	}
	return r, nil
}

// CoxModel is a Cox model fitted over the network and not stored: its payload, its rounds and
// the first round's scatter-gather (which sites were asked, answered, refused or missed it;
// the sites that answer the first round are the model's sites).
type CoxModel struct {
	Request Request // as prepared: the categorical covariates' levels filled from the catalog
	Cox     *CoxResult
	Rounds  []Round
	First   *Gathered
	// Steps are the fit's evaluations, the trace of the result when it is stored.
	Steps []CoxStep
}

// FitCoxModel fits the Cox model of req (its Kind is taken as cox) over the network without
// storing it: the entry point of every analysis built from many Cox models (the biomarker
// screen), so that they share the protocol and its rules with Run. An error from the first
// round (every site refused, the network is down) carries the sites' refusals (Error.Refused).
func (s *Service) FitCoxModel(ctx context.Context, req Request) (*CoxModel, error) {
	req.Kind = protocol.KindCox
	if err := s.prepare(ctx, &req); err != nil {
		return nil, err
	}
	return s.fitCoxModel(ctx, req)
}

// fitCoxModel fits the prepared Cox request req (see runCox).
func (s *Service) fitCoxModel(ctx context.Context, req Request) (*CoxModel, error) {
	return s.fitCoxModelVia(ctx, req, s)
}

// coxTransport carries the scatter-gathers of one Cox fit: the service's own (one query per
// round), or a screen's batch (screenBatch), which carries the rounds of every marker's fit in
// one screen query.
type coxTransport interface {
	query(ctx context.Context, q protocol.Query) (*Gathered, error)
	queryEach(ctx context.Context, qs map[string]protocol.Query) (*Gathered, error)
}

// fitCoxModelVia fits the prepared Cox request req with its rounds sent through tr.
func (s *Service) fitCoxModelVia(ctx context.Context, req Request, tr coxTransport) (*CoxModel, error) {
	ties, err := coxTies(req.Cox.Ties)
	if err != nil {
		return nil, err
	}
	form := coxForm(req.Cox.Form)
	if form == protocol.CoxDPTables {
		return s.fitDPCoxModel(ctx, req)
	}
	base := s.baseQuery(req)
	var origin map[string]float64
	if form == protocol.CoxPooled {
		origin = s.coxOrigin(ctx, req)
	}
	var (
		rounds  []Round
		first   *Gathered
		members map[string]bool
		terms   []string
	)
	eval := func(beta []float64) (contrib analysis.CoxContribution, complete func() (analysis.CoxContribution, error), err error) {
		q := base
		q.ID = s.newID()
		q.Cox = &protocol.CoxRequest{Form: coxWireForm(form), Ties: ties.String(), Covariates: req.Cox.Covariates,
			Levels: req.Cox.Levels, Beta: slices.Clone(beta), Strata: req.Cox.Strata,
			Indicators: req.Cox.Indicators, Interactions: req.Cox.Interactions, Origin: origin}
		g, err := tr.query(ctx, q)
		if err != nil {
			if len(rounds) > 0 {
				return contrib, nil, WrapError(EUnavailable, err, "the network was lost in round %d of the Cox fit; the fit was aborted", len(rounds)+1)
			}
			return contrib, nil, err
		}
		replies := sortReplies(g.Replies)
		if first == nil {
			if err := noAnswer(g); err != nil {
				return contrib, nil, err
			}
			first, members = g, map[string]bool{}
			for _, r := range replies {
				members[r.Site] = true
			}
		} else if replies, err = coxMembersAnswered(g, members, len(rounds)+1); err != nil {
			return contrib, nil, err
		}
		rounds = append(rounds, newRound(q, replies, g))
		if len(rounds) == 1 {
			copy(terms, coxTerms(replies, len(beta)))
		}
		c, _, step, err := coxRoundStep(replies, q.Cox.Form, ties, beta)
		if err != nil || step == nil {
			return c, func() (analysis.CoxContribution, error) { return c, nil }, err
		}
		// Phase 2, only when the fit uses this β's Hessian: each site gets its own weights.
		return c, func() (analysis.CoxContribution, error) {
			template, qs := coxHessianQueries(q, replies, step, s.newID)
			g2, err := tr.queryEach(ctx, qs)
			if err != nil {
				return c, WrapError(EUnavailable, err, "the network was lost in round %d of the Cox fit; the fit was aborted", len(rounds)+1)
			}
			second, err := coxMembersAnswered(g2, members, len(rounds)+1)
			if err != nil {
				return c, err
			}
			rounds = append(rounds, newRound(template, second, g2))
			return coxHessianRound(step, c, replies, second)
		}, nil
	}
	p, err := s.coxColumns(ctx, req)
	if err != nil {
		return nil, err
	}
	// The live fit is the result's payload. Its evaluations are recorded as the result's trace,
	// and reopening the result replays them through the same FitCox (renderCoxTrace: the same
	// contributions at the same β, the terms named by the first round), so it renders the same
	// bits without a second fit here; TestOfflineOpenEveryKind checks that. FitCox reads the
	// terms only after its first evaluation, which names them.
	terms = make([]string, p)
	rec := &coxRecorder{}
	out, err := fitCox(rec.wrap(eval), p, req, form, terms)
	if err != nil {
		return nil, err
	}
	// The per-site counts for a model that is not stored (the trace keeps them for one that is).
	out.addSites(coxSiteSummaries(rounds[0].Replies))
	if form == protocol.CoxPooled && out.FitError == "" {
		// The baseline for prediction, from the replies the fit already has (docs/prediction.md);
		// kept in the trace, since the replies are not.
		if out.Baseline, err = coxBaseline(rounds, out.Fit, ties); err != nil {
			out.NoBaseline = err.Error()
		}
	}
	return &CoxModel{Request: req, Cox: out, Rounds: rounds, First: first, Steps: rec.steps}, nil
}

// coxColumns counts the design columns of a Cox request from the catalog: one per numeric
// covariate, levels−1 per categorical one (treatment contrasts).
func (s *Service) coxColumns(ctx context.Context, req Request) (int, error) {
	p := 0
	width := map[string]int{}
	for _, v := range req.Cox.Covariates {
		w := 1
		if lv, ok := req.Cox.Levels[v]; ok {
			w = len(lv) - 1
		}
		width[v] = w
		p += w
	}
	for _, in := range req.Cox.Interactions {
		p += width[in.A] * width[in.B]
	}
	if p < 1 {
		return 0, Errorf(EInvalid, "the Cox model has no estimable column")
	}
	return p, nil
}

// Open loads a stored result and renders it from its stored aggregates, with no network.
func (s *Service) Open(ctx context.Context, id int64) (*Result, error) {
	return s.fromCache(s.cache.Result(ctx, id))
}

// render checks r, loaded from the cache, against its content hash (verify) and renders it.
func (s *Service) render(r *Result) error {
	if err := verify(r); err != nil {
		return err
	}
	return Render(r)
}

// Results lists this network's stored results (f.Network is set to the service's network).
func (s *Service) Results(ctx context.Context, f ResultFilter) ([]ResultSummary, error) {
	f.Network = s.network.ID
	return s.cache.Results(ctx, f)
}

// Library lists the stored results of every network the cache knows (or f.Network's), so
// that a different or unreachable hub does not hide last week's results, and names each
// network by its name as last connected (its ID when it has none).
func (s *Service) Library(ctx context.Context, f ResultFilter) ([]ResultSummary, map[string]string, error) {
	list, err := s.cache.Results(ctx, f)
	if err != nil {
		return nil, nil, err
	}
	names := map[string]string{s.network.ID: s.network.Name}
	nets, err := s.cache.Networks(ctx)
	if err != nil {
		return nil, nil, err
	}
	for _, n := range nets {
		if n.Name != "" && n.ID != s.network.ID {
			names[n.ID] = n.Name
		}
	}
	return list, names, nil
}

// Rename renames a stored result.
func (s *Service) Rename(ctx context.Context, id int64, name string) error {
	return s.cache.RenameResult(ctx, id, name)
}

// StudyOf is the study of a stored result as its network's catalog last described it (its
// title, labels, units and causes name the result's figures), or nil when none is cached.
func (s *Service) StudyOf(ctx context.Context, r *Result) *Study {
	cat, err := s.cache.Catalog(ctx, r.Network)
	if err != nil {
		return nil
	}
	return cat.Study(r.Request.Study)
}

// Pin pins (or unpins) a stored result: pinned results list first and make the slides of
// presentation mode, drawn as shown (nil keeps what is stored: pinning from the library).
func (s *Service) Pin(ctx context.Context, id int64, pinned bool, shown *Display) error {
	return s.cache.PinResult(ctx, id, pinned, shown)
}

// Delete deletes a stored result and its aggregates.
func (s *Service) Delete(ctx context.Context, id int64) error { return s.cache.DeleteResult(ctx, id) }

// Rerun runs a stored result's request again on today's network, stores the new result under
// the same name and says what changed since (Compare). Offline it fails with EUnavailable: a
// re-run never silently returns the old result.
func (s *Service) Rerun(ctx context.Context, id int64) (*Result, *Changes, error) {
	old, err := s.Open(ctx, id)
	if err != nil {
		return nil, nil, err
	}
	r, err := s.Run(ctx, old.Request)
	if err != nil {
		return nil, nil, err
	}
	if r.Cached {
		return nil, nil, Errorf(EUnavailable, "offline: the analysis cannot be re-run until the network is back")
	}
	if r.Name != old.Name {
		if err := s.cache.RenameResult(ctx, r.ID, old.Name); err != nil {
			return nil, nil, err
		}
		r.Name = old.Name
	}
	return r, Compare(old, r), nil
}

// RedactURL removes the user information (user name, password, token) from a URL, and from
// each URL of a comma-separated list (a NATS cluster: "nats://a:s@h1,nats://a:s@h2"); other
// strings, and the parts of a list that are not URLs with user information, are returned
// unchanged (spacing around the commas included).
func RedactURL(s string) string {
	parts := strings.Split(s, ",")
	for i, part := range parts {
		trimmed := strings.TrimSpace(part)
		if red := redactOneURL(trimmed); red != trimmed {
			parts[i] = strings.Replace(part, trimmed, red, 1)
		}
	}
	return strings.Join(parts, ",")
}

func redactOneURL(s string) string {
	u, err := url.Parse(s)
	if err != nil || u.User == nil || u.Host == "" {
		return s
	}
	u.User = nil
	return u.String()
}
