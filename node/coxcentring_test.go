package node

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/oncofed/oncofed/analysis"
	"github.com/oncofed/oncofed/protocol"
)

// The centring data (testdata/centring, written by centring_goldens.R): 5,000 patients on five
// sites with the year of diagnosis of a three-year window (2019–2021, declared 2015–2030), age
// and sex, and R's coxph on the pooled patients.
const centringDir = "testdata/centring"

type centringGoldens struct {
	Fits []struct {
		Ties   string    `json:"ties"`
		Terms  []string  `json:"terms"`
		Coef   []float64 `json:"coef"`
		SE     []float64 `json:"se"`
		LogLik float64   `json:"loglik"`
		Iter   int       `json:"iter"`
		N      int       `json:"n"`
	} `json:"fits"`
}

// centringSites imports each site's patients of testdata/centring into its own database.
func centringSites(t *testing.T) []*Engine {
	t.Helper()
	f, err := os.Open(filepath.Join(centringDir, "dictionary.json"))
	if err != nil {
		t.Fatal(err)
	}
	dict, err := ReadDictionary(f)
	f.Close()
	if err != nil {
		t.Fatal(err)
	}
	raw, err := os.ReadFile(filepath.Join(centringDir, "patients.csv"))
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(string(raw)), "\n")
	bySite := map[string][]string{}
	for _, l := range lines[1:] {
		site := strings.Split(l, ",")[1]
		bySite[site] = append(bySite[site], l)
	}
	dir := t.TempDir()
	spec := ImportSpec{Study: "centring", IDColumn: "id", DataCut: "2024-01-01", Dictionary: dict,
		Endpoints: []EndpointSpec{{Name: "OS", TimeColumn: "time", EventColumn: "event"}}}
	pol := ExactPolicy()
	var sites []*Engine
	for k := 1; k <= 5; k++ {
		s := fmt.Sprintf("s%d", k)
		csv := writeFile(t, dir, s+".csv", lines[0]+"\n"+strings.Join(bySite[s], "\n")+"\n")
		store := importFile(t, filepath.Join(dir, s+".db"), csv, spec)
		e, err := NewEngine(context.Background(), store, Config{InsecureOpen: true, Policy: &pol})
		if err != nil {
			t.Fatal(err)
		}
		sites = append(sites, e)
	}
	return sites
}

// TestCoxPooledCentring: a pooled fit whose sites centre the year and age on the origin the
// client sends (the midpoints of their declared ranges) equals R's coxph to 1e-9 — the
// coefficients relative to their standard errors, the standard errors, the log-likelihood and
// the iterations — with Efron and Breslow ties. Without the origin the same fit misses 1e-9 (the
// uncentred sums of values near 2020 lose digits): the test can fail.
func TestCoxPooledCentring(t *testing.T) {
	raw, err := os.ReadFile(filepath.Join(centringDir, "goldens.json"))
	if err != nil {
		t.Fatal(err)
	}
	var g centringGoldens
	if err := json.Unmarshal(raw, &g); err != nil {
		t.Fatal(err)
	}
	sites := centringSites(t)
	for _, want := range g.Fits {
		for _, centred := range []bool{true, false} {
			base := query(protocol.KindCox)
			base.Study, base.Endpoint = "centring", "OS"
			base.Cox = &protocol.CoxRequest{Ties: want.Ties, Covariates: []string{"year", "age", "sex"},
				Levels: map[string][]string{"sex": {"female", "male"}}}
			if centred {
				base.Cox.Origin = map[string]float64{"year": 2022.5, "age": 59}
			}
			fit, err := analysis.FitCoxSteps(twoPhaseEvaluator(t, sites, base, 3), 3, analysis.CoxOptions{Terms: want.Terms})
			if err != nil {
				t.Fatalf("%s centred %v: %v", want.Ties, centred, err)
			}
			worst := math.Abs(fit.LogLik-want.LogLik) / math.Abs(want.LogLik)
			for j := range want.Coef {
				worst = math.Max(worst, math.Abs(fit.Coef[j]-want.Coef[j])/math.Max(math.Abs(want.Coef[j]), want.SE[j]))
				worst = math.Max(worst, math.Abs(fit.SE[j]-want.SE[j])/want.SE[j])
			}
			t.Logf("%s, centred %v: worst relative difference to R %.2g", want.Ties, centred, worst)
			switch {
			case centred && worst > 1e-9:
				t.Errorf("%s, centred: %.2g from R's coxph (coef %v se %v; R %v %v)", want.Ties, worst, fit.Coef, fit.SE, want.Coef, want.SE)
			case centred && (fit.Iterations != want.Iter || fit.N != want.N):
				t.Errorf("%s: %d iterations, N %d; R: %d, %d", want.Ties, fit.Iterations, fit.N, want.Iter, want.N)
			case !centred && worst <= 1e-9:
				t.Errorf("%s, uncentred: %.2g from R; the data no longer show what centring fixes, so this test could not fail", want.Ties, worst)
			}
		}
	}
}

// TestAttackCoxOrigin: the origin is the analyst's to choose, so the attack is to choose it.
// Whatever origin c a site accepts, its replies at β are a fixed invertible map of the replies
// the same round gets without one: phase 1's R0' = e^{−c'β} R0, R1' = e^{−c'β} (R1 − c R0) (and
// the same for E0, E1), Σ_events (x − c); phase 2's M' = e^{−c'β} (M − c m' − m c' + s c c') with
// m = Σ_k A_k R1_k and s = Σ_k A_k R0_k made of phase 1's rows and the analyst's own weights.
// So an origin discloses nothing the round without it does not (the test reconstructs each
// centred reply from the uncentred ones); an origin on a categorical covariate, or on another
// form, is refused.
func TestAttackCoxOrigin(t *testing.T) {
	sites := centringSites(t)
	e := sites[2]
	beta := []float64{-0.09, 0.02, 0.3}
	origin := map[string]float64{"year": 2030, "age": 100} // the far ends of the declared ranges
	c := []float64{2030, 100, 0}
	ask := func(form protocol.CoxForm, o map[string]float64, w *protocol.CoxWeights) *protocol.CoxReply {
		q := query(protocol.KindCox)
		q.Study, q.Endpoint = "centring", "OS"
		q.Cox = &protocol.CoxRequest{Form: form, Ties: "breslow", Covariates: []string{"year", "age", "sex"},
			Levels: map[string][]string{"sex": {"female", "male"}}, Beta: beta, Origin: o, Weights: w}
		if w != nil {
			q.Cox.Site = e.Site()
		}
		return mustOK(t, e.Handle(context.Background(), q)).Cox
	}
	plain, centred := ask(protocol.CoxPooledSums, nil, nil), ask(protocol.CoxPooledSums, origin, nil)
	shift := math.Exp(-(c[0]*beta[0] + c[1]*beta[1]))
	close := func(what string, got, want float64) {
		t.Helper()
		if math.Abs(got-want) > 1e-9*math.Max(1, math.Abs(want)) {
			t.Fatalf("%s: centred reply %v, reconstructed from the uncentred one %v", what, got, want)
		}
	}
	if len(plain.Rows) != len(centred.Rows) {
		t.Fatalf("%d rows centred, %d not", len(centred.Rows), len(plain.Rows))
	}
	a := make([]float64, len(plain.Rows))
	m, s := make([]float64, 3), 0.0
	for k, r := range plain.Rows {
		cr := centred.Rows[k]
		close(fmt.Sprintf("row %d R0", k), cr.R0, shift*r.R0)
		close(fmt.Sprintf("row %d E0", k), cr.E0, shift*r.E0)
		for j := range c {
			close(fmt.Sprintf("row %d R1[%d]", k, j), cr.R1[j], shift*(r.R1[j]-c[j]*r.R0))
			if r.D > 0 {
				close(fmt.Sprintf("row %d E1[%d]", k, j), cr.E1[j], shift*(r.E1[j]-c[j]*r.E0))
			}
		}
		a[k] = 1e-4 * float64(k+1) // any non-decreasing A the site accepts
		s += a[k] * r.R0
		for j := range m {
			m[j] += a[k] * r.R1[j]
		}
	}
	events := 0
	for _, r := range plain.Rows {
		events += r.D
	}
	for j := range c {
		close(fmt.Sprintf("event sum %d", j), centred.EventXSum[j], plain.EventXSum[j]-float64(events)*c[j])
	}
	w := &protocol.CoxWeights{A: a, B: make([]float64, eventTimes(plain))} // B = 0: Breslow
	mp, mc := ask(protocol.CoxPooledHessian, nil, w).SecondMoment, ask(protocol.CoxPooledHessian, origin, w).SecondMoment
	for i := range c {
		for j := range c {
			want := shift * (mp[i*3+j] - c[i]*m[j] - m[i]*c[j] + s*c[i]*c[j])
			close(fmt.Sprintf("M[%d][%d]", i, j), mc[i*3+j], want)
		}
	}

	for _, bad := range []struct {
		form   protocol.CoxForm
		origin map[string]float64
	}{
		{protocol.CoxPooledSums, map[string]float64{"sex": 1}},
		{protocol.CoxStratified, map[string]float64{"age": 59}},
		{protocol.CoxPooledSums, map[string]float64{"site": 1}},
		{protocol.CoxPooledSums, map[string]float64{"age": math.Inf(1)}},
	} {
		q := query(protocol.KindCox)
		q.Study, q.Endpoint = "centring", "OS"
		q.Cox = &protocol.CoxRequest{Form: bad.form, Ties: "breslow", Covariates: []string{"year", "age", "sex"}, Beta: beta, Origin: bad.origin}
		wantCode(t, e.Handle(context.Background(), q), protocol.CodeInvalid)
	}
}

// eventTimes is the number of a phase-1 reply's rows with events.
func eventTimes(r *protocol.CoxReply) int {
	n := 0
	for _, row := range r.Rows {
		if row.D > 0 {
			n++
		}
	}
	return n
}
