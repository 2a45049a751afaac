package node

import (
	"fmt"
	"math"
	"math/big"
	"math/rand/v2"
	"testing"

	"github.com/oncofed/oncofed/analysis"
	"github.com/oncofed/oncofed/app"
	"github.com/oncofed/oncofed/dp"
	"github.com/oncofed/oncofed/protocol"
	"gonum.org/v1/gonum/stat/distuv"
)

// The dp Cox model's tests under the null (README's "Differential privacy: what a dp analyst
// gets for tests"): a binary covariate without effect, each site releasing its two patterns'
// tables at the default dp_rho_cox (dp.SimulateSurvival: the mechanism's σ² and
// post-processing), the model stratified by site fitted on them as the client does
// (analysis.FitCoxPatterns), and how often its tests reject at 5%: the Wald test of the
// coefficient and the likelihood ratio test as the CLI and the desktop show them (standard
// errors without the noise), and the Wald test with the noise's covariance added
// (app.DPCoxNoiseCov, as the dp screen does).

// coxNullRates is how often, over trials releases of n patients split evenly over sites, the
// Wald and LR tests of a null binary covariate reject at 5% on the exact tables (0, 1), on the
// dp releases (2, 3), the Wald test with the noise in its variance (4), and the p-value the app
// shows a dp fit (5: the SE and DPCoxNoiseSD in quadrature); with copies
// simulated releases behind the noise (0: not measured).
func coxNullRates(t *testing.T, rng *rand.Rand, n, sites, trials, copies int) (rates [6]float64) {
	const w = 30.0
	bins := int(math.Ceil(DefaultDP.DPHorizonDays / w))
	rho := new(big.Rat).SetFloat64(DefaultDP.DPRhoCox)
	horizon := float64(bins) * w
	var rej [6]int
	for range trials {
		exact := make([][]analysis.CoxPatternTable, sites)
		noisy := make([][]analysis.CoxPatternTable, sites)
		var replies []protocol.Reply
		for s := range sites {
			cr := &protocol.CoxReply{Columns: []string{"x"}}
			for x := range 2 {
				tab := nullTable(rng, n/2/sites, bins, w)
				nt, err := dp.SimulateSurvival(rng, tab, rho, dp.SurvivalSqrt)
				if err != nil {
					t.Fatal(err)
				}
				e, d := survivalAnalysisTable(tab, w), survivalAnalysisTable(nt, w)
				exact[s] = append(exact[s], analysis.CoxPatternTable{X: []float64{float64(x)}, Time: e.Time, Events: e.Events, Censor: e.Censor})
				noisy[s] = append(noisy[s], analysis.CoxPatternTable{X: []float64{float64(x)}, Time: d.Time, Events: d.Events, Censor: d.Censor})
				cr.Patterns = append(cr.Patterns, protocol.CoxPattern{X: []float64{float64(x)}, Time: d.Time, Events: d.Events, Censor: d.Censor})
			}
			replies = append(replies, protocol.Reply{Site: fmt.Sprintf("s%d", s), Kind: protocol.KindCox, Cox: cr,
				Policy: protocol.PolicyEffects{BinDays: w, TruncatedAfter: &horizon, DP: &protocol.DPEffects{Mechanism: "survival-sqrt", Rho: DefaultDP.DPRhoCox}}})
		}
		for k, tables := range [][][]analysis.CoxPatternTable{exact, noisy} {
			fit, err := analysis.FitCoxPatterns(tables, 1, analysis.Efron, nil, analysis.CoxOptions{})
			if err != nil || !fit.Converged {
				continue
			}
			if fit.P[0] < 0.05 {
				rej[2*k]++
			}
			if fit.LRT.P < 0.05 {
				rej[2*k+1]++
			}
			if k == 1 && copies > 0 {
				cov := app.DPCoxNoiseCov(replies, 1, analysis.Efron, copies)
				if cov == nil {
					continue
				}
				z := fit.Coef[0] / math.Sqrt(fit.Vcov[0]+cov[0])
				if 2*distuv.UnitNormal.Survival(math.Abs(z)) < 0.05 {
					rej[4]++
				}
				// As the app shows it now (CoxResult.setDPNoise): √(SE² + DPCoxNoiseSD²).
				if sd := app.DPCoxNoiseSD(replies, 1, analysis.Efron); sd != nil &&
					2*distuv.UnitNormal.Survival(math.Abs(fit.Coef[0])/math.Hypot(fit.SE[0], sd[0])) < 0.05 {
					rej[5]++
				}
			}
		}
	}
	for i, r := range rej {
		rates[i] = float64(r) / float64(trials)
	}
	return rates
}

// TestDPCoxNull prints the Cox rows of README's "What a dp analyst gets for tests":
//
//	go test ./node -run 'TestDPCoxNull$' -dputility -v
func TestDPCoxNull(t *testing.T) {
	if !*dpUtilityFlag {
		t.Skip("the measurement runs with -dputility")
	}
	const trials = 200
	rng := rand.New(rand.NewPCG(17, 19))
	fmt.Printf("\n| n | sites | exact: Wald / LRT | dp as shown: Wald / LRT | dp, Wald with the noise | dp as shown now |\n|---|---|---|---|---|---|\n")
	for _, n := range []int{500, 2000} {
		for _, sites := range []int{1, 4} {
			r := coxNullRates(t, rng, n, sites, trials, app.DPCoxNoiseReleases*2)
			fmt.Printf("| %d | %d | %.1f%% / %.1f%% | %.1f%% / %.1f%% | %.1f%% | %.1f%% |\n", n, sites, 100*r[0], 100*r[1], 100*r[2], 100*r[3], 100*r[4], 100*r[5])
		}
	}
}
