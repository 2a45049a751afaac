package analysis

import (
	"errors"
	"math"
	"slices"
	"strings"
	"testing"

	"gonum.org/v1/gonum/floats/scalar"
)

// The goldens of testdata/r/gen_ipw.R: patient-level lung and rotterdam data (design of the
// propensity model, outcome, treatment, a site label) and R's answers for several estimands.

type ipwData struct {
	Time, Status, Trt, Site goldenFloats
	Columns                 []string
	X                       goldenFloats
}

type ipwKMGolden struct {
	Time    goldenFloats `json:"time"`
	NRisk   goldenFloats `json:"n_risk"`
	NEvent  goldenFloats `json:"n_event"`
	NCensor goldenFloats `json:"n_censor"`
	Surv    goldenFloats `json:"surv"`
	StdErr  goldenFloats `json:"std_err"`
	Lower   goldenFloats `json:"lower"`
	Upper   goldenFloats `json:"upper"`
}

type ipwCoxGolden struct {
	Ties     string
	Coef     goldenFloats
	SERobust goldenFloats `json:"se_robust"`
	SENaive  goldenFloats `json:"se_naive"`
	Loglik   goldenFloats
	Score    goldenFloats
	RScore   goldenFloats
}

type ipwCase struct {
	Name        string
	Estimand    string
	Stabilise   bool
	Trim        float64
	OutcomeCovs []string `json:"outcome_covariates"`
	// OutcomeColumns are the outcome model's design columns of OutcomeCovs (a factor's
	// indicators), named as the propensity design names them.
	OutcomeColumns []string `json:"outcome_columns"`
	Propensity     struct {
		Terms    []string
		Coef, SE goldenFloats
		Loglik   goldenFloats
	}
	Trimmed   struct{ Treated, Control int }
	WeightSum struct{ Treated, Control float64 } `json:"weight_sum"`
	ESS       struct{ Treated, Control float64 }
	Balance   []struct {
		Column    string
		SMDBefore float64 `json:"smd_before"`
		SMDAfter  float64 `json:"smd_after"`
	}
	KM        struct{ Control, Treated ipwKMGolden }
	CoxPooled []ipwCoxGolden `json:"cox_pooled"`
	CoxSite   []ipwCoxGolden `json:"cox_site"`
}

type ipwGoldens struct {
	Data      map[string]ipwData
	Cases     []ipwCase
	Separated struct {
		Converged bool
		Coef      goldenFloats
	}
}

// ipwSite is one site's share of a golden data set.
type ipwSite struct {
	x       []float64 // propensity design rows, with the intercept
	treated []bool
	time    []float64
	event   []bool
	rows    []int // indices into the full data
}

func (d ipwData) sites() []ipwSite {
	p := len(d.Columns)
	n := 0
	for _, s := range d.Site {
		n = max(n, int(s)+1)
	}
	sites := make([]ipwSite, n)
	for i := range d.Time {
		s := &sites[int(d.Site[i])]
		s.x = append(s.x, d.X[i*p:(i+1)*p]...)
		s.treated = append(s.treated, d.Trt[i] == 1)
		s.time = append(s.time, d.Time[i])
		s.event = append(s.event, d.Status[i] == 1)
		s.rows = append(s.rows, i)
	}
	return sites
}

func fitGoldenPropensity(t *testing.T, d ipwData) *LogisticFit {
	fit, err := fitSites(d)
	if err != nil {
		t.Fatal(err)
	}
	return fit
}

// fitSites fits the propensity model of d from its sites' summed contributions.
func fitSites(d ipwData) (*LogisticFit, error) {
	sites := d.sites()
	p := len(d.Columns)
	return FitLogistic(func(beta []float64) (LogisticContribution, error) {
		var sum LogisticContribution
		for _, s := range sites {
			c, err := LogisticSiteContribution(s.x, p, s.treated, beta)
			if err != nil {
				return c, err
			}
			sum.Add(c)
		}
		return sum, nil
	}, p, LogisticOptions{Terms: d.Columns})
}

func closeTo(t *testing.T, what string, got, want, rel float64) {
	t.Helper()
	if math.IsNaN(want) && math.IsNaN(got) {
		return
	}
	if !scalar.EqualWithinAbsOrRel(got, want, 1e-12, rel) {
		t.Errorf("%s = %.15g, R %.15g (rel %.2g)", what, got, want, math.Abs(got-want)/math.Abs(want))
	}
}

func closeAll(t *testing.T, what string, got []float64, want goldenFloats, rel float64) {
	t.Helper()
	if len(got) != len(want) {
		t.Errorf("%s: %d values, R %d", what, len(got), len(want))
		return
	}
	for i := range got {
		closeTo(t, what, got[i], want[i], rel)
	}
}

func TestIPWGoldens(t *testing.T) {
	var g ipwGoldens
	loadGolden(t, "r/ipw_goldens.json", &g)
	if len(g.Cases) == 0 {
		t.Fatal("no cases in the goldens")
	}
	for _, c := range g.Cases {
		t.Run(c.Name, func(t *testing.T) { checkIPWCase(t, g, c) })
	}
}

func checkIPWCase(t *testing.T, g ipwGoldens, c ipwCase) {
	dataName := "lung"
	switch {
	case strings.HasPrefix(c.Name, "rotterdam"):
		dataName = "rotterdam"
	case strings.HasPrefix(c.Name, "lung sites"):
		dataName = "lung_sites"
	case strings.HasPrefix(c.Name, "lung ecog merged sites"):
		dataName = "lung_ecog_sites" // ECOG 2 and 3 merged, as ipw --merge does
	case strings.HasPrefix(c.Name, "lung trial"):
		dataName = "lung_trial" // treatment is membership in site 0 (inst1): one arm per site
	}
	d := g.Data[dataName]
	p := len(d.Columns)
	fit := fitGoldenPropensity(t, d)
	closeAll(t, "propensity coef", fit.Coef, c.Propensity.Coef, 1e-9)
	closeAll(t, "propensity se", fit.SE, c.Propensity.SE, 1e-9)
	closeTo(t, "propensity loglik", fit.LogLik, c.Propensity.Loglik[0], 1e-12)

	est, err := ParseEstimand(c.Estimand)
	if err != nil {
		t.Fatal(err)
	}
	opts := WeightOptions{Estimand: est, Stabilise: c.Stabilise, Trim: c.Trim,
		TreatedShare: float64(fit.Treated) / float64(fit.N)}
	if err := opts.Validate(); err != nil {
		t.Fatal(err)
	}
	// Per site: weights, balance sums, weighted tables per arm, weighted Cox strata.
	bal := NewBalanceSums(p - 1)
	var tables [2][]WeightedSurvivalTable
	var all struct {
		time  []float64
		event []bool
		x, w  []float64
	}
	q := 1 + len(c.OutcomeColumns)
	var strata []*WeightedCoxStratum
	for _, s := range d.sites() {
		var st struct {
			time  []float64
			event []bool
			x, w  []float64
		}
		var arm [2]struct {
			time  []float64
			event []bool
			w     []float64
		}
		for i := range s.time {
			row := s.x[i*p : (i+1)*p]
			w, kept := IPWeight(Propensity(row, fit.Coef), s.treated[i], opts)
			bal.Add(row[1:], s.treated[i], w, kept)
			if !kept {
				continue
			}
			a := 0
			trt := 0.0
			if s.treated[i] {
				a, trt = 1, 1
			}
			arm[a].time = append(arm[a].time, s.time[i])
			arm[a].event = append(arm[a].event, s.event[i])
			arm[a].w = append(arm[a].w, w)
			st.time = append(st.time, s.time[i])
			st.event = append(st.event, s.event[i])
			st.w = append(st.w, w)
			st.x = append(st.x, trt)
			for _, col := range c.OutcomeColumns {
				st.x = append(st.x, row[slices.Index(d.Columns, col)])
			}
		}
		for a := range arm {
			tab, err := NewWeightedSurvivalTable(arm[a].time, arm[a].event, arm[a].w)
			if err != nil {
				t.Fatal(err)
			}
			tables[a] = append(tables[a], tab)
		}
		ws, err := NewWeightedCoxStratum(st.time, st.event, st.x, q, st.w)
		if err != nil {
			t.Fatal(err)
		}
		strata = append(strata, ws)
		all.time = append(all.time, st.time...)
		all.event = append(all.event, st.event...)
		all.x = append(all.x, st.x...)
		all.w = append(all.w, st.w...)
	}
	if got := [2]int{bal.Treated.N - bal.Treated.Kept, bal.Control.N - bal.Control.Kept}; got != [2]int{c.Trimmed.Treated, c.Trimmed.Control} {
		t.Errorf("trimmed %v, R %v", got, c.Trimmed)
	}
	closeTo(t, "Σw treated", bal.Treated.W, c.WeightSum.Treated, 1e-9)
	closeTo(t, "Σw control", bal.Control.W, c.WeightSum.Control, 1e-9)
	closeTo(t, "ESS treated", bal.Treated.ESS(), c.ESS.Treated, 1e-9)
	closeTo(t, "ESS control", bal.Control.ESS(), c.ESS.Control, 1e-9)
	rows := Balance(bal, d.Columns[1:])
	if len(rows) != len(c.Balance) {
		t.Fatalf("%d balance rows, R %d", len(rows), len(c.Balance))
	}
	for j, r := range rows {
		if r.Column != c.Balance[j].Column {
			t.Errorf("balance row %d: %s, R %s", j, r.Column, c.Balance[j].Column)
		}
		closeTo(t, "SMD before "+r.Column, r.SMDBefore, c.Balance[j].SMDBefore, 1e-9)
		closeTo(t, "SMD after "+r.Column, r.SMDAfter, c.Balance[j].SMDAfter, 1e-9)
	}
	for a, want := range []ipwKMGolden{c.KM.Control, c.KM.Treated} {
		km, err := WeightedKaplanMeier(MergeWeightedTables(tables[a]...), KMOptions{})
		if err != nil {
			t.Fatal(err)
		}
		closeAll(t, "KM time", km.Time, want.Time, 0)
		closeAll(t, "KM n.risk", km.WRisk, want.NRisk, 1e-12)
		closeAll(t, "KM n.event", km.WEvent, want.NEvent, 1e-12)
		closeAll(t, "KM surv", km.Surv, want.Surv, 1e-9)
		closeAll(t, "KM std.err", km.StdErr, want.StdErr, 1e-9)
		closeAll(t, "KM lower", km.Lower, want.Lower, 1e-9)
		closeAll(t, "KM upper", km.Upper, want.Upper, 1e-9)
	}
	if len(c.OutcomeCovs) == 0 {
		for _, want := range c.CoxPooled {
			checkTwoArmCox(t, MergeWeightedTables(tables[0]...), MergeWeightedTables(tables[1]...), want)
		}
	}
	pooled, err := NewWeightedCoxStratum(all.time, all.event, all.x, q, all.w)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range c.CoxPooled {
		checkWeightedCox(t, "pooled "+want.Ties, []*WeightedCoxStratum{pooled}, want)
		checkWeightedPooledRounds(t, "pooled over the sites' rounds "+want.Ties, strata, q, want)
	}
	for _, want := range c.CoxSite {
		checkWeightedCox(t, "by site "+want.Ties, strata, want)
	}
}

func checkWeightedCox(t *testing.T, what string, strata []*WeightedCoxStratum, want ipwCoxGolden) {
	t.Helper()
	ties, err := ParseTies(want.Ties)
	if err != nil {
		t.Fatal(err)
	}
	fit, rob, err := FitWeightedStratifiedCox(strata, ties, CoxOptions{})
	if err != nil {
		t.Fatal(err)
	}
	closeAll(t, what+" coef", fit.Coef, want.Coef, 1e-9)
	closeAll(t, what+" loglik", []float64{fit.LogLik0, fit.LogLik}, want.Loglik, 1e-10)
	closeAll(t, what+" naive se", fit.SE, want.SENaive, 1e-9)
	closeAll(t, what+" robust se", rob.SE, want.SERobust, 1e-9)
	closeTo(t, what+" score test", fit.Score.Stat, want.Score[0], 1e-9)
	closeTo(t, what+" robust score test", rob.Score.Stat, want.RScore[0], 1e-9)
}

// Quasi-complete separation (hormone therapy only for node-positive patients, rotterdam) must
// be an error naming the term, not R's silent fit with a coefficient of 31.
func TestFitLogisticSeparation(t *testing.T) {
	var g ipwGoldens
	loadGolden(t, "r/ipw_goldens.json", &g)
	if !g.Separated.Converged || g.Separated.Coef[2] < 20 {
		t.Fatalf("golden: R's separated fit %v is not the case this test is about", g.Separated)
	}
	_, err := fitSites(g.Data["rotterdam_separated"])
	if !errors.Is(err, ErrSeparation) {
		t.Fatalf("err = %v, want separation", err)
	}
	if !strings.Contains(err.Error(), "nodepos") {
		t.Errorf("message %q does not name the separating term nodepos", err)
	}
}
