package analysis

import (
	"errors"
	"math"
	"slices"
	"strings"
	"testing"
)

// boundedEval evaluates the local contribution with a coefficient bound attached, and records
// the largest |β_j|/bound_j FitCox asked for.
func boundedEval(t *testing.T, time []float64, event []bool, x []float64, p int, bound []float64, worst *float64) CoxEvaluator {
	return func(b []float64) (CoxContribution, error) {
		for j := range b {
			if r := math.Abs(b[j]) / bound[j]; r > *worst {
				*worst = r
			}
		}
		c, err := CoxStratumContribution(time, event, x, p, b, Efron)
		c.CoefBound = slices.Clone(bound)
		return c, err
	}
}

// A bound the fit never reaches changes nothing: same iterations, same bits as without it.
func TestFitCoxBoundNotReached(t *testing.T) {
	const n, p = 2000, 3
	time, event, x := synthCox(n, p, 5)
	free, err := FitCox(func(b []float64) (CoxContribution, error) {
		return CoxStratumContribution(time, event, x, p, b, Efron)
	}, p, CoxOptions{})
	if err != nil {
		t.Fatal(err)
	}
	var worst float64
	bounded, err := FitCox(boundedEval(t, time, event, x, p, []float64{5, 5.0 / 80, 5.0 / 20}, &worst), p, CoxOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if free.Iterations != bounded.Iterations || !slices.Equal(free.Coef, bounded.Coef) || !slices.Equal(free.SE, bounded.SE) {
		t.Errorf("bounded fit %v (%d iterations) differs from the free fit %v (%d)", bounded.Coef, bounded.Iterations, free.Coef, free.Iterations)
	}
	if worst >= 1 || worst == 0 {
		t.Errorf("largest |β|/bound asked for: %g", worst)
	}
}

// Separation (every event in the level x = 1, none in x = 0 after time 10): R's coxph runs β
// towards +∞ and warns. With a bound FitCox never asks beyond it, ends on it, and says the
// coefficient diverges; without one it runs on as R does.
func TestFitCoxBoundSeparation(t *testing.T) {
	var time []float64
	var event []bool
	var x []float64
	for i := 0; i < 40; i++ {
		g := float64(i % 2)
		time = append(time, float64(5+i))
		event = append(event, g == 1 || i%4 == 0)
		if g == 0 {
			time[i] += 100 // x = 0 lives longer: the x = 1 level has a monotone likelihood
			event[i] = false
		}
		x = append(x, g)
	}
	var worst float64
	fit, err := FitCox(boundedEval(t, time, event, x, 1, []float64{5}, &worst), 1, CoxOptions{Terms: []string{"sexmale"}})
	if !errors.Is(err, ErrBeyondBound) || fit == nil {
		t.Fatalf("err %v, want ErrBeyondBound with a fit", err)
	}
	if worst > 1 {
		t.Errorf("FitCox asked for |β| = %g × the bound", worst)
	}
	if fit.Converged || !slices.Contains(fit.Infinite, "sexmale") || math.Abs(fit.Coef[0]-5) > 1e-6 {
		t.Errorf("fit: converged %v, infinite %v, coef %v; want not converged, sexmale infinite, coef on the bound 5", fit.Converged, fit.Infinite, fit.Coef)
	}
	if len(fit.Warnings) == 0 || !strings.Contains(fit.Warnings[len(fit.Warnings)-1], "sexmale") {
		t.Errorf("warnings %q", fit.Warnings)
	}
	// Without a bound the same data runs far beyond 5.
	free, _ := FitCox(func(b []float64) (CoxContribution, error) {
		return CoxStratumContribution(time, event, x, 1, b, Efron)
	}, 1, CoxOptions{})
	if free == nil || free.Coef[0] < 10 {
		t.Errorf("unbounded fit: %+v; want a coefficient far beyond the bound", free)
	}
}

// A bound of the wrong length or not positive is an error, not a silent unbounded fit.
func TestFitCoxBadBound(t *testing.T) {
	time, event, x := synthCox(100, 1, 3)
	for _, b := range [][]float64{{1, 2}, {0}, {math.NaN()}, {-1}} {
		_, err := FitCox(func(beta []float64) (CoxContribution, error) {
			c, err := CoxStratumContribution(time, event, x, 1, beta, Efron)
			c.CoefBound = b
			return c, err
		}, 1, CoxOptions{})
		if err == nil {
			t.Errorf("bound %v accepted", b)
		}
	}
}

func TestMinBound(t *testing.T) {
	if got := MinBound(nil, nil); got != nil {
		t.Errorf("nil, nil: %v", got)
	}
	if got := MinBound([]float64{1, 5}, nil); !slices.Equal(got, []float64{1, 5}) {
		t.Errorf("a, nil: %v", got)
	}
	if got := MinBound([]float64{1, 5}, []float64{2, 3}); !slices.Equal(got, []float64{1, 3}) {
		t.Errorf("min: %v", got)
	}
	var c CoxContribution
	c.Add(CoxContribution{Gradient: []float64{0}, Hessian: []float64{0}, N: 1, CoefBound: []float64{4}})
	c.Add(CoxContribution{Gradient: []float64{0}, Hessian: []float64{0}, N: 1})
	c.Add(CoxContribution{Gradient: []float64{0}, Hessian: []float64{0}, N: 1, CoefBound: []float64{2}})
	if !slices.Equal(c.CoefBound, []float64{2}) {
		t.Errorf("Add: bound %v, want the smallest 2", c.CoefBound)
	}
}

func TestExtremeGaps(t *testing.T) {
	// η at β = (1, 2): 0, 1, 2, 3, 5, 9 (rows in any order).
	x := []float64{0, 0, 1, 0, 3, 3, 0, 1, 1, 1, 1, 2}
	time := []float64{6, 5, 4, 3, 2, 1}
	s, err := NewCoxStratum(time, []bool{true, false, true, true, false, true}, x, 2)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		k           int
		top, bottom float64
	}{{1, 0, 0}, {2, 4, 1}, {3, 6, 2}, {6, 9, 9}, {7, math.Inf(1), math.Inf(1)}} {
		top, bottom := s.ExtremeGaps([]float64{1, 2}, c.k)
		if top != c.top || bottom != c.bottom {
			t.Errorf("k = %d: gaps %v, %v; want %v, %v", c.k, top, bottom, c.top, c.bottom)
		}
	}
}
