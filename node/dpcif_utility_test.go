package node

import (
	"bytes"
	"encoding/csv"
	"fmt"
	"math"
	"math/big"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/oncofed/oncofed/analysis"
	"github.com/oncofed/oncofed/app"
	"github.com/oncofed/oncofed/dp"
	"github.com/oncofed/oncofed/synth"
)

// The end-to-end utility of a dp analyst's cumulative incidence (docs/competing-risks.md): the
// federation harness of TestDPUtility on synthetic mesothelioma cohorts, whose PFS ends in
// progression or in death before progression. A dp analyst asks the same survival query of PFS
// many times; every site releases its per-cause table at dp_rho_survival; the replies are merged
// by app.Render and the Aalen–Johansen estimate of each cause is compared with the one a trusted
// analyst gets from exact releases of the same databases.

// cifStats collects one cohort's max|ΔCIF| per cause (and the all-cause KM's max|ΔS| of the
// same releases) over repeated releases.
type cifStats struct {
	sites, refused int
	dCIF, dBinned  [2][]float64 // per cause: against the exact CIF and the exact CIF on the bins
	dS             []float64
}

// cifAt is the cumulative incidence of cause c (1-based) at tm, 0 without an estimate.
func cifAt(e *analysis.CIFEstimate, c int, tm float64) float64 {
	if e == nil || len(e.Time) == 0 {
		return 0
	}
	return e.At(c, tm).CIF
}

// maxCIFDiff is max |a(t) − b(t)| of cause c over the grid.
func maxCIFDiff(a, b *analysis.CIFEstimate, c int, grid []float64) float64 {
	m := 0.0
	for _, tm := range grid {
		m = max(m, math.Abs(cifAt(a, c, tm)-cifAt(b, c, tm)))
	}
	return m
}

// measureCIF asks f's ungrouped query reps times as the dp analyst and compares each pooled
// cumulative incidence with the exact one (ref's grid: the bin ends with ≥ 50 at risk).
func measureCIF(t *testing.T, f *federation, ref reference, exact, binned *analysis.CIFEstimate, reps int) *cifStats {
	t.Helper()
	st := &cifStats{}
	for range reps {
		q := f.kmQuery(false)
		q.SplitCauses = true // the cumulative incidence's query
		km, refused := ask(t, f.dp, f.dora, q)
		st.sites += len(f.dp)
		st.refused += refused
		if km == nil {
			continue
		}
		g := km.Groups[0]
		if km.CIFError != "" || g.CIF == nil || len(g.CIF.Causes) != 2 {
			t.Fatalf("%s: no cumulative incidence from the dp release: %q", f.cohort.name, km.CIFError)
		}
		for c := range 2 {
			st.dCIF[c] = append(st.dCIF[c], maxCIFDiff(g.CIF, exact, c+1, ref.grid))
			st.dBinned[c] = append(st.dBinned[c], maxCIFDiff(g.CIF, binned, c+1, ref.grid))
		}
		st.dS = append(st.dS, maxDiff(g.Curve, ref.exact, ref.grid))
	}
	return st
}

// mpmCohort is a synthetic mesothelioma cohort of n patients over sites sites, measured on PFS.
func mpmCohort(t testing.TB, n, sites int) utilityCohort {
	c := synthStudyCohort(t, synth.MPM, "MPM", n, sites)
	c.endpoint = "PFS"
	return c
}

// The smoke run: a few releases of the 500-patient cohort at 4 sites, with loose bounds.
func TestDPCIFUtilitySmoke(t *testing.T) {
	f := newFederation(t, mpmCohort(t, 500, 4), DefaultDP.DPRhoSurvival)
	ref, exact, binned := cifReference(t, f)
	st := measureCIF(t, f, ref, exact, binned, 3)
	for c := range 2 {
		if len(st.dCIF[c]) == 0 || quantile(st.dCIF[c], 0.5) > 0.5 || !(quantile(st.dCIF[c], 0.5) > 0) {
			t.Errorf("cause %d: max|ΔCIF| %v", c+1, st.dCIF[c])
		}
	}
}

// cifReference is f's reference (grid, exact KM) with the exact cumulative incidence and the
// exact one on the dp release's bins.
func cifReference(t *testing.T, f *federation) (reference, *analysis.CIFEstimate, *analysis.CIFEstimate) {
	t.Helper()
	ref := f.reference(t)
	km, _ := ask(t, f.exact, f.tom, f.kmQuery(false))
	g := km.Groups[0]
	if g.CIF == nil || len(g.CIF.Causes) != 2 {
		t.Fatalf("%s: the exact release has no cumulative incidence of two causes (%q)", f.cohort.name, km.CIFError)
	}
	binned, err := analysis.CumulativeIncidence(binTable(g.Table, f.policy.DPBinDays, f.policy.DPHorizonDays), analysis.KMOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return ref, g.CIF, binned
}

// TestDPCIFUtility is the measurement behind docs/competing-risks.md's table:
//
//	go test ./node -run 'TestDPCIFUtility$' -dputility -v [-dputility.reps 200]
func TestDPCIFUtility(t *testing.T) {
	if !*dpUtilityFlag {
		t.Skip("the measurement runs with -dputility")
	}
	reps := *dpUtilityReps
	rho := DefaultDP.DPRhoSurvival
	start := time.Now()
	var b strings.Builder
	fmt.Fprintf(&b, "\n| cohort | n | sites (sizes) | days with ≥50 at risk | exact CIF at the last: progression, death | sites refused | max\\|ΔCIF\\| progression: vs exact | on 30-day bins | max\\|ΔCIF\\| death: vs exact | on 30-day bins | max\\|ΔS\\| any event, from the split | max\\|ΔS\\| KM release (no split asked) | max\\|ΔS\\| endpoint without causes |\n|---|---|---|---|---|---|---|---|---|---|---|---|---|\n")
	for _, n := range []int{500, 1000, 2000} {
		for _, sites := range []int{1, 4} {
			f := newFederation(t, mpmCohort(t, n, sites), rho)
			ref, exact, binned := cifReference(t, f)
			st := measureCIF(t, f, ref, exact, binned, reps)
			unsplit := measure(t, f, ref, reps, false) // the same endpoint's KM query, without split_causes
			// The same patients imported without the causes: the KM release of all causes together.
			plain := mpmCohort(t, n, sites)
			for k := range plain.sites {
				plain.sites[k].csv = anyEvent(t, plain.sites[k].csv, "PFS", plain.sites[k].spec)
				plain.sites[k].spec.Causes = nil
			}
			fp := newFederation(t, plain, rho)
			km := measure(t, fp, fp.reference(t), reps, false)
			last := ref.grid[len(ref.grid)-1]
			fmt.Fprintf(&b, "| %s | %d | %d (%s) | 30–%.0f | %.3f, %.3f | %s | %s | %s | %s | %s | %s | %s | %s |\n",
				f.cohort.name, ref.n, len(f.cohort.sites), siteSizes(ref), last, cifAt(exact, 1, last), cifAt(exact, 2, last),
				refusedText(&utilityStats{sites: st.sites, refused: st.refused}),
				medP90(st.dCIF[0], "%.3f"), medP90(st.dBinned[0], "%.3f"), medP90(st.dCIF[1], "%.3f"), medP90(st.dBinned[1], "%.3f"), medP90(st.dS, "%.3f"), medP90(unsplit.dS, "%.3f"), medP90(km.dS, "%.3f"))
			t.Logf("%s: %d releases in %v", f.cohort.name, reps, time.Since(start).Round(time.Second))
		}
	}
	fmt.Printf("\n### Cumulative incidence at the default ρ = %g per survival query (%d releases each; median (p90))\n%s", rho, reps, b.String())
}

// anyEvent rewrites a site's CSV so that endpoint's event column holds 1 for an event of any
// cause (the endpoint imported without causes).
func anyEvent(t *testing.T, data []byte, endpoint string, spec ImportSpec) []byte {
	t.Helper()
	col := ""
	for _, ep := range spec.Endpoints {
		if ep.Name == endpoint {
			col = ep.EventColumn
		}
	}
	recs, err := csv.NewReader(bytes.NewReader(data)).ReadAll()
	if err != nil || len(recs) == 0 {
		t.Fatalf("csv: %v", err)
	}
	j := slices.Index(recs[0], col)
	if j < 0 {
		t.Fatalf("no column %q in %v", col, recs[0])
	}
	for _, r := range recs[1:] {
		if r[j] != "" && r[j] != "0" {
			r[j] = "1"
		}
	}
	var out bytes.Buffer
	w := csv.NewWriter(&out)
	if err := w.WriteAll(recs); err != nil {
		t.Fatal(err)
	}
	return out.Bytes()
}

// grayNullRates is how often, over trials releases of two equal groups of n patients in all at
// one site, Gray's test of each cause rejects at 5%: rates[0] on the exact binned tables,
// rates[1] on the dp tables as if exact, rates[2] on the dp tables with the noise in its
// variance (app.DPCompeting). Each trial draws a fresh cohort in two random halves (progression
// and death before progression exponential, medians 10 and 30 months; censoring uniform 12–48
// months), bins it as the node does (30-day bins, 122 of them) and releases each group's table
// at the default ρ (dp.SimulateCompeting, the release's noise).
func grayNullRates(t *testing.T, rng *rand.Rand, n, trials int) (rates [3][2]float64) {
	const bins, w = 122, 30.0
	rho := new(big.Rat).SetFloat64(DefaultDP.DPRhoSurvival)
	grids := []app.DPSiteGrid{{Rho: rho, W: w, Bins: bins}}
	var rej [3][2]int
	for trial := range trials {
		var exact, noisy [2]analysis.SurvivalTable
		for g := range 2 {
			ct := dp.CompetingTable{Events: [][]int64{make([]int64, bins), make([]int64, bins)}, Censored: make([]int64, bins)}
			for range n / 2 {
				tp, td := rng.ExpFloat64()*10*30.44/math.Ln2, rng.ExpFloat64()*30*30.44/math.Ln2
				tc := (12 + 36*rng.Float64()) * 30.44
				tm := min(tp, td, tc)
				b := min(max(int(math.Ceil(tm/w)), 1), bins) - 1
				switch tm {
				case tc:
					ct.Censored[b]++
				case tp:
					ct.Events[0][b]++
				default:
					ct.Events[1][b]++
				}
			}
			nc, err := dp.SimulateCompeting(rng, ct, rho, dp.SurvivalSqrt)
			if err != nil {
				t.Fatal(err)
			}
			exact[g], noisy[g] = analysisTable(ct, w), analysisTable(nc, w)
		}
		var seed [32]byte
		seed[0], seed[1], seed[2] = byte(trial), byte(trial>>8), byte(n>>4)
		res, err := app.DPCompeting([][]analysis.SurvivalTable{noisy[:]}, grids, nil, 2, seed)
		if err != nil {
			t.Fatal(err)
		}
		for c := range 2 {
			if r, err := analysis.GrayTest([][]analysis.SurvivalTable{exact[:]}, c+1, 0); err == nil && r.P < 0.05 {
				rej[0][c]++
			}
			if r, err := analysis.GrayTest([][]analysis.SurvivalTable{noisy[:]}, c+1, 0); err == nil && r.P < 0.05 {
				rej[1][c]++
			}
			if res.GrayErr == nil && res.Gray[c].P < 0.05 {
				rej[2][c]++
			}
		}
	}
	for k := range rej {
		for c := range 2 {
			rates[k][c] = float64(rej[k][c]) / float64(trials)
		}
	}
	return rates
}

// TestDPGrayNullSmoke: 40 releases of 500 patients are enough to see that Gray's test on dp
// tables taken as exact is far off its level (the measurement gives about 30%), while the same
// test on the exact tables, and the dp test with the noise in its variance, are not.
func TestDPGrayNullSmoke(t *testing.T) {
	r := grayNullRates(t, rand.New(rand.NewPCG(5, 8)), 500, 40)
	for c, name := range []string{"progression", "death"} {
		if r[0][c] > 0.125 || r[2][c] > 0.125 {
			t.Errorf("%s: rejected at 5%% %.1f%% on exact tables, %.1f%% on dp tables with the noise", name, 100*r[0][c], 100*r[2][c])
		}
		t.Logf("%s: rejected at 5%%: exact %.1f%%, dp as if exact %.1f%%, dp with the noise %.1f%%", name, 100*r[0][c], 100*r[1][c], 100*r[2][c])
	}
	if r[1][0]+r[1][1] < 0.2 {
		t.Errorf("dp tables as if exact: rejected %.1f%% / %.1f%% at 5%%, the measurement said about 30%%: has the mechanism changed? Then measure again (-dputility)", 100*r[1][0], 100*r[1][1])
	}
}

// TestDPGrayNull measures how often Gray's test of dp tables rejects at 5% two groups drawn from
// one distribution, taken as exact and with the noise in its variance (docs/competing-risks.md),
// and asserts that the latter keeps its level: within 3 binomial standard errors of 5%.
//
//	go test ./node -run 'TestDPGrayNull$' -dputility -v
func TestDPGrayNull(t *testing.T) {
	if !*dpUtilityFlag {
		t.Skip("the measurement runs with -dputility")
	}
	const trials = 1000
	band := 3 * math.Sqrt(0.05*0.95/trials)
	rng := rand.New(rand.NewPCG(7, 11))
	fmt.Printf("\n| n | cause | exact: rejected at 5%% | dp as if exact (ρ = %g) | dp, the noise in the variance |\n|---|---|---|---|---|\n", DefaultDP.DPRhoSurvival)
	for _, n := range []int{500, 2000} {
		r := grayNullRates(t, rng, n, trials)
		for c, name := range []string{"progression", "death"} {
			fmt.Printf("| %d | %s | %.1f%% | %.1f%% | %.1f%% |\n", n, name, 100*r[0][c], 100*r[1][c], 100*r[2][c])
			if math.Abs(r[2][c]-0.05) > band {
				t.Errorf("n %d, %s: Gray's test with the noise rejected %.1f%% at 5%% (band ±%.1f%%)", n, name, 100*r[2][c], 100*band)
			}
		}
	}
}

// analysisTable is a dp competing-risks table on bins of w days as the client reads it.
func analysisTable(ct dp.CompetingTable, w float64) analysis.SurvivalTable {
	out := analysis.SurvivalTable{Causes: make([][]int, len(ct.Events))}
	for b := range ct.Len() {
		d := int64(0)
		for _, col := range ct.Events {
			d += col[b]
		}
		if d+ct.Censored[b] == 0 {
			continue
		}
		out.Time = append(out.Time, float64(b+1)*w)
		out.Events = append(out.Events, int(d))
		out.Censor = append(out.Censor, int(ct.Censored[b]))
		for j, col := range ct.Events {
			out.Causes[j] = append(out.Causes[j], int(col[b]))
		}
	}
	return out
}
