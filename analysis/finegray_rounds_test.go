package analysis

import (
	"math"
	"testing"

	"gonum.org/v1/gonum/floats/scalar"
)

// The two-phase rounds (FineGrayPooledSums, WeightedSecondMoment, NewFineGrayMeatWeights,
// WeightedMeat) give the same fit and sandwich as the one-phase form that TestFineGrayGoldens
// checks against cmprsk::crr, and the fit through FitCoxSteps equals crr's coefficients and
// standard errors (cmprsk 2.2, gtol 1e-12; competing_goldens.R).
func TestFineGrayTwoPhaseGoldens(t *testing.T) {
	var g struct {
		Datasets map[string]competingDataset `json:"datasets"`
		CRR      []struct {
			Name     string       `json:"name"`
			Dataset  string       `json:"dataset"`
			Failcode int          `json:"failcode"`
			Coef     goldenFloats `json:"coef"`
			SE       goldenFloats `json:"se"`
		} `json:"crr"`
	}
	loadGolden(t, "competing_goldens.json", &g)
	for _, c := range g.CRR {
		t.Run(c.Name, func(t *testing.T) {
			d := g.Datasets[c.Dataset]
			sites := fineGraySites(t, d, c.Failcode)
			sumsAt := func(beta []float64) [][]FineGrayRow {
				var all [][]FineGrayRow
				for _, s := range sites {
					r, err := s.TimeSums(beta)
					if err != nil {
						t.Fatal(err)
					}
					all = append(all, r)
				}
				return all
			}
			gd, err := CensoringFromRows(sumsAt(make([]float64, 3)))
			if err != nil {
				t.Fatal(err)
			}
			// Ĝ from the rows' counts is Ĝ from the merged survival tables.
			gt, err := NewCensoringDistribution(d.mergedTable("group", "", 0, 0))
			if err != nil {
				t.Fatal(err)
			}
			checkGoldenFloatsTol(t, "G", gd.Surv, gt.Surv, 0, 1e-15)
			hessianRounds := 0
			fit, err := FitCoxSteps(func(beta []float64) (CoxContribution, func() (CoxContribution, error), error) {
				b := append([]float64(nil), beta...)
				step, err := FineGrayPooledSums(sumsAt(b), gd, 3, b)
				if err != nil {
					return CoxContribution{}, nil, err
				}
				return step.Contribution(), func() (CoxContribution, error) {
					hessianRounds++
					var ms [][]float64
					for s, site := range sites {
						a, bw := step.Weights(s)
						m, err := site.WeightedSecondMoment(b, a, bw)
						if err != nil {
							return CoxContribution{}, err
						}
						ms = append(ms, m)
					}
					full, err := step.Complete(ms)
					if err != nil {
						return full, err
					}
					// The one-phase contribution at the same β, bit for bit up to rounding.
					var rows [][]FineGrayRow
					for _, site := range sites {
						r, _ := site.Rows(b)
						rows = append(rows, r)
					}
					one, err := FineGrayContribution(rows, gd, 3, b)
					if err != nil {
						return full, err
					}
					for k := range one.Hessian {
						if !scalar.EqualWithinAbsOrRel(full.Hessian[k], one.Hessian[k], 1e-9, 1e-10) {
							t.Errorf("Hessian[%d] = %v, one-phase %v", k, full.Hessian[k], one.Hessian[k])
						}
					}
					if !scalar.EqualWithinAbsOrRel(full.LogLik, one.LogLik, 1e-9, 1e-12) {
						t.Errorf("loglik %v, one-phase %v", full.LogLik, one.LogLik)
					}
					return full, nil
				}, nil
			}, 3, CoxOptions{})
			if err != nil {
				t.Fatal(err)
			}
			if hessianRounds == 0 {
				t.Fatal("no phase-2 round")
			}
			checkGoldenFloatsTol(t, "coef", fit.Coef, c.Coef, 1e-9, 1e-6)
			ws, err := NewFineGrayMeatWeights(sumsAt(fit.Coef), gd, 3, fit.Coef)
			if err != nil {
				t.Fatal(err)
			}
			gl, err := NewFineGrayGlobals(sumsAt(fit.Coef), gd, 3, fit.Coef)
			if err != nil {
				t.Fatal(err)
			}
			meat := make([]float64, 9)
			for s, site := range sites {
				m, err := site.WeightedMeat(fit.Coef, ws[s])
				if err != nil {
					t.Fatal(err)
				}
				direct, err := site.Meat(fit.Coef, gl)
				if err != nil {
					t.Fatal(err)
				}
				for k := range meat {
					meat[k] += m[k]
					if !scalar.EqualWithinAbsOrRel(m[k], direct[k], 1e-10, 1e-10) {
						t.Errorf("site %d: meat[%d] = %v from the weights, %v from the globals", s, k, m[k], direct[k])
					}
				}
			}
			se := SandwichVariance(fit, meat).SE
			checkGoldenFloatsTol(t, "se", se, c.SE, 1e-9, 1e-6)
		})
	}
}

// fineGraySites builds each site's Fine–Gray data (x1, x2, x3) of a golden data set.
func fineGraySites(t *testing.T, d competingDataset, failcode int) []*FineGraySite {
	t.Helper()
	var sites []*FineGraySite
	for _, site := range d.sites() {
		var time []float64
		var code []int
		var x []float64
		for i := range d.Time {
			if d.Site[i] == site {
				time = append(time, d.Time[i])
				code = append(code, int(d.Status[i]))
				x = append(x, d.X1[i], d.X2[i], d.X3[i])
			}
		}
		s, err := NewFineGraySite(time, code, x, 3, failcode)
		if err != nil {
			t.Fatal(err)
		}
		sites = append(sites, s)
	}
	return sites
}

// A site refuses weights of the wrong length.
func TestFineGrayWeightsLengths(t *testing.T) {
	s, err := NewFineGraySite([]float64{1, 2, 2, 3}, []int{1, 2, 0, 1}, []float64{0, 1, 2, 3}, 1, 1)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.WeightedSecondMoment([]float64{0}, []float64{1, 2}, []float64{1}); err == nil {
		t.Error("two A weights for three times accepted")
	}
	if _, err := s.WeightedSecondMoment([]float64{0}, []float64{1, 2, 3}, nil); err == nil {
		t.Error("no B weight for the time with a competing event accepted")
	}
	m, err := s.WeightedSecondMoment([]float64{0}, []float64{1, 1, 1}, []float64{0})
	if err != nil || math.Abs(m[0]-14) > 1e-12 {
		t.Errorf("Σx² = %v (%v), want 14", m, err)
	}
	if _, err := s.WeightedMeat([]float64{0}, FineGrayMeatWeights{A: []float64{1, 1, 1}}); err == nil {
		t.Error("variance weights without A1 accepted")
	}
}
