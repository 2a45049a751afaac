package node

import (
	"context"
	"math"
	"math/rand/v2"
	"path/filepath"
	"sort"
	"testing"

	"github.com/oncofed/oncofed/analysis"
	"github.com/oncofed/oncofed/protocol"
)

// A model's design keys (designKeys: its covariates' codes, a numeric covariate's values
// numbered) give equal design rows equal keys — for a marker with missing values, a
// categorical adjuster, an indicator and an interaction — so that a stratum may group its
// subjects by them (analysis.CoxStratum.SetRowKeys); a continuous covariate gives no keys.
// The frame is one per cohort: its rows are the cohort's in time order.
func TestDesignKeysNumberDesignRows(t *testing.T) {
	ctx := context.Background()
	st := screenBenchStudy(4000)
	r := rand.New(rand.NewPCG(15, 12))
	score := VariableData{Variable: protocol.Variable{Name: "score", Type: protocol.Numeric}, Numeric: make([]float64, 4000)}
	for i := range score.Numeric {
		score.Numeric[i] = r.NormFloat64()
	}
	st.Variables = append(st.Variables, score)
	store := openStore(t, filepath.Join(t.TempDir(), "keys.db"))
	if _, err := store.ReplaceStudy(ctx, st); err != nil {
		t.Fatal(err)
	}
	pol := ExactPolicy()
	e, err := NewEngine(ctx, store, Config{InsecureOpen: true, Policy: &pol})
	if err != nil {
		t.Fatal(err)
	}
	ls, err := e.study(ctx, "big")
	if err != nil {
		t.Fatal(err)
	}
	to := ls.byTime(ls.eps["OS"])
	cohortOf := func(f *protocol.Filter) *cohort {
		c := &cohort{study: ls, filter: f, rows: ls.evalFilter(f)}
		c.n = c.rows.count()
		return c
	}
	men := &protocol.Filter{Op: protocol.OpEq, Var: "sex", Value: "male"}
	fr := ls.frame(cohortOf(men), to)
	if ls.frame(cohortOf(men), to) != fr || ls.frame(cohortOf(nil), to) == fr || len(fr.rows) == 0 || len(fr.rows) == 4000 {
		t.Fatalf("frames: one per cohort (%d rows)", len(fr.rows))
	}
	for k := 1; k < len(fr.pos); k++ {
		if fr.pos[k] <= fr.pos[k-1] || fr.time[k] < fr.time[k-1] || ls.vars["sex"].Codes[fr.rows[k]] != 1 {
			t.Fatalf("frame row %d out of time order or outside the cohort", k)
		}
	}
	for _, req := range []protocol.CoxRequest{
		{Covariates: []string{"mk03", "age"}},
		{Covariates: []string{"mk04", "age", "stage"}},
		{Covariates: []string{"arm", "mk05", "age"}, Interactions: []protocol.CoxInteraction{{A: "arm", B: "mk05"}}},
		{Covariates: []string{"stage", "age"}, Indicators: map[string]string{"stage": "IV"}},
		{Covariates: []string{"mk01", "score"}},
	} {
		cols := fr.designColumns(ls, to, &req)
		inter := make([]analysis.Interaction, len(req.Interactions))
		for k, in := range req.Interactions {
			inter[k] = analysis.Interaction{A: in.A, B: in.B}
		}
		x, p, _, keep, err := analysis.BuildDesignInteractions(cols, coxLevels(ls, &req), inter)
		if err != nil {
			t.Fatal(err)
		}
		n := len(x) / p
		keys, nkeys := fr.designKeys(ls, to, cols, keep, n)
		if req.Covariates[1] == "score" {
			if keys != nil {
				t.Errorf("%v: keyed a continuous covariate (%d keys)", req.Covariates, nkeys)
			}
			continue
		}
		if keys == nil || len(keys) != n || n == len(fr.rows) { // every model has a covariate some patients lack
			t.Fatalf("%v: %d keys for %d complete cases of %d", req.Covariates, len(keys), n, len(fr.rows))
		}
		first := map[int32]int{}
		for k, key := range keys {
			if key < 0 || int(key) >= nkeys {
				t.Fatalf("%v: key %d of %d", req.Covariates, key, nkeys)
			}
			f, seen := first[key]
			if !seen {
				first[key] = k
				continue
			}
			for j := 0; j < p; j++ {
				if math.Float64bits(x[k*p+j]) != math.Float64bits(x[f*p+j]) {
					t.Fatalf("%v: rows %d and %d share key %d but differ in column %d", req.Covariates, f, k, key, j)
				}
			}
		}
		if len(first) < 10 {
			t.Errorf("%v: %d keys", req.Covariates, len(first))
		}
	}
}

// A model's released times come from its cohort's frame — shared when it keeps every patient,
// gathered row by row without merging (min_cell ≤ 1) — and are those policyTimes gives its
// complete cases directly: under an exact policy, coarsened bins, and merged strict and
// non-strict rows; for a marker every patient has and one some lack.
func TestFrameReleasedTimesEqualPolicyTimes(t *testing.T) {
	ctx := context.Background()
	st := screenBenchStudy(3000)
	store := openStore(t, filepath.Join(t.TempDir(), "times.db"))
	if _, err := store.ReplaceStudy(ctx, st); err != nil {
		t.Fatal(err)
	}
	ep := st.Endpoints[0]
	order := make([]int, len(ep.Time))
	for i := range order {
		order[i] = i
	}
	sort.SliceStable(order, func(a, b int) bool { return ep.Time[order[a]] < ep.Time[order[b]] })
	vars := map[string]*VariableData{}
	for i := range st.Variables {
		vars[st.Variables[i].Name] = &st.Variables[i]
	}
	for _, pc := range []struct{ bin, cell int }{{0, 0}, {30, 1}, {7, 5}, {30, 11}} {
		pol := DefaultPolicy()
		pol.BinDays, pol.MinCell, pol.MinCohort, pol.OverlapGuard, pol.DailyQueryBudget = float64(pc.bin), pc.cell, 0, false, 0
		pol.AllowPooledCox = true
		e, err := NewEngine(ctx, store, Config{InsecureOpen: true, Policy: &pol})
		if err != nil {
			t.Fatal(err)
		}
		e.withoutModelRules = true                        // the times, not the design rules, are compared
		for _, marker := range []string{"mk02", "mk03"} { // mk03 lacks some patients
			for _, form := range []protocol.CoxForm{protocol.CoxStratified, protocol.CoxPooledSums} {
				req := protocol.CoxRequest{Form: form, Ties: "efron", Covariates: []string{marker, "age"}, Beta: []float64{0, 0}}
				q := protocol.Query{Version: protocol.Version, Kind: protocol.KindCox, ID: "t", Analyst: "a", Study: "big", Endpoint: "OS", Cox: &req}
				c := mustOK(t, e.Handle(ctx, q)).Cox
				var times []float64
				var events []bool
				for _, i := range order {
					if vars[marker].Codes[i] >= 0 && !math.IsNaN(vars["age"].Numeric[i]) {
						times, events = append(times, ep.Time[i]), append(events, ep.Event[i])
					}
				}
				want, wantEv, merged, _ := policyTimes(times, events, nil, pol.BinDays, pol.MinCell, form == protocol.CoxPooledSums)
				if c.N != len(times) || (marker == "mk03") == (len(times) == len(order)) {
					t.Fatalf("%v %s: n = %d of %d", pc, marker, c.N, len(times))
				}
				s, err := analysis.NewCoxStratum(want, wantEv, make([]float64, len(want)), 1)
				if err != nil {
					t.Fatal(err)
				}
				rows, _, _ := s.TimeSums([]float64{0})
				if form == protocol.CoxStratified {
					// At β = 0 every weight is 1: ℓ is a function of the times and events alone.
					ref, err := s.Contribution([]float64{0}, analysis.Efron)
					if err != nil {
						t.Fatal(err)
					}
					if c.Events != s.Events() || c.LogLik != ref.LogLik {
						t.Errorf("%v %s stratified: %d events, ℓ %v; want %d, %v", pc, marker, c.Events, c.LogLik, s.Events(), ref.LogLik)
					}
					continue
				}
				if len(c.Rows) != len(rows) {
					t.Fatalf("%v %s: %d released times, want %d (%d merged)", pc, marker, len(c.Rows), len(rows), merged)
				}
				for k, r := range rows {
					if got := c.Rows[k]; got.Time != r.Time || got.D != r.D || got.R0 != r.R0 {
						t.Fatalf("%v %s: row %d: %+v, want %+v", pc, marker, k, got, r)
					}
				}
			}
		}
	}
}
