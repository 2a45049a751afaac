package app

import "context"

// SiteState is where one site stands in one scatter-gather.
type SiteState string

// The states a site goes through in a query: waiting, then answered, refused (a coded error
// such as refused_by_policy) or invalid (a reply that failed validation). A site still waiting
// when the deadline passes is missing.
const (
	SiteWaiting  SiteState = "waiting"
	SiteAnswered SiteState = "answered"
	SiteRefused  SiteState = "refused"
	SiteInvalid  SiteState = "invalid"
)

// Progress is one change of one site's state in the query with the given ID.
type Progress struct {
	QueryID string
	Site    string
	State   SiteState
	Message string // why, for refused and invalid
}

type progressKey struct{}

// WithProgress returns a context that carries f: a Network implementation that supports it
// reports each expected site as waiting when a query carrying the context is sent, and each
// reply as it arrives (ReportProgress), so a front end can show a run's sites live. f is
// called from the network's goroutines, possibly concurrently, and must not block.
func WithProgress(ctx context.Context, f func(Progress)) context.Context {
	return context.WithValue(ctx, progressKey{}, f)
}

// ReportProgress tells the function carried by ctx (WithProgress) about p; without one it does
// nothing. Network implementations call it.
func ReportProgress(ctx context.Context, p Progress) {
	if f, ok := ctx.Value(progressKey{}).(func(Progress)); ok && f != nil {
		f(p)
	}
}
