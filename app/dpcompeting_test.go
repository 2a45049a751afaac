package app

import (
	"math"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/oncofed/oncofed/analysis"
	"github.com/oncofed/oncofed/protocol"
)

// dpCIFReplies are dpKMReplies with each event split between two causes (cause 1 with
// probability 0.6 in group a, p1 in group b).
func dpCIFReplies(rng *rand.Rand, rho, p1 float64) []protocol.Reply {
	replies := dpKMReplies(rng, rho, 1)
	for _, rep := range replies {
		for g := range rep.Survival.Groups {
			sg := &rep.Survival.Groups[g]
			p := []float64{0.6, p1}[g]
			sg.Causes = []protocol.Ints{make(protocol.Ints, len(sg.Time)), make(protocol.Ints, len(sg.Time))}
			for i, d := range sg.Events {
				for range d {
					c := 1
					if rng.Float64() < p {
						c = 0
					}
					sg.Causes[c][i]++
				}
			}
		}
	}
	return replies
}

// Gray's test of dp releases holds the noise in its variance: on the same tables, its statistic
// is smaller than the test that takes them as exact; it still finds a real difference; the same
// replies give the same p-value. The cumulative incidence keeps its estimate, and its standard
// error is the Aalen–Johansen one and the noise's SD in quadrature, its interval recomputed.
// (The level under the null: node.TestDPGrayNull.)
func TestRenderCIFWithDPNoise(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	for _, p1 := range []float64{0.6, 0.2} {
		replies := dpCIFReplies(rng, 0.02, p1)
		km, err := renderKM(replies, nil)
		if err != nil {
			t.Fatal(err)
		}
		if !km.GrayWithNoise || len(km.Gray) != 2 || km.GrayError != "" || !km.LogRankWithNoise {
			t.Fatalf("p1 %g: with noise %v, %+v, %q", p1, km.GrayWithNoise, km.Gray, km.GrayError)
		}
		for c, g := range km.Gray {
			naive, err := analysis.GrayTest([][]analysis.SurvivalTable{{km.Groups[0].Table, km.Groups[1].Table}}, c+1, 0)
			if err != nil || !(g.Stat < naive.Stat) || g.Score[0] != naive.Score[0] || !(g.Variance[0] > naive.Variance[0]) {
				t.Errorf("p1 %g, cause %d: %+v with the noise, %+v without (%v)", p1, c+1, g, naive, err)
			}
		}
		if again, _ := renderKM(replies, nil); again.Gray[0].P != km.Gray[0].P || again.Groups[0].CIF.Causes[0].StdErr[5] != km.Groups[0].CIF.Causes[0].StdErr[5] {
			t.Errorf("p1 %g: the same replies give another p-value or interval", p1)
		}
		if p1 == 0.2 && !(km.Gray[0].P < 1e-6) {
			t.Errorf("cause 1 in 60%% against 20%% of 600 events: p %g", km.Gray[0].P)
		}
		for _, grp := range km.Groups {
			naive, _ := analysis.CumulativeIncidence(grp.Table, analysis.KMOptions{})
			for c, cc := range grp.CIF.Causes {
				n := naive.Causes[c]
				if !slices.Equal(cc.CIF, n.CIF) || len(cc.NoiseSD) != len(cc.CIF) {
					t.Fatalf("group %s cause %d: CIF %v, want %v; noise SD %v", grp.Group, c+1, cc.CIF, n.CIF, cc.NoiseSD)
				}
				for j := range cc.CIF {
					want := math.Sqrt(n.StdErr[j]*n.StdErr[j] + cc.NoiseSD[j]*cc.NoiseSD[j])
					if math.Abs(cc.StdErr[j]-want) > 1e-12 || (cc.CIF[j] > 0.05 && !(cc.NoiseSD[j] > 0 && cc.Lower[j] < n.Lower[j] && cc.Upper[j] >= n.Upper[j])) {
						t.Fatalf("group %s cause %d row %d: SE %g, want %g; interval %g–%g, without the noise %g–%g", grp.Group, c+1, j, cc.StdErr[j], want, cc.Lower[j], cc.Upper[j], n.Lower[j], n.Upper[j])
					}
				}
			}
		}
	}
}

// Exact releases are unchanged bit for bit: Gray's test is cmprsk's (analysis.GrayTest, checked
// against R), the cumulative incidence survfit's, without a noise term (only dp releases get
// one); a site that released exact tables adds no noise to DPCompeting either.
func TestCIFExactReleasesHaveNoNoise(t *testing.T) {
	replies := dpCIFReplies(rand.New(rand.NewPCG(7, 8)), 0, 0.4)
	km, err := renderKM(replies, nil)
	if err != nil {
		t.Fatal(err)
	}
	merged := []analysis.SurvivalTable{km.Groups[0].Table, km.Groups[1].Table}
	if km.GrayWithNoise || len(km.Gray) != 2 {
		t.Fatalf("exact releases: with noise %v, %+v", km.GrayWithNoise, km.Gray)
	}
	for c, g := range km.Gray {
		want, _ := analysis.GrayTest([][]analysis.SurvivalTable{merged}, c+1, 0)
		if g.Stat != want.Stat || g.P != want.P {
			t.Errorf("cause %d: %+v, want %+v", c+1, g, want)
		}
	}
	var strata [][]analysis.SurvivalTable
	for _, rep := range replies {
		strata = append(strata, []analysis.SurvivalTable{SurvivalTableOf(rep.Survival.Groups[0]), SurvivalTableOf(rep.Survival.Groups[1])})
	}
	cifs := []*analysis.CIFEstimate{km.Groups[0].CIF, km.Groups[1].CIF}
	res, err := DPCompeting(strata, make([]DPSiteGrid, len(strata)), cifs, 2, dpCompetingSeed)
	if err != nil || res.GrayErr != nil {
		t.Fatal(err, res.GrayErr)
	}
	for g, grp := range km.Groups {
		want, _ := analysis.CumulativeIncidence(grp.Table, analysis.KMOptions{})
		for c, cc := range grp.CIF.Causes {
			if cc.NoiseSD != nil || !slices.Equal(cc.StdErr, want.Causes[c].StdErr) || !equalNaN(cc.Lower, want.Causes[c].Lower) {
				t.Errorf("exact group %s cause %d: noise SD %v, SE %v, want %v", grp.Group, c+1, cc.NoiseSD, cc.StdErr, want.Causes[c].StdErr)
			}
			// Exact sites' copies are the tables themselves: the noise's SD is 0 (to rounding
			// in the mean of equal values), and the standard error the exact one.
			dc := res.CIF[g].Causes[c]
			for j, sd := range dc.NoiseSD {
				if !(sd < 1e-12) || math.Abs(dc.StdErr[j]-cc.StdErr[j]) > 1e-12 {
					t.Fatalf("DPCompeting of exact sites, group %d cause %d row %d: noise SD %g, SE %g, want %g", g, c+1, j, sd, dc.StdErr[j], cc.StdErr[j])
				}
			}
		}
	}
	for c, g := range res.Gray {
		if math.Abs(g.Stat-km.Gray[c].Stat) > 1e-9*km.Gray[c].Stat {
			t.Errorf("DPCompeting of exact sites, cause %d: Gray %g, want %g", c+1, g.Stat, km.Gray[c].Stat)
		}
	}
}

// equalNaN is slices.Equal with NaN equal to NaN.
func equalNaN(a, b []float64) bool {
	return slices.EqualFunc(a, b, func(x, y float64) bool { return x == y || (math.IsNaN(x) && math.IsNaN(y)) })
}
