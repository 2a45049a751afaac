package app

import (
	"context"
	"fmt"
	"slices"

	"github.com/oncofed/oncofed/protocol"
)

// A screen is stored in the library like any result (Request.Kind protocol.KindScreen): its
// rounds are the screen queries it sent, each with the digests of its replies, and instead of
// the replies it keeps a ScreenTrace — per marker, the Cox fit's trace (CoxTrace: β and the
// merged contribution at every step, each site's own at every step of the stratified form)
// and the sites that sat it out and why. Reopening replays every marker's fit from its trace
// (renderScreen → markerResult → renderCoxTrace), so a screen reopens offline with the same
// numbers, bit for bit, as it was computed: the live screen is rendered from the same records.

// ScreenSpec is the screen of a Request: ScreenRequest without what Request holds already
// (study, cohort, endpoint).
type ScreenSpec struct {
	Markers   []string            `json:"markers"`
	Adjust    []string            `json:"adjust,omitempty"`
	Treatment string              `json:"treatment,omitempty"`
	Treated   string              `json:"treated,omitempty"`
	Form      protocol.CoxForm    `json:"form,omitempty"`
	Ties      string              `json:"ties,omitempty"`
	Levels    map[string][]string `json:"levels,omitempty"`
	Rho       float64             `json:"rho,omitempty"` // a differentially private screen's chosen ρ
}

// ScreenTrace is the compact record of a screen: one entry per marker, in request order.
type ScreenTrace struct {
	Markers []ScreenMarkerRecord `json:"markers"`
	// DPSpent is, for a differentially private screen, the ρ each site charged for it.
	DPSpent map[string]float64 `json:"dp_spent,omitempty"`
}

// ScreenMarkerRecord is what a stored screen keeps of one marker: the model as sent (levels
// filled from the catalog) and its fit's trace, or, for a marker no site could fit, why.
type ScreenMarkerRecord struct {
	Marker    string    `json:"marker"`
	Model     *CoxSpec  `json:"model,omitempty"`
	Trace     *CoxTrace `json:"trace,omitempty"`
	Reason    string    `json:"reason,omitempty"`
	Rounds    int       `json:"rounds"`
	SitesUsed []string  `json:"sites_used,omitempty"`
	SitesOut  []SiteOut `json:"sites_out,omitempty"`
	// NoiseCov is, for a differentially private screen, the covariance (p×p) the release's
	// noise adds to the marker model's estimate (DPCoxNoiseCov), computed when it was fitted.
	NoiseCov protocol.Float64s `json:"noise_cov,omitempty"`
}

// screenRequestOf is the Request a screen is stored under.
func screenRequestOf(req ScreenRequest) Request {
	return Request{Kind: protocol.KindScreen, Study: req.Study, CohortName: req.CohortName, Cohort: req.Cohort, Endpoint: req.Endpoint,
		Screen: &ScreenSpec{Markers: slices.Clone(req.Markers), Adjust: slices.Clone(req.Adjust), Treatment: req.Treatment, Treated: req.Treated,
			Form: req.Form, Ties: req.Ties, Levels: req.Levels, Rho: req.Rho}}
}

// ScreenRequestOf is the screen a stored screen's Request asks (for re-running it).
func ScreenRequestOf(r Request) (ScreenRequest, error) {
	if r.Kind != protocol.KindScreen || r.Screen == nil {
		return ScreenRequest{}, Errorf(EInvalid, "not a biomarker screen")
	}
	sp := r.Screen
	return ScreenRequest{Study: r.Study, CohortName: r.CohortName, Cohort: r.Cohort, Endpoint: r.Endpoint, Markers: slices.Clone(sp.Markers),
		Adjust: slices.Clone(sp.Adjust), Treatment: sp.Treatment, Treated: sp.Treated, Form: sp.Form, Ties: sp.Ties, Levels: sp.Levels, Rho: sp.Rho}, nil
}

// renderStoredScreen renders a stored screen from its trace.
func renderStoredScreen(r *Result) (*ScreenResult, error) {
	req, err := ScreenRequestOf(r.Request)
	if err != nil {
		return nil, err
	}
	if r.ScreenTrace == nil {
		return nil, Errorf(EInternal, "the stored screen %q holds no markers' fits", r.Name)
	}
	out, err := renderScreen(req, r.ScreenTrace)
	if err != nil {
		return nil, err
	}
	out.Queries = len(r.Rounds)
	out.ResultID = r.ID
	out.Release = r.Provenance.Release().Kind
	return out, nil
}

// storeScreen stores a screen just run as a result of the library, with its provenance (from
// the first screen query) and its trace.
func (s *Service) storeScreen(ctx context.Context, req ScreenRequest, out *ScreenResult, tr *ScreenTrace, b *screenBatch) error {
	b.mu.Lock()
	rounds, first, failed := b.rounds, b.first, b.failed
	b.mu.Unlock()
	if failed != nil {
		return failed
	}
	if first == nil || len(rounds) == 0 {
		return nil // no marker reached the network (every model refused before a round): nothing to keep
	}
	r := &Result{Network: s.network.ID, Request: screenRequestOf(req), Rounds: rounds, ScreenTrace: tr, Screen: out}
	if err := s.finish(ctx, r, first, nil); err != nil {
		return err
	}
	r.Provenance.RanAt = out.ranAt
	r.Provenance.Elapsed = s.now().Sub(out.ranAt)
	out.Release = r.Provenance.Release().Kind
	if err := s.cache.SaveResult(ctx, r); err != nil {
		return err
	}
	out.ResultID = r.ID
	return nil
}

// screenName is a screen's default name, e.g. "Biomarker screen of OS, 40 markers, predictive
// (nivolumab)".
func screenName(req Request) string {
	s := "Biomarker screen of " + req.Endpoint
	if sp := req.Screen; sp != nil {
		s += fmt.Sprintf(", %d markers", len(sp.Markers))
		if sp.Treatment != "" {
			s += ", predictive (" + sp.Treatment + "=" + sp.Treated + ")"
		}
		if coxForm(sp.Form) == protocol.CoxPooled {
			s += ", pooled"
		}
		if sp.Rho > 0 {
			s += fmt.Sprintf(", ρ=%g", sp.Rho)
		}
	}
	return s
}
