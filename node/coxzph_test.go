package node

import (
	"context"
	"math"
	"sort"
	"strconv"
	"testing"

	"github.com/oncofed/oncofed/analysis"
	"github.com/oncofed/oncofed/internal/lungtest"
	"github.com/oncofed/oncofed/protocol"
)

// zphQuery is a zph query on lung's OS at beta for the transform (values at the pooled event
// times for km and rank).
func zphQuery(ties string, beta []float64, z *protocol.CoxZPHRequest, covariates ...string) protocol.Query {
	q := query(protocol.KindCox)
	q.Endpoint = "OS"
	q.Cox = &protocol.CoxRequest{Form: protocol.CoxZPH, Ties: ties, Covariates: covariates, Beta: beta, ZPH: z,
		Levels: map[string][]string{}}
	levels := map[string][]string{"sex": {"male", "female"}, "ecog": {"ecog0", "ecog1", "ecog2", "ecog3"}}
	for _, v := range covariates {
		if lv, ok := levels[v]; ok {
			q.Cox.Levels[v] = lv
		}
	}
	return q
}

// zphTransformAt returns the client's transform request: h of the pooled table at its event
// times (identity: none, the site computes it).
func zphTransformAt(t *testing.T, name string, tab analysis.SurvivalTable) *protocol.CoxZPHRequest {
	if name == analysis.ZPHIdentity {
		return &protocol.CoxZPHRequest{Transform: name}
	}
	h, err := analysis.ZPHTransform(name, tab)
	if err != nil {
		t.Fatal(err)
	}
	z := &protocol.CoxZPHRequest{Transform: name}
	for k, tm := range tab.Time {
		if tab.Events[k] > 0 {
			z.Times, z.Values = append(z.Times, tm), append(z.Values, h[k])
		}
	}
	return z
}

// TestCoxZPHMatchesR: the sites of lung (one per institution, exact policy) answer the zph
// form at R's β̂ of coxph(Surv(time, status) ~ age + sex + ecog + strata(site)); the client's
// sum of their replies gives R's cox.zph table for km, identity and rank, to 1e-9.
func TestCoxZPHMatchesR(t *testing.T) {
	ctx := context.Background()
	sites := lungSites(t, ExactPolicy())
	for _, c := range []struct {
		golden string
		covs   []string
		terms  []analysis.ZPHTerm
	}{
		{"lungcsv_strata_efron", []string{"age", "sex", "ecog"}, []analysis.ZPHTerm{{Name: "age", Columns: []int{0}}, {Name: "sex", Columns: []int{1}}, {Name: "ecog", Columns: []int{2, 3, 4}}}},
		{"lungcsv_strata_breslow", []string{"age", "sex"}, []analysis.ZPHTerm{{Name: "age", Columns: []int{0}}, {Name: "sex", Columns: []int{1}}}},
	} {
		g := lungtest.ReadZPHCase(t, c.golden)
		ev := make([]bool, len(g.Event))
		for i, e := range g.Event {
			ev[i] = e == 1
		}
		tab, err := analysis.NewSurvivalTable(g.Time, ev)
		if err != nil {
			t.Fatal(err)
		}
		for _, want := range g.ZPH {
			sum := analysis.NewZPHSums(len(g.Coef))
			for _, e := range sites {
				q := zphQuery(g.Ties, g.Coef, zphTransformAt(t, want.Transform, tab), c.covs...)
				r := e.Handle(ctx, q)
				if r.Error != nil && r.Error.Reason == protocol.ReasonSmallCohort {
					continue // R drops no site; a site this small holds no complete case here
				}
				r = mustOK(t, r)
				if err := protocol.ValidateReply(q, r); err != nil {
					t.Fatalf("site %s: %v", e.Site(), err)
				}
				z := r.Cox.ZPH
				sum.Add(analysis.ZPHSums{P: len(g.Coef), Events: z.Events, HSum: z.HSum, U: z.U, UH: z.UH, I: z.I, IH: z.IH, IHH: z.IHH})
			}
			rows, err := analysis.ZPHTest(sum, c.terms)
			if err != nil {
				t.Fatal(err)
			}
			for k, row := range rows {
				if row.Term != want.Terms[k] || row.DF != want.DF[k] || rel(row.ChiSq, want.ChiSq[k]) > 1e-9 || rel(row.P, want.P[k]) > 1e-9 {
					t.Errorf("%s %s %s: chisq %.12g df %d p %.12g, R %.12g %d %.12g", c.golden, want.Transform, row.Term, row.ChiSq, row.DF, row.P, want.ChiSq[k], want.DF[k], want.P[k])
				}
			}
		}
	}
}

// stepTransform is a crafted km "transform": 0 before the site's event time at, 1 from it on
// (non-decreasing, within [0, 1]: it passes protocol.ValidateQuery).
func stepTransform(times []float64, at float64) *protocol.CoxZPHRequest {
	z := &protocol.CoxZPHRequest{Transform: "km", Times: times}
	for _, tm := range times {
		v := 0.0
		if tm >= at {
			v = 1
		}
		z.Values = append(z.Values, v)
	}
	return z
}

// Attack: a crafted transform isolates one patient's Schoenfeld residual. With h a step at the
// event time t_a, a zph reply's Σ_t h_t r_t is the sum of the residuals from t_a on; the step
// at the next event time t_b takes it away, so the difference of the two replies' UH is r at
// t_a — at β = 0 and a single death there, x_i − x̄(t_a), whose sign is the sex of the patient
// who died at t_a (sex being 0/1 and x̄ strictly between).
//
// Control: with the rules off (an exact policy, the trusted network's; the same under a
// protective policy with the model rules switched off) the attack reads off the sex of every
// patient who died alone at a time, checked against lung.csv.
//
// Protective policy without the pooled form (the default): every crafted transform is refused
// from the policy alone, before any row is read; only identity, which the site computes from
// its own released times, is answered.
//
// Protective policy that opts in to the pooled form: the crafted steps are answered, on the
// pooled form's strict released times, and the difference at two consecutive released event
// times is exactly what that site's pooled_sums reply at the same β already gives (a released
// row's events, at least min_cell of them, less their share of the risk set's sum): nothing new.
func TestAttackCoxZPHTransform(t *testing.T) {
	ctx := context.Background()
	beta := []float64{0}
	// Every distinct time of lung (a superset of any policy's released times).
	_, rows := lungtest.Read(t)
	header, _ := lungtest.Read(t)
	ti, ei, si := lungtest.Column(t, header, "time"), lungtest.Column(t, header, "event"), lungtest.Column(t, header, "sex")
	deaths := map[float64][]string{}
	var all []float64
	seen := map[float64]bool{}
	for _, r := range rows {
		tm, _ := strconv.ParseFloat(r[ti], 64)
		if r[ei] == "1" {
			deaths[tm] = append(deaths[tm], r[si])
		}
		if !seen[tm] {
			seen[tm] = true
			all = append(all, tm)
		}
	}
	sort.Float64s(all)
	var grid []float64 // every multiple of 7 and every time: covers exact and binned releases
	for d := 0.0; d <= all[len(all)-1]+7; d++ {
		grid = append(grid, d)
	}
	attack := func(e *Engine, ta, tb float64) ([]float64, *protocol.Error) {
		r1 := e.Handle(ctx, zphQuery("breslow", beta, stepTransform(grid, ta), "sex"))
		r2 := e.Handle(ctx, zphQuery("breslow", beta, stepTransform(grid, tb), "sex"))
		if r1.Error != nil {
			return nil, r1.Error
		}
		if r2.Error != nil {
			return nil, r2.Error
		}
		return []float64{r1.Cox.ZPH.UH[0] - r2.Cox.ZPH.UH[0]}, nil
	}

	t.Run("control: rules off", func(t *testing.T) {
		e, _ := lungEngine(t, ExactPolicy(), nil)
		read := 0
		var evTimes []float64
		for tm := range deaths {
			evTimes = append(evTimes, tm)
		}
		sort.Float64s(evTimes)
		for k := 0; k+1 < len(evTimes) && read < 20; k++ {
			if len(deaths[evTimes[k]]) != 1 {
				continue
			}
			r, err := attack(e, evTimes[k], evTimes[k+1])
			if err != nil {
				t.Fatalf("the exact policy refused: %v", err)
			}
			guess := "male"
			if r[0] > 0 {
				guess = "female" // the column sexfemale: 1 − x̄ > 0
			}
			if guess != deaths[evTimes[k]][0] {
				t.Fatalf("death at %v: the residual %v says %s, lung.csv %s", evTimes[k], r[0], guess, deaths[evTimes[k]][0])
			}
			read++
		}
		if read < 20 {
			t.Fatalf("the control read %d patients' sex, want 20", read)
		}
	})

	t.Run("default policy refuses crafted transforms", func(t *testing.T) {
		e, _ := lungEngine(t, DefaultPolicy(), nil)
		_, err := attack(e, 11, 12)
		if err == nil || err.Code != protocol.CodeRefusedByPolicy {
			t.Fatalf("a crafted transform was not refused by policy: %+v", err)
		}
		// Decided from public information: the same refusal for another cohort.
		q := zphQuery("breslow", beta, stepTransform(grid, 11), "sex")
		q.Cohort = rng("age", fp(70), nil)
		r := e.Handle(ctx, q)
		if r.Error == nil || r.Error.Message != err.Message {
			t.Fatalf("the refusal depends on the cohort: %+v vs %+v", r.Error, err)
		}
		// Identity is computed by the site from its own released times: answered; values for it
		// are refused as malformed.
		id := mustOK(t, e.Handle(ctx, zphQuery("breslow", beta, &protocol.CoxZPHRequest{Transform: "identity"}, "sex")))
		if id.Cox.ZPH == nil || id.Cox.ZPH.Events == 0 {
			t.Fatalf("identity reply %+v", id.Cox)
		}
		bad := zphQuery("breslow", beta, &protocol.CoxZPHRequest{Transform: "identity", Times: []float64{1}, Values: []float64{1}}, "sex")
		wantCode(t, e.Handle(ctx, bad), protocol.CodeInvalid)
		// A spike (zero except at one time) is not a transform of time of any kind: refused.
		spike := stepTransform(grid, 11)
		for k := range spike.Values {
			if grid[k] > 11 {
				spike.Values[k] = 0
			}
		}
		wantCode(t, e.Handle(ctx, zphQuery("breslow", beta, spike, "sex")), protocol.CodeInvalid)
	})

	t.Run("pooled form allowed: nothing beyond pooled_sums", func(t *testing.T) {
		pol := DefaultPolicy()
		pol.AllowPooledCox = true
		e, _ := lungEngine(t, pol, nil)
		pq := pooledQuery(protocol.CoxPooledSums, "breslow", beta, "sex")
		pq.Cox.Levels = map[string][]string{"sex": {"male", "female"}}
		c := mustOK(t, e.Handle(ctx, pq)).Cox
		// The site's risk-set sums from its pooled_sums rows, walking back in time.
		type block struct {
			time      float64
			d         int
			predicted float64 // E1 − D·S1/S0 of the row: what pooled_sums says r is there
		}
		var blocks []block
		var s0, s1 float64
		for k := len(c.Rows) - 1; k >= 0; k-- {
			row := c.Rows[k]
			s0 += row.R0
			s1 += row.R1[0]
			if row.D > 0 {
				blocks = append([]block{{row.Time, row.D, row.E1[0] - float64(row.D)*s1/s0}}, blocks...)
			}
		}
		if len(blocks) < 3 {
			t.Fatalf("%d released event times", len(blocks))
		}
		for k := 0; k+1 < len(blocks); k++ {
			if blocks[k].d < pol.MinCell {
				t.Fatalf("released time %v holds %d events, fewer than min_cell", blocks[k].time, blocks[k].d)
			}
			r, err := attack(e, blocks[k].time, blocks[k+1].time)
			if err != nil {
				t.Fatalf("refused: %v", err)
			}
			if math.Abs(r[0]-blocks[k].predicted) > 1e-9 {
				t.Fatalf("released time %v: the attack reads %v, pooled_sums gives %v", blocks[k].time, r[0], blocks[k].predicted)
			}
		}
	})
}

// A dp analyst gets no zph release: refused, with the reason, before any data is read.
func TestCoxZPHRefusedToDP(t *testing.T) {
	l := newDPLung(t, DefaultPolicy(), lungCSV)
	q := zphQuery("efron", []float64{0}, &protocol.CoxZPHRequest{Transform: "identity"}, "sex")
	r := handleJSON(t, l.e, sign(t, l.dora, q))
	wantCode(t, r, protocol.CodeRefusedByPolicy)
	if r.Cox != nil {
		t.Fatal("a refused reply carries sums")
	}
	// The trusted analyst of the same site gets it.
	mustOK(t, handleJSON(t, l.e, sign(t, l.tom, q)))
}
