package node

import (
	"fmt"
	"math"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/oncofed/oncofed/protocol"
)

// utilityStats collects one cohort's measurements at one ρ over repeated releases.
type utilityStats struct {
	reps                int
	sites, refused      int       // site releases asked, and refused (noisy size below min_cohort)
	emptyReleases       int       // releases every site refused
	dS, dSBinned        []float64 // max|ΔS| against the exact and the exact binned KM
	dMedian, dMedBinned []float64 // |Δ median| (days) against the exact and the exact binned KM
	nBias, phantom      []float64 // pooled n̂ − n; Σ over answered sites of n̂ − n
	dLogHR, dChi2, dGap []float64 // two-group comparison: |Δ Peto log HR|, |Δ χ²|, |Δ median gap|
	noContrast          int       // grouped releases without a two-group log-rank
}

// measure asks f's KM query reps times as the dp analyst (ungrouped and, when grouped, by the
// cohort's group) and compares each pooled result with ref.
func measure(t *testing.T, f *federation, ref reference, reps int, grouped bool) *utilityStats {
	t.Helper()
	st := &utilityStats{reps: reps}
	exactMed, binnedMed := ref.exact.Median().Time, ref.binned.Median().Time
	exactHR, exactChi2, _ := petoLogHR(ref.exactKM)
	exactGap := medianGap(ref.exactKM)
	for range reps {
		km, refused := ask(t, f.dp, f.dora, f.kmQuery(false))
		st.sites += len(f.dp)
		st.refused += refused
		if km == nil {
			st.emptyReleases++
			st.nBias = append(st.nBias, float64(-ref.n))
			continue
		}
		g := km.Groups[0]
		st.dS = append(st.dS, maxDiff(g.Curve, ref.exact, ref.grid))
		st.dSBinned = append(st.dSBinned, maxDiff(g.Curve, ref.binned, ref.grid))
		st.dMedian = append(st.dMedian, math.Abs(g.Median.Time-exactMed))
		st.dMedBinned = append(st.dMedBinned, math.Abs(g.Median.Time-binnedMed))
		st.nBias = append(st.nBias, float64(g.Table.Total()-ref.n))
		ph := 0
		for _, s := range g.PerSite {
			ph += s.Patients - ref.siteN[s.Site]
		}
		st.phantom = append(st.phantom, float64(ph))
		if !grouped {
			continue
		}
		kg, _ := ask(t, f.dp, f.dora, f.kmQuery(true))
		hr, chi2, ok := 0.0, 0.0, false
		if kg != nil {
			hr, chi2, ok = petoLogHR(kg)
		}
		if !ok {
			st.noContrast++
			continue
		}
		st.dLogHR = append(st.dLogHR, math.Abs(hr-exactHR))
		st.dChi2 = append(st.dChi2, math.Abs(chi2-exactChi2))
		st.dGap = append(st.dGap, math.Abs(medianGap(kg)-exactGap))
	}
	return st
}

// quantile is the q-quantile of xs (the order statistic at ⌈q·n⌉; NaN-free input); NaN for
// an empty slice.
func quantile(xs []float64, q float64) float64 {
	if len(xs) == 0 {
		return math.NaN()
	}
	s := slices.Clone(xs)
	slices.Sort(s)
	return s[max(int(math.Ceil(q*float64(len(s))))-1, 0)]
}

func mean(xs []float64) float64 {
	sum := 0.0
	for _, x := range xs {
		sum += x
	}
	return sum / float64(len(xs))
}

// medP90 formats the median and the 90th percentile as "m (p90)".
func medP90(xs []float64, format string) string {
	if len(xs) == 0 {
		return "—"
	}
	// NaN (a median not reached on one side) is kept out of the quantiles and counted.
	var ok []float64
	for _, x := range xs {
		if !math.IsNaN(x) {
			ok = append(ok, x)
		}
	}
	s := fmt.Sprintf(format+" ("+format+")", quantile(ok, 0.5), quantile(ok, 0.9))
	if nan := len(xs) - len(ok); nan > 0 {
		s += fmt.Sprintf(" [%d n/a]", nan)
	}
	return s
}

// The smoke run: a few releases of lung as one site and as 18 sites through the harness, with
// loose sanity bounds (the measurement itself is behind -dputility).
func TestDPUtilitySmoke(t *testing.T) {
	for _, split := range []bool{false, true} {
		f := newFederation(t, lungCohort(t, split), DefaultDP.DPRhoSurvival)
		ref := f.reference(t)
		if ref.n != 227 || len(ref.grid) == 0 {
			t.Fatalf("%s: exact n %d, grid %v", f.cohort.name, ref.n, ref.grid)
		}
		st := measure(t, f, ref, 3, true)
		if len(st.dS) == 0 || quantile(st.dS, 0.5) > 0.9 || quantile(st.dS, 0.5) <= 0 {
			t.Errorf("%s: max|ΔS| %v", f.cohort.name, st.dS)
		}
	}
}

// TestDPUtility is the measurement behind README's "Differential privacy: what it costs":
//
//	go test ./node -run TestDPUtility -dputility -v [-dputility.reps 200]
//
// It prints markdown tables: per cohort at the default ρ, the two-group comparison, and the
// cost/accuracy curve for lung (one site) and the 2,000-patient cohort (one site).
func TestDPUtility(t *testing.T) {
	if !*dpUtilityFlag {
		t.Skip("the measurement runs with -dputility")
	}
	reps := *dpUtilityReps
	rho := DefaultDP.DPRhoSurvival
	cohorts := []utilityCohort{lungCohort(t, false), lungCohort(t, true)}
	for _, n := range []int{500, 1000, 2000} {
		cohorts = append(cohorts, synthCohort(t, n, 1), synthCohort(t, n, 4))
	}
	start := time.Now()
	var main, contrast strings.Builder
	fmt.Fprintf(&main, "\n| cohort | n | sites (sizes) | releases | sites refused | max\\|ΔS\\| vs exact: median (p90) | max\\|ΔS\\| vs exact on 30-day bins | \\|Δ median\\| days vs exact | \\|Δ median\\| vs binned | pooled n̂ − n: mean (sd) | of which phantom: mean |\n|---|---|---|---|---|---|---|---|---|---|---|\n")
	fmt.Fprintf(&contrast, "\n| cohort | exact Peto log HR (%s) | exact χ² | \\|Δ log HR\\|: median (p90) | \\|Δ χ²\\| | \\|Δ median gap\\| days | no contrast |\n|---|---|---|---|---|---|---|\n", "second vs first group")
	var curves, horizons []*federation
	for _, c := range cohorts {
		f := newFederation(t, c, rho)
		ref := f.reference(t)
		st := measure(t, f, ref, reps, true)
		fmt.Fprintf(&main, "| %s | %d | %d (%s) | %d | %s | %s | %s | %s | %s | %+.1f (%.1f) | %+.1f |\n",
			c.name, ref.n, len(c.sites), siteSizes(ref), reps, refusedText(st), medP90(st.dS, "%.3f"), medP90(st.dSBinned, "%.3f"),
			medP90(st.dMedian, "%.0f"), medP90(st.dMedBinned, "%.0f"), mean(st.nBias), sd(st.nBias), mean(st.phantom))
		hr, chi2, _ := petoLogHR(ref.exactKM)
		fmt.Fprintf(&contrast, "| %s | %+.3f | %.2f | %s | %s | %s | %d |\n", c.name, hr, chi2,
			medP90(st.dLogHR, "%.3f"), medP90(st.dChi2, "%.2f"), medP90(st.dGap, "%.0f"), st.noContrast)
		t.Logf("%s: %d releases in %v", c.name, reps, time.Since(start).Round(time.Second))
		switch c.name {
		case "lung, 1 site", "NSCLC 2000, 1 site":
			curves = append(curves, f)
			horizons = append(horizons, f)
		case "lung, 18 sites":
			horizons = append(horizons, f)
		}
	}
	fmt.Printf("\n### At the default ρ = %g per KM query (%d releases each)\n%s", rho, reps, main.String())
	fmt.Printf("\n### Two groups by sex at ρ = %g\n%s", rho, contrast.String())
	fmt.Printf("\n### Cost and accuracy at one site: median (p90) over %d releases per ρ\n\n%s", reps, costCurve(t, curves, reps))
	fmt.Printf("\n### A horizon just past the cohort's longest follow-up, at ρ = %g (%d releases each)\n\n%s", rho, reps, horizonTable(t, horizons, rho, reps))
	t.Logf("done in %v", time.Since(start).Round(time.Second))
}

// horizonTable measures the ungrouped KM query of each federation with the default horizon
// and with one just past the cohort's longest follow-up (as a study's public accrual period
// and data cut could give it), at ρ = rho.
func horizonTable(t *testing.T, fs []*federation, rho float64, reps int) string {
	var b strings.Builder
	b.WriteString("| cohort | dp_horizon_days (bins) | sites refused | max\\|ΔS\\| vs exact | vs exact on bins | \\|Δ median\\| days | pooled n̂ − n: mean (sd) |\n|---|---|---|---|---|---|---|\n")
	for _, f := range fs {
		f.setRho(t, rho)
		ref := f.reference(t)
		w := f.policy.DPBinDays
		for _, h := range []float64{f.policy.DPHorizonDays, w * math.Ceil(ref.maxTime/w)} {
			pol := dpUtilityPolicy(rho)
			pol.DPHorizonDays = h
			f.setPolicy(t, pol)
			ref := f.reference(t)
			st := measure(t, f, ref, reps, false)
			fmt.Fprintf(&b, "| %s | %g (%d) | %s | %s | %s | %s | %+.1f (%.1f) |\n", f.cohort.name, h, int(math.Ceil(h/w)), refusedText(st),
				medP90(st.dS, "%.3f"), medP90(st.dSBinned, "%.3f"), medP90(st.dMedian, "%.0f"), mean(st.nBias), sd(st.nBias))
		}
	}
	return b.String()
}

// costCurve measures the ungrouped KM query of each federation over a range of ρ.
func costCurve(t *testing.T, fs []*federation, reps int) string {
	var b strings.Builder
	fmt.Fprintf(&b, "| ρ per KM query | KM queries a day (%g) |", DefaultDP.DPRhoDaily)
	for _, f := range fs {
		fmt.Fprintf(&b, " %s: max\\|ΔS\\| vs exact | vs exact on bins | \\|Δ median\\| days |", f.cohort.name)
	}
	b.WriteString("\n|---|---|" + strings.Repeat("---|---|---|", len(fs)) + "\n")
	for _, rho := range []float64{0.005, 0.01, 0.015, 0.02, 0.025, 0.03, 0.04, 0.05, 0.1, 0.2, 0.5} {
		fmt.Fprintf(&b, "| %g | %d |", rho, int(math.Floor(DefaultDP.DPRhoDaily/rho+1e-9)))
		for _, f := range fs {
			f.setRho(t, rho)
			st := measure(t, f, f.reference(t), reps, false)
			refused := ""
			if st.refused > 0 {
				refused = " refused " + refusedText(st)
			}
			fmt.Fprintf(&b, " %s%s | %s | %s |", medP90(st.dS, "%.3f"), refused, medP90(st.dSBinned, "%.3f"), medP90(st.dMedian, "%.0f"))
		}
		b.WriteString("\n")
	}
	return b.String()
}

func sd(xs []float64) float64 {
	m, ss := mean(xs), 0.0
	for _, x := range xs {
		ss += (x - m) * (x - m)
	}
	return math.Sqrt(ss / float64(max(len(xs)-1, 1)))
}

func refusedText(st *utilityStats) string {
	s := fmt.Sprintf("%.1f%%", 100*float64(st.refused)/float64(st.sites))
	if st.emptyReleases > 0 {
		s += fmt.Sprintf(", %d all", st.emptyReleases)
	}
	return s
}

// siteSizes lists the sites' exact sizes, largest first, or their range when there are many.
func siteSizes(ref reference) string {
	var ns []int
	for _, n := range ref.siteN {
		ns = append(ns, n)
	}
	slices.Sort(ns)
	slices.Reverse(ns)
	if len(ns) > 5 {
		return fmt.Sprintf("%d–%d", ns[len(ns)-1], ns[0])
	}
	parts := make([]string, len(ns))
	for i, n := range ns {
		parts[i] = fmt.Sprint(n)
	}
	return strings.Join(parts, ", ")
}

// The default daily budget buys 12 KM queries at the default ρ (0.25 / 0.02; 10 besides 10
// counts at 0.005), end to end: the 13th is refused.
func TestDPDailyBudgetKMQueries(t *testing.T) {
	pol := DefaultPolicy()
	l := newDPLung(t, pol, lungCSV)
	answered := 0
	for range 20 {
		if r := handleJSON(t, l.e, sign(t, l.dora, survivalQuery(false))); r.Error != nil {
			wantCode(t, r, protocol.CodeRefusedByPolicy)
			if !strings.Contains(r.Error.Message, "today's budget") {
				t.Fatalf("refused for another reason: %v", r.Error)
			}
			break
		}
		answered++
	}
	if answered != 12 {
		t.Errorf("%d KM queries answered in a day, want 12 (0.25 / 0.02)", answered)
	}
}
