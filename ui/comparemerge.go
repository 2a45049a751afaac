package ui

import (
	"slices"
	"strings"

	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/dialog"
	"fyne.io/fyne/v2/widget"

	"github.com/oncofed/oncofed/app"
	"github.com/oncofed/oncofed/protocol"
)

// Coarsening confounders in the Compare tab (app.IPWSpec.Merge, docs/ipw.md "Coarsening
// confounders"), as "Merge…" beside Group by does for a grouping: a site refuses a comparison
// when an arm holds too few patients of some level (or combination of levels) of the discrete
// confounders, and merging rare levels (ECOG 2 to 5, stages IIIB to IVA) brings it back. The
// merge is checked against the study's declarations by app.CheckIPWMerge — the CLI's --merge
// uses the same — and each merged group is named LEVEL+LEVEL, as the CLI names it.

// The button is not offered to an analyst of role dp: a dp comparison is one dp_tables release,
// whose cells are the declared levels (app.runIPWDP refuses a merge).

// newMergeRow builds the "Merge levels…" button under the confounders and the row that lists
// the merges.
func (t *compareTab) newMergeRow() {
	t.mergeBtn = widget.NewButton("Merge levels…", t.onMerge)
	t.mergeBtn.Disable()
	t.mergeRow = container.NewVBox()
}

// mergeable are the chosen confounders with levels to merge and at least three of them left
// unmerged (merging two of three still leaves two levels to compare).
func (t *compareTab) mergeable() []string {
	var out []string
	for _, c := range t.chosenConfounders() {
		if len(t.unmergedLevels(c)) >= 3 {
			out = append(out, c)
		}
	}
	return out
}

// chosenConfounders are the confounders chosen, without the treatment.
func (t *compareTab) chosenConfounders() []string {
	var out []string
	for _, c := range t.confounders.Selected {
		if c != t.treatment.Name() {
			out = append(out, c)
		}
	}
	return out
}

// unmergedLevels are the levels of confounder name no merge holds yet; none for a continuous
// one.
func (t *compareTab) unmergedLevels(name string) []string {
	if t.study == nil {
		return nil
	}
	levels, err := app.IPWMergeLevels(t.study, name)
	if err != nil {
		return nil
	}
	return slices.DeleteFunc(levels, func(l string) bool {
		return slices.ContainsFunc(t.merge[name], func(g protocol.LevelGroup) bool { return slices.Contains(g.Levels, l) })
	})
}

// setMerge keeps the merges of the chosen confounders among m and lists them, each with a
// button that clears it.
func (t *compareTab) setMerge(m map[string][]protocol.LevelGroup) {
	chosen := t.chosenConfounders()
	t.merge = nil
	for name, groups := range m {
		if slices.Contains(chosen, name) && len(groups) > 0 {
			if t.merge == nil {
				t.merge = map[string][]protocol.LevelGroup{}
			}
			t.merge[name] = groups
		}
	}
	t.mergeRow.RemoveAll()
	for _, name := range chosen {
		groups := t.merge[name]
		if len(groups) == 0 {
			continue
		}
		var parts []string
		for _, g := range groups {
			parts = append(parts, strings.Join(g.Levels, ", "))
		}
		t.mergeRow.Add(mergedLine("Merged "+t.host.names().Variable(name)+": "+strings.Join(parts, "; "), func() {
			m := t.Merge()
			delete(m, name)
			t.setMerge(m)
		}))
	}
	t.mergeRow.Refresh()
	if len(t.mergeable()) > 0 && !t.host.dpAnalyst(t.study) {
		t.mergeBtn.Enable()
	} else {
		t.mergeBtn.Disable()
	}
}

// Merge is a copy of the merges of the chosen confounders (nil: none).
func (t *compareTab) Merge() map[string][]protocol.LevelGroup {
	if len(t.merge) == 0 {
		return nil
	}
	out := make(map[string][]protocol.LevelGroup, len(t.merge))
	for name, groups := range t.merge {
		out[name] = slices.Clone(groups)
	}
	return out
}

// addMerge merges levels of confounder name into one group, after app.CheckIPWMerge accepts
// the merges with it.
func (t *compareTab) addMerge(name string, levels []string) error {
	if all, err := app.IPWMergeLevels(t.study, name); err == nil {
		levels = slices.DeleteFunc(slices.Clone(all), func(l string) bool { return !slices.Contains(levels, l) }) // declared order
	}
	m := t.Merge()
	if m == nil {
		m = map[string][]protocol.LevelGroup{}
	}
	m[name] = append(m[name], app.IPWMergeGroup(levels))
	if _, err := app.CheckIPWMerge(t.study, t.chosenConfounders(), m, nil); err != nil {
		return err
	}
	t.setMerge(m)
	return nil
}

// onMerge asks which confounder and which of its levels to merge.
func (t *compareTab) onMerge() {
	names := t.mergeable()
	if len(names) == 0 {
		return
	}
	labels := make([]string, len(names))
	for i, n := range names {
		labels[i] = t.host.names().Variable(n)
	}
	check := widget.NewCheckGroup(nil, nil)
	which := widget.NewSelect(labels, func(label string) {
		check.Options = t.unmergedLevels(names[slices.Index(labels, label)])
		check.Selected = nil
		check.Refresh()
	})
	which.SetSelectedIndex(0)
	items := []*widget.FormItem{widget.NewFormItem("Confounder", which), widget.NewFormItem("Levels", check)}
	d := dialog.NewForm("Merge levels of a confounder", "Merge", "Cancel", items, func(ok bool) {
		if !ok || which.SelectedIndex() < 0 || len(check.Selected) == 0 {
			return
		}
		if err := t.addMerge(names[which.SelectedIndex()], check.Selected); err != nil {
			dialog.ShowError(err, t.host.window())
		}
	}, t.host.window())
	d.Show()
}
