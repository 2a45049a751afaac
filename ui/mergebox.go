package ui

import (
	"errors"
	"slices"
	"strings"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/theme"
	"fyne.io/fyne/v2/widget"

	"github.com/oncofed/oncofed/app"
	"github.com/oncofed/oncofed/protocol"
)

// Merging rare levels of the grouping variable into one group (protocol.Query.Merge): a site
// refuses a grouping as soon as one group is below its min_cohort, and merging the small
// levels ("Other": IIIC, IVB) brings it back. The levels and their feasibility counts are
// offered in a dialog; the merges show under Group by, with a button that clears them.

// newMergeRow builds the Merge… button beside Group by and the row that lists the merges.
func (c *cohortPanel) newMergeRow() {
	c.mergeBtn = widget.NewButton("Merge…", c.onMerge)
	c.mergeBtn.Disable()
	c.mergeRow = container.NewVBox()
}

// setMerge sets the merged groups (nil: none) and shows them.
func (c *cohortPanel) setMerge(m []protocol.LevelGroup) {
	c.merge = m
	c.mergeRow.RemoveAll()
	if len(m) > 0 {
		var parts []string
		for _, g := range m {
			parts = append(parts, g.Name+" = "+strings.Join(g.Levels, ", "))
		}
		c.mergeRow.Add(mergedLine("Merged: "+strings.Join(parts, "; "), func() { c.setMerge(nil); c.onChanged() }))
	}
	c.mergeRow.Refresh()
	if v := c.groupVariable(); v != nil && len(c.unmerged(v)) >= 3 {
		c.mergeBtn.Enable()
	} else {
		c.mergeBtn.Disable()
	}
}

// mergedLine lists merges (wrapped) with a button that clears them, under Group by and under
// the Compare tab's confounders alike.
func mergedLine(text string, clear func()) fyne.CanvasObject {
	l := widget.NewLabel(text)
	l.Wrapping = fyne.TextWrapWord
	return container.NewBorder(nil, nil, nil, widget.NewButtonWithIcon("", theme.ContentClearIcon(), clear), l)
}

// groupVariable is the categorical grouping variable, or nil.
func (c *cohortPanel) groupVariable() *app.Variable {
	if c.study == nil || c.GroupBy() == "" {
		return nil
	}
	v := c.study.Variable(c.GroupBy())
	if v == nil || v.Type != protocol.Categorical {
		return nil
	}
	return v
}

// unmerged are the variable's levels no merge holds yet.
func (c *cohortPanel) unmerged(v *app.Variable) []string {
	var out []string
	for _, l := range v.Categories {
		held := false
		for _, g := range c.merge {
			held = held || slices.Contains(g.Levels, l)
		}
		if !held {
			out = append(out, l)
		}
	}
	return out
}

// onMerge asks which levels to merge, and the merged group's name.
func (c *cohortPanel) onMerge() {
	v := c.groupVariable()
	if v == nil {
		return
	}
	name := widget.NewEntry()
	name.SetText("Other")
	name.Validator = func(s string) error {
		return c.mergeName(v, strings.TrimSpace(s))
	}
	title := "Merge levels of " + c.ui.names().Variable(v.Name)
	c.showLevelsForm(title, "Merge", "Levels", v.Name, c.unmerged(v), []*widget.FormItem{widget.NewFormItem("Name", name)}, func(chosen []string) {
		if len(chosen) < 2 || c.mergeName(v, strings.TrimSpace(name.Text)) != nil {
			return
		}
		c.setMerge(append(slices.Clone(c.merge), protocol.LevelGroup{Name: strings.TrimSpace(name.Text), Levels: ordered(chosen, v.Categories)}))
		c.onChanged()
	})
}

// mergeName checks a merged group's name: not empty, not another level's, not a merge's.
func (c *cohortPanel) mergeName(v *app.Variable, name string) error {
	switch {
	case name == "":
		return errors.New("a merged group needs a name")
	case slices.Contains(v.Categories, name):
		return errors.New("a level is already named " + name)
	}
	for _, g := range c.merge {
		if g.Name == name {
			return errors.New("a merged group is already named " + name)
		}
	}
	return nil
}
