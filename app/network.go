package app

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/oncofed/oncofed/protocol"
)

// Network is what the core needs from the federation: who is there, and a scatter-gather of
// one query to every site of a study. The NATS implementation lives in package network; the
// core never sees a subject or a connection.
type Network interface {
	// Sites lists the sites seen on the network (answering or recently seen) with their status.
	Sites(ctx context.Context) ([]SiteStatus, error)
	// Query sends q to every site that serves q.Study (every site for a catalog query with
	// no study) concurrently and gathers replies until all answered or ctx's deadline passed.
	// It returns an error only when nothing could be sent at all (hub unreachable: code
	// unavailable); missing, refusing and invalid sites are reported in the Gathered result.
	Query(ctx context.Context, q protocol.Query) (*Gathered, error)
	// QueryEach sends qs[site] to that site alone (no other site receives it: a pooled Cox
	// round's phase-2 request carries weights meant for one site) and gathers the replies as
	// Query does, Expected being the sites of qs. The queries are of one study and kind.
	QueryEach(ctx context.Context, qs map[string]protocol.Query) (*Gathered, error)
	// Close releases the connection.
	Close() error
}

// SiteStatus is one site as seen on the network.
type SiteStatus struct {
	Site     string
	Online   bool
	Latency  time.Duration // round trip of the last ping, 0 when unknown
	Studies  []string
	LastSeen time.Time
}

// Gathered is the outcome of one scatter-gather: the valid replies (at most one per site,
// duplicates dropped) and every site that did not contribute, with the reason.
type Gathered struct {
	Query    protocol.Query
	Replies  []protocol.Reply // valid, successful replies, sorted by site
	Expected []string         // sites the query was sent to, sorted
	Missing  []string         // sites that did not answer before the deadline
	Refused  []SiteProblem    // sites that answered with a coded error (e.g. refused_by_policy)
	Invalid  []SiteProblem    // sites whose reply failed validation; never merged
	Elapsed  time.Duration
	// ReplyJSON optionally holds, by site, the JSON of each reply in Replies exactly as it was
	// received (the bytes it was decoded from). The service stores and hashes those bytes
	// instead of encoding the decoded reply again: a pooled Cox reply runs to megabytes, and
	// re-encoding it to keep it cost more than the scatter-gather. A network that does not
	// speak JSON leaves it nil (the replies are then encoded when stored).
	ReplyJSON map[string][]byte
}

// SiteProblem names a site and why its reply is not used.
type SiteProblem struct {
	Site    string
	Code    string
	Message string
	// Reason and Limit are a refusal's protocol.Error.Reason and Limit: which policy rule
	// refused and its limit. Decide on these, never on Message.
	Reason string  `json:",omitempty"`
	Limit  float64 `json:",omitempty"`
}

// Refusal is the problem of a site that answered with the coded error e.
func Refusal(site string, e *protocol.Error) SiteProblem {
	return SiteProblem{Site: site, Code: e.Code, Message: e.Message, Reason: e.Reason, Limit: e.Limit}
}

// Rule is a problem's message cut to the rule's name, for where a whole reason does not fit
// ("overlap guard: this patient set is within …" → "overlap guard"); the whole message when it
// has no colon.
func (p SiteProblem) Rule() string {
	rule, _, _ := strings.Cut(p.Message, ":")
	return rule
}

// Partial reports whether some expected site did not contribute.
func (g *Gathered) Partial() bool {
	return len(g.Missing)+len(g.Refused)+len(g.Invalid) > 0
}

// ReasonGroup is the sites that gave one reason.
type ReasonGroup struct {
	Message string
	Sites   []string
}

// GroupByReason groups problems by their message, in the order each message first appears,
// sites in the order given: the same refusal from every site of a study (a role, a policy
// rule) is said once, not once per site.
func GroupByReason(problems []SiteProblem) []ReasonGroup {
	var out []ReasonGroup
	at := map[string]int{}
	for _, p := range problems {
		k, ok := at[p.Message]
		if !ok {
			k = len(out)
			at[p.Message] = k
			out = append(out, ReasonGroup{Message: p.Message})
		}
		out[k].Sites = append(out[k].Sites, p.Site)
	}
	return out
}

// BySameReason writes problems grouped by their message (GroupByReason): "a, b: why; c: other",
// or "all 6 sites (a, …): why".
func BySameReason(problems []SiteProblem) string {
	groups := GroupByReason(problems)
	parts := make([]string, len(groups))
	for i, g := range groups {
		parts[i] = strings.Join(g.Sites, ", ") + ": " + g.Message
		if len(g.Sites) > 1 && len(g.Sites) == len(problems) {
			parts[i] = fmt.Sprintf("all %d sites (%s): %s", len(g.Sites), strings.Join(g.Sites, ", "), g.Message)
		}
	}
	return strings.Join(parts, "; ")
}
