package ui

import (
	"slices"
	"strings"
	"testing"

	"fyne.io/fyne/v2/test"

	"github.com/oncofed/oncofed/synth"
)

// TestCoxPooledFormOfferedOnlyWhereAllowed: the test federation's sites run the demo policy,
// which does not allow the pooled Cox form (its risk-set sums disclose covariate values), so
// the tab does not offer it and says why, and the stratified form fits. Where one site of
// three does not allow it, the note names that site; where all allow it, it is offered and fits.
func TestCoxPooledFormOfferedOnlyWhereAllowed(t *testing.T) {
	f := startApp(t)
	a := f.ui
	a.selectTab(TabCox)
	if a.cox.form.Selected != formStratified || slices.Contains(a.cox.form.Options, formPooled) {
		t.Fatalf("under the demo policy: form %q, options %v; want stratified only", a.cox.form.Selected, a.cox.form.Options)
	}
	if note := a.cox.formNote.Text; !a.cox.formNote.Visible() || !strings.Contains(note, "no site's policy allows it") || !strings.Contains(note, "allow_pooled_cox") {
		t.Errorf("note %q (visible %v) does not say why the pooled form is not offered", note, a.cox.formNote.Visible())
	}
	a.cox.covariates.SetSelected([]string{"age", "sex"})
	test.Tap(a.cox.fit)
	f.loop.until(t, "the stratified fit", func() bool { return a.cox.result != nil })

	for name, allowAt := range map[string][]int{"one site refuses": {0, 1}, "all allow": {0, 1, 2}} {
		t.Run(name, func(t *testing.T) {
			fed := testFederation()
			names := fed.SiteNames()
			for _, i := range allowAt {
				fed.Policies[names[i]] = synth.SitePolicy{} // exact: allows the pooled form
			}
			f := startAppOn(t, fed)
			a := f.ui
			a.selectTab(TabCox)
			offered := slices.Contains(a.cox.form.Options, formPooled)
			if len(allowAt) < len(names) {
				refusing := names[len(names)-1]
				if offered || !strings.Contains(a.cox.formNote.Text, "the policies of "+refusing+" do not allow it") {
					t.Fatalf("options %v, note %q; want no pooled form and %s named", a.cox.form.Options, a.cox.formNote.Text, refusing)
				}
				return
			}
			if !offered || a.cox.formNote.Visible() {
				t.Fatalf("every site allows the pooled form: options %v, note %q", a.cox.form.Options, a.cox.formNote.Text)
			}
			a.cox.covariates.SetSelected([]string{"age", "sex"})
			a.cox.form.SetSelected(formPooled)
			test.Tap(a.cox.fit)
			f.loop.until(t, "the pooled fit", func() bool { return a.cox.result != nil || strings.HasPrefix(a.cox.status.Text, "No Cox") })
			if a.cox.result == nil || a.cox.result.Request.Cox.Form != "pooled" {
				t.Fatalf("pooled fit: result %v, status %q", a.cox.result != nil, a.cox.status.Text)
			}
		})
	}
}
