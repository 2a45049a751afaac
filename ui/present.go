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
	slides []*app.Result
	index  int
	title  *widget.Label
	page   *widget.Label
	figure *figureView
	now    time.Time
}

// slideFigure is the presentation figure of a pinned result: large type, thick lines.
func slideFigure(r *app.Result, now time.Time, style chart.Style) chart.Figure {
	foot := cohortWords(r.Request) + ". " + report.PrivacyLine(r, now)
	if r.KM != nil {
		f := report.KMFigure(r, report.KMOptions{HideCensor: tooManyCensorMarks(r)}, style, foot)
		f.Title = r.Name
		return f
	}
	if r.Cox != nil && r.Cox.Fit != nil {
		if f := ForestFigure(r, report.Names{}, style, foot); f != nil {
			f.Title = r.Name
			return f
		}
	}
	return nil
}

// writeDeck writes the pinned results as one PDF, a page per slide.
func writeDeck(w io.Writer, rs []*app.Result, now time.Time) error {
	var figs []chart.Figure
	for _, r := range rs {
		if f := slideFigure(r, now, chart.PresentationStyle()); f != nil {
			figs = append(figs, f)
		}
	}
	return chart.WritePDFDeck(w, figs, 1920, 1200)
}

// present opens presentation mode on the pinned results rs.
func (a *App) present(rs []*app.Result) *presentation {
	p := &presentation{ui: a, slides: rs, now: a.opt.Now()}
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
	r := p.slides[i]
	p.title.SetText(r.Name)
	p.page.SetText(fmt.Sprintf("%d / %d", i+1, len(p.slides)))
	style := chart.PresentationStyle()
	if p.ui.fy.Settings().ThemeVariant() == theme.VariantDark {
		style = style.Dark()
	}
	now := p.now
	p.figure.SetFigure(func() chart.Figure { return slideFigure(r, now, style) }, "")
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
