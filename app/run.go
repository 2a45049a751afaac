package app

// Running a request: validation, the levels and the scatter-gather, storing the result.

import (
	"context"
	"encoding/json"
	"slices"
	"sort"
	"strings"
	"unicode/utf8"

	"github.com/oncofed/oncofed/protocol"
)

func validate(req Request) error {
	if req.Study == "" {
		return Errorf(EInvalid, "choose a study")
	}
	if _, err := json.Marshal(req); err != nil {
		return WrapError(EInvalid, err, "the request holds a number that is not finite")
	}
	if req.CIF && req.Kind != protocol.KindSurvival {
		return Errorf(EInvalid, "a cumulative incidence is computed from a survival request, not %s", req.Kind)
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
		if err := checkZPHTransform(req.Cox.ZPH); err != nil {
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
	if (cox.Form == "" || cox.Form == protocol.CoxStratified || cox.Form == protocol.CoxPooled) && cox.Strata == "" && len(cox.Interactions) == 0 {
		// An analyst of role dp gets Cox models as differentially private tables only (any
		// other form is refused to it); the pooled model is then fitted on the same tables
		// (CoxSpec.DPPooled, docs/dp-validation.md).
		dpRole, err := s.dpRole(ctx, req.Study)
		if err != nil {
			return err
		}
		if dpRole {
			cox.DPPooled = cox.Form == protocol.CoxPooled
			cox.Form = protocol.CoxDPTables
		}
	}
	req.Cox = &cox
	return nil
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
	if req.CIF {
		// Only a dp analyst needs to ask: a node older than the field refuses it.
		dp, err := s.dpRole(ctx, req.Study)
		if err != nil {
			return nil, err
		}
		q.SplitCauses = dp
	}
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
		code := ERefusedByPolicy
		for _, p := range g.Refused {
			if p.Code == protocol.CodeInvalid {
				code = EInvalid
			}
		}
		e := Errorf(code, "no site answered: %s", BySameReason(g.Refused))
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
// check wants, or a framed reply: protocol.MarshalReply); otherwise the replies are encoded
// when stored.
func newRound(q protocol.Query, replies []protocol.Reply, g *Gathered) Round {
	r := Round{Query: q, Replies: replies}
	if len(g.ReplyJSON) == 0 {
		return r
	}
	raw := make([]json.RawMessage, len(replies))
	for i, rep := range replies {
		b, ok := g.ReplyJSON[rep.Site]
		if !ok || (!protocol.IsFramedReply(b) && !utf8.Valid(b)) {
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

// provenanceOf fills p's sites from a result's first round: g, its scatter-gather (the sites
// asked, missing, refusing or invalid), and replies, the answers merged (each site's policy
// effects, with its data cut from the cached catalog of study).
func (s *Service) provenanceOf(ctx context.Context, p *Provenance, study string, g *Gathered, replies []protocol.Reply) error {
	p.Expected = sortedCopy(g.Expected)
	for _, rep := range replies {
		p.Answered = append(p.Answered, rep.Site)
	}
	p.Missing = sortedCopy(g.Missing)
	p.Refused = slices.Clone(g.Refused)
	p.Invalid = slices.Clone(g.Invalid)
	cat, err := s.cache.Catalog(ctx, s.network.ID)
	if err != nil && ErrorCode(err) != ENotFound {
		return err
	}
	st := cat.Study(study)
	for _, rep := range replies {
		sp := SiteProvenance{Site: rep.Site, Policy: rep.Policy}
		if st != nil {
			sp.DataCut = st.DataCut[rep.Site]
		}
		p.Sites = append(p.Sites, sp)
	}
	p.AppVersion, p.ProtocolVersion = Version, protocol.Version
	return nil
}

// finish fills the provenance of r from the scatter-gather of its first round, brings r into
// the compact form it is stored in (steps are a Cox fit's evaluations) and renders it.
func (s *Service) finish(ctx context.Context, r *Result, g *Gathered, steps []CoxStep) error {
	if err := s.provenanceOf(ctx, &r.Provenance, r.Request.Study, g, r.Rounds[0].Replies); err != nil {
		return err
	}
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
