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

// TestDPGrayNull measures how often Gray's test, computed from dp tables as if they were
// exact, rejects at 5% two groups drawn from one distribution (docs/competing-risks.md):
//
//	go test ./node -run 'TestDPGrayNull$' -dputility -v
//
// Each trial draws a fresh cohort of n patients in two random halves (progression and death
// before progression exponential, medians 10 and 30 months; censoring uniform 12–48 months),
// bins it as the node does (30-day bins, 122 of them) and tests each cause on the exact tables
// and on one noisy copy per group at the default ρ (dp.SimulateCompeting, the release's noise).
func TestDPGrayNull(t *testing.T) {
	if !*dpUtilityFlag {
		t.Skip("the measurement runs with -dputility")
	}
	const trials, bins, w = 1000, 122, 30.0
	rho := new(big.Rat).SetFloat64(DefaultDP.DPRhoSurvival)
	rng := rand.New(rand.NewPCG(7, 11))
	fmt.Printf("\n| n | cause | exact: rejected at 5%% | dp at ρ = %g: rejected at 5%% |\n|---|---|---|---|\n", DefaultDP.DPRhoSurvival)
	for _, n := range []int{500, 2000} {
		var exactRej, dpRej [2]int
		for range trials {
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
			for c := range 2 {
				if r, err := analysis.GrayTest([][]analysis.SurvivalTable{exact[:]}, c+1, 0); err == nil && r.P < 0.05 {
					exactRej[c]++
				}
				if r, err := analysis.GrayTest([][]analysis.SurvivalTable{noisy[:]}, c+1, 0); err == nil && r.P < 0.05 {
					dpRej[c]++
				}
			}
		}
		for c, name := range []string{"progression", "death"} {
			fmt.Printf("| %d | %s | %.1f%% | %.1f%% |\n", n, name, 100*float64(exactRej[c])/trials, 100*float64(dpRej[c])/trials)
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
