package ui

import (
	"fmt"
	"io"
	"time"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/theme"
	"fyne.io/fyne/v2/widget"

	"github.com/oncofed/oncofed/app"
	"github.com/oncofed/oncofed/chart"
	"github.com/oncofed/oncofed/report"
)

// presentation is the full-screen tumor-board mode: one pinned figure per slide with its
// title and footnote (cohort, sites, data cut, privacy), moved with the arrow keys and
// space, left with Esc.
type presentation struct {
	ui     *App
	win    fyne.Window
	slides []slide
	index  int
	title  *widget.Label
	page   *widget.Label
	figure *figureView
	now    time.Time
}

// slide is a pinned result with the study its figure is named from (nil: by codes).
type slide struct {
	r     *app.Result
	names report.Names
}

// writeDeck writes the pinned results as one PDF, a page per slide (report.WriteDeck).
func writeDeck(w io.Writer, ss []slide, now time.Time) error {
	rs, names := make([]*app.Result, len(ss)), make([]report.Names, len(ss))
	for i, s := range ss {
		rs[i], names[i] = s.r, s.names
	}
	return report.WriteDeck(w, rs, names, now)
}

// present opens presentation mode on the pinned results rs.
func (a *App) present(ss []slide) *presentation {
	p := &presentation{ui: a, slides: ss, now: a.opt.Now()}
	p.win = a.fy.NewWindow("Oncofed — presentation")
	p.title = widget.NewLabelWithStyle("", fyne.TextAlignCenter, fyne.TextStyle{Bold: true})
	p.title.SizeName = "headingText"
	p.page = widget.NewLabelWithStyle("", fyne.TextAlignTrailing, fyne.TextStyle{})
	p.figure = newFigureView(a.opt.Do, "")
	hint := widget.NewLabel("← → or space to move · Esc to leave")
	hint.Importance = widget.LowImportance
	// The figure carries the title (and footnote), so a slide exported to PDF looks the same.
	p.win.SetContent(container.NewBorder(nil, container.NewBorder(nil, nil, hint, p.page), nil, nil, p.figure))
	p.win.Canvas().SetOnTypedKey(p.onKey)
	p.win.Resize(fyne.NewSize(1280, 800))
	p.win.SetFullScreen(true)
	p.show(0)
	p.win.Show()
	return p
}

func (p *presentation) show(i int) {
	if i < 0 || i >= len(p.slides) {
		return
	}
	p.index = i
	sl := p.slides[i]
	p.title.SetText(sl.r.Name)
	p.page.SetText(fmt.Sprintf("%d / %d", i+1, len(p.slides)))
	style := chart.PresentationStyle()
	if p.ui.fy.Settings().ThemeVariant() == theme.VariantDark {
		style = style.Dark()
	}
	now := p.now
	p.figure.SetFigure(func() chart.Figure {
		f, _ := report.Slide(sl.r, sl.names, style, now)
		return f
	}, "")
}

func (p *presentation) onKey(e *fyne.KeyEvent) {
	switch e.Name {
	case fyne.KeyRight, fyne.KeySpace, fyne.KeyDown, fyne.KeyPageDown:
		p.show(p.index + 1)
	case fyne.KeyLeft, fyne.KeyUp, fyne.KeyPageUp, fyne.KeyBackspace:
		p.show(p.index - 1)
	case fyne.KeyEscape:
		p.win.Close()
	}
}
