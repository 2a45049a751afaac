package ui

import (
	"image/png"
	"os"
	"slices"
	"strings"
	"testing"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/test"

	"github.com/oncofed/oncofed/synth"
)

// TestCompareTreatments: the Compare treatments tab runs a weighted comparison over the test
// federation (pembrolizumab-chemotherapy against the other first-line regimens, confounders age
// and weight loss) and shows the hazard ratio with its robust interval, the effective sample sizes and
// each of its figures; the result opens again from the Library.
func TestCompareTreatments(t *testing.T) {
	f := startApp(t)
	a := f.ui
	if os.Getenv("ONCOFED_SHOT") != "" {
		a.Window().Resize(fyne.NewSize(1024, 700))
	}
	c := compareTreatment(t, f)
	// The confounders, and the outcome model's covariates among them, by their labels.
	for _, list := range []*covariateList{c.confounders, c.adjust} {
		if shown := covariateRows(list); !slices.Contains(shown, "age at diagnosis") || slices.Contains(shown, "age") {
			t.Errorf("a list shows %q, want the dictionary's labels", shown)
		}
	}
	res := c.result.IPW
	if !strings.Contains(c.summary.Text, "HR ") || !strings.Contains(c.summary.Text, "Effective sample size") {
		t.Errorf("summary %q", c.summary.Text)
	}
	if res.Treated.ESS <= 0 || res.Treated.ESS > float64(res.Treated.Kept) || len(res.Balance) != 2 {
		t.Errorf("ESS %v of %d, %d balance rows", res.Treated.ESS, res.Treated.Kept, len(res.Balance))
	}
	for _, view := range []string{figureLove, figureOverlap, figureKM} {
		c.view.SetSelected(view)
		fv := c.figure
		before := fv.rendered
		f.loop.until(t, view, func() bool { return fv.rendered > before && fv.Image() != nil })
		if fv.lastErr != nil {
			t.Errorf("%s: %v", view, fv.lastErr)
		}
		if dir := os.Getenv("ONCOFED_SHOT"); dir != "" {
			img := a.Window().Canvas().Capture()
			out, err := os.Create(dir + "/compare-" + strings.Fields(view)[0] + ".png")
			if err == nil {
				png.Encode(out, img)
				out.Close()
			}
		}
	}
	// From the Library: the stored rounds render the same comparison.
	r, err := f.svc.Open(t.Context(), c.result.ID)
	if err != nil {
		t.Fatal(err)
	}
	a.showResult(r)
	if c.result != r || c.result.IPW.Cox.Coef[0] != res.Cox.Coef[0] {
		t.Errorf("the Library did not show the stored comparison")
	}
}

// TestCompareSingleArmTrial: with the treatment "Site (single-arm trial)" the tab offers the
// study's sites as the treated arm and only the pooled Cox form (every site holds one arm); the
// comparison of one site's patients against every other site's runs over the test federation
// and its weighted Kaplan–Meier figure (with weighted and actual numbers at risk) draws.
func TestCompareSingleArmTrial(t *testing.T) {
	f := startApp(t)
	a := f.ui
	if os.Getenv("ONCOFED_SHOT") != "" {
		a.Window().Resize(fyne.NewSize(1024, 700))
	}
	a.selectTab(TabCompare)
	c := a.compare
	c.treatment.SetName(compareBySite)
	if !slices.Equal(c.treated.Options, a.compare.study.Sites) || len(c.treated.Options) < 2 {
		t.Fatalf("treated options %v, want the sites %v", c.treated.Options, a.compare.study.Sites)
	}
	if c.coxForm.Selected != coxPooledB || !c.coxForm.Disabled() {
		t.Errorf("Cox form %q (disabled %v): a treated site allows only the pooled form", c.coxForm.Selected, c.coxForm.Disabled())
	}
	trial := c.treated.Options[0]
	c.treated.SetSelected(trial)
	c.confounders.SetSelected([]string{"age", "weight_loss_kg"})
	if spec := c.Request().IPW; spec.TreatedSite != trial || spec.Treatment != "" || spec.Strata != "none" {
		t.Fatalf("request %+v", spec)
	}
	test.Tap(c.run)
	f.loop.until(t, "the comparison", func() bool { return c.result != nil || strings.HasPrefix(c.status.Text, "No comparison") })
	if c.result == nil {
		t.Fatalf("no comparison: %s", c.status.Text)
	}
	if res := c.result.IPW; res.Strata != "none" || res.Cox == nil || res.Treated.Kept == 0 || res.Control.Kept == 0 {
		t.Fatalf("result: strata %q, %d treated, %d controls", res.Strata, res.Treated.Kept, res.Control.Kept)
	}
	if !strings.Contains(c.summary.Text, "site = "+trial) || !strings.Contains(c.summary.Text, "one baseline hazard") {
		t.Errorf("summary %q", c.summary.Text)
	}
	c.view.SetSelected(figureOverlap)
	c.view.SetSelected(figureKM)
	fv := c.figure
	before := fv.rendered
	f.loop.until(t, "the figure", func() bool { return fv.rendered > before && fv.Image() != nil })
	if fv.lastErr != nil {
		t.Fatal(fv.lastErr)
	}
	if dir := os.Getenv("ONCOFED_SHOT"); dir != "" {
		out, err := os.Create(dir + "/compare-trial.png")
		if err == nil {
			png.Encode(out, a.Window().Canvas().Capture())
			out.Close()
		}
	}
	// From the Library: the stored rounds (propensity and outcome only) render the same
	// pooled comparison.
	res := c.result.IPW
	r, err := f.svc.Open(t.Context(), c.result.ID)
	if err != nil {
		t.Fatal(err)
	}
	a.showResult(r)
	if c.result != r || r.IPW.Strata != "none" || r.IPW.Cox.Coef[0] != res.Cox.Coef[0] || r.IPW.Robust.SE[0] != res.Robust.SE[0] {
		t.Errorf("the Library did not show the stored single-arm comparison")
	}
	// Back to a treatment variable: both forms offered again.
	c.treatment.SetName("treatment")
	if c.coxForm.Disabled() {
		t.Error("the Cox form stays disabled for a treatment variable")
	}
}

// TestCompareAdjustedPooled: both forms offer the chosen confounders as the outcome model's
// covariates (the pooled one where every site allows pooled models); the adjusted pooled
// comparison runs over the test federation, its summary names the adjustment, and it opens
// again from the Library with the same coefficients and robust SEs.
func TestCompareAdjustedPooled(t *testing.T) {
	fed := testFederation()
	for _, name := range fed.SiteNames() {
		fed.Policies[name] = synth.SitePolicy{} // exact: allows pooled models
	}
	f := startAppOn(t, fed)
	a := f.ui
	if os.Getenv("ONCOFED_SHOT") != "" {
		a.Window().Resize(fyne.NewSize(1024, 700))
	}
	a.selectTab(TabCompare)
	c := a.compare
	c.treatment.SetName("treatment")
	c.treated.SetSelected("pembro-chemo")
	c.confounders.SetSelected([]string{"age", "weight_loss_kg"})
	if !slices.Equal(c.adjust.Options, []string{"age", "weight_loss_kg"}) || c.adjust.Disabled() {
		t.Fatalf("adjust options %v (disabled %v): the confounders, offered stratified by site too", c.adjust.Options, c.adjust.Disabled())
	}
	c.coxForm.SetSelected(coxPooledB)
	if c.adjust.Disabled() {
		t.Fatal("the pooled form does not offer the adjustment")
	}
	c.adjust.SetSelected([]string{"age"})
	if spec := c.Request().IPW; spec.Strata != "none" || !slices.Equal(spec.Adjust, []string{"age"}) {
		t.Fatalf("request %+v", spec)
	}
	test.Tap(c.run)
	f.loop.until(t, "the comparison", func() bool { return c.result != nil || strings.HasPrefix(c.status.Text, "No comparison") })
	if c.result == nil {
		t.Fatalf("no comparison: %s", c.status.Text)
	}
	res := c.result.IPW
	if !slices.Equal(res.Cox.Terms, []string{"treatmentpembro-chemo", "age"}) || len(res.Robust.SE) != 2 {
		t.Fatalf("terms %v, robust SEs %v", res.Cox.Terms, res.Robust.SE)
	}
	if !strings.Contains(c.summary.Text, "one baseline hazard, adjusted for age") {
		t.Errorf("summary %q", c.summary.Text)
	}
	if dir := os.Getenv("ONCOFED_SHOT"); dir != "" {
		fv := c.figure
		f.loop.until(t, "the figure", func() bool { return fv.Image() != nil })
		if out, err := os.Create(dir + "/compare-adjusted.png"); err == nil {
			png.Encode(out, a.Window().Canvas().Capture())
			out.Close()
		}
	}
	r, err := f.svc.Open(t.Context(), c.result.ID)
	if err != nil {
		t.Fatal(err)
	}
	a.showResult(r)
	if c.result != r || !slices.Equal(r.IPW.Cox.Coef, res.Cox.Coef) || !slices.Equal(r.IPW.Robust.SE, res.Robust.SE) {
		t.Errorf("the Library did not show the stored adjusted comparison")
	}
	c.coxForm.SetSelected(coxBySite)
	if spec := c.Request().IPW; c.adjust.Disabled() || spec.Strata != "site" || !slices.Equal(spec.Adjust, []string{"age"}) {
		t.Errorf("the stratified form drops the adjustment: %+v", spec)
	}
}

// Under the demo policy no site allows pooled models: the pooled form does not offer the
// adjustment, and the note says why; stratified by site it is offered, and the adjusted
// comparison runs (each site's part of the model is its own).
func TestCompareAdjustNotOfferedWhereRefused(t *testing.T) {
	f := startApp(t)
	a := f.ui
	a.selectTab(TabCompare)
	c := a.compare
	c.treatment.SetName("treatment")
	c.confounders.SetSelected([]string{"age", "weight_loss_kg"})
	c.coxForm.SetSelected(coxPooledB)
	if !c.adjust.Disabled() || len(c.adjust.Options) != 0 || !c.adjustNote.Visible() || !strings.Contains(c.adjustNote.Text, "allow_pooled_cox") {
		t.Errorf("adjust disabled %v, options %v, note %q", c.adjust.Disabled(), c.adjust.Options, c.adjustNote.Text)
	}
	c.coxForm.SetSelected(coxBySite)
	if c.adjust.Disabled() || c.adjustNote.Visible() {
		t.Fatalf("stratified by site: adjust disabled %v, note %q", c.adjust.Disabled(), c.adjustNote.Text)
	}
	c.treated.SetSelected("pembro-chemo")
	c.adjust.SetSelected([]string{"age"})
	test.Tap(c.run)
	f.loop.until(t, "the comparison", func() bool { return c.result != nil || strings.HasPrefix(c.status.Text, "No comparison") })
	if c.result == nil {
		t.Fatalf("no comparison: %s", c.status.Text)
	}
	if res := c.result.IPW; res.Strata != "site" || !slices.Equal(res.Cox.Terms, []string{"treatmentpembro-chemo", "age"}) || len(res.Robust.SE) != 2 {
		t.Errorf("strata %s, terms %v, robust SEs %v", res.Strata, res.Cox.Terms, res.Robust.SE)
	}
	if !strings.Contains(c.summary.Text, "stratified by site, adjusted for age") {
		t.Errorf("summary %q", c.summary.Text)
	}
}
