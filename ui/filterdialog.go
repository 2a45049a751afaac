package ui

import (
	"context"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"

	"fyne.io/fyne/v2/dialog"
	"fyne.io/fyne/v2/widget"
	"github.com/oncofed/oncofed/app"
	"github.com/oncofed/oncofed/protocol"
)

// The dialog that adds a condition to the cohort: the levels of a categorical variable (with
// each level's count in the cohort as feasibility releases it) or the bounds of a numeric one.

// onAddFilter asks for the values (categorical) or the range (numeric) of variable name.
func (c *cohortPanel) onAddFilter(name string) {
	if c.study == nil {
		return
	}
	v := c.study.Variable(name)
	if v == nil {
		return
	}
	title := "Filter on " + name
	if v.Label != "" {
		title += " — " + v.Label
	}
	if v.Type == protocol.Categorical {
		c.showLevelsForm(title, "Add", "Keep", name, v.Categories, nil, func(chosen []string) {
			if len(chosen) > 0 {
				c.AddFilter(cohortFilter{Var: name, Categorical: true, Values: ordered(chosen, v.Categories)})
			}
		})
		return
	}
	unit := ""
	if v.Unit != "" {
		unit = " (" + v.Unit + ")"
	}
	lo, hi := widget.NewEntry(), widget.NewEntry()
	lo.SetPlaceHolder("no lower bound")
	hi.SetPlaceHolder("no upper bound")
	if v.Min != nil && v.Max != nil {
		lo.SetPlaceHolder("no lower bound (from " + fmtNum(*v.Min) + ")")
		hi.SetPlaceHolder("no upper bound (to " + fmtNum(*v.Max) + ")")
	}
	// Checked as typed: Add stays disabled, and the text stays, until the bounds make sense.
	lo.Validator = boundValidator(v, func() string { return "" }, func() string { return hi.Text })
	hi.Validator = boundValidator(v, func() string { return lo.Text }, func() string { return "" })
	lo.OnChanged = func(string) { _ = hi.Validate() } // each bound is checked against the other
	hi.OnChanged = func(string) { _ = lo.Validate() }
	items := []*widget.FormItem{widget.NewFormItem("At least"+unit, lo), widget.NewFormItem("At most"+unit, hi)}
	d := dialog.NewForm(title, "Add", "Cancel", items, func(ok bool) {
		if !ok {
			return
		}
		f, err := rangeFilter(name, lo.Text, hi.Text)
		if err != nil {
			c.ui.showError("Filter on "+name, err)
			return
		}
		c.AddFilter(f)
	}, c.ui.win)
	d.Show()
}

// showLevelsForm shows the form dialog that picks levels of a categorical variable — to
// filter on them, or to merge them — as a check group under levelsLabel, each level labelled
// with its count in the cohort once counted (ticks survive the relabel), then the items more;
// confirmed, submit gets the levels ticked (never their labels).
func (c *cohortPanel) showLevelsForm(title, confirm, levelsLabel, variable string, levels []string, more []*widget.FormItem, submit func(chosen []string)) {
	check := widget.NewCheckGroup(levels, nil)
	labels := newLevelLabels(levels)
	items := append([]*widget.FormItem{widget.NewFormItem(levelsLabel, check)}, more...)
	dialog.ShowForm(title, confirm, "Cancel", items, func(ok bool) {
		if ok {
			submit(labels.categories(check.Selected))
		}
	}, c.ui.win)
	c.countLevels(variable, func(r *app.CountResult) {
		selected := labels.categories(check.Selected)
		check.Options = labels.label(r)
		check.Selected = labels.labels(selected)
		check.Refresh()
	})
}

// countLevels counts the current cohort by variable as feasibility does (approximate, not
// remembered by the sites, answered from memory when counted a moment ago) and hands the
// result to show on the UI goroutine; offline, or when the count fails, nothing is shown.
func (c *cohortPanel) countLevels(variable string, show func(*app.CountResult)) {
	if c.ui.offline || c.ui.opt.Network == nil {
		return
	}
	req := c.Request(protocol.KindCount)
	req.GroupBy = variable
	svc, parent := c.ui.svc, c.ui.ctx
	c.ui.goWork(func() func() {
		ctx, cancel := context.WithTimeout(parent, 15*time.Second)
		defer cancel()
		r, err := svc.Count(ctx, req)
		if err != nil || r.Count == nil {
			return nil
		}
		return func() { show(r.Count) }
	})
}

// levelLabels names a categorical variable's levels in the filter dialog, with their counts
// once known ("IIIB · ≈1,200"), and maps labels back to levels.
type levelLabels struct {
	levels, current []string // current[i] labels levels[i]
}

func newLevelLabels(levels []string) *levelLabels {
	return &levelLabels{levels: levels, current: slices.Clone(levels)}
}

// label relabels the levels with the counts of r and returns the labels; a level r does not
// list (no site holds it, or the cohort's filter excludes it) keeps its bare name.
func (l *levelLabels) label(r *app.CountResult) []string {
	for i, lv := range l.levels {
		l.current[i] = lv
		for _, g := range r.Groups {
			if g.Group == lv {
				l.current[i] = lv + " · " + FormatFeasibility(g.N, r.Approximate)
			}
		}
	}
	return slices.Clone(l.current)
}

// categories are the levels the labels name.
func (l *levelLabels) categories(labels []string) []string {
	var out []string
	for i, lb := range l.current {
		if slices.Contains(labels, lb) {
			out = append(out, l.levels[i])
		}
	}
	return out
}

// labels are the current labels of the levels cats.
func (l *levelLabels) labels(cats []string) []string {
	var out []string
	for i, lv := range l.levels {
		if slices.Contains(cats, lv) {
			out = append(out, l.current[i])
		}
	}
	return out
}

// numberValidator flags a field that is neither empty nor a number.
func numberValidator(s string) error {
	if strings.TrimSpace(s) == "" {
		return nil
	}
	if _, err := strconv.ParseFloat(strings.TrimSpace(s), 64); err != nil {
		return fmt.Errorf("not a number")
	}
	return nil
}

// boundValidator checks one bound of a numeric filter as it is typed: a number, within the
// variable's declared range (a sanity range: a typo such as 650 for age 65 is caught), and not
// above the upper bound (below, not below the lower) typed in the other field.
func boundValidator(v *app.Variable, lower, upper func() string) func(string) error {
	return func(s string) error {
		if err := numberValidator(s); err != nil || strings.TrimSpace(s) == "" {
			return err
		}
		x, _ := strconv.ParseFloat(strings.TrimSpace(s), 64)
		if v.Min != nil && v.Max != nil && (x < *v.Min || x > *v.Max) {
			return fmt.Errorf("outside %s's range %s–%s", v.Name, fmtNum(*v.Min), fmtNum(*v.Max))
		}
		if lo, err := strconv.ParseFloat(strings.TrimSpace(lower()), 64); err == nil && x < lo {
			return fmt.Errorf("below the lower bound %s", fmtNum(lo))
		}
		if hi, err := strconv.ParseFloat(strings.TrimSpace(upper()), 64); err == nil && x > hi {
			return fmt.Errorf("above the upper bound %s", fmtNum(hi))
		}
		return nil
	}
}

// rangeFilter builds a numeric filter from the two fields, refusing bad input with the field named.
func rangeFilter(name, lo, hi string) (cohortFilter, error) {
	f := cohortFilter{Var: name}
	parse := func(field, s string) (*float64, error) {
		s = strings.TrimSpace(s)
		if s == "" {
			return nil, nil
		}
		x, err := strconv.ParseFloat(s, 64)
		if err != nil || math.IsNaN(x) || math.IsInf(x, 0) {
			return nil, app.Errorf(app.EInvalid, "%q in the field %q is not a number", s, field)
		}
		return &x, nil
	}
	var err error
	if f.Min, err = parse("at least", lo); err != nil {
		return f, err
	}
	if f.Max, err = parse("at most", hi); err != nil {
		return f, err
	}
	if f.Min == nil && f.Max == nil {
		return f, app.Errorf(app.EInvalid, "give a lower bound, an upper bound or both")
	}
	if f.Min != nil && f.Max != nil && *f.Min > *f.Max {
		return f, app.Errorf(app.EInvalid, "the lower bound %s is above the upper bound %s", fmtNum(*f.Min), fmtNum(*f.Max))
	}
	return f, nil
}

func ordered(sel, order []string) []string {
	in := map[string]bool{}
	for _, s := range sel {
		in[s] = true
	}
	var out []string
	for _, s := range order {
		if in[s] {
			out = append(out, s)
		}
	}
	return out
}
