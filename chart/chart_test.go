package chart

import (
	"bytes"
	"image/color"
	"image/png"
	"math"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"

	"gonum.org/v1/plot/font"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
	"gonum.org/v1/plot/vg/recorder"

	"github.com/oncofed/oncofed/internal/lungtest"
)

// textItem is one string a figure drew: its left and right edges, baseline and extents.
type textItem struct {
	s              string
	x0, x1, y      float64
	ascent, desent float64
}

// recordTexts draws f on a recording canvas laid out like a w×h PNG and returns every
// horizontal string drawn, in drawing order, and the page size in points.
func recordTexts(t *testing.T, f Figure, w, h int) ([]textItem, float64, float64) {
	t.Helper()
	_, pw, ph := pageFor(f.FigureStyle(), w, h)
	rec := &recorder.Canvas{}
	if err := f.Draw(draw.NewCanvas(rec, pw, ph)); err != nil {
		t.Fatal(err)
	}
	var items []textItem
	var rot []float64
	cur := 0.0
	for _, a := range rec.Actions {
		switch a := a.(type) {
		case *recorder.Push:
			rot = append(rot, cur)
		case *recorder.Pop:
			cur, rot = rot[len(rot)-1], rot[:len(rot)-1]
		case *recorder.Rotate:
			cur += a.Angle
		case *recorder.FillString:
			if cur != 0 { // the rotated y-axis label: not on a row with anything else
				continue
			}
			face := font.DefaultCache.Lookup(a.Font, a.Size)
			ext := face.Extents()
			x := a.Point.X.Points()
			items = append(items, textItem{s: a.String, x0: x, x1: x + face.Width(a.String).Points(), y: a.Point.Y.Points(),
				ascent: ext.Ascent.Points(), desent: ext.Descent.Points()})
		}
	}
	return items, pw.Points(), ph.Points()
}

func (it textItem) centre() float64 { return (it.x0 + it.x1) / 2 }

// row returns the items on the same baseline as the first item drawn with string s (and
// passing keep), sorted left to right.
func row(items []textItem, s string, keep func(textItem) bool) []textItem {
	for _, it := range items {
		if it.s != s || !keep(it) {
			continue
		}
		var out []textItem
		for _, o := range items {
			if math.Abs(o.y-it.y) < 1e-6 {
				out = append(out, o)
			}
		}
		sort.Slice(out, func(i, j int) bool { return out[i].x0 < out[j].x0 })
		return out
	}
	return nil
}

// lungAtRisk reads the patient-level lung.csv once and returns a counter of the patients
// of each sex with follow-up ≥ days: the number at risk, an oracle independent of the
// survfit table the figure reads.
func lungAtRisk(t *testing.T) func(sex string, days float64) int {
	t.Helper()
	header, rows := lungtest.Read(t)
	sexCol, timeCol := lungtest.Column(t, header, "sex"), lungtest.Column(t, header, "time")
	times := map[string][]float64{}
	for _, r := range rows {
		tm, err := strconv.ParseFloat(r[timeCol], 64)
		if err != nil {
			t.Fatal(err)
		}
		times[r[sexCol]] = append(times[r[sexCol]], tm)
	}
	return func(sex string, days float64) int {
		n := 0
		for _, tm := range times[sex] {
			if tm >= days {
				n++
			}
		}
		return n
	}
}

// TestRiskTableAlignedUnderTicks checks, on what is actually drawn, that each number in
// the at-risk table is centred exactly under its tick label on the time axis, that the
// group labels end left of the first column, and that the counts are right.
func TestRiskTableAlignedUnderTicks(t *testing.T) {
	atRisk := lungAtRisk(t)
	cases := []struct {
		name string
		mod  func(*KMFigure)
		w, h int
	}{
		{"publication 1600x1000", func(*KMFigure) {}, 1600, 1000},
		{"publication 800x500", func(*KMFigure) {}, 800, 500},
		{"presentation 1600x1000", func(f *KMFigure) { f.Style = PresentationStyle() }, 1600, 1000},
		{"days, percent", func(f *KMFigure) { f.Unit, f.Percent = Days, true }, 1200, 900},
		{"years, dark", func(f *KMFigure) { f.Unit, f.Style = Years, PublicationStyle().Dark() }, 1000, 700},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			f := lungFigure(t)
			tc.mod(f)
			items, _, _ := recordTexts(t, f, tc.w, tc.h)
			ticks := f.Ticks()
			labels := make([]string, len(ticks))
			for i, d := range ticks {
				labels[i] = formatTick(f.Unit.FromDays(d))
			}
			last := labels[len(labels)-1]
			tickRow := row(items, last, func(textItem) bool { return true })
			if len(tickRow) != len(ticks) {
				t.Fatalf("tick label row has %d strings, want %d (%v)", len(tickRow), len(ticks), labels)
			}
			for i, it := range tickRow {
				if it.s != labels[i] {
					t.Fatalf("tick %d label %q, want %q", i, it.s, labels[i])
				}
			}
			for _, c := range f.Curves {
				r := row(items, c.Name, func(it textItem) bool { return it.x1 < tickRow[0].x0 })
				if len(r) != len(ticks)+1 {
					t.Fatalf("%s: risk row has %d strings, want label + %d counts", c.Name, len(r), len(ticks))
				}
				if r[0].s != c.Name || r[0].x1 >= r[1].x0 {
					t.Errorf("%s: label %q [%.2f, %.2f] overlaps first count [%.2f, %.2f]", c.Name, r[0].s, r[0].x0, r[0].x1, r[1].x0, r[1].x1)
				}
				for j, cell := range r[1:] {
					if d := cell.centre() - tickRow[j].centre(); math.Abs(d) > 1e-6 {
						t.Errorf("%s: count %q centred %.6f pt off tick %q", c.Name, cell.s, d, tickRow[j].s)
					}
					if want := strconv.Itoa(atRisk(c.Name, ticks[j])); cell.s != want {
						t.Errorf("%s: at risk at %.1f d is %s, lung.csv says %s", c.Name, ticks[j], cell.s, want)
					}
				}
			}
		})
	}
}

// TestNothingClippedOrOverlapping checks every golden figure and the KM figure at small
// sizes: every string lies inside the page, and no two strings overlap.
func TestNothingClippedOrOverlapping(t *testing.T) {
	type fig struct {
		name string
		f    Figure
		w, h int
	}
	var figs []fig
	for _, g := range goldenFigures(t) {
		figs = append(figs, fig{g.name, g.fig, g.w, g.h})
	}
	long := lungFigure(t)
	long.Title = "Overall survival by sex in the North Central Cancer Treatment Group lung cancer cohort, all sites pooled"
	figs = append(figs, fig{"km_lung_640x400", lungFigure(t), 640, 400}, fig{"km_four_800x500", fourGroupFigure(), 800, 500},
		fig{"km_long_title_800x500", long, 800, 500}, fig{"km_weighted_risk_1024x700", weightedRiskFigure(t), 1024, 700})
	for _, g := range figs {
		t.Run(g.name, func(t *testing.T) {
			items, w, h := recordTexts(t, g.f, g.w, g.h)
			for _, it := range items {
				if it.x0 < 0 || it.x1 > w || it.y-it.desent < 0 || it.y+it.ascent > h {
					t.Errorf("%q at [%.1f, %.1f]×[%.1f, %.1f] leaves the %.0f×%.0f page", it.s, it.x0, it.x1, it.y-it.desent, it.y+it.ascent, w, h)
				}
			}
			for i, a := range items {
				for _, b := range items[i+1:] {
					if a.x0 < b.x1-0.5 && b.x0 < a.x1-0.5 && a.y-a.desent < b.y+b.ascent-0.5 && b.y-b.desent < a.y+a.ascent-0.5 {
						t.Errorf("%q and %q overlap", a.s, b.s)
					}
				}
			}
		})
	}
}

func TestTimeTicks(t *testing.T) {
	cases := []struct {
		max  float64
		unit TimeUnit
		n    int
		want []float64
	}{
		{1022 / (365.25 / 12), Months, 8, []float64{0, 6, 12, 18, 24, 30, 36}}, // lung follow-up, 33.6 months
		{60, Months, 8, []float64{0, 12, 24, 36, 48, 60}},
		{23.5, Months, 8, []float64{0, 3, 6, 9, 12, 15, 18, 21, 24}},
		{5, Months, 8, []float64{0, 1, 2, 3, 4, 5}},
		{1022, Days, 8, []float64{0, 200, 400, 600, 800, 1000, 1200}},
		{2.8, Years, 8, []float64{0, 0.5, 1, 1.5, 2, 2.5, 3}},
		{12.2, Years, 8, []float64{0, 2, 4, 6, 8, 10, 12, 14}},
		{33.6, Months, 5, []float64{0, 12, 24, 36}},
		{0, Months, 8, []float64{0, 1}},
		{1e6, Days, 8, []float64{0, 200000, 400000, 600000, 800000, 1000000}},
	}
	for _, c := range cases {
		got := TimeTicks(c.max, c.unit, c.n)
		if len(got) != len(c.want) {
			t.Errorf("TimeTicks(%v, %v, %d) = %v, want %v", c.max, c.unit, c.n, got, c.want)
			continue
		}
		for i := range got {
			if math.Abs(got[i]-c.want[i]) > 1e-9 {
				t.Errorf("TimeTicks(%v, %v, %d) = %v, want %v", c.max, c.unit, c.n, got, c.want)
				break
			}
		}
	}
}

func TestForestAxis(t *testing.T) {
	cases := []struct {
		lo, hi   float64
		min, max float64
		ticks    []float64
	}{
		{0.2685, 6.859, 0.25, 8, []float64{0.25, 0.5, 1, 2, 4, 8}}, // forest_lung.json range
		{1.2, 2.3, 1, 4, []float64{1, 2, 4}},
		{0.5, 0.9, 0.5, 1, []float64{0.5, 1}},
		{0.003, 40, 0.002, 50, []float64{0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1, 2, 5, 10, 20, 50}},
	}
	for _, c := range cases {
		min, max, ticks := forestAxis(c.lo, c.hi)
		if math.Abs(min-c.min) > 1e-12 || math.Abs(max-c.max) > 1e-12 || len(ticks) != len(c.ticks) {
			t.Errorf("forestAxis(%v, %v) = %v, %v, %v; want %v, %v, %v", c.lo, c.hi, min, max, ticks, c.min, c.max, c.ticks)
			continue
		}
		for i := range ticks {
			if math.Abs(ticks[i]-c.ticks[i]) > 1e-12 {
				t.Errorf("forestAxis(%v, %v) ticks %v, want %v", c.lo, c.hi, ticks, c.ticks)
				break
			}
		}
	}
}

func TestFormatHRMedianCount(t *testing.T) {
	// lung, coxph(Surv(time, status) ~ sex + age), sexmale, R survival (gen_lung.R)
	if got, want := FormatHR(1.66807171208045, 1.20084358358151, 2.31709048096368), "1.67 (1.20–2.32)"; got != want {
		t.Errorf("FormatHR = %q, want %q", got, want)
	}
	if got, want := FormatHR(0.0512, 0.0101, 12.345), "0.051 (0.010–12.3)"; got != want {
		t.Errorf("FormatHR = %q, want %q", got, want)
	}
	if got, want := FormatHR(1.5, 0.9, math.Inf(1)), "1.50 (0.90–∞)"; got != want {
		t.Errorf("FormatHR = %q, want %q", got, want)
	}
	// A CI that excludes 1 must not print as touching it: a bound rounding to 1.00 gets the
	// decimals that keep it on its side; a bound of exactly 1 stays "1.00".
	for _, c := range []struct {
		hr, lo, hi float64
		want       string
	}{
		{0.8, 0.64, 0.996, "0.80 (0.64–0.996)"},
		{1.3, 1.004, 1.7, "1.30 (1.004–1.70)"},
		{0.9, 0.8, 0.99996, "0.90 (0.80–0.99996)"},
		{0.9, 0.8, 1, "0.90 (0.80–1.00)"},
		{1.02, 0.996, 1.004, "1.02 (1.00–1.00)"}, // includes 1: as before
	} {
		if got := FormatHR(c.hr, c.lo, c.hi); got != c.want {
			t.Errorf("FormatHR(%v, %v, %v) = %q, want %q", c.hr, c.lo, c.hi, got, c.want)
		}
	}
	// lung female median 426 d (348–550), R print(survfit), in months
	u := Months
	if got, want := FormatMedianCI(u.FromDays(426), u.FromDays(348), u.FromDays(550)), "14.0 (11.4–18.1)"; got != want {
		t.Errorf("FormatMedianCI = %q, want %q", got, want)
	}
	if got, want := FormatMedianCI(30.2, 22.1, math.NaN()), "30.2 (22.1–NR)"; got != want {
		t.Errorf("FormatMedianCI = %q, want %q", got, want)
	}
	if got, want := FormatMedianCI(math.NaN(), 40, math.Inf(1)), "NR (40.0–NR)"; got != want {
		t.Errorf("FormatMedianCI = %q, want %q", got, want)
	}
	for _, c := range []struct {
		n, min int
		want   string
	}{{12, 5, "12"}, {5, 5, "5"}, {4, 5, "<5"}, {1, 11, "<11"}, {0, 5, "0"}, {SuppressedCount, 5, "<5"}, {SuppressedCount, 0, "–"}, {3, 0, "3"}} {
		if got := FormatCount(c.n, c.min, false); got != c.want {
			t.Errorf("FormatCount(%d, %d) = %q, want %q", c.n, c.min, got, c.want)
		}
	}
	// A noisy estimate says so where it is shown as a number; "<5" and "–" stay as they are.
	for n, want := range map[int]string{12: "≈12", 0: "≈0", 4: "<5", SuppressedCount: "<5"} {
		if got := FormatCount(n, 5, true); got != want {
			t.Errorf("FormatCount(%d, 5, approximate) = %q, want %q", n, got, want)
		}
	}
}

func TestRiskAt(t *testing.T) {
	// Distinct times 10 (event), 20 (censor), 30 (event) for 3 patients.
	k := KMCurve{N: 3, Time: []float64{10, 20, 30}, Surv: []float64{2.0 / 3, 2.0 / 3, 0}, NRisk: []int{3, 2, 1}}
	for _, c := range []struct {
		t    float64
		want int
	}{{0, 3}, {10, 3}, {10.5, 2}, {20, 2}, {25, 1}, {30, 1}, {31, 0}} {
		if got := k.riskAt(c.t); got != c.want {
			t.Errorf("riskAt(%v) = %d, want %d", c.t, got, c.want)
		}
	}
	for _, c := range []struct{ t, want float64 }{{0, 1}, {9.9, 1}, {10, 2.0 / 3}, {29, 2.0 / 3}, {30, 0}} {
		if got := k.survAt(c.t); got != c.want {
			t.Errorf("survAt(%v) = %v, want %v", c.t, got, c.want)
		}
	}
}

// TestSuppressedRiskCells checks that an explicit table under a minimum cell of 5 never
// prints a count below 5.
func TestSuppressedRiskCells(t *testing.T) {
	f := coarseFigure(t)
	items, _, _ := recordTexts(t, f, 1200, 800)
	r := row(items, "All patients", func(it textItem) bool { return it.x0 < 100 })
	if len(r) == 0 {
		t.Fatal("no risk row drawn")
	}
	sawSuppressed := false
	for _, it := range r[1:] {
		if it.s == "<5" {
			sawSuppressed = true
			continue
		}
		n, err := strconv.Atoi(it.s)
		if err != nil || (n > 0 && n < 5) {
			t.Errorf("risk cell %q shown under a minimum cell of 5", it.s)
		}
	}
	if !sawSuppressed {
		t.Error("no suppressed cell shown as <5")
	}
}

func TestInvalidFiguresReturnErrors(t *testing.T) {
	good := lungFigure(t)
	mk := func(mod func(*KMFigure)) *KMFigure {
		f := *good
		f.Curves = append([]KMCurve(nil), good.Curves...)
		mod(&f)
		return &f
	}
	bad := map[string]Figure{
		"no curves":          mk(func(f *KMFigure) { f.Curves = nil }),
		"surv length":        mk(func(f *KMFigure) { f.Curves[0].Surv = f.Curves[0].Surv[1:] }),
		"times out of order": mk(func(f *KMFigure) { f.Curves[1].Time = append([]float64{5000}, f.Curves[1].Time[1:]...) }),
		"surv above 1":       mk(func(f *KMFigure) { s := append([]float64{1.5}, f.Curves[0].Surv[1:]...); f.Curves[0].Surv = s }),
		"risk rows":          mk(func(f *KMFigure) { f.RiskTable = &RiskTable{Times: []float64{0}, Counts: [][]int{{1}}} }),
		"weighted risk rows": mk(func(f *KMFigure) {
			f.RiskTable = &RiskTable{Times: []float64{0}, Counts: [][]int{{1}, {1}}, Weighted: [][]float64{{1}}}
		}),
		"forest empty":      &ForestPlot{},
		"forest HR outside": &ForestPlot{Rows: []ForestRow{{Label: "x", HR: 3, Lower: 1, Upper: 2}}},
		"forest HR zero":    &ForestPlot{Rows: []ForestRow{{Label: "x", HR: 0, Lower: 0, Upper: 2}}},
		"bars length":       &BarChart{Categories: []string{"a", "b"}, Groups: []BarGroup{{Name: "g", Values: []float64{1}}}},
		"hist edges":        &Histogram{Edges: []float64{0, 2, 1}, Series: []HistSeries{{Counts: []float64{1, 2}}}},
		"hist counts":       &Histogram{Edges: []float64{0, 1, 2}, Series: []HistSeries{{Counts: []float64{1}}}},
	}
	for name, f := range bad {
		var buf bytes.Buffer
		err := WritePNG(&buf, f, 400, 250)
		if err == nil || !strings.HasPrefix(err.Error(), "chart: ") {
			t.Errorf("%s: err = %v, want a chart: error", name, err)
		}
	}
}

func TestExportFormats(t *testing.T) {
	f := lungFigure(t)
	dir := t.TempDir()
	for _, ext := range []string{"png", "svg", "pdf"} {
		path := filepath.Join(dir, "km."+ext)
		if err := WriteFile(path, f, 800, 500); err != nil {
			t.Fatal(err)
		}
		b, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		switch ext {
		case "png":
			img, err := png.Decode(bytes.NewReader(b))
			if err != nil {
				t.Fatal(err)
			}
			if sz := img.Bounds().Size(); sz.X != 800 || sz.Y != 500 {
				t.Errorf("PNG is %v, want 800×500", sz)
			}
		case "svg":
			s := string(b)
			// The page is the 8×5 in logical page (576×360 pt), at 100 dpi for 800×500.
			if !strings.Contains(s, `<svg width="576pt" height="360pt"`) || !strings.Contains(s, "Number at risk") ||
				!strings.Contains(s, "@font-face") {
				t.Errorf("SVG lacks its page size, the risk table or embedded fonts: %.300s", s)
			}
		case "pdf":
			if !bytes.HasPrefix(b, []byte("%PDF-")) {
				t.Errorf("PDF starts %q", b[:8])
			}
		}
	}
	if err := WriteFile(filepath.Join(dir, "km.gif"), f, 100, 100); err == nil {
		t.Error("WriteFile accepted .gif")
	}
	// A failed write leaves nothing behind.
	bad := &KMFigure{}
	if err := WriteFile(filepath.Join(dir, "bad.png"), bad, 100, 100); err == nil {
		t.Error("WriteFile wrote a figure without curves")
	}
	if ents, _ := os.ReadDir(dir); len(ents) != 3 {
		t.Errorf("directory holds %d files after a failed write, want 3", len(ents))
	}

	var deck bytes.Buffer
	pres := *f
	pres.Style = PresentationStyle()
	if err := WritePDFDeck(&deck, []Figure{&pres, forestFigure(t), barFigure()}, 800, 500); err != nil {
		t.Fatal(err)
	}
	if n := bytes.Count(deck.Bytes(), []byte("/Type /Page\n")); n != 3 {
		t.Errorf("deck has %d pages, want 3", n)
	}
}

func TestImageAndDarkBackground(t *testing.T) {
	f := lungFigure(t)
	f.Style = PresentationStyle().Dark()
	img, err := Image(f, 960, 600)
	if err != nil {
		t.Fatal(err)
	}
	if sz := img.Bounds().Size(); sz.X != 960 || sz.Y != 600 {
		t.Fatalf("image is %v, want 960×600", sz)
	}
	want := color.RGBAModel.Convert(f.Style.Background).(color.RGBA)
	if got := img.RGBAAt(2, 2); got != want {
		t.Errorf("corner pixel %v, want the dark background %v", got, want)
	}
}

func TestPageFor(t *testing.T) {
	s := PublicationStyle()
	for _, c := range []struct {
		w, h, dpi int
	}{{1600, 1000, 200}, {800, 500, 100}, {1600, 800, 160}, {1920, 1080, 216}} {
		dpi, pw, ph := pageFor(s, c.w, c.h)
		if dpi != c.dpi {
			t.Errorf("pageFor(%d×%d) dpi %d, want %d", c.w, c.h, dpi, c.dpi)
		}
		if got := float64(pw/vg.Inch) * float64(dpi); math.Abs(got-float64(c.w)) > 1e-6 {
			t.Errorf("pageFor(%d×%d) page width %v px", c.w, c.h, got)
		}
		if got := float64(ph/vg.Inch) * float64(dpi); math.Abs(got-float64(c.h)) > 1e-6 {
			t.Errorf("pageFor(%d×%d) page height %v px", c.w, c.h, got)
		}
	}
}

func BenchmarkKMFourGroupsPNG1600x1000(b *testing.B) {
	f := fourGroupFigure()
	var buf bytes.Buffer
	for b.Loop() {
		buf.Reset()
		if err := WritePNG(&buf, f, 1600, 1000); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkKMFourGroupsImage1600x1000(b *testing.B) {
	f := fourGroupFigure()
	for b.Loop() {
		if _, err := Image(f, 1600, 1000); err != nil {
			b.Fatal(err)
		}
	}
}

func TestPDFWorkarounds(t *testing.T) {
	if got, want := toCP1252("1.67 (1.20–2.32) — I² ≥ 50% ∞ ü"), "1.67 (1.20\x962.32) \x97 I\xb2 >= 50% inf \xfc"; got != want {
		t.Errorf("toCP1252 = %q, want %q", got, want)
	}
	// A band colour at alpha 0.2 reaches vgpdf with its straight components.
	c := withAlpha(rgb(0x00, 0x72, 0xB2), 0.2)
	r, g, b, a := c.RGBA()
	if a > 0 && a < 0xffff {
		r, g, b = r*0xffff/a, g*0xffff/a, b*0xffff/a
	}
	if r>>8 != 0x00 || g>>8 < 0x71 || g>>8 > 0x72 || b>>8 < 0xB1 || b>>8 > 0xB2 {
		t.Errorf("straight colour %x %x %x, want about 00 72 b2", r>>8, g>>8, b>>8)
	}
}

func TestStyles(t *testing.T) {
	p := PresentationStyle()
	if p.LabelSize < 18 || p.TickSize < 18 {
		t.Errorf("presentation axis labels %v pt, ticks %v pt; UI.md asks for ≥ 18 pt", p.LabelSize, p.TickSize)
	}
	if got := (Style{}).orDefault(); got.Name != "publication" {
		t.Errorf("zero Style is %q, want publication", got.Name)
	}
	// Okabe–Ito in its published order, and every group colour drawn from it.
	hex := []string{"E69F00", "56B4E9", "009E73", "F0E442", "0072B2", "D55E00", "CC79A7", "000000"}
	for i, c := range OkabeIto {
		r, g, b, _ := c.RGBA()
		if got := strings.ToUpper(strconv.FormatUint(uint64(r>>8)<<16|uint64(g>>8)<<8|uint64(b>>8)|1<<24, 16)[1:]); got != hex[i] {
			t.Errorf("OkabeIto[%d] = #%s, want #%s", i, got, hex[i])
		}
	}
	for i, c := range GroupPalette {
		found := false
		for _, o := range OkabeIto {
			found = found || c == o
		}
		if !found {
			t.Errorf("GroupPalette[%d] is not an Okabe–Ito colour", i)
		}
	}
}

// TestOddFiguresDraw draws figures at the edges of what callers may pass — tiny images, a
// group without events, a curve reaching 0 (NaN limits), twelve groups — which must draw
// without panicking or erroring.
func TestOddFiguresDraw(t *testing.T) {
	lung := lungFigure(t)
	many := &KMFigure{HideBands: false}
	for g := 0; g < 12; g++ {
		c := KMCurve{Name: "group " + strconv.Itoa(g), N: 10, Time: []float64{50 * float64(g+1), 900}, Surv: []float64{0.8, 0},
			Lower: []float64{0.5, nan}, Upper: []float64{1, nan}, NRisk: []int{10, 2}, Median: &MedianCI{900, 100, nan}}
		many.Curves = append(many.Curves, c)
	}
	empty := &KMFigure{Curves: []KMCurve{{Name: "no follow-up yet"}}, Unit: Years}
	flat := &KMFigure{Curves: []KMCurve{{Name: "censored only", N: 3, Time: []float64{30, 60}, Surv: []float64{1, 1},
		NRisk: []int{3, 2}, CensorTimes: []float64{30, 60, 400}}}}
	for _, c := range []struct {
		name string
		f    Figure
		w, h int
	}{
		{"lung 240x150", lung, 240, 150}, {"lung 64x40", lung, 64, 40}, {"lung 3000x300", lung, 3000, 300},
		{"twelve groups", many, 1600, 1000}, {"empty curve", empty, 800, 500}, {"censored only", flat, 800, 500},
		{"forest tiny", forestFigure(t), 120, 80}, {"bars tiny", barFigure(), 120, 80},
	} {
		if _, err := Image(c.f, c.w, c.h); err != nil {
			t.Errorf("%s: %v", c.name, err)
		}
	}
}

// The legend gives a group's size as "n = 312", and a noisy one (a differentially private
// release) as "n ≈ 312"; so does the derived number-at-risk table ("≈312").
func TestLegendApproximateN(t *testing.T) {
	curve := KMCurve{Name: "female", N: 312, Time: []float64{0, 100}, Surv: []float64{1, 0.5}, NRisk: []int{312, 150}}
	for _, c := range []struct {
		approx      bool
		name, first string
	}{{false, "female (n = 312)", "312"}, {true, "female (n ≈ 312)", "≈312"}} {
		f := &KMFigure{Curves: []KMCurve{curve}, Approximate: c.approx}
		if got := f.legend(PublicationStyle(), false).names[0]; got != c.name {
			t.Errorf("approximate %v: legend %q, want %q", c.approx, got, c.name)
		}
		if cells := f.RiskCells(); len(cells) != 1 || cells[0][0] != c.first {
			t.Errorf("approximate %v: risk cells %q, want %q first", c.approx, cells, c.first)
		}
	}
}
