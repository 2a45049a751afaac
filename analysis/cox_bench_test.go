package analysis

import (
	"sync"
	"testing"
)

// Benchmarks of issue 3: a pooled Cox fit with 5 covariates over 10 sites and 1,000,000
// patients (times in whole days over ~10 years, as sites hold them), and one stratum
// contribution over 100,000 patients. Run:
//
//	go test -run '^$' -bench 'Cox' -benchmem ./analysis
const (
	benchPatients = 1_000_000
	benchSites    = 10
	benchP        = 5
)

type benchSite struct {
	time  []float64
	event []bool
	x     []float64
}

var (
	benchOnce  sync.Once
	benchData  []benchSite
	benchRound [][][]RiskSetRow // per evaluation of the reference fit: every site's rows
	benchEvX   [][][]float64
)

func benchSetup(b *testing.B) []benchSite {
	b.Helper()
	benchOnce.Do(func() {
		time, event, x := synthCox(benchPatients, benchP, 2026)
		for _, s := range splitSites(benchPatients, benchSites) {
			benchData = append(benchData, benchSite{time[s[0]:s[1]], event[s[0]:s[1]], x[s[0]*benchP : s[1]*benchP]})
		}
	})
	return benchData
}

// pooledEvaluator is what the client runs: one "network round" asks every site for its rows.
func pooledEvaluator(sites []benchSite) CoxEvaluator {
	return func(beta []float64) (CoxContribution, error) {
		rows := make([][]RiskSetRow, len(sites))
		ex := make([][]float64, len(sites))
		for k, s := range sites {
			var err error
			if rows[k], ex[k], err = CoxRiskSetRows(s.time, s.event, s.x, benchP, beta); err != nil {
				return CoxContribution{}, err
			}
		}
		return PooledCoxContribution(rows, ex, benchP, beta, Efron)
	}
}

// BenchmarkPooledCoxFit1MWhole is the whole federated fit with the sites' work done in turn
// on this machine (in production the sites compute in parallel): per iteration every site
// computes its risk-set rows over its patients, then the client pools them.
func BenchmarkPooledCoxFit1MWhole(b *testing.B) {
	sites := benchSetup(b)
	eval := pooledEvaluator(sites)
	for b.Loop() {
		fit, err := FitCox(eval, benchP, CoxOptions{})
		if err != nil || !fit.Converged {
			b.Fatal(err)
		}
	}
}

// BenchmarkPooledCoxFit1MClient times only the client: the sites' rows for every iteration
// were computed beforehand (from a reference fit), so this is FitCox plus
// PooledCoxContribution per iteration.
func BenchmarkPooledCoxFit1MClient(b *testing.B) {
	sites := benchSetup(b)
	if benchRound == nil {
		eval := pooledEvaluator(sites)
		record := func(beta []float64) (CoxContribution, error) {
			rows := make([][]RiskSetRow, len(sites))
			ex := make([][]float64, len(sites))
			for k, s := range sites {
				rows[k], ex[k], _ = CoxRiskSetRows(s.time, s.event, s.x, benchP, beta)
			}
			benchRound, benchEvX = append(benchRound, rows), append(benchEvX, ex)
			return eval(beta)
		}
		if _, err := FitCox(record, benchP, CoxOptions{}); err != nil {
			b.Fatal(err)
		}
	}
	rows := 0
	for _, r := range benchRound[0] {
		rows += len(r)
	}
	for b.Loop() {
		call := 0
		fit, err := FitCox(func(beta []float64) (CoxContribution, error) {
			c, err := PooledCoxContribution(benchRound[call], benchEvX[call], benchP, beta, Efron)
			call++
			return c, err
		}, benchP, CoxOptions{})
		if err != nil || !fit.Converged {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(rows), "rows/round")
	b.ReportMetric(float64(len(benchRound)), "rounds")
}

// BenchmarkPooledCoxFit1MWholePrepared is the whole fit with sites that sort their data once
// (CoxStratum) and keep it for all the rounds.
func BenchmarkPooledCoxFit1MWholePrepared(b *testing.B) {
	sites := benchSetup(b)
	for b.Loop() {
		strata := make([]*CoxStratum, len(sites))
		for k, s := range sites {
			var err error
			if strata[k], err = NewCoxStratum(s.time, s.event, s.x, benchP); err != nil {
				b.Fatal(err)
			}
		}
		fit, err := FitCox(func(beta []float64) (CoxContribution, error) {
			rows := make([][]RiskSetRow, len(strata))
			ex := make([][]float64, len(strata))
			for k, s := range strata {
				var err error
				if rows[k], ex[k], err = s.RiskSetRows(beta); err != nil {
					return CoxContribution{}, err
				}
			}
			return PooledCoxContribution(rows, ex, benchP, beta, Efron)
		}, benchP, CoxOptions{})
		if err != nil || !fit.Converged {
			b.Fatal(err)
		}
	}
}

// BenchmarkCoxStratumPrepared100k is one site's work per iteration in the stratified form
// when the site keeps its sorted data between rounds.
func BenchmarkCoxStratumPrepared100k(b *testing.B) {
	sites := benchSetup(b)
	s, err := NewCoxStratum(sites[0].time, sites[0].event, sites[0].x, benchP)
	if err != nil {
		b.Fatal(err)
	}
	beta := []float64{0.5, 0.02, -0.05, 0.1, 0.1}
	for b.Loop() {
		if _, err := s.Contribution(beta, Efron); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkCoxStratumContribution100k is one site's work per iteration in the stratified form.
func BenchmarkCoxStratumContribution100k(b *testing.B) {
	sites := benchSetup(b)
	s := sites[0]
	beta := []float64{0.5, 0.02, -0.05, 0.1, 0.1}
	for b.Loop() {
		if _, err := CoxStratumContribution(s.time, s.event, s.x, benchP, beta, Efron); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkCoxRiskSetRows100k is one site's work per iteration in the pooled form.
func BenchmarkCoxRiskSetRows100k(b *testing.B) {
	sites := benchSetup(b)
	s := sites[0]
	beta := []float64{0.5, 0.02, -0.05, 0.1, 0.1}
	for b.Loop() {
		if _, _, err := CoxRiskSetRows(s.time, s.event, s.x, benchP, beta); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkCoxStratumGrouped100k is one round of a screen's model at a site of 100,000
// patients: a binary marker and age in whole years (a stratum grouped by its distinct design
// rows), stratified (Contribution) and the pooled form's phase 1 (TimeSums).
func BenchmarkCoxStratumGrouped100k(b *testing.B) {
	time, event, x := synthCox(100_000, 2, 15)
	s, err := NewCoxStratum(time, event, x, 2)
	if err != nil {
		b.Fatal(err)
	}
	if rowOf, _ := s.rowGrouping(); rowOf == nil {
		b.Fatal("not grouped")
	}
	beta := []float64{0.4, 0.02}
	b.Run("contribution", func(b *testing.B) {
		for b.Loop() {
			if _, err := s.Contribution(beta, Efron); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("timesums", func(b *testing.B) {
		for b.Loop() {
			if _, _, err := s.TimeSums(beta); err != nil {
				b.Fatal(err)
			}
		}
	})
}
