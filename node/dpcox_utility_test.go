package node

import (
	"fmt"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/oncofed/oncofed/analysis"
	"github.com/oncofed/oncofed/app"
	"github.com/oncofed/oncofed/protocol"
)

// The utility of the dp role's Cox models, end to end: the federation of TestDPUtility (real
// site databases, signed queries, the default policy with budgets that never stop the run), a
// dp analyst asks the same dp_tables Cox query of every site many times, the client's fit
// (analysis.FitCoxPatterns, stratified by site) is compared with the exact stratified fit a
// trusted analyst gets from exact releases (ExactPolicy) of the same databases.
// `go test ./node -run 'TestDPCoxUtility$' -dputility -v` prints the table of README's
// "Differential privacy: what it costs" (Cox); without the flag a smoke run checks the harness.

// coxModel is a measured model: its covariates and the column whose log HR is compared.
type coxModel struct {
	covariates []string
	column     string
	index      int // the column's position in β
}

var dpCoxModels = []coxModel{{[]string{"sex"}, "sexmale", 0}, {[]string{"sex", "age"}, "sexmale", 0}, {[]string{"sex", "age"}, "age", 1}}

// exactCox fits the model stratified by site from the exact engines' stratified rounds (what a
// trusted analyst's client does), Efron's ties.
func (f *federation) exactCox(t *testing.T, covs []string) *analysis.CoxFit {
	t.Helper()
	p := len(covs) // sex and numeric covariates: one column each
	fit, err := analysis.FitCox(func(beta []float64) (analysis.CoxContribution, error) {
		q := protocol.Query{Version: protocol.Version, Kind: protocol.KindCox, ID: "q", Study: f.cohort.study, Endpoint: "OS",
			Cox: &protocol.CoxRequest{Form: protocol.CoxStratified, Ties: "efron", Covariates: covs, Beta: append([]float64(nil), beta...)}}
		var sum analysis.CoxContribution
		for _, e := range f.exact {
			r := handleJSON(t, e, sign(t, f.tom, q))
			if r.Error != nil {
				return sum, fmt.Errorf("site %s: %v", e.Site(), r.Error)
			}
			sum.Add(analysis.CoxContribution{LogLik: r.Cox.LogLik, Gradient: r.Cox.Gradient, Hessian: r.Cox.Hessian, N: r.Cox.N, Events: r.Cox.Events})
		}
		return sum, nil
	}, p, analysis.CoxOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return fit
}

// dpCoxFit asks every dp engine for the model's tables once and fits on the answering sites'
// (a site refused on its noisy size is left out, as the client leaves it out); the column
// names and the ρ spent come back too.
func (f *federation) dpCoxFit(t *testing.T, covs []string) (fit *analysis.CoxFit, columns []string, rho float64, refused int) {
	t.Helper()
	p := len(covs)
	q := protocol.Query{Version: protocol.Version, Kind: protocol.KindCox, ID: "q", Study: f.cohort.study, Endpoint: "OS",
		Cox: &protocol.CoxRequest{Form: protocol.CoxDPTables, Ties: "efron", Covariates: covs, Beta: make([]float64, p)}}
	var sites [][]analysis.CoxPatternTable
	var bound []float64
	for _, e := range f.dp {
		r := handleJSON(t, e, sign(t, f.dora, q))
		if r.Error != nil {
			if r.Error.Code != protocol.CodeRefusedByPolicy {
				t.Fatalf("site %s: %v", e.Site(), r.Error)
			}
			refused++
			continue
		}
		if err := protocol.ValidateReply(q, r); err != nil {
			t.Fatalf("site %s: the client refuses the reply: %v", e.Site(), err)
		}
		columns, rho = r.Cox.Columns, r.Policy.DP.Rho
		bound = analysis.MinBound(bound, r.Cox.BetaLimit)
		sites = append(sites, patternTables(r))
	}
	if len(sites) == 0 {
		return nil, nil, rho, refused
	}
	fit, err := analysis.FitCoxPatterns(sites, p, analysis.Efron, bound, analysis.CoxOptions{})
	if fit == nil {
		t.Fatalf("fit: %v", err)
	}
	return fit, columns, rho, refused
}

// coxShift is the measurement of one model at one ρ: |Δ log HR| of its column per release, and
// the shift of a release at ρ so large that only the public bins remain (the grid's share).
type coxShift struct {
	exact, grid float64
	dLogHR      []float64
	refused     int
	rho         float64
}

func measureCox(t *testing.T, f *federation, m coxModel, reps int) coxShift {
	t.Helper()
	ex := f.exactCox(t, m.covariates)
	col := func(fit *analysis.CoxFit) float64 { return fit.Coef[m.index] }
	var st coxShift
	st.exact = col(ex)
	pol := f.policy
	big := pol
	big.DPRhoCox = 1e7
	f.setPolicy(t, big)
	if fit, cols, _, _ := f.dpCoxFit(t, m.covariates); fit != nil {
		if cols[m.index] != m.column {
			t.Fatalf("columns %v", cols)
		}
		st.grid = col(fit) - st.exact
	}
	f.setPolicy(t, pol)
	for range reps {
		fit, _, rho, refused := f.dpCoxFit(t, m.covariates)
		st.refused += refused
		st.rho = rho
		if fit == nil {
			continue
		}
		st.dLogHR = append(st.dLogHR, math.Abs(col(fit)-st.exact))
	}
	return st
}

// dpCoxUtilityPolicy is dpUtilityPolicy with ρ per Cox release rho.
func dpCoxUtilityPolicy(rho float64) protocol.Policy {
	pol := dpUtilityPolicy(DefaultDP.DPRhoSurvival)
	pol.DPRhoCox = rho
	return pol
}

func TestDPCoxUtilitySmoke(t *testing.T) {
	f := newFederation(t, lungCohort(t, false), DefaultDP.DPRhoSurvival)
	f.setPolicy(t, dpCoxUtilityPolicy(DefaultDP.DPRhoCox))
	st := measureCox(t, f, dpCoxModels[0], 3)
	// R: coxph(Surv(time, status) ~ sex, lung): −0.531 for women against men; here men
	// against women.
	if math.Abs(st.exact-0.531) > 0.01 || len(st.dLogHR) != 3 || math.Abs(st.grid) > 0.05 {
		t.Errorf("exact %v, grid shift %v, shifts %v", st.exact, st.grid, st.dLogHR)
	}
}

// TestDPCoxUtility is the measurement behind README's Cox rows of "Differential privacy: what
// it costs":
//
//	go test ./node -run 'TestDPCoxUtility$' -dputility -v [-dputility.reps 200]
func TestDPCoxUtility(t *testing.T) {
	if !*dpUtilityFlag {
		t.Skip("the measurement runs with -dputility")
	}
	reps := *dpUtilityReps
	cohorts := []utilityCohort{lungCohort(t, false)}
	for _, n := range []int{500, 1000, 2000} {
		cohorts = append(cohorts, synthCohort(t, n, 1), synthCohort(t, n, 4))
	}
	start := time.Now()
	var b strings.Builder
	fmt.Fprintf(&b, "\n| cohort | model | column | exact log HR | shift of the 30-day grid alone | \\|Δ log HR\\| vs exact: median (p90) | sites refused |\n|---|---|---|---|---|---|---|\n")
	var curve []*federation
	for _, c := range cohorts {
		f := newFederation(t, c, DefaultDP.DPRhoSurvival)
		f.setPolicy(t, dpCoxUtilityPolicy(DefaultDP.DPRhoCox))
		for _, m := range dpCoxModels {
			st := measureCox(t, f, m, reps)
			fmt.Fprintf(&b, "| %s | %s | %s | %+.3f | %+.3f | %s | %d |\n", c.name, strings.Join(m.covariates, " + "), m.column,
				st.exact, st.grid, medP90(st.dLogHR, "%.3f"), st.refused)
		}
		t.Logf("%s: done at %v", c.name, time.Since(start).Round(time.Second))
		if c.name == "lung, 1 site" || c.name == "NSCLC 2000, 1 site" {
			curve = append(curve, f)
		}
	}
	fmt.Printf("\n### DP Cox at the default ρ = %g per model (%d releases each)\n%s", DefaultDP.DPRhoCox, reps, b.String())
	var cb strings.Builder
	fmt.Fprintf(&cb, "\n| ρ per Cox model | models a day (0.25) |")
	for _, f := range curve {
		fmt.Fprintf(&cb, " %s: \\|Δ log HR\\| sex |", f.cohort.name)
	}
	cb.WriteString("\n|---|---|---|---|\n")
	for _, rho := range []float64{0.01, 0.02, 0.05, 0.1, 0.25} {
		fmt.Fprintf(&cb, "| %g | %d |", rho, int(math.Floor(0.25/rho+1e-9)))
		for _, f := range curve {
			f.setPolicy(t, dpCoxUtilityPolicy(rho))
			st := measureCox(t, f, dpCoxModels[0], reps)
			fmt.Fprintf(&cb, " %s |", medP90(st.dLogHR, "%.3f"))
		}
		cb.WriteString("\n")
	}
	fmt.Printf("\n### DP Cox: cost and accuracy at one site, sex alone (%d releases per ρ)\n%s", reps, cb.String())
	t.Logf("done in %v", time.Since(start).Round(time.Second))
}

// The noise SD the client shows with a DP Cox fit (app.DPCoxNoiseSD, a parametric bootstrap on
// the released tables) is calibrated: on one site of 1,000 and on four sites of 2,000 patients,
// for sex and sex + age, it lies within a factor 1.6 of the spread of the coefficient over 100
// real releases (a 100-release SD has a relative se of about 7%; the bootstrap re-noises
// noisy tables, and its 50 refits add about 10%).
func TestDPCoxNoiseSDCalibrated(t *testing.T) {
	for _, tc := range []struct {
		n, sites int
		covs     []string
	}{{1000, 1, []string{"sex"}}, {2000, 4, []string{"sex", "age"}}} {
		f := newFederation(t, synthCohort(t, tc.n, tc.sites), DefaultDP.DPRhoSurvival)
		f.setPolicy(t, dpCoxUtilityPolicy(DefaultDP.DPRhoCox))
		p := len(tc.covs)
		q := protocol.Query{Version: protocol.Version, Kind: protocol.KindCox, ID: "q", Study: f.cohort.study, Endpoint: "OS",
			Cox: &protocol.CoxRequest{Form: protocol.CoxDPTables, Ties: "efron", Covariates: tc.covs, Beta: make([]float64, p)}}
		var coefs [][]float64
		var estimate []float64
		for rep := range 100 {
			var replies []protocol.Reply
			var sites [][]analysis.CoxPatternTable
			for _, e := range f.dp {
				r := mustOK(t, handleJSON(t, e, sign(t, f.dora, q)))
				replies, sites = append(replies, r), append(sites, patternTables(r))
			}
			fit, err := analysis.FitCoxPatterns(sites, p, analysis.Efron, nil, analysis.CoxOptions{})
			if err != nil {
				t.Fatal(err)
			}
			coefs = append(coefs, fit.Coef)
			if rep == 0 {
				if estimate = app.DPCoxNoiseSD(replies, p, analysis.Efron); len(estimate) != p {
					t.Fatalf("no noise SD estimated: %v", estimate)
				}
			}
		}
		for j := range p {
			col := make([]float64, len(coefs))
			for k, c := range coefs {
				col[k] = c[j]
			}
			empirical := sd(col)
			t.Logf("n %d, %d sites, %v, column %d: noise SD estimated %.4f, over 100 releases %.4f", tc.n, tc.sites, tc.covs, j, estimate[j], empirical)
			if r := estimate[j] / empirical; r < 1/1.6 || r > 1.6 {
				t.Errorf("n %d, %v, column %d: estimated noise SD %.4f, empirical %.4f", tc.n, tc.covs, j, estimate[j], empirical)
			}
		}
	}
}
