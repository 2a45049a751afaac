package ui

import (
	"slices"

	"fyne.io/fyne/v2/widget"
)

// variableSelect is a select of variables shown by their dictionary labels ("first-line
// regimen") and chosen by name ("treatment"), as covariateList is for checks. Extra options
// that are not variables (the Compare tab's single-arm trial) show and select as themselves.
// A label longer than the select is cut with an ellipsis (widget.Select's minimum width is its
// placeholder's), so labels never widen a tab.
type variableSelect struct {
	*widget.Select
	names []string // parallel to Select.Options
}

// newVariableSelect returns an empty select; changed (may be nil) gets the chosen name.
func newVariableSelect(placeholder string, changed func(name string)) *variableSelect {
	v := &variableSelect{}
	v.Select = widget.NewSelect(nil, func(string) {
		if changed != nil {
			changed(v.Name())
		}
	})
	v.PlaceHolder = placeholder
	return v
}

// SetNames offers names, each shown as label(name) (the name itself when label is nil or gives
// ""; a label two names share is followed by the name), and clears the choice.
func (v *variableSelect) SetNames(names []string, label func(string) string) {
	v.names = slices.Clone(names)
	opts := make([]string, len(names))
	seen := map[string]int{}
	for i, n := range names {
		opts[i] = n
		if label != nil {
			if l := label(n); l != "" {
				opts[i] = l
			}
		}
		seen[opts[i]]++
	}
	for i, n := range names {
		if seen[opts[i]] > 1 && opts[i] != n {
			opts[i] += " (" + n + ")"
		}
	}
	v.Select.Options = opts
	v.Select.ClearSelected()
}

// Name is the chosen variable's name, "" when none is chosen.
func (v *variableSelect) Name() string {
	if i := v.SelectedIndex(); i >= 0 && i < len(v.names) {
		return v.names[i]
	}
	return ""
}

// SetName chooses the variable name (calling the change function); an unknown name clears
// the choice.
func (v *variableSelect) SetName(name string) {
	if i := slices.Index(v.names, name); i >= 0 {
		v.SetSelectedIndex(i)
		return
	}
	v.ClearSelected()
}
