package ui

import (
	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/theme"
)

// fixedWidth lays its one child out at a fixed width and the full height: the cohort panel
// keeps its width whatever the tabs ask for.
type fixedWidth struct{ width float32 }

func (l fixedWidth) MinSize(objs []fyne.CanvasObject) fyne.Size {
	h := float32(0)
	for _, o := range objs {
		if m := o.MinSize(); m.Height > h {
			h = m.Height
		}
	}
	return fyne.NewSize(l.width, h)
}

func (l fixedWidth) Layout(objs []fyne.CanvasObject, size fyne.Size) {
	for _, o := range objs {
		o.Move(fyne.NewPos(0, 0))
		o.Resize(size)
	}
}

// gridTable lays objects out row by row in cols columns, each column as wide as its widest
// cell (a grid with equal columns would make every column as wide as the widest of all).
type gridTable struct{ cols int }

func (l gridTable) widths(objs []fyne.CanvasObject) ([]float32, []float32) {
	w := make([]float32, l.cols)
	var h []float32
	for i, o := range objs {
		if !o.Visible() {
			continue
		}
		m := o.MinSize()
		c, r := i%l.cols, i/l.cols
		if m.Width > w[c] {
			w[c] = m.Width
		}
		for len(h) <= r {
			h = append(h, 0)
		}
		if m.Height > h[r] {
			h[r] = m.Height
		}
	}
	return w, h
}

func (l gridTable) MinSize(objs []fyne.CanvasObject) fyne.Size {
	w, h := l.widths(objs)
	var s fyne.Size
	for _, x := range w {
		s.Width += x
	}
	for _, y := range h {
		s.Height += y
	}
	pad := theme.Padding()
	s.Width += pad * float32(l.cols-1)
	return s
}

func (l gridTable) Layout(objs []fyne.CanvasObject, _ fyne.Size) {
	w, h := l.widths(objs)
	pad := theme.Padding()
	y := float32(0)
	for r := range h {
		x := float32(0)
		for c := 0; c < l.cols; c++ {
			i := r*l.cols + c
			if i >= len(objs) {
				break
			}
			objs[i].Move(fyne.NewPos(x, y))
			objs[i].Resize(fyne.NewSize(w[c], h[r]))
			x += w[c] + pad
		}
		y += h[r]
	}
}

// toolbar lays out a tab's controls in one row when they fit, the first lead of them at the
// left and the rest at the right; in a narrower window they wrap onto further rows, left to
// right, so that every control stays on screen (a row of boxes would instead make the window
// as wide as all of them: 1,180 px for the survival tab's).
type toolbar struct {
	lead  int
	width float32 // the width of the last layout, for the height MinSize reports
}

func newToolbar(lead int, objs ...fyne.CanvasObject) *fyne.Container {
	return container.New(&toolbar{lead: lead}, objs...)
}

// rows places the visible objects in rows of at most width, returning each one's position and
// the total height.
func (l *toolbar) rows(objs []fyne.CanvasObject, width float32) ([]fyne.Position, float32) {
	pad := theme.Padding()
	pos := make([]fyne.Position, len(objs))
	var x, y, rowH, total float32
	first, oneRow := true, true
	for i, o := range objs {
		if !o.Visible() {
			continue
		}
		m := o.MinSize()
		if !first && x+m.Width > width {
			x, y = 0, y+rowH+pad
			rowH, oneRow = 0, false
		}
		first = false
		pos[i] = fyne.NewPos(x, y)
		x += m.Width + pad
		rowH = max(rowH, m.Height)
		total = y + rowH
	}
	if oneRow { // the trailing controls go to the right edge
		right := width
		for i := len(objs) - 1; i >= l.lead; i-- {
			if objs[i].Visible() {
				right -= objs[i].MinSize().Width
				pos[i].X = right
				right -= pad
			}
		}
	}
	return pos, total
}

func (l *toolbar) MinSize(objs []fyne.CanvasObject) fyne.Size {
	var w float32
	for _, o := range objs {
		if o.Visible() {
			w = max(w, o.MinSize().Width)
		}
	}
	_, h := l.rows(objs, max(w, l.width))
	return fyne.NewSize(w, h)
}

func (l *toolbar) Layout(objs []fyne.CanvasObject, size fyne.Size) {
	l.width = size.Width
	pos, _ := l.rows(objs, size.Width)
	for i, o := range objs {
		o.Move(pos[i])
		o.Resize(o.MinSize())
	}
}

// cappedHeight lays out one scroll container at its content's height, but at most lines text
// lines high: a long status line (a dp screen's ρ spent at every site and its noise note) then
// scrolls in its few lines instead of pushing the tab past a 1024×700 window.
type cappedHeight struct{ lines int }

// capHeight wraps content (a word-wrapped label) in a vertical scroll shown at most lines high.
func capHeight(content fyne.CanvasObject, lines int) *fyne.Container {
	return container.New(cappedHeight{lines: lines}, container.NewVScroll(content))
}

func (l cappedHeight) MinSize(objs []fyne.CanvasObject) fyne.Size {
	var s fyne.Size
	for _, o := range objs {
		if !o.Visible() {
			continue
		}
		m := o.MinSize()
		if sc, ok := o.(*container.Scroll); ok && sc.Content != nil {
			if !sc.Content.Visible() {
				continue // a hidden status takes no room
			}
			m.Height = sc.Content.MinSize().Height
		}
		s = s.Max(m)
	}
	line := fyne.MeasureText("Ag", theme.TextSize(), fyne.TextStyle{}).Height + theme.LineSpacing()
	return fyne.NewSize(s.Width, min(s.Height, float32(l.lines)*line+2*theme.InnerPadding()))
}

func (l cappedHeight) Layout(objs []fyne.CanvasObject, size fyne.Size) {
	for _, o := range objs {
		o.Move(fyne.NewPos(0, 0))
		o.Resize(size)
	}
}
