package analysis

import (
	"math"
	"math/rand/v2"
	"slices"
	"testing"
)

func TestBinLinearPredictors(t *testing.T) {
	lp := []float64{-0.9, -0.1, 0, 0.05, 0.2, 0.2, 0.3, 0.45, 1.7}
	for _, tc := range []struct {
		minCell int
		cuts    []int
		counts  []int
	}{
		// cells of width 0.25: -4, -1, 0, 0, 0, 0, 1, 1, 6
		{1, []int{-3, 0, 1, 2}, []int{1, 1, 4, 2, 1}},
		{2, []int{0, 1}, []int{2, 4, 3}}, // the lone top patient joins the bin under it
		{3, []int{1}, []int{6, 3}},
		{5, nil, []int{9}},  // 6 close at cell 0, the 3 left over join them: one open bin
		{10, nil, []int{9}}, // fewer than min_cell in all: one open bin
	} {
		h, err := BinLinearPredictors(lp, 0.25, tc.minCell)
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(h.Cuts, tc.cuts) || !slices.Equal(h.Counts, tc.counts) {
			t.Errorf("min_cell %d: cuts %v counts %v, want %v %v", tc.minCell, h.Cuts, h.Counts, tc.cuts, tc.counts)
		}
		for i, n := range h.Counts {
			if n < tc.minCell && len(h.Counts) > 1 {
				t.Errorf("min_cell %d: bin %d holds %d", tc.minCell, i, n)
			}
		}
	}
	for _, w := range []float64{0, -1, math.Inf(1), math.NaN()} {
		if _, err := BinLinearPredictors(lp, w, 1); err == nil {
			t.Errorf("width %v accepted", w)
		}
	}
	if _, err := BinLinearPredictors([]float64{1e12}, 0.25, 1); err == nil {
		t.Error("an lp 4e12 cells out accepted")
	}
}

// TestPoolLPHistograms: the pooled histogram's bins hold exactly the patients of every site
// whose lp lies within their edges, and each pooled bin holds at least min_cell patients
// when every site's bins do.
func TestPoolLPHistograms(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	const width, minCell = 0.2, 5
	var sites []LPHistogram
	var all []float64
	for s := 0; s < 4; s++ {
		lp := make([]float64, 30+rng.IntN(200))
		for i := range lp {
			lp[i] = rng.NormFloat64()*0.8 + float64(s)*0.3
		}
		all = append(all, lp...)
		h, err := BinLinearPredictors(lp, width, minCell)
		if err != nil {
			t.Fatal(err)
		}
		sites = append(sites, h)
	}
	pooled, err := PoolLPHistograms(sites)
	if err != nil {
		t.Fatal(err)
	}
	if pooled.Total() != len(all) || len(pooled.Cuts) < 3 {
		t.Fatalf("pooled %d patients in %d bins, want %d", pooled.Total(), len(pooled.Counts), len(all))
	}
	for i, n := range pooled.Counts {
		lo, hi := pooled.Edges(i)
		in := 0
		for _, v := range all {
			if c := math.Floor(v / width); c >= math.Floor(lo/width) && (math.IsInf(hi, 1) || c < math.Round(hi/width)) {
				in++
			}
		}
		if in != n || n < minCell {
			t.Errorf("bin %d [%v, %v): %d pooled, %d patients", i, lo, hi, n, in)
		}
	}
	below, in, above := pooled.Locate(0.1)
	if below+in+above != len(all) || in == 0 {
		t.Errorf("Locate(0.1) = %d, %d, %d", below, in, above)
	}
	if b, _, _ := pooled.Locate(-100); b != 0 {
		t.Errorf("Locate(-100): %d below", b)
	}
	if _, _, a := pooled.Locate(100); a != 0 {
		t.Errorf("Locate(100): %d above", a)
	}
	bad := []LPHistogram{{Width: width, Cuts: []int{1}, Counts: []int{5}}}
	if _, err := PoolLPHistograms(bad); err == nil {
		t.Error("a histogram with 1 count for 1 cut pooled")
	}
	if _, err := PoolLPHistograms([]LPHistogram{sites[0], {Width: 0.3, Counts: []int{9}}}); err == nil {
		t.Error("histograms of two widths pooled")
	}
}

// TestLocateAmong: placed among the sites' own bins, a profile's bounds hold the true count of
// patients below it and are at least as tight as on the pooled common bins; the distribution
// bounds hold the true distribution at every boundary.
func TestLocateAmong(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	const width, minCell = 0.1, 5
	var sites []LPHistogram
	var all []float64
	for s := 0; s < 12; s++ {
		lp := make([]float64, 15+rng.IntN(60))
		for i := range lp {
			lp[i] = rng.NormFloat64() * 0.6
		}
		all = append(all, lp...)
		h, err := BinLinearPredictors(lp, width, minCell)
		if err != nil {
			t.Fatal(err)
		}
		sites = append(sites, h)
	}
	pooled, err := PoolLPHistograms(sites)
	if err != nil {
		t.Fatal(err)
	}
	for _, x := range []float64{-1.3, -0.42, 0, 0.05, 0.77, 2} {
		below, in, above := LocateAmong(sites, x)
		cell := math.Floor(x / width)
		truth := 0
		for _, v := range all {
			if math.Floor(v/width) < cell {
				truth++
			}
		}
		if below+in+above != len(all) || truth < below || truth > below+in {
			t.Errorf("lp %v: %d below, %d in; truly %d below its cell", x, below, in, truth)
		}
		if _, pin, _ := pooled.Locate(x); in > pin {
			t.Errorf("lp %v: %d uncertain among the sites, %d on the pooled bins", x, in, pin)
		}
	}
	pts := LPCDFBounds(sites)
	if len(pts) < 10 {
		t.Fatalf("%d boundaries", len(pts))
	}
	for _, p := range pts {
		truth := 0
		for _, v := range all {
			if math.Floor(v/width) < math.Round(p.LP/width) {
				truth++
			}
		}
		f := float64(truth) / float64(len(all))
		if f < p.Lower-1e-12 || f > p.Upper+1e-12 || p.Lower > p.Upper {
			t.Errorf("at %v: bounds [%v, %v], truly %v", p.LP, p.Lower, p.Upper, f)
		}
	}
}
