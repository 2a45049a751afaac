package ui

import (
	"slices"
	"strings"
	"testing"
	"time"

	"fyne.io/fyne/v2/test"
	"fyne.io/fyne/v2/theme"
	"fyne.io/fyne/v2/widget"

	"github.com/oncofed/oncofed/chart"
	"github.com/oncofed/oncofed/report"
)

// Order… puts the groups in the analyst's order: the legend, the table, the by-site views and
// the pinned slide follow it; the study's order comes back with a new grouping.
func TestGroupOrder(t *testing.T) {
	f := startApp(t)
	a := f.ui
	s := a.survival
	before := a.cohort.feas
	a.cohort.groupBy.SetSelected("sex")
	f.loop.until(t, "feasibility by sex", func() bool { return a.cohort.feas != before })
	a.runAnalyses()
	f.loop.until(t, "the Kaplan–Meier result", func() bool { return s.result != nil })
	if s.orderBtn.Disabled() {
		t.Fatal("Order… disabled with two groups")
	}
	curves := func() []string {
		r, o, st := s.shown()
		var out []string
		for _, c := range s.kmFigure(r, o, st, "").Curves {
			out = append(out, c.Name)
		}
		return out
	}
	if got := curves(); !slices.Equal(got, []string{"female", "male"}) {
		t.Fatalf("declared order: curves %v", got)
	}
	test.Tap(s.orderBtn)
	var down *widget.Button
	for _, o := range test.LaidOutObjects(a.win.Canvas().Overlays().Top()) {
		if b, ok := o.(*widget.Button); ok && b.Icon == theme.MoveDownIcon() && !b.Disabled() && down == nil {
			down = b
		}
	}
	if down == nil {
		t.Fatal("the order dialog has no enabled Move down button")
	}
	test.Tap(down)
	test.Tap(dialogButtons(t, a)["Apply"])
	if got := curves(); !slices.Equal(got, []string{"male", "female"}) {
		t.Errorf("after moving female down: curves %v", got)
	}
	cells := texts(s.stats)
	if i, j := slices.Index(cells, "male"), slices.Index(cells, "female"); i < 0 || j < i {
		t.Errorf("table rows not in the new order: %q", cells)
	}
	if got := s.view.Options[len(s.view.Options)-2:]; !slices.Equal(got, []string{viewBySite + "male", viewBySite + "female"}) {
		t.Errorf("by-site views %v", got)
	}
	d := s.displayed()
	if !slices.Equal(d.Order, []string{"male", "female"}) {
		t.Errorf("displayed order %v", d.Order)
	}
	pinned := *s.result
	pinned.Display = d
	fig, why := report.Slide(&pinned, a.names(), chart.PresentationStyle(), time.Now())
	km, ok := fig.(*chart.KMFigure)
	if !ok || km.Curves[0].Name != "male" {
		t.Errorf("slide: %T %q, want male first", fig, why)
	}
	// The result itself keeps the study's order (the cache and other tabs see it unchanged).
	if s.result.KM.Groups[0].Group != "female" {
		t.Errorf("the stored result was reordered: %+v", s.result.KM.Groups[0].Group)
	}
	// A new grouping starts from the study's order again.
	before = a.cohort.feas
	a.cohort.groupBy.SetSelected("stage")
	f.loop.until(t, "feasibility by stage", func() bool { return a.cohort.feas != before })
	old := s.result
	a.runAnalyses()
	f.loop.until(t, "the result by stage", func() bool { return s.result != old && s.result != nil })
	if s.order != nil || !strings.HasPrefix(curves()[0], s.result.KM.Groups[0].Group) {
		t.Errorf("order %v kept for a new grouping; curves %v", s.order, curves())
	}
}
