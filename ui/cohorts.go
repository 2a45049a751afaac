package ui

import (
	"fmt"
	"strings"

	"fyne.io/fyne/v2/dialog"
	"fyne.io/fyne/v2/widget"

	"github.com/oncofed/oncofed/app"
	"github.com/oncofed/oncofed/protocol"
)

// Saved cohorts: a named cohort (filters, endpoint, group-by) of a study, kept in the cache so
// a tumor board's cohort can be built again in one click.

// FiltersOf turns a stored cohort filter back into the panel's conditions: nil, one in/range
// condition, or an "and" of them (the shapes the panel builds). Another shape is refused with
// the path of the part it cannot show.
func FiltersOf(f *protocol.Filter) ([]cohortFilter, error) {
	if f == nil {
		return nil, nil
	}
	one := func(x *protocol.Filter, path string) (cohortFilter, error) {
		switch x.Op {
		case protocol.OpIn:
			return cohortFilter{Var: x.Var, Categorical: true, Values: append([]string(nil), x.Values...)}, nil
		case protocol.OpEq:
			return cohortFilter{Var: x.Var, Categorical: true, Values: []string{x.Value}}, nil
		case protocol.OpRange:
			if x.MinOpen || x.MaxOpen {
				return cohortFilter{}, app.Errorf(app.EInvalid, "%s: a strict bound cannot be edited here", path)
			}
			return cohortFilter{Var: x.Var, Min: x.Min, Max: x.Max}, nil
		}
		return cohortFilter{}, app.Errorf(app.EInvalid, "%s: the condition %q cannot be edited here", path, x.Op)
	}
	if f.Op != protocol.OpAnd {
		c, err := one(f, "cohort")
		if err != nil {
			return nil, err
		}
		return []cohortFilter{c}, nil
	}
	var out []cohortFilter
	for i, a := range f.Args {
		c, err := one(a, fmt.Sprintf("cohort.args[%d]", i))
		if err != nil {
			return nil, err
		}
		out = append(out, c)
	}
	return out, nil
}

// loadSaved lists the study's saved cohorts into the Open select (off the UI goroutine).
func (c *cohortPanel) loadSaved() {
	study, svc, parent := c.ui.study, c.ui.svc, c.ui.ctx
	c.ui.goWork(func() func() {
		list, err := svc.Cohorts(parent, study)
		return func() {
			if err != nil || study != c.ui.study {
				return
			}
			c.saved = list
			var names []string
			for _, s := range list {
				names = append(names, s.Name)
			}
			c.open.Options = names
			c.open.ClearSelected()
			c.open.Refresh()
		}
	})
}

// onSave asks for a name and stores the cohort as built.
func (c *cohortPanel) onSave() {
	if c.ui.study == "" {
		return
	}
	e := widget.NewEntry()
	e.SetText(c.savedName)
	e.Validator = func(s string) error {
		if strings.TrimSpace(s) == "" {
			return fmt.Errorf("a name is needed")
		}
		return nil
	}
	dialog.ShowForm("Save cohort", "Save", "Cancel", []*widget.FormItem{widget.NewFormItem("Name", e)}, func(ok bool) {
		if ok {
			c.SaveAs(strings.TrimSpace(e.Text))
		}
	}, c.ui.win)
}

// SaveAs stores the cohort as built under name (replacing a saved cohort of that name).
func (c *cohortPanel) SaveAs(name string) {
	co := &app.Cohort{Study: c.ui.study, Name: name, Endpoint: c.endpoint.Selected, GroupBy: c.GroupBy(), Filter: c.Cohort()}
	for _, s := range c.saved {
		if s.Name == name {
			co.ID, co.CreatedAt = s.ID, s.CreatedAt
		}
	}
	svc, parent := c.ui.svc, c.ui.ctx
	c.ui.goWork(func() func() {
		err := svc.SaveCohort(parent, co)
		return func() {
			if err != nil {
				c.ui.showError("Saving the cohort", err)
				return
			}
			c.savedName, c.savedFilter = name, describeFilters(c.filters)
			c.loadSaved()
		}
	})
}

// onOpen rebuilds the panel from the saved cohort called name.
func (c *cohortPanel) onOpen(name string) {
	for _, s := range c.saved {
		if s.Name != name {
			continue
		}
		if err := c.load(s.Filter, s.Endpoint, s.GroupBy, nil); err != nil {
			c.ui.showError("Opening the cohort "+name, err)
			return
		}
		c.savedName, c.savedFilter = name, describeFilters(c.filters)
		return
	}
}

// load rebuilds the panel from a cohort filter, an endpoint ("" keeps the one chosen) and a
// grouping variable ("" for none). A filter the panel cannot show changes nothing.
func (c *cohortPanel) load(filter *protocol.Filter, endpoint, groupBy string, merge []protocol.LevelGroup) error {
	fs, err := FiltersOf(filter)
	if err != nil {
		return err
	}
	c.filters = fs
	if endpoint != "" {
		c.endpoint.Selected = endpoint
		c.endpoint.Refresh()
	}
	c.groupBy.Selected = noGroup
	if groupBy != "" {
		c.groupBy.Selected = groupBy
	}
	c.groupBy.Refresh()
	c.setMerge(merge)
	c.renderFilters()
	c.onChanged()
	return nil
}

func describeFilters(fs []cohortFilter) string {
	var parts []string
	for _, f := range fs {
		parts = append(parts, f.String())
	}
	return strings.Join(parts, "; ")
}
