package node

import (
	"context"
	"fmt"
	"math/big"
	"runtime"
	"strings"
	"sync"

	"github.com/oncofed/oncofed/protocol"
)

// A differentially private biomarker screen (docs/dp-cox.md, "The differentially private
// screen") is a screen query whose models all have the dp_tables form. It is one release: the
// site releases every marker model's tables (dpCoxAt, the dp_tables form's mechanism and rules)
// at ρ_total/K each, K the number of models, ρ_total the analyst's choice (screen.rho) or the
// site's dp_rho_screen (by default dp_rho_cox: a whole screen costs what one model costs).
// Each model's tables hold every patient of the cohort with the model's covariates, so the
// models compose sequentially under zCDP: their ρ add up to ρ_total.
//
// Accounting, as every dp release's: the declared ρ_total is checked against the analyst's
// daily and lifetime budgets before anything is computed (public: the query and the ledger);
// then, in one release transaction with the audit record, the site charges exactly what it
// noised — ρ_total/K for every model whose tables were drawn (released, or refused on the noisy
// tables: min_cohort, events, design columns), nothing for a model refused from the query and
// the dictionary alone (an unknown marker, more than maxDPCoxPatterns patterns) — so the charge
// never exceeds ρ_total and equals it when every model was drawn. The whole screen is one
// query of the daily query budget and one audit record (its models' releases and the reply's
// hash). The overlap guard does not apply (its refusals would depend on exact sets);
// differencing is what the ρ budget accounts for.

// isDPScreen reports whether q is a differentially private screen: a screen of dp_tables models
// (the protocol makes every model of a screen have the first one's form).
func isDPScreen(q *protocol.Query) bool {
	return q.Kind == protocol.KindScreen && q.Screen != nil && len(q.Screen.Models) > 0 && q.Screen.Models[0].Form == protocol.CoxDPTables
}

// dpScreenRho is the total ρ of the differentially private screen q: the analyst's choice, else
// the policy's dp_rho_screen, else its dp_rho_cox.
func (e *Engine) dpScreenRho(q *protocol.Query) float64 {
	switch {
	case q.Screen.Rho > 0:
		return q.Screen.Rho
	case e.policy.DPRhoScreen > 0:
		return e.policy.DPRhoScreen
	}
	return e.policy.DPRhoCox
}

// dpScreenModel is one model of a differentially private screen between computing and
// deciding: its reply as the dp_tables query's (Policy, Cox), the answer, or its refusal.
type dpScreenModel struct {
	reply protocol.Reply
	ans   answer
	err   error
}

// handleScreenDP answers the differentially private screen q of an authenticated analyst.
func (e *Engine) handleScreenDP(ctx context.Context, q protocol.Query, raw string, who identity) (protocol.Reply, []byte) {
	analyst := who.name
	total := e.dpCost(&q)
	per := new(big.Rat).Quo(ratOf(total), big.NewRat(int64(len(q.Screen.Models)), 1))
	err := e.preCheckDPBudget(ctx, analyst, &q)
	computed := false
	var outs []dpScreenModel
	var ls *loadedStudy
	if err == nil {
		ls, outs, err = e.computeScreenDP(ctx, q, per)
		computed = err == nil
	}

	e.decide.Lock()
	defer e.decide.Unlock()
	var reply protocol.Reply
	var encoded []byte
	computeErr := err
	txErr := e.store.Release(ctx, analyst, func(tx ReleaseTx) error {
		err := computeErr // fn may run more than once
		charged := new(big.Rat)
		var leftToday, leftTotal float64
		if err == nil && e.policy.DailyQueryBudget > 0 {
			err = e.checkDailyBudget(ctx, tx, analyst, false)
		}
		if err == nil {
			for _, o := range outs {
				if o.ans.dp != nil {
					charged.Add(charged, per)
				}
			}
			// Authoritative: a replica may have spent since the pre-check.
			if leftToday, leftTotal, err = e.checkDPBudget(ctx, tx, analyst, q.Study, floatOf(charged)); err != nil {
				charged.SetInt64(0)
			}
		}
		entry := AuditEntry{At: e.now(), Analyst: analyst, Kind: string(q.Kind), Study: q.Study, QueryID: q.ID, Query: raw, Budgeted: computed}
		if err == nil {
			var released string
			reply, encoded, released, err = e.dpScreenReply(q, ls, outs, charged, leftToday, leftTotal)
			entry.Rho = floatOf(charged)
			entry.Outcome, entry.Released, entry.Reason = OutcomeReleased, released, effectsText(reply.Policy)
		}
		if err != nil {
			pe := asProtocolError(err)
			entry.Outcome, entry.Code, entry.Reason = OutcomeRefused, pe.Code, pe.Message
			if pe.Reason == protocol.ReasonDailyBudget || pe.Reason == protocol.ReasonPrivacyBudget {
				entry.Budgeted = false // decided from the analyst's own spending: tells and costs nothing
			}
			reply, encoded = e.baseReply(q), nil
			reply.Error = pe
		}
		_, aerr := tx.AppendAudit(ctx, entry)
		return aerr
	})
	if txErr != nil {
		out := e.baseReply(q)
		out.Error = &protocol.Error{Code: protocol.CodeInternal, Message: "audit log unavailable"}
		return out, nil
	}
	return reply, encoded
}

// computeScreenDP releases every model's tables at ρ = per on the screen's one cohort. A model
// the query or the dictionary rules out (an unknown marker, a numeric one without a declared
// range, too many patterns) is refused alone, before anything of it is drawn; what rules out the
// whole screen (study, endpoint, cohort filter) is returned.
func (e *Engine) computeScreenDP(ctx context.Context, q protocol.Query, per *big.Rat) (*loadedStudy, []dpScreenModel, error) {
	ls, err := e.study(ctx, q.Study)
	if err != nil {
		return nil, nil, err
	}
	if q.Cohort != nil {
		if err := ls.checkFilterNames(q.Cohort, "cohort"); err != nil {
			return nil, nil, err
		}
	}
	if ls.eps[q.Endpoint] == nil {
		return nil, nil, errorf(protocol.CodeNotFound, "no endpoint %q in study %q", clip(q.Endpoint), ls.data.Name)
	}
	if err := ctx.Err(); err != nil {
		return nil, nil, errorf(protocol.CodeUnavailable, "query cancelled: %v", err)
	}
	c := &cohort{study: ls, filter: q.Cohort, rows: ls.evalFilter(q.Cohort)}
	c.n = c.rows.count()
	outs := make([]dpScreenModel, len(q.Screen.Models))
	next := make(chan int)
	var wg sync.WaitGroup
	for range min(runtime.GOMAXPROCS(0), len(outs)) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for k := range next {
				o := &outs[k]
				mq := q.ModelQuery(k)
				o.reply = e.baseReply(mq)
				if o.err = e.checkKindNames(ls, &mq); o.err != nil {
					continue
				}
				if o.err = e.dpCoxRefusal(c, &mq); o.err != nil {
					continue
				}
				o.ans, o.err = e.dpCoxAt(c, &mq, &o.reply, per)
				if o.ans.dp != nil {
					o.reply.Policy.DP = o.ans.dp
				}
			}
		}()
	}
	for k := range outs {
		next <- k
	}
	close(next)
	wg.Wait()
	return ls, outs, nil
}

// dpScreenReply is the reply of a differentially private screen, its JSON and the audit log's
// text of what it released: each model's tables (labelled with its ρ) or refusal, the whole
// screen's ρ charged and the budget left in the reply's own policy effects.
func (e *Engine) dpScreenReply(q protocol.Query, ls *loadedStudy, outs []dpScreenModel, charged *big.Rat, leftToday, leftTotal float64) (protocol.Reply, []byte, string, error) {
	reply := e.baseReply(q)
	reply.DataCut = ls.data.DataCut
	reply.Screen = &protocol.ScreenReply{Models: make([]protocol.ScreenModelReply, len(outs))}
	var texts []string
	var sigma2 float64
	for k, o := range outs {
		if o.err != nil {
			reply.Screen.Models[k] = protocol.ScreenModelReply{Error: asProtocolError(o.err)}
			texts = append(texts, fmt.Sprintf("model %d refused", k))
			continue
		}
		pol := o.reply.Policy
		reply.Screen.Models[k] = protocol.ScreenModelReply{Policy: &pol, Cox: o.reply.Cox}
		texts = append(texts, fmt.Sprintf("model %d %s", k, o.ans.released))
		sigma2 = max(sigma2, o.ans.dp.Sigma2)
	}
	if charged.Sign() > 0 {
		// The screen's own label: what it cost in all; σ² the largest of its models' (one
		// number is asked of every dp label; each model's own is in its policy effects).
		f := floatOf(charged)
		if sigma2 == 0 {
			sigma2 = 1 // every drawn model was refused on its noisy tables
		}
		reply.Policy.DP = &protocol.DPEffects{Mechanism: "survival-sqrt", Rho: f, Sigma2: sigma2, LeftToday: leftToday, LeftTotal: leftTotal}
	}
	body, err := protocol.MarshalReply(reply)
	if err != nil {
		return reply, nil, "", errorf(protocol.CodeInvalid, "reply cannot be encoded (non-finite value)")
	}
	text := fmt.Sprintf("dp screen %s models=%d %s dp rho=%g reply_sha256=%s", q.Endpoint, len(outs), strings.Join(texts, "; "), floatOf(charged), HashQuery(string(body)))
	return reply, body, text, nil
}
