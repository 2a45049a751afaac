package analysis

import (
	"encoding/json"
	"errors"
	"math"
	"os"
	"slices"
	"strings"
	"testing"

	"gonum.org/v1/gonum/floats/scalar"
)

// Tolerances of the correctness bar (issue 3): estimates rel 1e-9, p-values 1e-6.
const (
	coxRelTol = 1e-9
	coxPTol   = 1e-6
)

// coxGoldens is testdata/cox_goldens.json, written by testdata/cox_goldens.R (R 4.2.2,
// survival 3.5.3): the data sets and, per case, what R's coxph reports.
type coxGoldens struct {
	GeneratedBy string                                `json:"generated_by"`
	Datasets    map[string]map[string]json.RawMessage `json:"datasets"`
	Cases       []coxGoldenCase                       `json:"cases"`
}

type coxGoldenCase struct {
	Name       string              `json:"name"`
	Data       string              `json:"data"`
	Covariates []string            `json:"covariates"`
	Ties       string              `json:"ties"`
	Strata     string              `json:"strata"`
	Bin        float64             `json:"bin"`
	Levels     map[string][]string `json:"levels"`
	IterMax    int                 `json:"iter_max"`
	Expected   coxGoldenFit        `json:"expected"`
}

type goldenTest struct {
	Stat float64 `json:"stat"`
	DF   int     `json:"df"`
	P    float64 `json:"p"`
}

type coxGoldenFit struct {
	Terms        []string   `json:"terms"`
	Coef         []*float64 `json:"coef"` // null = NA
	SE           []*float64 `json:"se"`
	HR           []*float64 `json:"hr"`
	Lower        []*float64 `json:"lower"`
	Upper        []*float64 `json:"upper"`
	Z            []*float64 `json:"z"`
	P            []*float64 `json:"p"`
	LogLik0      float64    `json:"loglik0"`
	LogLik       float64    `json:"loglik"`
	LRT          goldenTest `json:"lrt"`
	Wald         goldenTest `json:"wald"`
	Score        goldenTest `json:"score"`
	Iter         int        `json:"iter"`
	N            int        `json:"n"`
	Events       int        `json:"events"`
	NotEstimable []string   `json:"not_estimable"`
	Warnings     []string   `json:"warnings"`
	Vcov         []float64  `json:"vcov"`
}

// coxData is one data set of the goldens, patient level.
type coxData struct {
	site  []string
	time  []float64
	event []bool
	cols  map[string]CovariateColumn
}

func loadCoxGoldens(t testing.TB) *coxGoldens {
	t.Helper()
	b, err := os.ReadFile("testdata/cox_goldens.json")
	if err != nil {
		t.Fatal(err)
	}
	var g coxGoldens
	if err := json.Unmarshal(b, &g); err != nil {
		t.Fatal(err)
	}
	if len(g.Cases) == 0 {
		t.Fatal("no cases in cox_goldens.json")
	}
	return &g
}

func (g *coxGoldens) data(t testing.TB, name string) *coxData {
	t.Helper()
	raw, ok := g.Datasets[name]
	if !ok {
		t.Fatalf("data set %q not in goldens", name)
	}
	d := &coxData{cols: map[string]CovariateColumn{}}
	var events []int
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(json.Unmarshal(raw["site"], &d.site))
	must(json.Unmarshal(raw["time"], &d.time))
	must(json.Unmarshal(raw["event"], &events))
	for _, e := range events {
		d.event = append(d.event, e == 1)
	}
	for col, msg := range raw {
		if col == "site" || col == "time" || col == "event" {
			continue
		}
		var nums []*float64
		if err := json.Unmarshal(msg, &nums); err == nil {
			v := make([]float64, len(nums))
			for i, x := range nums {
				v[i] = math.NaN()
				if x != nil {
					v[i] = *x
				}
			}
			d.cols[col] = CovariateColumn{Name: col, Numeric: v}
			continue
		}
		var strs []*string
		must(json.Unmarshal(msg, &strs))
		v := make([]string, len(strs))
		for i, x := range strs {
			if x != nil {
				v[i] = *x
			}
		}
		d.cols[col] = CovariateColumn{Name: col, Categorical: v}
	}
	return d
}

// subset returns the rows of d selected by keep (nil = all), with times coarsened to bin days.
func (d *coxData) subset(keep func(i int) bool, covariates []string, bin float64) (time []float64, event []bool, cols []CovariateColumn) {
	cols = make([]CovariateColumn, len(covariates))
	for j, name := range covariates {
		cols[j].Name = name
	}
	for i := range d.time {
		if keep != nil && !keep(i) {
			continue
		}
		tm := d.time[i]
		if bin > 0 {
			tm = math.Ceil(tm/bin) * bin
		}
		time = append(time, tm)
		event = append(event, d.event[i])
		for j, name := range covariates {
			c := d.cols[name]
			if c.Numeric != nil {
				cols[j].Numeric = append(cols[j].Numeric, c.Numeric[i])
			} else {
				cols[j].Categorical = append(cols[j].Categorical, c.Categorical[i])
			}
		}
	}
	return time, event, cols
}

// caseLevels fixes the levels of every categorical covariate as the client would from the
// catalog: the case's levels, else the sorted distinct values among complete cases.
func (d *coxData) caseLevels(cs coxGoldenCase) map[string][]string {
	_, _, cols := d.subset(nil, cs.Covariates, 0)
	complete := make([]bool, len(d.time))
	for i := range complete {
		complete[i] = true
		for _, c := range cols {
			if (c.Numeric != nil && math.IsNaN(c.Numeric[i])) || (c.Categorical != nil && c.Categorical[i] == "") {
				complete[i] = false
			}
		}
	}
	levels := map[string][]string{}
	for _, c := range cols {
		if c.Categorical == nil {
			continue
		}
		if lv, ok := cs.Levels[c.Name]; ok {
			levels[c.Name] = lv
			continue
		}
		var lv []string
		for i, v := range c.Categorical {
			if complete[i] && !slices.Contains(lv, v) {
				lv = append(lv, v)
			}
		}
		slices.Sort(lv)
		levels[c.Name] = lv
	}
	return levels
}

// siteDesign is what one node holds after BuildDesign on its own patients.
type siteDesign struct {
	time  []float64
	event []bool
	x     []float64
	n     int
}

func (d *coxData) siteDesigns(t testing.TB, cs coxGoldenCase) ([]siteDesign, int, []string) {
	t.Helper()
	levels := d.caseLevels(cs)
	var sites []string
	for _, s := range d.site {
		if !slices.Contains(sites, s) {
			sites = append(sites, s)
		}
	}
	var out []siteDesign
	p, names := -1, []string(nil)
	for _, s := range sites {
		time, event, cols := d.subset(func(i int) bool { return d.site[i] == s }, cs.Covariates, cs.Bin)
		x, ps, nm, keep, err := BuildDesign(cols, levels)
		if err != nil {
			t.Fatalf("site %s: %v", s, err)
		}
		if p >= 0 && (ps != p || !slices.Equal(nm, names)) {
			t.Fatalf("site %s: design %v differs from %v", s, nm, names)
		}
		p, names = ps, nm
		var sd siteDesign
		sd.x = x
		for i, k := range keep {
			if k {
				sd.time = append(sd.time, time[i])
				sd.event = append(sd.event, event[i])
			}
		}
		sd.n = len(sd.time)
		out = append(out, sd)
	}
	return out, p, names
}

func eq(got, want, tol float64) bool {
	if math.IsInf(want, 0) || math.IsInf(got, 0) {
		return got == want
	}
	return scalar.EqualWithinAbsOrRel(got, want, tol, tol)
}

// checkCoxFit compares fit with R's. sepTol loosens the comparison of quantities that
// depend on a numerically degenerate information matrix (separation).
func checkCoxFit(t *testing.T, form string, fit *CoxFit, err error, want coxGoldenFit, iterMax int) {
	t.Helper()
	nonConverged := iterMax > 0 && want.Iter > iterMax
	separation := len(want.Warnings) > 0 && strings.Contains(want.Warnings[0], "infinite")
	if nonConverged {
		if !errors.Is(err, ErrNotConverged) {
			t.Fatalf("%s: err = %v, want ErrNotConverged", form, err)
		}
		if fit == nil || fit.Converged {
			t.Fatalf("%s: want a fit with Converged = false, got %+v", form, fit)
		}
		// R reports iter.max + 1; we report the iterations run.
		if fit.Iterations != iterMax {
			t.Errorf("%s: iterations %d, want %d", form, fit.Iterations, iterMax)
		}
	} else {
		if err != nil {
			t.Fatalf("%s: %v", form, err)
		}
		if !fit.Converged || fit.Iterations != want.Iter {
			t.Errorf("%s: converged %v after %d iterations, R: %d", form, fit.Converged, fit.Iterations, want.Iter)
		}
	}
	if !slices.Equal(fit.Terms, want.Terms) {
		t.Fatalf("%s: terms %v, R: %v", form, fit.Terms, want.Terms)
	}
	if fit.Events != want.Events {
		t.Errorf("%s: %d events, R: %d", form, fit.Events, want.Events)
	}
	ne := fit.NotEstimable
	if ne == nil {
		ne = []string{}
	}
	if !slices.Equal(ne, want.NotEstimable) {
		t.Errorf("%s: not estimable %v, R: %v", form, fit.NotEstimable, want.NotEstimable)
	}
	est := func(name string, got []float64, w []*float64, tol float64) {
		t.Helper()
		for j := range w {
			if w[j] == nil || want.Coef[j] == nil {
				// R reports NA for the coefficient of a non-estimable term (and se 0); we NaN.
				if !math.IsNaN(got[j]) {
					t.Errorf("%s: %s[%s] = %v, R: NA", form, name, want.Terms[j], got[j])
				}
				continue
			}
			if !eq(got[j], *w[j], tol) {
				t.Errorf("%s: %s[%s] = %.15g, R: %.15g (rel diff %.2g)", form, name, want.Terms[j], got[j], *w[j], math.Abs(got[j]-*w[j])/math.Abs(*w[j]))
			}
		}
	}
	scal := func(name string, got, w, tol float64) {
		t.Helper()
		if !eq(got, w, tol) {
			t.Errorf("%s: %s = %.15g, R: %.15g", form, name, got, w)
		}
	}
	coefTol := coxRelTol
	if separation {
		// β̂ of the separated term is wherever the loglik stopped moving (≈ iteration count).
		coefTol = 1e-6
	}
	est("coef", fit.Coef, want.Coef, coefTol)
	scal("loglik0", fit.LogLik0, want.LogLik0, coxRelTol)
	scal("loglik", fit.LogLik, want.LogLik, coxRelTol)
	scal("LRT", fit.LRT.Stat, want.LRT.Stat, coxRelTol)
	scal("LRT p", fit.LRT.P, want.LRT.P, coxPTol)
	scal("score", fit.Score.Stat, want.Score.Stat, coxRelTol)
	scal("score p", fit.Score.P, want.Score.P, coxPTol)
	if fit.LRT.DF != want.LRT.DF || fit.Score.DF != want.Score.DF || fit.Wald.DF != want.Wald.DF {
		t.Errorf("%s: df %d/%d/%d, R: %d/%d/%d", form, fit.LRT.DF, fit.Wald.DF, fit.Score.DF, want.LRT.DF, want.Wald.DF, want.Score.DF)
	}
	if nonConverged || separation {
		// R's variance is then either diagonal-only (non-convergence) or the inverse of an
		// information matrix that is zero up to rounding (separation): nothing to compare.
		if separation && len(fit.Infinite) == 0 {
			t.Errorf("%s: no term flagged as possibly infinite; R: %v", form, want.Warnings)
		}
		return
	}
	if len(fit.Infinite) != 0 {
		t.Errorf("%s: terms flagged infinite: %v", form, fit.Infinite)
	}
	est("se", fit.SE, want.SE, coxRelTol)
	est("hr", fit.HR, want.HR, coxRelTol)
	est("lower", fit.Lower, want.Lower, coxRelTol)
	est("upper", fit.Upper, want.Upper, coxRelTol)
	est("z", fit.Z, want.Z, coxRelTol)
	est("p", fit.P, want.P, coxPTol)
	scal("Wald", fit.Wald.Stat, want.Wald.Stat, coxRelTol)
	scal("Wald p", fit.Wald.P, want.Wald.P, coxPTol)
	p := len(want.Terms)
	for i := 0; i < p; i++ {
		for j := 0; j < p; j++ {
			if want.Coef[i] == nil || want.Coef[j] == nil {
				continue
			}
			if !eq(fit.Vcov[i*p+j], want.Vcov[i*p+j], coxRelTol) {
				t.Errorf("%s: vcov[%d,%d] = %.15g, R: %.15g", form, i, j, fit.Vcov[i*p+j], want.Vcov[i*p+j])
			}
		}
	}
}

// TestCoxGoldens checks every case of cox_goldens.json against R's coxph in every form that
// applies: without strata (a) the local fit on the pooled patient-level data and (c) the
// federated pooled fit from the sites' risk-set rows (WebDISCO); with strata(site) (b) the sum
// of the sites' stratum contributions.
func TestCoxGoldens(t *testing.T) {
	g := loadCoxGoldens(t)
	for _, cs := range g.Cases {
		t.Run(cs.Name, func(t *testing.T) {
			ties, err := ParseTies(cs.Ties)
			if err != nil {
				t.Fatal(err)
			}
			d := g.data(t, cs.Data)
			sites, p, names := d.siteDesigns(t, cs)
			opts := CoxOptions{Terms: names, MaxIter: cs.IterMax}
			nTotal := 0
			for _, s := range sites {
				nTotal += s.n
			}
			if nTotal != cs.Expected.N {
				t.Fatalf("%d complete cases, R: %d", nTotal, cs.Expected.N)
			}
			if cs.Strata == "site" {
				evals := 0
				fit, err := FitCox(func(beta []float64) (CoxContribution, error) {
					evals++
					var sum CoxContribution
					for _, s := range sites {
						c, err := CoxStratumContribution(s.time, s.event, s.x, p, beta, ties)
						if err != nil {
							return c, err
						}
						sum.Add(c)
					}
					return sum, nil
				}, p, opts)
				checkCoxFit(t, "stratified", fit, err, cs.Expected, cs.IterMax)
				if fit != nil && fit.N != cs.Expected.N {
					t.Errorf("stratified: N = %d, R: %d", fit.N, cs.Expected.N)
				}
				if fit != nil && fit.Converged && evals != fit.Iterations+1 {
					t.Errorf("stratified: %d evaluations (network rounds) for %d iterations", evals, fit.Iterations)
				}
				return
			}

			// (a) local: all complete cases as one stratum, design built once on the pooled data.
			time, event, cols := d.subset(nil, cs.Covariates, cs.Bin)
			x, pl, _, keep, err := BuildDesign(cols, d.caseLevels(cs))
			if err != nil || pl != p {
				t.Fatalf("pooled design: p = %d, %v", pl, err)
			}
			if got, want := IncompleteCases(keep), len(d.time)-cs.Expected.N; got != want {
				t.Errorf("incomplete cases %d, R dropped %d", got, want)
			}
			var lt []float64
			var le []bool
			for i, k := range keep {
				if k {
					lt = append(lt, time[i])
					le = append(le, event[i])
				}
			}
			var logliks []float64
			fit, err := FitCox(func(beta []float64) (CoxContribution, error) {
				c, err := CoxStratumContribution(lt, le, x, p, beta, ties)
				logliks = append(logliks, c.LogLik)
				return c, err
			}, p, opts)
			checkCoxFit(t, "local", fit, err, cs.Expected, cs.IterMax)
			if strings.HasPrefix(cs.Name, "halving") && !(len(logliks) > 1 && logliks[1] < logliks[0]) {
				t.Errorf("the first Newton step did not lower the loglik (%v): no step halving tested", logliks)
			}
			if fit != nil && fit.N != cs.Expected.N {
				t.Errorf("local: N = %d, R: %d", fit.N, cs.Expected.N)
			}

			// (c) pooled: every site sends its risk-set rows, the client forms the pooled sums.
			fit, err = FitCox(func(beta []float64) (CoxContribution, error) {
				rows := make([][]RiskSetRow, len(sites))
				ex := make([][]float64, len(sites))
				for k, s := range sites {
					var err error
					rows[k], ex[k], err = CoxRiskSetRows(s.time, s.event, s.x, p, beta)
					if err != nil {
						return CoxContribution{}, err
					}
				}
				c, err := PooledCoxContribution(rows, ex, p, beta, ties)
				c.N = nTotal
				return c, err
			}, p, opts)
			checkCoxFit(t, "pooled", fit, err, cs.Expected, cs.IterMax)
		})
	}
}
