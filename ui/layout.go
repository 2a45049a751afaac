package ui

import (
	"fyne.io/fyne/v2"
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
