package analysis

import (
	"cmp"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"

	"gonum.org/v1/gonum/floats/scalar"
)

// synthCox returns n patients with p covariates and times with ties (rounded), about 70%
// events; deterministic for a seed. Column 0 is binary, column 1 age-like, column 2 a
// calendar-year-like value (large mean, small spread), the rest standard normal.
func synthCox(n, p int, seed uint64) (time []float64, event []bool, x []float64) {
	r := rand.New(rand.NewPCG(seed, 1))
	time = make([]float64, n)
	event = make([]bool, n)
	x = make([]float64, n*p)
	for i := 0; i < n; i++ {
		lp := 0.0
		for j := 0; j < p; j++ {
			var v float64
			switch j {
			case 0:
				v = float64(r.IntN(2))
				lp += 0.5 * v
			case 1:
				v = math.Round(60 + 10*r.NormFloat64())
				lp += 0.02 * (v - 60)
			case 2:
				v = 2010 + float64(r.IntN(11))
				lp -= 0.05 * (v - 2010)
			default:
				v = r.NormFloat64()
				lp += 0.1 * v
			}
			x[i*p+j] = v
		}
		t := r.ExpFloat64() / (0.002 * math.Exp(lp))
		c := 2000 * r.Float64()
		event[i] = t <= c
		time[i] = math.Ceil(math.Min(t, c))
	}
	return time, event, x
}

func splitSites(n, k int) [][2]int {
	var out [][2]int
	for s := 0; s < k; s++ {
		out = append(out, [2]int{s * n / k, (s + 1) * n / k})
	}
	return out
}

func closeSlices(t *testing.T, what string, got, want []float64, tol float64) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%s: %d values, want %d", what, len(got), len(want))
	}
	for i := range got {
		if !scalar.EqualWithinAbsOrRel(got[i], want[i], tol, tol) {
			t.Errorf("%s[%d] = %.15g, want %.15g", what, i, got[i], want[i])
		}
	}
}

// TestPooledEqualsLocalContribution checks the WebDISCO identity directly, at a β ≠ 0 and with
// many ties within and across sites: the client's pooled contribution from per-site rows
// equals the contribution of the pooled patient-level data, whatever the order of the sites;
// a site without patients and a site without events change nothing.
func TestPooledEqualsLocalContribution(t *testing.T) {
	const n, p = 3000, 4
	time, event, x := synthCox(n, p, 7)
	beta := []float64{0.4, 0.015, -0.04, 0.1}
	for _, ties := range []Ties{Efron, Breslow} {
		want, err := CoxStratumContribution(time, event, x, p, beta, ties)
		if err != nil {
			t.Fatal(err)
		}
		var rows [][]RiskSetRow
		var ex [][]float64
		for _, s := range splitSites(n, 6) {
			r, e, err := CoxRiskSetRows(time[s[0]:s[1]], event[s[0]:s[1]], x[s[0]*p:s[1]*p], p, beta)
			if err != nil {
				t.Fatal(err)
			}
			rows, ex = append(rows, r), append(ex, e)
		}
		// A site with no patients, and one whose patients are all censored.
		r, e, _ := CoxRiskSetRows(nil, nil, nil, p, beta)
		rows, ex = append(rows, r), append(ex, e)
		cens := make([]bool, 50)
		r, e, _ = CoxRiskSetRows(time[:50], cens, x[:50*p], p, beta)
		rows, ex = append(rows, r), append(ex, e)
		wantPlus, _ := CoxStratumContribution(append(slices.Clone(time), time[:50]...), append(slices.Clone(event), cens...), append(slices.Clone(x), x[:50*p]...), p, beta, ties)

		for _, order := range [][]int{{0, 1, 2, 3, 4, 5, 6, 7}, {7, 5, 3, 1, 6, 0, 2, 4}} {
			var rs [][]RiskSetRow
			var es [][]float64
			for _, k := range order {
				rs, es = append(rs, rows[k]), append(es, ex[k])
			}
			got, err := PooledCoxContribution(rs, es, p, beta, ties)
			if err != nil {
				t.Fatal(err)
			}
			what := fmt.Sprintf("%v order %v", ties, order)
			if got.Events != want.Events {
				t.Errorf("%s: %d events, want %d", what, got.Events, want.Events)
			}
			if !scalar.EqualWithinAbsOrRel(got.LogLik, wantPlus.LogLik, 1e-10, 1e-10) {
				t.Errorf("%s: loglik %.15g, want %.15g", what, got.LogLik, wantPlus.LogLik)
			}
			closeSlices(t, what+" gradient", got.Gradient, wantPlus.Gradient, 1e-9)
			closeSlices(t, what+" Hessian", got.Hessian, wantPlus.Hessian, 1e-9)
		}
	}
}

// TestCoxContributionDerivatives checks the gradient and Hessian against central differences
// of the log-likelihood and of the gradient, an oracle independent of R.
func TestCoxContributionDerivatives(t *testing.T) {
	const n, p = 400, 3
	time, event, x := synthCox(n, p, 3)
	beta := []float64{0.3, 0.01, -0.02}
	for _, ties := range []Ties{Efron, Breslow} {
		c, err := CoxStratumContribution(time, event, x, p, beta, ties)
		if err != nil {
			t.Fatal(err)
		}
		for j := 0; j < p; j++ {
			h := 1e-5
			bp, bm := slices.Clone(beta), slices.Clone(beta)
			bp[j] += h
			bm[j] -= h
			cp, _ := CoxStratumContribution(time, event, x, p, bp, ties)
			cm, _ := CoxStratumContribution(time, event, x, p, bm, ties)
			g := (cp.LogLik - cm.LogLik) / (2 * h)
			if !scalar.EqualWithinAbsOrRel(c.Gradient[j], g, 1e-5, 1e-5) {
				t.Errorf("%v: gradient[%d] = %g, central difference %g", ties, j, c.Gradient[j], g)
			}
			for i := 0; i < p; i++ {
				hd := (cp.Gradient[i] - cm.Gradient[i]) / (2 * h)
				if !scalar.EqualWithinAbsOrRel(c.Hessian[i*p+j], hd, 1e-4, 1e-5) {
					t.Errorf("%v: Hessian[%d,%d] = %g, central difference %g", ties, i, j, c.Hessian[i*p+j], hd)
				}
			}
		}
	}
}

// TestPooledFitLargeCovariates fits the pooled (uncentred) form with a calendar-year-like
// covariate (2010 to 2020) and compares it with the centred local fit.
func TestPooledFitLargeCovariates(t *testing.T) {
	const n, p = 20000, 3
	time, event, x := synthCox(n, p, 11)
	sites := splitSites(n, 10)
	local, err := FitCox(func(b []float64) (CoxContribution, error) {
		return CoxStratumContribution(time, event, x, p, b, Efron)
	}, p, CoxOptions{})
	if err != nil {
		t.Fatal(err)
	}
	pooled, err := FitCox(func(b []float64) (CoxContribution, error) {
		var rows [][]RiskSetRow
		var ex [][]float64
		for _, s := range sites {
			r, e, err := CoxRiskSetRows(time[s[0]:s[1]], event[s[0]:s[1]], x[s[0]*p:s[1]*p], p, b)
			if err != nil {
				return CoxContribution{}, err
			}
			rows, ex = append(rows, r), append(ex, e)
		}
		return PooledCoxContribution(rows, ex, p, b, Efron)
	}, p, CoxOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if local.Iterations != pooled.Iterations {
		t.Errorf("iterations: local %d, pooled %d", local.Iterations, pooled.Iterations)
	}
	closeSlices(t, "coef", pooled.Coef, local.Coef, 1e-9)
	closeSlices(t, "se", pooled.SE, local.SE, 1e-9)
	if !scalar.EqualWithinAbsOrRel(pooled.LogLik, local.LogLik, 1e-9, 1e-9) {
		t.Errorf("loglik: pooled %.15g, local %.15g", pooled.LogLik, local.LogLik)
	}
}

func TestCoxNoEvents(t *testing.T) {
	time := []float64{5, 3, 8, 2}
	x := []float64{1, 2, 3, 4}
	eval := func(b []float64) (CoxContribution, error) {
		return CoxStratumContribution(time, make([]bool, 4), x, 1, b, Efron)
	}
	fit, err := FitCox(eval, 1, CoxOptions{})
	if !errors.Is(err, ErrNoEvents) || fit != nil {
		t.Fatalf("fit %v, err %v; want ErrNoEvents", fit, err)
	}
}

// TestCoxNothingEstimable: a single patient, or a covariate constant for everyone. R
// (survival 3.5.3, coxph(Surv(c(5,6), c(1,1)) ~ x) with x = c(1,1)) reports NA, iter 1,
// loglik -0.6931472 twice and an LRT of 0 on 0 df with p = 1.
func TestCoxNothingEstimable(t *testing.T) {
	for _, tc := range []struct {
		name   string
		time   []float64
		event  []bool
		x      []float64
		loglik float64
	}{
		{"single patient", []float64{5}, []bool{true}, []float64{1}, 0},
		{"constant", []float64{5, 6}, []bool{true, true}, []float64{1, 1}, -0.6931471805599453}, // R: -log 2
	} {
		t.Run(tc.name, func(t *testing.T) {
			evals := 0
			fit, err := FitCox(func(b []float64) (CoxContribution, error) {
				evals++
				return CoxStratumContribution(tc.time, tc.event, tc.x, 1, b, Efron)
			}, 1, CoxOptions{Terms: []string{"x"}})
			if err != nil {
				t.Fatal(err)
			}
			if !fit.Converged || fit.Iterations != 1 || evals != 1 {
				t.Errorf("converged %v, %d iterations, %d evaluations", fit.Converged, fit.Iterations, evals)
			}
			if !slices.Equal(fit.NotEstimable, []string{"x"}) || !math.IsNaN(fit.Coef[0]) || !math.IsNaN(fit.SE[0]) {
				t.Errorf("not estimable %v, coef %v, se %v", fit.NotEstimable, fit.Coef, fit.SE)
			}
			if fit.LRT != (Test{Stat: 0, DF: 0, P: 1}) || fit.LogLik != tc.loglik || fit.LogLik0 != tc.loglik {
				t.Errorf("LRT %+v, loglik %v %v", fit.LRT, fit.LogLik0, fit.LogLik)
			}
		})
	}
}

// TestCoxEvaluatorError: a site dropping out in the middle of the fit aborts it with the cause.
func TestCoxEvaluatorError(t *testing.T) {
	time, event, x := synthCox(200, 2, 5)
	errSite := errors.New("site inst7 did not answer")
	calls := 0
	fit, err := FitCox(func(b []float64) (CoxContribution, error) {
		calls++
		if calls == 3 {
			return CoxContribution{}, errSite
		}
		return CoxStratumContribution(time, event, x, 2, b, Breslow)
	}, 2, CoxOptions{})
	if fit != nil || !errors.Is(err, errSite) || !strings.Contains(err.Error(), "iteration 2") {
		t.Fatalf("fit %v, err %v", fit, err)
	}
	_, err = FitCox(func(b []float64) (CoxContribution, error) {
		return CoxContribution{LogLik: -1, Gradient: []float64{0}, Hessian: []float64{-1}, Events: 1}, nil
	}, 2, CoxOptions{})
	if err == nil || !strings.Contains(err.Error(), "p = 2") {
		t.Errorf("malformed contribution: err %v", err)
	}
}

func TestPooledCoxContributionBadRows(t *testing.T) {
	beta := []float64{0.1}
	rows, ex, err := CoxRiskSetRows([]float64{1, 2, 2, 3}, []bool{true, false, true, true}, []float64{1, 0, 1, 0}, 1, beta)
	if err != nil {
		t.Fatal(err)
	}
	if len(rows) != 3 || rows[1].D != 1 || rows[1].R0 != 1+math.Exp(0.1) || ex[0] != 2 {
		t.Fatalf("rows %+v, event sums %v", rows, ex)
	}
	unsorted := slices.Clone(rows)
	unsorted[0], unsorted[1] = unsorted[1], unsorted[0]
	short := slices.Clone(rows)
	short[2].E1 = nil
	for _, tc := range []struct {
		name  string
		sites [][]RiskSetRow
		ex    [][]float64
		want  string
	}{
		{"unsorted", [][]RiskSetRow{rows, unsorted}, [][]float64{ex, ex}, "site 1, row 1"},
		{"missing event sums", [][]RiskSetRow{short}, [][]float64{ex}, "site 0, row 2"},
		{"event sums count", [][]RiskSetRow{rows}, [][]float64{ex, ex}, "2 event sums"},
		{"event sums length", [][]RiskSetRow{rows}, [][]float64{{1, 2}}, "site 0: 2 event sums"},
	} {
		_, err := PooledCoxContribution(tc.sites, tc.ex, 1, beta, Efron)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: err %v, want it to mention %q", tc.name, err, tc.want)
		}
	}
}

func TestCoxStratumContributionBadData(t *testing.T) {
	_, err := CoxStratumContribution([]float64{1, math.NaN()}, []bool{true, true}, []float64{1, 2}, 1, []float64{0}, Efron)
	if err == nil || !strings.Contains(err.Error(), "record 1") {
		t.Errorf("NaN time: %v", err)
	}
	_, _, err = CoxRiskSetRows([]float64{1, 2}, []bool{true, true}, []float64{1, 2, 3, math.Inf(1)}, 2, []float64{0, 0})
	if err == nil || !strings.Contains(err.Error(), "record 1, column 1") {
		t.Errorf("infinite covariate: %v", err)
	}
	defer func() {
		if r := recover(); r == nil || !strings.HasPrefix(fmt.Sprint(r), "analysis: ") {
			t.Errorf("length mismatch: recovered %v, want a panic prefixed analysis:", r)
		}
	}()
	CoxStratumContribution([]float64{1, 2}, []bool{true}, []float64{1, 2}, 1, []float64{0}, Efron)
}

func TestParseTies(t *testing.T) {
	for s, want := range map[string]Ties{"efron": Efron, "Breslow": Breslow, "": Efron} {
		if got, err := ParseTies(s); err != nil || got != want {
			t.Errorf("ParseTies(%q) = %v, %v", s, got, err)
		}
	}
	if _, err := ParseTies("exact"); err == nil {
		t.Error("ParseTies(exact): no error")
	}
	if Efron.String() != "efron" || Breslow.String() != "breslow" {
		t.Error("Ties.String")
	}
}

func TestCoxContributionAdd(t *testing.T) {
	a := CoxContribution{LogLik: -1, Gradient: []float64{1, 2}, Hessian: []float64{-1, 0, 0, -2}, N: 3, Events: 2, SecondMoment: []float64{1, 1}}
	b := CoxContribution{LogLik: -2, Gradient: []float64{3, 4}, Hessian: []float64{-1, -1, -1, -1}, N: 4, Events: 1}
	var sum CoxContribution
	sum.Add(a)
	a.Gradient[0] = 100 // the sum must not alias its first operand
	sum.Add(b)
	want := CoxContribution{LogLik: -3, Gradient: []float64{4, 6}, Hessian: []float64{-2, -1, -1, -3}, N: 7, Events: 3}
	if sum.LogLik != want.LogLik || !slices.Equal(sum.Gradient, want.Gradient) || !slices.Equal(sum.Hessian, want.Hessian) ||
		sum.N != 7 || sum.Events != 3 || sum.SecondMoment != nil {
		t.Errorf("sum %+v, want %+v (SecondMoment nil: unknown for b)", sum, want)
	}
	defer func() {
		if r := recover(); r == nil {
			t.Error("adding p = 1 to p = 2 did not panic")
		}
	}()
	sum.Add(CoxContribution{Gradient: []float64{1}, Hessian: []float64{1}})
}

// TestBuildDesign checks treatment contrasts, names and complete cases against what R's
// model.matrix(~ sex + age + ecog, lung) gives for the same rows.
func TestBuildDesign(t *testing.T) {
	cols := []CovariateColumn{
		{Name: "sex", Categorical: []string{"male", "female", "male", "", "female"}},
		{Name: "age", Numeric: []float64{74, 68, math.NaN(), 60, 57}},
		{Name: "ecog", Categorical: []string{"ecog1", "ecog0", "ecog2", "ecog1", "ecog2"}},
	}
	x, p, names, keep, err := BuildDesign(cols, nil)
	if err != nil {
		t.Fatal(err)
	}
	// R: colnames(model.matrix(~ sex + age + ecog)) without the intercept.
	if p != 4 || !slices.Equal(names, []string{"sexmale", "age", "ecogecog1", "ecogecog2"}) {
		t.Fatalf("p = %d, names %v", p, names)
	}
	if !slices.Equal(keep, []bool{true, true, false, false, true}) || IncompleteCases(keep) != 2 {
		t.Errorf("keep %v", keep)
	}
	want := []float64{
		1, 74, 1, 0,
		0, 68, 0, 0,
		0, 57, 0, 1,
	}
	if !slices.Equal(x, want) {
		t.Errorf("x = %v, want %v", x, want)
	}
	// Given levels: order and reference as given; an unobserved level gives a zero column.
	x, p, names, _, err = BuildDesign(cols[2:], map[string][]string{"ecog": {"ecog2", "ecog1", "ecog0", "ecog3"}})
	if err != nil {
		t.Fatal(err)
	}
	if p != 3 || !slices.Equal(names, []string{"ecogecog1", "ecogecog0", "ecogecog3"}) || !slices.Equal(x[:6], []float64{1, 0, 0, 0, 1, 0}) {
		t.Errorf("given levels: p %d names %v x %v", p, names, x)
	}
	for _, tc := range []struct {
		name   string
		cols   []CovariateColumn
		levels map[string][]string
		want   string
	}{
		{"none", nil, nil, "no covariates"},
		{"both kinds", []CovariateColumn{{Name: "a", Numeric: []float64{1}, Categorical: []string{"x"}}}, nil, "either numeric or categorical"},
		{"lengths", []CovariateColumn{{Name: "a", Numeric: []float64{1, 2}}, {Name: "b", Numeric: []float64{1}}}, nil, `"b" has 1 values`},
		{"one level", []CovariateColumn{{Name: "sex", Categorical: []string{"male", "male"}}}, nil, "1 level"},
		{"unknown level", []CovariateColumn{{Name: "sex", Categorical: []string{"male", "other"}}}, map[string][]string{"sex": {"female", "male"}}, `patient 1: value "other"`},
		{"infinite", []CovariateColumn{{Name: "age", Numeric: []float64{1, math.Inf(1)}}}, nil, "patient 1"},
	} {
		_, _, _, _, err := BuildDesign(tc.cols, tc.levels)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: err %v, want it to mention %q", tc.name, err, tc.want)
		}
	}
}

// TestCoxStratumOrderInvariant: the contribution does not depend on the order of the records
// (sorted input takes a path without sorting).
func TestCoxStratumOrderInvariant(t *testing.T) {
	const n, p = 500, 3
	time, event, x := synthCox(n, p, 9)
	order := make([]int, n)
	for i := range order {
		order[i] = i
	}
	slices.SortStableFunc(order, func(a, b int) int { return cmp.Compare(time[a], time[b]) })
	st, se, sx := make([]float64, n), make([]bool, n), make([]float64, n*p)
	for k, i := range order {
		st[k], se[k] = time[i], event[i]
		copy(sx[k*p:(k+1)*p], x[i*p:(i+1)*p])
	}
	beta := []float64{0.2, -0.01, 0.03}
	for _, ties := range []Ties{Efron, Breslow} {
		want, _ := CoxStratumContribution(time, event, x, p, beta, ties)
		got, _ := CoxStratumContribution(st, se, sx, p, beta, ties)
		if !scalar.EqualWithinAbsOrRel(got.LogLik, want.LogLik, 1e-12, 1e-12) {
			t.Errorf("%v: loglik %v, shuffled %v", ties, got.LogLik, want.LogLik)
		}
		closeSlices(t, ties.String()+" gradient", got.Gradient, want.Gradient, 1e-10)
		closeSlices(t, ties.String()+" Hessian", got.Hessian, want.Hessian, 1e-10)
	}
}

// TestOrderByTime compares the radix sort with a stable comparison sort, on times with many
// ties, zeros of both signs, subnormals and large values.
func TestOrderByTime(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	special := []float64{0, math.Copysign(0, -1), 5e-324, 1e-300, 1, 1e300, math.MaxFloat64}
	for _, n := range []int{0, 1, 2, 10, 1000, 5000} {
		time := make([]float64, n)
		for i := range time {
			switch r.IntN(3) {
			case 0:
				time[i] = special[r.IntN(len(special))]
			case 1:
				time[i] = float64(r.IntN(50))
			default:
				time[i] = r.ExpFloat64() * 1000
			}
		}
		want := make([]int32, n)
		for i := range want {
			want[i] = int32(i)
		}
		slices.SortStableFunc(want, func(a, b int32) int { return cmp.Compare(time[a], time[b]) })
		if got := orderByTime(time); !slices.Equal(got, want) {
			t.Errorf("n = %d: radix order differs from a stable sort", n)
		}
	}
}
