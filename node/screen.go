package node

import (
	"context"
	"encoding/json"
	"fmt"
	"runtime"
	"sync"

	"github.com/oncofed/oncofed/protocol"
)

// A screen query (protocol.KindScreen) carries one Newton–Raphson round of many Cox models of
// one cohort: a biomarker screen's markers. The site answers each model exactly as it answers
// the cox query the model stands for (protocol.Query.ModelQuery), through the same code:
//
//   - compute (e.cox): the β cap, the design-column rule (min_cell patients and events in every
//     column, e.g. marker-positive and treated marker-positive patients), the weight-spread rule
//     and min_cohort over the model's complete cases, each model on its own;
//   - one release transaction for the whole batch, deciding the models in request order as if
//     they had arrived one after another: each costs one query of the daily budget (a model the
//     budget cannot pay is refused for it), each model's complete-case set passes the overlap
//     guard against everything released before, the earlier models of the batch included, and
//     each gets its own audit record.
//
// A refused model sits out with its reason; the others are answered. So the answers and
// refusals of a screen are those of the same models sent one by one in the same order
// (TestScreenBatchRefusesAsIndividual), and a screen is never a cheaper differencing attack:
// it costs what the models cost and the guard sees every set.

// handleScreen answers the screen query q of an authenticated analyst once it passed
// checkQuery and checkRole (a dp analyst gets only screens of dp_tables models: screen_dp.go).
func (e *Engine) handleScreen(ctx context.Context, q protocol.Query, raw string, who identity) (protocol.Reply, []byte) {
	if isDPScreen(&q) {
		return e.handleScreenDP(ctx, q, raw, who)
	}
	analyst := who.name
	models := q.Screen.Models
	outs := make([]screenModel, len(models))
	e.computeScreen(ctx, q, who, outs)
	rawHash := HashQuery(raw)
	for k := range outs {
		outs[k].audit = screenAuditText(q.ModelQuery(k), k, rawHash)
	}
	var ls *loadedStudy
	for _, o := range outs {
		if o.ans.study != nil {
			ls = o.ans.study
			break
		}
	}
	guarded := e.policy.OverlapGuard && ls != nil
	registerFeas := ls != nil && !e.feasibilityExact() && !e.guardLegacy
	var secret []byte
	if registerFeas {
		var err error
		if secret, err = e.siteSecret(ctx); err != nil {
			for k := range outs {
				if outs[k].err == nil {
					outs[k].err = errorf(protocol.CodeInternal, "feasibility noise unavailable")
				}
			}
		}
	}

	e.decide.Lock()
	defer e.decide.Unlock()
	var view *guardView
	var fview *feasView
	var recordErr error
	decided := make([]error, len(outs))
	txErr := e.store.Release(ctx, analyst, func(tx ReleaseTx) error {
		view, fview, recordErr = nil, nil, nil // fn may run more than once
		var loadErr error
		loadChecked := false
		var released []bitset
		var releasedRegions []string
		for k := range outs {
			o := &outs[k]
			err := o.err
			if err == nil && !loadChecked {
				loadErr, loadChecked = e.checkLoad(ctx, tx, o.ans.study), true
			}
			if err == nil {
				err = loadErr
			}
			if err == nil && e.policy.DailyQueryBudget > 0 {
				err = e.checkDailyBudget(ctx, tx, analyst, false)
			}
			if err == nil && guarded && len(o.ans.sets) > 0 {
				if view == nil {
					var verr error
					if view, verr = e.guardView(ctx, tx, analyst, ls); verr != nil {
						view = nil
						err = errorf(protocol.CodeInternal, "overlap guard state unavailable")
					}
				}
				if view != nil {
					err = view.check(analyst, o.ans.sets, o.regions, o.defs, canonFilters(o.ans.empties))
				}
			}
			entry := AuditEntry{At: e.now(), Analyst: analyst, Kind: string(protocol.KindScreen), Study: q.Study, QueryID: q.ID, Query: o.audit, Budgeted: true}
			if err != nil {
				pe := asProtocolError(err)
				entry.Outcome, entry.Code, entry.Reason = OutcomeRefused, pe.Code, pe.Message
				if pe.Reason == protocol.ReasonDailyBudget || pe.Code == protocol.CodeUnavailable {
					entry.Budgeted = false // as handle: decided on the analyst's own spending
				}
			} else {
				entry.Outcome, entry.Released, entry.Reason = OutcomeReleased, o.released, effectsText(o.reply.Policy)
				if guarded && len(o.ans.sets) > 0 {
					if recordErr = view.record(ctx, tx, analyst, ls, o.ans.sets, o.regions, o.defs, canonFilters(o.ans.empties)); recordErr != nil {
						return recordErr
					}
				}
				released = append(released, o.ans.sets...)
				releasedRegions = append(releasedRegions, o.regions...)
			}
			decided[k] = err
			if _, aerr := tx.AppendAudit(ctx, entry); aerr != nil {
				return aerr
			}
		}
		if registerFeas && len(released) > 0 {
			if fview, recordErr = e.registerExact(ctx, tx, ls, released, releasedRegions, secret); recordErr != nil {
				return recordErr
			}
		}
		return nil
	})
	if txErr != nil {
		// Nothing of the transaction was stored; the refusal is audited on its own.
		msg := "audit log unavailable"
		if recordErr != nil {
			msg = "overlap guard state unavailable"
		}
		out := e.baseReply(q)
		out.Error = &protocol.Error{Code: protocol.CodeInternal, Message: msg}
		if aerr := e.store.Release(ctx, analyst, func(tx ReleaseTx) error {
			_, err := tx.AppendAudit(ctx, AuditEntry{At: e.now(), Analyst: analyst, Kind: string(q.Kind), Study: q.Study, QueryID: q.ID,
				Query: raw, Outcome: OutcomeRefused, Code: protocol.CodeInternal, Reason: msg})
			return err
		}); aerr != nil {
			out.Error.Message = "audit log unavailable"
		}
		return out, nil
	}
	if view != nil {
		view.commit()
	}
	if fview != nil {
		fview.commit()
	}
	return e.screenReply(q, ls, outs, decided)
}

// screenModel is one model of a screen between computing and deciding.
type screenModel struct {
	ans      answer
	err      error
	reply    protocol.Reply // the model's reply as the cox query's (Policy, Cox)
	body     []byte         // the JSON of the model's entry in the screen reply
	block    []byte         // its pooled rows' binary block (protocol.FrameCoxRows), or nil
	released string         // for the audit log, with the hash of body
	regions  []string
	defs     []*protocol.Filter
	audit    string
}

// computeScreen computes every model as the cox query it stands for, a few at a time.
func (e *Engine) computeScreen(ctx context.Context, q protocol.Query, who identity, outs []screenModel) {
	next := make(chan int)
	var wg sync.WaitGroup
	for w := 0; w < min(runtime.GOMAXPROCS(0), len(outs)); w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for k := range next {
				o := &outs[k]
				mq := q.ModelQuery(k)
				o.reply = e.baseReply(mq)
				o.ans, o.err = e.compute(ctx, &mq, who, &o.reply)
				if o.err != nil {
					continue
				}
				o.regions, o.defs = o.ans.regionsAndDefs()
				// Pooled rows travel framed, after the reply's JSON (protocol.MarshalReply);
				// the audit hash covers the model's entry with its block.
				cox, block := protocol.FrameCoxRows(o.reply.Cox)
				body, err := json.Marshal(protocol.ScreenModelReply{Policy: &o.reply.Policy, Cox: cox})
				if err != nil {
					o.err = errorf(protocol.CodeInvalid, "reply cannot be encoded (non-finite value)")
					continue
				}
				o.body, o.block = body, block
				o.released = o.ans.released + " reply_sha256=" + HashQuery(string(protocol.AppendReplyBlocks(body, block)))
			}
		}()
	}
	for k := range outs {
		next <- k
	}
	close(next)
	wg.Wait()
}

// screenReply assembles the reply from the models' encoded entries (a pooled round's entries
// run to hundreds of kilobytes each: they are encoded once, and their hashes are those the
// audit log holds).
func (e *Engine) screenReply(q protocol.Query, ls *loadedStudy, outs []screenModel, decided []error) (protocol.Reply, []byte) {
	reply := e.baseReply(q)
	if ls != nil {
		reply.DataCut = ls.data.DataCut
	}
	reply.Screen = &protocol.ScreenReply{Models: make([]protocol.ScreenModelReply, len(outs))}
	entries := make([][]byte, len(outs))
	var blocks [][]byte
	for k, o := range outs {
		if err := decided[k]; err != nil {
			m := protocol.ScreenModelReply{Error: asProtocolError(err)}
			reply.Screen.Models[k] = m
			entries[k], _ = json.Marshal(m)
			continue
		}
		pol := o.reply.Policy
		reply.Screen.Models[k] = protocol.ScreenModelReply{Policy: &pol, Cox: o.reply.Cox}
		entries[k] = o.body
		if o.block != nil {
			blocks = append(blocks, o.block)
		}
	}
	// The reply without its payload ends with "}"; the payload's entries, valid JSON each, go
	// before it as they are (encoding/json would check and copy every byte of them again).
	head := reply
	head.Screen = nil
	body, err := json.Marshal(head)
	if err != nil || len(body) == 0 || body[len(body)-1] != '}' {
		return reply, nil // HandleJSON encodes it again
	}
	out := append(body[:len(body)-1:len(body)-1], `,"screen":{"models":[`...)
	for k, b := range entries {
		if k > 0 {
			out = append(out, ',')
		}
		out = append(out, b...)
	}
	return reply, protocol.AppendReplyBlocks(append(out, "]}}"...), blocks...)
}

// screenAuditText is what the audit log records of the k-th model of a screen: the cox query
// it stands for, with the model's place and the SHA-256 of the whole screen query as received.
// A pooled_hessian model's weights are recorded as their digest and lengths, as for a cox query
// (auditQueryText), but without the digest of the model query's own JSON: the node composed that
// query (its bytes were never signed), and the screen query's digest with the model's place
// name it; so the weights — a site's T numbers, most of a pooled round's query — are not
// encoded once more per model just to be hashed.
func screenAuditText(mq protocol.Query, k int, screenSHA256 string) string {
	var query any = mq
	if mq.Cox != nil && mq.Cox.Weights != nil {
		stripped, cox := mq, *mq.Cox
		cox.Weights = nil
		stripped.Cox = &cox
		query = struct {
			Query         protocol.Query `json:"query"`
			WeightsSHA256 string         `json:"weights_sha256"`
			Weights       [2]int         `json:"weights"`
		}{stripped, weightsDigest(mq.Cox.Weights), [2]int{len(mq.Cox.Weights.A), len(mq.Cox.Weights.B)}}
	}
	b, err := json.Marshal(struct {
		ScreenSHA256 string `json:"screen_query_sha256"`
		Model        int    `json:"model"`
		Query        any    `json:"query"`
	}{screenSHA256, k, query})
	if err != nil {
		return fmt.Sprintf(`{"screen_query_sha256":%q,"model":%d}`, screenSHA256, k)
	}
	return string(b)
}
