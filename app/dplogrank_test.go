package app

import (
	"math"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/oncofed/oncofed/analysis"
	"github.com/oncofed/oncofed/protocol"
)

// dpKMReplies are two sites' survival replies of groups "a" and "b" on monthly bins, with
// events and censorings drawn from rng (b's hazard hr times a's), released as dp at ρ = rho
// (exact when rho is 0).
func dpKMReplies(rng *rand.Rand, rho, hr float64) []protocol.Reply {
	const w, bins = 30.0, 60
	horizon := w * bins
	var out []protocol.Reply
	for _, site := range []string{"s1", "s2"} {
		rep := protocol.Reply{Site: site, Survival: &protocol.SurvivalReply{Endpoint: "os"},
			Policy: protocol.PolicyEffects{BinDays: w, TruncatedAfter: &horizon}}
		if rho > 0 {
			rep.Policy.DP = &protocol.DPEffects{Mechanism: "survival-sqrt", Rho: rho}
		}
		for g, name := range []string{"a", "b"} {
			ev, ce := make([]int, bins), make([]int, bins)
			for range 300 {
				te := rng.ExpFloat64() * 400 / math.Pow(hr, float64(g))
				tc := 300 + 1400*rng.Float64()
				b := min(max(int(math.Ceil(min(te, tc)/w)), 1), bins) - 1
				if te <= tc {
					ev[b]++
				} else {
					ce[b]++
				}
			}
			sg := protocol.SurvivalGroup{Group: name}
			for b := range bins {
				if ev[b]+ce[b] > 0 {
					sg.Time, sg.Events, sg.Censor = append(sg.Time, float64(b+1)*w), append(sg.Events, ev[b]), append(sg.Censor, ce[b])
				}
			}
			rep.Survival.Groups = append(rep.Survival.Groups, sg)
		}
		out = append(out, rep)
	}
	return out
}

// The log-rank tests of dp releases hold the noise in their variance: on the same tables, χ² is
// smaller than the test that takes them as exact, by the noise's share of the variance; it
// still finds a real difference; the result says so. Exact releases keep R's survdiff test.
// (The level under the null: node.TestDPLogRankNull.)
func TestRenderKMLogRankWithDPNoise(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for _, hr := range []float64{1, 2} {
		replies := dpKMReplies(rng, 0.02, hr)
		km, err := renderKM(replies, nil)
		if err != nil {
			t.Fatal(err)
		}
		if !km.LogRankWithNoise || km.LogRank == nil || km.StratifiedLogRank == nil || km.LogRankError != "" {
			t.Fatalf("hr %g: with noise %v, %+v, %+v, %q", hr, km.LogRankWithNoise, km.LogRank, km.StratifiedLogRank, km.LogRankError)
		}
		naive, _ := analysis.LogRank([]analysis.SurvivalTable{km.Groups[0].Table, km.Groups[1].Table})
		if !(km.LogRank.ChiSq < naive.ChiSq) || km.LogRank.DF != 1 {
			t.Errorf("hr %g: χ² %g with the noise, %g without", hr, km.LogRank.ChiSq, naive.ChiSq)
		}
		for g := range 2 {
			if km.LogRank.Observed[g] != naive.Observed[g] || !(km.LogRank.Variance[g*2+g] > naive.Variance[g*2+g]) {
				t.Errorf("hr %g, group %d: O %g vs %g, V %g vs %g", hr, g, km.LogRank.Observed[g], naive.Observed[g], km.LogRank.Variance[g*2+g], naive.Variance[g*2+g])
			}
		}
		if again, _ := renderKM(replies, nil); again.LogRank.P != km.LogRank.P {
			t.Errorf("hr %g: p %g, then %g: the same replies give another p-value", hr, km.LogRank.P, again.LogRank.P)
		}
		if hr == 2 && !(km.LogRank.P < 1e-6 && km.StratifiedLogRank.P < 1e-6) {
			t.Errorf("HR 2 on 1,200 patients: p %g, by site %g", km.LogRank.P, km.StratifiedLogRank.P)
		}
	}
	exact, err := renderKM(dpKMReplies(rng, 0, 1), nil)
	if err != nil {
		t.Fatal(err)
	}
	naive, _ := analysis.LogRank([]analysis.SurvivalTable{exact.Groups[0].Table, exact.Groups[1].Table})
	if exact.LogRankWithNoise || exact.LogRank == nil || exact.LogRank.ChiSq != naive.ChiSq {
		t.Errorf("exact releases: with noise %v, %+v, want survdiff's χ² %g", exact.LogRankWithNoise, exact.LogRank, naive.ChiSq)
	}
}

// A site that released exact tables adds no noise: with every site exact, DPLogRank is the
// plain test; a reply of a dp release without its grid is an error, not a test without noise.
func TestDPLogRankExactSitesAddNoNoise(t *testing.T) {
	replies := dpKMReplies(rand.New(rand.NewPCG(3, 4)), 0, 1.3)
	var strata [][]analysis.SurvivalTable
	for _, rep := range replies {
		strata = append(strata, []analysis.SurvivalTable{SurvivalTableOf(rep.Survival.Groups[0]), SurvivalTableOf(rep.Survival.Groups[1])})
	}
	pooled, bySite, e1, e2 := DPLogRank(strata, make([]DPSiteGrid, len(strata)), dpLogRankSeed)
	want, _ := analysis.LogRank(mergedGroups(strata))
	wantS, _ := analysis.StratifiedLogRank(strata)
	if e1 != nil || e2 != nil || math.Abs(pooled.ChiSq-want.ChiSq) > 1e-9*want.ChiSq || math.Abs(bySite.ChiSq-wantS.ChiSq) > 1e-9*wantS.ChiSq {
		t.Errorf("exact sites: χ² %v / %v, want %g / %g (%v, %v)", pooled, bySite, want.ChiSq, wantS.ChiSq, e1, e2)
	}
	replies[0].Policy.DP = &protocol.DPEffects{Mechanism: "survival-sqrt", Rho: 0.02}
	replies[0].Policy.TruncatedAfter = nil
	if _, err := renderKM(replies, nil); err == nil || !strings.Contains(err.Error(), "lacks the release's parameters") {
		t.Errorf("a dp reply without its grid: %v", err)
	}
}
