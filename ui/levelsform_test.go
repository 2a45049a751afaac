package ui

import (
	"slices"
	"strings"
	"testing"

	"fyne.io/fyne/v2/test"
	"fyne.io/fyne/v2/widget"
)

// levelsDialogCheck is the check group of the levels dialog on top, once its levels are
// labelled with their counts.
func levelsDialogCheck(t *testing.T, f *fixture) *widget.CheckGroup {
	t.Helper()
	var check *widget.CheckGroup
	for _, o := range test.LaidOutObjects(f.ui.win.Canvas().Overlays().Top()) {
		if cg, ok := o.(*widget.CheckGroup); ok {
			check = cg
		}
	}
	if check == nil {
		t.Fatal("no level choice in the dialog")
	}
	f.loop.until(t, "the level counts", func() bool { return strings.Contains(strings.Join(check.Options, "|"), " · ≈") })
	return check
}

// The filter and merge dialogs are one dialog (showLevelsForm): what it hands on are the
// levels ticked by their counted labels, Cancel hands on nothing, and the merge's line under
// Group by clears the merge.
func TestLevelsFormSubmitsLevelsNotLabels(t *testing.T) {
	f := startApp(t)
	c := f.ui.cohort
	var got [][]string
	c.showLevelsForm("Pick", "Take", "Levels", "stage", []string{"IIIB", "IIIC", "IVA"}, nil, func(chosen []string) {
		got = append(got, chosen)
	})
	check := levelsDialogCheck(t, f)
	check.SetSelected([]string{check.Options[2], check.Options[0]})
	test.Tap(dialogButtons(t, f.ui)["Cancel"])
	if len(got) != 0 {
		t.Fatalf("Cancel submitted %q", got)
	}
	c.showLevelsForm("Pick", "Take", "Levels", "stage", []string{"IIIB", "IIIC", "IVA"}, nil, func(chosen []string) {
		got = append(got, chosen)
	})
	check = levelsDialogCheck(t, f)
	check.SetSelected([]string{check.Options[2], check.Options[0]})
	test.Tap(dialogButtons(t, f.ui)["Take"])
	if len(got) != 1 || !slices.Equal(got[0], []string{"IIIB", "IVA"}) {
		t.Fatalf("submitted %q, want the levels IIIB, IVA", got)
	}

	// A merge of one level is no merge; two are, and the line's button clears them.
	c.groupBy.SetSelected("stage")
	c.onMerge()
	check = levelsDialogCheck(t, f)
	check.SetSelected(check.Options[:1])
	test.Tap(dialogButtons(t, f.ui)["Merge"])
	if len(c.merge) != 0 {
		t.Fatalf("one level merged: %+v", c.merge)
	}
	c.onMerge()
	check = levelsDialogCheck(t, f)
	check.SetSelected(check.Options[:2])
	test.Tap(dialogButtons(t, f.ui)["Merge"])
	if len(c.merge) != 1 || len(c.mergeRow.Objects) != 1 {
		t.Fatalf("merge %+v, %d lines", c.merge, len(c.mergeRow.Objects))
	}
	var clear *widget.Button
	for _, o := range test.LaidOutObjects(c.mergeRow) {
		if b, ok := o.(*widget.Button); ok {
			clear = b
		}
	}
	test.Tap(clear)
	if len(c.merge) != 0 || len(c.mergeRow.Objects) != 0 {
		t.Errorf("the clear button left the merge %+v", c.merge)
	}
}
