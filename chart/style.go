package chart

import (
	"image/color"
	"sync"

	xfont "golang.org/x/image/font"
	"gonum.org/v1/plot"
	"gonum.org/v1/plot/font"
	"gonum.org/v1/plot/text"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
)

// OkabeIto is the colour-blind-safe palette of Okabe and Ito (2008), "Color Universal Design",
// in its published order: orange, sky blue, bluish green, yellow, blue, vermillion,
// reddish purple, black.
var OkabeIto = []color.Color{
	rgb(0xE6, 0x9F, 0x00), rgb(0x56, 0xB4, 0xE9), rgb(0x00, 0x9E, 0x73), rgb(0xF0, 0xE4, 0x42),
	rgb(0x00, 0x72, 0xB2), rgb(0xD5, 0x5E, 0x00), rgb(0xCC, 0x79, 0xA7), rgb(0x00, 0x00, 0x00),
}

// GroupPalette is the Okabe–Ito palette reordered for lines on a white background: yellow is
// nearly invisible as a thin line on white, so it comes last, and the first two groups (the
// common two-arm comparison) get the pair with the strongest contrast, blue and vermillion.
var GroupPalette = []color.Color{
	OkabeIto[4], OkabeIto[5], OkabeIto[2], OkabeIto[6], OkabeIto[0], OkabeIto[1], OkabeIto[7], OkabeIto[3],
}

func rgb(r, g, b uint8) color.Color { return color.NRGBA{R: r, G: g, B: b, A: 0xff} }

// Style holds what differs between a figure for a paper and one for a projector: type sizes,
// line widths and the logical page the figure is laid out on. The zero Style means
// PublicationStyle.
type Style struct {
	// Name identifies the style in file names and logs ("publication", "presentation").
	Name string
	// Font is the typeface of all text; its Size is ignored.
	Font font.Font
	// TitleSize, LabelSize, TickSize, TextSize and FootnoteSize are type sizes in points of
	// the figure title, axis labels, tick labels, legend/annotation/risk-table text and
	// the footnote.
	TitleSize, LabelSize, TickSize, TextSize, FootnoteSize vg.Length
	// LineWidth is the width of data lines (survival curves, CI whiskers).
	LineWidth vg.Length
	// AxisWidth is the width of axis lines and ticks.
	AxisWidth vg.Length
	// CensorSize is the half-length of a '+' censor mark.
	CensorSize vg.Length
	// BandAlpha is the opacity of confidence bands (0–1).
	BandAlpha float64
	// MaxTimeIntervals is the most intervals the time axis is cut into; fewer, larger
	// steps keep risk-table numbers apart when the type is large.
	MaxTimeIntervals int
	// Width and Height are the logical page a raster export is laid out on: an image of
	// w×h pixels is drawn at the resolution that fits this page, so type keeps its size
	// relative to the figure at any pixel size.
	Width, Height vg.Length
	// Foreground is the colour of text and axes; Background fills the figure (nil: none).
	Foreground, Background color.Color
	// Muted is the colour of secondary text and reference lines.
	Muted color.Color
	// Palette colours groups in order; it cycles when there are more groups than colours.
	Palette []color.Color
}

// PublicationStyle is for papers and reports: an 8×5 inch figure with 10.5–14 pt type.
func PublicationStyle() Style {
	return Style{
		Name: "publication", Font: font.Font{Typeface: "Liberation", Variant: "Sans"},
		TitleSize: 14, LabelSize: 12, TickSize: 11, TextSize: 10.5, FootnoteSize: 8.5,
		LineWidth: 1.75, AxisWidth: 0.8, CensorSize: 3.5, BandAlpha: 0.2, MaxTimeIntervals: 8,
		Width: 8 * vg.Inch, Height: 5 * vg.Inch,
		Foreground: color.Black, Background: color.White, Muted: color.Gray{Y: 0x60},
		Palette: GroupPalette,
	}
}

// PresentationStyle is for slides and tumor boards: a 12×7.5 inch figure (a 16:10 slide)
// with axis labels of 20 pt, tick labels of 18 pt and text of 16 pt, readable at projector
// distance, and thick lines.
func PresentationStyle() Style {
	s := PublicationStyle()
	s.Name = "presentation"
	s.TitleSize, s.LabelSize, s.TickSize, s.TextSize, s.FootnoteSize = 24, 20, 18, 16, 13
	s.LineWidth, s.AxisWidth, s.CensorSize = 3, 1.3, 5.5
	s.MaxTimeIntervals = 7
	s.Width, s.Height = 12*vg.Inch, 7.5*vg.Inch
	return s
}

// Dark returns s with light text on a dark background, for the app's dark theme.
func (s Style) Dark() Style {
	s = s.orDefault()
	s.Name += "-dark"
	s.Foreground, s.Background, s.Muted = color.Gray{Y: 0xEE}, color.Gray{Y: 0x1E}, color.Gray{Y: 0xA8}
	// On a dark ground the light Okabe–Ito colours carry and the dark ones (blue, black)
	// sink, so the order changes: sky blue, orange, green, purple, yellow, vermillion, white.
	s.Palette = []color.Color{OkabeIto[1], OkabeIto[0], OkabeIto[2], OkabeIto[6], OkabeIto[3], OkabeIto[5], color.White}
	return s
}

func (s Style) orDefault() Style {
	if s.TextSize == 0 {
		return PublicationStyle()
	}
	if len(s.Palette) == 0 {
		s.Palette = GroupPalette
	}
	if s.MaxTimeIntervals <= 0 {
		s.MaxTimeIntervals = 8
	}
	if s.Width <= 0 || s.Height <= 0 {
		s.Width, s.Height = 8*vg.Inch, 5*vg.Inch
	}
	if s.Foreground == nil {
		s.Foreground = color.Black
	}
	if s.Muted == nil {
		s.Muted = color.Gray{Y: 0x60}
	}
	return s
}

// color returns the colour of group i.
func (s Style) color(i int) color.Color { return s.Palette[i%len(s.Palette)] }

// text returns a text style of the given size, bold or not, aligned left on its baseline.
func (s Style) text(size vg.Length, bold bool) text.Style {
	f := s.Font
	if bold {
		f = boldAlias(f)
	}
	return text.Style{
		Color:   s.Foreground,
		Font:    font.From(f, size),
		XAlign:  draw.XLeft,
		YAlign:  draw.YBottom,
		Handler: plot.DefaultTextHandler,
	}
}

// newPlot returns a gonum plot with the style's fonts, colours and line widths on both axes.
func (s Style) newPlot() *plot.Plot {
	p := plot.New()
	p.BackgroundColor = nil // the figure fills its own background once
	for _, a := range []*plot.Axis{&p.X, &p.Y} {
		a.Label.TextStyle.Font = font.From(s.Font, s.LabelSize)
		a.Label.TextStyle.Color = s.Foreground
		a.Label.Padding = s.TickSize * 0.5
		a.Tick.Label.Font = font.From(s.Font, s.TickSize)
		a.Tick.Label.Color = s.Foreground
		a.Color, a.Tick.Color = s.Foreground, s.Foreground
		a.Width, a.Tick.Width = s.AxisWidth, s.AxisWidth
		a.Tick.Length = s.TickSize * 0.45
		a.Padding = s.TickSize * 0.35
	}
	return p
}

// withAlpha returns c with opacity a (0–1), as a premultiplied colour.
func withAlpha(c color.Color, a float64) color.Color {
	r, g, b, _ := c.RGBA()
	return color.RGBA64{
		R: uint16(float64(r) * a), G: uint16(float64(g) * a), B: uint16(float64(b) * a), A: uint16(0xffff * a),
	}
}

// bg returns the background colour, white when the figure has none.
func (s Style) bg() color.Color {
	if s.Background == nil {
		return color.White
	}
	return s.Background
}

// boldFaces maps a regular font to the alias its bold face is registered under.
var boldFaces sync.Map

// boldAlias returns a normal-weight font descriptor naming f's bold face. vgpdf embeds each
// face under its typeface name but selects bold ones with a "B" style it never registered,
// so bold text fails in PDF; a typeface of its own ("LiberationBold") sidesteps that in
// every format.
func boldAlias(f font.Font) font.Font {
	f.Size = 0
	if v, ok := boldFaces.Load(f); ok {
		return v.(font.Font)
	}
	b := f
	b.Weight = xfont.WeightBold
	face := font.DefaultCache.Lookup(b, 10)
	alias := font.Font{Typeface: f.Typeface + "Bold", Variant: f.Variant, Style: f.Style}
	font.DefaultCache.Add(font.Collection{{Font: alias, Face: face.Face}})
	boldFaces.Store(f, alias)
	return alias
}
