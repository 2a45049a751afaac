package analysis

import (
	"errors"
	"fmt"
	"math"
	"testing"

	"gonum.org/v1/gonum/floats/scalar"

	"github.com/oncofed/oncofed/internal/lungtest"
)

// metaCheck compares got with want at rel (and abs, for values at or near 0) tolerance tol.
func metaCheck(t *testing.T, what string, got, want, tol float64) {
	t.Helper()
	if !scalar.EqualWithinAbsOrRel(got, want, tol, tol) {
		t.Errorf("%s = %.17g, want %.17g (R metafor)", what, got, want)
	}
}

func metaCheckPooled(t *testing.T, what string, got PooledEstimate, want lungtest.MetaPooled) {
	t.Helper()
	metaCheck(t, what+" estimate", got.Estimate, want.Estimate[0], 1e-9)
	metaCheck(t, what+" SE", got.SE, want.SE[0], 1e-9)
	metaCheck(t, what+" z", got.Z, want.Z[0], 1e-9)
	metaCheck(t, what+" lower", got.Lower, want.Lower[0], 1e-9)
	metaCheck(t, what+" upper", got.Upper, want.Upper[0], 1e-9)
	metaCheck(t, what+" p", got.P, want.P[0], 1e-6)
	// p-values as small as 1e-26 (BCG, fixed effect) must agree relatively too.
	if want.P[0] < 1e-6 && !scalar.EqualWithinRel(got.P, want.P[0], 1e-6) {
		t.Errorf("%s p = %g, want %g (relative)", what, got.P, want.P[0])
	}
}

func TestMetaAnalyzeAgainstMetafor(t *testing.T) {
	for _, c := range lungtest.ReadMeta(t) {
		t.Run(c.Name[0], func(t *testing.T) {
			in := make([]SiteEstimate, len(c.Yi))
			for i := range c.Yi {
				in[i] = SiteEstimate{Site: c.Site[i], Estimate: c.Yi[i], SE: c.Sei[i]}
			}
			h, err := MetaAnalyze(in, c.Level[0])
			if err != nil {
				t.Fatal(err)
			}
			if len(h.Sites) != len(in) || len(h.Excluded) != 0 {
				t.Fatalf("used %d sites, excluded %v; want all %d", len(h.Sites), h.Excluded, len(in))
			}
			metaCheckPooled(t, "fixed", h.Fixed, c.Fixed)
			metaCheckPooled(t, "random", h.Random, c.Random)
			metaCheck(t, "tau2", h.Tau2, c.Tau2[0], 1e-9)
			metaCheck(t, "Q", h.Q, c.Q[0], 1e-9)
			if h.DF != c.DF[0] {
				t.Errorf("df = %d, want %d", h.DF, c.DF[0])
			}
			metaCheck(t, "Q p", h.QP, c.QP[0], 1e-6)
			if c.QP[0] < 1e-6 && !scalar.EqualWithinRel(h.QP, c.QP[0], 1e-6) {
				t.Errorf("Q p = %g, want %g (relative)", h.QP, c.QP[0])
			}
			metaCheck(t, "I2", h.I2, c.I2[0], 1e-9)
			metaCheck(t, "H2", h.H2, c.H2[0], 1e-9)
			for i := range in {
				metaCheck(t, fmt.Sprintf("fixed weight %s", in[i].Site), h.WeightsFixed[i], c.WeightsFixed[i], 1e-9)
				metaCheck(t, fmt.Sprintf("random weight %s", in[i].Site), h.WeightsRandom[i], c.WeightsRandom[i], 1e-9)
			}
		})
	}
}

// The BCG case has τ² > 0, so the random-effects estimate must differ from the fixed one; the
// lung and homogeneous cases have Q < df, so τ² is truncated at 0 and DL equals the fixed effect.
func TestMetaAnalyzeTruncation(t *testing.T) {
	for _, c := range lungtest.ReadMeta(t) {
		in := make([]SiteEstimate, len(c.Yi))
		for i := range c.Yi {
			in[i] = SiteEstimate{Site: c.Site[i], Estimate: c.Yi[i], SE: c.Sei[i]}
		}
		h, err := MetaAnalyze(in, 0.95)
		if err != nil {
			t.Fatal(err)
		}
		switch c.Name[0] {
		case "bcg":
			if !(h.Tau2 > 0.3) || h.Random.Estimate == h.Fixed.Estimate {
				t.Errorf("bcg: tau2 = %v, random %v, fixed %v; want tau2 ≈ 0.309 and different estimates", h.Tau2, h.Random.Estimate, h.Fixed.Estimate)
			}
		case "homogeneous", "lung_sex_by_site":
			if h.Q >= float64(h.DF) || h.Tau2 != 0 || h.I2 != 0 || h.Random != h.Fixed {
				t.Errorf("%s: Q = %v, df = %d, tau2 = %v, I2 = %v; want Q < df, tau2 = I2 = 0 and random = fixed", c.Name[0], h.Q, h.DF, h.Tau2, h.I2)
			}
		}
	}
}

// A site with an infinite, NaN, zero SE or a NaN estimate is left out, reported, and the
// result equals the analysis without it.
func TestMetaAnalyzeExcludesUnusableSites(t *testing.T) {
	var bcg lungtest.MetaCase
	for _, c := range lungtest.ReadMeta(t) {
		if c.Name[0] == "bcg" {
			bcg = c
		}
	}
	var clean []SiteEstimate
	for i := range bcg.Yi {
		clean = append(clean, SiteEstimate{Site: bcg.Site[i], Estimate: bcg.Yi[i], SE: bcg.Sei[i]})
	}
	dirty := append([]SiteEstimate{{Site: "infSE", Estimate: 0.1, SE: math.Inf(1)}}, clean[:5]...)
	dirty = append(dirty, SiteEstimate{Site: "nanSE", Estimate: 0.2, SE: math.NaN()},
		SiteEstimate{Site: "zeroSE", Estimate: 0.3, SE: 0},
		SiteEstimate{Site: "nanEst", Estimate: math.NaN(), SE: 0.5})
	dirty = append(dirty, clean[5:]...)
	want, err := MetaAnalyze(clean, 0.95)
	if err != nil {
		t.Fatal(err)
	}
	got, err := MetaAnalyze(dirty, 0.95)
	if err != nil {
		t.Fatal(err)
	}
	if got.Fixed != want.Fixed || got.Random != want.Random || got.Tau2 != want.Tau2 || got.Q != want.Q || got.DF != want.DF {
		t.Errorf("with unusable sites: %+v\nwant %+v", got, want)
	}
	var names []string
	for _, e := range got.Excluded {
		names = append(names, e.Site)
		if e.Reason == "" {
			t.Errorf("site %s excluded without a reason", e.Site)
		}
	}
	if fmt.Sprint(names) != "[infSE nanSE zeroSE nanEst]" {
		t.Errorf("excluded %v, want [infSE nanSE zeroSE nanEst]", names)
	}
	if len(got.Sites) != len(clean) {
		t.Errorf("used %d sites, want %d", len(got.Sites), len(clean))
	}

	_, err = MetaAnalyze([]SiteEstimate{{Site: "x", Estimate: 1, SE: math.Inf(1)}}, 0.95)
	if !errors.Is(err, ErrNoUsableSite) {
		t.Errorf("no usable site: err = %v, want ErrNoUsableSite", err)
	}
	if _, err := MetaAnalyze(nil, 0.95); !errors.Is(err, ErrNoUsableSite) {
		t.Errorf("no site: err = %v, want ErrNoUsableSite", err)
	}
}

func TestMetaAnalyzePanicsOnBadLevel(t *testing.T) {
	for _, level := range []float64{0, 1, 95, math.NaN()} {
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("level %v: no panic", level)
				}
			}()
			MetaAnalyze([]SiteEstimate{{Site: "a", Estimate: 0, SE: 1}}, level)
		}()
	}
}

// BenchmarkMetaAnalyze pools 100 sites' log HRs.
func BenchmarkMetaAnalyze(b *testing.B) {
	sites := make([]SiteEstimate, 100)
	for i := range sites {
		sites[i] = SiteEstimate{Site: fmt.Sprint("site", i), Estimate: math.Sin(float64(i)) / 2, SE: 0.1 + float64(i%7)/10}
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := MetaAnalyze(sites, 0.95); err != nil {
			b.Fatal(err)
		}
	}
}
