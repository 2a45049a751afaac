package app

import (
	"context"
	"slices"
	"sync"

	"github.com/oncofed/oncofed/protocol"
)

// screenBatch carries the Newton–Raphson rounds of every marker's Cox fit in a screen as
// screen queries (protocol.KindScreen): each marker's fit runs Service.fitCoxModelVia, as a
// single Cox model does, and its round waits at a barrier until every marker still fitting
// has asked its own; then one screen query carries them all, and each fit gets back its own
// model's replies as if it had asked alone. Models go in marker order, so each site decides
// them (budget, overlap guard) in the order a screen of single models would have asked.
//
// A round can hold both kinds of Cox requests: broadcast ones (stratified, pooled phase 1) go
// in one screen query to every site; the phase-2 requests of a pooled round, which carry each
// site's own weights, in one screen query addressed to each site (Network.QueryEach). A batch
// larger than the chunk (screenChunk) is sent as several queries, one after another, in
// order.
type screenBatch struct {
	s     *Service
	chunk int

	mu      sync.Mutex
	active  int // fits that have not returned
	pending []*batchCall
	queries int // scatter-gathers sent
	// rounds are the screen queries sent, each with the digests of its replies (the first
	// also with its replies, for the result's provenance), and first the first one's
	// scatter-gather: what a stored screen keeps of its network traffic.
	rounds []Round
	first  *Gathered
	failed error // a round's replies could not be digested
}

// batchCall is one fit's request of a round, waiting for the batch.
type batchCall struct {
	marker int
	q      protocol.Query            // a broadcast request (qs nil)
	qs     map[string]protocol.Query // a request addressed to each site
	qctx   context.Context
	done   chan batchResult
}

type batchResult struct {
	g   *Gathered
	err error
}

// Chunks of a screen's batch: a stratified model's reply is a few numbers, a pooled phase-1
// reply a row per distinct time (about 0.35 MB at 100,000 patients a site: 32 of them make 11 MB) and a phase-2
// request the site's weights (up to protocol.MaxQueryBytes), so a pooled batch is split to
// keep every message well inside the hub's payload limit and protocol.MaxScreenQueryBytes.
const (
	screenChunkStratified = protocol.MaxScreenModels
	screenChunkPooled     = 32
)

func screenChunk(form protocol.CoxForm) int {
	if coxForm(form) == protocol.CoxPooled {
		return screenChunkPooled
	}
	return screenChunkStratified
}

func newScreenBatch(s *Service, markers int, chunk int) *screenBatch {
	return &screenBatch{s: s, chunk: chunk, active: markers}
}

// fitter is the CoxFitter of the marker-th marker: Service.FitCoxModel through the batch.
// Each marker's fitter must be called exactly once (the batch waits for every marker).
func (b *screenBatch) fitter(marker int) CoxFitter {
	return func(ctx context.Context, req Request) (*CoxModel, error) {
		defer b.finish()
		req.Kind = protocol.KindCox
		if err := b.s.prepare(ctx, &req); err != nil {
			return nil, err
		}
		return b.s.fitCoxModelVia(ctx, req, batchTransport{b, marker})
	}
}

// skip tells the batch that the marker-th marker will not be fitted (the screen stopped).
func (b *screenBatch) skip() { b.finish() }

// finish takes a fit out of the barrier.
func (b *screenBatch) finish() {
	b.mu.Lock()
	b.active--
	calls := b.ready()
	b.mu.Unlock()
	if calls != nil {
		go b.send(calls)
	}
}

// ready returns the round to send once every active fit has asked, else nil; b.mu held.
func (b *screenBatch) ready() []*batchCall {
	if len(b.pending) == 0 || len(b.pending) < b.active {
		return nil
	}
	calls := b.pending
	b.pending = nil
	return calls
}

// ask queues c and waits for its result.
func (b *screenBatch) ask(ctx context.Context, c *batchCall) (*Gathered, error) {
	c.done = make(chan batchResult, 1)
	b.mu.Lock()
	b.pending = append(b.pending, c)
	calls := b.ready()
	b.mu.Unlock()
	if calls != nil {
		go b.send(calls)
	}
	select {
	case r := <-c.done:
		return r.g, r.err
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// send sends one round: the broadcast requests, then the addressed ones, each in marker order
// and in chunks, and hands every fit its own gathered replies.
func (b *screenBatch) send(calls []*batchCall) {
	slices.SortFunc(calls, func(x, y *batchCall) int { return x.marker - y.marker })
	var broadcast, each []*batchCall
	for _, c := range calls {
		if c.qs == nil {
			broadcast = append(broadcast, c)
		} else {
			each = append(each, c)
		}
	}
	for part := range slices.Chunk(broadcast, b.chunk) {
		b.sendBroadcast(part)
	}
	for part := range slices.Chunk(each, b.chunk) {
		b.sendEach(part)
	}
}

// ctxOf is the context of a round: the first call's (the fits of a screen share one).
func ctxOf(calls []*batchCall) context.Context { return calls[0].qctx }

func (b *screenBatch) sendBroadcast(calls []*batchCall) {
	q := calls[0].q
	q.ID, q.Kind, q.Cox = b.s.newID(), protocol.KindScreen, nil
	q.Screen = &protocol.ScreenRequest{Models: make([]protocol.CoxRequest, len(calls))}
	for k, c := range calls {
		q.Screen.Models[k] = *c.q.Cox
	}
	b.count()
	g, err := b.s.query(ctxOf(calls), q)
	if err == nil {
		b.record(q, g)
	}
	for k, c := range calls {
		if err != nil {
			c.done <- batchResult{err: err}
			continue
		}
		c.done <- batchResult{g: modelGathered(g, k, c.q)}
	}
}

func (b *screenBatch) sendEach(calls []*batchCall) {
	qs := map[string]protocol.Query{}
	for site := range calls[0].qs {
		q := calls[0].qs[site]
		q.ID, q.Kind, q.Cox = b.s.newID(), protocol.KindScreen, nil
		q.Screen = &protocol.ScreenRequest{}
		for _, c := range calls {
			m, ok := c.qs[site]
			if !ok {
				continue // cannot happen: every fit of a round asks the same sites
			}
			q.Screen.Models = append(q.Screen.Models, *m.Cox)
		}
		qs[site] = q
	}
	b.count()
	g, err := b.s.queryEach(ctxOf(calls), qs)
	if err == nil {
		// Stored as the round's template: the weights follow from the phase-1 replies.
		q := g.Query
		q.Auth = nil
		q.Screen = &protocol.ScreenRequest{Models: slices.Clone(q.Screen.Models)}
		for k := range q.Screen.Models {
			q.Screen.Models[k].Site, q.Screen.Models[k].Weights = "", nil
		}
		b.record(q, g)
	}
	for k, c := range calls {
		if err != nil {
			c.done <- batchResult{err: err}
			continue
		}
		var one protocol.Query
		for _, q := range c.qs {
			one = q
			break
		}
		c.done <- batchResult{g: modelGathered(g, k, one)}
	}
}

// record keeps the digests of a round's replies (the replies themselves only for the first
// round: a pooled screen receives gigabytes over its rounds at a million patients).
func (b *screenBatch) record(q protocol.Query, g *Gathered) {
	round := newRound(q, sortReplies(g.Replies), g)
	d, err := digestReplies(&round)
	b.mu.Lock()
	defer b.mu.Unlock()
	if err != nil {
		b.failed = err
		return
	}
	round.Digests = d
	if b.first == nil {
		b.first = g
	} else {
		round.Replies, round.ReplyJSON = nil, nil
	}
	b.rounds = append(b.rounds, round)
}

func (b *screenBatch) count() {
	b.mu.Lock()
	b.queries++
	b.mu.Unlock()
}

// sent is the number of scatter-gathers the batch sent.
func (b *screenBatch) sent() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.queries
}

// modelGathered is what the k-th model of the screen query of g gathered, as the scatter-gather
// of its own cox query q would have: a site's answer to the model is a reply to q, its refusal
// of the model a refusal; a site that refused, sent an invalid reply to, or missed the whole
// screen did so for every model.
func modelGathered(g *Gathered, k int, q protocol.Query) *Gathered {
	out := &Gathered{Query: q, Expected: g.Expected, Missing: g.Missing, Elapsed: g.Elapsed,
		Refused: slices.Clone(g.Refused), Invalid: g.Invalid}
	for _, r := range g.Replies {
		m := r.Screen.Models[k]
		if m.Error != nil {
			out.Refused = append(out.Refused, Refusal(r.Site, m.Error))
			continue
		}
		out.Replies = append(out.Replies, protocol.Reply{Version: r.Version, QueryID: q.ID, Site: r.Site, Kind: protocol.KindCox,
			Policy: *m.Policy, DataCut: r.DataCut, Cox: m.Cox})
	}
	return out
}

// batchTransport is one marker's coxTransport through the batch.
type batchTransport struct {
	b      *screenBatch
	marker int
}

func (t batchTransport) query(ctx context.Context, q protocol.Query) (*Gathered, error) {
	return t.b.ask(ctx, &batchCall{marker: t.marker, q: q, qctx: ctx})
}

func (t batchTransport) queryEach(ctx context.Context, qs map[string]protocol.Query) (*Gathered, error) {
	return t.b.ask(ctx, &batchCall{marker: t.marker, qs: qs, qctx: ctx})
}
