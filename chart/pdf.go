package chart

import (
	"image/color"
	"strings"

	"gonum.org/v1/plot/font"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/vgpdf"
)

// pdfCanvas works around two things vgpdf (gonum/plot v0.17.0) gets wrong:
//   - it hands Go's UTF-8 strings to a PDF font encoded as code page 1252, so an en dash
//     prints as "â€“"; FillString transcodes, with ASCII stand-ins for the few characters
//     cp1252 lacks (≥ becomes >=);
//   - it takes the premultiplied components of a translucent colour as the colour itself,
//     so a band at alpha 0.2 comes out nearly black; SetColor passes straight components.
//
// A third, which it cannot fix: vgpdf embeds every face under one file name, so bold text
// prints in the regular face in PDF.
type pdfCanvas struct {
	*vgpdf.Canvas
}

// SetColor implements vg.Canvas.
func (c pdfCanvas) SetColor(clr color.Color) {
	if clr == nil {
		clr = color.Black
	}
	r, g, b, a := clr.RGBA()
	if a > 0 && a < 0xffff {
		r, g, b = r*0xffff/a, g*0xffff/a, b*0xffff/a
	}
	c.Canvas.SetColor(straightColor{r, g, b, a})
}

// FillString implements vg.Canvas.
func (c pdfCanvas) FillString(f font.Face, pt vg.Point, s string) {
	c.Canvas.FillString(f, pt, toCP1252(s))
}

// straightColor is a colour whose RGBA method returns components not premultiplied by
// alpha, as vgpdf expects; it is only ever handed to vgpdf.
type straightColor struct{ r, g, b, a uint32 }

func (c straightColor) RGBA() (r, g, b, a uint32) { return c.r, c.g, c.b, c.a }

// cp1252 maps the characters of code page 1252's 0x80–0x9F block to their bytes.
var cp1252 = map[rune]byte{
	'€': 0x80, '‚': 0x82, 'ƒ': 0x83, '„': 0x84, '…': 0x85, '†': 0x86, '‡': 0x87, 'ˆ': 0x88,
	'‰': 0x89, 'Š': 0x8A, '‹': 0x8B, 'Œ': 0x8C, 'Ž': 0x8E, '‘': 0x91, '’': 0x92, '“': 0x93,
	'”': 0x94, '•': 0x95, '–': 0x96, '—': 0x97, '˜': 0x98, '™': 0x99, 'š': 0x9A, '›': 0x9B,
	'œ': 0x9C, 'ž': 0x9E, 'Ÿ': 0x9F,
}

// cp1252Fallback spells the characters figures use that code page 1252 lacks.
var cp1252Fallback = map[rune]string{'≥': ">=", '≤': "<=", '∞': "inf", '−': "-", '≠': "!=", '×': "x", '±': "\xb1"}

// toCP1252 encodes s in code page 1252.
func toCP1252(s string) string {
	var b strings.Builder
	for _, r := range s {
		switch {
		case r < 0x80 || (r >= 0xA0 && r <= 0xFF && r != 0xD7):
			b.WriteByte(byte(r))
		case cp1252[r] != 0:
			b.WriteByte(cp1252[r])
		case cp1252Fallback[r] != "":
			b.WriteString(cp1252Fallback[r])
		default:
			b.WriteByte('?')
		}
	}
	return b.String()
}
