package ui

import (
	"strings"
	"testing"

	"fyne.io/fyne/v2/test"

	"github.com/oncofed/oncofed/synth"
)

// TestCoxZPHPanel: under the demo policy (no pooled form) the check preselects the identity
// transform, which every site answers, and shows a row per term and GLOBAL with p-values from
// the one formatter and the reason there is no residual plot; km is refused with the reason.
// Where every site allows the pooled form, km (R's default) is answered.
func TestCoxZPHPanel(t *testing.T) {
	f := startApp(t)
	a := f.ui
	a.selectTab(TabCox)
	z := a.cox.zph
	if !z.check.Disabled() {
		t.Fatal("the check is enabled before a fit")
	}
	a.cox.covariates.SetSelected([]string{"age", "sex"})
	test.Tap(a.cox.fit)
	f.loop.until(t, "the fit", func() bool { return a.cox.result != nil })
	if z.check.Disabled() || z.transform.Selected != zphTransformLabels["identity"] {
		t.Fatalf("after the fit: check disabled %v, transform %q", z.check.Disabled(), z.transform.Selected)
	}
	test.Tap(z.check)
	f.loop.until(t, "the check", func() bool { return len(z.table.Objects) > 0 || strings.HasPrefix(z.caption.Text, "No ") })
	got := texts(z.table)
	if !contains(got, "All terms (global)") || len(z.table.Objects) != 4*4 {
		t.Fatalf("table %q (caption %q)", got, z.caption.Text)
	}
	if !strings.Contains(z.caption.Text, "time in days") || !strings.Contains(z.caption.Text, "No residual plot") {
		t.Errorf("caption %q", z.caption.Text)
	}
	// N and events per level under the demo policy: where a site's overlap guard refuses the
	// KM by sex over the model's complete cases (they differ by a few patients from sets it
	// released), the table shows no counts and the caption names the covariate and the sites.
	test.Tap(z.countsButton)
	f.loop.until(t, "the counts", func() bool { return z.counts != nil || strings.HasPrefix(z.countsNote.Text, "No counts") })
	if z.counts == nil {
		t.Fatalf("no counts: %q", z.countsNote.Text)
	}
	if why := z.counts.Missing["sex"]; why != "" && (!z.countsNote.Visible() || !strings.Contains(z.countsNote.Text, "no counts per level of sex: ")) {
		t.Fatalf("missing counts (%s) without a note: %q", why, z.countsNote.Text)
	}
	z.transform.SetSelected(zphTransformLabels["km"])
	test.Tap(z.check)
	f.loop.until(t, "the km check", func() bool { return strings.HasPrefix(z.caption.Text, "No ") })
	if !strings.Contains(z.caption.Text, "allow_pooled_cox") || len(z.table.Objects) != 0 {
		t.Fatalf("km under the demo policy: caption %q, %d cells", z.caption.Text, len(z.table.Objects))
	}

	fed := testFederation()
	for _, n := range fed.SiteNames() {
		fed.Policies[n] = synth.SitePolicy{} // exact: allows the pooled form
	}
	f2 := startAppOn(t, fed)
	b := f2.ui
	b.selectTab(TabCox)
	b.cox.covariates.SetSelected([]string{"age", "sex"})
	test.Tap(b.cox.fit)
	f2.loop.until(t, "the fit", func() bool { return b.cox.result != nil })
	if b.cox.zph.transform.Selected != zphTransformLabels["km"] {
		t.Fatalf("transform %q where the pooled form is allowed", b.cox.zph.transform.Selected)
	}
	test.Tap(b.cox.zph.check)
	f2.loop.until(t, "the km check", func() bool {
		return len(b.cox.zph.table.Objects) > 0 || strings.HasPrefix(b.cox.zph.caption.Text, "No ")
	})
	if !contains(texts(b.cox.zph.table), "All terms (global)") || !strings.Contains(b.cox.zph.caption.Text, "Kaplan–Meier") {
		t.Fatalf("km: table %q caption %q", texts(b.cox.zph.table), b.cox.zph.caption.Text)
	}
	// N and events per level (exact policy): one more column; sex's levels add up to the
	// model's patients and events.
	z = b.cox.zph
	test.Tap(z.countsButton)
	f2.loop.until(t, "the counts", func() bool { return z.counts != nil || strings.HasPrefix(z.countsNote.Text, "No counts") })
	cells := texts(b.cox.table)
	if z.counts == nil || len(z.counts.Missing) > 0 || !contains(cells, "N (events)") {
		t.Fatalf("counts %+v, table %q, note %q", z.counts, cells, z.countsNote.Text)
	}
	n, ev := 0, 0
	for _, c := range z.counts.ByLevel["sex"] {
		n, ev = n+c.N, ev+c.Events
	}
	if fit := b.cox.result.Cox.Fit; n != fit.N || ev != fit.Events || n == 0 {
		t.Fatalf("sex's levels hold %d patients, %d events; the model %d, %d", n, ev, fit.N, fit.Events)
	}
	// With both tables filled the tab still fits a 1024×700 window (TestFitsSmallScreens' rule).
	if m := b.cox.content.MinSize(); m.Width > 1024-300 || m.Height > 700-120 {
		t.Errorf("the Cox tab needs %v with its tables filled", m)
	}
}
