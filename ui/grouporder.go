package ui

// The analyst's order of a Kaplan–Meier result's groups (issue 18, item 3): the study's
// declared order is the default; the Order… dialog moves groups up and down, and the order
// holds for the legend, the tables, exports and the pinned slide (app.Display.Order).

import (
	"slices"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/dialog"
	"fyne.io/fyne/v2/theme"
	"fyne.io/fyne/v2/widget"

	"github.com/oncofed/oncofed/app"
	"github.com/oncofed/oncofed/report"
)

// groupOrderList is the editable order of the dialog: the groups as listed, each row with
// buttons that move it up or down.
type groupOrderList struct {
	groups []string
	box    *fyne.Container
}

func newGroupOrderList(groups []string) *groupOrderList {
	l := &groupOrderList{groups: slices.Clone(groups), box: container.NewVBox()}
	l.render()
	return l
}

// move swaps group i with its neighbour d places away (−1 up, +1 down), if there is one.
func (l *groupOrderList) move(i, d int) {
	j := i + d
	if i < 0 || j < 0 || i >= len(l.groups) || j >= len(l.groups) {
		return
	}
	l.groups[i], l.groups[j] = l.groups[j], l.groups[i]
	l.render()
}

func (l *groupOrderList) render() {
	l.box.RemoveAll()
	for i, g := range l.groups {
		up := widget.NewButtonWithIcon("", theme.MoveUpIcon(), func() { l.move(i, -1) })
		down := widget.NewButtonWithIcon("", theme.MoveDownIcon(), func() { l.move(i, +1) })
		if i == 0 {
			up.Disable()
		}
		if i == len(l.groups)-1 {
			down.Disable()
		}
		l.box.Add(container.NewBorder(nil, nil, nil, container.NewHBox(up, down), widget.NewLabel(report.GroupName(g))))
	}
	l.box.Refresh()
}

// orderedGroups are the result's group values in the order on show.
func (t *survivalTab) orderedGroups() []string {
	var out []string
	for _, g := range app.InOrder(t.result, t.order).KM.Groups {
		out = append(out, g.Group)
	}
	return out
}

// onOrder asks for the order of the groups.
func (t *survivalTab) onOrder() {
	if t.result == nil || len(t.result.KM.Groups) < 2 {
		return
	}
	list := newGroupOrderList(t.orderedGroups())
	declared := widget.NewButton("Study's order", func() {
		var gs []string
		for _, g := range t.result.KM.Groups {
			gs = append(gs, g.Group)
		}
		list.groups = gs
		list.render()
	})
	body := container.NewBorder(widget.NewLabel("The groups in legends, tables, exports and slides:"), declared, nil, nil,
		container.NewVScroll(list.box))
	d := dialog.NewCustomConfirm("Order of the groups", "Apply", "Cancel", body, func(ok bool) {
		if ok {
			t.setOrder(list.groups)
		}
	}, t.host.window())
	d.Resize(fyne.NewSize(380, 420))
	d.Show()
}

// setOrder shows the groups in order (nil: the study's declared order) and keeps it for the
// result's grouping.
func (t *survivalTab) setOrder(order []string) {
	if t.result == nil {
		return
	}
	t.order, t.orderFor = slices.Clone(order), t.result.Request.GroupBy
	t.refreshViews()
	t.redraw()
}
