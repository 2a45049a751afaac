package ui

import (
	"math"
	"slices"
	"strings"
	"testing"

	"fyne.io/fyne/v2/test"
	"fyne.io/fyne/v2/widget"

	"github.com/oncofed/oncofed/report"
	"github.com/oncofed/oncofed/synth"
)

// screenFederation is the test federation with the NSCLC candidate markers, larger so that
// the simulated effects show.
func screenFederation() synth.Federation {
	return demoFederation("screen federation", synth.Spec{Study: synth.NSCLC, SiteSizes: []int{900, 600, 300}, Seed: 15, Markers: true})
}

// The Biomarkers tab screens the chosen markers over the sites with progress, draws the
// volcano and the table (p and q side by side, sortable), drills into a marker's per-site
// forest plot, and the predictive mode tests the interaction with the treated arm.
func TestBiomarkerScreenTab(t *testing.T) {
	f := startAppOn(t, screenFederation())
	s := f.ui.screen
	f.ui.selectTab(TabScreen)
	if s.markers.Options == nil || !contains(s.markers.Options, "stk11") {
		t.Fatalf("markers offered: %v", s.markers.Options)
	}
	if shown := covariateRows(s.markers); !slices.Contains(shown, "STK11 mutation") || slices.Contains(shown, "stk11") {
		t.Errorf("markers shown as %q, want the dictionary's labels", shown)
	}
	s.markers.SetSelected([]string{"tp53", "stk11", "nf1", "ntrk1", "tmb"})
	s.adjust.SetSelected([]string{"age"})
	test.Tap(s.run)
	if s.cancel.Hidden || s.progress.Hidden {
		t.Error("no progress or cancel while the screen runs")
	}
	f.loop.until(t, "the screen", func() bool { return s.result != nil })
	if len(s.rows) != 5 || s.volcano.figure == nil {
		t.Fatalf("%d rows, volcano %v; status %q", len(s.rows), s.volcano.figure != nil, s.status.Text)
	}
	// Sorted by p: the first row is a simulated effect (tp53 or stk11, which leads since 27% of
	// driver-positive patients get immunotherapy, where stk11 acts) with the smallest p.
	first := s.rows[0].Marker
	if first != "tp53" && first != "stk11" || !(s.rows[0].P < 0.05) || slices.ContainsFunc(s.rows, func(r report.ScreenRow) bool { return r.P < s.rows[0].P }) {
		t.Errorf("sorted by p, first row %s (p %g)", first, s.rows[0].P)
	}
	last := s.rows[len(s.rows)-1]
	if last.Marker != "ntrk1" || last.Estimable || !math.IsNaN(last.P) {
		t.Errorf("last row %s estimable %v p %g; want ntrk1, refused everywhere, last", last.Marker, last.Estimable, last.P)
	}
	// A multi-level marker's terms run longer than their column: the cell truncates, it does
	// not draw into the next column.
	cell := s.newCell().(*widget.Label)
	cell.SetText("stageIIIC; stageIVA; stageIVB; stageIIIB; stageIIIA")
	if w := cell.MinSize().Width; w > 170 {
		t.Errorf("a long cell needs %v px, more than its 170 px column", w)
	}
	if s.chosen != first || s.forest.figure == nil || s.km.Disabled() {
		t.Errorf("drill-down on %q, forest %v", s.chosen, s.forest.figure != nil)
	}
	s.table.Select(tableCell(len(s.rows)-1, 0))
	if s.chosen != "ntrk1" || s.forest.figure != nil {
		t.Errorf("choosing ntrk1: chosen %q, forest %v", s.chosen, s.forest.figure != nil)
	}
	s.sortBy.SetSelected(sortMarker)
	if s.rows[0].Marker != "nf1" {
		t.Errorf("sorted by marker, first %s", s.rows[0].Marker)
	}
	// Predictive: STK11 × pembro-chemo.
	s.mode.SetSelected(modePredictive)
	s.treatment.SetName("treatment")
	s.treated.SetSelected("pembro-chemo")
	s.markers.SetSelected([]string{"stk11", "nf1"})
	s.result = nil
	test.Tap(s.run)
	f.loop.until(t, "the predictive screen", func() bool { return s.result != nil })
	if s.result.Mode != "predictive" || len(s.result.Markers) != 2 || s.result.Markers[0].Terms[0].Column != "treatmentpembro-chemo:stk11mut" {
		t.Fatalf("predictive screen %+v", s.result.Markers)
	}
	// Choosing a marker and asking for its Kaplan–Meier groups the cohort by it on the
	// Survival tab.
	s.choose("stk11")
	test.Tap(s.km)
	if f.ui.cohort.groupBy.Selected != "stk11" || f.ui.tabs.Selected().Text != TabSurvival {
		t.Errorf("KM drill-down: group by %q on tab %s", f.ui.cohort.groupBy.Selected, f.ui.tabs.Selected().Text)
	}
}

func tableCell(row, col int) widget.TableCellID { return widget.TableCellID{Row: row, Col: col} }

// The Library's Re-run of a stored screen runs it again on the Biomarkers tab with its stored
// definition (progress and Cancel shown), stores the new screen under the same name and says
// what changed; offline it runs nothing and says why.
func TestLibraryRerunsScreen(t *testing.T) {
	f := startAppOn(t, screenFederation())
	s, lib := f.ui.screen, f.ui.library
	f.ui.selectTab(TabScreen)
	s.markers.SetSelected([]string{"tp53", "stk11", "nf1"})
	s.adjust.SetSelected([]string{"age"})
	test.Tap(s.run)
	f.loop.until(t, "the screen", func() bool { return s.result != nil })
	first := s.result
	lib.onRefresh()
	f.loop.until(t, "the screen in the Library", func() bool { return indexOf(lib.Items(), first.ResultID) >= 0 })
	lib.list.Select(indexOf(lib.Items(), first.ResultID))
	if lib.rerun.Disabled() {
		t.Fatal("Re-run is disabled for a stored screen")
	}
	s.markers.SetSelected([]string{"nf1"}) // the tab moved on: the re-run still asks the stored screen
	s.ties.SetSelected("Breslow")
	f.ui.selectTab(TabLibrary)
	test.Tap(lib.rerun)
	if f.ui.tabs.Selected().Text != TabScreen || s.cancel.Hidden || s.progress.Hidden {
		t.Errorf("re-run on tab %s, cancel hidden %v, progress hidden %v", f.ui.tabs.Selected().Text, s.cancel.Hidden, s.progress.Hidden)
	}
	f.loop.until(t, "the re-run screen", func() bool { return s.result != first && s.result != nil && s.progress.Hidden })
	if s.result.ResultID == first.ResultID || len(s.result.Markers) != 3 || s.result.Markers[0].P != first.Markers[0].P {
		t.Errorf("re-run: result %d (first %d), %d markers, p %g (first %g)", s.result.ResultID, first.ResultID, len(s.result.Markers),
			s.result.Markers[0].P, first.Markers[0].P)
	}
	if got := s.Request(); strings.Join(got.Markers, ",") != "tp53,stk11,nf1" || strings.Join(got.Adjust, ",") != "age" || got.Ties != "efron" {
		t.Errorf("the tab asks %+v after the re-run, not the stored screen", got)
	}
	f.loop.until(t, "the re-run in the Library", func() bool { return indexOf(lib.Items(), s.result.ResultID) >= 0 })
	if it := lib.Items()[indexOf(lib.Items(), s.result.ResultID)]; it.Name != lib.Items()[indexOf(lib.Items(), first.ResultID)].Name {
		t.Errorf("re-run stored as %q", it.Name)
	}

	f.ui.offline = true
	shown := s.result
	s.rerun(first.ResultID, "the screen")
	if s.result != shown || !s.progress.Hidden || !strings.Contains(s.status.Text, "Offline: a stored screen is re-run once the network is back") {
		t.Errorf("offline re-run: status %q, progress hidden %v", s.status.Text, s.progress.Hidden)
	}
}

// After a Run, a screen of the same cohort that every site refuses (the overlap guard: its
// complete cases are the cohort just released) says in the marker's pane which sites sat out
// and why (it said "tp53: 0 patients, 0 events, sites ."), and the cohort panel's sites line
// still describes the cohort's Run: the screen neither empties nor overwrites it.
func TestScreenRefusedEverywhereSaysWhy(t *testing.T) {
	f := startAppOn(t, screenFederation())
	a := f.ui
	c := a.cohort
	test.Tap(c.run)
	f.loop.until(t, "the run", func() bool { return a.survival.result != nil && a.running == 0 })
	line := c.sites.Text()
	if line != "3 of 3 sites answered" || !c.sites.label.Visible() {
		t.Fatalf("sites line after the run %q (visible %v)", line, c.sites.label.Visible())
	}
	s := a.screen
	a.selectTab(TabScreen)
	s.markers.SetSelected([]string{"tp53", "stk11"})
	test.Tap(s.run)
	f.loop.until(t, "the screen", func() bool { return s.result != nil })
	m := s.marker("tp53")
	if m == nil || m.Estimable || len(m.SitesUsed) != 0 || len(m.SitesOut) != 3 {
		t.Fatalf("tp53 %+v: want it refused at every site", m)
	}
	s.choose("tp53")
	if want := "tp53: not estimable: refused at all 3 sites (overlap guard)."; s.detail.Text != want {
		t.Errorf("detail %q, want %q", s.detail.Text, want)
	}
	if c.sites.Text() != line || !c.sites.label.Visible() {
		t.Errorf("sites line after the screen %q (visible %v), want the run's %q", c.sites.Text(), c.sites.label.Visible(), line)
	}
}
