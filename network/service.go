package network

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/micro"

	"github.com/oncofed/oncofed/protocol"
)

// Handler answers one JSON-encoded protocol.Query with one JSON-encoded protocol.Reply.
// The site node's engine (node.Engine) implements it; it must never panic on bad input and
// always return a reply (a coded error when it refuses).
type Handler interface {
	HandleJSON(ctx context.Context, query []byte) []byte
}

// HandlerFunc adapts a function to Handler.
type HandlerFunc func(ctx context.Context, query []byte) []byte

// HandleJSON calls f.
func (f HandlerFunc) HandleJSON(ctx context.Context, query []byte) []byte { return f(ctx, query) }

// SiteOptions tunes a served site; the zero value is sensible.
type SiteOptions struct {
	// HandlerTimeout bounds the work on one query (default 60 s; a screen query, a batch of
	// Cox models, gets screenHandlerFactor times it).
	HandlerTimeout time.Duration
}

// SiteService is one site served on the hub. Stop it, or cancel the context given to
// ServeSite, to withdraw the site.
type SiteService struct {
	svc  micro.Service
	nc   *nats.Conn
	site string
	id   string // the micro service instance: one process of the site
	opts SiteOptions
	ctx  context.Context
	stop context.CancelFunc
	once sync.Once
}

// ServeSite serves h as the site named site for the given studies: a NATS micro service
// named ServiceName whose metadata carry the site, its studies and the protocol version, with
// one endpoint per study and query kind on QuerySubject(study, kind) and one catalog endpoint
// on CatalogSubject. The connection nc is the site's outbound connection to the hub; the site
// listens on no port of its own.
//
// Each site subscribes in a queue group of its own, so that several processes of one site
// share its load while every site receives every query.
func ServeSite(ctx context.Context, nc *nats.Conn, site string, studies []string, h Handler) (*SiteService, error) {
	return ServeSiteWithOptions(ctx, nc, site, studies, h, SiteOptions{})
}

// ServeSiteWithOptions is ServeSite with tuning options.
func ServeSiteWithOptions(ctx context.Context, nc *nats.Conn, site string, studies []string, h Handler, opts SiteOptions) (*SiteService, error) {
	if site == "" {
		return nil, errors.New("network: serve site: empty site name")
	}
	if opts.HandlerTimeout <= 0 {
		opts.HandlerTimeout = 60 * time.Second
	}
	studies = append([]string(nil), studies...)
	sort.Strings(studies)
	meta, err := json.Marshal(studies)
	if err != nil {
		return nil, err
	}
	svc, err := micro.AddService(nc, micro.Config{
		Name:        ServiceName,
		Version:     ServiceVersion,
		Description: "Oncofed site node: whitelisted aggregate queries under a disclosure policy",
		Metadata: map[string]string{
			metaSite:     site,
			metaStudies:  string(meta),
			metaProtocol: protocol.Version,
		},
		QueueGroup: queueGroup(site),
	})
	if err != nil {
		return nil, fmt.Errorf("network: serve site %s: %w", site, err)
	}
	s := &SiteService{svc: svc, nc: nc, site: site, id: svc.Info().ID, opts: opts}
	s.ctx, s.stop = context.WithCancel(ctx)
	add := func(name, subject, study string, kind protocol.Kind, extra ...micro.EndpointOpt) error {
		return svc.AddEndpoint(name, micro.HandlerFunc(func(req micro.Request) { s.handle(req, h, study, kind) }),
			append([]micro.EndpointOpt{micro.WithEndpointSubject(subject),
				micro.WithEndpointMetadata(map[string]string{"study": study, "kind": string(kind)})}, extra...)...)
	}
	// Every process of a site answers catalog queries (no queue group): each lists the studies
	// it serves, and the client merges them per site (a site may serve each study or database
	// from a process of its own).
	if err := add("catalog", CatalogSubject(), "", protocol.KindCatalog, micro.WithEndpointQueueGroupDisabled()); err != nil {
		s.Stop()
		return nil, fmt.Errorf("network: serve site %s: %w", site, err)
	}
	for _, study := range studies {
		for _, kind := range protocol.Kinds {
			if kind == protocol.KindCatalog {
				continue
			}
			name := string(kind) + "-" + StudyToken(study)
			if err := add(name, QuerySubject(study, kind), study, kind); err != nil {
				s.Stop()
				return nil, fmt.Errorf("network: serve site %s, study %s: %w", site, study, err)
			}
		}
		// Queries addressed to this site alone (phase 2 of a pooled Cox round, alone or in a
		// screen's batch; the second and variance rounds of a Fine–Gray fit; those of the adjusted
		// pooled weighted Cox model of a treatment comparison).
		for _, kind := range []protocol.Kind{protocol.KindCox, protocol.KindFineGray, protocol.KindScreen, protocol.KindIPW} {
			if err := add(string(kind)+"-site-"+StudyToken(study), SiteQuerySubject(study, kind, site), study, kind); err != nil {
				s.Stop()
				return nil, fmt.Errorf("network: serve site %s, study %s: %w", site, study, err)
			}
		}
	}
	// Once ServeSite returns the hub knows the subscriptions, so a discovery right after it
	// finds the site. A node started before its hub is not connected yet: its subscriptions
	// are sent when the connection comes up.
	if nc.IsConnected() {
		_ = nc.FlushTimeout(10 * time.Second)
	}
	go func() {
		<-s.ctx.Done()
		s.Stop()
	}()
	return s, nil
}

// Site is the served site's name.
func (s *SiteService) Site() string { return s.site }

// Stats are the micro service statistics (requests, errors, processing time per endpoint).
func (s *SiteService) Stats() micro.Stats { return s.svc.Stats() }

// Stop withdraws the site from the hub; micro drains its subscriptions, so a query in
// progress is still answered.
func (s *SiteService) Stop() {
	s.once.Do(func() {
		_ = s.svc.Stop()
		s.stop()
	})
}

// screenHandlerFactor scales HandlerTimeout for a screen query: it carries up to
// protocol.MaxScreenModels Cox models, each bounded as a cox query alone would be only in sum.
const screenHandlerFactor = 16

// queryHead is the part of a query that the transport checks against the subject.
type queryHead struct {
	Version string        `json:"version"`
	Kind    protocol.Kind `json:"kind"`
	ID      string        `json:"id"`
	Study   string        `json:"study"`
}

// handle answers one request. It responds on the subscription's own goroutine, as micro
// requires (its statistics read the response state after the handler returns): queries of one
// kind and study are answered one after another per site process, queries on different
// endpoints concurrently, and a slow query is bounded by HandlerTimeout.
func (s *SiteService) handle(req micro.Request, h Handler, study string, kind protocol.Kind) {
	if s.ctx.Err() != nil {
		return
	}
	var head queryHead
	var reply []byte
	if err := json.Unmarshal(req.Data(), &head); err != nil {
		reply = s.refusal(head, protocol.CodeInvalid, "query is not valid JSON: "+err.Error())
	} else if head.Version != protocol.Version {
		reply = s.refusal(head, protocol.CodeUnsupported, fmt.Sprintf("protocol version %q, this site speaks %q", head.Version, protocol.Version))
	} else if head.Kind != kind {
		reply = s.refusal(head, protocol.CodeInvalid, fmt.Sprintf("a %q query on the %q subject", head.Kind, kind))
	} else if kind != protocol.KindCatalog && head.Study != study {
		reply = s.refusal(head, protocol.CodeInvalid, fmt.Sprintf("a query on study %q sent to the subject of study %q", head.Study, study))
	} else {
		limit := s.opts.HandlerTimeout
		if kind == protocol.KindScreen {
			limit *= screenHandlerFactor // a batch of up to protocol.MaxScreenModels Cox models
		}
		ctx, cancel := context.WithTimeout(s.ctx, limit)
		reply = h.HandleJSON(ctx, req.Data())
		cancel()
	}
	code := replyCode(reply)
	// Leave room for the headers; a reply the hub would reject is replaced by a refusal
	// the client can show.
	if max := s.nc.MaxPayload(); max > 0 && int64(len(reply)) > max-1024 {
		reply = s.refusal(head, protocol.CodeInternal, fmt.Sprintf("reply of %d bytes exceeds the hub's message size", len(reply)))
		code = protocol.CodeInternal
	}
	hdr := micro.Headers{HeaderSite: []string{s.site}, HeaderQueryID: []string{head.ID}, HeaderInstance: []string{s.id}}
	if code != "" {
		hdr[HeaderErrorCode] = []string{code}
		// micro counts it as an error in the service stats.
		_ = req.Error(code, "refused: "+code, reply, micro.WithHeaders(hdr))
		return
	}
	_ = req.Respond(reply, micro.WithHeaders(hdr))
}

func (s *SiteService) refusal(head queryHead, code, msg string) []byte {
	b, _ := json.Marshal(protocol.Reply{
		Version: protocol.Version, QueryID: head.ID, Site: s.site, Kind: head.Kind,
		Error: &protocol.Error{Code: code, Message: msg},
	})
	return b
}

// replyCode returns the error code of an encoded reply, or "" for a successful one (or one
// that does not decode: the client judges that).
//
// It reads the top-level keys only until the payload starts: encoding/json writes a struct's
// fields in declaration order and protocol.Reply declares Error before its payloads, so a
// payload key means there is no error. Decoding the whole reply here cost a tenth of a
// federated Cox fit's CPU (risk-set rows run to megabytes).
func replyCode(reply []byte) string {
	dec := json.NewDecoder(bytes.NewReader(reply))
	if t, err := dec.Token(); err != nil || t != json.Delim('{') {
		return ""
	}
	for dec.More() {
		t, err := dec.Token()
		if err != nil {
			return ""
		}
		switch t {
		case "error":
			var e *protocol.Error
			if dec.Decode(&e) != nil || e == nil {
				return ""
			}
			if e.Code == "" {
				return protocol.CodeInternal
			}
			return e.Code
		case "catalog", "count", "summary", "survival", "cox", "ipw", "screen":
			return ""
		}
		var skip json.RawMessage
		if dec.Decode(&skip) != nil {
			return ""
		}
	}
	return ""
}
