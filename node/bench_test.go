package node

import (
	"context"
	"encoding/json"
	"math"
	"math/rand/v2"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"

	"github.com/oncofed/oncofed/analysis"
	"github.com/oncofed/oncofed/protocol"
)

// benchStudy is a synthetic 1,000,000-patient study: sex, stage (I–IV), age, an arm and OS.
func benchStudy(n int) *StudyData {
	r := rand.New(rand.NewPCG(1, 2))
	st := &StudyData{Name: "big", DataCut: "2025-01-01", IDs: make([]string, n)}
	sex := VariableData{Variable: protocol.Variable{Name: "sex", Type: protocol.Categorical, Categories: []string{"female", "male"}}, Codes: make([]int32, n)}
	stage := VariableData{Variable: protocol.Variable{Name: "stage", Type: protocol.Categorical, Categories: []string{"I", "II", "III", "IV"}}, Codes: make([]int32, n)}
	arm := VariableData{Variable: protocol.Variable{Name: "arm", Type: protocol.Categorical, Categories: []string{"chemo", "io"}}, Codes: make([]int32, n)}
	age := VariableData{Variable: protocol.Variable{Name: "age", Type: protocol.Numeric}, Numeric: make([]float64, n)}
	os := EndpointData{Name: "OS", Time: make([]float64, n), Event: make([]bool, n)}
	for i := 0; i < n; i++ {
		st.IDs[i] = strconv.Itoa(i)
		sex.Codes[i] = int32(r.IntN(2))
		stage.Codes[i] = int32(r.IntN(4))
		if r.IntN(50) == 0 {
			stage.Codes[i] = -1
		}
		arm.Codes[i] = int32(r.IntN(2))
		age.Numeric[i] = math.Round(40 + 45*r.Float64())
		// Weibull-ish survival in days, administrative censoring at 5 years.
		t := math.Round(365 * 2 * math.Pow(-math.Log(r.Float64()), 1/1.2) * (1 + float64(stage.Codes[i]+1)/4))
		os.Time[i], os.Event[i] = math.Min(t, 1826), t < 1826 && r.IntN(10) > 0
	}
	st.Variables = []VariableData{sex, stage, arm, age}
	st.Endpoints = []EndpointData{os}
	return st
}

// BenchmarkSurvival1M: a survival query over 1,000,000 patients with a two-variable filter
// (sex = male ∧ 50 ≤ age ≤ 75) grouped by stage, against plain Go loops over the same columns.
//
//   - engine: Engine.Handle end to end (validation, filter, tabulation, policy, audit write).
//   - engine-compute: the same without the audit write and release bookkeeping.
//   - floor: a hand-written sequential loop with the predicate inlined, counting into 7-day
//     bins (it knows the times are whole days below 1827): the floor.
//   - floor-sort: the naive hand-written loop that gathers the cohort and sorts it per query.
func BenchmarkSurvival1M(b *testing.B) {
	const n = 1_000_000
	ctx := context.Background()
	st := benchStudy(n)
	store := openStore(b, filepath.Join(b.TempDir(), "big.db"))
	if _, err := store.ReplaceStudy(ctx, st); err != nil {
		b.Fatal(err)
	}
	pol := DefaultPolicy()
	pol.DailyQueryBudget = 0
	e, err := NewEngine(ctx, store, Config{InsecureOpen: true, Policy: &pol})
	if err != nil {
		b.Fatal(err)
	}
	q := protocol.Query{Version: protocol.Version, Kind: protocol.KindSurvival, Study: "big", Analyst: "bench", Endpoint: "OS", GroupBy: "stage",
		Cohort: and(eq("sex", "male"), rng("age", fp(50), fp(75)))}
	first := mustOK(b, e.Handle(ctx, q)) // loads the columns and the time order once

	sexC, ageX, stageC := st.Variables[0].Codes, st.Variables[3].Numeric, st.Variables[1].Codes
	tm, ev := st.Endpoints[0].Time, st.Endpoints[0].Event
	// The floor: one sequential pass with the predicate inlined, counting each patient into the
	// cell of its 7-day bin (times are whole days below 1827, so the bin index is direct).
	floor := func() []analysis.SurvivalTable {
		const nb = 1827/7 + 2
		var evc, cec [4][nb]int32
		for i := 0; i < n; i++ {
			if sexC[i] != 1 || !(ageX[i] >= 50 && ageX[i] <= 75) {
				continue
			}
			g := stageC[i]
			if g < 0 {
				continue
			}
			b := int(math.Ceil(tm[i] / 7))
			if ev[i] {
				evc[g][b]++
			} else {
				cec[g][b]++
			}
		}
		tabs := make([]analysis.SurvivalTable, 4)
		for g := range tabs {
			for b := 0; b < nb; b++ {
				if evc[g][b]+cec[g][b] > 0 {
					tabs[g].Time = append(tabs[g].Time, float64(7*b))
					tabs[g].Events = append(tabs[g].Events, int(evc[g][b]))
					tabs[g].Censor = append(tabs[g].Censor, int(cec[g][b]))
				}
			}
		}
		return tabs
	}
	floorSort := func() []analysis.SurvivalTable {
		type rec struct {
			t float64
			e bool
		}
		groups := make([][]rec, 4)
		for i := 0; i < n; i++ {
			if sexC[i] != 1 || !(ageX[i] >= 50 && ageX[i] <= 75) || stageC[i] < 0 {
				continue
			}
			groups[stageC[i]] = append(groups[stageC[i]], rec{analysis.CoarsenTime(tm[i], 7), ev[i]})
		}
		tabs := make([]analysis.SurvivalTable, 4)
		for g, rs := range groups {
			sort.Slice(rs, func(a, b int) bool { return rs[a].t < rs[b].t })
			tb := &tabs[g]
			for _, r := range rs {
				k := len(tb.Time) - 1
				if k < 0 || tb.Time[k] != r.t {
					tb.Time, tb.Events, tb.Censor = append(tb.Time, r.t), append(tb.Events, 0), append(tb.Censor, 0)
					k++
				}
				if r.e {
					tb.Events[k]++
				} else {
					tb.Censor[k]++
				}
			}
		}
		return tabs
	}
	// The engine (under the default policy) and the floors tabulate the same patients.
	fl, fs := floor(), floorSort()
	for g, grp := range first.Survival.Groups {
		if grp.Group != st.Variables[1].Categories[g] || toTable(grp).Total() != fl[g].Total() || fl[g].Len() != fs[g].Len() {
			b.Fatalf("engine and floors disagree on group %d", g)
		}
	}
	var reply protocol.Reply
	pe := ExactPolicy()
	pe.BinDays = 7
	exact, _ := NewEngine(ctx, store, Config{InsecureOpen: true, Policy: &pe})
	reply = mustOK(b, exact.Handle(ctx, q))
	for g, grp := range reply.Survival.Groups {
		for k := range grp.Time {
			if grp.Time[k] != fl[g].Time[k] || grp.Events[k] != fl[g].Events[k] || grp.Censor[k] != fl[g].Censor[k] {
				b.Fatalf("exact-policy engine and floor differ in group %d row %d", g, k)
			}
		}
	}
	b.Run("engine", func(b *testing.B) {
		for b.Loop() {
			if r := e.Handle(ctx, q); r.Error != nil {
				b.Fatal(r.Error)
			}
		}
	})
	b.Run("engine-compute", func(b *testing.B) {
		for b.Loop() {
			var reply protocol.Reply
			if _, err := e.compute(ctx, &q, identity{role: RoleTrusted}, &reply); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("floor", func(b *testing.B) {
		for b.Loop() {
			floor()
		}
	})
	b.Run("floor-sort", func(b *testing.B) {
		for b.Loop() {
			floorSort()
		}
	})
}

// BenchmarkCox1M: one Newton–Raphson round of a federated Cox fit at one site of 1,000,000
// patients (covariates sex, stage, age: 5 design columns), in both forms.
func BenchmarkCox1M(b *testing.B) {
	ctx := context.Background()
	store := openStore(b, filepath.Join(b.TempDir(), "big.db"))
	if _, err := store.ReplaceStudy(ctx, benchStudy(1_000_000)); err != nil {
		b.Fatal(err)
	}
	pol := DefaultPolicy()
	pol.DailyQueryBudget = 0
	pol.AllowPooledCox = true // the pooled form is a policy opt-in; this measures it
	e, err := NewEngine(ctx, store, Config{InsecureOpen: true, Policy: &pol})
	if err != nil {
		b.Fatal(err)
	}
	declareRanges(b, e, "big", map[string][2]float64{"age": {18, 100}})
	for _, form := range []protocol.CoxForm{protocol.CoxStratified, protocol.CoxPooledSums} {
		q := protocol.Query{Version: protocol.Version, Kind: protocol.KindCox, Study: "big", Analyst: "bench", Endpoint: "OS",
			Cox: &protocol.CoxRequest{Form: form, Ties: "efron", Covariates: []string{"sex", "stage", "age"}, Beta: []float64{0.1, 0.2, 0.3, 0.4, 0.01}}}
		mustOK(b, e.Handle(ctx, q))
		b.Run(string(form), func(b *testing.B) {
			for b.Loop() {
				if r := e.Handle(ctx, q); r.Error != nil {
					b.Fatal(r.Error)
				}
			}
		})
		// As the network serves it: the query's JSON in, the reply's JSON out.
		msg, err := json.Marshal(q)
		if err != nil {
			b.Fatal(err)
		}
		b.Run(string(form)+"/wire", func(b *testing.B) {
			for b.Loop() {
				// An error reply, not a short one: a stratified reply with 5 columns is
				// under 1000 bytes.
				if out := e.HandleJSON(ctx, msg); strings.Contains(string(out), `"error":`) {
					b.Fatalf("reply %s", out)
				}
			}
		})
		if form != protocol.CoxPooledSums {
			continue
		}
		// Phase 2 at the same β, with weights of the lengths the phase-1 reply implies.
		rows := mustOK(b, e.Handle(ctx, q)).Cox.Rows
		w := &protocol.CoxWeights{A: make([]float64, len(rows))}
		for k, r := range rows {
			w.A[k] = 1e-6 * float64(k+1)
			if r.D > 0 {
				w.B = append(w.B, 0)
			}
		}
		q2 := q
		q2.Cox = &protocol.CoxRequest{Form: protocol.CoxPooledHessian, Ties: "efron", Covariates: q.Cox.Covariates, Beta: q.Cox.Beta, Site: e.Site(), Weights: w}
		msg2, err := json.Marshal(q2)
		if err != nil {
			b.Fatal(err)
		}
		b.Run(string(protocol.CoxPooledHessian)+"/wire", func(b *testing.B) {
			for b.Loop() {
				if out := e.HandleJSON(ctx, msg2); strings.Contains(string(out), `"error":`) {
					b.Fatalf("reply %s", out)
				}
			}
		})
	}
}
