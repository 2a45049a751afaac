package chart

import (
	"fmt"
	"image"
	stddraw "image/draw"
	"image/png"
	"io"
	"math"
	"path/filepath"
	"strings"

	"github.com/oncofed/oncofed/internal/atomicfile"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
	"gonum.org/v1/plot/vg/vgpdf"
	"gonum.org/v1/plot/vg/vgsvg"
)

// pageFor returns the DPI at which a width×height pixel image shows the style's logical page,
// and the page size that fills those pixels at that DPI. The figure is laid out on the
// page, so a 1600×1000 and an 800×500 image of it look the same, one sharper.
func pageFor(s Style, width, height int) (dpi int, w, h vg.Length) {
	if width <= 0 || height <= 0 {
		panic(fmt.Sprintf("chart: image size %d×%d is not positive", width, height))
	}
	dx := float64(width) / (s.Width / vg.Inch).Points()
	dy := float64(height) / (s.Height / vg.Inch).Points()
	dpi = int(math.Round(math.Min(dx, dy)))
	if dpi < 24 {
		dpi = 24
	}
	w = vg.Length(width) * vg.Inch / vg.Length(dpi)
	h = vg.Length(height) * vg.Inch / vg.Length(dpi)
	return dpi, w, h
}

// Image renders f to a width×height image, for the screen.
func Image(f Figure, width, height int) (*image.RGBA, error) {
	c := newRaster(f, width, height)
	if err := f.Draw(c.drawTo()); err != nil {
		return nil, err
	}
	if img, ok := c.Image().(*image.RGBA); ok {
		return img, nil
	}
	img := image.NewRGBA(image.Rect(0, 0, width, height))
	stddraw.Draw(img, img.Bounds(), c.Image(), image.Point{}, stddraw.Src)
	return img, nil
}

// WritePNG writes f as a width×height PNG image. It compresses for speed: zlib's default
// level takes several times as long as drawing the figure, for files a third smaller.
func WritePNG(w io.Writer, f Figure, width, height int) error {
	img, err := Image(f, width, height)
	if err != nil {
		return err
	}
	enc := png.Encoder{CompressionLevel: png.BestSpeed}
	if err := enc.Encode(w, img); err != nil {
		return fmt.Errorf("chart: writing PNG: %w", err)
	}
	return nil
}

// WriteSVG writes f as an SVG with the fonts embedded. The page has the layout a
// width×height PNG would have, so vector and raster exports of one figure match.
func WriteSVG(w io.Writer, f Figure, width, height int) error {
	_, pw, ph := pageFor(f.FigureStyle(), width, height)
	c := vgsvg.NewWith(vgsvg.UseWH(pw, ph), vgsvg.EmbedFonts(true))
	if err := f.Draw(draw.New(c)); err != nil {
		return err
	}
	_, err := c.WriteTo(w)
	return err
}

// WritePDF writes f as a one-page PDF with the fonts embedded, laid out like a
// width×height PNG.
func WritePDF(w io.Writer, f Figure, width, height int) error {
	return WritePDFDeck(w, []Figure{f}, width, height)
}

// WritePDFDeck writes figs as one PDF with a page per figure, the presentation deck. Every
// page has the layout of a width×height PNG of the first figure's style.
func WritePDFDeck(w io.Writer, figs []Figure, width, height int) error {
	if len(figs) == 0 {
		return fmt.Errorf("chart: PDF deck has no figures")
	}
	_, pw, ph := pageFor(figs[0].FigureStyle(), width, height)
	c := vgpdf.New(pw, ph)
	for i, f := range figs {
		if i > 0 {
			c.NextPage()
		}
		if err := f.Draw(draw.New(pdfCanvas{c})); err != nil {
			return fmt.Errorf("chart: page %d: %w", i+1, err)
		}
	}
	_, err := c.WriteTo(w)
	return err
}

// WriteFile writes f to path in the format its extension names (.png, .svg or .pdf). The
// file is written completely or not at all.
func WriteFile(path string, f Figure, width, height int) error {
	var write func(io.Writer, Figure, int, int) error
	switch ext := strings.ToLower(filepath.Ext(path)); ext {
	case ".png":
		write = WritePNG
	case ".svg":
		write = WriteSVG
	case ".pdf":
		write = WritePDF
	default:
		return fmt.Errorf("chart: cannot write %q: unknown format %q (want .png, .svg or .pdf)", path, ext)
	}
	if err := atomicfile.Write(path, func(w io.Writer) error { return write(w, f, width, height) }); err != nil {
		return fmt.Errorf("chart: %w", err)
	}
	return nil
}
