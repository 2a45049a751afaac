package app

import (
	"context"
	"fmt"
	"math"
	"slices"
	"strings"

	"github.com/oncofed/oncofed/protocol"
)

// ScreenSignificance is the q below which a re-run's changes name a marker as significant (the
// volcano plot labels the same markers).
const ScreenSignificance = 0.05

// RerunScreen runs the stored screen id again on the network, with its stored definition
// (markers, adjusters, treatment, form, ties, levels, cohort), stores the new screen in the
// library under the old one's name, and says what changed: sites, data cuts, patients and
// events, and the markers that became or stopped being significant. Offline it runs nothing
// and says so (EUnavailable). progress is told as each marker's fit ends; cancelling ctx stops
// the screen (nothing is stored then).
func (s *Service) RerunScreen(ctx context.Context, id int64, progress ScreenProgress) (*Result, *Changes, error) {
	old, err := s.Open(ctx, id)
	if err != nil {
		return nil, nil, err
	}
	return s.rerunScreen(ctx, old, progress)
}

// errScreenOffline is why a stored screen cannot be re-run without the network.
func errScreenOffline(cause error) error {
	const msg = "offline: the screen cannot be re-run until the network is back (every site fits every marker's model again); the stored screen still opens"
	if cause != nil {
		return WrapError(EUnavailable, cause, msg)
	}
	return Errorf(EUnavailable, msg)
}

func (s *Service) rerunScreen(ctx context.Context, old *Result, progress ScreenProgress) (*Result, *Changes, error) {
	req, err := ScreenRequestOf(old.Request)
	if err != nil {
		return nil, nil, err
	}
	if s.Offline() {
		return nil, nil, errScreenOffline(nil)
	}
	out, err := s.Screen(ctx, req, progress)
	if err != nil {
		return nil, nil, err
	}
	if out.Cached {
		return nil, nil, errScreenOffline(nil) // the network went away: Screen served the stored one
	}
	if out.ResultID == 0 {
		return nil, nil, Errorf(ERefusedByPolicy, "the re-run stored nothing: no marker's model reached a site (each was refused before its first round); the stored screen is unchanged")
	}
	cur, err := s.Open(ctx, out.ResultID)
	if err != nil {
		return nil, nil, err
	}
	if cur.Name != old.Name {
		if err := s.cache.RenameResult(ctx, cur.ID, old.Name); err != nil {
			return nil, nil, err
		}
		cur.Name = old.Name
	}
	return cur, compareScreens(old, cur), nil
}

// compareScreens is Compare for two runs of one screen: the sites and data cuts as for any
// result; patients and events of the marker with the most complete cases (the cohort as the
// screen saw it); then the markers that became significant (q < ScreenSignificance) or
// stopped being, and those that became or stopped being estimable.
func compareScreens(old, cur *Result) *Changes {
	c := Compare(old, cur)
	if old.Screen == nil || cur.Screen == nil {
		return c
	}
	c.PatientsBefore, c.EventsBefore = screenCohort(old.Screen)
	c.PatientsAfter, c.EventsAfter = screenCohort(cur.Screen)
	c.Lines = c.describe()
	before, after := markersByName(old.Screen), markersByName(cur.Screen)
	var now, noLonger, estimable, notEstimable []string
	for _, m := range cur.Screen.Markers {
		o, ok := before[m.Marker]
		switch {
		case !ok:
		case m.Estimable && !o.Estimable:
			estimable = append(estimable, m.Marker)
		case !m.Estimable && o.Estimable:
			notEstimable = append(notEstimable, m.Marker)
		}
		if significant(m) && (!ok || !significant(o)) {
			now = append(now, m.Marker)
		}
	}
	for _, m := range old.Screen.Markers {
		if a, ok := after[m.Marker]; significant(m) && (!ok || !significant(a)) {
			noLonger = append(noLonger, m.Marker)
		}
	}
	if old.Screen.Tests != cur.Screen.Tests {
		c.Lines = append(c.Lines, fmt.Sprintf("tests (estimable markers): %d → %d", old.Screen.Tests, cur.Screen.Tests))
	}
	add := func(what string, ms []string) {
		if len(ms) > 0 {
			c.Lines = append(c.Lines, what+": "+strings.Join(ms, ", "))
		}
	}
	add("now q < 0.05", now)
	add("no longer q < 0.05", noLonger)
	add("now estimable", estimable)
	add("no longer estimable", notEstimable)
	if len(now) == 0 && len(noLonger) == 0 {
		var sig []string
		for _, m := range cur.Screen.Markers {
			if significant(m) {
				sig = append(sig, m.Marker)
			}
		}
		if len(sig) == 0 {
			c.Lines = append(c.Lines, "no marker has q < 0.05, as before")
		} else {
			c.Lines = append(c.Lines, "the same markers have q < 0.05: "+strings.Join(sig, ", "))
		}
	}
	return c
}

func significant(m MarkerResult) bool {
	return m.Estimable && !math.IsNaN(m.Q) && m.Q < ScreenSignificance
}

func markersByName(r *ScreenResult) map[string]MarkerResult {
	out := make(map[string]MarkerResult, len(r.Markers))
	for _, m := range r.Markers {
		out[m.Marker] = m
	}
	return out
}

// screenCohort is the patients and events of the marker with the most complete cases.
func screenCohort(r *ScreenResult) (n, events int) {
	i := slices.IndexFunc(r.Markers, func(m MarkerResult) bool { return m.N > 0 })
	if i < 0 {
		return 0, 0
	}
	best := r.Markers[i]
	for _, m := range r.Markers[i:] {
		if m.N > best.N {
			best = m
		}
	}
	return best.N, best.Events
}

// isScreen reports whether a stored request is a biomarker screen (re-run through Screen).
func isScreen(req Request) bool { return req.Kind == protocol.KindScreen }
