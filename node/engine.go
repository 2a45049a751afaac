package node

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/oncofed/oncofed/dp"
	"github.com/oncofed/oncofed/protocol"
)

// Config configures an Engine.
type Config struct {
	// Site is the name the network sees. Empty: the name stored at import, else the database
	// file's base name (for a store with a Path method), else "site".
	Site string
	// Policy is the disclosure policy; nil means DefaultPolicy().
	Policy *protocol.Policy
	// Now is the clock (for the audit log, the daily budget and signature times); nil means
	// time.Now.
	Now func() time.Time
	// Analysts lists the analysts whose signed queries the node answers, and their roles.
	// NewEngine refuses a nil list unless InsecureOpen is set.
	Analysts *Analysts
	// InsecureOpen runs the node without an analysts list: unsigned queries are answered and
	// the analyst names they declare trusted, so budget, overlap guard and audit can be evaded
	// by changing the name. For demos, tests and closed networks only; the catalog and every
	// reply say "open".
	InsecureOpen bool
}

// ErrNoAnalysts is returned by NewEngine for a configuration with neither an analysts list
// nor InsecureOpen.
var ErrNoAnalysts = errors.New("node: no analysts list: this node would answer anyone under any name; give the authorised analysts (oncofed-node serve --analysts FILE), or start it --insecure-open for a demo or a closed test network")

// Engine answers the whitelisted queries of one site from memory, applies the disclosure
// policy and writes every query to the audit log. It is safe for concurrent use and knows
// nothing of the transport: network code calls HandleJSON (or Handle) per request.
type Engine struct {
	store  Store
	site   string
	policy protocol.Policy
	now    func() time.Time

	analysts *Analysts  // nil: open
	nonces   NonceStore // replay guard of signed queries

	mu    sync.Mutex
	cache map[string]*loadedStudy

	// decide serialises this process's release decisions and guards the cache of released
	// sets; across processes Store.Release serialises them.
	decide   sync.Mutex
	released map[guardKey]*guardSets
	feasible map[feasKey]*feasSets // remembered feasibility answers, also guarded by decide
	// guardLegacy (tests only) runs the overlap guard as before regions and combinations, and
	// registers no exact release as a feasibility set: the attack tests show what it let through.
	guardLegacy bool

	sampler *dp.Sampler // noise of differentially private releases (crypto/rand)

	coxMu        sync.Mutex
	coxCache     []coxCacheEntry // most recent last
	coxCacheUsed int             // estimated bytes of coxCache (coxPrepared.bytes)

	// withoutModelRules switches off the design-column rule and the β cap (modelsafe.go), for
	// the attack tests that show what they stop; nothing outside tests sets it.
	withoutModelRules bool
	// withoutWeightSpread switches off checkWeightSpread alone (tests only).
	withoutWeightSpread bool
	// perPatientDesigns builds every Cox design per patient, never once per key (coxkeyed.go;
	// tests only: the two builds must give the same bits).
	perPatientDesigns bool

	secretMu sync.Mutex
	secret   []byte // the store's SiteSecret, read on first use
}

// NewEngine returns an engine over store.
func NewEngine(ctx context.Context, store Store, cfg Config) (*Engine, error) {
	if cfg.Analysts == nil && !cfg.InsecureOpen {
		return nil, ErrNoAnalysts
	}
	e := &Engine{store: store, site: cfg.Site, now: cfg.Now, sampler: dp.NewSampler(nil), cache: map[string]*loadedStudy{}, released: map[guardKey]*guardSets{}, feasible: map[feasKey]*feasSets{}}
	if cfg.Policy != nil {
		e.policy = withDPDefaults(withFeasibilityDefaults(*cfg.Policy))
	} else {
		e.policy = DefaultPolicy()
	}
	if e.now == nil {
		e.now = time.Now
	}
	e.analysts = cfg.Analysts
	if ns, ok := store.(NonceStore); ok {
		e.nonces = ns
	} else {
		e.nonces = &nonceMemory{}
	}
	if e.site == "" {
		name, err := store.SiteName(ctx)
		if err != nil {
			return nil, fmt.Errorf("node: site name: %w", err)
		}
		e.site = name
	}
	if e.site == "" {
		if p, ok := store.(interface{ Path() string }); ok {
			e.site = DefaultSiteName(p.Path())
		} else {
			e.site = "site"
		}
	}
	return e, nil
}

// Site returns the site name the engine answers as.
func (e *Engine) Site() string { return e.site }

// Auth returns how the engine identifies analysts: AuthSigned or AuthOpen.
func (e *Engine) Auth() string {
	if e.analysts == nil {
		return AuthOpen
	}
	return AuthSigned
}

// Policy returns the disclosure policy in force.
func (e *Engine) Policy() protocol.Policy { return e.policy }

// Studies returns the names of the studies the site serves, sorted.
func (e *Engine) Studies(ctx context.Context) ([]string, error) {
	infos, err := e.store.Studies(ctx)
	if err != nil {
		return nil, err
	}
	names := make([]string, len(infos))
	for i, s := range infos {
		names[i] = s.Name
	}
	return names, nil
}

// HandleJSON answers one JSON-encoded query with a JSON-encoded Reply. Oversized or
// undecodable messages (unknown fields included) are refused with code invalid and audited.
func (e *Engine) HandleJSON(ctx context.Context, msg []byte) []byte {
	var q protocol.Query
	var err error
	if limit := queryLimit(msg); len(msg) > limit {
		err = errorf(protocol.CodeInvalid, "query of %d bytes exceeds the limit of %d", len(msg), limit)
	} else {
		dec := json.NewDecoder(bytes.NewReader(msg))
		dec.DisallowUnknownFields()
		if derr := dec.Decode(&q); derr != nil {
			err = errorf(protocol.CodeInvalid, "undecodable query: %s", clip(derr.Error()))
		} else if dec.More() {
			err = errorf(protocol.CodeInvalid, "undecodable query: trailing data")
		} else if limit := protocol.MaxQueryBytesOf(q.Kind); len(msg) > limit {
			// queryLimit read the first "kind"; the query is held to its decoded kind's limit.
			err = errorf(protocol.CodeInvalid, "query of %d bytes exceeds the limit of %d", len(msg), limit)
		}
	}
	var reply protocol.Reply
	if err != nil {
		raw := msg
		if len(raw) > 4096 {
			raw = raw[:4096]
		}
		reply = e.refuseUndecodable(ctx, q, string(raw), err)
	} else {
		var body []byte
		if reply, body = e.handle(ctx, q, string(msg)); body != nil {
			return body // the bytes whose hash the audit log holds, encoded once
		}
	}
	out, merr := protocol.MarshalReply(reply)
	if merr != nil {
		out, _ = json.Marshal(protocol.Reply{Version: protocol.Version, QueryID: q.ID, Site: e.site, Kind: q.Kind,
			Error: &protocol.Error{Code: protocol.CodeInternal, Message: "reply could not be encoded"}})
	}
	return out
}

// queryLimit is the size limit of the query msg before it is decoded: protocol.MaxQueryBytes,
// or for a screen query (a batch of models) protocol.MaxScreenQueryBytes. Only a message above
// the first is looked into, for its first top-level "kind" (encoding/json writes it second;
// reading the message through to it, not whole: a pooled screen's phase 2 carries megabytes of
// weights); HandleJSON holds the decoded query to its own kind's limit as well.
func queryLimit(msg []byte) int {
	if len(msg) <= protocol.MaxQueryBytes || len(msg) > protocol.MaxScreenQueryBytes {
		return protocol.MaxQueryBytes
	}
	dec := json.NewDecoder(bytes.NewReader(msg))
	if t, err := dec.Token(); err != nil || t != json.Delim('{') {
		return protocol.MaxQueryBytes
	}
	for dec.More() {
		key, err := dec.Token()
		if err != nil {
			return protocol.MaxQueryBytes
		}
		if key == "kind" {
			var kind protocol.Kind
			if dec.Decode(&kind) != nil {
				return protocol.MaxQueryBytes
			}
			return protocol.MaxQueryBytesOf(kind)
		}
		var skip json.RawMessage
		if dec.Decode(&skip) != nil {
			return protocol.MaxQueryBytes
		}
	}
	return protocol.MaxQueryBytes
}

// Handle answers one query. The reply always carries the policy's effects; on refusal it
// carries a coded Error and no payload.
func (e *Engine) Handle(ctx context.Context, q protocol.Query) protocol.Reply {
	raw, err := json.Marshal(q)
	if err != nil {
		// Only non-finite floats fail to encode; they would be refused anyway.
		return e.refuseUndecodable(ctx, q, fmt.Sprintf("%+v", q), errorf(protocol.CodeInvalid, "query cannot be encoded: %v", err))
	}
	reply, _ := e.handle(ctx, q, string(raw))
	return reply
}

func (e *Engine) baseReply(q protocol.Query) protocol.Reply {
	r := protocol.Reply{Version: protocol.Version, QueryID: clip(q.ID), Site: e.site, Kind: q.Kind,
		Policy: protocol.PolicyEffects{BinDays: e.policy.BinDays, MinCell: e.policy.MinCell, MinCohort: e.policy.MinCohort}}
	if e.analysts == nil {
		r.Policy.Auth = AuthOpen
	}
	return r
}

func (e *Engine) refuseUndecodable(ctx context.Context, q protocol.Query, raw string, err error) protocol.Reply {
	reply := e.baseReply(q)
	reply.Kind = ""
	pe := asProtocolError(err)
	reply.Error = pe
	analyst := clip(q.Analyst)
	if e.analysts != nil {
		analyst = "" // unverified: never attributed to the name it claims
	}
	if aerr := e.store.Release(ctx, analyst, func(tx ReleaseTx) error {
		_, err := tx.AppendAudit(ctx, AuditEntry{At: e.now(), Analyst: analyst, Query: raw, Outcome: OutcomeRefused,
			Code: pe.Code, Reason: pe.Message})
		return err
	}); aerr != nil {
		reply.Error = &protocol.Error{Code: protocol.CodeInternal, Message: "audit log unavailable"}
	}
	return reply
}

// answer is the outcome of computing a query before the release decision.
type answer struct {
	sets    []bitset           // patient sets whose aggregates the reply releases (overlap guard)
	regions []*protocol.Filter // the definition of each of sets (region.go); nil: every patient
	// defs, where not nil, is a narrower definition of sets[i] than regions[i] for the guard's
	// region algebra: a model's complete cases (answer.addComplete).
	defs []*protocol.Filter
	// empties are the definitions of cells the reply releases as exactly 0 (a grouped reply's
	// missing group, a variable's missing count): public facts the guard's region algebra
	// uses (definition.go).
	empties []*protocol.Filter
	feas    *feasPending // a feasibility count, decided within the release transaction
	// dp labels a differentially private answer (role dp) and says its cost; it is set also
	// when the answer is a refusal decided on noisy values, whose ρ is charged all the same.
	dp       *protocol.DPEffects
	study    *loadedStudy
	released string // for the audit log
	// table1 is a guarded Table 1 whose linked cells the guard may suppress (table1.go).
	table1 *table1
}

// handle answers q; for a released answer it also returns the reply's JSON, whose SHA-256 the
// audit record holds, so that HandleJSON sends exactly those bytes without encoding them again.
func (e *Engine) handle(ctx context.Context, q protocol.Query, raw string) (protocol.Reply, []byte) {
	reply := e.baseReply(q)
	raw = auditQueryText(q, raw)
	var ans answer
	// The identity comes first: budget, guard and audit are keyed on it, and a query that is
	// not authenticated must neither read data nor spend the budget of the name it claims.
	who, err := e.authenticate(ctx, &q)
	analyst := who.name
	authenticated := err == nil
	if err == nil {
		err = e.checkRole(who, &q)
	}
	if err == nil {
		err = checkQuery(&q)
	}
	if err == nil && q.Kind == protocol.KindScreen {
		return e.handleScreen(ctx, q, raw, who) // each model through this path's rules (screen.go)
	}
	dpForm := q.Kind == protocol.KindCox && q.Cox != nil && q.Cox.Form == protocol.CoxDPTables // a DP release whoever asks
	isDP := authenticated && (who.role == RoleDP || dpForm) && q.Kind != protocol.KindCatalog && q.Version == protocol.Version
	if err == nil && isDP {
		err = e.preCheckDPBudget(ctx, analyst, &q)
	}
	if err == nil {
		ans, err = e.compute(ctx, &q, who, &reply)
	}
	// A feasibility count is charged feasibility_cost of a query to the shared daily budget
	// (and counted against the optional feasibility cap); the guard does not check it (its
	// answer carries no sets) but remembers the set whose answer it gave (guardfeas.go).
	feasibility := authenticated && q.Feasibility && q.Version == protocol.Version
	budgeted := authenticated && q.Kind != protocol.KindCatalog && q.Version == protocol.Version && !q.Feasibility
	guarded := e.policy.OverlapGuard && ans.study != nil && len(ans.sets) > 0 && !isDP
	regions, defs := ans.regionsAndDefs()
	// A set released exactly is also remembered as a feasibility set (feasibility.go), so
	// that a feasibility count near it gets its sticky answer; its noise needs the key, read
	// before the transaction.
	var secret []byte
	registerFeas := err == nil && ans.feas == nil && ans.study != nil && len(ans.sets) > 0 && !isDP && !e.feasibilityExact() && !e.guardLegacy
	if registerFeas {
		if secret, err = e.siteSecret(ctx); err != nil {
			err = errorf(protocol.CodeInternal, "feasibility noise unavailable")
		}
	}

	// Budget, overlap guard, the record of the released sets and the audit record are one
	// transaction (Store.Release), so that two processes serving this database cannot both
	// pass a check before either records; decide keeps this process's guard cache consistent.
	// The reply's hash lets an auditor check a payload an analyst presents later; it is
	// computed before the transaction, which holds the database's write lock, except for a
	// feasibility count, whose answer is decided within it (a few bytes to encode).
	var released string
	var encoded []byte
	var encodeErr error
	releasedText := func(text string) {
		if body, merr := protocol.MarshalReply(reply); merr != nil { // framed when it has Cox rows
			encodeErr = errorf(protocol.CodeInvalid, "reply cannot be encoded (non-finite value)")
		} else {
			encoded = body
			released = text + " reply_sha256=" + HashQuery(string(body))
		}
	}
	if err == nil && ans.feas == nil && ans.dp == nil {
		releasedText(ans.released)
	}
	e.decide.Lock()
	defer e.decide.Unlock()
	var view *guardView
	var fview *feasView
	var entry AuditEntry
	var recordErr error // the released sets could not be saved: the transaction is rolled back
	computeErr := err
	txErr := e.store.Release(ctx, analyst, func(tx ReleaseTx) error {
		err, view, fview, recordErr = computeErr, nil, nil, nil // fn may run more than once
		if err == nil && ans.study != nil && (guarded || ans.feas != nil || registerFeas) {
			err = e.checkLoad(ctx, tx, ans.study)
		}
		if err == nil && (budgeted || feasibility) && e.policy.DailyQueryBudget > 0 {
			err = e.checkDailyBudget(ctx, tx, analyst, feasibility)
		}
		if err == nil && feasibility && e.policy.FeasibilityBudget > 0 {
			err = e.checkFeasibilityCap(ctx, tx, analyst)
		}
		// A refusal decided above from public state (the study's version, the analyst's query
		// counts) leaves nothing computed, so it costs no ρ; one decided on noise does.
		refusedPublicly := err != nil && computeErr == nil
		charged := 0.0 // ρ of a differentially private answer, or of a refusal decided on noise
		if ans.dp != nil && !refusedPublicly {
			// Authoritative: a replica may have spent since the pre-check. Refused here,
			// nothing computed leaves, so nothing is charged.
			left, total, berr := e.checkDPBudget(ctx, tx, analyst, q.Study, ans.dp.Rho)
			if berr != nil {
				err = berr
			} else {
				charged = ans.dp.Rho
				ans.dp.LeftToday, ans.dp.LeftTotal = left, total
				if err == nil {
					reply.Policy.DP = ans.dp
					releasedText(fmt.Sprintf("%s dp rho=%g sigma2=%g", ans.released, ans.dp.Rho, ans.dp.Sigma2))
				}
			}
		}
		if err == nil && ans.feas != nil {
			// The answer of a near-duplicate set asked before, by anyone, else a fresh
			// one, remembered: read and written under the lock that orders releases, so
			// that two replicas cannot answer near duplicates with two draws.
			p := ans.feas
			var given FeasibilitySet
			var serr error
			if fview, given, serr = e.stickyCount(ctx, tx, ans.study, p); serr != nil {
				err = errorf(protocol.CodeInternal, "feasibility state unavailable")
			} else if serr = e.recordFeasibilityGiven(ctx, tx, analyst, ans.study, given, p, &view); serr != nil {
				// The answer joins the analyst's guard memory, refused or not, unless the guard
				// refuses it (guardfeas.go).
				if err = serr; ErrorCode(serr) != protocol.CodeRefusedByPolicy {
					err = errorf(protocol.CodeInternal, "overlap guard state unavailable")
				}
			} else if n, from := given.Answer, given.ID; n < e.policy.MinCohort {
				err = errSmallCohort(e.policy.MinCohort)
			} else {
				reply.Count.Total.N = n
				// The audit log keeps the true size, what left and the set whose answer
				// it is; the noise follows from them, the key never appears.
				text := fmt.Sprintf("feasibility count n=%d released=%d", p.n, n)
				if from != 0 {
					text += fmt.Sprintf(" answer_of_set=%d", from)
				}
				releasedText(text)
			}
		}
		if err == nil && guarded {
			var verr error
			if view, verr = e.guardView(ctx, tx, analyst, ans.study); verr != nil {
				err = errorf(protocol.CodeInternal, "overlap guard state unavailable")
			} else if ans.table1 != nil {
				// Linked cells are suppressed rather than the Table 1 refused (guardtable1.go).
				var changed bool
				if changed, err = view.checkTable1(analyst, &ans, &reply, &regions, &defs); err == nil && changed {
					releasedText(ans.released)
				}
			} else {
				err = view.check(analyst, ans.sets, regions, defs, canonFilters(ans.empties))
			}
		}
		if err == nil {
			err = encodeErr
		}
		entry = AuditEntry{At: e.now(), Analyst: analyst, Kind: string(q.Kind), Study: q.Study, QueryID: q.ID, Query: raw, Budgeted: budgeted, Feasibility: feasibility, Rho: charged}
		if err != nil {
			pe := asProtocolError(err)
			entry.Outcome, entry.Code, entry.Reason = OutcomeRefused, pe.Code, pe.Message
			if pe.Reason == protocol.ReasonDailyBudget || pe.Reason == protocol.ReasonFeasibilityBudget || pe.Reason == protocol.ReasonAnalystRole || pe.Code == protocol.CodeUnavailable {
				// Decided from the analyst's own spending (or role) alone: it tells nothing and
				// costs nothing, so a query refused for the budget does not burn what is left for
				// feasibility counts. (A feasibility count stays marked as one.)
				entry.Budgeted = false
			}
			if !authenticated && q.Analyst != "" {
				entry.Reason += fmt.Sprintf(" (declared analyst %q, not verified)", clip(q.Analyst))
			}
		} else {
			entry.Outcome, entry.Released, entry.Reason = OutcomeReleased, released, effectsText(reply.Policy)
		}
		if err == nil && guarded {
			if recordErr = view.record(ctx, tx, analyst, ans.study, ans.sets, regions, defs, canonFilters(ans.empties)); recordErr != nil {
				return recordErr
			}
		}
		if err == nil && registerFeas {
			if fview, recordErr = e.registerExact(ctx, tx, ans.study, ans.sets, regions, secret); recordErr != nil {
				return recordErr
			}
		}
		_, aerr := tx.AppendAudit(ctx, entry)
		return aerr
	})
	if txErr == nil {
		if view != nil {
			view.commit()
		}
		if fview != nil {
			fview.commit()
		}
	} else {
		// Nothing of the transaction was stored. The refusal is audited on its own; should
		// that fail too, the query still goes unanswered.
		err = errorf(protocol.CodeInternal, "audit log unavailable")
		if recordErr != nil {
			err = errorf(protocol.CodeInternal, "overlap guard state unavailable")
			entry.Outcome, entry.Code, entry.Reason, entry.Released = OutcomeRefused, protocol.CodeInternal, "overlap guard state unavailable", ""
			if rerr := e.store.Release(ctx, analyst, func(tx ReleaseTx) error {
				_, aerr := tx.AppendAudit(ctx, entry)
				return aerr
			}); rerr != nil {
				err = errorf(protocol.CodeInternal, "audit log unavailable")
			}
		}
	}
	if err != nil {
		out := e.baseReply(q)
		out.Error = asProtocolError(err)
		if txErr == nil && entry.Rho > 0 {
			out.Policy.DP = ans.dp // refused on noisy values: the analyst is told what it cost
		}
		return out, nil
	}
	return reply, encoded
}

// checkLoad refuses, within tx, a release computed on a load of the study that a re-import
// has replaced since: its sets were carried over to the new load (carryover.go) and must be
// decided and recorded against that one. The analyst asks again; nothing was released.
func (e *Engine) checkLoad(ctx context.Context, tx ReleaseTx, ls *loadedStudy) error {
	v, err := tx.StudyVersion(ctx, ls.data.Name)
	if err != nil {
		return errorf(protocol.CodeInternal, "overlap guard state unavailable")
	}
	if v != ls.info.Version {
		return errorf(protocol.CodeUnavailable, "study %q was re-imported while this query was answered: ask again", clip(ls.data.Name))
	}
	return nil
}

func effectsText(p protocol.PolicyEffects) string {
	s := fmt.Sprintf("bin_days=%g min_cell=%d min_cohort=%d suppressed=%d merged=%d", p.BinDays, p.MinCell, p.MinCohort, p.SuppressedCells, p.MergedRows)
	if p.TruncatedAfter != nil {
		s += fmt.Sprintf(" truncated_after=%g", *p.TruncatedAfter)
	}
	if p.FeasibilityRounding > 0 {
		s += fmt.Sprintf(" feasibility rounding=%d noise=±%d", p.FeasibilityRounding, p.FeasibilityNoise)
	}
	return s
}

// utcDay is the start of the UTC day of t: budgets renew at 00:00 UTC.
func utcDay(t time.Time) time.Time {
	t = t.UTC()
	return time.Date(t.Year(), t.Month(), t.Day(), 0, 0, 0, 0, time.UTC)
}

// budgetEpsilon absorbs the rounding of summed fractional costs (feasibility_cost 0.1 ten
// times is one query).
const budgetEpsilon = 1e-9

// dailySpent is what the analyst has spent of the shared daily budget today (UTC), within tx,
// from the audit log: every budgeted query costs 1 and every feasibility count the policy's
// feasibility_cost, released or refused alike (but a query refused for the budget is not
// recorded as budgeted).
func (e *Engine) dailySpent(ctx context.Context, tx ReleaseTx) (spent float64, queries, feas int, err error) {
	day := utcDay(e.now())
	if queries, err = tx.CountQueries(ctx, day); err != nil {
		return 0, 0, 0, err
	}
	if feas, err = tx.CountFeasibility(ctx, day); err != nil {
		return 0, 0, 0, err
	}
	return float64(queries) + float64(feas)*e.policy.FeasibilityCost, queries, feas, nil
}

// checkDailyBudget refuses, within tx, a query (cost 1) or a feasibility count (cost
// feasibility_cost) that the analyst's shared daily budget (daily_query_budget, UTC day) can no
// longer pay for, saying what was spent on what.
func (e *Engine) checkDailyBudget(ctx context.Context, tx ReleaseTx, analyst string, feasibility bool) error {
	spent, queries, feas, err := e.dailySpent(ctx, tx)
	if err != nil {
		return errorf(protocol.CodeInternal, "query budget unavailable")
	}
	cost, what := 1.0, "a query costs 1"
	if feasibility {
		cost, what = e.policy.FeasibilityCost, fmt.Sprintf("a feasibility count costs %g", e.policy.FeasibilityCost)
	}
	limit := e.policy.DailyQueryBudget
	if spent+cost > float64(limit)+budgetEpsilon {
		return refusef(protocol.ReasonDailyBudget, float64(limit),
			"daily query budget of %d queries used up for analyst %q: %d queries and %d feasibility counts (at %g of a query each) today make %g; %s (the budget renews at 00:00 UTC)",
			limit, clip(analyst), queries, feas, e.policy.FeasibilityCost, spent, what)
	}
	return nil
}

// checkFeasibilityCap refuses, within tx, a feasibility count once the analyst has asked
// feasibility_budget of them today (UTC): the optional extra cap on top of the shared budget.
func (e *Engine) checkFeasibilityCap(ctx context.Context, tx ReleaseTx, analyst string) error {
	n, err := tx.CountFeasibility(ctx, utcDay(e.now()))
	if err != nil {
		return errorf(protocol.CodeInternal, "feasibility budget unavailable")
	}
	if limit := e.policy.FeasibilityBudget; n >= limit {
		return refusef(protocol.ReasonFeasibilityBudget, float64(limit), "daily feasibility budget of %d counts used up for analyst %q (the budget renews at 00:00 UTC)", limit, clip(analyst))
	}
	return nil
}

// study returns the in-memory study, loading it on first use and again whenever the store
// holds a newer version (a re-import).
func (e *Engine) study(ctx context.Context, name string) (*loadedStudy, error) {
	infos, err := e.store.Studies(ctx)
	if err != nil {
		return nil, err
	}
	var info *StudyInfo
	for i := range infos {
		if infos[i].Name == name {
			info = &infos[i]
		}
	}
	if info == nil {
		return nil, errorf(protocol.CodeNotFound, "no study %q at site %q", clip(name), e.site)
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	if ls, ok := e.cache[name]; ok && ls.info.Version == info.Version {
		return ls, nil
	}
	st, si, err := e.store.LoadStudy(ctx, name)
	if err != nil {
		return nil, err
	}
	ls := newLoadedStudy(st, si)
	e.cache[name] = ls
	return ls, nil
}

// compute validates the query against the study and computes the reply's payload under the
// policy. It touches patient values only after every name in the query has been resolved.
func (e *Engine) compute(ctx context.Context, q *protocol.Query, who identity, reply *protocol.Reply) (answer, error) {
	if q.Kind == protocol.KindCatalog {
		cat, err := e.catalog(ctx, q.Study)
		if err != nil {
			return answer{}, err
		}
		if e.analysts != nil {
			if cat.You, err = e.standing(ctx, who, cat); err != nil {
				return answer{}, err
			}
		}
		reply.Catalog = cat
		return answer{released: fmt.Sprintf("catalog of %d studies", len(cat.Studies))}, nil
	}
	ls, err := e.study(ctx, q.Study)
	if err != nil {
		return answer{}, err
	}
	if q.Cohort != nil {
		if err := ls.checkFilterNames(q.Cohort, "cohort"); err != nil {
			return answer{}, err
		}
	}
	var group *VariableData
	if q.GroupBy != "" {
		group = ls.vars[q.GroupBy]
		if group == nil {
			return answer{}, errorf(protocol.CodeNotFound, "group_by: no variable %q in study %q", clip(q.GroupBy), ls.data.Name)
		}
		if group.Type != protocol.Categorical {
			if group = ls.integerGroups(group); group == nil {
				return answer{}, errorf(protocol.CodeInvalid, "group_by: %q is numeric without a declared range of at most %d integers (min and max in the study's dictionary); group by a categorical variable", q.GroupBy, maxNumericGroups)
			}
		}
		if len(group.Categories) > maxGroups {
			return answer{}, errorf(protocol.CodeInvalid, "group_by: %q has %d categories, more than %d", q.GroupBy, len(group.Categories), maxGroups)
		}
		if len(q.Merge) > 0 {
			if ls.vars[q.GroupBy].Type != protocol.Categorical {
				return answer{}, errorf(protocol.CodeInvalid, "merge: only a categorical variable's levels are merged; %q is numeric", q.GroupBy)
			}
			if group, err = mergeLevels(group, q.Merge); err != nil {
				return answer{}, errorf(protocol.CodeInvalid, "%v", err)
			}
		}
	}
	if err := e.checkKindNames(ls, q); err != nil {
		return answer{}, err
	}
	if err := ctx.Err(); err != nil {
		return answer{}, errorf(protocol.CodeUnavailable, "query cancelled: %v", err)
	}
	c := &cohort{study: ls, filter: q.Cohort, rows: ls.evalFilter(q.Cohort), group: group}
	c.n = c.rows.count()
	var ans answer
	if who.role == RoleDP || (q.Kind == protocol.KindCox && q.Cox.Form == protocol.CoxDPTables) {
		// The thresholds are applied to the noisy sizes (dprelease.go). A trusted analyst who
		// asks the dp_tables form (a client on a network where it is dp at other sites) gets
		// the same differentially private release, charged to its ρ budget.
		switch q.Kind {
		case protocol.KindCount:
			ans, err = e.dpCount(c, q, reply)
		case protocol.KindSurvival:
			ans, err = e.dpSurvival(c, q, reply)
		case protocol.KindSummary:
			ans, err = e.dpSummary(c, q, reply)
		case protocol.KindCox:
			ans, err = e.dpCox(c, q, reply)
		default:
			panic("node: dp release of an unchecked kind " + string(q.Kind))
		}
		ans.study = ls
		reply.DataCut = ls.data.DataCut
		return ans, err
	}
	if c.n < e.policy.MinCohort {
		return answer{}, errSmallCohort(e.policy.MinCohort)
	}
	switch {
	case q.Feasibility: // an ungrouped count (checkQuery)
		ans, err = e.feasibilityCount(ctx, c, reply)
	case q.Kind == protocol.KindCount:
		ans, err = e.count(c, reply)
	case q.Kind == protocol.KindSummary:
		ans, err = e.summary(c, q, reply)
	case q.Kind == protocol.KindSurvival:
		ans, err = e.survival(c, q, reply)
	case q.Kind == protocol.KindCox:
		ans, err = e.cox(c, q, reply)
	case q.Kind == protocol.KindFineGray:
		ans, err = e.fineGray(c, q, reply)
	case q.Kind == protocol.KindIPW:
		ans, err = e.ipw(c, q, reply)
	default:
		panic("node: unchecked kind " + string(q.Kind))
	}
	for len(ans.regions) < len(ans.sets) {
		ans.regions = append(ans.regions, q.Cohort) // a kind that does not say (Cox's complete cases)
	}
	ans.study = ls
	reply.DataCut = ls.data.DataCut
	return ans, err
}

// maxGroups bounds the categories of a grouping variable.
const maxGroups = 256

// checkKindNames resolves the kind-specific names (endpoint, summary variables, covariates).
func (e *Engine) checkKindNames(ls *loadedStudy, q *protocol.Query) error {
	switch q.Kind {
	case protocol.KindSurvival, protocol.KindCox, protocol.KindIPW, protocol.KindFineGray:
		if ls.eps[q.Endpoint] == nil {
			return errorf(protocol.CodeNotFound, "no endpoint %q in study %q", clip(q.Endpoint), ls.data.Name)
		}
	}
	switch q.Kind {
	case protocol.KindSummary:
		for i, name := range q.Variables {
			if ls.vars[name] == nil {
				return errorf(protocol.CodeNotFound, "variables[%d]: no variable %q in study %q", i, clip(name), ls.data.Name)
			}
		}
		for i, b := range q.Bins {
			if ls.vars[b.Variable].Type != protocol.Numeric {
				return errorf(protocol.CodeInvalid, "bins[%d]: %q is categorical", i, b.Variable)
			}
		}
	case protocol.KindIPW:
		return checkIPWNames(ls, q.IPW)
	case protocol.KindCox, protocol.KindFineGray:
		for i, name := range q.Cox.Covariates {
			if ls.vars[name] == nil {
				return errorf(protocol.CodeNotFound, "cox.covariates[%d]: no variable %q in study %q", i, clip(name), ls.data.Name)
			}
		}
		for name, l := range q.Cox.Indicators {
			if ls.vars[name].Type != protocol.Categorical {
				return errorf(protocol.CodeInvalid, "cox.indicators: %q is numeric", name)
			}
			if _, ok := ls.catIndex[name][l]; !ok {
				return errorf(protocol.CodeNotFound, "cox.indicators[%q]: no category %q", name, clip(l))
			}
		}
		for name, lv := range q.Cox.Levels {
			v := ls.vars[name]
			if v.Type != protocol.Categorical {
				return errorf(protocol.CodeInvalid, "cox.levels: %q is numeric", name)
			}
			// The levels are the declared categories, reordered (the first is the reference):
			// an unknown one is not_found like a filter's, and one left out would make the
			// design fail exactly when a patient holds it, telling that someone does.
			for _, l := range lv {
				if _, ok := ls.catIndex[name][l]; !ok {
					return errorf(protocol.CodeNotFound, "cox.levels[%q]: no category %q", name, clip(l))
				}
			}
			if len(lv) != len(v.Categories) {
				return errorf(protocol.CodeInvalid, "cox.levels[%q]: give every declared category (%d), in the order wanted, the reference first", name, len(v.Categories))
			}
		}
		for name := range q.Cox.Origin {
			if ls.vars[name].Type != protocol.Numeric {
				return errorf(protocol.CodeInvalid, "cox.origin: %q is categorical (an origin shifts a numeric covariate)", clip(name))
			}
		}
		if s := q.Cox.Strata; s != "" {
			v := ls.vars[s]
			if v == nil {
				return errorf(protocol.CodeNotFound, "cox.strata: no variable %q", clip(s))
			}
			if v.Type != protocol.Categorical {
				return errorf(protocol.CodeInvalid, "cox.strata: %q is numeric", s)
			}
		}
	}
	return nil
}
