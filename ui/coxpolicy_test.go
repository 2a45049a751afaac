package ui

import (
	"strings"
	"testing"

	"fyne.io/fyne/v2/test"
)

// TestCoxPooledRefusedNamesSites: the test federation's sites run the demo policy, which does
// not allow the pooled Cox form (it discloses covariate values); choosing it shows no fit and
// a status that names each site and its reason, and the default form still fits.
func TestCoxPooledRefusedNamesSites(t *testing.T) {
	f := startApp(t)
	a := f.ui
	a.selectTab(TabCox)
	if a.cox.form.Selected != formStratified {
		t.Fatalf("default Cox form %q, want %q", a.cox.form.Selected, formStratified)
	}
	a.cox.covariates.SetSelected([]string{"age", "sex"})
	a.cox.form.SetSelected(formPooled)
	test.Tap(a.cox.fit)
	f.loop.until(t, "the pooled fit's answer", func() bool { return a.cox.result != nil || strings.HasPrefix(a.cox.status.Text, "No Cox") })
	status := a.cox.status.Text
	if a.cox.result != nil || !strings.Contains(status, "does not allow the pooled Cox form") || !strings.Contains(status, "stratified by site") {
		t.Fatalf("pooled form under the demo policy: result %v, status %q", a.cox.result != nil, status)
	}
	for _, site := range f.demo.Sites {
		if !strings.Contains(status, site+": ") {
			t.Errorf("status %q does not name site %s", status, site)
		}
	}
	a.cox.form.SetSelected(formStratified)
	test.Tap(a.cox.fit)
	f.loop.until(t, "the stratified fit", func() bool { return a.cox.result != nil })
}
