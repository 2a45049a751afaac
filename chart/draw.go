package chart

import (
	"image/color"
	"strings"

	"gonum.org/v1/plot/text"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
)

// Figure is anything chart can draw and export: a Kaplan–Meier figure, a forest plot, a bar
// chart or a histogram.
type Figure interface {
	// Draw draws the figure to fill c. It returns an error, before drawing anything,
	// when the figure's data are inconsistent.
	Draw(c draw.Canvas) error
	// FigureStyle returns the style the figure is drawn in.
	FigureStyle() Style
}

// putText draws txt with its anchor at (x, y), aligned as given.
func putText(c draw.Canvas, sty text.Style, x, y vg.Length, xa text.XAlignment, ya text.YAlignment, txt string) {
	sty.XAlign, sty.YAlign = xa, ya
	c.FillText(sty, vg.Point{X: x, Y: y}, txt)
}

// fillBackground paints the whole canvas in the style's background colour.
func fillBackground(c draw.Canvas, s Style) {
	if _, filled := c.Canvas.(*rasterCanvas); filled || s.Background == nil {
		return
	}
	c.SetColor(s.Background)
	c.Fill(c.Rectangle.Path())
}

// frame starts every figure: it fills the background, draws the title and the footnote
// inside the figure margin, and returns the area left between them.
func frame(c draw.Canvas, s Style, title, footnote string) draw.Canvas {
	fillBackground(c, s)
	margin := s.TextSize * 0.9
	inner := draw.Crop(c, margin, -margin, margin, -margin)
	return drawFootnote(drawTitle(inner, s, title), s, footnote)
}

// drawTitle draws a bold title centred at the top of c, word-wrapped to its width, and
// returns c without it.
func drawTitle(c draw.Canvas, s Style, title string) draw.Canvas {
	if strings.TrimSpace(title) == "" {
		return c
	}
	sty := s.text(s.TitleSize, true)
	for _, line := range wrapText(title, c.Max.X-c.Min.X, sty) {
		putText(c, sty, c.Center().X, c.Max.Y, draw.XCenter, draw.YTop, line)
		c.Max.Y -= sty.Height(line) + s.TitleSize*0.2
	}
	c.Max.Y -= s.TitleSize * 0.4
	return c
}

// drawFootnote draws the footnote, word-wrapped to the width of c, at the bottom of c and
// returns c without it.
func drawFootnote(c draw.Canvas, s Style, note string) draw.Canvas {
	if strings.TrimSpace(note) == "" {
		return c
	}
	sty := s.text(s.FootnoteSize, false)
	sty.Color = s.Muted
	lines := wrapText(note, c.Max.X-c.Min.X, sty)
	lineH := s.FootnoteSize * 1.3
	for i := range lines {
		y := c.Min.Y + vg.Length(len(lines)-1-i)*lineH + lineH/2
		putText(c, sty, c.Min.X, y, draw.XLeft, draw.YCenter, lines[i])
	}
	c.Min.Y += vg.Length(len(lines))*lineH + s.FootnoteSize*0.8
	return c
}

// wrapText breaks text into lines no wider than width, at spaces and at explicit newlines.
func wrapText(txt string, width vg.Length, sty text.Style) []string {
	var lines []string
	for _, para := range strings.Split(txt, "\n") {
		words := strings.Fields(para)
		line := ""
		for _, w := range words {
			try := w
			if line != "" {
				try = line + " " + w
			}
			if line != "" && sty.Width(try) > width {
				lines = append(lines, line)
				line = w
				continue
			}
			line = try
		}
		lines = append(lines, line)
	}
	return lines
}

// strokeLine draws a polyline in the given colour, width and dash pattern.
func strokeLine(c draw.Canvas, clr color.Color, w vg.Length, dashes []vg.Length, pts ...vg.Point) {
	if len(pts) < 2 {
		return
	}
	c.StrokeLines(draw.LineStyle{Color: clr, Width: w, Dashes: dashes}, pts)
}

// fillRect fills the rectangle r.
func fillRect(c draw.Canvas, clr color.Color, r vg.Rectangle) {
	c.SetColor(clr)
	c.Fill(r.Path())
}
