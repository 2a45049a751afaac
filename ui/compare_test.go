package ui

import (
	"image/png"
	"os"
	"strings"
	"testing"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/test"
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
	a.selectTab(TabCompare)
	c := a.compare
	c.treatment.SetSelected("treatment")
	c.treated.SetSelected("pembro-chemo")
	c.confounders.SetSelected([]string{"age", "weight_loss_kg"})
	test.Tap(c.run)
	f.loop.until(t, "the comparison", func() bool { return c.result != nil || strings.HasPrefix(c.status.Text, "No comparison") })
	if c.result == nil {
		t.Fatalf("no comparison: %s", c.status.Text)
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
