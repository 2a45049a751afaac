package ui

import (
	"slices"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/widget"
)

// covariateList is the model builder's choice of covariates: a check per variable, shown by
// its dictionary label ("PD-L1 tumour proportion score, %"), chosen by name. A label wraps in
// the tabs' narrow left column instead of widening the tab beyond a 1024-pixel window, and a
// tap on it ticks its box. Options and Selected are variable names, as in the CheckGroup it
// replaces: set them and Refresh, or call SetSelected (which calls OnChanged).
type covariateList struct {
	widget.BaseWidget
	Options   []string
	Selected  []string
	OnChanged func([]string)

	label    func(name string) string // the name's label; nil shows names
	box      *fyne.Container
	disabled bool
}

// Disable greys every check out (their labels' taps do nothing); Enable undoes it.
func (l *covariateList) Disable() { l.disabled = true; l.Refresh() }

// Enable makes the checks choosable again.
func (l *covariateList) Enable() { l.disabled = false; l.Refresh() }

// Disabled reports whether the list is disabled.
func (l *covariateList) Disabled() bool { return l.disabled }

func newCovariateList(label func(string) string, changed func([]string)) *covariateList {
	l := &covariateList{label: label, OnChanged: changed, box: container.NewVBox()}
	l.ExtendBaseWidget(l)
	return l
}

func (l *covariateList) CreateRenderer() fyne.WidgetRenderer { return widget.NewSimpleRenderer(l.box) }

// SetSelected ticks the named options (in Options' order), then calls OnChanged.
func (l *covariateList) SetSelected(names []string) {
	l.Selected = names
	if l.OnChanged != nil {
		l.OnChanged(names)
	}
	l.Refresh()
}

// Refresh redraws a row per option, ticked when selected.
func (l *covariateList) Refresh() {
	l.box.RemoveAll()
	for _, name := range l.Options {
		text := name
		if l.label != nil {
			text = l.label(name)
		}
		check := widget.NewCheck("", nil)
		check.Checked = slices.Contains(l.Selected, name)
		check.OnChanged = func(on bool) { l.toggle(name, on) }
		label := newTapLabel(text, func() {
			if !check.Disabled() {
				check.SetChecked(!check.Checked)
			}
		})
		if l.disabled {
			check.Disable()
			label.Importance = widget.LowImportance
		}
		row := container.NewBorder(nil, nil, check, nil, label)
		l.box.Add(row)
	}
	l.BaseWidget.Refresh()
}

// toggle ticks or unticks name, keeping Selected in Options' order.
func (l *covariateList) toggle(name string, on bool) {
	var sel []string
	for _, o := range l.Options {
		if o == name && on || o != name && slices.Contains(l.Selected, o) {
			sel = append(sel, o)
		}
	}
	l.Selected = sel
	if l.OnChanged != nil {
		l.OnChanged(sel)
	}
}

// tapLabel is a wrapping label that calls onTap when tapped (a check's own text cannot wrap).
type tapLabel struct {
	widget.Label
	onTap func()
}

func newTapLabel(text string, onTap func()) *tapLabel {
	l := &tapLabel{onTap: onTap}
	l.Text, l.Wrapping = text, fyne.TextWrapWord
	l.ExtendBaseWidget(l)
	return l
}

func (l *tapLabel) Tapped(*fyne.PointEvent) { l.onTap() }
