package ui

import (
	"image"
	"time"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/canvas"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/driver/desktop"
	"fyne.io/fyne/v2/theme"
	"fyne.io/fyne/v2/widget"

	"github.com/oncofed/oncofed/chart"
)

// figureView shows a chart.Figure as an image that is re-rendered, off the UI goroutine, for
// the size the view is laid out at. Resizing the window never waits for a render: the last
// image stays (scaled) until the new one arrives.
// The widest and the tallest aspect (width/height) a figure is drawn at.
const (
	maxAspect = 2.2
	minAspect = 1.1
)

type figureView struct {
	widget.BaseWidget
	do  func(func())
	img *canvas.Image
	msg *widget.Label
	// drawn is the figure on show; when it is a chart.Readout, moving the pointer over it
	// shows what it reads there in read (on a panel, at the figure's top left).
	drawn     chart.Figure
	read      *widget.Label
	readPanel *fyne.Container
	readPos   fyne.Position       // the pointer, which the panel follows
	figure    func() chart.Figure // nil: no figure, msg is shown
	gen       int
	size      fyne.Size // the size of the last render request
	timer     *time.Timer
	// rendered counts finished renders (tests wait on it).
	rendered int
	lastErr  error
}

func newFigureView(do func(func()), placeholder string) *figureView {
	v := &figureView{do: do}
	v.img = canvas.NewImageFromImage(nil)
	v.img.FillMode = canvas.ImageFillContain
	v.img.ScaleMode = canvas.ImageScaleSmooth
	v.msg = widget.NewLabelWithStyle(placeholder, fyne.TextAlignCenter, fyne.TextStyle{Italic: true})
	v.msg.Wrapping = fyne.TextWrapWord
	v.read = widget.NewLabel("")
	v.read.SizeName = theme.SizeNameCaptionText
	bg := canvas.NewRectangle(theme.Color(theme.ColorNameOverlayBackground))
	bg.CornerRadius = theme.Size(theme.SizeNameInputRadius)
	v.readPanel = container.NewStack(bg, v.read)
	v.readPanel.Hide()
	v.ExtendBaseWidget(v)
	return v
}

// MouseIn implements desktop.Hoverable.
func (v *figureView) MouseIn(e *desktop.MouseEvent) { v.MouseMoved(e) }

// MouseMoved shows what the figure reads under the pointer (desktop.Hoverable).
func (v *figureView) MouseMoved(e *desktop.MouseEvent) { v.readAt(e.Position) }

// MouseOut hides the readout (desktop.Hoverable).
func (v *figureView) MouseOut() { v.readAt(fyne.NewPos(-1, -1)) }

// readAt shows the readout for a point of the view (nothing off the figure).
func (v *figureView) readAt(p fyne.Position) {
	text := ""
	if r, ok := v.drawn.(chart.Readout); ok && v.img.Image != nil {
		box := v.imageBox()
		if box.Width > 0 && box.Height > 0 {
			text = r.ReadAt(float64((p.X-box.X)/box.Width), float64((p.Y-box.Y)/box.Height))
		}
	}
	if text == "" {
		v.readPanel.Hide()
		return
	}
	v.read.SetText(text)
	v.readPos = p
	v.readPanel.Show()
	v.Refresh()
}

// imageBox is where the image is on the view: scaled to fit (ImageFillContain), centred.
type rect struct{ X, Y, Width, Height float32 }

func (v *figureView) imageBox() rect {
	size := v.Size()
	b := v.img.Image.Bounds()
	if b.Dx() == 0 || b.Dy() == 0 || size.Height == 0 {
		return rect{}
	}
	aspect := float32(b.Dx()) / float32(b.Dy())
	if size.Width/size.Height > aspect {
		w := size.Height * aspect
		return rect{X: (size.Width - w) / 2, Width: w, Height: size.Height}
	}
	h := size.Width / aspect
	return rect{Y: (size.Height - h) / 2, Width: size.Width, Height: h}
}

// SetFigure shows the figure made by f (nil: the placeholder text msg) and renders it.
func (v *figureView) SetFigure(f func() chart.Figure, msg string) {
	v.figure = f
	v.gen++
	v.drawn = nil
	v.readPanel.Hide()
	if f == nil {
		v.img.Image = nil
		v.img.Refresh()
		v.msg.SetText(msg)
		v.msg.Show()
		return
	}
	v.msg.Hide()
	v.size = fyne.Size{}
	v.requestRender(v.Size())
}

// Image returns the image on screen (nil before the first render).
func (v *figureView) Image() image.Image { return v.img.Image }

func (v *figureView) CreateRenderer() fyne.WidgetRenderer {
	return &figureRenderer{v: v}
}

// requestRender renders the figure for size after a short quiet period (a window being
// dragged larger asks for many sizes; only the last one is drawn).
func (v *figureView) requestRender(size fyne.Size) {
	if v.figure == nil || size.Width < 50 || size.Height < 50 || size == v.size {
		return
	}
	v.size = size
	scale := float32(1)
	if c := fyne.CurrentApp().Driver().CanvasForObject(v); c != nil {
		scale = c.Scale()
	}
	// A figure is laid out on a page of about 8:5; stretched much wider or taller its type
	// shrinks to nothing, so it is drawn at a bounded aspect and centred in the view.
	fw, fh := size.Width, size.Height
	if fw > maxAspect*fh {
		fw = maxAspect * fh
	}
	if fh > fw/minAspect {
		fh = fw / minAspect
	}
	w, h := int(fw*scale), int(fh*scale)
	fig := v.figure()
	gen := v.gen
	if v.timer != nil {
		v.timer.Stop()
	}
	do := v.do
	v.timer = time.AfterFunc(60*time.Millisecond, func() {
		img, err := chart.Image(fig, w, h)
		do(func() {
			if gen != v.gen {
				return
			}
			v.rendered++
			if err != nil {
				v.lastErr = err
				v.msg.SetText("The figure cannot be drawn: " + err.Error())
				v.msg.Show()
				return
			}
			v.lastErr = nil
			v.img.Image = img
			v.drawn = fig
			v.img.Refresh()
		})
	})
}

type figureRenderer struct{ v *figureView }

func (r *figureRenderer) Layout(size fyne.Size) {
	r.v.img.Resize(size)
	r.v.img.Move(fyne.NewPos(0, 0))
	ms := r.v.msg.MinSize()
	r.v.msg.Resize(fyne.NewSize(size.Width, ms.Height))
	r.v.msg.Move(fyne.NewPos(0, (size.Height-ms.Height)/2))
	if r.v.readPanel.Visible() {
		// Below and right of the pointer, kept inside the view (left or above it near an edge).
		ps, p := r.v.readPanel.MinSize(), r.v.readPos
		x, y := p.X+16, p.Y+16
		if x+ps.Width > size.Width {
			x = max(0, p.X-16-ps.Width)
		}
		if y+ps.Height > size.Height {
			y = max(0, p.Y-16-ps.Height)
		}
		r.v.readPanel.Resize(ps)
		r.v.readPanel.Move(fyne.NewPos(x, y))
	}
	r.v.requestRender(size)
}

func (r *figureRenderer) MinSize() fyne.Size { return fyne.NewSize(320, 220) }

func (r *figureRenderer) Refresh() {
	r.Layout(r.v.Size())
	r.v.img.Refresh()
	r.v.msg.Refresh()
	r.v.readPanel.Refresh()
}

func (r *figureRenderer) Objects() []fyne.CanvasObject {
	return []fyne.CanvasObject{r.v.img, r.v.msg, r.v.readPanel}
}

func (r *figureRenderer) Destroy() {}
