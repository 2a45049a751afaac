package ui

import (
	"maps"
	"slices"
	"strings"
	"testing"

	"fyne.io/fyne/v2/test"
)

// fitCox fits the Cox model of covariates on the Cox tab and waits for it.
func fitCox(t *testing.T, f *fixture, covariates ...string) {
	t.Helper()
	a := f.ui
	a.selectTab(TabCox)
	a.cox.covariates.SetSelected(covariates)
	test.Tap(a.cox.fit)
	f.loop.until(t, "the Cox fit", func() bool { return a.cox.result != nil || strings.HasPrefix(a.cox.status.Text, "No Cox") })
	if a.cox.result == nil {
		t.Fatalf("no fit: %s", a.cox.status.Text)
	}
}

// progressQueries lists the query IDs that the cohort panel's "sites answered" line is built
// from, sorted.
func progressQueries(p *siteProgress) []string {
	var ids []string
	for _, m := range p.states {
		ids = slices.AppendSeq(ids, maps.Keys(m))
	}
	slices.Sort(ids)
	return ids
}

// TestSecondaryActionsLeaveTheRunAlone: the proportional-hazards check, the counts per level
// and the per-site fits of the Cox tab are about the model shown, not a new Run. Started while
// a Run is in flight, they neither cancel it (its Kaplan–Meier and Table 1 still arrive) nor
// reset the cohort panel's "sites answered" line; a Run started while they are in flight does
// not drop them either.
func TestSecondaryActionsLeaveTheRunAlone(t *testing.T) {
	f := startApp(t)
	a := f.ui
	fitCox(t, f, "age", "sex")
	z := a.cox.zph
	checked := func() bool { return len(z.table.Objects) > 0 || strings.HasPrefix(z.caption.Text, "No ") }
	counted := func() bool { return z.counts != nil || strings.HasPrefix(z.countsNote.Text, "No counts") }
	siteFits := func() bool { return a.cox.sites != nil || strings.HasPrefix(a.cox.status.Text, "No per-site") }

	// A Run, then the three secondary actions while it is in flight.
	test.Tap(a.cohort.run)
	if a.running == 0 {
		t.Fatal("the Run is not running")
	}
	test.Tap(z.check)
	test.Tap(z.countsButton)
	a.cox.view.SetSelected("By site: sex: male vs female")
	f.loop.until(t, "the Run and the per-site fits", func() bool { return a.running == 0 && siteFits() })
	if a.survival.result == nil || a.summary.result == nil {
		t.Fatalf("the Run in flight lost its result: KM %v, Table 1 %v", a.survival.result != nil, a.summary.result != nil)
	}
	f.loop.until(t, "the check and the counts", func() bool { return checked() && counted() })
	if !contains(texts(z.table), "All terms (global)") || z.counts == nil || a.cox.sites == nil {
		t.Fatalf("secondary actions: check %q (%q), counts %v (%q), per-site %v (%q)",
			texts(z.table), z.caption.Text, z.counts != nil, z.countsNote.Text, a.cox.sites != nil, a.cox.status.Text)
	}
	line, queries := a.cohort.sites.Text(), progressQueries(a.cohort.sites)
	if !strings.Contains(line, "3 of 3 sites answered") {
		t.Fatalf("sites line after the Run: %q", line)
	}

	// The secondary actions again, alone: the Run's line stays as it was.
	a.cox.sites, a.cox.sitesFor = nil, nil
	a.cox.view.SetSelected(viewAllTerms)
	test.Tap(z.check)
	a.cox.view.SetSelected("By site: sex: male vs female")
	if a.running != 0 || a.cohort.run.Disabled() {
		t.Errorf("a secondary action shows as a Run: running %d, Run disabled %v", a.running, a.cohort.run.Disabled())
	}
	f.loop.until(t, "the check and the per-site fits", func() bool {
		return !z.check.Disabled() && checked() && siteFits()
	})
	if got := progressQueries(a.cohort.sites); a.cohort.sites.Text() != line || !slices.Equal(got, queries) {
		t.Errorf("the sites line changed: %q (%d queries), was %q (%d)", a.cohort.sites.Text(), len(got), line, len(queries))
	}

	// The check first, then a Run: both arrive.
	a.survival.result, a.summary.result = nil, nil
	z.table.RemoveAll()
	z.caption.SetText("")
	test.Tap(z.check)
	test.Tap(a.cohort.run)
	f.loop.until(t, "the Run and the check", func() bool {
		return a.running == 0 && a.survival.result != nil && a.summary.result != nil && checked()
	})
	if !contains(texts(z.table), "All terms (global)") {
		t.Errorf("the check after a Run: %q (%q)", texts(z.table), z.caption.Text)
	}
}
