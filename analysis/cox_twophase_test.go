package analysis

import (
	"fmt"
	"math"
	"slices"
	"testing"

	"gonum.org/v1/gonum/floats/scalar"
)

// twoPhaseEvaluator runs the two-phase pooled round over sites held in memory, counting the
// phase-2 requests (network rounds that ship p×p per site).
func twoPhaseEvaluator(t testing.TB, sites []siteDesign, p int, ties Ties, n int, phase2 *int, accepted *[][]float64) CoxStepEvaluator {
	strata := make([]*CoxStratum, len(sites))
	for k, s := range sites {
		st, err := NewCoxStratum(s.time, s.event, s.x, p)
		if err != nil {
			t.Fatal(err)
		}
		strata[k] = st
	}
	return func(beta []float64) (CoxContribution, func() (CoxContribution, error), error) {
		rows := make([][]RiskSetRow, len(sites))
		ex := make([][]float64, len(sites))
		for k, st := range strata {
			var err error
			if rows[k], ex[k], err = st.TimeSums(beta); err != nil {
				return CoxContribution{}, nil, err
			}
		}
		step, err := PooledCoxSums(rows, ex, p, beta, ties)
		if err != nil {
			return CoxContribution{}, nil, err
		}
		b := slices.Clone(beta)
		c := step.Contribution()
		c.N = n
		return c, func() (CoxContribution, error) {
			*phase2++
			if accepted != nil {
				*accepted = append(*accepted, b)
			}
			moments := make([][]float64, len(strata))
			for k, st := range strata {
				a, w := step.Weights(k)
				if moments[k], err = st.WeightedSecondMoment(b, a, w); err != nil {
					return CoxContribution{}, err
				}
			}
			full, err := step.Complete(moments)
			full.N = n
			return full, err
		}, nil
	}
}

// TestCoxGoldensTwoPhase fits every unstratified golden case with the two-phase pooled round
// and compares it with R's coxph (and with the one-phase WebDISCO form, bit for bit in the
// path: the same number of iterations).
func TestCoxGoldensTwoPhase(t *testing.T) {
	t.Run("rows", func(t *testing.T) { coxGoldensTwoPhase(t) })
	// Every design grouped by its distinct rows (cox_weights.go), as large sites' categorical
	// designs are: the goldens' data are too small to be grouped otherwise.
	t.Run("grouped", func(t *testing.T) {
		defer func(v int) { maxDistinctShare = v }(maxDistinctShare)
		maxDistinctShare = 1
		coxGoldensTwoPhase(t)
	})
}

func coxGoldensTwoPhase(t *testing.T) {
	g := loadCoxGoldens(t)
	for _, cs := range g.Cases {
		if cs.Strata == "site" {
			continue
		}
		t.Run(cs.Name, func(t *testing.T) {
			ties, err := ParseTies(cs.Ties)
			if err != nil {
				t.Fatal(err)
			}
			d := g.data(t, cs.Data)
			sites, p, names := d.siteDesigns(t, cs)
			n := 0
			for _, s := range sites {
				n += s.n
			}
			evals, phase2 := 0, 0
			eval := twoPhaseEvaluator(t, sites, p, ties, n, &phase2, nil)
			fit, err := FitCoxSteps(func(beta []float64) (CoxContribution, func() (CoxContribution, error), error) {
				evals++
				return eval(beta)
			}, p, CoxOptions{Terms: names, MaxIter: cs.IterMax})
			checkCoxFit(t, "two-phase", fit, err, cs.Expected, cs.IterMax)
			if fit != nil && fit.N != cs.Expected.N {
				t.Errorf("two-phase: N = %d, R: %d", fit.N, cs.Expected.N)
			}
			if phase2 > evals {
				t.Errorf("%d phase-2 rounds for %d evaluations", phase2, evals)
			}
		})
	}
}

// TestTwoPhaseEqualsPooled checks the two-phase identity at a β ≠ 0 with many ties within and
// across sites, a site without patients and one without events: ℓ, U, the Hessian and the
// second moments equal the one-phase pooled contribution (and so the pooled patient-level
// data's), whatever the order of the sites.
func TestTwoPhaseEqualsPooled(t *testing.T) {
	const n, p = 3000, 4
	time, event, x := synthCox(n, p, 7)
	beta := []float64{0.4, 0.015, -0.04, 0.1}
	type site struct {
		t []float64
		e []bool
		x []float64
	}
	var all []site
	for _, s := range splitSites(n, 6) {
		all = append(all, site{time[s[0]:s[1]], event[s[0]:s[1]], x[s[0]*p : s[1]*p]})
	}
	all = append(all, site{}, site{time[:50], make([]bool, 50), x[:50*p]})
	for _, ties := range []Ties{Efron, Breslow} {
		for _, order := range [][]int{{0, 1, 2, 3, 4, 5, 6, 7}, {7, 5, 3, 1, 6, 0, 2, 4}} {
			var rows, rows1 [][]RiskSetRow
			var ex [][]float64
			var strata []*CoxStratum
			for _, k := range order {
				st, err := NewCoxStratum(all[k].t, all[k].e, all[k].x, p)
				if err != nil {
					t.Fatal(err)
				}
				r, e, err := st.TimeSums(beta)
				if err != nil {
					t.Fatal(err)
				}
				r1, _, _ := st.RiskSetRows(beta)
				rows, rows1, ex, strata = append(rows, r), append(rows1, r1), append(ex, e), append(strata, st)
			}
			want, err := PooledCoxContribution(rows1, ex, p, beta, ties)
			if err != nil {
				t.Fatal(err)
			}
			// The centred patient-level contribution is the more accurate oracle for the
			// Hessian: both pooled forms subtract uncentred sums.
			var pt, px []float64
			var pe []bool
			for _, k := range order {
				pt, pe, px = append(pt, all[k].t...), append(pe, all[k].e...), append(px, all[k].x...)
			}
			local, err := CoxStratumContribution(pt, pe, px, p, beta, ties)
			if err != nil {
				t.Fatal(err)
			}
			step, err := PooledCoxSums(rows, ex, p, beta, ties)
			if err != nil {
				t.Fatal(err)
			}
			what := fmt.Sprintf("%v order %v", ties, order)
			c := step.Contribution()
			if c.Hessian != nil || c.Events != want.Events {
				t.Errorf("%s: phase 1 gave a Hessian or %d events (want %d)", what, c.Events, want.Events)
			}
			if !scalar.EqualWithinAbsOrRel(c.LogLik, want.LogLik, 1e-12, 1e-12) {
				t.Errorf("%s: loglik %.15g, want %.15g", what, c.LogLik, want.LogLik)
			}
			closeSlices(t, what+" gradient", c.Gradient, want.Gradient, 1e-10)
			moments := make([][]float64, len(strata))
			for k, st := range strata {
				a, b := step.Weights(k)
				for j := 1; j < len(a); j++ {
					if a[j] < a[j-1] || a[0] < 0 {
						t.Fatalf("%s: site %d: A decreases at row %d", what, k, j)
					}
				}
				if ties == Breslow && slices.ContainsFunc(b, func(v float64) bool { return v != 0 }) {
					t.Errorf("%s: site %d: Breslow with B ≠ 0", what, k)
				}
				if moments[k], err = st.WeightedSecondMoment(beta, a, b); err != nil {
					t.Fatal(err)
				}
			}
			full, err := step.Complete(moments)
			if err != nil {
				t.Fatal(err)
			}
			closeSlices(t, what+" Hessian", full.Hessian, local.Hessian, 1e-9)
			closeSlices(t, what+" Hessian vs one-phase", full.Hessian, want.Hessian, 1e-9)
			closeSlices(t, what+" second moment", full.SecondMoment, want.SecondMoment, 1e-10)
		}
	}
}

// TestFitCoxStepsHessianOnlyForAcceptedSteps: on the halving golden (the first Newton step
// lowers the loglik) the two-phase fit asks for no Hessian at the rejected β, and its path and
// answer equal FitCox with the full evaluator.
func TestFitCoxStepsHessianOnlyForAcceptedSteps(t *testing.T) {
	g := loadCoxGoldens(t)
	for _, cs := range g.Cases {
		if cs.Name != "halving_efron" {
			continue
		}
		d := g.data(t, cs.Data)
		sites, p, names := d.siteDesigns(t, cs)
		var evaluated, accepted [][]float64
		phase2 := 0
		eval := twoPhaseEvaluator(t, sites, p, Efron, 0, &phase2, &accepted)
		fit, err := FitCoxSteps(func(beta []float64) (CoxContribution, func() (CoxContribution, error), error) {
			evaluated = append(evaluated, slices.Clone(beta))
			return eval(beta)
		}, p, CoxOptions{Terms: names})
		checkCoxFit(t, "two-phase", fit, err, cs.Expected, 0)
		accepted = slices.Clone(accepted)
		eval = twoPhaseEvaluator(t, sites, p, Efron, 0, &phase2, nil)
		full, err := FitCox(func(beta []float64) (CoxContribution, error) {
			c, complete, err := eval(beta)
			if err != nil {
				return c, err
			}
			return complete()
		}, p, CoxOptions{Terms: names})
		if err != nil || full.Iterations != fit.Iterations || !slices.Equal(full.Coef, fit.Coef) || full.LogLik != fit.LogLik {
			t.Errorf("full evaluator: %v, %d iterations, coef %v (two-phase %d, %v)", err, full.Iterations, full.Coef, fit.Iterations, fit.Coef)
		}
		if len(accepted) >= len(evaluated) {
			t.Fatalf("%d Hessians for %d evaluations: the rejected step fetched one", len(accepted), len(evaluated))
		}
		for _, b := range accepted {
			if !slices.ContainsFunc(evaluated, func(e []float64) bool { return slices.Equal(e, b) }) {
				t.Errorf("a Hessian at %v, never evaluated", b)
			}
		}
		// The rejected β (the second evaluation) has no Hessian.
		if slices.ContainsFunc(accepted, func(b []float64) bool { return slices.Equal(b, evaluated[1]) }) {
			t.Errorf("the rejected step %v fetched its Hessian", evaluated[1])
		}
		return
	}
	t.Fatal("no halving_efron golden")
}

// TestWeightedSecondMomentRefusesBadWeights: weights of the wrong length or not finite are
// errors, never a partial sum.
func TestWeightedSecondMomentRefusesBadWeights(t *testing.T) {
	time, event, x := synthCox(200, 2, 5)
	st, err := NewCoxStratum(time, event, x, 2)
	if err != nil {
		t.Fatal(err)
	}
	nt, ne := st.DistinctTimes()
	beta := []float64{0.1, 0.01}
	a, b := make([]float64, nt), make([]float64, ne)
	if _, err := st.WeightedSecondMoment(beta, a[1:], b); err == nil {
		t.Error("short A accepted")
	}
	if _, err := st.WeightedSecondMoment(beta, a, append(b, 0)); err == nil {
		t.Error("long B accepted")
	}
	a[3] = math.NaN()
	if _, err := st.WeightedSecondMoment(beta, a, b); err == nil {
		t.Error("NaN weight accepted")
	}
}
