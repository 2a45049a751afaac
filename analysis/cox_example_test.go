package analysis_test

import (
	"fmt"

	"github.com/oncofed/oncofed/analysis"
)

// coxExampleSite is what one hospital holds: survival times, event flags and covariates.
type coxExampleSite struct {
	time  []float64
	event []bool
	arm   []string
	age   []float64
}

var coxExampleSites = []coxExampleSite{
	{
		time:  []float64{5, 8, 12, 12, 20, 25},
		event: []bool{true, true, false, true, true, false},
		arm:   []string{"treated", "control", "treated", "control", "treated", "control"},
		age:   []float64{61, 70, 55, 66, 59, 72},
	},
	{
		time:  []float64{3, 12, 15, 18, 30},
		event: []bool{true, true, true, false, true},
		arm:   []string{"control", "treated", "control", "treated", "treated"},
		age:   []float64{68, 50, 63, 58, 49},
	},
}

// A pooled (unstratified) Cox model fitted across two sites without moving a patient record:
// in every Newton–Raphson round each site returns its risk-set rows at the current β and the
// client forms the exact pooled partial likelihood (WebDISCO). The numbers are R's:
// coxph(Surv(time, event) ~ arm + age) on the pooled data gives coef −0.651626 and 0.005061,
// exp(coef) 0.5212 and 1.0051, 3 iterations, LRT 0.9 on 2 df (survival 3.5.3).
func ExampleFitCox() {
	levels := map[string][]string{"arm": {"control", "treated"}} // fixed by the client for every site
	type siteDesign struct {
		stratum *analysis.CoxStratum
		names   []string
	}
	var sites []siteDesign
	for _, s := range coxExampleSites {
		x, p, names, keep, err := analysis.BuildDesign([]analysis.CovariateColumn{
			{Name: "arm", Categorical: s.arm},
			{Name: "age", Numeric: s.age},
		}, levels)
		if err != nil || analysis.IncompleteCases(keep) > 0 {
			panic(err)
		}
		st, err := analysis.NewCoxStratum(s.time, s.event, x, p)
		if err != nil {
			panic(err)
		}
		sites = append(sites, siteDesign{st, names})
	}

	// One evaluation = one network round in the federated setting.
	eval := func(beta []float64) (analysis.CoxContribution, error) {
		var rows [][]analysis.RiskSetRow
		var eventX [][]float64
		n := 0
		for _, s := range sites {
			r, ex, err := s.stratum.RiskSetRows(beta) // on the site
			if err != nil {
				return analysis.CoxContribution{}, err
			}
			rows, eventX = append(rows, r), append(eventX, ex)
			n += s.stratum.Len()
		}
		c, err := analysis.PooledCoxContribution(rows, eventX, 2, beta, analysis.Efron) // on the client
		c.N = n
		return c, err
	}
	fit, err := analysis.FitCox(eval, 2, analysis.CoxOptions{Terms: sites[0].names})
	if err != nil {
		panic(err)
	}
	for j, term := range fit.Terms {
		fmt.Printf("%-10s coef %9.6f  HR %.4f (%.4f to %.3f)  p %.3f\n", term, fit.Coef[j], fit.HR[j], fit.Lower[j], fit.Upper[j], fit.P[j])
	}
	fmt.Printf("n %d, events %d, iterations %d, LRT %.2f on %d df\n", fit.N, fit.Events, fit.Iterations, fit.LRT.Stat, fit.LRT.DF)
	// Output:
	// armtreated coef -0.651626  HR 0.5212 (0.0289 to 9.406)  p 0.659
	// age        coef  0.005061  HR 1.0051 (0.8357 to 1.209)  p 0.957
	// n 11, events 8, iterations 3, LRT 0.90 on 2 df
}
