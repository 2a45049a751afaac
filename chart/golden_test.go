package chart

import (
	"bytes"
	"flag"
	"fmt"
	"image"
	"image/draw"
	"image/png"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"sort"
	"testing"

	"github.com/oncofed/oncofed/internal/lungtest"
	"github.com/oncofed/oncofed/report/format"
)

var regen = flag.Bool("regen", false, "rewrite the golden images in testdata/ from the current code")

// goldenFigures are the figures whose PNG renderings are kept in testdata/ and compared
// pixel by pixel. Look at them after -regen: they are what users see.
func goldenFigures(tb testing.TB) []struct {
	name string
	fig  Figure
	w, h int
} {
	lung := lungFigure(tb)
	pres := *lungFigure(tb)
	pres.Style = PresentationStyle()
	four := fourGroupFigure()
	coarse := coarseFigure(tb)
	return []struct {
		name string
		fig  Figure
		w, h int
	}{
		{"km_lung_1600x1000", lung, 1600, 1000},
		{"km_lung_800x500", lung, 800, 500},
		{"km_lung_presentation_1600x1000", &pres, 1600, 1000},
		{"km_four_groups_1600x1000", four, 1600, 1000},
		{"km_coarse_days_percent_1200x800", coarse, 1200, 800},
		{"forest_sites_1600x1000", forestFigure(tb), 1600, 1000},
		{"forest_cox_presentation_1600x1000", coxForest(tb), 1600, 1000},
		{"bars_1200x750", barFigure(), 1200, 750},
		{"histogram_1200x750", histFigure(), 1200, 750},
	}
}

func TestGoldenImages(t *testing.T) {
	for _, g := range goldenFigures(t) {
		t.Run(g.name, func(t *testing.T) {
			got, err := Image(g.fig, g.w, g.h)
			if err != nil {
				t.Fatal(err)
			}
			path := filepath.Join("testdata", g.name+".png")
			if *regen {
				var buf bytes.Buffer
				if err := WritePNG(&buf, g.fig, g.w, g.h); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(path, buf.Bytes(), 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			f, err := os.Open(path)
			if err != nil {
				t.Fatalf("%v (run go test ./chart -run TestGoldenImages -regen)", err)
			}
			defer f.Close()
			want, err := png.Decode(f)
			if err != nil {
				t.Fatal(err)
			}
			if d := diffImages(got, want); d != "" {
				out := filepath.Join(os.TempDir(), "chart_"+g.name+"_got.png")
				var buf bytes.Buffer
				png.Encode(&buf, got)
				os.WriteFile(out, buf.Bytes(), 0o644)
				t.Errorf("%s differs from golden: %s; got written to %s", g.name, d, out)
			}
		})
	}
}

// diffImages compares two images allowing anti-aliasing noise: a pixel differs when a
// channel is off by more than 24/255, and up to 0.05% of pixels may differ.
func diffImages(got, want image.Image) string {
	if got.Bounds() != want.Bounds() {
		return fmt.Sprintf("size %v, want %v", got.Bounds(), want.Bounds())
	}
	g, w := toRGBA(got), toRGBA(want)
	bad := 0
	for i := 0; i < len(g.Pix); i += 4 {
		for k := i; k < i+4; k++ {
			if d := int(g.Pix[k]) - int(w.Pix[k]); d > 24 || d < -24 {
				bad++
				break
			}
		}
	}
	b := got.Bounds()
	if limit := b.Dx() * b.Dy() / 2000; bad > limit {
		return fmt.Sprintf("%d pixels differ (limit %d)", bad, limit)
	}
	return ""
}

func toRGBA(img image.Image) *image.RGBA {
	if r, ok := img.(*image.RGBA); ok {
		return r
	}
	r := image.NewRGBA(img.Bounds())
	draw.Draw(r, r.Bounds(), img, img.Bounds().Min, draw.Src)
	return r
}

// fourGroupFigure is a four-arm figure from simulated exponential survival (medians 8, 12,
// 18 and 30 months, uniform censoring over 5 years): illustrative data, fixed seed.
func fourGroupFigure() *KMFigure {
	rng := rand.New(rand.NewPCG(7, 11))
	f := &KMFigure{
		Title:           "Overall survival by PD-L1 TPS (simulated)",
		ShowMedianLines: true,
		Footnote:        "Simulated cohort for illustration. Privacy: 7-day bins; 2 cells suppressed; 5 of 5 sites.",
	}
	names := []string{"TPS <1%", "TPS 1–49%", "TPS ≥50%", "Not assessed"}
	for g, med := range []float64{8, 12, 18, 30} {
		n := 120 + 20*g
		times := make([]float64, n)
		events := make([]bool, n)
		for i := range times {
			ev := rng.ExpFloat64() * med / math.Ln2 * (365.25 / 12)
			cens := rng.Float64() * 60 * 365.25 / 12
			times[i], events[i] = math.Min(ev, cens), ev <= cens
		}
		c := productLimit(times, events)
		c.Name = names[g]
		f.Curves = append(f.Curves, c)
	}
	p := 3.2e-7
	f.LogRankP = &p
	return f
}

// productLimit computes the Kaplan–Meier estimate with log-transformed Greenwood 95%
// limits (survfit's default conf.type = "log") for the illustrative figures.
func productLimit(times []float64, events []bool) KMCurve {
	idx := make([]int, len(times))
	for i := range idx {
		idx[i] = i
	}
	sort.Slice(idx, func(a, b int) bool { return times[idx[a]] < times[idx[b]] })
	c := KMCurve{N: len(times)}
	s, v := 1.0, 0.0
	atRisk := len(times)
	for i := 0; i < len(idx); {
		t := times[idx[i]]
		d, cens := 0, 0
		j := i
		for ; j < len(idx) && times[idx[j]] == t; j++ {
			if events[idx[j]] {
				d++
			} else {
				cens++
			}
		}
		if d > 0 {
			s *= 1 - float64(d)/float64(atRisk)
			if atRisk > d {
				v += float64(d) / (float64(atRisk) * float64(atRisk-d))
			}
		}
		c.Time = append(c.Time, t)
		c.Surv = append(c.Surv, s)
		c.NRisk = append(c.NRisk, atRisk)
		lo, hi := nan, nan
		if s > 0 {
			se := math.Sqrt(v)
			lo, hi = s*math.Exp(-1.959964*se), math.Min(1, s*math.Exp(1.959964*se))
		}
		c.Lower, c.Upper = append(c.Lower, lo), append(c.Upper, hi)
		if cens > 0 {
			c.CensorTimes = append(c.CensorTimes, t)
		}
		atRisk -= j - i
		i = j
	}
	// Median and its CI (Brookmeyer–Crowley as survfit does it): the first times at which
	// S, the upper and the lower limit reach 0.5; NaN when they never do (not reached).
	first := func(v []float64) float64 {
		for i, x := range v {
			if x <= 0.5 {
				return c.Time[i]
			}
		}
		return nan
	}
	c.Median = &MedianCI{Median: first(c.Surv), Lower: first(c.Lower), Upper: first(c.Upper)}
	return c
}

// coarseFigure is overall survival from R on 30-day binned lung data (lung_expected_bin30.json)
// in days on a percent axis, with an explicit risk table as sites would release it under a
// minimum cell of 5 (counts below 5 suppressed).
func coarseFigure(tb testing.TB) *KMFigure {
	r := lungtest.ReadExpected(tb, 30)
	c := rCurve(r.Overall.KM, r.Overall.Median, 0)
	c.Name = "All patients"
	f := &KMFigure{Unit: Days, Percent: true, Curves: []KMCurve{c}, ShowMedianLines: true,
		Title:    "Overall survival, 30-day bins",
		Footnote: "Privacy: event times coarsened to 30-day bins; at-risk counts below 5 suppressed."}
	ticks := f.Ticks()
	rt := &RiskTable{Times: ticks, MinCell: 5, Counts: [][]int{make([]int, len(ticks))}}
	for j, t := range ticks {
		n := c.riskAt(t)
		if n > 0 && n < 5 {
			n = SuppressedCount
		}
		rt.Counts[0][j] = n
	}
	f.RiskTable = rt
	f.Notes = []string{fmt.Sprintf("12-month survival %.1f%%", 100*c.survAt(365.25))} // S(365.25 d) from R's table
	return f
}

// forestFigure is the per-site forest plot of HR male vs female from testdata/forest_lung.json
// (gen_forest.R: Cox model per institution, inverse-variance pooling).
func forestFigure(tb testing.TB) *ForestPlot {
	r := loadForest(tb)
	f := &ForestPlot{Title: "Hazard ratio male vs female by site", LabelHeader: "Site (n)", I2: &r.I2, QP: &r.QP,
		Footnote: "Cox model per site; fixed-effect inverse-variance pooling. NCCTG lung data, five largest institutions."}
	for i, l := range r.Sites.Label {
		f.Rows = append(f.Rows, ForestRow{Label: fmt.Sprintf("%s (%d)", l, r.Sites.N[i]), HR: r.Sites.HR[i],
			Lower: r.Sites.Lower[i], Upper: r.Sites.Upper[i], Weight: r.Sites.Weight[i]})
	}
	f.Rows = append(f.Rows, ForestRow{Label: "Pooled", HR: r.Pooled.HR, Lower: r.Pooled.Lower, Upper: r.Pooled.Upper, Pooled: true})
	return f
}

// coxForest is the forest plot of the lung Cox model sex + age (R coxph, Efron; gen_lung.R)
// in presentation style.
func coxForest(tb testing.TB) *ForestPlot {
	cx := loadLung(tb).Cox.Efron
	f := &ForestPlot{Title: "Cox model: overall survival", LabelHeader: "Term", Style: PresentationStyle()}
	for i, term := range []string{"Male (vs female)", "Age (per year)"} {
		f.Rows = append(f.Rows, ForestRow{Label: term, HR: cx.HR[i], Lower: cx.Lower[i], Upper: cx.Upper[i],
			Text: FormatHR(cx.HR[i], cx.Lower[i], cx.Upper[i]) + "  " + format.PValue(cx.P[i])})
	}
	f.EstimateHeader = "HR (95% CI)  p"
	return f
}

// barFigure is ECOG performance status by sex in the lung data (counts from
// analysis/testdata/lung.csv, with the counts of 1 suppressed as a minimum cell of 5 would).
func barFigure() *BarChart {
	return &BarChart{
		Title: "ECOG performance status by sex", XLabel: "ECOG", MinCell: 5,
		Categories: []string{"0", "1", "2", "3", "missing"},
		Groups: []BarGroup{
			{Name: "female", Values: []float64{27, 42, 21, 0, 0}},
			{Name: "male", Values: []float64{36, 71, 28, SuppressedCount, SuppressedCount}},
		},
		Footnote: "Privacy: cells below 5 suppressed.",
	}
}

// histFigure is the age distribution by sex in the lung data in 5-year bins (counts from
// analysis/testdata/lung.csv, counts of 1–4 suppressed as a minimum cell of 5 would).
func histFigure() *Histogram {
	return &Histogram{
		Title: "Age at diagnosis", XLabel: "Age (years)", MinCell: 5,
		Edges: []float64{35, 40, 45, 50, 55, 60, 65, 70, 75, 80, 85},
		Series: []HistSeries{
			{Name: "female", Counts: []float64{0, 5, SuppressedCount, 12, 19, 17, 15, 12, 6, 0}},
			{Name: "male", Counts: []float64{SuppressedCount, SuppressedCount, 5, 11, 21, 28, 28, 28, 6, SuppressedCount}},
		},
	}
}
